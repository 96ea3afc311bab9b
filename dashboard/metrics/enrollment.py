"""Enrollment, domain.md §2 and §7: its health, the plan to date, rates per site-month, non-enrolling sites,
activation on time, and a rate that declines."""

from __future__ import annotations

import calendar
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from dashboard.metrics.core import Health, Number, _value, ratio
from dashboard.metrics.earned import index_health

# --- §7 Enrollment health ---------------------------------------------------------------------


def enrollment_health(
    enrolled: Number | None,
    planned_to_date: Number | None,
    *,
    green: float = 0.9,
    amber: float = 0.75,
) -> Health:
    """Return the colour of enrolled ÷ planned-to-date: grey before enrollment is planned or if unknown."""
    return index_health(ratio(enrolled, planned_to_date), green=green, amber=amber)


def probability_health(p: Number | None, *, green: float = 0.8, amber: float = 0.5) -> Health:
    """Return the colour of the forecast probability of meeting the planned LPI: grey when there is none."""
    return index_health(p, green=green, amber=amber)


# --- §2 Enrollment against plan ---------------------------------------------------------------


def share_of_month(day: date) -> float:
    """Return the share of `day`'s month that has passed by the end of `day`: 1/31 on 1 January, 1 on its last day.

    A plan held per month (enrollment, planned spend) accrues by day within the month by this share, so a
    figure "to date" never jumps at a month start (domain.md §2, §5).
    """
    return day.day / calendar.monthrange(day.year, day.month)[1]


def planned_to_date(previous_month_end: Number, current_month_end: Number, as_of: date) -> float:
    """Return the baseline cumulative plan on `as_of`, linear between the ends of the previous and current month."""
    previous, current = float(previous_month_end), float(current_month_end)
    return previous + (current - previous) * share_of_month(as_of)


DAYS_PER_MONTH = 365.25 / 12


def rate_per_site_month(enrolled: Number | None, site_days_open: Number | None) -> float | None:
    """Return enrolled ÷ site-months open (domain.md §2): None when no site has been open."""
    months = _value(site_days_open)
    return ratio(enrolled, None if months is None else months / DAYS_PER_MONTH)


def is_non_enrolling(days_open: Number | None, enrolled: Number | None, *, min_days: int = 60) -> bool:
    """Return whether a site has been active at least `min_days` with nobody enrolled (domain.md §2)."""
    days, count = _value(days_open), _value(enrolled)
    return days is not None and count is not None and days >= min_days and count == 0


@dataclass(frozen=True)
class ActivationCheck:
    """On-time site activation at one point of the plan: actual ÷ planned sites active on the date the plan reaches `share`."""

    share: float
    plan_date: date
    n_planned: int
    n_activated: int
    on_time: float | None


def on_time_activation(
    planned_dates: Iterable[date | None],
    activated_dates: Iterable[date | None],
    n_planned_sites: int,
    as_of: date,
    *,
    shares: tuple[float, ...] = (0.25, 0.5, 0.75),
) -> list[ActivationCheck]:
    """Return, for each share of planned sites the plan reached by as_of, actual activated ÷ planned by that date (MCC style)."""
    planned = sorted(d for d in planned_dates if d is not None)
    activated = [d for d in activated_dates if d is not None and d <= as_of]
    checks = []
    for share in shares:
        needed = math.ceil(share * n_planned_sites)
        if needed < 1 or needed > len(planned) or planned[needed - 1] > as_of:
            continue
        plan_date = planned[needed - 1]
        n_planned = sum(d <= plan_date for d in planned)
        n_activated = sum(d <= plan_date for d in activated)
        checks.append(ActivationCheck(share, plan_date, n_planned, n_activated, ratio(n_activated, n_planned)))
    return checks


def planned_rate_per_site_day(
    target: Number, planned_activation_dates: Iterable[date | None], planned_lpi: date | None
) -> float | None:
    """Return the plan's own enrollment rate: target ÷ the site-days the plan keeps sites open before planned LPI."""
    if planned_lpi is None:
        return None
    site_days = sum(max((planned_lpi - d).days, 0) for d in planned_activation_dates if d is not None)
    return ratio(target, site_days)


# A rate change is a decline when the last window's rate is at least this much below the first's, and a drop as large
# would come by chance with less than this probability.
DECLINE_AT_LEAST = 0.2
DECLINE_P_VALUE = 0.05


@dataclass(frozen=True)
class RateChange:
    """A trial's enrollment rate per open site-month in its first and in its last `window_days` (domain.md §3): the
    last window ends on the as-of date, the first starts on the first site's activation."""

    first_rate: float  # subjects per site-month
    last_rate: float
    change: float  # last ÷ first − 1: −0.4 when the last window's rate is 40 % below the first's
    p_value: float  # one-sided: the chance of a drop at least this large if the rate had not changed
    window_days: int

    def declining(self) -> bool:
        """Whether the data show a decline: DECLINE_AT_LEAST below or more, and unlikely by chance (p < DECLINE_P_VALUE)."""
        return self.change <= -DECLINE_AT_LEAST and self.p_value < DECLINE_P_VALUE


def rate_change(
    sites: pd.DataFrame, history: pd.DataFrame, window_days: int = 91, min_first: int = 5
) -> RateChange | None:
    """Compare a trial's enrollment rate per open site-month in its first and last `window_days`.

    `sites` are enrollment.forecast_inputs rows (days_open, days_since_closed; sites yet to open are left out),
    `history` enrollment.enrollment_history rows (`site` the row of `sites` by position, days_before). None when the
    windows would overlap (less than two windows since the first activation), when either has no site open, or when
    the first window has fewer than `min_first` enrolled (too few to compare).
    """
    from scipy import stats

    opened = sites["days_open"].to_numpy(dtype=float) > 0
    closed_ago = (
        sites["days_since_closed"].to_numpy(dtype=float, na_value=np.nan)
        if "days_since_closed" in sites.columns
        else np.full(len(sites), np.nan)
    )
    closed_ago = np.nan_to_num(closed_ago, nan=0.0)
    # Each site's open span in days before as_of: from its closing (0 while open) back to its activation.
    until = closed_ago[opened]
    since = until + sites["days_open"].to_numpy(dtype=float)[opened]
    if since.size == 0 or since.max() < 2 * window_days:
        return None
    first_lo, first_hi = since.max() - window_days, since.max()

    def exposure(lo: float, hi: float) -> float:
        return float(np.clip(np.minimum(since, hi) - np.maximum(until, lo), 0, None).sum()) / DAYS_PER_MONTH

    before = history["days_before"].to_numpy(dtype=float)
    n_first = int(np.sum((before > first_lo) & (before <= first_hi)))
    n_last = int(np.sum(before < window_days))
    e_first, e_last = exposure(first_lo, first_hi), exposure(0.0, window_days)
    if e_first <= 0 or e_last <= 0 or n_first < min_first:
        return None
    first_rate, last_rate = n_first / e_first, n_last / e_last
    p_value = float(stats.binom.cdf(n_last, n_first + n_last, e_last / (e_first + e_last)))
    return RateChange(first_rate, last_rate, last_rate / first_rate - 1.0, p_value, window_days)
