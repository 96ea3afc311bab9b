"""Vendor milestone queries: each milestone with its dates as known on the scope's as-of date (domain.md §6)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import pandas as pd
from sqlalchemy import ColumnElement, Connection, FromClause, and_, case, func, literal, or_, select

from dashboard.access import Scope
from dashboard.health import LPI_CODE
from dashboard.schema import milestone, milestone_forecast, sponsor, trial, vendor
from queries.common import as_date, days_between, frame, scoped_trial_ids
from queries.enrollment import target_reached


@dataclass(frozen=True)
class _ForecastOn:
    """A milestone's forecast as recorded on a day: its date and when it was recorded (NULL when none yet)."""

    forecast_date: ColumnElement
    recorded_date: ColumnElement


def _forecast_on(day: date, of: FromClause = milestone) -> _ForecastOn:
    """Each milestone's (of `of`) forecast as recorded on `day`: the last value recorded on or before it.

    Correlated lookups by (milestone_id, recorded_date), the history's key: a join to a grouped
    subquery made SQLite scan the whole history once per milestone (seconds for a large portfolio).
    """
    history = milestone_forecast.alias()
    recorded = (
        select(func.max(history.c.recorded_date))
        .where(history.c.milestone_id == of.c.milestone_id, history.c.recorded_date <= day)
        .scalar_subquery()
    )
    # One level of correlation only (to `of`), ordered by the key's index.
    latest = milestone_forecast.alias()
    forecast_date = (
        select(latest.c.forecast_date)
        .where(latest.c.milestone_id == of.c.milestone_id, latest.c.recorded_date <= day)
        .order_by(latest.c.recorded_date.desc())
        .limit(1)
        .scalar_subquery()
    )
    return _ForecastOn(forecast_date, recorded)


def reached(scope: Scope):
    """The day each scoped trial's enrollment reached its target (a subquery to outer-join on trial_id)."""
    return target_reached(scoped_trial_ids(scope))


def _done_by(day: date, target, of: FromClause):
    """How a milestone (of `of`) is done by `day`, first match wins: (condition, actual date, where it comes from)."""
    return (
        (of.c.actual_date <= day, of.c.actual_date, "recorded"),
        (
            and_(of.c.milestone_code == LPI_CODE, target.c.target_reached_date <= day),
            target.c.target_reached_date,
            "enrollment",
        ),
    )


def actual_on(day: date, target, of: FromClause = milestone):
    """The milestone's (of `of`) actual date if it was done by `day`: as recorded (a later actual had not happened
    yet) or, for the last patient in, the day enrollment reached its target (`target`: the subquery of `reached`,
    outer-joined on trial_id) by then, recorded or not (domain.md §7)."""
    return case(*((condition, when) for condition, when, _ in _done_by(day, target, of)), else_=None)


def actual_source(day: date, target, of: FromClause = milestone):
    """Where the actual of actual_on comes from: "recorded", "enrollment" (the enrollment data), or NULL when not done."""
    return case(*((condition, literal(source)) for condition, _, source in _done_by(day, target, of)), else_=None)


def milestones(conn: Connection, scope: Scope) -> pd.DataFrame:
    """One row per milestone in scope: baseline, the forecast last recorded ≤ as_of, the actual if ≤ as_of."""
    as_of = scope.as_of
    forecast = _forecast_on(as_of)
    done_by = reached(scope)
    precedes = milestone.alias("precedes")
    query = (
        select(
            trial.c.protocol_number,
            vendor.c.vendor_code,
            vendor.c.vendor_name,
            vendor.c.vendor_kind,
            milestone.c.lane,
            milestone.c.milestone_code,
            milestone.c.milestone_name,
            milestone.c.milestone_kind,
            milestone.c.sequence,
            milestone.c.is_key,
            milestone.c.baseline_date,
            forecast.forecast_date.label("forecast_date"),
            forecast.recorded_date.label("forecast_recorded_date"),
            actual_on(as_of, done_by).label("actual_date"),
            actual_source(as_of, done_by).label("actual_source"),
            milestone.c.payment_amount,
            precedes.c.milestone_code.label("precedes_code"),
            milestone.c.lead_time_days,
        )
        .select_from(
            milestone.join(trial, trial.c.trial_id == milestone.c.trial_id)
            .join(vendor, vendor.c.vendor_id == milestone.c.vendor_id)
            .outerjoin(precedes, precedes.c.milestone_id == milestone.c.precedes_milestone_id)
            .outerjoin(done_by, done_by.c.trial_id == milestone.c.trial_id)
        )
        .where(milestone.c.trial_id.in_(scoped_trial_ids(scope)))
        .order_by(trial.c.protocol_number, milestone.c.lane, milestone.c.sequence)
    )
    return frame(
        conn,
        query,
        {
            "sequence": "int",
            "is_key": "bool",
            "baseline_date": "date",
            "forecast_date": "date",
            "forecast_recorded_date": "date",
            "actual_date": "date",
            "actual_source": "str",
            "payment_amount": "float",
            "lead_time_days": "int",
        },
    )


def forecast_history(conn: Connection, scope: Scope) -> pd.DataFrame:
    """One row per forecast recorded ≤ as_of for a milestone in scope, oldest first."""
    query = (
        select(
            trial.c.protocol_number,
            milestone.c.lane,
            milestone.c.milestone_code,
            milestone.c.milestone_name,
            milestone.c.baseline_date,
            milestone_forecast.c.recorded_date,
            milestone_forecast.c.forecast_date,
        )
        .select_from(
            milestone_forecast.join(milestone, milestone.c.milestone_id == milestone_forecast.c.milestone_id).join(
                trial, trial.c.trial_id == milestone.c.trial_id
            )
        )
        .where(milestone.c.trial_id.in_(scoped_trial_ids(scope)), milestone_forecast.c.recorded_date <= scope.as_of)
        .order_by(trial.c.protocol_number, milestone.c.lane, milestone.c.sequence, milestone_forecast.c.recorded_date)
    )
    return frame(conn, query, {"baseline_date": "date", "recorded_date": "date", "forecast_date": "date"})


def forecast_changes(conn: Connection, scope: Scope) -> pd.DataFrame:
    """One row per open milestone in scope whose expected date as recorded on as_of differs from that on `since`.

    The expected date is the forecast as recorded on the day, or the baseline when none had been recorded yet.
    """
    as_of, since = scope.as_of, scope.since
    done_by = reached(scope)
    new, old = _forecast_on(as_of), _forecast_on(since)
    new_date = func.coalesce(new.forecast_date, milestone.c.baseline_date)
    old_date = func.coalesce(old.forecast_date, milestone.c.baseline_date)
    query = (
        select(
            trial.c.protocol_number,
            vendor.c.vendor_code,
            vendor.c.vendor_name,
            milestone.c.lane,
            milestone.c.milestone_code,
            milestone.c.milestone_name,
            milestone.c.baseline_date,
            old_date.label("old_forecast_date"),
            new_date.label("new_forecast_date"),
            new.recorded_date.label("recorded_date"),
            days_between(new_date, old_date).label("days_moved"),
        )
        .select_from(
            milestone.join(trial, trial.c.trial_id == milestone.c.trial_id)
            .join(vendor, vendor.c.vendor_id == milestone.c.vendor_id)
            .outerjoin(done_by, done_by.c.trial_id == milestone.c.trial_id)
        )
        .where(
            milestone.c.trial_id.in_(scoped_trial_ids(scope)),
            # A milestone done by `since` no longer moves; one done since then moved to its actual date.
            actual_on(since, done_by).is_(None),
            new_date != old_date,
        )
        .order_by(
            func.abs(days_between(new_date, old_date)).desc(),
            trial.c.protocol_number,
            milestone.c.lane,
            milestone.c.sequence,
        )
    )
    return frame(
        conn,
        query,
        {
            "baseline_date": "date",
            "old_forecast_date": "date",
            "new_forecast_date": "date",
            "recorded_date": "date",
            "days_moved": "int",
        },
    )


def supply_links(conn: Connection, scope: Scope) -> pd.DataFrame:
    """One row per supply milestone in scope that must precede a clinical one: both milestones' dates as of as_of.

    Each date is the actual if done by as_of, else the forecast recorded by then, else the baseline.
    """
    as_of = scope.as_of
    done_by = reached(scope)
    clinical = milestone.alias("clinical")
    supply_forecast, clinical_forecast = _forecast_on(as_of), _forecast_on(as_of, clinical)
    supply_vendor, clinical_vendor = vendor.alias("supply_vendor"), vendor.alias("clinical_vendor")
    query = (
        select(
            trial.c.protocol_number,
            milestone.c.milestone_code.label("supply_code"),
            milestone.c.milestone_name.label("supply_name"),
            supply_vendor.c.vendor_name.label("supply_vendor_name"),
            milestone.c.baseline_date.label("supply_baseline_date"),
            func.coalesce(actual_on(as_of, done_by), supply_forecast.forecast_date, milestone.c.baseline_date).label(
                "supply_date"
            ),
            actual_on(as_of, done_by).is_not(None).label("is_supply_done"),
            clinical.c.milestone_code.label("clinical_code"),
            clinical.c.milestone_name.label("clinical_name"),
            clinical_vendor.c.vendor_name.label("clinical_vendor_name"),
            clinical.c.baseline_date.label("clinical_baseline_date"),
            func.coalesce(
                actual_on(as_of, done_by, clinical), clinical_forecast.forecast_date, clinical.c.baseline_date
            ).label("clinical_date"),
            actual_on(as_of, done_by, clinical).is_not(None).label("is_clinical_done"),
            milestone.c.lead_time_days,
        )
        .select_from(
            # Both ends in the same trial: a link to another trial's milestone would show it outside the scope.
            milestone.join(
                clinical,
                (clinical.c.milestone_id == milestone.c.precedes_milestone_id)
                & (clinical.c.trial_id == milestone.c.trial_id),
            )
            .join(trial, trial.c.trial_id == milestone.c.trial_id)
            .join(supply_vendor, supply_vendor.c.vendor_id == milestone.c.vendor_id)
            .join(clinical_vendor, clinical_vendor.c.vendor_id == clinical.c.vendor_id)
            .outerjoin(done_by, done_by.c.trial_id == milestone.c.trial_id)
        )
        .where(milestone.c.trial_id.in_(scoped_trial_ids(scope)))
        .order_by(trial.c.protocol_number, milestone.c.sequence)
    )
    df = frame(
        conn,
        query,
        {
            "supply_baseline_date": "date",
            "supply_date": "date",
            "clinical_baseline_date": "date",
            "clinical_date": "date",
            "lead_time_days": "int",
        },
    )
    # A comparison with an empty actual is empty: not done.
    for column in ("is_supply_done", "is_clinical_done"):
        df[column] = pd.array(
            [bool(v) if v is not None and not pd.isna(v) else False for v in df[column]], dtype="bool"
        )
    return df


def vendor_scorecard(conn: Connection, scope: Scope, tolerance_days: int = 0) -> pd.DataFrame:
    """One row per vendor with contracted milestones in the scope's trials: counts, slips and payments as of as_of.

    Only the scope's trials count (vendors work for several sponsors). Slip is that of domain.md §6 (as
    metrics.milestone_status computes it); on time = done with actual ≤ baseline + tolerance_days. Due in
    N days: open, not overdue, expected (forecast, else baseline) within N days. Payments due: fees of open
    milestones overdue or expected within 90 days, summed only when the vendor's trials in scope share one
    reporting currency (else empty).
    """
    as_of = scope.as_of
    d = as_date(as_of)
    done_by = reached(scope)
    actual = actual_on(as_of, done_by)
    fc = _forecast_on(as_of).forecast_date
    base = milestone.c.baseline_date
    expected = func.coalesce(fc, base)
    is_done = actual.is_not(None)
    is_open = actual.is_(None)
    slip = case(
        (is_done, days_between(actual, base)),
        (base >= d, func.coalesce(days_between(fc, base), literal(0))),
        else_=days_between(case((fc > d, fc), else_=d), base),
    )
    per_milestone = (
        select(
            milestone.c.vendor_id,
            milestone.c.trial_id,
            sponsor.c.reporting_currency,
            milestone.c.payment_amount,
            case((is_done, 1), else_=0).label("is_done"),
            case((and_(is_done, days_between(actual, base) <= tolerance_days), 1), else_=0).label("is_on_time"),
            case((and_(is_open, base < d), 1), else_=0).label("is_overdue"),
            slip.label("slip_days"),
            *(
                case((and_(is_open, base >= d, expected <= as_date(as_of + timedelta(days=n))), 1), else_=0).label(
                    f"is_due_{n}"
                )
                for n in (30, 60, 90)
            ),
            # Fees of open milestones overdue (whenever their forecast now says) or expected within 90 days.
            case(
                (
                    and_(is_open, or_(base < d, expected <= as_date(as_of + timedelta(days=90)))),
                    milestone.c.payment_amount,
                ),
                else_=0,
            ).label("payment_due_amount"),
        )
        .select_from(
            milestone.join(trial, trial.c.trial_id == milestone.c.trial_id)
            .join(sponsor, sponsor.c.sponsor_id == trial.c.sponsor_id)
            .outerjoin(done_by, done_by.c.trial_id == milestone.c.trial_id)
        )
        .where(milestone.c.trial_id.in_(scoped_trial_ids(scope)), milestone.c.milestone_kind == "contract")
        .subquery("per_milestone")
    )
    m = per_milestone.c
    single_currency = func.count(func.distinct(m.reporting_currency)) == 1
    query = (
        select(
            vendor.c.vendor_code,
            vendor.c.vendor_name,
            vendor.c.vendor_kind,
            func.count(func.distinct(m.trial_id)).label("n_trials"),
            func.count().label("n_milestones"),
            func.sum(m.is_done).label("n_done"),
            func.sum(m.is_on_time).label("n_done_on_time"),
            func.avg(m.slip_days).label("mean_slip_days"),
            func.max(m.slip_days).label("worst_slip_days"),
            func.sum(m.is_overdue).label("n_overdue"),
            func.sum(m.is_due_30).label("n_due_30"),
            func.sum(m.is_due_60).label("n_due_60"),
            func.sum(m.is_due_90).label("n_due_90"),
            case((single_currency, func.sum(m.payment_due_amount)), else_=None).label("payments_due_amount"),
            case((single_currency, func.min(m.reporting_currency)), else_=None).label("reporting_currency"),
        )
        .select_from(per_milestone.join(vendor, vendor.c.vendor_id == m.vendor_id))
        .group_by(vendor.c.vendor_code, vendor.c.vendor_name, vendor.c.vendor_kind)
        .order_by(vendor.c.vendor_name)
    )
    return frame(
        conn,
        query,
        {
            "n_trials": "int",
            "n_milestones": "int",
            "n_done": "int",
            "n_done_on_time": "int",
            "mean_slip_days": "float",
            "worst_slip_days": "int",
            "n_overdue": "int",
            "n_due_30": "int",
            "n_due_60": "int",
            "n_due_90": "int",
            "payments_due_amount": "float",
            "reporting_currency": "str",
        },
    )


QUERIES = [milestones, forecast_history, forecast_changes, supply_links, vendor_scorecard]
