"""What a figure is (Figure), what it is computed from (Basis: a view's query results on one date) and what it
gives (Value), and how each unit is written and compared."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any, Literal

import pandas as pd

from dashboard import formats, health, metrics
from dashboard.metrics import HEALTH_WORD, Health
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
            self,
            trials=narrow(self.trials),
            milestones=narrow(self.milestones),
            sites=narrow(self.sites),
            outlooks={p: o for p, o in self.outlooks.items() if p in keep},
            flags=narrow(self.flags),
            qtls=narrow(self.qtls),
            supply=narrow(self.supply),
            moved=narrow(self.moved),
        )

    def of_trial(self, protocol: str) -> Basis:
        """The basis of one trial (an empty basis for a trial not in this one)."""
        return self._once("by_trial", self._split).get(protocol) or self.restrict([protocol])

    def _split(self) -> dict[str, Basis]:
        """Each trial's own basis, split in one pass (a portfolio of hundreds of trials is ranked trial by trial)."""
        frames = {
            name: getattr(self, name) for name in ("trials", "milestones", "sites", "qtls", "flags", "supply", "moved")
        }
        groups = {
            name: dict(tuple(frame.groupby("protocol_number", sort=False))) if frame is not None else None
            for name, frame in frames.items()
        }
        return {
            p: replace(
                self,
                **{
                    name: None if groups[name] is None else groups[name].get(p, frames[name].iloc[0:0])
                    for name in frames
                },
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
        return self._once(
            ("in_currency", currency),
            lambda: self.restrict(self.trials.loc[self.trials["reporting_currency"] == currency, "protocol_number"]),
        )

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
            "key": self.key,
            "label": self.label,
            "value": value,
            "display": self.display,
            "unit": self.figure.unit,
            "health": self.health,
            "change": None if self.change is None else _plain_number(self.change),
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
    "count": 0,
    "percent": 0.02,
    "probability": 0.05,
    "index": 0.02,
    "money": 0.02,
    "date": 7,
    "days": 7,
    "health": 0,
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
