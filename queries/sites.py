"""Site queries: per-site enrollment, screening, data entry, queries and deviations as of a date, and a country roll-up (domain.md §2, §4)."""

from __future__ import annotations

import pandas as pd
from datetime import timedelta

from sqlalchemy import BigInteger, Connection, Float, and_, case, cast, func, literal, or_, select

from dashboard.access import Scope
from dashboard.rollups import late_cutoff
from dashboard.schema import country, data_query, deviation, site, subject, trial
from queries import enrollment, rollups
from queries.common import as_date, days_between, frame, scoped_trial_ids

QUERY_AGE_DAYS = 30  # a query open longer than this on as_of is old


def _count(condition):
    return func.sum(case((condition, 1), else_=0))


def _subjects(scope: Scope):
    as_of = scope.as_of
    enrolled = subject.c.enrolled_date <= as_of
    failed = subject.c.screen_failed_date <= as_of
    discontinued = case((subject.c.discontinued_date <= as_of, subject.c.discontinued_date))
    completed = case((subject.c.completed_date <= as_of, subject.c.completed_date))
    # On study until the earliest of discontinued, completed and as_of.
    on_study_until = case(
        (and_(discontinued.is_not(None), or_(completed.is_(None), discontinued <= completed)), discontinued),
        (completed.is_not(None), completed),
        else_=as_date(as_of),
    )
    return (
        select(
            subject.c.site_id,
            _count(failed).label("n_screen_failed"),
            _count(or_(failed, enrolled)).label("n_outcome_known"),
            _count(and_(enrolled, subject.c.discontinued_date <= as_of)).label("n_discontinued"),
            func.sum(case((enrolled, days_between(on_study_until, subject.c.enrolled_date)), else_=literal(0.0))).label("subject_days"),
        )
        .where(subject.c.trial_id.in_(scoped_trial_ids(scope)))
        .group_by(subject.c.site_id)
        .subquery("site_subjects")
    )


def _visits(scope: Scope):
    """Per site: visits done, entered and late by as_of, and the mean entry lag (capped) of those entered."""
    as_of = scope.as_of
    counts = rollups.upto(
        {"n_visits": as_of, "n_visits_entered": as_of, "entry_lag_days": as_of, "n_visits_late_prone": late_cutoff(as_of)},
        scoped_trial_ids(scope), name="visit_counts",
    )
    # Visits not yet entered have no lag: they are left out of the mean (and counted as late once overdue).
    mean_lag = cast(counts.c.entry_lag_days, Float) / func.nullif(counts.c.n_visits_entered, 0)
    return select(
        counts.c.site_id,
        counts.c.n_visits,
        counts.c.n_visits_entered,
        counts.c.n_visits_late_prone.label("n_visits_late"),
        mean_lag.label("mean_entry_lag_days"),
    ).subquery("site_visits")


def _queries(scope: Scope):
    """Per site: queries opened by as_of, still open on it, and open for more than QUERY_AGE_DAYS."""
    as_of = scope.as_of
    counts = rollups.upto({"n_queries_opened": as_of, "n_queries_closed": as_of}, scoped_trial_ids(scope), name="query_counts")
    # Open but young: opened within QUERY_AGE_DAYS of as_of and not closed by it (a month of detail, on its index).
    young = (
        select(data_query.c.site_id, func.count().label("n_young"))
        .where(
            data_query.c.trial_id.in_(scoped_trial_ids(scope)),
            data_query.c.opened_date >= as_date(as_of - timedelta(days=QUERY_AGE_DAYS)),
            data_query.c.opened_date <= as_of,
            or_(data_query.c.closed_date.is_(None), data_query.c.closed_date > as_of),
        )
        .group_by(data_query.c.site_id)
        .subquery("young_queries")
    )
    n_open = counts.c.n_queries_opened - counts.c.n_queries_closed
    return (
        select(
            counts.c.site_id,
            counts.c.n_queries_opened.label("n_queries"),
            n_open.label("n_queries_open"),
            (n_open - func.coalesce(young.c.n_young, 0)).label("n_queries_open_30d"),
        )
        .select_from(counts.outerjoin(young, young.c.site_id == counts.c.site_id))
        .subquery("site_queries")
    )


def _median_days_to_close(scope: Scope):
    """Median days from opened to closed of the queries closed by as_of, per site (SQLite has no median).

    From a histogram (site × days to close: how many queries) and running counts over it, which sorts
    far fewer rows than numbering every query: the median is the middle value (odd n) or the mean of
    the middle two (even n), each the smallest number of days whose running count reaches its position.
    """
    days = days_between(data_query.c.closed_date, data_query.c.opened_date)
    histogram = (
        select(data_query.c.site_id, days.label("days"), func.count().label("n_queries"))
        .where(data_query.c.trial_id.in_(scoped_trial_ids(scope)), data_query.c.closed_date <= scope.as_of)
        .group_by(data_query.c.site_id, days)
        .subquery("close_time_histogram")
    )
    per_site = {"partition_by": histogram.c.site_id}
    running = (
        select(
            histogram.c.site_id,
            histogram.c.days,
            cast(func.sum(histogram.c.n_queries).over(**per_site, order_by=histogram.c.days), BigInteger).label("reached"),
            cast(func.sum(histogram.c.n_queries).over(**per_site), BigInteger).label("n"),
        )
        .subquery("close_time_running")
    )

    def value_at(position):
        return func.min(case((running.c.reached >= position, running.c.days)))

    # Integer division on both engines (the counts are cast to integers above).
    median = (value_at((running.c.n + 1) // 2) + value_at((running.c.n + 2) // 2)) / 2.0
    return (
        select(running.c.site_id, median.label("median_days_to_close"))
        .group_by(running.c.site_id)
        .subquery("site_close_times")
    )


def _deviations(scope: Scope):
    return (
        select(
            deviation.c.site_id,
            func.count().label("n_deviations"),
            _count(deviation.c.is_important).label("n_important_deviations"),
        )
        .where(deviation.c.trial_id.in_(scoped_trial_ids(scope)), deviation.c.deviation_date <= scope.as_of)
        .group_by(deviation.c.site_id)
        .subquery("site_deviations")
    )


_COUNTS = (
    "n_screen_failed", "n_outcome_known", "n_discontinued", "n_visits", "n_visits_entered", "n_visits_late",
    "n_queries", "n_queries_open", "n_queries_open_30d", "n_deviations", "n_important_deviations",
)


def _quality(scope: Scope):
    """Per site in scope: the quality counts, zero where the site has no rows (the means and medians stay empty)."""
    parts = {"subjects": _subjects(scope), "visits": _visits(scope), "queries": _queries(scope), "deviations": _deviations(scope)}
    close_times = _median_days_to_close(scope)
    counts = [func.coalesce(part.c[name], 0).label(name) for part in parts.values() for name in _COUNTS if name in part.c]
    joined = site.join(trial, trial.c.trial_id == site.c.trial_id).join(country, country.c.country_id == site.c.country_id)
    for part in (*parts.values(), close_times):
        joined = joined.outerjoin(part, part.c.site_id == site.c.site_id)
    return (
        select(
            trial.c.protocol_number,
            site.c.site_number,
            country.c.country_code,
            country.c.country_name,
            *counts,
            func.coalesce(parts["subjects"].c.subject_days, 0).label("subject_days"),
            parts["visits"].c.mean_entry_lag_days,
            close_times.c.median_days_to_close,
        )
        .select_from(joined)
        .where(site.c.trial_id.in_(scoped_trial_ids(scope)))
    )


_QUALITY_DTYPES = {name: "int" for name in _COUNTS} | {
    "subject_days": "float", "mean_entry_lag_days": "float", "median_days_to_close": "float",
}


def site_kpis(conn: Connection, scope: Scope) -> pd.DataFrame:
    """One row per site in scope: enrollment.sites' columns plus screening, visits, data entry, queries and deviations as of the date."""
    basics = enrollment.sites(conn, scope)
    quality = frame(conn, _quality(scope).order_by(trial.c.protocol_number, site.c.site_number), _QUALITY_DTYPES)
    return basics.merge(quality.drop(columns=["country_code", "country_name"]), on=["protocol_number", "site_number"], how="left")


def by_country(conn: Connection, scope: Scope) -> pd.DataFrame:
    """One row per trial × country with sites in scope: sites, subjects, site- and subject-days, visits, queries, deviations."""
    as_of = scope.as_of
    per_site = _quality(scope).add_columns(
        case((site.c.activated_date <= as_of, 1), else_=0).label("is_activated"),
        case(
            (site.c.activated_date <= as_of,
             days_between(case((site.c.closed_date <= as_of, site.c.closed_date), else_=as_date(as_of)), site.c.activated_date)),
            else_=literal(0.0),
        ).label("days_open"),
        site.c.n_planned_subjects,
        func.coalesce(
            select(func.count()).where(subject.c.site_id == site.c.site_id, subject.c.enrolled_date <= as_of).scalar_subquery(), 0
        ).label("n_enrolled"),
    ).subquery("per_site")
    sums = ("n_enrolled", "n_planned_subjects", "n_visits", "n_visits_late", "n_queries", "n_queries_open_30d",
            "n_important_deviations")
    query = (
        select(
            per_site.c.protocol_number,
            per_site.c.country_code,
            per_site.c.country_name,
            func.count().label("n_sites"),
            func.sum(per_site.c.is_activated).label("n_sites_activated"),
            *[func.sum(per_site.c[name]).label(name) for name in sums],
            func.sum(per_site.c.days_open).label("days_open"),
            func.sum(per_site.c.subject_days).label("subject_days"),
        )
        .group_by(per_site.c.protocol_number, per_site.c.country_code, per_site.c.country_name)
        .order_by(per_site.c.protocol_number, per_site.c.country_code)
    )
    dtypes = {name: "int" for name in ("n_sites", "n_sites_activated", *sums)} | {"days_open": "float", "subject_days": "float"}
    return frame(conn, query, dtypes)


QUERIES = [site_kpis, by_country]
