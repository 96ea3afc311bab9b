"""The demo portfolio: deterministic, realistically shaped, and carrying every feature the pages must show.

The planted features are checked by SQL against a database written by `demo.build`, so what is
tested is what the dashboard will read.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from alembic import command
from sqlalchemy import insert, text

from dashboard import demo
from dashboard.db import alembic_config, current_revision, head_revision, make_engine
from dashboard.schema import DERIVED_TABLES, QTL_FIGURES, TABLES, sponsor

REPO_DIR = Path(__file__).resolve().parent.parent
TODAY = date(2026, 11, 20)  # a fixed data cut, so the figures do not change from day to day
DAYS_PER_MONTH = 365.25 / 12
# Days on study of an enrolled subject by :today: enrollment to the earliest of discontinuation, completion and today.
ON_STUDY_DAYS = (
    "julianday(MIN(COALESCE(s.discontinued_date, :today), COALESCE(s.completed_date, :today), :today))"
    " - julianday(s.enrolled_date)"
)


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory):
    """The default demo portfolio written to a SQLite file once for this module; yields (read-only engine, row counts)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('demo') / 'demo.db'}"
    counts = demo.build(url, today=TODAY)
    engine = make_engine(url)
    yield engine, counts
    engine.dispose()


def rows(engine, sql: str, **params) -> list:
    with engine.connect() as conn:
        return conn.execute(text(sql), {"today": TODAY.isoformat(), **params}).all()


def scalar(engine, sql: str, **params):
    return rows(engine, sql, **params)[0][0]


# Deterministic


def test_same_seed_and_date_give_equal_frames():
    first = demo.generate(seed=3, n_trials=8, today=TODAY)
    second = demo.generate(seed=3, n_trials=8, today=TODAY)
    assert list(first) == list(second)
    for name in first:
        pd.testing.assert_frame_equal(first[name], second[name], obj=name)


def test_another_seed_gives_other_data():
    first = demo.generate(seed=3, n_trials=8, today=TODAY)
    other = demo.generate(seed=4, n_trials=8, today=TODAY)
    assert not first["subject"].equals(other["subject"])
    assert not first["site"].equals(other["site"])
    # The planted names do not depend on the seed.
    assert {demo.BIG_TRIAL, demo.OVERRUN_TRIAL, demo.SUPPLY_RISK_TRIAL} <= set(other["trial"]["protocol_number"])


def test_frames_have_exactly_the_schema_columns_and_ids_from_one():
    frames = demo.generate(seed=3, n_trials=8, today=TODAY)
    for table in TABLES:
        if table.name == "load_log" or table in DERIVED_TABLES:
            continue
        df = frames[table.name]
        assert list(df.columns) == [c.name for c in table.columns], table.name
        pk = table.primary_key.columns.values()[0].name
        assert df[pk].tolist() == list(range(1, len(df) + 1)), table.name


def test_too_few_trials_is_refused():
    with pytest.raises(demo.DemoError, match="at least"):
        demo.generate(n_trials=demo.MIN_TRIALS - 1, today=TODAY)


# The written database


def test_every_table_is_filled_and_the_load_is_logged(demo_db):
    engine, counts = demo_db
    for table in TABLES:
        assert scalar(engine, f"SELECT COUNT(*) FROM {table.name}") == counts[table.name] > 0, table.name
    source, n_rows, details = rows(engine, "SELECT source, n_rows, details FROM load_log")[0]
    assert source == "demo (seed 7)"
    assert json.loads(details)["visit"] == counts["visit"]
    assert n_rows == sum(json.loads(details).values())


def test_default_demo_has_a_realistic_size(demo_db):
    _, counts = demo_db
    assert counts["trial"] == 12 + 3
    assert 400 <= counts["site"] <= 700
    assert 4_000 <= counts["subject"] <= 10_000
    assert 40_000 <= counts["visit"] <= 100_000


def test_foreign_keys_hold(demo_db):
    engine, _ = demo_db
    assert rows(engine, "PRAGMA foreign_key_check") == []


def test_two_sponsors_with_their_users(demo_db):
    engine, _ = demo_db
    trials = dict(
        rows(
            engine,
            "SELECT s.sponsor_code, COUNT(*) FROM trial t JOIN sponsor s USING (sponsor_id) GROUP BY s.sponsor_code",
        )
    )
    assert trials == {demo.MAIN_SPONSOR: 12, demo.OTHER_SPONSOR: 3}
    grants = rows(engine, "SELECT u.user_email, s.sponsor_code FROM user_access u JOIN sponsor s USING (sponsor_id)")
    by_user = {}
    for email, code in grants:
        by_user.setdefault(email, set()).add(code)
    assert by_user == {email: set(codes) for email, codes in demo.DEMO_USERS.items()}


def test_trials_cover_phases_areas_and_life_stages(demo_db):
    engine, _ = demo_db
    main = rows(engine, "SELECT phase, therapeutic_area, trial_status, protocol_number FROM trial WHERE sponsor_id = 1")
    assert {r[0] for r in main} == {"I", "II", "III", "IV"}
    assert len({r[1] for r in main}) >= 4
    assert {"startup", "enrolling", "follow_up", "closed"} <= {r[2] for r in main}
    assert all(r[3].replace("-", "").isalnum() for r in main)


def test_status_agrees_with_the_data(demo_db):
    engine, _ = demo_db
    facts = rows(
        engine,
        """
        SELECT t.trial_status,
               (SELECT COUNT(*) FROM subject s WHERE s.trial_id = t.trial_id AND s.enrolled_date IS NOT NULL) AS enrolled,
               t.n_planned_subjects,
               (SELECT COUNT(*) FROM site s WHERE s.trial_id = t.trial_id AND s.site_status = 'closed') AS closed_sites,
               t.n_planned_sites
        FROM trial t""",
    )
    for status, enrolled, planned, closed_sites, planned_sites in facts:
        if status == "enrolling":
            assert 0 < enrolled < planned
        elif status in ("follow_up", "closed"):
            assert enrolled == planned
        if status == "closed":
            assert closed_sites == planned_sites
        if status == "startup":
            assert enrolled < 0.1 * planned


def test_no_actual_date_is_after_the_data_cut(demo_db):
    engine, _ = demo_db
    actual_columns = {
        "site": ["selected_date", "activated_date", "closed_date"],
        "subject": [
            "screened_date",
            "screen_failed_date",
            "enrolled_date",
            "discontinued_date",
            "completed_date",
            "treatment_discontinued_date",
        ],
        "visit": ["visit_date", "entered_date"],
        "data_query": ["opened_date", "answered_date", "closed_date"],
        "deviation": ["deviation_date", "identified_date", "first_loaded_date"],
        "adverse_event": ["onset_date", "aware_date", "reported_date"],
        "crf_page": ["entered_date"],
        "milestone": ["actual_date"],
        "milestone_forecast": ["recorded_date"],
        "change_order": ["requested_date", "approved_date"],
        "contract": ["signed_date"],
        "actual_cost": ["month_date"],
    }
    for table, columns in actual_columns.items():
        for column in columns:
            latest = scalar(engine, f"SELECT MAX({column}) FROM {table}")
            assert latest is None or latest <= TODAY.isoformat(), f"{table}.{column} = {latest}"


def test_dates_are_in_a_sensible_order(demo_db):
    engine, _ = demo_db
    assert (
        scalar(
            engine,
            "SELECT COUNT(*) FROM site WHERE site_status = 'planned' AND (selected_date IS NOT NULL OR activated_date IS NOT NULL)",
        )
        == 0
    )
    assert (
        scalar(
            engine,
            "SELECT COUNT(*) FROM site WHERE site_status = 'active' AND (activated_date IS NULL OR closed_date IS NOT NULL)",
        )
        == 0
    )
    assert scalar(engine, "SELECT COUNT(*) FROM site WHERE planned_activation_date IS NULL") == 0
    assert (
        scalar(
            engine,
            "SELECT COUNT(*) FROM subject s JOIN site USING (site_id) WHERE s.screened_date < site.activated_date",
        )
        == 0
    )
    assert (
        scalar(
            engine,
            "SELECT COUNT(*) FROM subject WHERE discontinued_date <= enrolled_date OR completed_date <= enrolled_date",
        )
        == 0
    )
    assert scalar(engine, "SELECT COUNT(*) FROM subject WHERE screen_failed_date < screened_date") == 0
    assert (
        scalar(
            engine,
            "SELECT COUNT(*) FROM visit v JOIN subject s USING (subject_id) WHERE v.visit_number > 1 AND v.visit_date < s.enrolled_date",
        )
        == 0
    )


# Realistic shapes (domain.md §2)


def test_screen_failure_and_dropout_rates(demo_db):
    engine, _ = demo_db
    failed, enrolled, discontinued = rows(
        engine,
        """
        SELECT COUNT(screen_failed_date), COUNT(enrolled_date), COUNT(discontinued_date) FROM subject""",
    )[0]
    assert 0.25 <= failed / (failed + enrolled) <= 0.35
    assert 0.05 <= discontinued / enrolled <= 0.15


def test_non_enrolling_sites_and_rate_in_enrolling_trials(demo_db):
    engine, _ = demo_db
    sites = rows(
        engine,
        """
        SELECT julianday(:today) - julianday(s.activated_date) AS days_open,
               (SELECT COUNT(*) FROM subject x WHERE x.site_id = s.site_id AND x.enrolled_date IS NOT NULL) AS enrolled
        FROM site s JOIN trial t USING (trial_id)
        WHERE t.trial_status = 'enrolling' AND s.activated_date IS NOT NULL""",
    )
    open_60 = [(days, n) for days, n in sites if days >= 60]
    assert len(open_60) >= 100
    non_enrolling = sum(1 for _, n in open_60 if n == 0) / len(open_60)
    assert 0.20 <= non_enrolling <= 0.35
    rate = sum(n for _, n in sites) / sum(days / (365.25 / 12) for days, _ in sites)
    assert 0.35 <= rate <= 0.65  # subjects per site-month; the Gamma mean is 0.5


def test_plan_reaches_the_target_and_never_falls(demo_db):
    engine, _ = demo_db
    plan = pd.DataFrame(
        rows(
            engine,
            """
        SELECT p.trial_id, p.month_date, SUM(p.n_planned_cumulative) AS n FROM enrollment_plan p
        GROUP BY p.trial_id, p.month_date ORDER BY p.trial_id, p.month_date""",
        ),
        columns=["trial_id", "month", "n"],
    )
    targets = dict(rows(engine, "SELECT trial_id, n_planned_subjects FROM trial"))
    site_targets = dict(rows(engine, "SELECT trial_id, SUM(n_planned_subjects) FROM site GROUP BY trial_id"))
    assert site_targets == targets
    for trial_id, curve in plan.groupby("trial_id"):
        assert curve["n"].is_monotonic_increasing
        assert curve["n"].iloc[-1] == targets[trial_id]


def test_planned_lpi_is_the_month_the_plan_completes(demo_db):
    engine, _ = demo_db
    pairs = rows(
        engine,
        """
        SELECT m.baseline_date, (SELECT MAX(p.month_date) FROM enrollment_plan p WHERE p.trial_id = m.trial_id)
        FROM milestone m WHERE m.milestone_code = 'LPI'""",
    )
    assert pairs and all(baseline[:7] == last_month[:7] for baseline, last_month in pairs)


def test_milestone_actuals_agree_with_the_data(demo_db):
    engine, _ = demo_db
    mismatches = rows(
        engine,
        """
        SELECT t.protocol_number, m.milestone_code FROM milestone m JOIN trial t USING (trial_id)
        WHERE m.actual_date IS NOT NULL AND (
              (m.milestone_code = 'FIRST_SITE_ACTIVATED'
               AND m.actual_date <> (SELECT MIN(activated_date) FROM site s WHERE s.trial_id = m.trial_id))
           OR (m.milestone_code = 'FPI'
               AND m.actual_date <> (SELECT MIN(enrolled_date) FROM subject s WHERE s.trial_id = m.trial_id))
           OR (m.milestone_code = 'LPI'
               AND m.actual_date <> (SELECT MAX(enrolled_date) FROM subject s WHERE s.trial_id = m.trial_id)))""",
    )
    assert mismatches == []


def test_contracted_amount_is_the_baseline_plan(demo_db):
    engine, _ = demo_db
    gaps = rows(
        engine,
        """
        SELECT c.contract_number, c.contracted_amount, SUM(p.planned_amount) FROM contract c
        JOIN planned_spend p ON p.contract_id = c.contract_id AND p.change_order_id IS NULL
        GROUP BY c.contract_id HAVING ABS(c.contracted_amount - SUM(p.planned_amount)) > 0.01""",
    )
    assert gaps == []
    statuses = [r[0] for r in rows(engine, "SELECT change_order_status FROM change_order")]
    assert statuses.count("proposed") == 1 and statuses.count("approved") >= 2
    assert (
        scalar(
            engine,
            "SELECT COUNT(*) FROM change_order WHERE (change_order_status = 'approved') <> (approved_date IS NOT NULL)",
        )
        == 0
    )


# Planted features


def test_big_trial_has_thirty_active_sites(demo_db):
    engine, _ = demo_db
    status, active = rows(
        engine,
        """
        SELECT t.trial_status, COUNT(s.site_id) FROM trial t JOIN site s USING (trial_id)
        WHERE t.protocol_number = :trial AND s.site_status = 'active' GROUP BY t.trial_id""",
        trial=demo.BIG_TRIAL,
    )[0]
    assert status == "enrolling"
    assert active >= 30


def test_bad_site_is_worst_on_late_entry_and_old_queries(demo_db):
    engine, _ = demo_db
    late = dict(
        rows(
            engine,
            """
        SELECT s.site_number,
               AVG(CASE WHEN julianday(COALESCE(v.entered_date, :today)) - julianday(v.visit_date) > 10 THEN 1.0 ELSE 0.0 END)
        FROM visit v JOIN site s USING (site_id) JOIN trial t ON t.trial_id = v.trial_id
        WHERE t.protocol_number = :trial GROUP BY s.site_number HAVING COUNT(*) >= 10""",
            trial=demo.BIG_TRIAL,
        )
    )
    aged = dict(
        rows(
            engine,
            """
        SELECT s.site_number,
               AVG(CASE WHEN q.closed_date IS NULL AND julianday(:today) - julianday(q.opened_date) > 30 THEN 1.0 ELSE 0.0 END)
        FROM data_query q JOIN site s USING (site_id) JOIN trial t ON t.trial_id = q.trial_id
        WHERE t.protocol_number = :trial GROUP BY s.site_number HAVING COUNT(*) >= 10""",
            trial=demo.BIG_TRIAL,
        )
    )
    for metric in (late, aged):
        worst = max(metric, key=metric.get)
        runner_up = max(v for k, v in metric.items() if k != demo.BAD_SITE)
        assert worst == demo.BAD_SITE
        assert metric[demo.BAD_SITE] >= runner_up + 0.15  # clearly, not by a hair
    queries_per_visit = dict(
        rows(
            engine,
            """
        SELECT s.site_number, 1.0 * (SELECT COUNT(*) FROM data_query q WHERE q.site_id = s.site_id)
                              / (SELECT COUNT(*) FROM visit v WHERE v.site_id = s.site_id AND v.entered_date IS NOT NULL)
        FROM site s JOIN trial t USING (trial_id) WHERE t.protocol_number = :trial AND s.site_number = :site""",
            trial=demo.BIG_TRIAL,
            site=demo.BAD_SITE,
        )
    )
    assert queries_per_visit[demo.BAD_SITE] > 0.5


def cpi_by_trial(engine) -> dict[str, float]:
    """CPI per trial as of TODAY: EV (units × unit prices + achieved milestone payments) ÷ AC (invoiced + accrued)."""
    result = rows(
        engine,
        """
        WITH units AS (
            SELECT trial_id, 'site_activated' AS unit_type, COUNT(*) AS n FROM site WHERE activated_date <= :today GROUP BY trial_id
            UNION ALL SELECT trial_id, 'subject_enrolled', COUNT(*) FROM subject WHERE enrolled_date <= :today GROUP BY trial_id
            UNION ALL SELECT trial_id, 'visit_done', COUNT(*) FROM visit WHERE visit_date <= :today GROUP BY trial_id),
        earned_units AS (
            SELECT c.trial_id, SUM(u.n * p.unit_price_amount) AS ev FROM unit_price p JOIN contract c USING (contract_id)
            JOIN units u ON u.trial_id = c.trial_id AND u.unit_type = p.unit_type GROUP BY c.trial_id),
        earned_milestones AS (
            SELECT m.trial_id, SUM(m.payment_amount) AS ev FROM milestone m
            JOIN contract c ON c.trial_id = m.trial_id AND c.vendor_id = m.vendor_id
            WHERE m.actual_date <= :today GROUP BY m.trial_id),
        actual AS (
            SELECT c.trial_id, SUM(a.invoiced_amount + a.accrued_amount) AS ac FROM actual_cost a JOIN contract c USING (contract_id)
            WHERE a.month_date <= :today GROUP BY c.trial_id)
        SELECT t.protocol_number, COALESCE(eu.ev, 0) + COALESCE(em.ev, 0), a.ac FROM trial t
        LEFT JOIN earned_units eu ON eu.trial_id = t.trial_id
        LEFT JOIN earned_milestones em ON em.trial_id = t.trial_id
        JOIN actual a ON a.trial_id = t.trial_id""",
    )
    return {protocol: ev / ac for protocol, ev, ac in result if ac > 0}


def test_overrun_trial_has_cpi_below_085_and_others_do_not(demo_db):
    engine, _ = demo_db
    cpi = cpi_by_trial(engine)
    assert cpi[demo.OVERRUN_TRIAL] < 0.85
    assert (
        scalar(engine, "SELECT trial_status FROM trial WHERE protocol_number = :p", p=demo.OVERRUN_TRIAL) == "enrolling"
    )
    others = [v for k, v in cpi.items() if k != demo.OVERRUN_TRIAL]
    assert all(0.85 <= v <= 1.2 for v in others), cpi


def supply_margins(engine) -> dict[str, float]:
    """Margin (days) of each supply → clinical link: clinical date − lead time − supply date, actual if done else latest forecast."""
    result = rows(
        engine,
        """
        WITH latest AS (
            SELECT f.milestone_id, f.forecast_date FROM milestone_forecast f
            WHERE f.recorded_date = (SELECT MAX(g.recorded_date) FROM milestone_forecast g
                                     WHERE g.milestone_id = f.milestone_id AND g.recorded_date <= :today)),
        dated AS (
            SELECT m.milestone_id, m.trial_id, m.precedes_milestone_id, m.lead_time_days,
                   COALESCE(CASE WHEN m.actual_date <= :today THEN m.actual_date END, l.forecast_date) AS on_date
            FROM milestone m LEFT JOIN latest l USING (milestone_id))
        SELECT t.protocol_number, julianday(c.on_date) - s.lead_time_days - julianday(s.on_date)
        FROM dated s JOIN dated c ON c.milestone_id = s.precedes_milestone_id JOIN trial t ON t.trial_id = s.trial_id""",
    )
    return dict(result)


def test_supply_risk_margin_is_negative_and_near_miss_is_within_two_weeks(demo_db):
    engine, _ = demo_db
    margins = supply_margins(engine)
    assert margins[demo.SUPPLY_RISK_TRIAL] < 0
    assert 0 <= margins[demo.NEAR_MISS_TRIAL] < 14
    status, activated, supplier_kind = rows(
        engine,
        """
        SELECT t.trial_status, (SELECT COUNT(activated_date) FROM site s WHERE s.trial_id = t.trial_id), v.vendor_kind
        FROM trial t JOIN milestone m USING (trial_id) JOIN vendor v USING (vendor_id)
        WHERE t.protocol_number = :p AND m.milestone_code = 'SITE_SUPPLY_READY'""",
        p=demo.SUPPLY_RISK_TRIAL,
    )[0]
    assert (status, activated) == ("startup", 0)
    assert supplier_kind in ("CMO", "CDMO")
    link = rows(
        engine,
        """
        SELECT c.milestone_code, c.lane, s.lead_time_days FROM milestone s JOIN milestone c ON c.milestone_id = s.precedes_milestone_id
        JOIN trial t ON t.trial_id = s.trial_id WHERE t.protocol_number = :p""",
        p=demo.SUPPLY_RISK_TRIAL,
    )
    assert link == [("FIRST_SITE_ACTIVATED", "CRO", demo.SUPPLY_LEAD_TIME_DAYS)]


def test_forecasts_moved_in_the_last_week(demo_db):
    engine, _ = demo_db
    moved = scalar(
        engine,
        """
        WITH f AS (
            SELECT milestone_id, recorded_date, forecast_date,
                   LAG(forecast_date) OVER (PARTITION BY milestone_id ORDER BY recorded_date) AS previous
            FROM milestone_forecast WHERE recorded_date <= :today)
        SELECT COUNT(DISTINCT milestone_id) FROM f
        WHERE recorded_date >= :week_ago AND previous IS NOT NULL AND forecast_date <> previous""",
        week_ago=(TODAY - timedelta(days=6)).isoformat(),
    )
    assert moved >= 3


def test_first_forecast_is_the_baseline_and_done_ones_end_at_the_actual(demo_db):
    engine, _ = demo_db
    first_not_baseline = scalar(
        engine,
        """
        SELECT COUNT(*) FROM milestone m JOIN milestone_forecast f USING (milestone_id)
        WHERE f.recorded_date = (SELECT MIN(recorded_date) FROM milestone_forecast g WHERE g.milestone_id = m.milestone_id)
          AND f.forecast_date <> m.baseline_date""",
    )
    last_not_actual = scalar(
        engine,
        """
        SELECT COUNT(*) FROM milestone m JOIN milestone_forecast f USING (milestone_id)
        WHERE m.actual_date IS NOT NULL
          AND f.recorded_date = (SELECT MAX(recorded_date) FROM milestone_forecast g WHERE g.milestone_id = m.milestone_id)
          AND f.forecast_date <> m.actual_date""",
    )
    assert (first_not_baseline, last_not_actual) == (0, 0)
    assert (
        scalar(
            engine,
            "SELECT COUNT(*) FROM milestone m WHERE NOT EXISTS "
            "(SELECT 1 FROM milestone_forecast f WHERE f.milestone_id = m.milestone_id)",
        )
        == 0
    )


def test_cdmo_works_in_both_lanes(demo_db):
    engine, _ = demo_db
    lanes = {
        r[0]
        for r in rows(
            engine,
            """
        SELECT DISTINCT m.lane FROM milestone m JOIN vendor v USING (vendor_id) WHERE v.vendor_code = :v AND v.vendor_kind = 'CDMO'""",
            v=demo.CDMO_VENDOR,
        )
    }
    assert lanes == {"CRO", "CMO"}
    both_on_one_trial = scalar(
        engine,
        """
        SELECT COUNT(*) FROM (SELECT m.trial_id FROM milestone m JOIN vendor v USING (vendor_id)
                              WHERE v.vendor_code = :v GROUP BY m.trial_id HAVING COUNT(DISTINCT m.lane) = 2)""",
        v=demo.CDMO_VENDOR,
    )
    assert both_on_one_trial >= 1


def test_shared_vendor_serves_two_trials_of_both_sponsors(demo_db):
    engine, _ = demo_db
    n_trials, n_sponsors = rows(
        engine,
        """
        SELECT COUNT(DISTINCT c.trial_id), COUNT(DISTINCT t.sponsor_id) FROM contract c
        JOIN vendor v USING (vendor_id) JOIN trial t ON t.trial_id = c.trial_id WHERE v.vendor_code = :v""",
        v=demo.SHARED_VENDOR,
    )[0]
    assert n_trials >= 2 and n_sponsors == 2


# Safety, data-quality and EDC sources (domain.md §4, §4a)


def test_treatment_stops_with_or_before_study_discontinuation_and_some_stay_on_study(demo_db):
    engine, _ = demo_db
    assert (
        scalar(
            engine,
            "SELECT COUNT(*) FROM subject WHERE treatment_discontinued_date IS NOT NULL "
            "AND (enrolled_date IS NULL OR treatment_discontinued_date < enrolled_date)",
        )
        == 0
    )
    left, stopped_first, stopped_after = rows(
        engine,
        """
        SELECT COUNT(*), SUM(treatment_discontinued_date <= discontinued_date), SUM(treatment_discontinued_date > discontinued_date)
        FROM subject WHERE discontinued_date IS NOT NULL""",
    )[0]
    assert stopped_after == 0
    assert stopped_first / left >= 0.75  # most who leave the study stopped treatment on the day or before
    staying, stopped = rows(
        engine,
        """
        SELECT COUNT(*), COUNT(treatment_discontinued_date) FROM subject
        WHERE enrolled_date IS NOT NULL AND discontinued_date IS NULL""",
    )[0]
    assert 0.03 <= stopped / staying <= 0.12
    assert (
        scalar(
            engine,
            "SELECT COUNT(*) FROM subject WHERE completed_date IS NOT NULL AND treatment_discontinued_date >= completed_date",
        )
        == 0
    )


def test_queries_are_answered_then_closed_and_their_status_agrees_with_the_dates(demo_db):
    engine, _ = demo_db
    counts = dict(rows(engine, "SELECT query_status, COUNT(*) FROM data_query GROUP BY query_status"))
    assert set(counts) == {"open", "answered", "closed"}  # every query has a status, some answered but not closed
    assert counts["answered"] >= 10
    wrong = scalar(
        engine,
        """
        SELECT COUNT(*) FROM data_query
        WHERE (query_status = 'closed') <> (closed_date IS NOT NULL)
           OR (query_status = 'answered' AND answered_date IS NULL)
           OR (query_status = 'open' AND answered_date IS NOT NULL)
           OR answered_date < opened_date OR answered_date > closed_date""",
    )
    assert wrong == 0
    answered, closed = rows(
        engine, "SELECT COUNT(answered_date), COUNT(*) FROM data_query WHERE closed_date IS NOT NULL"
    )[0]
    assert 0.7 <= answered / closed <= 0.95
    # BAD_SITE's outstanding queries wait for the site, not for data management.
    bad = dict(
        rows(
            engine,
            """
        SELECT q.query_status, COUNT(*) FROM data_query q JOIN site s USING (site_id) JOIN trial t ON t.trial_id = q.trial_id
        WHERE t.protocol_number = :trial AND s.site_number = :site AND q.query_status <> 'closed' GROUP BY q.query_status""",
            trial=demo.BIG_TRIAL,
            site=demo.BAD_SITE,
        )
    )
    assert bad.get("open", 0) >= 20 and bad.get("open", 0) >= 4 * bad.get("answered", 0)


def test_undated_deviations_in_one_trial_count_from_identified_or_loaded_days(demo_db):
    engine, _ = demo_db
    by_trial = {
        p: (n, undated, identified_only, neither)
        for p, n, undated, identified_only, neither in rows(
            engine,
            """
        SELECT t.protocol_number, COUNT(*), COUNT(*) - COUNT(d.deviation_date),
               SUM(d.deviation_date IS NULL AND d.identified_date IS NOT NULL),
               SUM(d.deviation_date IS NULL AND d.identified_date IS NULL)
        FROM deviation d JOIN trial t USING (trial_id) GROUP BY t.protocol_number""",
        )
    }
    n, undated, identified_only, neither = by_trial.pop(demo.UNDATED_DEVIATIONS_TRIAL)
    assert n >= 50 and 0.55 <= undated / n <= 0.75
    assert identified_only > neither >= 3  # most undated ones have the day they were identified, a few have neither
    assert all(undated == 0 for _, undated, _, _ in by_trial.values())
    assert scalar(engine, "SELECT COUNT(*) FROM deviation WHERE identified_date < deviation_date") == 0
    assert scalar(engine, "SELECT COUNT(identified_date) FROM deviation WHERE deviation_date IS NOT NULL") > 0
    # The demo writes the database itself, so it sets first_loaded_date on every row: 1–7 days after the row was known.
    bad_loads = scalar(
        engine,
        """
        SELECT COUNT(*) FROM deviation
        WHERE first_loaded_date IS NULL OR first_loaded_date > :today
           OR first_loaded_date < COALESCE(identified_date, deviation_date)
           OR julianday(first_loaded_date) - julianday(COALESCE(identified_date, deviation_date)) > 7""",
    )
    assert bad_loads == 0


def test_adverse_events_have_realistic_rates_and_dates(demo_db):
    engine, _ = demo_db
    n_ae, n_sae = rows(engine, "SELECT COUNT(*), SUM(is_serious) FROM adverse_event")[0]
    subject_days = scalar(engine, f"SELECT SUM({ON_STUDY_DAYS}) FROM subject s WHERE s.enrolled_date <= :today")
    assert 0.2 <= n_ae / (subject_days / DAYS_PER_MONTH) <= 0.5
    assert 0.08 <= n_sae / n_ae <= 0.12
    wrong = scalar(
        engine,
        """
        SELECT COUNT(*) FROM adverse_event a JOIN subject s USING (subject_id)
        WHERE s.enrolled_date IS NULL OR a.onset_date < s.enrolled_date
           OR julianday(a.aware_date) - julianday(a.onset_date) NOT BETWEEN 0 AND 3
           OR a.reported_date < COALESCE(a.aware_date, a.onset_date)
           OR COALESCE(a.aware_date, a.onset_date) > :today
           OR a.grade NOT BETWEEN 1 AND 5 OR a.term IS NULL OR a.trial_id <> s.trial_id""",
    )
    assert wrong == 0
    # Some events are on their onset day (no aware date), some non-serious ones not reported individually.
    assert scalar(engine, "SELECT COUNT(*) FROM adverse_event WHERE aware_date IS NULL") > 0
    assert scalar(engine, "SELECT COUNT(*) FROM adverse_event WHERE NOT is_serious AND reported_date IS NULL") > 0
    # Every trial with real exposure has adverse events.
    without = rows(
        engine,
        f"""
        SELECT t.protocol_number FROM trial t JOIN subject s USING (trial_id) WHERE s.enrolled_date <= :today
        GROUP BY t.trial_id HAVING SUM({ON_STUDY_DAYS}) > 30 * {DAYS_PER_MONTH}
           AND NOT EXISTS (SELECT 1 FROM adverse_event a WHERE a.trial_id = t.trial_id)""",
    )
    assert without == []


def ae_by_site(engine, protocol: str) -> pd.DataFrame:
    """Per site of the trial: subject-days on study and adverse events counted (from awareness, else onset) by TODAY."""
    return pd.DataFrame(
        rows(
            engine,
            f"""
        SELECT si.site_number,
               COALESCE((SELECT SUM({ON_STUDY_DAYS}) FROM subject s WHERE s.site_id = si.site_id AND s.enrolled_date <= :today), 0),
               (SELECT COUNT(*) FROM adverse_event a JOIN subject s USING (subject_id)
                WHERE s.site_id = si.site_id AND COALESCE(a.aware_date, a.onset_date) <= :today)
        FROM site si JOIN trial t USING (trial_id) WHERE t.protocol_number = :p""",
            p=protocol,
        ),
        columns=["site", "days", "n_ae"],
    ).set_index("site")


def test_under_reporting_site_is_far_below_its_peers_and_flagged_low(demo_db):
    engine, _ = demo_db
    sites = ae_by_site(engine, demo.BIG_TRIAL)
    under = sites.loc[demo.UNDER_REPORTING_SITE]
    assert demo.UNDER_REPORTING_SITE != demo.BAD_SITE
    assert under["days"] / DAYS_PER_MONTH >= 100  # good exposure: many subject-months
    peers = sites.drop(index=demo.UNDER_REPORTING_SITE)
    assert under["n_ae"] / under["days"] < peers["n_ae"].sum() / peers["days"].sum() / 5
    # gsm's over-dispersion-adjusted z of a rate (domain.md §4), over the sites with 30 subject-days or more.
    eligible = sites[sites["days"] >= 30]
    pooled = eligible["n_ae"].sum() / eligible["days"].sum()
    z = (eligible["n_ae"] / eligible["days"] - pooled) / np.sqrt(pooled / eligible["days"])
    adjusted = z / np.sqrt(max(1.0, float((z**2).mean())))
    assert adjusted.idxmin() == demo.UNDER_REPORTING_SITE
    assert adjusted[demo.UNDER_REPORTING_SITE] < -3  # red, on the low side
    assert adjusted.drop(index=demo.UNDER_REPORTING_SITE).min() > -2  # no other site looks like it


def test_late_sae_site_reports_most_serious_events_late_and_the_rest_are_on_time(demo_db):
    engine, _ = demo_db
    saes = pd.DataFrame(
        rows(
            engine,
            """
        SELECT t.protocol_number, si.site_number,
               julianday(a.reported_date) - julianday(COALESCE(a.aware_date, a.onset_date))
        FROM adverse_event a JOIN subject s USING (subject_id) JOIN site si ON si.site_id = s.site_id
        JOIN trial t ON t.trial_id = a.trial_id
        WHERE a.is_serious AND julianday(COALESCE(a.aware_date, a.onset_date)) < julianday(:today) - 1""",
        ),
        columns=["trial", "site", "delay"],
    )  # SAEs due to the sponsor by today (ICH E2A: the day of awareness or the next)
    saes["late"] = ~(saes["delay"] <= 1)  # reported later, or not yet reported
    planted = (saes["trial"] == demo.LATE_SAE_TRIAL) & (saes["site"] == demo.LATE_SAE_SITE)
    assert planted.sum() >= 5  # several SAEs
    assert saes.loc[planted, "late"].mean() > 0.5
    assert saes.loc[planted & saes["late"], "delay"].between(3, 10).all()
    assert 1 - saes.loc[~planted, "late"].mean() >= 0.9


@pytest.mark.parametrize("seed, n_trials", [(3, 8), (7, demo.MIN_TRIALS)])
def test_safety_sites_are_the_best_exposed_of_their_trial_whatever_the_seed(seed, n_trials):
    frames = demo.generate(seed=seed, n_trials=n_trials, today=TODAY)
    subjects = frames["subject"].dropna(subset=["enrolled_date"])
    until = subjects[["discontinued_date", "completed_date"]].min(axis=1).fillna(pd.Timestamp(TODAY))
    days = (until - subjects["enrolled_date"]).dt.days.groupby(subjects["site_id"]).sum()
    sites = frames["site"].merge(frames["trial"][["trial_id", "protocol_number"]]).set_index("site_id")
    for protocol, number in ((demo.BIG_TRIAL, demo.UNDER_REPORTING_SITE), (demo.LATE_SAE_TRIAL, demo.LATE_SAE_SITE)):
        in_trial = sites[(sites["protocol_number"] == protocol) & (sites["site_number"] != demo.BAD_SITE)]
        exposure = days.reindex(in_trial.index, fill_value=0)
        assert in_trial.loc[exposure.idxmax(), "site_number"] == number


def qtl_figures(engine) -> dict[tuple[str, str], float]:
    """Each trial's QTL figures on TODAY, pooled over its sites as the dashboard does (dashboard/metrics.py)."""
    out = {}
    for protocol, enrolled, failed, left, stopped, days, important in rows(
        engine,
        f"""
        SELECT t.protocol_number,
               (SELECT COUNT(*) FROM subject s WHERE s.trial_id = t.trial_id AND s.enrolled_date <= :today),
               (SELECT COUNT(*) FROM subject s WHERE s.trial_id = t.trial_id AND s.screen_failed_date <= :today),
               (SELECT COUNT(*) FROM subject s WHERE s.trial_id = t.trial_id AND s.enrolled_date <= :today
                                                 AND s.discontinued_date <= :today),
               (SELECT COUNT(*) FROM subject s WHERE s.trial_id = t.trial_id AND s.enrolled_date <= :today
                                                 AND s.treatment_discontinued_date <= :today),
               (SELECT SUM({ON_STUDY_DAYS}) FROM subject s WHERE s.trial_id = t.trial_id AND s.enrolled_date <= :today),
               (SELECT COUNT(*) FROM deviation d WHERE d.trial_id = t.trial_id AND d.is_important
                   AND COALESCE(d.deviation_date, d.identified_date, d.first_loaded_date) <= :today)
        FROM trial t WHERE EXISTS (SELECT 1 FROM qtl q WHERE q.trial_id = t.trial_id)""",
    ):
        out[(protocol, "dropout")] = 100 * left / enrolled
        out[(protocol, "treatment_discontinuation")] = 100 * stopped / enrolled
        out[(protocol, "screen_failure")] = 100 * failed / (failed + enrolled)
        out[(protocol, "deviation_rate")] = 100 * DAYS_PER_MONTH * important / days
    return out


def test_one_qtl_is_breached_and_every_other_is_well_within(demo_db):
    engine, _ = demo_db
    limits = rows(
        engine,
        """
        SELECT t.protocol_number, q.qtl_figure, q.limit_value, q.direction FROM qtl q JOIN trial t USING (trial_id)""",
    )
    per_trial = pd.Series([r[0] for r in limits]).value_counts()
    assert len(per_trial) >= 3 and per_trial.between(2, 3).all()
    assert all(figure in QTL_FIGURES and direction == "above" for _, figure, _, direction in limits)
    figures = qtl_figures(engine)
    breached = [(p, f) for p, f, limit, _ in limits if figures[(p, f)] > limit]
    assert breached == [(demo.QTL_BREACH_TRIAL, demo.QTL_BREACH_FIGURE)]
    for protocol, figure, limit, _ in limits:
        value = figures[(protocol, figure)]
        if (protocol, figure) in breached:
            assert value >= 1.3 * limit  # clearly above
        else:
            assert value <= limit / 1.3  # clearly within
    assert sum(p == demo.QTL_BREACH_TRIAL for p, *_ in limits) >= 2


def test_data_points_and_labs_for_every_visit_and_pages_for_some_trials(demo_db):
    engine, _ = demo_db
    # Every visit of the default portfolio has its data-point and lab counts.
    for table in ("data_point", "lab_result"):
        missing = scalar(
            engine, f"SELECT COUNT(*) FROM visit v LEFT JOIN {table} x USING (visit_id) WHERE x.visit_id IS NULL"
        )
        assert missing == 0, table
    points, changed, labs, abnormal = rows(
        engine,
        """
        SELECT SUM(p.n_data_points), SUM(p.n_data_points_changed), SUM(l.n_lab_results), SUM(l.n_lab_abnormal)
        FROM data_point p JOIN lab_result l USING (visit_id)""",
    )[0]
    assert 0.02 <= changed / points <= 0.06 and 0.005 <= abnormal / labs <= 0.02
    assert (
        scalar(
            engine,
            """
        SELECT COUNT(*) FROM data_point p JOIN visit v USING (visit_id)
        WHERE (v.entered_date IS NULL AND p.n_data_points <> 0)
           OR (v.entered_date IS NOT NULL AND p.n_data_points NOT BETWEEN 40 AND 120)""",
        )
        == 0
    )
    assert scalar(engine, "SELECT COUNT(*) FROM lab_result WHERE n_lab_results NOT BETWEEN 20 AND 40") == 0
    # eCRF pages: some trials have them, the others none.
    with_pages = {
        r[0] for r in rows(engine, "SELECT DISTINCT t.protocol_number FROM crf_page c JOIN trial t USING (trial_id)")
    }
    with_visits = {
        r[0] for r in rows(engine, "SELECT DISTINCT t.protocol_number FROM visit v JOIN trial t USING (trial_id)")
    }
    assert demo.BIG_TRIAL in with_pages and with_pages == set(demo.CRF_PAGE_TRIALS)
    assert len(with_visits - with_pages) >= 5
    per_visit = rows(
        engine,
        """
        SELECT MIN(n), MAX(n), COUNT(*) FROM (
            SELECT v.visit_id, COUNT(c.crf_page_id) AS n FROM visit v JOIN trial t USING (trial_id)
            LEFT JOIN crf_page c USING (visit_id) WHERE t.protocol_number IN (:a, :b, :c) GROUP BY v.visit_id)""",
        a=demo.CRF_PAGE_TRIALS[0],
        b=demo.CRF_PAGE_TRIALS[1],
        c=demo.CRF_PAGE_TRIALS[2],
    )[0]
    assert per_visit[:2] == (4, 8) and per_visit[2] > 1000
    assert {r[0] for r in rows(engine, "SELECT DISTINCT page_name FROM crf_page")} == set(demo.CRF_PAGES)
    assert (
        scalar(
            engine,
            "SELECT COUNT(*) FROM crf_page c JOIN visit v USING (visit_id) WHERE c.page_name = 'DM' AND v.visit_number <> 1",
        )
        == 0
    )
    assert (
        scalar(
            engine,
            """
        SELECT COUNT(*) FROM crf_page c JOIN visit v USING (visit_id)
        WHERE c.entered_date < v.visit_date OR (v.entered_date IS NULL AND c.entered_date IS NOT NULL)""",
        )
        == 0
    )
    # Pages spread around their visit's entry day: most on it, some later.
    same, later = rows(
        engine,
        """
        SELECT AVG(c.entered_date = v.entered_date), AVG(c.entered_date > v.entered_date)
        FROM crf_page c JOIN visit v USING (visit_id) WHERE c.entered_date IS NOT NULL""",
    )[0]
    assert 0.6 <= same <= 0.9 and 0.05 <= later <= 0.3
    # BAD_SITE's pages are late as its visits are: the most pages entered > 10 days after the visit (or not by then).
    late = dict(
        rows(
            engine,
            """
        SELECT s.site_number,
               AVG(CASE WHEN julianday(COALESCE(c.entered_date, :today)) - julianday(v.visit_date) > 10 THEN 1.0 ELSE 0.0 END)
        FROM crf_page c JOIN visit v USING (visit_id) JOIN site s ON s.site_id = v.site_id JOIN trial t ON t.trial_id = v.trial_id
        WHERE t.protocol_number = :trial AND julianday(v.visit_date) < julianday(:today) - 10
        GROUP BY s.site_number HAVING COUNT(DISTINCT v.visit_id) >= 10""",
            trial=demo.BIG_TRIAL,
        )
    )
    assert max(late, key=late.get) == demo.BAD_SITE
    assert late[demo.BAD_SITE] >= max(v for k, v in late.items() if k != demo.BAD_SITE) + 0.2


def test_a_large_portfolios_extra_trials_have_no_edc_detail():
    n_trials = demo.DEFAULT_TRIALS + 3
    frames = demo.generate(seed=7, n_trials=n_trials, today=TODAY)
    large = {i + 1 for i, spec in enumerate(demo._trial_specs(np.random.default_rng(7), n_trials)) if spec.large}
    with_visits = set(frames["visit"]["trial_id"])
    assert large & with_visits  # the check below means something
    for table in ("data_point", "lab_result"):
        assert set(frames[table]["trial_id"]) == with_visits - large, table
    assert not set(frames["crf_page"]["trial_id"]) & large
    assert large & with_visits <= set(frames["adverse_event"]["trial_id"])  # every trial has its safety data


# Loading


def test_write_works_on_each_engine(empty_db_url):
    counts = demo.build(empty_db_url, seed=5, n_trials=demo.MIN_TRIALS, today=TODAY)
    engine = make_engine(empty_db_url, read_only=False)
    try:
        with engine.begin() as conn:
            for name in ("trial", "subject", "milestone", "milestone_forecast"):
                assert conn.execute(text(f"SELECT COUNT(*) FROM {name}")).scalar() == counts[name]
            # Ids after the demo's own: PostgreSQL's sequences were moved on past the explicit ids.
            new_id = conn.execute(
                insert(sponsor)
                .values(sponsor_code="NEW", sponsor_name="New", reporting_currency="USD")
                .returning(sponsor.c.sponsor_id)
            ).scalar()
            assert new_id == counts["sponsor"] + 1
    finally:
        engine.dispose()
    with pytest.raises(demo.DemoError, match="already has trials"):
        demo.build(empty_db_url, n_trials=demo.MIN_TRIALS, today=TODAY)


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "dashboard.demo", *args], cwd=REPO_DIR, capture_output=True, text=True, timeout=120
    )


def run_main(capsys, *args: str) -> tuple[int, str, str]:
    """The command line in this process (faster than a subprocess): exit code, stdout, stderr."""
    try:
        code = demo.main(list(args))
    except SystemExit as exc:  # argparse's own usage errors
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def test_if_missing_writes_again_a_demo_file_made_for_an_older_schema(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    assert run_main(capsys, "--url", url, "--trials", "7", "--today", "2026-11-20")[0] == 0
    command.downgrade(alembic_config(url=url), "0001")  # as if built before the site × month roll-up

    code, out, err = run_main(capsys, "--url", url, "--trials", "7", "--today", "2026-11-20", "--if-missing")

    assert code == 0, err
    assert "older schema" in out
    assert current_revision(url) == head_revision()
    assert scalar(make_engine(url), "SELECT COUNT(*) FROM site_month") > 0


def test_cli_if_missing_builds_once_then_leaves_it(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'sub' / 'demo.db'}"
    first = run_cli("--url", url, "--trials", "7", "--today", "2026-11-20", "--if-missing")
    assert first.returncode == 0, first.stderr
    assert "visit" in first.stdout
    second = run_cli("--url", url, "--trials", "7", "--today", "2026-11-20", "--if-missing")
    assert second.returncode == 0, second.stderr
    assert "exists" in second.stdout

    code, _, err = run_main(capsys, "--url", url, "--trials", "7", "--today", "2026-11-20")
    assert code == 2 and "already has trials" in err
    code, out, err = run_main(
        capsys, "--url", url, "--trials", "7", "--seed", "8", "--today", "2026-11-20", "--replace"
    )
    assert code == 0, err
    engine = make_engine(url)
    try:
        assert rows(engine, "SELECT source FROM load_log") == [("demo (seed 8)",)]
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--today", "2026-13-01"], "not a date"),
        (["--url", "not a url"], "not a database URL"),
        (["--url", "mysql://u@h/db"], "unsupported database"),
        (["--trials", "2"], "at least"),
    ],
)
def test_cli_user_errors_are_one_plain_line(args, message, tmp_path, capsys):
    code, _, err = run_main(capsys, "--url", f"sqlite:///{tmp_path / 'x.db'}", *args)
    assert code == 2
    assert message in err
    assert "Traceback" not in err
    assert not (tmp_path / "x.db").exists()
