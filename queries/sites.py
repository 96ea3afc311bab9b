"""Site queries: per-site enrollment, screening, data entry, queries, deviations, adverse events and lab and data-point
counts as of a date, and a country roll-up (domain.md §2, §4, §4a).

The optional sources (adverse_event, crf_page, data_point, lab_result) are "no data" (empty), never 0, for a trial
that has none of their rows: `site_kpis` empties their counts, and says per trial which denominator late entry and
the query rate use (eCRF pages or visits; data points or visits entered).
"""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
from sqlalchemy import BigInteger, Connection, Float, and_, case, cast, func, literal, or_, select, union_all

from dashboard.access import Scope
from dashboard.rollups import late_cutoff, late_prone
from dashboard.schema import (
    adverse_event,
    country,
    crf_page,
    data_point,
    data_query,
    deviation,
    lab_result,
    qtl,
    site,
    subject,
    trial,
    visit,
)
from queries import enrollment, rollups
from queries.common import as_date, days_between, frame, scoped_trial_ids

QUERY_AGE_DAYS = 30  # a query open longer than this on as_of is old
SAE_REPORT_DAYS = 1  # an SAE reaches the sponsor on time on the day the site became aware of it or the next (ICH E2A)


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
            _count(and_(enrolled, subject.c.treatment_discontinued_date <= as_of)).label("n_treatment_discontinued"),
            func.sum(case((enrolled, days_between(on_study_until, subject.c.enrolled_date)), else_=literal(0.0))).label(
                "subject_days"
            ),
        )
        .where(subject.c.trial_id.in_(scoped_trial_ids(scope)))
        .group_by(subject.c.site_id)
        .subquery("site_subjects")
    )


def _visits(scope: Scope):
    """Per site: visits done, entered and late by as_of, and the mean entry lag (capped) of those entered."""
    as_of = scope.as_of
    counts = rollups.upto(
        {
            "n_visits": as_of,
            "n_visits_entered": as_of,
            "entry_lag_days": as_of,
            "n_visits_late_prone": late_cutoff(as_of),
        },
        scoped_trial_ids(scope),
        name="visit_counts",
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
    counts = rollups.upto(
        {"n_queries_opened": as_of, "n_queries_closed": as_of}, scoped_trial_ids(scope), name="query_counts"
    )
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
    # Outstanding more than QUERY_AGE_DAYS at some time up to as_of: raised more than that before as_of, and closed
    # (if at all) more than that after it was raised (a query closed after as_of was outstanding on it). Answered:
    # answered by as_of and not closed by it. One scan of the scope's queries for both.
    slow = and_(
        data_query.c.opened_date < as_date(as_of - timedelta(days=QUERY_AGE_DAYS)),
        or_(
            data_query.c.closed_date.is_(None),
            days_between(data_query.c.closed_date, data_query.c.opened_date) > QUERY_AGE_DAYS,
        ),
    )
    answered_now = and_(
        data_query.c.answered_date <= as_of, or_(data_query.c.closed_date.is_(None), data_query.c.closed_date > as_of)
    )
    outstanding = (
        select(data_query.c.site_id, _count(slow).label("n_slow"), _count(answered_now).label("n_answered"))
        .where(data_query.c.trial_id.in_(scoped_trial_ids(scope)), data_query.c.opened_date <= as_of)
        .group_by(data_query.c.site_id)
        .subquery("outstanding_queries")
    )
    n_open = counts.c.n_queries_opened - counts.c.n_queries_closed
    return (
        select(
            counts.c.site_id,
            counts.c.n_queries_opened.label("n_queries"),
            n_open.label("n_queries_open"),
            (n_open - func.coalesce(young.c.n_young, 0)).label("n_queries_open_30d"),
            func.coalesce(outstanding.c.n_slow, 0).label("n_queries_outstanding_30d"),
            func.coalesce(outstanding.c.n_answered, 0).label("n_queries_answered"),
        )
        .select_from(
            counts.outerjoin(young, young.c.site_id == counts.c.site_id).outerjoin(
                outstanding, outstanding.c.site_id == counts.c.site_id
            )
        )
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
    running = select(
        histogram.c.site_id,
        histogram.c.days,
        cast(func.sum(histogram.c.n_queries).over(**per_site, order_by=histogram.c.days), BigInteger).label("reached"),
        cast(func.sum(histogram.c.n_queries).over(**per_site), BigInteger).label("n"),
    ).subquery("close_time_running")

    def value_at(position):
        return func.min(case((running.c.reached >= position, running.c.days)))

    # Integer division on both engines (the counts are cast to integers above).
    median = (value_at((running.c.n + 1) // 2) + value_at((running.c.n + 2) // 2)) / 2.0
    return (
        select(running.c.site_id, median.label("median_days_to_close"))
        .group_by(running.c.site_id)
        .subquery("site_close_times")
    )


def deviation_counted_date():
    """The day a deviation counts from in as-of views: its date, else the day it was identified, else the day it was
    first loaded (docs/data-contract.md), so a view as of a past date does not change when undated rows arrive later."""
    return func.coalesce(deviation.c.deviation_date, deviation.c.identified_date, deviation.c.first_loaded_date)


def _deviations(scope: Scope):
    return (
        select(
            deviation.c.site_id,
            func.count().label("n_deviations"),
            _count(deviation.c.is_important).label("n_important_deviations"),
            _count(deviation.c.deviation_date.is_(None)).label("n_deviations_undated"),
        )
        .where(deviation.c.trial_id.in_(scoped_trial_ids(scope)), deviation_counted_date() <= scope.as_of)
        .group_by(deviation.c.site_id)
        .subquery("site_deviations")
    )


def ae_counted_date():
    """The day an adverse event counts from: the day the site became aware of it, else its onset."""
    return func.coalesce(adverse_event.c.aware_date, adverse_event.c.onset_date)


def _adverse_events(scope: Scope):
    """Per site: AEs and SAEs the site was aware of by as_of, and SAE reporting timeliness (domain.md §4a).

    An SAE is due to the sponsor by SAE_REPORT_DAYS after the site became aware. It counts once it is reported by as_of
    or past due on it: on time when reported within SAE_REPORT_DAYS of awareness, else late (reported later, or not yet
    reported though due). One not yet due and not yet reported is left out.
    """
    return (
        select(subject.c.site_id, *_ae_counts(scope.as_of))
        .select_from(adverse_event.join(subject, subject.c.subject_id == adverse_event.c.subject_id))
        .where(adverse_event.c.trial_id.in_(scoped_trial_ids(scope)), ae_counted_date() <= scope.as_of)
        .group_by(subject.c.site_id)
        .subquery("site_adverse_events")
    )


def _ae_counts(as_of):
    """The AE counts of _adverse_events, over the adverse events counted by as_of (the caller's WHERE)."""
    aware = ae_counted_date()
    serious = adverse_event.c.is_serious
    reported = adverse_event.c.reported_date <= as_of
    on_time = and_(reported, days_between(adverse_event.c.reported_date, aware) <= SAE_REPORT_DAYS)
    past_due = aware < as_date(as_of - timedelta(days=SAE_REPORT_DAYS))
    return (
        func.count().label("n_ae"),
        _count(serious).label("n_sae"),
        _count(and_(serious, or_(reported, past_due))).label("n_sae_due"),
        _count(and_(serious, on_time)).label("n_sae_on_time"),
    )


def safety_by_trial(conn: Connection, scope: Scope) -> pd.DataFrame:
    """One row per trial in scope with adverse-event data (trials without are left out: no data): AEs, SAEs, SAEs due
    to the sponsor and reported on time, as of the date (the per-site counts of site_kpis, summed)."""
    counted = ae_counted_date() <= scope.as_of
    per_trial = (
        select(adverse_event.c.trial_id, *_ae_counts(scope.as_of))
        .where(adverse_event.c.trial_id.in_(scoped_trial_ids(scope)), counted)
        .group_by(adverse_event.c.trial_id)
        .subquery("trial_adverse_events")
    )
    has_data = select(adverse_event.c.trial_id).where(adverse_event.c.trial_id == trial.c.trial_id).exists()
    names = ("n_ae", "n_sae", "n_sae_due", "n_sae_on_time")
    query = (
        select(trial.c.protocol_number, *[func.coalesce(per_trial.c[n], 0).label(n) for n in names])
        .select_from(trial.outerjoin(per_trial, per_trial.c.trial_id == trial.c.trial_id))
        .where(trial.c.trial_id.in_(scoped_trial_ids(scope)), has_data)
        .order_by(trial.c.protocol_number)
    )
    return frame(conn, query, {n: "int" for n in names})


def qtl_limits(conn: Connection, scope: Scope) -> pd.DataFrame:
    """One row per quality tolerance limit of the trials in scope: the figure, its limit and direction."""
    query = (
        select(trial.c.protocol_number, qtl.c.qtl_figure, qtl.c.limit_value, qtl.c.direction)
        .select_from(qtl.join(trial, trial.c.trial_id == qtl.c.trial_id))
        .where(trial.c.trial_id.in_(scoped_trial_ids(scope)))
        .order_by(trial.c.protocol_number, qtl.c.qtl_figure)
    )
    return frame(
        conn, query, {"protocol_number": "str", "qtl_figure": "str", "limit_value": "float", "direction": "str"}
    )


def _visit_sources(scope: Scope):
    """Per site: data points (entered, changed) and lab results (all, grade ≥ 3) of the visits done by as_of."""
    # Filtered on the counts' own trial: the database starts from their (few) rows, not from every visit in scope.
    done = visit.c.visit_date <= scope.as_of
    points = (
        select(
            visit.c.site_id,
            func.sum(data_point.c.n_data_points).label("n_data_points"),
            func.sum(data_point.c.n_data_points_changed).label("n_data_points_changed"),
        )
        .select_from(data_point.join(visit, visit.c.visit_id == data_point.c.visit_id))
        .where(data_point.c.trial_id.in_(scoped_trial_ids(scope)), done)
        .group_by(visit.c.site_id)
        .subquery("site_data_points")
    )
    labs = (
        select(
            visit.c.site_id,
            func.sum(lab_result.c.n_lab_results).label("n_lab_results"),
            func.sum(lab_result.c.n_lab_abnormal).label("n_lab_abnormal"),
        )
        .select_from(lab_result.join(visit, visit.c.visit_id == lab_result.c.visit_id))
        .where(lab_result.c.trial_id.in_(scoped_trial_ids(scope)), done)
        .group_by(visit.c.site_id)
        .subquery("site_labs")
    )
    return points, labs


def _pages(scope: Scope):
    """Per site: eCRF pages of the visits done by as_of, and those late: the visit rule of dashboard/rollups.py
    (late_prone, for visits up to late_cutoff), per page.

    In a trial that loads pages, a visit done without any page row counts as one page, late by the visit rule: a
    site that has entered nothing of a visit must not look better than one that entered it late."""
    as_of = scope.as_of
    due = visit.c.visit_date <= late_cutoff(as_of)  # entered after as_of is then more than the allowed days late
    late = and_(due, late_prone(crf_page.c.entered_date, visit.c.visit_date))
    pages = (
        select(visit.c.site_id, func.count().label("n"), _count(late).label("n_late"))
        .select_from(crf_page.join(visit, visit.c.visit_id == crf_page.c.visit_id))
        .where(crf_page.c.trial_id.in_(scoped_trial_ids(scope)), visit.c.visit_date <= as_of)
        .group_by(visit.c.site_id)
    )
    visit_late = and_(due, late_prone(visit.c.entered_date, visit.c.visit_date))
    without_pages = (
        select(visit.c.site_id, func.count().label("n"), _count(visit_late).label("n_late"))
        .where(
            visit.c.trial_id.in_(scoped_trial_ids(scope)),
            visit.c.trial_id.in_(select(crf_page.c.trial_id).distinct()),
            visit.c.visit_date <= as_of,
            ~select(crf_page.c.crf_page_id).where(crf_page.c.visit_id == visit.c.visit_id).exists(),
        )
        .group_by(visit.c.site_id)
    )
    both = union_all(pages, without_pages).subquery("page_parts")
    return (
        select(both.c.site_id, func.sum(both.c.n).label("n_pages"), func.sum(both.c.n_late).label("n_pages_late"))
        .group_by(both.c.site_id)
        .subquery("site_pages")
    )


# Optional sources: a trial with no row in the table has "no data" for these counts (domain.md §4a).
SOURCES = {
    "adverse_event": (adverse_event, ("n_ae", "n_sae", "n_sae_due", "n_sae_on_time")),
    "crf_page": (crf_page, ("n_pages", "n_pages_late")),
    "data_point": (data_point, ("n_data_points", "n_data_points_changed")),
    "lab_result": (lab_result, ("n_lab_results", "n_lab_abnormal")),
}


def trials_with_sources(conn: Connection, scope: Scope) -> dict[str, set[str]]:
    """For each optional source, the protocol numbers in scope that have at least one of its rows (whatever their dates)."""
    found = {}
    for name, (table, _) in SOURCES.items():
        query = select(trial.c.protocol_number).where(
            trial.c.trial_id.in_(scoped_trial_ids(scope)),
            select(table.c.trial_id).where(table.c.trial_id == trial.c.trial_id).exists(),
        )
        found[name] = {row[0] for row in conn.execute(query)}
    return found


_COUNTS = (
    "n_screen_failed",
    "n_outcome_known",
    "n_discontinued",
    "n_treatment_discontinued",
    "n_visits",
    "n_visits_entered",
    "n_visits_late",
    "n_queries",
    "n_queries_open",
    "n_queries_open_30d",
    "n_queries_outstanding_30d",
    "n_queries_answered",
    "n_deviations",
    "n_important_deviations",
    "n_deviations_undated",
    "n_ae",
    "n_sae",
    "n_sae_due",
    "n_sae_on_time",
    "n_pages",
    "n_pages_late",
    "n_data_points",
    "n_data_points_changed",
    "n_lab_results",
    "n_lab_abnormal",
)


def _quality(scope: Scope):
    """Per site in scope: the quality counts, zero where the site has no rows (the means and medians stay empty)."""
    points, labs = _visit_sources(scope)
    parts = {
        "subjects": _subjects(scope),
        "visits": _visits(scope),
        "queries": _queries(scope),
        "deviations": _deviations(scope),
        "adverse_events": _adverse_events(scope),
        "pages": _pages(scope),
        "points": points,
        "labs": labs,
    }
    close_times = _median_days_to_close(scope)
    counts = [
        func.coalesce(part.c[name], 0).label(name) for part in parts.values() for name in _COUNTS if name in part.c
    ]
    joined = site.join(trial, trial.c.trial_id == site.c.trial_id).join(
        country, country.c.country_id == site.c.country_id
    )
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
    "subject_days": "float",
    "mean_entry_lag_days": "float",
    "median_days_to_close": "float",
}


def site_kpis(conn: Connection, scope: Scope) -> pd.DataFrame:
    """One row per site in scope: enrollment.sites' columns plus screening, visits, data entry, queries, deviations,
    adverse events, lab results and data points as of the date.

    Counts of an optional source the site's trial has no row of are empty (no data). `entry_basis` says whether late
    entry counts eCRF pages or visits for the site's trial (n_entry_units, n_entry_late); `query_basis` whether the
    query rate is per data point or per visit entered (n_query_base).
    """
    basics = enrollment.sites(conn, scope)
    quality = frame(conn, _quality(scope).order_by(trial.c.protocol_number, site.c.site_number), _QUALITY_DTYPES)
    out = basics.merge(
        quality.drop(columns=["country_code", "country_name"]), on=["protocol_number", "site_number"], how="left"
    )
    present = trials_with_sources(conn, scope)
    for name, (_, columns) in SOURCES.items():
        missing = ~out["protocol_number"].isin(present[name])
        for column in columns:
            out[column] = out[column].astype("Int64").mask(missing)
    pages = out["protocol_number"].isin(present["crf_page"])
    out["entry_basis"] = pd.Series(["eCRF pages" if p else "visits" for p in pages], index=out.index, dtype="object")
    out["n_entry_units"] = out["n_pages"].where(pages, out["n_visits"])
    out["n_entry_late"] = out["n_pages_late"].where(pages, out["n_visits_late"])
    points = out["protocol_number"].isin(present["data_point"])
    out["query_basis"] = pd.Series(
        ["data points" if p else "visits entered" for p in points], index=out.index, dtype="object"
    )
    out["n_query_base"] = out["n_data_points"].where(points, out["n_visits_entered"])
    out["n_minor_deviations"] = out["n_deviations"] - out["n_important_deviations"]
    return out


def by_country(conn: Connection, scope: Scope) -> pd.DataFrame:
    """One row per trial × country with sites in scope: sites, subjects, site- and subject-days, visits, queries, deviations."""
    as_of = scope.as_of
    per_site = (
        _quality(scope)
        .add_columns(
            case((site.c.activated_date <= as_of, 1), else_=0).label("is_activated"),
            case(
                (
                    site.c.activated_date <= as_of,
                    days_between(
                        case((site.c.closed_date <= as_of, site.c.closed_date), else_=as_date(as_of)),
                        site.c.activated_date,
                    ),
                ),
                else_=literal(0.0),
            ).label("days_open"),
            site.c.n_planned_subjects,
            func.coalesce(
                select(func.count())
                .where(subject.c.site_id == site.c.site_id, subject.c.enrolled_date <= as_of)
                .scalar_subquery(),
                0,
            ).label("n_enrolled"),
        )
        .subquery("per_site")
    )
    sums = (
        "n_enrolled",
        "n_planned_subjects",
        "n_visits",
        "n_visits_late",
        "n_queries",
        "n_queries_open_30d",
        "n_important_deviations",
    )
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
    dtypes = {name: "int" for name in ("n_sites", "n_sites_activated", *sums)} | {
        "days_open": "float",
        "subject_days": "float",
    }
    return frame(conn, query, dtypes)


QUERIES = [site_kpis, by_country, safety_by_trial, qtl_limits]
