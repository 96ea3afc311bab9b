"""The figure registry: every figure people read — a tile, a health-coloured column, a key figure of the e-mail —
defined once, with its label, unit, good direction, definition, thresholds and the one function that computes it.

Pages, the status e-mail, exports, `python -m dashboard.figures` and the Methods page all take figures from here,
so the same label carries the same number for the same view everywhere. A figure is computed from a `Basis`: the
query results of the trials in view as of one date. The same function gives the portfolio figure (every trial of
the view) and a trial's (the basis narrowed to that trial), so a trial's tile and its row in a portfolio table agree.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any, Literal

import pandas as pd

from dashboard import formats, health, metrics
from dashboard.metrics import HEALTH_ORDER, HEALTH_WORD, Health
from dashboard.settings import Settings

Unit = Literal["count", "percent", "probability", "index", "money", "date", "days", "health"]
Level = Literal["portfolio", "trial"]
Part = Literal["trials", "forecast", "flags", "vendor"]

UNIT_WORDS: dict[str, str] = {
    "count": "number",
    "percent": "percentage",
    "probability": "probability (percentage)",
    "index": "ratio",
    "money": "amount in the reporting currency",
    "date": "date",
    "days": "days",
    "health": "health colour",
}


@dataclass(frozen=True)
class Basis:
    """What the figures of one view are computed from: the query results of its trials as of one date.

    `trials` are health.trial_health rows, `milestones` health.milestone_statuses rows, `outlooks` each trial's
    health.Outlook, `sites` enrollment.sites rows. The optional parts are loaded only by the views that show
    their figures: `flags` (site_kpis rows flagged against their trial's peers) and `supply` and `moved` (supply
    links with their risk, milestone forecasts moved since the compare date). A figure whose part is missing is
    not computed (None, never zero).
    """

    as_of: date
    settings: Settings
    trials: pd.DataFrame
    milestones: pd.DataFrame
    outlooks: dict[str, health.Outlook]
    sites: pd.DataFrame
    qtls: pd.DataFrame | None = None  # health.qtl_status rows
    flags: pd.DataFrame | None = None
    supply: pd.DataFrame | None = None
    moved: pd.DataFrame | None = None
    forecast: bool = True  # whether `outlooks` were forecast (and enrollment and overall health take them into account)
    # What several figures of one basis share, worked out once (a portfolio's hundreds of trials are each a basis).
    _memo: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def _once(self, name: str, work: Callable[[], Any]) -> Any:
        if name not in self._memo:
            self._memo[name] = work()
        return self._memo[name]

    def has(self, part: Part) -> bool:
        """Whether the basis holds the part a figure needs."""
        if part == "forecast":
            return self.forecast
        if part == "flags":
            return self.flags is not None
        if part == "vendor":
            return self.supply is not None and self.moved is not None
        return True

    def restrict(self, protocols) -> Basis:
        """The same basis with only the trials `protocols` (a collection of protocol numbers)."""
        keep = set(protocols)

        def narrow(frame: pd.DataFrame | None) -> pd.DataFrame | None:
            return None if frame is None else frame[frame["protocol_number"].isin(keep)]

        return replace(
            self, trials=narrow(self.trials), milestones=narrow(self.milestones), sites=narrow(self.sites),
            outlooks={p: o for p, o in self.outlooks.items() if p in keep}, flags=narrow(self.flags), qtls=narrow(self.qtls),
            supply=narrow(self.supply), moved=narrow(self.moved),
        )

    def of_trial(self, protocol: str) -> Basis:
        """The basis of one trial (an empty basis for a trial not in this one)."""
        return self._once("by_trial", self._split).get(protocol) or self.restrict([protocol])

    def _split(self) -> dict[str, Basis]:
        """Each trial's own basis, split in one pass (a portfolio of hundreds of trials is ranked trial by trial)."""
        frames = {name: getattr(self, name) for name in ("trials", "milestones", "sites", "qtls", "flags", "supply", "moved")}
        groups = {
            name: dict(tuple(frame.groupby("protocol_number", sort=False))) if frame is not None else None
            for name, frame in frames.items()
        }
        return {
            p: replace(
                self,
                **{name: None if groups[name] is None else groups[name].get(p, frames[name].iloc[0:0]) for name in frames},
                outlooks={p: self.outlooks[p]} if p in self.outlooks else {},
            )
            for p in self.protocols
        }

    @property
    def protocols(self) -> list[str]:
        return list(self.trials["protocol_number"])

    @property
    def budgeted(self) -> pd.DataFrame:
        """The trials with a budget (a signed contract)."""
        return self._once("budgeted", lambda: self.trials[self.trials["bac"].notna()])

    @property
    def currency(self) -> str | None:
        """The one reporting currency of the trials with a budget; None when there are several (amounts cannot be
        added up) or none."""

        def work() -> str | None:
            currencies = self.budgeted["reporting_currency"].unique()
            return str(currencies[0]) if len(currencies) == 1 else None

        return self._once("currency", work)

    @property
    def currencies(self) -> list[str]:
        """The reporting currencies of the trials with a budget, in alphabetical order."""
        return self._once("currencies", lambda: sorted(str(c) for c in self.budgeted["reporting_currency"].unique()))

    def in_currency(self, currency: str) -> Basis:
        """The same basis with only the trials that report in `currency` (their amounts can be added up)."""
        return self._once(("in_currency", currency), lambda: self.restrict(
            self.trials.loc[self.trials["reporting_currency"] == currency, "protocol_number"]))

    @property
    def earned(self) -> metrics.EarnedValue | None:
        """The earned-value figures of the trials with a budget, summed; None without a budget or with several
        currencies (amounts in different currencies cannot be added up)."""

        def work() -> metrics.EarnedValue | None:
            budgeted = self.budgeted
            if budgeted.empty or self.currency is None:
                return None
            return metrics.earned_value(*(budgeted[c].sum() for c in ("bac", "pv", "ev", "ac")))

        return self._once("earned", work)

    @property
    def outlook(self) -> health.Outlook | None:
        """The enrollment outlook of a one-trial basis."""
        return self.outlooks.get(self.protocols[0]) if len(self.trials) == 1 else None

    def trial_row(self):
        """The one row of a one-trial basis (None otherwise)."""
        return self._once("trial_row", lambda: self.trials.iloc[0] if len(self.trials) == 1 else None)


@dataclass(frozen=True)
class Figure:
    """One figure people read: what it is, how it is written, how it is coloured, and how it is computed."""

    key: str
    label: str
    unit: Unit
    better: Literal["up", "down"] | None
    definition: str  # one sentence, the formula in words; "{s.<setting>}" placeholders read the settings
    compute: Callable[[Basis], Any]
    levels: tuple[Level, ...] = ("portfolio", "trial")
    part: Part = "trials"
    pages: tuple[str, ...] = ()  # where it is shown: page names, "e-mail"
    colour: Callable[[Any, Basis], Health | None] | None = None
    thresholds: str | None = None  # the colour rule in words, "{s.<setting>}" placeholders
    shown: Callable[[Any, Basis], str | None] | None = None  # a display other than the unit's (None: the unit's)
    tolerance: float | None = None  # a change within this is not listed as a change (None: the unit's)
    compares: bool = True  # False for figures whose change is meaningless (a baseline, a count over the period)
    period: bool = False  # counted over the period from the compare date to the as-of date
    listed: bool = True  # listed in "what changed" when it moves (False: it grows with the work every week by design)
    costly: bool = False  # computed only where a page shows it (it re-runs a simulation)

    def definition_text(self, settings: Settings) -> str:
        """The definition with the settings' values in it."""
        return self.definition.format(s=settings)

    def threshold_text(self, settings: Settings) -> str | None:
        """The colour rule with the settings' values in it."""
        return None if self.thresholds is None else self.thresholds.format(s=settings)


@dataclass(frozen=True)
class Value:
    """A figure's value for one view: the number, its display, its colour, and its change since the compare date."""

    figure: Figure
    value: Any  # int, float, date or None
    display: str
    health: Health | None
    change: float | int | None = None  # value − value then (days between dates)
    change_display: str | None = None  # "+3", "+2 pts", "+12 days", "no change"; None: nothing to compare with
    then: Any = None
    then_display: str | None = None
    then_health: Health | None = None

    @property
    def key(self) -> str:
        return self.figure.key

    @property
    def label(self) -> str:
        return self.figure.label

    def as_dict(self) -> dict[str, Any]:
        """The figure as data (`python -m dashboard.figures`): key, label, value, display, unit, health, change."""
        value = self.value
        if isinstance(value, date):
            value = value.isoformat()
        elif value is not None:
            value = _plain_number(value)
        return {
            "key": self.key, "label": self.label, "value": value, "display": self.display, "unit": self.figure.unit,
            "health": self.health, "change": None if self.change is None else _plain_number(self.change),
        }

    @property
    def change_text(self) -> str:
        """The change in words, for lists of what changed: "SPI: 0.89 → 0.76"."""
        return f"{self.label}: {self.then_display or '—'} → {self.display}"

    @property
    def moved(self) -> bool:
        """Whether the figure moved beyond its tolerance since the compare date (a figure that appeared or
        disappeared moved too)."""
        if self.figure.unit == "health":
            return self.then_display is not None and self.then_health is not None and self.health != self.then_health
        if not self.figure.compares or not self.figure.listed or (self.value is None and self.then is None):
            return False
        if self.value is None or self.then is None:
            return self.display != self.then_display
        if self.change is None:
            return False
        tolerance = _tolerance(self.figure)
        if self.figure.unit == "money":
            return abs(self.change) > tolerance * max(abs(self.then), 1.0)
        return abs(self.change) > tolerance


def _plain_number(value) -> int | float | None:
    value = float(value)
    if math.isnan(value) or math.isinf(value):
        return None
    return int(value) if value == int(value) and abs(value) < 2**53 else value


# --- How each unit is written ----------------------------------------------------------------------

# A change within these is "no change" when listing what moved (a relative share for money); Methods states them.
TOLERANCE: dict[str, float] = {
    "count": 0, "percent": 0.02, "probability": 0.05, "index": 0.02, "money": 0.02, "date": 7, "days": 7, "health": 0,
}


def _tolerance(figure: Figure) -> float:
    return TOLERANCE[figure.unit] if figure.tolerance is None else figure.tolerance


def tolerance_text(figure: Figure) -> str:
    """The tolerance of a figure's change in words (Methods)."""
    t = _tolerance(figure)
    return {
        "count": "any change" if t == 0 else f"> {t:g}",
        "percent": f"> {t * 100:g} points",
        "probability": f"> {t * 100:g} points",
        "index": f"> {t:.2f}",
        "money": f"> {t:.0%} of its earlier value",
        "date": f"> {t:g} days",
        "days": f"> {t:g} days",
        "health": "any change",
    }[figure.unit]


def _missing(value) -> bool:
    return value is None or (not isinstance(value, (str, date)) and pd.isna(value))


def display(figure: Figure, value, basis: Basis) -> str:
    """A figure's value as its tile shows it; "—" when it has none (empty is not zero)."""
    if figure.shown is not None:
        text = figure.shown(value, basis)
        if text is not None:
            return text
    if figure.unit == "health":
        colour = figure.colour(value, basis) if figure.colour else None
        return HEALTH_WORD[colour] if colour else "—"
    if _missing(value):
        return "—"
    unit = figure.unit
    if unit == "count":
        return f"{int(value):,}"
    if unit in ("percent", "probability"):
        return f"{value:.0%}"
    if unit == "index":
        return f"{value:.2f}"
    if unit == "money":
        return formats.money_in(value, basis.currency)
    if unit == "date":
        return formats.day(value)
    if unit == "days":
        return f"{int(value):+,} d"
    raise ValueError(f"unknown unit {unit!r}")


def change_display(figure: Figure, change) -> str | None:
    """A change of a figure as a tile's delta: "+3", "+2 pts", "+0.04", "+1.2k", "+12 days"; "no change" when it
    rounds to nothing in the figure's own precision."""
    if change is None:
        return None
    unit = figure.unit
    if unit in ("percent", "probability"):
        text = f"{change * 100:+.0f} pts"
    elif unit == "index":
        text = f"{change:+.2f}"
    elif unit == "money":
        text = formats.signed_money(change)
    elif unit == "date":
        text = f"{int(change):+,} days"
    elif unit == "days":
        text = f"{int(change):+,} d"
    else:
        text = f"{int(change):+,}"
    return text if re.search(r"[1-9]", text) else "no change"


def _change(figure: Figure, now, then):
    if not figure.compares or _missing(now) or _missing(then) or figure.unit == "health":
        return None
    if figure.unit == "date":
        return (pd.Timestamp(now) - pd.Timestamp(then)).days
    return now - then


# --- The figures ---------------------------------------------------------------------------------

def _sum(column: str) -> Callable[[Basis], int]:
    return lambda b: int(pd.to_numeric(b.trials[column]).fillna(0).sum())


def _count(condition: Callable[[pd.DataFrame], pd.Series], frame: str = "trials") -> Callable[[Basis], int | None]:
    def compute(b: Basis) -> int | None:
        rows = getattr(b, frame)
        return None if rows is None else int(condition(rows).sum())

    return compute


def _earned(field_name: str) -> Callable[[Basis], float | None]:
    """An earned-value figure of the trials with a budget, summed; None when there is none or currencies differ."""

    def compute(b: Basis) -> float | None:
        return None if b.earned is None else getattr(b.earned, field_name)

    return compute


def _index_colour(value, b: Basis) -> Health:
    return metrics.index_health(value, green=b.settings.index_green, amber=b.settings.index_amber)


def _probability_colour(value, b: Basis) -> Health:
    return metrics.probability_health(value, green=b.settings.probability_green, amber=b.settings.probability_amber)


def _plan_colour(value, b: Basis) -> Health:
    return metrics.index_health(value, green=b.settings.enrollment_green, amber=b.settings.enrollment_amber)


def _dimension(column: str) -> Callable[[Any, Basis], Health | None]:
    return lambda _, b: None if b.trial_row() is None else b.trial_row()[column]


def _outlook(attribute: str) -> Callable[[Basis], Any]:
    return lambda b: None if b.outlook is None else getattr(b.outlook, attribute)


def _quantile(q: float) -> Callable[[Basis], date | None]:
    def compute(b: Basis) -> date | None:
        o = b.outlook
        if o is None or o.forecast is None or o.is_complete:
            return None
        return o.forecast.completion.get(q)

    return compute


def _lpi_model(b: Basis) -> date | None:
    o = b.outlook
    if o is None:
        return None
    return o.completed_on if o.is_complete else o.p50


def _lpi_model_shown(value, b: Basis) -> str | None:
    o = b.outlook
    if o is not None and o.is_complete:
        return f"done on {formats.day(value)}" if value is not None else "done"
    return None


def _lpi_milestone(b: Basis):
    def work():
        rows = b.milestones[b.milestones["milestone_code"] == health.LPI_CODE]
        return None if len(rows) != 1 else rows.iloc[0]

    return b._once("lpi_milestone", work)


def _lpi_cro(b: Basis) -> date | None:
    m = _lpi_milestone(b)
    if m is None or len(b.trials) != 1:
        return None
    if m["status"] == "late":  # overdue: expected no earlier than the as-of date, whatever a stale forecast says
        forecast = m["forecast_date"]
        return max(b.as_of, pd.Timestamp(forecast).date()) if not pd.isna(forecast) else b.as_of
    return pd.Timestamp(m["due_date"]).date()  # actual if done, else the forecast, else the baseline


def _lpi_cro_shown(value, b: Basis) -> str | None:
    m = _lpi_milestone(b)
    if m is None or len(b.trials) != 1:
        return None
    return m["expected"]


def _lpi_cro_colour(value, b: Basis) -> Health | None:
    m = _lpi_milestone(b)
    return None if m is None or len(b.trials) != 1 else m["rag"]


def _lpi_gap(b: Basis) -> int | None:
    o, cro = b.outlook, _lpi_cro(b)
    if o is None or o.is_complete or o.p50 is None or cro is None:
        return None
    return (o.p50 - cro).days


def _rate_change(b: Basis) -> float | None:
    change = None if b.outlook is None else b.outlook.rate_change
    return None if change is None else change.change


def _rate_change_colour(value, b: Basis) -> Health | None:
    change = None if b.outlook is None else b.outlook.rate_change
    return None if change is None else ("amber" if change.declining() else "green")


def _sites_needed(b: Basis) -> int | None:
    o = b.outlook
    return None if o is None or o.is_complete else o.sites_needed


def _sites_needed_shown(value, b: Basis) -> str | None:
    o = b.outlook
    if o is None or o.is_complete or o.p50 is None or o.planned_lpi is None or o.planned_lpi <= b.as_of:
        return None  # "—": nothing to work out
    return "none suffices" if value is None else None


def _schedule_slip(b: Basis) -> int | None:
    row = b.trial_row()
    return None if row is None or pd.isna(row["schedule_slip_days"]) else int(row["schedule_slip_days"])


def _schedule_slip_shown(value, b: Basis) -> str | None:
    row = b.trial_row()
    if row is None or not isinstance(row["schedule_milestone"], str):
        return None
    return f"{row['schedule_milestone']} {int(value):+,} d"


def non_enrolling_sites(b: Basis) -> pd.DataFrame:
    """The basis's sites (enrollment.sites rows) that count as non-enrolling: active on the as-of date, open at least
    the setting's days, nobody enrolled (domain.md §2)."""
    sites = b.sites
    mask = [
        s == "active" and metrics.is_non_enrolling(d, e, min_days=b.settings.non_enrolling_days)
        for s, d, e in zip(sites["site_status"], sites["days_open"], sites["n_enrolled"])
    ]
    return sites[pd.Series(mask, index=sites.index, dtype=bool)]


def _sae_on_time(b: Basis) -> float | None:
    due = pd.to_numeric(b.trials["n_sae_due"], errors="coerce")
    on_time = pd.to_numeric(b.trials["n_sae_on_time"], errors="coerce")
    return metrics.ratio(on_time.sum(), due.sum()) if due.notna().any() else None


def _sae_colour(value, b: Basis) -> Health:
    return metrics.index_health(value, green=b.settings.sae_on_time_green, amber=b.settings.sae_on_time_amber)


def qtl_breaches(b: Basis) -> pd.DataFrame:
    """The basis's QTLs (health.qtl_status rows) that are breached on the as-of date."""
    q = b.qtls
    if q is None or q.empty:
        return pd.DataFrame(columns=health.QTL_COLUMNS)
    return q[q["breached"].fillna(False).astype(bool)]


def _qtl_breaches(b: Basis) -> int | None:
    if b.qtls is None or b.qtls["value"].isna().all():
        return None  # no QTL set, or none has data yet: nothing to say, not "no breach"
    return len(qtl_breaches(b))


WORST_SITES_TEXT = (
    "Worst first: sites with the most red flags (a non-enrolling active site counts as one), then the most safety flags "
    "(AE, SAE or abnormal lab rate), then amber flags, then the longest without a subject."
)


def site_flags(row) -> list[tuple[str, str]]:
    """A site's (flags row) amber and red indicators as (colour, words), red first: ("red", "AE rate (low)") — a
    two-sided indicator says its side."""
    found = [
        (row[f"flag_{k}"], ind.label + (f" ({row[f'side_{k}']})" if ind.bad_side == "both" else ""))
        for k, ind in metrics.SITE_INDICATORS.items() if row[f"flag_{k}"] in ("red", "amber")
    ]
    return sorted(found, key=lambda p: -HEALTH_ORDER[p[0]])


def worst_sites(b: Basis) -> pd.DataFrame:
    """The basis's sites (flags rows) flagged amber or red on an indicator, or active and non-enrolling, worst first
    (WORST_SITES_TEXT), each with `problems`: (colour, words) pairs such as ("red", "AE rate (low)") or ("red",
    "Non-enrolling for 96 days"), and `non_enrolling_days` (empty unless non-enrolling)."""
    f = b.flags
    if f is None or f.empty:
        return pd.DataFrame(columns=[*([] if f is None else f.columns), "problems", "non_enrolling_days"])
    idle = non_enrolling_sites(b)
    idle_days = dict(zip(zip(idle["protocol_number"], idle["site_number"]), idle["days_open"]))
    days = pd.Series([idle_days.get(k) for k in zip(f["protocol_number"], f["site_number"])], index=f.index, dtype="float64")
    keep = (f["n_red"] + f["n_amber"] > 0) | days.notna()  # only these are listed
    f, days = f[keep], days[keep]
    problems = [
        ([("red", f"Non-enrolling for {int(d)} days")] if not pd.isna(d) else []) + site_flags(r)
        for (_, r), d in zip(f.iterrows(), days)
    ]
    out = f.assign(problems=problems, non_enrolling_days=days, _reds=f["n_red"] + days.notna().astype(int))
    return out.sort_values(["_reds", "n_safety", "n_amber", "non_enrolling_days", "protocol_number", "site_number"],
                           ascending=[False, False, False, False, True, True], na_position="last").drop(columns="_reds")


def _open_supply(b: Basis, risk: str) -> int | None:
    if b.supply is None:
        return None
    return int(((b.supply["risk"] == risk) & ~b.supply["is_clinical_done"]).sum())


def _contract(m: pd.DataFrame) -> pd.Series:
    return m["milestone_kind"] == "contract"


_INDEX_RULE = "green at {s.index_green:.2f} or above, amber at {s.index_amber:.2f} or above, red below"
_P_RULE = "green at {s.probability_green:.0%} or above, amber at {s.probability_amber:.0%} or above, red below"
_PLAN_RULE = "green at {s.enrollment_green:.0%} or above, amber at {s.enrollment_amber:.0%} or above, red below"
_SCHEDULE_RULE = (
    "the worst colour of the trial's open milestones late or due within {s.schedule_horizon_days} days: red when a slip "
    "exceeds {s.milestone_red_days} days, amber when it exceeds {s.milestone_amber_days} days or the milestone is overdue"
)

P, O, E, S, B, V, MAIL = "portfolio", "overview", "enrollment", "sites", "budget", "vendors", "e-mail"

_FIGURES: list[Figure] = [
    # Portfolio
    Figure("active_trials", "Active trials", "count", None,
           "Trials whose status is start-up, enrolling or follow-up (the status as last loaded: it carries no date).",
           _count(lambda t: t["is_active"]), levels=("portfolio",), pages=(P, MAIL)),
    Figure("trials_at_risk", "Trials at risk", "count", "down", "Trials whose overall health is red (at risk).",
           _count(lambda t: t["overall_health"] == "red"), levels=("portfolio",), pages=(P, MAIL), part="forecast"),
    Figure("trials_watch", "Trials to watch", "count", "down", "Trials whose overall health is amber (watch).",
           _count(lambda t: t["overall_health"] == "amber"), levels=("portfolio",), pages=(P, MAIL), part="forecast"),
    Figure("trials_on_track", "Trials on track", "count", "up", "Trials whose overall health is green (on track).",
           _count(lambda t: t["overall_health"] == "green"), levels=("portfolio",), pages=(P, MAIL), part="forecast"),
    Figure("trials_no_data", "Trials without data", "count", None, "Trials whose overall health is grey: nothing to judge yet.",
           _count(lambda t: t["overall_health"] == "grey"), levels=("portfolio",), pages=(P, MAIL), part="forecast"),
    # Health of a trial (domain.md §7)
    Figure("overall_health", "Overall", "health", None, "The worst of the enrollment, budget and schedule colours.",
           lambda b: None, levels=("trial",), pages=(P, O, MAIL), colour=_dimension("overall_health"), part="forecast"),
    Figure("enrollment_health", "Enrollment", "health", None,
           "Once a forecast exists, the colour of the chance of LPI by plan; before that, of % of plan to date; grey before "
           "enrollment starts.", lambda b: None, levels=("trial",), pages=(P, O, E), colour=_dimension("enrollment_health"), part="forecast"),
    Figure("budget_health", "Budget", "health", None, "The colour of CPI; grey without a budget.",
           lambda b: None, levels=("trial",), pages=(P, O), colour=_dimension("budget_health"), thresholds=_INDEX_RULE),
    Figure("schedule_health", "Schedule", "health", None,
           "Milestone health: the colour of the worst open milestone that is overdue or due soon; grey without milestones.",
           lambda b: None, levels=("trial",), pages=(P, O), colour=_dimension("schedule_health"), thresholds=_SCHEDULE_RULE),
    # Enrollment (domain.md §2)
    Figure("enrolled", "Enrolled", "count", "up",
           "Subjects randomized or enrolled on or before the as-of date; screen failures never count.",
           _sum("n_enrolled"), pages=(P, O, E, MAIL)),
    Figure("enrollment_target", "Enrollment target", "count", None, "The planned enrollment of the trials.",
           _sum("n_planned_subjects"), pages=(P, O, E, MAIL)),
    Figure("pct_to_target", "% of target", "percent", "up", "Enrolled ÷ enrollment target.",
           lambda b: metrics.ratio(b.trials["n_enrolled"].sum(), b.trials["n_planned_subjects"].sum()), pages=(P, E, MAIL), listed=False),
    Figure("pct_of_plan_to_date", "% of plan to date", "percent", "up",
           "Enrolled ÷ the baseline plan's cumulative enrollment on the as-of date (linear within the month).",
           lambda b: metrics.ratio(b.trials["n_enrolled"].sum(), b.trials["planned_to_date"].sum()),
           pages=(O, E, MAIL), colour=lambda v, b: _plan_colour(v, b), thresholds=_PLAN_RULE),
    Figure("sites_active", "Sites active", "count", None, "Sites activated and not closed on the as-of date.",
           _sum("n_sites_active"), pages=(P, E, S, MAIL)),
    Figure("sites_non_enrolling", "Non-enrolling sites", "count", "down",
           "Active sites open for at least {s.non_enrolling_days} days with nobody enrolled (industry benchmark: about "
           "one site in three never enrolls a patient).",
           lambda b: len(non_enrolling_sites(b)), pages=(O, S, E)),
    # Last patient in (domain.md §3)
    Figure("p_meet_lpi_plan", "Chance of LPI by plan", "probability", "up",
           "Share of forecast outcomes (Poisson-Gamma model) with the last patient in by the planned LPI, the LPI "
           "milestone's baseline.", _outlook("p_meet_plan"), levels=("trial",), pages=(P, O, E, MAIL),
           colour=lambda v, b: None if _missing(v) else _probability_colour(v, b), thresholds=_P_RULE, part="forecast"),
    Figure("lpi_model", "Last patient in (model P50)", "date", "down",
           "The model's median date for enrollment to reach its target; once it has, the day it did.",
           _lpi_model, levels=("trial",), pages=(P, O, E), shown=_lpi_model_shown, part="forecast"),
    Figure("lpi_model_p10", "Last patient in (model P10)", "date", "down",
           "The early edge of the model's forecast: 1 outcome in 10 is earlier.", _quantile(0.1), levels=("trial",), pages=(O, E), part="forecast"),
    Figure("lpi_model_p90", "Last patient in (model P90)", "date", "down",
           "The late edge of the model's forecast: 1 outcome in 10 is later.", _quantile(0.9), levels=("trial",), pages=(O, E), part="forecast"),
    Figure("lpi_cro", "Last patient in (CRO forecast)", "date", "down",
           "The CRO's latest forecast of the LPI milestone recorded by the as-of date (its actual once done, its baseline "
           "before any forecast); it sets the schedule colour, the model sets the enrollment colour.",
           _lpi_cro, levels=("trial",), pages=(O, E), shown=_lpi_cro_shown, colour=_lpi_cro_colour),
    Figure("lpi_gap", "Model P50 − CRO forecast", "days", None,
           "Days from the CRO's LPI forecast to the model's median: positive when the model expects the last patient later.",
           _lpi_gap, levels=("trial",), pages=(O, E), part="forecast"),
    Figure("lpi_planned", "Planned LPI", "date", None, "The baseline (contracted) date of the LPI milestone.",
           lambda b: None if _lpi_milestone(b) is None or len(b.trials) != 1 else _lpi_milestone(b)["baseline_date"],
           levels=("trial",), pages=(O, E), compares=False),
    Figure("sites_needed", "Extra sites needed", "count", "down",
           "Additional sites, opening now at rates like the current ones, that would bring the chance of LPI by plan to "
           "{s.probability_green:.0%}; “none suffices” when no number of sites up to the model's cap does.",
           _sites_needed, levels=("trial",), pages=(E,), shown=_sites_needed_shown, costly=True, part="forecast"),
    Figure("enrollment_rate_change", "Enrollment rate, last 3 months against the first 3", "percent", "up",
           "The trial's enrollment rate per open site-month over the last 91 days against its first 91 days after the "
           "first site opened, minus 1: −40% when the last three months ran 40% below the first three (none before six "
           "months, or with fewer than 5 enrolled in the first three).",
           _rate_change, levels=("trial",), pages=(E,), shown=lambda v, b: None if _missing(v) else f"{v:+.0%}",
           colour=_rate_change_colour,
           thresholds=f"amber when {metrics.DECLINE_AT_LEAST:.0%} or more below and unlikely by chance (one-sided p < "
                      f"{metrics.DECLINE_P_VALUE:g})",
           compares=False, part="forecast"),
    # Budget: earned value (domain.md §5)
    Figure("budget_spent", "Budget spent", "percent", None, "Actual cost ÷ budget at completion (AC ÷ BAC).",
           _earned("burn_pct"), pages=(P, B, MAIL), listed=False),
    Figure("pct_complete", "Work complete", "percent", "up", "Earned value ÷ budget at completion (EV ÷ BAC).",
           _earned("pct_complete"), pages=(B,), listed=False),
    Figure("bac", "Budget (BAC)", "money", None, "Budget at completion: contracted value + change orders approved by the as-of date.",
           _earned("bac"), pages=(B, O, MAIL)),
    Figure("pv", "Planned value (PV)", "money", None,
           "Planned value: the approved plan's spend to the as-of date, a month's planned spend accruing by day.",
           _earned("pv"), pages=(B,), listed=False),
    Figure("ev", "Earned value (EV)", "money", "up",
           "Earned value: units delivered (sites activated, subjects enrolled, visits done) × contracted prices, plus "
           "milestone fees achieved.", _earned("ev"), pages=(B, O), listed=False),
    Figure("ac", "Actual cost (AC)", "money", None, "Actual cost: invoiced + accrued (ASC 730), a month's cost accruing by day within the month.", _earned("ac"), pages=(B, O, MAIL), listed=False),
    Figure("cpi", "CPI", "index", "up", "Cost performance index: EV ÷ AC.", _earned("cpi"),
           pages=(P, O, B, MAIL), colour=lambda v, b: _index_colour(v, b), thresholds=_INDEX_RULE),
    Figure("spi", "SPI", "index", "up", "Schedule performance index: EV ÷ PV.", _earned("spi"),
           pages=(P, O, B), colour=lambda v, b: _index_colour(v, b), thresholds=_INDEX_RULE),
    Figure("cv", "Cost variance (CV)", "money", "up", "Cost variance: EV − AC.", _earned("cv"), pages=(B,), listed=False),
    Figure("sv", "Schedule variance (SV)", "money", "up", "Schedule variance: EV − PV.", _earned("sv"), pages=(B,), listed=False),
    Figure("eac", "Forecast cost (EAC)", "money", "down", "Estimate at completion: BAC ÷ CPI.", _earned("eac"), pages=(B, O, MAIL)),
    Figure("eac_atypical", "Forecast cost, one-off overrun", "money", "down",
           "Estimate at completion if the overrun so far is a one-off: AC + (BAC − EV).", _earned("eac_atypical"), pages=(B,)),
    Figure("etc", "Cost to complete (ETC)", "money", None, "Estimate to complete: EAC − AC.", _earned("etc"), pages=(B,), listed=False),
    Figure("vac", "Left at end (VAC)", "money", "up", "Variance at completion: BAC − EAC, the budget left when the work is done (negative: an expected overrun).",
           _earned("vac"), pages=(B, MAIL)),
    Figure("tcpi", "CPI needed (TCPI)", "index", "down",
           "To-complete performance index: (BAC − EV) ÷ (BAC − AC), the cost efficiency the remaining work needs to finish "
           "within budget; undefined once AC reaches BAC.", _earned("tcpi"), pages=(B,)),
    Figure("cost_per_subject", "Cost per enrolled subject", "money", "down", "Actual cost ÷ subjects enrolled.",
           lambda b: None if b.budgeted.empty or b.currency is None
           else metrics.ratio(b.budgeted["ac"].sum(), b.budgeted["n_enrolled"].sum()), pages=(B,), listed=False),
    Figure("planned_cost_per_subject", "Planned cost per subject", "money", "down", "BAC ÷ enrollment target.",
           lambda b: None if b.budgeted.empty or b.currency is None
           else metrics.ratio(b.budgeted["bac"].sum(), b.budgeted["n_planned_subjects"].sum()), pages=(B,)),
    # Vendor milestones (domain.md §6)
    Figure("milestones_contracted", "Contracted milestones", "count", None,
           "CRO and CMO contract milestones (stability pulls and the expiry date are not contract milestones).",
           _count(_contract, "milestones"), pages=(V,)),
    Figure("milestones_overdue", "Milestones overdue", "count", "down",
           "Contract milestones not done whose baseline (contracted) date has passed.",
           _sum("n_milestones_overdue"), pages=(P, V, MAIL)),
    Figure("milestones_forecast_late", "Milestones forecast late", "count", "down",
           "Contract milestones not yet due whose forecast is later than their baseline.",
           _sum("n_milestones_forecast_late"), pages=(V,)),
    Figure("stability_pulls_overdue", "Stability pulls overdue", "count", "down",
           "Stability pulls (ICH Q1A) not done whose baseline date has passed.", _sum("n_stability_pulls_overdue"), pages=(V, MAIL)),
    Figure("schedule_slip", "Worst milestone slip", "days", "down",
           "The slip of the milestone that sets the schedule colour: the worst open milestone overdue or due within "
           "{s.schedule_horizon_days} days.", _schedule_slip, levels=("trial",), pages=(P, O, MAIL),
           shown=_schedule_slip_shown, colour=_dimension("schedule_health"), thresholds=_SCHEDULE_RULE),
    Figure("supply_conflicts", "Supply conflicts", "count", "down",
           "Open links where the supply milestone, with its lead time, lands after the clinical milestone it must precede.",
           lambda b: _open_supply(b, "conflict"), part="vendor", pages=(V, MAIL)),
    Figure("supply_near_misses", "Supply near misses", "count", "down",
           "Open links with less than {s.supply_near_miss_days} days to spare between supply and clinical milestone.",
           lambda b: _open_supply(b, "near_miss"), part="vendor", pages=(V, MAIL)),
    Figure("forecasts_moved", "Forecasts moved", "count", None,
           "Open milestones whose forecast recorded on the as-of date differs from the one on the compare date.",
           lambda b: None if b.moved is None else len(b.moved), part="vendor", pages=(V,), compares=False, period=True),
    Figure("forecasts_slipped", "Forecasts slipped", "count", "down",
           "Contract milestones whose forecast moved later between the compare date and the as-of date.",
           lambda b: None if b.moved is None else int(((b.moved["days_moved"] > 0) & (b.moved["milestone_kind"] == "contract")).sum()),
           part="vendor", pages=(V, MAIL), compares=False, period=True),
    # Sites (domain.md §4)
    Figure("sites_red_flag", "Sites with a red flag", "count", "down",
           "Sites with at least one indicator flagged red against the other sites of their trial.",
           _count(lambda f: f["n_red"] > 0, "flags"), part="flags", pages=(S,)),
    Figure("sites_amber_flag", "Sites with an amber flag only", "count", "down",
           "Sites with an indicator flagged amber and none red.",
           _count(lambda f: (f["n_red"] == 0) & (f["n_amber"] > 0), "flags"), part="flags", pages=(S,)),
    Figure("sites_safety_flag", "Sites with a safety flag", "count", "down",
           "Sites with the AE rate, SAE rate or abnormal lab rate flagged amber or red against the other sites of their "
           "trial, on either side for AE and SAE rates (low: possible under-reporting).",
           _count(lambda f: f["n_safety"] > 0, "flags"), part="flags", pages=(O, S)),
    # Quality and safety (domain.md §4a)
    Figure("sae_on_time", "SAEs reported on time", "percent", "up",
           "Serious adverse events reported to the sponsor on the day the site became aware of them or the next, ÷ SAEs "
           "due by the as-of date (reported by then, or known to the site for more than a day); trials without "
           "adverse-event data are left out.",
           _sae_on_time, pages=(O, S, MAIL), colour=_sae_colour,
           thresholds="Green from {s.sae_on_time_green:.0%}, amber from {s.sae_on_time_amber:.0%}, red below."),
    Figure("qtl_breaches", "QTL breaches", "count", "down",
           "Quality tolerance limits of the trials (set per trial before it starts) whose trial-level figure, the site "
           "indicator pooled over the trial's sites, is past its limit on the as-of date; no data where no QTL is set.",
           _qtl_breaches, pages=(P, O, MAIL), colour=lambda v, b: "red" if v else "green",
           thresholds="Red when any QTL is breached, else green."),
]

FIGURES: dict[str, Figure] = {f.key: f for f in _FIGURES}

# The Methods page's sections: every figure in exactly one (a test holds this).
GROUPS: dict[str, tuple[str, ...]] = {
    "Portfolio and health": ("active_trials", "trials_at_risk", "trials_watch", "trials_on_track", "trials_no_data",
                             "overall_health", "enrollment_health", "budget_health", "schedule_health"),
    "Enrollment": ("enrolled", "enrollment_target", "pct_to_target", "pct_of_plan_to_date", "sites_active",
                   "sites_non_enrolling"),
    "Last patient in": ("p_meet_lpi_plan", "lpi_model", "lpi_model_p10", "lpi_model_p90", "lpi_cro", "lpi_gap",
                        "lpi_planned", "sites_needed", "enrollment_rate_change"),
    "Budget: earned value": ("budget_spent", "pct_complete", "bac", "pv", "ev", "ac", "cpi", "spi", "cv", "sv", "eac",
                             "eac_atypical", "etc", "vac", "tcpi", "cost_per_subject", "planned_cost_per_subject"),
    "Vendor milestones": ("milestones_contracted", "milestones_overdue", "milestones_forecast_late",
                          "stability_pulls_overdue", "schedule_slip", "supply_conflicts", "supply_near_misses",
                          "forecasts_moved", "forecasts_slipped"),
    "Sites": ("sites_red_flag", "sites_amber_flag", "sites_safety_flag"),
    "Quality and safety": ("sae_on_time", "qtl_breaches"),
}
_BY_LABEL: dict[str, Figure] = {f.label: f for f in _FIGURES}
assert len(FIGURES) == len(_FIGURES) and len(_BY_LABEL) == len(_FIGURES), "figure keys and labels are unique"


def by_label(label: str) -> Figure | None:
    """The figure a label names (labels are unique)."""
    return _BY_LABEL.get(label)


# --- Evaluating ----------------------------------------------------------------------------------


def evaluate(key: str, basis: Basis, then: Basis | None = None) -> Value:
    """The figure `key` for the view of `basis`, with its change since the view of `then` (the compare date)."""
    if then is None:  # a figure of one basis, alone: worked out once per basis (a portfolio asks for every trial's)
        return basis._once(("value", key), lambda: _evaluate(FIGURES[key], basis, None))
    return _evaluate(FIGURES[key], basis, then)


def _evaluate(figure: Figure, basis: Basis, then: Basis | None) -> Value:
    value = _compute(figure, basis)
    colour = None
    if figure.colour is not None and (figure.unit == "health" or not _missing(value)):
        colour = figure.colour(value, basis)
    out = Value(figure, value, display(figure, value, basis), colour)
    if then is None or not figure.compares:
        return out
    if then.trials.empty:  # not in view on the compare date: nothing to compare with
        return out
    before = _compute(figure, then)
    then_colour = None
    if figure.colour is not None and (figure.unit == "health" or not _missing(before)):
        then_colour = figure.colour(before, then)
    change = _change(figure, value, before)
    return replace(out, change=change, change_display=change_display(figure, change), then=before,
                   then_display=display(figure, before, then), then_health=then_colour)


def _compute(figure: Figure, basis: Basis):
    if not basis.has(figure.part) or basis.trials.empty:
        return None
    if "trial" in figure.levels and "portfolio" not in figure.levels and len(basis.trials) != 1:
        return None
    value = figure.compute(basis)
    if isinstance(value, pd.Timestamp):
        value = value.date()
    return None if _missing(value) else value


def block(basis: Basis, then: Basis | None, level: Level, *, costly: bool = False) -> list[Value]:
    """Every figure of `level` that the basis holds the parts for, in registry order (costly ones only if asked)."""
    return [
        evaluate(f.key, basis, then)
        for f in _FIGURES
        if level in f.levels and basis.has(f.part) and (costly or not f.costly)
    ]


def by_currency(basis: Basis, then: Basis | None) -> dict[str, list[Value]]:
    """When the trials in view report in several currencies (so no budget figure of the view adds up): each
    currency's earned-value figures, over the trials that report in it, with their change since `then`'s trials in
    that currency. Empty when there is one currency or none (the view's own figures are the totals)."""
    if len(basis.currencies) < 2:
        return {}
    return {
        currency: [evaluate(key, basis.in_currency(currency), None if then is None else then.in_currency(currency))
                   for key in GROUPS["Budget: earned value"]]
        for currency in basis.currencies
    }


def moved(values: list[Value]) -> list[Value]:
    """The values that moved beyond their tolerance since the compare date ("what changed")."""
    return [v for v in values if v.moved]


# --- Why a trial has its colour, and how bad it is -------------------------------------------------

DIMENSIONS = ("enrollment", "budget", "schedule")


def drivers(b: Basis) -> dict[str, str]:
    """For a one-trial basis: dimension → the key of the figure that sets its colour (health.trial_health says which
    one the enrollment colour followed: the chance of LPI by plan once the trial enrolls and has a forecast, else % of plan)."""
    row = b.trial_row()
    enrollment = row["enrollment_driver"] if row is not None and "enrollment_driver" in row else "pct_of_plan_to_date"
    return {"enrollment": enrollment, "budget": "cpi", "schedule": "schedule_slip"}


@dataclass(frozen=True)
class Reason:
    """A figure that makes a trial red or amber, in words: "Chance of LPI by plan 30%", "Database lock +52 d", "CPI 0.77"."""

    dimension: str
    health: Health
    text: str
    excess: float  # how far past the green threshold, in widths of the amber band


def reasons(b: Basis) -> list[Reason]:
    """Why a one-trial basis is red or amber: the figure behind each red or amber dimension, and each breached QTL
    (red), worst first."""
    return b._once("reasons", lambda: _reasons(b))


def _reasons(b: Basis) -> list[Reason]:
    row = b.trial_row()
    if row is None:
        return []
    out = []
    s = b.settings
    for dimension, key in drivers(b).items():
        colour = row[f"{dimension}_health"]
        if colour not in ("red", "amber"):
            continue
        v = evaluate(key, b)
        if key == "schedule_slip":
            text = v.display
            slip = 0 if v.value is None else v.value
            excess = (slip - s.milestone_amber_days) / max(s.milestone_red_days - s.milestone_amber_days, 1)
        else:
            text = f"{v.label} {v.display}"
            green, amber = {
                "p_meet_lpi_plan": (s.probability_green, s.probability_amber),
                "pct_of_plan_to_date": (s.enrollment_green, s.enrollment_amber),
                "cpi": (s.index_green, s.index_amber),
            }[key]
            excess = 0.0 if v.value is None else (green - v.value) / max(green - amber, 1e-9)
        out.append(Reason(dimension, colour, text, max(excess, 0.0)))
    for _, q in qtl_breaches(b).iterrows():  # a breached quality tolerance limit is reported whatever the colours say
        excess = abs(q["value"] - q["limit_value"]) / max(abs(q["limit_value"]), 1e-9)
        out.append(Reason("quality", "red", health.qtl_text(q), excess))
    return sorted(out, key=lambda r: (-HEALTH_ORDER[r.health], -r.excess))


def severity(b: Basis) -> tuple:
    """A one-trial basis's place in a worst-first order (smaller sorts first): overall colour, then how many
    dimensions are red, then amber, then how far past their green thresholds the figures are (summed, in widths
    of the amber band), then the protocol number."""
    row = b.trial_row()
    found = reasons(b)
    n_red = sum(r.health == "red" for r in found)
    n_amber = sum(r.health == "amber" for r in found)
    return (-HEALTH_ORDER[row["overall_health"]], -n_red, -n_amber, -sum(r.excess for r in found), row["protocol_number"])


SEVERITY_TEXT = (
    "Worst first: by overall colour, then the number of red dimensions (enrollment, budget, schedule), then amber "
    "ones, then how far the figures behind them are past their green thresholds, counted in widths of the amber band "
    "(e.g. CPI 0.75 with thresholds 0.95 and 0.85 is 2 widths past; a slip of 45 days with tolerances 0 and 30 "
    "days is 1.5), summed; a breached quality tolerance limit counts as a red one; then by protocol number."
)


def worst_first(b: Basis) -> list[str]:
    """The protocol numbers of the basis, worst first (see severity)."""
    return b._once("worst_first", lambda: sorted(b.protocols, key=lambda p: severity(b.of_trial(p))))
