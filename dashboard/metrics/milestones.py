"""Vendor milestones, domain.md §6: slip and status (expiry dates the other way round), schedule health, supply
against the clinical milestones it feeds, and on-time rates."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from dashboard.metrics.core import Health, Number, ratio

# --- §6 Vendor milestones ---------------------------------------------------------------------

MILESTONE_STATUS_LABEL: dict[str, str] = {
    "done_on_time": "Done on time",
    "done_late": "Done late",
    "late": "Overdue",
    "at_risk": "Forecast late",
    "on_track": "On track",
}
# Expiry and re-test dates, where later is better (expiry_status_columns).
EXPIRY_STATUS_LABEL: dict[str, str] = {
    "extended": "Extended",
    "as_planned": "As planned",
    "shortened": "Shortened",
    "expired": "Expired",
}
# Every status a row of health.milestone_statuses may carry.
STATUS_LABEL: dict[str, str] = {**MILESTONE_STATUS_LABEL, **EXPIRY_STATUS_LABEL}


@dataclass(frozen=True)
class MilestoneStatus:
    """Slip in days, status (a key of MILESTONE_STATUS_LABEL) and rag colour of one milestone as of a date."""

    slip_days: int
    status: str
    rag: Health


def milestone_status(
    baseline: date,
    forecast: date | None,
    actual: date | None,
    as_of: date,
    *,
    amber_days: int = 0,
    red_days: int = 30,
) -> MilestoneStatus:
    """Return the slip, status and rag of a milestone as of a date (domain.md §6)."""
    slip, status, rag = milestone_status_columns(
        [baseline], [forecast], [actual], as_of, amber_days=amber_days, red_days=red_days
    )
    return MilestoneStatus(slip_days=int(slip[0]), status=str(status[0]), rag=str(rag[0]))


def milestone_status_columns(
    baseline, forecast, actual, as_of: date, *, amber_days: int = 0, red_days: int = 30
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """milestone_status for many milestones at once: date columns in (None/NaT where missing), slip days, status and rag out.

    The one definition of domain.md §6 (milestone_status calls it): tens of thousands of milestones are one numpy pass.
    """
    b, f, no_forecast, a, no_actual, today = _milestone_days(baseline, forecast, actual, as_of)
    # An actual recorded after as_of had not happened yet on that date.
    done = ~no_actual & (a <= today)
    upcoming = ~done & (b >= today)
    # Overdue: it cannot finish before as_of, whatever the forecast says.
    expected_late = np.where(no_forecast, today, np.maximum(f, today))
    slip = np.where(done, a - b, np.where(upcoming, np.where(no_forecast, 0, f - b), expected_late - b))
    status = np.where(
        done,
        np.where(slip <= amber_days, "done_on_time", "done_late"),
        np.where(upcoming, np.where(slip > amber_days, "at_risk", "on_track"), "late"),
    ).astype(object)
    rag = np.where(slip > red_days, "red", np.where((slip > amber_days) | (status == "late"), "amber", "green")).astype(
        object
    )
    return slip.astype("int64"), status, rag


def expiry_status_columns(
    baseline, forecast, actual, as_of: date, *, amber_days: int = 0, red_days: int = 30
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Status of expiry and re-test dates, where later is better: the change in days (current − baseline, positive =
    later), status and rag.

    Extended (later) or as planned: green. Shortened: amber beyond `amber_days` earlier, red beyond `red_days`, the
    milestone tolerances read the other way. A current date (the actual, else the forecast, else the baseline) on or
    before as_of: expired, red.
    """
    b, f, no_forecast, a, no_actual, today = _milestone_days(baseline, forecast, actual, as_of)
    current = np.where(~no_actual, a, np.where(~no_forecast, f, b))
    change = current - b
    expired = current <= today
    status = np.where(
        expired, "expired", np.where(change > 0, "extended", np.where(change == 0, "as_planned", "shortened"))
    )
    rag = np.where(expired | (-change > red_days), "red", np.where(-change > amber_days, "amber", "green"))
    return change.astype("int64"), status.astype(object), rag.astype(object)


def _milestone_days(baseline, forecast, actual, as_of: date):
    """The milestone dates as whole days since 1970 (baseline required), where forecast and actual are missing, and as_of."""
    b, no_baseline = _day_numbers(baseline)
    if no_baseline.any():
        raise ValueError("every milestone needs a baseline date")
    f, no_forecast = _day_numbers(forecast)
    a, no_actual = _day_numbers(actual)
    today = (np.datetime64(as_of, "D") - np.datetime64(0, "D")).astype("int64")
    return b, f, no_forecast, a, no_actual, today


def _day_numbers(values) -> tuple[np.ndarray, np.ndarray]:
    """Dates (date, Timestamp, datetime64; None/NaT missing) as whole days since 1970, and where they are missing."""
    series = values if isinstance(values, pd.Series) else pd.Series(list(values), dtype="object")
    days = pd.to_datetime(series).to_numpy(dtype="datetime64[D]")
    missing = np.isnat(days)
    return np.where(missing, 0, (days - np.datetime64(0, "D")).astype("int64")), missing


# --- Vendor milestones ------------------------------------------------------------------------

SUPPLY_RISK_LABEL: dict[str, str] = {"conflict": "Supply conflict", "near_miss": "Near miss", "clear": "Clear"}


@dataclass(frozen=True)
class SupplyMargin:
    """Days between a supply milestone (plus lead time) and the clinical milestone it must precede; kind is a key of SUPPLY_RISK_LABEL."""

    margin_days: int
    kind: str

    @property
    def conflict_days(self) -> int:
        """Days of conflict: how late the supply is (0 when it is in time)."""
        return max(-self.margin_days, 0)


def supply_margin(supply: date, clinical: date, lead_time_days: int = 0, *, near_miss_days: int = 14) -> SupplyMargin:
    """Return clinical − lead time − supply in days (domain.md §6): < 0 a conflict, under `near_miss_days` a near miss.

    Each date is the milestone's actual if done, else its current forecast.
    """
    margin = (clinical - supply).days - int(lead_time_days or 0)
    kind = "conflict" if margin < 0 else "near_miss" if margin < near_miss_days else "clear"
    return SupplyMargin(margin_days=margin, kind=kind)


def on_time_rate(n_done_on_time: Number | None, n_done: Number | None) -> float | None:
    """Return a vendor's on-time rate: milestones done on time ÷ milestones done (None when none is done)."""
    return ratio(n_done_on_time, n_done)
