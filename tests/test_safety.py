"""The full KRI set with safety (domain.md §4a) on a hand-counted fixture: adverse events and SAE timeliness, eCRF
pages, data points, lab results, answered and long-outstanding queries, undated deviations, treatment
discontinuation, quality tolerance limits; flags on both sides and withheld below the minimum events."""

from datetime import date, timedelta

import pandas as pd
import pytest
from sqlalchemy import insert, select, update

import test_sites
import tiny_portfolio
from apptest_helpers import html_tables, open_page
from apptest_helpers import metrics as tiles
from conftest import SMALL_DEMO_TODAY
from dashboard import demo, digest, health, load, metrics, registry, rollups
from dashboard import schema as s
from dashboard.access import Scope
from dashboard.contract import export_csv
from dashboard.db import make_engine
from dashboard.settings import Settings, get_settings
from one_trial import flag_sites
from queries import overview, sites

AS_OF = tiny_portfolio.AS_OF  # 2026-06-30
D = date.fromisoformat


def build(url: str) -> None:
    """test_sites' fixture (tiny portfolio plus T-1's queries and deviations), plus for T-1, counted by hand as of 06-30:

    Subjects: 003 (S1) stopped treatment 04-20 (on study until 05-01); 004 (S2) stops treatment 07-15, after as_of.
      → treatment discontinued S1 1 of 2 enrolled, S2 0 of 1.
    Queries: Q3 (S1, open since 05-01) answered 05-10; Q6 (S1, opened 06-01, closed 07-10) answered 06-05: both
      answered and outstanding on 06-30. Q10 (S2) opened 03-01, closed 04-15: 45 days, ever outstanding > 30 days
      but not open today. Ever > 30 days: S1 1 (Q3, 60 days; Q6 is 29 days old), S2 1 (Q10; Q7 took exactly 30).
    Deviations: D4 (S1, important) undated, identified 06-10; D5 (S1, not important) undated and unidentified, first
      loaded 06-20. On 06-30 S1 has 4 (D1, D2, D4, D5), 2 important, 2 undated; on 06-05 only D1 and D2.
    Adverse events (subject: onset, aware, serious, reported):
      AE1 001: 03-01, 03-01, no;  AE2 001: 04-01, 04-03, SAE, 04-04 (next day: on time);
      AE3 003: 04-10, 04-10, SAE, 04-12 (two days: late);  AE4 004: 06-27, 06-28, SAE, not reported (due 06-29: late);
      AE5 004: 06-29, 06-29, SAE, not reported (due 06-30: not yet counted);  AE6 001: 06-25, awareness not given
      (counts from onset), no;  AE7 001: 06-28, aware 07-02, after as_of: not counted.
      → S1 4 AEs, 2 SAEs, 2 due, 1 on time; S2 2 AEs, 2 SAEs, 1 due, 0 on time; S3 0 (the trial has AE data).
    eCRF pages (visit: page entered): 001 v1 DM 02-12, VS 02-25 (15 days: late); 001 v2 DM 03-15; 003 v1 DM 03-11;
      004 v1 DM never (late); 004 v2 DM 06-29 (late), VS 04-25. → S1 4 pages 1 late; S2 3 pages 2 late.
    Data points (visit: entered, changed): 001 v1 50, 2; 001 v2 40, 0; 003 v1 30, 3; 004 v2 60, 6; 001 v3 (07-10,
      after as_of) 100, 50. → S1 120 points 5 changed, S2 60 points 6 changed.
    Lab results (visit: results, grade ≥ 3): 001 v1 20, 1; 003 v1 20, 0; 004 v1 10, 2. → S1 40, 1; S2 10, 2.
    QTLs of T-1: dropout above 20 % (3 enrolled, 1 discontinued: 33 %, breached); AE rate above 1000 per 100
      subject-months (6 AEs over 271 subject-days: 67.4, within).
    T-2 and X-9 load no AE, page, data-point or lab rows: their indicators are no data.
    """
    test_sites.build(url)
    engine = make_engine(url, read_only=False)
    with engine.begin() as conn:
        conn.execute(
            update(s.subject).where(s.subject.c.subject_id == 3).values(treatment_discontinued_date=D("2026-04-20"))
        )
        conn.execute(
            update(s.subject).where(s.subject.c.subject_id == 4).values(treatment_discontinued_date=D("2026-07-15"))
        )
        conn.execute(
            update(s.data_query).where(s.data_query.c.query_number == "Q3").values(answered_date=D("2026-05-10"))
        )
        conn.execute(
            update(s.data_query).where(s.data_query.c.query_number == "Q6").values(answered_date=D("2026-06-05"))
        )
        conn.execute(
            insert(s.data_query),
            [
                dict(
                    trial_id=1,
                    site_id=2,
                    subject_id=None,
                    query_number="Q10",
                    opened_date=D("2026-03-01"),
                    closed_date=D("2026-04-15"),
                )
            ],
        )
        conn.execute(
            insert(s.deviation),
            [
                dict(
                    trial_id=1,
                    site_id=1,
                    subject_id=None,
                    deviation_number="D4",
                    deviation_date=None,
                    identified_date=D("2026-06-10"),
                    first_loaded_date=D("2026-06-12"),
                    is_important=True,
                    description=None,
                ),
                dict(
                    trial_id=1,
                    site_id=1,
                    subject_id=None,
                    deviation_number="D5",
                    deviation_date=None,
                    identified_date=None,
                    first_loaded_date=D("2026-06-20"),
                    is_important=False,
                    description=None,
                ),
            ],
        )
        ae = [
            ("AE1", 1, "2026-03-01", "2026-03-01", False, None),
            ("AE2", 1, "2026-04-01", "2026-04-03", True, "2026-04-04"),
            ("AE3", 3, "2026-04-10", "2026-04-10", True, "2026-04-12"),
            ("AE4", 4, "2026-06-27", "2026-06-28", True, None),
            ("AE5", 4, "2026-06-29", "2026-06-29", True, None),
            ("AE6", 1, "2026-06-25", None, False, None),
            ("AE7", 1, "2026-06-28", "2026-07-02", False, None),
        ]
        conn.execute(
            insert(s.adverse_event),
            [
                dict(
                    trial_id=1,
                    subject_id=subject,
                    ae_number=number,
                    onset_date=D(onset),
                    aware_date=D(aware) if aware else None,
                    is_serious=serious,
                    reported_date=D(reported) if reported else None,
                    term=None,
                    grade=None,
                )
                for number, subject, onset, aware, serious, reported in ae
            ],
        )
        visits = {
            (row.subject_id, row.visit_number): row.visit_id
            for row in conn.execute(
                select(s.visit.c.visit_id, s.visit.c.subject_id, s.visit.c.visit_number).where(s.visit.c.trial_id == 1)
            )
        }
        pages = [
            ((1, 1), "DM", "2026-02-12"),
            ((1, 1), "VS", "2026-02-25"),
            ((1, 2), "DM", "2026-03-15"),
            ((3, 1), "DM", "2026-03-11"),
            ((4, 1), "DM", None),
            ((4, 2), "DM", "2026-06-29"),
            ((4, 2), "VS", "2026-04-25"),
        ]
        conn.execute(
            insert(s.crf_page),
            [
                dict(trial_id=1, visit_id=visits[v], page_name=name, entered_date=D(day) if day else None)
                for v, name, day in pages
            ],
        )
        points = [((1, 1), 50, 2), ((1, 2), 40, 0), ((3, 1), 30, 3), ((4, 2), 60, 6), ((1, 3), 100, 50)]
        conn.execute(
            insert(s.data_point),
            [dict(trial_id=1, visit_id=visits[v], n_data_points=n, n_data_points_changed=c) for v, n, c in points],
        )
        labs = [((1, 1), 20, 1), ((3, 1), 20, 0), ((4, 1), 10, 2)]
        conn.execute(
            insert(s.lab_result),
            [dict(trial_id=1, visit_id=visits[v], n_lab_results=n, n_lab_abnormal=a) for v, n, a in labs],
        )
        conn.execute(
            insert(s.qtl),
            [
                dict(trial_id=1, qtl_figure="dropout", limit_value=20, direction="above"),
                dict(trial_id=1, qtl_figure="ae_rate", limit_value=1000, direction="above"),
            ],
        )
        rollups.refresh(conn)  # the loader does this after writing queries
    engine.dispose()


@pytest.fixture(scope="module")
def safety_url(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('safety') / 'safety.db'}"
    build(url)
    return url


def kpis(url: str, as_of: date = AS_OF, trial: str | None = "T-1") -> pd.DataFrame:
    engine = make_engine(url)
    with engine.connect() as conn:
        df = sites.site_kpis(conn, Scope(sponsor_ids=(1, 2), as_of=as_of, since=as_of - timedelta(days=7), trial=trial))
    engine.dispose()
    return df.set_index(["protocol_number", "site_number"]) if trial is None else df.set_index("site_number")


HAND_COUNTED = {
    # column: (S1, S2, S3)
    "n_treatment_discontinued": (1, 0, 0),
    "n_queries": (5, 4, 0),
    "n_queries_answered": (2, 0, 0),
    "n_queries_open_30d": (1, 0, 0),
    "n_queries_outstanding_30d": (1, 1, 0),
    "n_deviations": (4, 0, 0),
    "n_important_deviations": (2, 0, 0),
    "n_minor_deviations": (2, 0, 0),
    "n_deviations_undated": (2, 0, 0),
    "n_ae": (4, 2, 0),
    "n_sae": (2, 2, 0),
    "n_sae_due": (2, 1, 0),
    "n_sae_on_time": (1, 0, 0),
    "n_pages": (4, 3, 0),
    "n_pages_late": (1, 2, 0),
    "n_entry_units": (4, 3, 0),
    "n_entry_late": (1, 2, 0),
    "n_data_points": (120, 60, 0),
    "n_data_points_changed": (5, 6, 0),
    "n_query_base": (120, 60, 0),
    "n_lab_results": (40, 10, 0),
    "n_lab_abnormal": (1, 2, 0),
}


def test_every_kri_count_is_the_hand_counted_one_on_both_engines(empty_db_url):
    build(empty_db_url)
    df = kpis(empty_db_url)
    for column, expected in HAND_COUNTED.items():
        assert tuple(int(df.loc[site, column]) for site in ("S1", "S2", "S3")) == expected, column
    assert set(df["entry_basis"]) == {"eCRF pages"} and set(df["query_basis"]) == {"data points"}


def test_every_kri_value_is_its_numerator_over_its_denominator(safety_url):
    df = kpis(safety_url)
    s1, s2 = df.loc["S1"], df.loc["S2"]
    month = 100 * 365.25 / 12
    expected = {
        "treatment_discontinuation": (50.0, 0.0),  # 1 of 2, 0 of 1
        "ae_rate": (4 / 192 * month, 2 / 79 * month),
        "sae_rate": (2 / 192 * month, 2 / 79 * month),
        "deviation_rate": (2 / 192 * month, 0.0),
        "minor_deviation_rate": (2 / 192 * month, 0.0),
        "abnormal_lab_rate": (2.5, 20.0),
        "entry_lag": (25.0, 200 / 3),
        "outstanding_query_rate": (20.0, 25.0),
        "query_aging": (20.0, 0.0),
        "query_rate": (5 / 120 * 100, 4 / 60 * 100),
        "data_change_rate": (5 / 120 * 100, 10.0),
    }
    for key, (one, two) in expected.items():
        values = metrics.indicator_values(df, key)
        assert (values["S1"], values["S2"]) == (pytest.approx(one), pytest.approx(two)), key
    assert pd.isna(metrics.indicator_values(df, "ae_rate")["S3"])  # nobody on study: no denominator, not 0
    assert metrics.indicator_values(df, "sae_rate")["S1"] == pytest.approx(s1["n_sae"] / s1["subject_days"] * month)
    assert s2["n_query_base"] == s2["n_data_points"]


def test_an_optional_file_not_loaded_is_no_data_never_zero(safety_url):
    df = kpis(safety_url, trial=None)
    other = df.loc[("X-9", "S1")]
    for column in ("n_ae", "n_sae", "n_pages", "n_data_points", "n_lab_results", "n_lab_abnormal"):
        assert pd.isna(other[column]), column
    for key in ("ae_rate", "sae_rate", "abnormal_lab_rate", "data_change_rate"):
        assert pd.isna(metrics.indicator_values(df, key)[("X-9", "S1")]), key
    # Without pages or data points, late entry counts visits and the query rate is per visit entered.
    assert (other["entry_basis"], other["query_basis"]) == ("visits", "visits entered")
    assert df.loc[("T-1", "S3"), "n_ae"] == 0  # T-1 loads AEs: its site without any has 0, a real zero


@pytest.mark.parametrize(
    ("as_of", "due", "on_time"),
    [
        ("2026-04-03", 0, 0),  # AE2 known since 04-03, due by 04-04: not yet counted
        ("2026-04-04", 1, 1),  # AE2 reported 04-04, the day after: on time
        ("2026-04-11", 1, 1),  # AE3 known 04-10, due 04-11, not yet reported: not yet counted
        ("2026-04-12", 2, 1),  # AE3 reported 04-12, two days after: late
        ("2026-06-29", 2, 1),  # AE4 known 06-28, due by 06-29, not reported: still within its day
        ("2026-06-30", 3, 1),  # AE4 past due and not reported: late; AE5 (known 06-29) is due by 06-30: not yet
        ("2026-07-01", 4, 1),  # AE5 past due too
    ],
)
def test_sae_timeliness_at_the_boundaries_of_the_next_day_rule(safety_url, as_of, due, on_time):
    engine = make_engine(safety_url)
    with engine.connect() as conn:
        t = sites.safety_by_trial(conn, Scope(sponsor_ids=(1, 2), as_of=D(as_of), since=D(as_of))).set_index(
            "protocol_number"
        )
    engine.dispose()
    assert list(t.index) == ["T-1"]  # T-2 and X-9 have no AE data: left out, not zero
    assert (int(t.loc["T-1", "n_sae_due"]), int(t.loc["T-1", "n_sae_on_time"])) == (due, on_time)


def test_an_undated_deviation_counts_from_identified_else_loaded(safety_url):
    early, later = kpis(safety_url, D("2026-06-05")).loc["S1"], kpis(safety_url, D("2026-06-15")).loc["S1"]
    assert (early["n_deviations"], early["n_deviations_undated"]) == (2, 0)  # D1, D2
    assert (later["n_deviations"], later["n_important_deviations"], later["n_deviations_undated"]) == (
        3,
        2,
        1,
    )  # + D4 (06-10)
    assert kpis(safety_url).loc["S1", "n_deviations"] == 4  # + D5, loaded 06-20


def exported_with_deviations(tmp_path, *lines: str):
    """The tiny portfolio in SQLite, exported as the contract's CSV files with `lines` added to deviation.csv."""
    url = f"sqlite:///{tmp_path / 'load.db'}"
    tiny_portfolio.build(url)
    folder = tmp_path / "csv"
    folder.mkdir()
    engine = make_engine(url)
    with engine.connect() as conn:
        export_csv(conn, folder)
    engine.dispose()
    with open(folder / "deviation.csv", "a", encoding="utf-8") as handle:
        handle.writelines(line + "\n" for line in lines)
    return url, folder


def test_the_loader_dates_an_undated_deviation_by_its_first_load_and_keeps_it(tmp_path):
    url, folder = exported_with_deviations(
        tmp_path, "T-1,S1,,PD-U1,,2026-06-10,,true,identified only", "T-1,S1,,PD-U2,,,,false,no date at all"
    )
    assert load.load(url, folder).ok
    engine = make_engine(url)
    with engine.connect() as conn:
        stored = dict(conn.execute(select(s.deviation.c.deviation_number, s.deviation.c.first_loaded_date)).all())
        export_csv(conn, folder)  # a second export carries the day it was first loaded
    engine.dispose()
    loaded_on = stored["PD-U2"]
    assert loaded_on is not None and abs((loaded_on - date.today()).days) <= 1  # the load's (UTC) day
    assert f"PD-U2,,,{loaded_on.isoformat()}" in (folder / "deviation.csv").read_text(encoding="utf-8")
    assert load.load(url, folder).ok  # loading again keeps it
    on_identified, before = kpis(url, D("2026-06-10")).loc["S1"], kpis(url, D("2026-06-09")).loc["S1"]
    assert on_identified["n_deviations_undated"] - before["n_deviations_undated"] == 1  # PD-U1 from 06-10
    assert kpis(url, loaded_on).loc["S1", "n_deviations_undated"] == 2  # PD-U2 from the day it was loaded
    assert kpis(url, loaded_on - timedelta(days=1)).loc["S1", "n_deviations_undated"] == 1


def test_low_and_high_adverse_event_rates_are_flagged_on_their_side():
    # Twelve sites with 20 AEs per 200 subject-days; one with 2 (under-reporting), or one with 45.
    exposure = [200] * 13
    under = flag_sites([20] * 12 + [2], exposure, kind="rate", bad_side="both", min_denominator=30, min_events=3)
    over = flag_sites([20] * 12 + [45], exposure, kind="rate", bad_side="both", min_denominator=30, min_events=3)
    assert under[-1].flag == "red" and under[-1].side == "low" and under[-1].z < -3
    assert over[-1].flag in ("amber", "red") and over[-1].side == "high" and over[-1].z > 2
    assert {f.flag for f in under[:12] + over[:12]} == {"green"}
    # A one-sided indicator flags only its bad side.
    assert flag_sites([20] * 12 + [2], exposure, kind="rate", bad_side="high", min_denominator=30)[-1].flag == "green"


def test_a_flag_is_withheld_below_the_minimum_events():
    # One dropout among 4 subjects where the peers have almost none: |z| is large, but 1 event < 3 (and 0.1 expected).
    numerators, denominators = [0] * 5 + [1] * 7 + [1], [40] * 12 + [4]
    withheld = flag_sites(
        numerators, denominators, kind="proportion", bad_side="high", min_denominator=3, min_events=3
    )[-1]
    assert withheld.withheld and withheld.flag == "grey" and withheld.z > 3
    assert withheld.observed == 1 and withheld.expected < 1
    shown = flag_sites(numerators, denominators, kind="proportion", bad_side="high", min_denominator=3, min_events=0)[
        -1
    ]
    assert shown.flag == "red" and not shown.withheld
    # The rule reads "observed or expected": a site expected to have many events and reporting none is still flagged.
    silent = flag_sites([10] * 12 + [0], [100] * 13, kind="rate", bad_side="both", min_denominator=30, min_events=3)[-1]
    assert silent.flag in ("amber", "red") and silent.expected == pytest.approx(120 / 1300 * 100)


def test_the_qtl_breach_shows_on_the_overview_portfolio_and_in_the_email(monkeypatch, safety_url, tmp_path):
    at = open_page(monkeypatch, safety_url, "overview", trial="T-1", as_of=AS_OF.isoformat())
    assert not at.exception
    assert tiles(at)["QTL breaches"] == "1"
    (qtls,) = [t for t in html_tables(at) if t and "Quality tolerance limit" in t[0]]
    status = {r["Quality tolerance limit"]: r["Status"] for r in qtls}
    assert status == {"Study discontinuation": "At risk Breached", "AE rate": "On track Within limit"}
    assert any("QTL breached: Study discontinuation 33.3% &gt; limit 20%" in h.proto.body for h in at.get("html"))
    assert tiles(at)["SAEs reported on time"] == "33%"  # 1 of 3 due

    portfolio = open_page(monkeypatch, safety_url, "portfolio", as_of=AS_OF.isoformat())
    assert not portfolio.exception
    rows = {r["Trial"]: r for t in html_tables(portfolio) for r in t if "Trial" in r}
    assert "QTL breached: Study discontinuation 33.3% > limit 20%" in rows["T-1"]["Why (red and amber)"]
    # Its chip names the dimension, so it does not say "At risk" beside a trial whose overall colour is not red.
    assert "Quality QTL breached: Study discontinuation" in rows["T-1"]["Why (red and amber)"]

    out = tmp_path / "digest.html"
    monkeypatch.setenv("DASHBOARD_PUBLIC_BASE_URL", "http://dash.example")
    get_settings.cache_clear()
    try:
        assert (
            digest.main(
                [
                    "--as-of",
                    AS_OF.isoformat(),
                    "--user",
                    tiny_portfolio.ACME_USER,
                    "--out",
                    str(out),
                    "--url",
                    safety_url,
                ]
            )
            == 0
        )
    finally:
        get_settings.cache_clear()
    mail = out.read_text(encoding="utf-8")
    assert "1 quality tolerance limit breached" in mail and "Study discontinuation" in mail
    assert "SAEs reported on time" in mail and "33%" in mail


def test_the_qtl_figure_and_the_sae_figure_agree_across_surfaces(safety_url):
    """The registry's figures from the e-mail's basis are those the hand count gives, at month ends and starts."""
    settings = Settings()
    engine = make_engine(safety_url)
    for as_of, breaches, sae in (
        (AS_OF, 1, 1 / 3),
        (D("2026-07-01"), 1, 1 / 4),
        (D("2026-02-01"), None, None),
        (D("2020-01-01"), None, None),
    ):
        with engine.connect() as conn:
            run = lambda query, scope, **kw: query(conn, scope, **kw)  # noqa: E731
            scope = Scope(sponsor_ids=(1,), as_of=as_of, since=as_of - timedelta(days=7), trial="T-1")
            basis = overview.view_basis(overview.direct(run, settings, None), scope, settings, forecast=False)
        qtl = registry.evaluate("qtl_breaches", basis)
        if as_of.year == 2020:  # before the trial existed there is nothing: no data, not "no breach"
            assert basis.trials.empty or qtl.value is None
            continue
        assert qtl.value == breaches, as_of
        on_time = registry.evaluate("sae_on_time", basis).value
        assert on_time == (None if sae is None else pytest.approx(sae)), as_of
    engine.dispose()


# --- On the demo: the planted safety signals are where a reviewer looks ----------------------------------


def demo_flags(url: str) -> pd.DataFrame:
    engine = make_engine(url)
    with engine.connect() as conn:
        run = lambda query, scope, **kw: query(conn, scope, **kw)  # noqa: E731
        scope = Scope(sponsor_ids=(1, 2), as_of=SMALL_DEMO_TODAY, since=SMALL_DEMO_TODAY - timedelta(days=7))
        flagged = overview.flagged_sites(run, scope, Settings())
    engine.dispose()
    return flagged.sites


def test_the_demo_under_reporting_site_is_flagged_low_with_the_reason_on_its_drill_down(monkeypatch, small_demo_db):
    at = open_page(
        monkeypatch,
        small_demo_db,
        "sites",
        trial=demo.BIG_TRIAL,
        site=demo.UNDER_REPORTING_SITE,
        as_of=SMALL_DEMO_TODAY.isoformat(),
    )
    assert not at.exception
    rows = {r["Indicator"].split(" (")[0]: r for r in html_tables(at)[0]}
    assert rows["AE rate"]["Flag"] in ("Watch", "At risk") and float(rows["AE rate"]["z"]) < -2
    assert "possible under-reporting" in rows["AE rate"]["Why"]


def test_a_withheld_flag_says_why_on_the_drill_down(monkeypatch, small_demo_db):
    flags = demo_flags(small_demo_db)
    withheld = [
        (r["protocol_number"], r["site_number"], key)
        for _, r in flags.iterrows()
        for key in metrics.SITE_INDICATORS
        if r[f"withheld_{key}"]
    ]
    assert withheld, "the demo has small sites whose large |z| rests on one or two events"
    protocol, site, key = withheld[0]
    at = open_page(monkeypatch, small_demo_db, "sites", trial=protocol, site=site, as_of=SMALL_DEMO_TODAY.isoformat())
    assert not at.exception
    row = next(r for r in html_tables(at)[0] if r["Indicator"].startswith(metrics.SITE_INDICATORS[key].label + " ("))
    assert row["Flag"] == "Withheld" and row["Why"].startswith("Flag withheld:")
    assert f"a flag needs at least {Settings().flag_min_events:g}" in row["Why"]


def test_non_enrolling_sites_are_among_the_overviews_worst_sites(monkeypatch, small_demo_db):
    at = open_page(monkeypatch, small_demo_db, "overview", trial=demo.BIG_TRIAL, as_of=SMALL_DEMO_TODAY.isoformat())
    assert not at.exception
    (worst,) = [t for t in html_tables(at) if t and "Flagged on" in t[0]]
    flagged_on = " ".join(r["Flagged on"] for r in worst)
    assert "Non-enrolling for" in flagged_on
    engine = make_engine(small_demo_db)
    with engine.connect() as conn:
        run = lambda query, scope, **kw: query(conn, scope, **kw)  # noqa: E731
        scope = Scope(sponsor_ids=(1, 2), as_of=SMALL_DEMO_TODAY, since=SMALL_DEMO_TODAY, trial=demo.BIG_TRIAL)
        basis = overview.view_basis(
            overview.direct(run, Settings(), None), scope, Settings(), forecast=False, flags=True
        )
    engine.dispose()
    # The page lists the registry's worst sites, in its order.
    assert [r["Site"] for r in worst] == list(registry.worst_sites(basis)["site_number"].head(len(worst)))


def test_a_replace_load_keeps_the_day_an_undated_deviation_was_first_loaded(tmp_path):
    # As a CTMS exports it: no value in the loader's own column.
    url, folder = exported_with_deviations(tmp_path, "T-1,S1,,PD-U2,,,,false,no date at all")
    assert load.load(url, folder).ok
    engine = make_engine(url, read_only=False)
    with engine.begin() as conn:  # as if that first load had been in January
        conn.execute(
            update(s.deviation)
            .where(s.deviation.c.deviation_number == "PD-U2")
            .values(first_loaded_date=D("2026-01-05"))
        )
    engine.dispose()
    assert load.load(url, folder, mode="replace").ok  # the same export again, replacing the sponsor's data
    engine = make_engine(url)
    with engine.connect() as conn:
        kept = conn.execute(
            select(s.deviation.c.first_loaded_date).where(s.deviation.c.deviation_number == "PD-U2")
        ).scalar_one()
    engine.dispose()
    assert kept == D("2026-01-05")
    assert kpis(url, D("2026-01-05")).loc["S1", "n_deviations_undated"] == 1


def test_a_visit_without_any_page_row_counts_as_a_late_page(tmp_path):
    url = f"sqlite:///{tmp_path / 'pages.db'}"
    build(url)
    engine = make_engine(url, read_only=False)
    with engine.begin() as conn:  # 004's first visit (never entered) loses its only page row
        visit_id = conn.execute(
            select(s.visit.c.visit_id).where(s.visit.c.subject_id == 4, s.visit.c.visit_number == 1)
        ).scalar_one()
        conn.execute(s.crf_page.delete().where(s.crf_page.c.visit_id == visit_id))
    engine.dispose()
    s2 = kpis(url).loc["S2"]
    assert (int(s2["n_entry_units"]), int(s2["n_entry_late"])) == (
        3,
        2,
    )  # as with the page row: not better for entering less


def test_a_trial_without_adverse_event_data_says_no_data_on_the_drill_down(safety_url):
    engine = make_engine(safety_url)
    with engine.connect() as conn:
        run = lambda query, scope, **kw: query(conn, scope, **kw)  # noqa: E731
        flagged = overview.flagged_sites(run, Scope(sponsor_ids=(1, 2), as_of=AS_OF, since=AS_OF), Settings()).sites
    engine.dispose()
    other = flagged.set_index(["protocol_number", "site_number"]).loc[("X-9", "S1")]
    assert health.flag_reason(other, "ae_rate", Settings()).startswith("No data")
    assert not health.flag_reason(other, "dropout", Settings()) or "No data" not in health.flag_reason(
        other, "dropout", Settings()
    )


def test_the_vendor_scorecard_gives_each_cro_the_sae_timeliness_of_its_trials(monkeypatch, safety_url):
    at = open_page(monkeypatch, safety_url, "vendors", as_of=AS_OF.isoformat(), sponsor="ACME")
    assert not at.exception
    (card,) = [t for t in html_tables(at) if t and "SAEs on time (CRO)" in t[0]]
    by_vendor = {r["CRO"]: r["SAEs on time (CRO)"] for r in card}
    # CRO1 runs T-1's clinical lane (1 of 3 SAEs due on time) and T-2's (no AE data); the CMO runs none: no row.
    assert by_vendor["Global Clinical CRO"].replace(" ", "") == "33%(1/3)"
    assert "Fill & Finish CMO" not in by_vendor
    # The same count as the Overview's tile for T-1, its only trial with AE data.
    overview_page = open_page(monkeypatch, safety_url, "overview", trial="T-1", as_of=AS_OF.isoformat())
    assert tiles(overview_page)["SAEs reported on time"] == "33%"


def test_the_portfolio_worst_sites_count_what_they_list(monkeypatch, small_demo_db):
    at = open_page(monkeypatch, small_demo_db, "sites", as_of=SMALL_DEMO_TODAY.isoformat())
    assert not at.exception
    (worst,) = [t for t in html_tables(at) if t and "Flagged on" in t[0]]
    assert any("Non-enrolling for" in r["Flagged on"] for r in worst)
    assert any("(low)" in r["Flagged on"] for r in worst)  # the under-reporting site is among them
    for r in worst:
        assert int(r["Red flags"]) == r["Flagged on"].count("At risk"), r
        assert int(r["Amber flags"]) == r["Flagged on"].count("Watch"), r
