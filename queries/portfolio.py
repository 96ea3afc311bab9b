"""Portfolio queries: the trials a user may see, one summary row per trial, and data freshness."""

from __future__ import annotations

from datetime import date

import pandas as pd
from sqlalchemy import Connection, and_, case, func, or_, select

from dashboard.access import Scope
from dashboard.schema import enrollment_plan, load_log, site, sponsor, subject, trial
from queries.common import frame, scoped_trial_ids, trial_conditions
from queries.enrollment import target_reached


def _month_start(day: date) -> date:
    return day.replace(day=1)


def _previous_month_start(day: date) -> date:
    first = day.replace(day=1)
    return first.replace(year=first.year - 1, month=12) if first.month == 1 else first.replace(month=first.month - 1)


def trial_options(conn: Connection, scope: Scope) -> pd.DataFrame:
    """One row per trial of the scope's sponsors (whatever the trial, phase and area filters say)."""
    query = (
        select(
            trial.c.protocol_number,
            trial.c.trial_title,
            sponsor.c.sponsor_code,
            trial.c.phase,
            trial.c.therapeutic_area,
        )
        .join(sponsor, sponsor.c.sponsor_id == trial.c.sponsor_id)
        .where(trial.c.sponsor_id.in_(scope.sponsor_ids))
        .order_by(trial.c.protocol_number)
    )
    return frame(conn, query)


def trial_summary(conn: Connection, scope: Scope) -> pd.DataFrame:
    """One row per trial in scope: identity, status, sites active, subjects screened and enrolled, plan to date, and the
    day enrollment reached its target (empty until it has, by as_of)."""
    as_of, since = scope.as_of, scope.since
    trials = scoped_trial_ids(scope)
    sites = (
        select(
            site.c.trial_id,
            func.sum(
                case(
                    (
                        and_(
                            site.c.activated_date <= as_of,
                            or_(site.c.closed_date.is_(None), site.c.closed_date > as_of),
                        ),
                        1,
                    ),
                    else_=0,
                )
            ).label("n_sites_active"),
        )
        .where(site.c.trial_id.in_(trials))
        .group_by(site.c.trial_id)
        .subquery("sites")
    )
    subjects = (
        select(
            subject.c.trial_id,
            func.sum(case((subject.c.screened_date <= as_of, 1), else_=0)).label("n_screened"),
            func.sum(case((subject.c.enrolled_date <= as_of, 1), else_=0)).label("n_enrolled"),
            func.sum(case((and_(subject.c.enrolled_date <= as_of, subject.c.enrolled_date > since), 1), else_=0)).label(
                "n_enrolled_since"
            ),
        )
        .where(subject.c.trial_id.in_(trials))
        .group_by(subject.c.trial_id)
        .subquery("subjects")
    )
    # The plan is cumulative at each month's end; keep, per country, the last value at the end of
    # the previous month and of the current month, so the page can interpolate to the day.
    previous_month, current_month = _previous_month_start(as_of), _month_start(as_of)
    per_country = (
        select(
            enrollment_plan.c.trial_id,
            func.max(
                case((enrollment_plan.c.month_date <= previous_month, enrollment_plan.c.n_planned_cumulative))
            ).label("planned_previous"),
            func.max(enrollment_plan.c.n_planned_cumulative).label("planned_current"),
        )
        .where(enrollment_plan.c.trial_id.in_(trials), enrollment_plan.c.month_date <= current_month)
        .group_by(enrollment_plan.c.trial_id, enrollment_plan.c.country_id)
        .subquery("per_country")
    )
    plan = (
        select(
            per_country.c.trial_id,
            func.sum(func.coalesce(per_country.c.planned_previous, 0)).label("n_planned_previous_month"),
            func.sum(per_country.c.planned_current).label("n_planned_current_month"),
        )
        .group_by(per_country.c.trial_id)
        .subquery("plan")
    )
    reached = target_reached(trials)
    query = (
        select(
            trial.c.protocol_number,
            trial.c.trial_title,
            sponsor.c.sponsor_code,
            sponsor.c.sponsor_name,
            sponsor.c.reporting_currency,
            trial.c.phase,
            trial.c.therapeutic_area,
            trial.c.indication,
            trial.c.trial_status,
            trial.c.n_planned_sites,
            trial.c.n_planned_subjects,
            func.coalesce(sites.c.n_sites_active, 0).label("n_sites_active"),
            func.coalesce(subjects.c.n_screened, 0).label("n_screened"),
            func.coalesce(subjects.c.n_enrolled, 0).label("n_enrolled"),
            func.coalesce(subjects.c.n_enrolled_since, 0).label("n_enrolled_since"),
            func.coalesce(plan.c.n_planned_previous_month, 0).label("n_planned_previous_month"),
            func.coalesce(plan.c.n_planned_current_month, 0).label("n_planned_current_month"),
            case((reached.c.target_reached_date <= as_of, reached.c.target_reached_date)).label("target_reached_date"),
        )
        .select_from(
            trial.join(sponsor, sponsor.c.sponsor_id == trial.c.sponsor_id)
            .outerjoin(sites, sites.c.trial_id == trial.c.trial_id)
            .outerjoin(subjects, subjects.c.trial_id == trial.c.trial_id)
            .outerjoin(plan, plan.c.trial_id == trial.c.trial_id)
            .outerjoin(reached, reached.c.trial_id == trial.c.trial_id)
        )
        .where(*trial_conditions(scope))
        .order_by(trial.c.protocol_number)
    )
    ints = (
        "n_planned_sites",
        "n_planned_subjects",
        "n_sites_active",
        "n_screened",
        "n_enrolled",
        "n_enrolled_since",
        "n_planned_previous_month",
        "n_planned_current_month",
    )
    return frame(conn, query, {**{name: "int" for name in ints}, "target_reached_date": "date"})


def freshness(conn: Connection, scope: Scope) -> pd.DataFrame:
    """One row: when the latest data load finished, or no row before any load.

    Only the time: a load's source name and row count are global (a load may hold several
    sponsors' data), so they are not shown to users scoped to some sponsors.
    """
    query = select(load_log.c.loaded_at).order_by(load_log.c.loaded_at.desc()).limit(1)
    df = frame(conn, query, {})
    df["loaded_at"] = pd.to_datetime(df["loaded_at"]).astype("datetime64[ns]")
    return df


QUERIES = [trial_options, trial_summary, freshness]
