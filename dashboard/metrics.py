"""Formulas of domain.md §5–§7: earned value, milestone slip and status, health colours.

Pure functions on plain numbers and dates. Amounts may be int, float, Decimal or None; a missing
amount (None or NaN) is missing, never zero, and any figure derived from it is None. A ratio
whose denominator is zero is None too (shown as "—"), never an exception or an infinity.
"""

from __future__ import annotations

import calendar
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Literal

import numpy as np
import pandas as pd

Number = int | float | Decimal

Health = Literal["green", "amber", "red", "grey"]

# Rank of each colour when taking the worst; iterating gives the colours from best to worst.
HEALTH_ORDER: dict[Health, int] = {"grey": 0, "green": 1, "amber": 2, "red": 3}

# Colour is never shown alone (colour-blind readers, black-and-white printouts): domain.md §7.
HEALTH_WORD: dict[Health, str] = {"green": "On track", "amber": "Watch", "red": "At risk", "grey": "No data"}
HEALTH_ICON: dict[Health, str] = {"green": "🟢", "amber": "🟡", "red": "🔴", "grey": "⚪"}
HEALTH_LABEL: dict[Health, str] = {h: f"{HEALTH_ICON[h]} {HEALTH_WORD[h]}" for h in HEALTH_WORD}


def _value(x: Number | None) -> float | None:
    """Return x as a float, or None when it is missing (None, NaN or pandas' NA)."""
    if x is None or x is pd.NA:
        return None
    value = float(x)
    return None if math.isnan(value) else value


def _minus(a: float | None, b: float | None) -> float | None:
    """Return a − b, or None when either is missing."""
    return None if a is None or b is None else a - b


def _plus(a: float | None, b: float | None) -> float | None:
    """Return a + b, or None when either is missing."""
    return None if a is None or b is None else a + b


def ratio(numerator: Number | None, denominator: Number | None) -> float | None:
    """Return numerator ÷ denominator, or None when either is missing or the denominator is 0."""
    n, d = _value(numerator), _value(denominator)
    if n is None or d is None or d == 0:
        return None
    return n / d


def worst_health(*healths: Health) -> Health:
    """Return the worst colour given (red > amber > green); grey only if all are grey or none given."""
    for health in healths:
        if health not in HEALTH_ORDER:
            raise ValueError(f"unknown health colour: {health!r}")
    return max(healths, key=HEALTH_ORDER.__getitem__, default="grey")


# --- §5 Budget burn: earned value -------------------------------------------------------------


@dataclass(frozen=True)
class EarnedValue:
    """Earned-value figures of one budget (domain.md §5); None where a figure is undefined."""

    bac: float | None
    pv: float | None
    ev: float | None
    ac: float | None
    cv: float | None
    sv: float | None
    cpi: float | None
    spi: float | None
    eac: float | None
    eac_atypical: float | None
    etc: float | None
    vac: float | None
    tcpi: float | None
    burn_pct: float | None
    pct_complete: float | None


def earned_value(
    bac: Number | None, pv: Number | None, ev: Number | None, ac: Number | None
) -> EarnedValue:
    """Return the earned-value figures for BAC, PV, EV and AC; burn_pct and pct_complete are fractions."""
    bac_, pv_, ev_, ac_ = _value(bac), _value(pv), _value(ev), _value(ac)
    cpi = ratio(ev_, ac_)
    eac = ratio(bac_, cpi)
    remaining_budget = _minus(bac_, ac_)
    return EarnedValue(
        bac=bac_,
        pv=pv_,
        ev=ev_,
        ac=ac_,
        cv=_minus(ev_, ac_),
        sv=_minus(ev_, pv_),
        cpi=cpi,
        spi=ratio(ev_, pv_),
        eac=eac,
        eac_atypical=_plus(ac_, _minus(bac_, ev_)),
        etc=_minus(eac, ac_),
        vac=_minus(bac_, eac),
        # Once AC ≥ BAC no efficiency can finish within budget: TCPI is undefined, not negative.
        tcpi=ratio(_minus(bac_, ev_), remaining_budget)
        if remaining_budget is not None and remaining_budget > 0
        else None,
        burn_pct=ratio(ac_, bac_),
        pct_complete=ratio(ev_, bac_),
    )


def index_health(index: Number | None, *, green: float = 0.95, amber: float = 0.85) -> Health:
    """Return the colour of a performance index such as CPI or SPI: grey when it is undefined."""
    value = _value(index)
    if value is None:
        return "grey"
    if value >= green:
        return "green"
    if value >= amber:
        return "amber"
    return "red"


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
    slip, status, rag = milestone_status_columns([baseline], [forecast], [actual], as_of, amber_days=amber_days, red_days=red_days)
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
        done, np.where(slip <= amber_days, "done_on_time", "done_late"),
        np.where(upcoming, np.where(slip > amber_days, "at_risk", "on_track"), "late"),
    ).astype(object)
    rag = np.where(slip > red_days, "red", np.where((slip > amber_days) | (status == "late"), "amber", "green")).astype(object)
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
    status = np.where(expired, "expired", np.where(change > 0, "extended", np.where(change == 0, "as_planned", "shortened")))
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


def schedule_health(milestones: Iterable[MilestoneStatus]) -> Health:
    """Return the worst rag among the given milestones, green when there are none."""
    return worst_health("green", *(m.rag for m in milestones))


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


def rate_change(sites: pd.DataFrame, history: pd.DataFrame, window_days: int = 91, min_first: int = 5) -> RateChange | None:
    """Compare a trial's enrollment rate per open site-month in its first and last `window_days`.

    `sites` are enrollment.forecast_inputs rows (days_open, days_since_closed; sites yet to open are left out),
    `history` enrollment.enrollment_history rows (`site` the row of `sites` by position, days_before). None when the
    windows would overlap (less than two windows since the first activation), when either has no site open, or when
    the first window has fewer than `min_first` enrolled (too few to compare).
    """
    from scipy import stats

    opened = sites["days_open"].to_numpy(dtype=float) > 0
    closed_ago = sites["days_since_closed"].to_numpy(dtype=float, na_value=np.nan) if "days_since_closed" in sites.columns \
        else np.full(len(sites), np.nan)
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


# --- §4 Site flags ----------------------------------------------------------------------------

FlagKind = Literal["proportion", "rate"]
BadSide = Literal["high", "low", "both"]


@dataclass(frozen=True)
class SiteIndicator:
    """A flagged site indicator of domain.md §4 and §4a: numerator ÷ denominator columns of queries.sites.site_kpis.

    `bad_side` "both" flags a site on either side (AE and SAE rates: low is under-reporting). `basis`, when set, is
    the site_kpis column saying what the denominator counts for the site's trial (e.g. eCRF pages or visits)."""

    label: str
    kind: FlagKind
    numerator: str
    denominator: str
    bad_side: BadSide
    min_setting: str  # the setting holding its minimum denominator
    scale: float  # multiply the ratio by this to show it
    unit: str
    denominator_label: str
    definition: str = ""
    basis: str | None = None
    safety: bool = False


PER_100_MONTHS = 100 * DAYS_PER_MONTH

SITE_INDICATORS: dict[str, SiteIndicator] = {
    "enrollment_rate": SiteIndicator("Enrollment rate", "rate", "n_enrolled", "days_open", "low", "flag_min_days",
                                     DAYS_PER_MONTH, "per site-month", "Site-days open",
                                     "Subjects enrolled ÷ site-months the site has been open."),
    "screen_failure": SiteIndicator("Screen failure", "proportion", "n_screen_failed", "n_outcome_known", "high",
                                    "flag_min_subjects", 100, "%", "Subjects with a known screening outcome",
                                    "Subjects who failed screening ÷ subjects screened with a known outcome (failed or enrolled)."),
    "dropout": SiteIndicator("Study discontinuation", "proportion", "n_discontinued", "n_enrolled", "high", "flag_min_subjects",
                             100, "%", "Subjects enrolled", "Enrolled subjects who left the study early ÷ subjects enrolled."),
    "treatment_discontinuation": SiteIndicator(
        "Treatment discontinuation", "proportion", "n_treatment_discontinued", "n_enrolled", "high", "flag_min_subjects", 100, "%",
        "Subjects enrolled", "Enrolled subjects who stopped study treatment early (on study or not) ÷ subjects enrolled."),
    "ae_rate": SiteIndicator("AE rate", "rate", "n_ae", "subject_days", "both", "flag_min_days", PER_100_MONTHS,
                             "per 100 subject-months", "Subject-days on study",
                             "Adverse events the site was aware of ÷ subject-months on study (enrolled to completion, "
                             "discontinuation or the as-of date). Low is flagged too: a site far below its peers may be under-reporting.",
                             safety=True),
    "sae_rate": SiteIndicator("SAE rate", "rate", "n_sae", "subject_days", "both", "flag_min_days", PER_100_MONTHS,
                              "per 100 subject-months", "Subject-days on study",
                              "Serious adverse events the site was aware of ÷ subject-months on study; flagged on both sides, "
                              "as the AE rate.", safety=True),
    "deviation_rate": SiteIndicator("Important deviation rate", "rate", "n_important_deviations", "subject_days", "high",
                                    "flag_min_days", PER_100_MONTHS, "per 100 subject-months", "Subject-days on study",
                                    "Important protocol deviations ÷ subject-months on study."),
    "minor_deviation_rate": SiteIndicator("Deviation rate (not important)", "rate", "n_minor_deviations", "subject_days", "high",
                                          "flag_min_days", PER_100_MONTHS, "per 100 subject-months", "Subject-days on study",
                                          "Protocol deviations not classed important ÷ subject-months on study."),
    "abnormal_lab_rate": SiteIndicator("Abnormal lab rate", "proportion", "n_lab_abnormal", "n_lab_results", "high",
                                       "flag_min_lab_results", 100, "% of results grade ≥ 3", "Lab results",
                                       "Laboratory results of grade 3 or higher ÷ laboratory results, at visits done by the date.",
                                       safety=True),
    "entry_lag": SiteIndicator("Late data entry", "proportion", "n_entry_late", "n_entry_units", "high", "flag_min_visits", 100,
                               "% entered > 10 days", "eCRF pages (visits where pages are not loaded)",
                               "eCRF pages entered more than 10 days after the visit, or still not entered 10 days after it, ÷ "
                               "pages of the visits done; per visit where the trial has no page data.", basis="entry_basis"),
    "query_aging": SiteIndicator("Queries open > 30 days", "proportion", "n_queries_open_30d", "n_queries", "high",
                                 "flag_min_queries", 100, "% open > 30 days today", "Queries raised",
                                 "Queries still outstanding on the as-of date and raised more than 30 days before it ÷ queries raised."),
    "outstanding_query_rate": SiteIndicator(
        "Outstanding query rate", "proportion", "n_queries_outstanding_30d", "n_queries", "high", "flag_min_queries", 100,
        "% ever outstanding > 30 days", "Queries raised",
        "Queries outstanding (open or answered, not closed) for more than 30 days at any time up to the date ÷ queries raised "
        "(the risk-monitoring convention)."),
    "query_rate": SiteIndicator("Query rate", "rate", "n_queries", "n_query_base", "high", "flag_min_visits", 100,
                                "per 100 data points (or visits)", "Data points (visits entered where points are not loaded)",
                                "Queries raised ÷ data points entered, per 100; per 100 visits entered where the trial has no "
                                "data-point counts.", basis="query_basis"),
    "data_change_rate": SiteIndicator("Data change rate", "proportion", "n_data_points_changed", "n_data_points", "high",
                                      "flag_min_data_points", 100, "% of data points", "Data points",
                                      "Data points changed after their first entry ÷ data points entered."),
}


def ratios(numerators, denominators) -> pd.Series:
    """ratio for columns: numerator ÷ denominator row by row, NaN where either is missing or the denominator is 0."""
    numerator = pd.to_numeric(pd.Series(numerators), errors="coerce").astype("float64")
    denominator = pd.to_numeric(pd.Series(denominators), errors="coerce").astype("float64")
    return numerator / denominator.where(denominator != 0)


def indicator_values(frame: pd.DataFrame, key: str) -> pd.Series:
    """Each site's (site_kpis rows) value of the indicator `key`, scaled as shown (per site-month, %, …); NaN when its
    denominator is 0 or missing (empty is not zero)."""
    ind = SITE_INDICATORS[key]
    return ratios(frame[ind.numerator], frame[ind.denominator]) * ind.scale


def _terms(frame: pd.DataFrame, key: str) -> tuple[pd.Series, pd.Series]:
    """The indicator's numerator and denominator columns of site_kpis rows, as floats (NaN where missing)."""
    ind = SITE_INDICATORS[key]
    return tuple(pd.to_numeric(frame[c], errors="coerce").astype("float64") for c in (ind.numerator, ind.denominator))


def pooled_value(frame: pd.DataFrame, key: str) -> float | None:
    """The indicator pooled over the given sites (sum of numerators ÷ sum of denominators, scaled): a trial-level figure
    such as a QTL's; None when no site has a denominator (the source is not loaded or nothing happened yet)."""
    numerator, denominator = _terms(frame, key)
    known = denominator.notna() & numerator.notna()
    value = ratio(numerator[known].sum(), denominator[known].sum()) if known.any() else None
    return None if value is None else value * SITE_INDICATORS[key].scale


@dataclass(frozen=True)
class SiteFlag:
    """One site's over-dispersion-adjusted z-score and flag; z is None and the flag grey when it is not eligible.

    `side` is the side of the pool the site is on ("high" or "low"); `withheld` says an eligible site's flag was
    withheld because too few events were observed or expected (`observed`, `expected`)."""

    z: float | None
    flag: Health
    side: str | None = None
    withheld: bool = False
    observed: float | None = None
    expected: float | None = None


@dataclass(frozen=True)
class PeerBaseline:
    """What sites are compared with: the pooled ratio and over-dispersion φ of the eligible sites, and how many there are."""

    pooled: float | None
    phi: float
    n_eligible: int


@dataclass(frozen=True)
class PeerFlags:
    """flag_peer_groups' answer as columns, one entry per site in input order (what a table of thousands of sites
    needs): z (NaN when not eligible), flag, side ("high", "low" or None), withheld, observed and expected events."""

    z: np.ndarray
    flag: np.ndarray
    side: np.ndarray
    withheld: np.ndarray
    observed: np.ndarray
    expected: np.ndarray
    eligible: np.ndarray


def _as_floats(values) -> np.ndarray:
    series = values if isinstance(values, pd.Series) else pd.Series(list(values), dtype="object")
    return pd.to_numeric(series, errors="coerce").astype("float64").to_numpy()


def flag_peer_columns(
    groups: Iterable,
    numerators: Iterable,
    denominators: Iterable,
    *,
    kind: FlagKind,
    bad_side: BadSide,
    min_denominator: float,
    amber: float = 2.0,
    red: float = 3.0,
    min_events: float = 0.0,
) -> tuple[PeerFlags, dict]:
    """Flag each site against the other sites of its group (its trial), all groups at once: domain.md §4.

    Zink et al. 2018, as in gsm: among the eligible sites of a group (denominator at least
    `min_denominator`), the pooled ratio and φ = max(1, mean unadjusted z²); each eligible site's
    z = (ratio − pooled) / sqrt(φ · variance), flagged amber / red beyond `amber` / `red` on the bad side;
    the other sites are grey. `bad_side` "both" flags either side. An eligible site is flagged only when at least
    `min_events` events were observed or are expected at its size under the pooled ratio (pooled × denominator):
    otherwise its flag is withheld (grey, `withheld`), so one event at a tiny site is not red, while a site that
    should have had many events and reported few still is. Returns the flags as columns and each group's PeerBaseline.
    """
    group_values = groups.to_numpy() if isinstance(groups, pd.Series) else np.asarray(list(groups), dtype=object)
    frame = pd.DataFrame({"group": group_values, "num": _as_floats(numerators), "den": _as_floats(denominators)})
    eligible = frame["num"].notna() & frame["den"].notna() & (frame["den"] > 0) & (frame["den"] >= min_denominator)
    kept = frame[eligible]
    sums = kept.groupby("group", sort=False)[["num", "den"]].sum()
    pooled = (sums["num"] / sums["den"]).reindex(frame["group"]).to_numpy()
    den = frame["den"].to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):  # ineligible sites (no or zero denominator) are masked below
        ratio_ = frame["num"].to_numpy() / den
        variance = pooled * (1 - pooled) / den if kind == "proportion" else pooled / den
        # Every eligible site at 0 % (or 100 %): nobody differs from the pool.
        unadjusted = np.where(variance > 0, (ratio_ - pooled) / np.sqrt(np.where(variance > 0, variance, 1.0)), 0.0)
    ok = eligible.to_numpy()
    unadjusted = np.where(ok, unadjusted, np.nan)
    mean_square = pd.Series(unadjusted ** 2).groupby(frame["group"].to_numpy(), sort=False).mean()
    phi = mean_square.clip(lower=1.0).fillna(1.0)
    z = unadjusted / np.sqrt(phi.reindex(frame["group"]).to_numpy())
    bad = z if bad_side == "high" else -z if bad_side == "low" else np.abs(z)
    observed = frame["num"].to_numpy()
    expected = pooled * den
    colour = np.where(bad > red, "red", np.where(bad > amber, "amber", "green")).astype(object)
    withheld = ok & (colour != "green") & (np.fmax(observed, expected) < min_events)
    flag = np.where(~ok | withheld, "grey", colour).astype(object)
    side = np.where(~ok, None, np.where(z > 0, "high", np.where(z < 0, "low", None))).astype(object)
    counts = eligible.groupby(frame["group"].to_numpy(), sort=False).sum()
    pooled_by_group = sums["num"] / sums["den"]
    baselines = {
        group: PeerBaseline(
            pooled=float(pooled_by_group[group]) if counts[group] else None,
            phi=float(phi[group]) if counts[group] else 1.0,
            n_eligible=int(counts[group]),
        )
        for group in counts.index
    }
    return PeerFlags(z, flag, side, withheld, observed, np.where(ok, expected, np.nan), ok), baselines


def flag_peer_groups(groups: Iterable, numerators: Iterable, denominators: Iterable, **options) -> tuple[list[SiteFlag], dict]:
    """flag_peer_columns with one SiteFlag per site (input order) and each group's PeerBaseline."""
    found, baselines = flag_peer_columns(groups, numerators, denominators, **options)
    flags = [
        SiteFlag(z=float(z), flag=f, side=sd, withheld=bool(w), observed=float(o), expected=float(e)) if ok
        else SiteFlag(z=None, flag="grey")
        for ok, z, f, sd, w, o, e in zip(found.eligible, found.z, found.flag, found.side, found.withheld, found.observed,
                                         found.expected)
    ]
    return flags, baselines


def max_abs_z(n_eligible: int) -> float:
    """Return the largest |z| a trial with `n_eligible` sites can reach: φ ≥ z²/N, so |z| ≤ √N."""
    return math.sqrt(max(n_eligible, 0))


def funnel_limits(baseline: PeerBaseline, denominators: Iterable, k: float, *, kind: FlagKind) -> list[tuple[float, float]]:
    """Return (lower, upper) of pooled ± k·sqrt(φ · variance) at each denominator (a funnel plot's limit curves)."""
    limits = []
    for d in denominators:
        spread = k * math.sqrt(baseline.phi * (baseline.pooled * (1 - baseline.pooled) if kind == "proportion" else baseline.pooled) / d)
        lower, upper = baseline.pooled - spread, baseline.pooled + spread
        limits.append((max(lower, 0.0), min(upper, 1.0) if kind == "proportion" else upper))
    return limits
