"""The functions that compute the figures from a Basis, and the colour rules they follow."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pandas as pd

from dashboard import formats, health, metrics
from dashboard.metrics import HEALTH_ORDER, Health
from dashboard.registry.model import Basis

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
        for k, ind in metrics.SITE_INDICATORS.items()
        if row[f"flag_{k}"] in ("red", "amber")
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
    days = pd.Series(
        [idle_days.get(k) for k in zip(f["protocol_number"], f["site_number"])], index=f.index, dtype="float64"
    )
    keep = (f["n_red"] + f["n_amber"] > 0) | days.notna()  # only these are listed
    f, days = f[keep], days[keep]
    problems = [
        ([("red", f"Non-enrolling for {int(d)} days")] if not pd.isna(d) else []) + site_flags(r)
        for (_, r), d in zip(f.iterrows(), days)
    ]
    out = f.assign(problems=problems, non_enrolling_days=days, _reds=f["n_red"] + days.notna().astype(int))
    return out.sort_values(
        ["_reds", "n_safety", "n_amber", "non_enrolling_days", "protocol_number", "site_number"],
        ascending=[False, False, False, False, True, True],
        na_position="last",
    ).drop(columns="_reds")


def _open_supply(b: Basis, risk: str) -> int | None:
    if b.supply is None:
        return None
    return int(((b.supply["risk"] == risk) & ~b.supply["is_clinical_done"]).sum())


def _contract(m: pd.DataFrame) -> pd.Series:
    return m["milestone_kind"] == "contract"
