"""Enrollment queries: subjects against the baseline plan, the screening funnel, sites and forecast inputs (domain.md §2–3)."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import Connection, Select, and_, case, func, literal, or_, select, union_all

from dashboard.access import Scope
from dashboard.schema import country, enrollment_plan, site, subject, trial
from queries.common import as_date, days_between, frame, month_start, scoped_trial_ids


def target_reached(trial_ids: Select):
    """A subquery, one row per trial of `trial_ids` whose enrollment has reached its target: the date it did.

    That date is when the last patient was in (domain.md §7), whatever the LPI milestone records; compare it
    with as_of, since the count on a date only includes subjects enrolled by then.
    """
    ranked = (
        select(
            subject.c.trial_id,
            subject.c.enrolled_date,
            func.row_number()
            .over(partition_by=subject.c.trial_id, order_by=(subject.c.enrolled_date, subject.c.subject_id))
            .label("rank"),
        )
        .where(subject.c.trial_id.in_(trial_ids), subject.c.enrolled_date.is_not(None))
        .subquery("ranked")
    )
    return (
        select(ranked.c.trial_id, ranked.c.enrolled_date.label("target_reached_date"))
        .join(trial, trial.c.trial_id == ranked.c.trial_id)
        .where(ranked.c.rank == trial.c.n_planned_subjects, trial.c.n_planned_subjects > 0)
        .subquery("target_reached")
    )


def enrolled_by_month(conn: Connection, scope: Scope, *, by_country: bool = False) -> pd.DataFrame:
    """One row per trial × month (× country with `by_country`) in which subjects enrolled up to as_of."""
    month = month_start(subject.c.enrolled_date).label("month_date")
    keys = [trial.c.protocol_number, month] + ([country.c.country_code] if by_country else [])
    query = (
        select(*keys, func.count().label("n_enrolled"))
        .select_from(
            subject.join(trial, trial.c.trial_id == subject.c.trial_id)
            .join(site, site.c.site_id == subject.c.site_id)
            .join(country, country.c.country_id == site.c.country_id)
        )
        .where(subject.c.trial_id.in_(scoped_trial_ids(scope)), subject.c.enrolled_date <= scope.as_of)
        .group_by(*keys)
        .order_by(*keys)
    )
    return frame(conn, query, {"month_date": "date", "n_enrolled": "int"})


def plan_by_month(conn: Connection, scope: Scope, *, by_country: bool = False) -> pd.DataFrame:
    """One row per trial × month (× country with `by_country`) of the baseline plan: cumulative planned at month end."""
    keys = [trial.c.protocol_number, enrollment_plan.c.month_date] + ([country.c.country_code] if by_country else [])
    query = (
        select(*keys, func.sum(enrollment_plan.c.n_planned_cumulative).label("n_planned_cumulative"))
        .select_from(
            enrollment_plan.join(trial, trial.c.trial_id == enrollment_plan.c.trial_id).join(
                country, country.c.country_id == enrollment_plan.c.country_id
            )
        )
        .where(enrollment_plan.c.trial_id.in_(scoped_trial_ids(scope)))
        .group_by(*keys)
        .order_by(*keys)
    )
    return frame(conn, query, {"month_date": "date", "n_planned_cumulative": "int"})


def funnel(conn: Connection, scope: Scope) -> pd.DataFrame:
    """One row per trial in scope: screened, screen-failed, outcome known, enrolled, discontinued, completed as of the date."""
    as_of = scope.as_of
    enrolled = subject.c.enrolled_date <= as_of
    failed = subject.c.screen_failed_date <= as_of

    def count(condition):
        return func.sum(case((condition, 1), else_=0))

    query = (
        select(
            trial.c.protocol_number,
            count(subject.c.screened_date <= as_of).label("n_screened"),
            count(failed).label("n_screen_failed"),
            count(or_(failed, enrolled)).label("n_outcome_known"),
            count(enrolled).label("n_enrolled"),
            count(and_(enrolled, subject.c.discontinued_date <= as_of)).label("n_discontinued"),
            count(and_(enrolled, subject.c.completed_date <= as_of)).label("n_completed"),
        )
        .select_from(subject.join(trial, trial.c.trial_id == subject.c.trial_id))
        .where(subject.c.trial_id.in_(scoped_trial_ids(scope)))
        .group_by(trial.c.protocol_number)
        .order_by(trial.c.protocol_number)
    )
    counts = ("n_screened", "n_screen_failed", "n_outcome_known", "n_enrolled", "n_discontinued", "n_completed")
    return frame(conn, query, {name: "int" for name in counts})


def _site_subjects(scope: Scope):
    as_of = scope.as_of
    return (
        select(
            subject.c.site_id,
            func.sum(case((subject.c.screened_date <= as_of, 1), else_=0)).label("n_screened"),
            func.sum(case((subject.c.enrolled_date <= as_of, 1), else_=0)).label("n_enrolled"),
            func.min(case((subject.c.enrolled_date <= as_of, subject.c.enrolled_date))).label("first_enrolled_date"),
        )
        .where(subject.c.trial_id.in_(scoped_trial_ids(scope)))
        .group_by(subject.c.site_id)
        .subquery("site_subjects")
    )


def sites(conn: Connection, scope: Scope) -> pd.DataFrame:
    """One row per site in scope: country, dates as known on as_of, subjects, and activation cycle times in days."""
    as_of = scope.as_of
    subjects = _site_subjects(scope)
    activated = case((site.c.activated_date <= as_of, site.c.activated_date))
    closed = case((site.c.closed_date <= as_of, site.c.closed_date))
    selected = case((site.c.selected_date <= as_of, site.c.selected_date))
    open_until = case((closed.is_not(None), closed), else_=as_date(as_of))
    query = (
        select(
            trial.c.protocol_number,
            site.c.site_number,
            site.c.site_name,
            country.c.country_code,
            country.c.country_name,
            case(
                (closed.is_not(None), "closed"),
                (activated.is_not(None), "active"),
                (selected.is_not(None), "selected"),
                else_="planned",
            ).label("site_status"),
            selected.label("selected_date"),
            site.c.planned_activation_date,
            activated.label("activated_date"),
            closed.label("closed_date"),
            site.c.n_planned_subjects,
            func.coalesce(subjects.c.n_screened, 0).label("n_screened"),
            func.coalesce(subjects.c.n_enrolled, 0).label("n_enrolled"),
            subjects.c.first_enrolled_date,
            days_between(activated, selected).label("days_selected_to_activated"),
            days_between(subjects.c.first_enrolled_date, activated).label("days_activated_to_first_subject"),
            case((activated.is_not(None), days_between(open_until, activated))).label("days_open"),
        )
        .select_from(
            site.join(trial, trial.c.trial_id == site.c.trial_id)
            .join(country, country.c.country_id == site.c.country_id)
            .outerjoin(subjects, subjects.c.site_id == site.c.site_id)
        )
        .where(site.c.trial_id.in_(scoped_trial_ids(scope)))
        .order_by(trial.c.protocol_number, site.c.site_number)
    )
    dtypes = {
        "selected_date": "date",
        "planned_activation_date": "date",
        "activated_date": "date",
        "closed_date": "date",
        "first_enrolled_date": "date",
        "n_planned_subjects": "int",
        "n_screened": "int",
        "n_enrolled": "int",
        "days_selected_to_activated": "float",
        "days_activated_to_first_subject": "float",
        "days_open": "float",
    }
    return frame(conn, query, dtypes)


def _forecast_sites(scope: Scope):
    """The sites a forecast counts: active by as_of, or planned to open and not closed by then."""
    as_of = scope.as_of
    is_active = site.c.activated_date <= as_of
    opens_on = func.coalesce(site.c.planned_activation_date, site.c.activated_date)
    return and_(
        site.c.trial_id.in_(scoped_trial_ids(scope)),
        or_(is_active, and_(opens_on.is_not(None), or_(site.c.closed_date.is_(None), site.c.closed_date > as_of))),
    )


def forecast_inputs(conn: Connection, scope: Scope) -> pd.DataFrame:
    """One row per site that is or will be open: enrolled, days open, days until it opens, closed and days since it
    closed — the forecast's input."""
    as_of = scope.as_of
    subjects = _site_subjects(scope)
    is_active = site.c.activated_date <= as_of
    is_closed = and_(is_active, site.c.closed_date <= as_of)
    open_until = case((is_closed, site.c.closed_date), else_=as_date(as_of))
    # A site not yet active opens on its planned date, or now if that date has passed.
    opens_on = func.coalesce(site.c.planned_activation_date, site.c.activated_date)
    opens_in = case(
        (days_between(opens_on, as_date(as_of)) > 0, days_between(opens_on, as_date(as_of))), else_=literal(0.0)
    )
    query = (
        select(
            trial.c.protocol_number,
            site.c.site_number,
            func.coalesce(subjects.c.n_enrolled, 0).label("enrolled"),
            case((is_active, days_between(open_until, site.c.activated_date)), else_=literal(0.0)).label("days_open"),
            case((is_active, None), else_=opens_in).label("opens_in_days"),
            case((is_closed, True), else_=False).label("is_closed"),
            case((is_closed, days_between(as_date(as_of), site.c.closed_date)), else_=None).label("days_since_closed"),
        )
        .select_from(
            site.join(trial, trial.c.trial_id == site.c.trial_id).outerjoin(
                subjects, subjects.c.site_id == site.c.site_id
            )
        )
        .where(_forecast_sites(scope))
        .order_by(trial.c.protocol_number, site.c.site_number)
    )
    return frame(
        conn,
        query,
        {
            "enrolled": "int",
            "days_open": "float",
            "opens_in_days": "float",
            "is_closed": "bool",
            "days_since_closed": "float",
        },
    )


def enrollment_history(conn: Connection, scope: Scope) -> pd.DataFrame:
    """One row per subject enrolled by as_of at a site of forecast_inputs: its site and days from enrollment to as_of
    (the forecast's `history`: when each of the sites' enrolled came in)."""
    as_of = scope.as_of
    query = (
        select(
            trial.c.protocol_number,
            site.c.site_number,
            days_between(as_date(as_of), subject.c.enrolled_date).label("days_before"),
        )
        .select_from(
            subject.join(site, site.c.site_id == subject.c.site_id).join(trial, trial.c.trial_id == site.c.trial_id)
        )
        .where(
            _forecast_sites(scope), subject.c.trial_id.in_(scoped_trial_ids(scope)), subject.c.enrolled_date <= as_of
        )
        .order_by(trial.c.protocol_number, site.c.site_number, subject.c.enrolled_date)
    )
    return frame(conn, query, {"days_before": "float"})


def activation_by_month(conn: Connection, scope: Scope) -> pd.DataFrame:
    """One row per trial × month: sites planned to activate in the month (baseline) and sites activated (up to as_of)."""
    trials = scoped_trial_ids(scope)
    planned = select(
        site.c.trial_id,
        month_start(site.c.planned_activation_date).label("month_date"),
        literal(1).label("n_planned"),
        literal(0).label("n_activated"),
    ).where(site.c.trial_id.in_(trials), site.c.planned_activation_date.is_not(None))
    actual = select(
        site.c.trial_id,
        month_start(site.c.activated_date).label("month_date"),
        literal(0).label("n_planned"),
        literal(1).label("n_activated"),
    ).where(site.c.trial_id.in_(trials), site.c.activated_date <= scope.as_of)
    events = union_all(planned, actual).subquery("events")
    query = (
        select(
            trial.c.protocol_number,
            events.c.month_date,
            func.sum(events.c.n_planned).label("n_planned"),
            func.sum(events.c.n_activated).label("n_activated"),
        )
        .select_from(events.join(trial, trial.c.trial_id == events.c.trial_id))
        .group_by(trial.c.protocol_number, events.c.month_date)
        .order_by(trial.c.protocol_number, events.c.month_date)
    )
    return frame(conn, query, {"month_date": "date", "n_planned": "int", "n_activated": "int"})


QUERIES = [enrolled_by_month, plan_by_month, funnel, sites, forecast_inputs, activation_by_month]
