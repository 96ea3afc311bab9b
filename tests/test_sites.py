"""The sites page and its queries on a hand-counted fixture (tiny portfolio plus queries and deviations), and the demo's bad site."""

import json
from datetime import date

import pandas as pd
import pytest
from sqlalchemy import insert

import tiny_portfolio
from apptest_helpers import html_tables, metrics, notices, open_page, visible_text
from dashboard import demo, rollups
from dashboard import schema as s
from dashboard.access import Scope, granted_sponsors
from dashboard.db import make_engine
from queries import sites

AS_OF = tiny_portfolio.AS_OF
D = date.fromisoformat


def build(url: str) -> None:
    """The tiny portfolio, plus for T-1 one late visit, data queries and deviations; counted by hand as of 2026-06-30.

    Visits (tiny portfolio): S1 entered after 2, 20 (late) and 1 days, one visit after as_of; S2's 04-12 visit never
    entered (late); added here: S2's 04-20 visit entered 06-29, 70 days → capped at 60, late. S3 has no visits.
    So S1: 3 visits, 1 late, mean lag (2 + 20 + 1) / 3 = 7.67; S2: 2 visits, 1 entered, 2 late, mean lag 60; S3: empty.
    Queries: S1 opened ≤ as_of: 5 (Q5 opens after), open on as_of 3 (Q3, Q4, Q6), open > 30 days 1 (Q3, 60 days),
    closed by as_of after 4 and 10 days → median 7. S2: 3 closed after 30, 1 and 2 days → median 2.
    Deviations: S1 2 by as_of (1 important); the important one on 07-02 is after as_of.
    Subject-days: S1 140 (001: 02-10 → 06-30) + 52 (003: 03-10 → discontinued 05-01) = 192; S2 79 (004: 04-12 → 06-30).
    """
    tiny_portfolio.build(url)
    engine = make_engine(url, read_only=False)
    queries = [
        (1, "Q1", "2026-03-01", "2026-03-05"),
        (1, "Q2", "2026-04-01", "2026-04-11"),
        (1, "Q3", "2026-05-01", None),
        (1, "Q4", "2026-06-20", None),
        (1, "Q5", "2026-07-05", None),
        (1, "Q6", "2026-06-01", "2026-07-10"),
        (2, "Q7", "2026-04-15", "2026-05-15"),
        (2, "Q8", "2026-04-20", "2026-04-21"),
        (2, "Q9", "2026-05-01", "2026-05-03"),
    ]
    deviations = [(1, "D1", "2026-03-15", True), (1, "D2", "2026-04-01", False), (1, "D3", "2026-07-02", True)]
    with engine.begin() as conn:
        conn.execute(
            insert(s.visit),
            [
                dict(
                    trial_id=1,
                    site_id=2,
                    subject_id=4,
                    visit_number=2,
                    visit_date=D("2026-04-20"),
                    entered_date=D("2026-06-29"),
                )
            ],
        )
        conn.execute(
            insert(s.data_query),
            [
                dict(
                    trial_id=1,
                    site_id=site,
                    subject_id=None,
                    query_number=number,
                    opened_date=D(opened),
                    closed_date=D(closed) if closed else None,
                )
                for site, number, opened, closed in queries
            ],
        )
        conn.execute(
            insert(s.deviation),
            [
                dict(
                    trial_id=1,
                    site_id=site,
                    subject_id=None,
                    deviation_number=number,
                    deviation_date=D(day),
                    is_important=important,
                    description=None,
                )
                for site, number, day, important in deviations
            ],
        )
        rollups.refresh(conn)  # the loader does this after writing visits and queries
    engine.dispose()


@pytest.fixture(scope="module")
def sites_url(tmp_path_factory):
    """The hand-counted sites fixture in a SQLite file, for the page tests."""
    url = f"sqlite:///{tmp_path_factory.mktemp('sites') / 'sites.db'}"
    build(url)
    return url


def t1_scope(conn) -> Scope:
    ids = tuple(sorted(g.sponsor_id for g in granted_sponsors(conn, None)))
    return Scope(sponsor_ids=ids, as_of=AS_OF, since=date(2026, 6, 23), trial="T-1")


EXPECTED = {
    # site: n_screened, n_screen_failed, n_outcome_known, n_enrolled, n_discontinued, n_visits, n_visits_entered,
    #       n_visits_late, n_queries, n_queries_open, n_queries_open_30d, n_deviations, n_important_deviations
    "S1": (3, 1, 3, 2, 1, 3, 3, 1, 5, 3, 1, 2, 1),
    "S2": (2, 0, 1, 1, 0, 2, 1, 2, 3, 0, 0, 0, 0),  # 005 screened 06-20, enrolls after as_of
    "S3": (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0),
}
COUNTS = (
    "n_screened",
    "n_screen_failed",
    "n_outcome_known",
    "n_enrolled",
    "n_discontinued",
    "n_visits",
    "n_visits_entered",
    "n_visits_late",
    "n_queries",
    "n_queries_open",
    "n_queries_open_30d",
    "n_deviations",
    "n_important_deviations",
)


def test_site_kpis_are_the_hand_counted_ones_on_both_engines(empty_db_url):
    build(empty_db_url)
    engine = make_engine(empty_db_url)
    with engine.connect() as conn:
        df = sites.site_kpis(conn, t1_scope(conn)).set_index("site_number")
    engine.dispose()
    assert list(df.index) == ["S1", "S2", "S3"]
    for site, expected in EXPECTED.items():
        assert tuple(int(df.loc[site, c]) for c in COUNTS) == expected, site
    assert df.loc["S1", "mean_entry_lag_days"] == pytest.approx(23 / 3)
    assert df.loc["S2", "mean_entry_lag_days"] == 60  # 70 days, capped
    assert pd.isna(df.loc["S3", "mean_entry_lag_days"])  # no visits: empty, not 0
    assert df.loc["S1", "median_days_to_close"] == 7  # (4 + 10) / 2
    assert df.loc["S2", "median_days_to_close"] == 2  # middle of 1, 2, 30
    assert pd.isna(df.loc["S3", "median_days_to_close"])
    assert list(df["subject_days"]) == [192, 79, 0]
    assert list(df["days_open"].fillna(-1)) == [166, 121, -1]  # S3 activates after as_of
    assert list(df["site_status"]) == ["active", "active", "selected"]


def test_a_site_with_visits_but_none_entered_has_an_empty_lag(empty_db_url):
    tiny_portfolio.build(empty_db_url)  # S2's only visit was never entered
    engine = make_engine(empty_db_url)
    with engine.connect() as conn:
        df = sites.site_kpis(conn, t1_scope(conn)).set_index("site_number")
    engine.dispose()
    assert int(df.loc["S2", "n_visits"]) == 1 and int(df.loc["S2", "n_visits_late"]) == 1
    assert pd.isna(df.loc["S2", "mean_entry_lag_days"])
    assert int(df.loc["S1", "n_queries"]) == 0 and pd.isna(df.loc["S1", "median_days_to_close"])


def test_the_country_roll_up_sums_its_sites(sites_url):
    engine = make_engine(sites_url)
    with engine.connect() as conn:
        df = sites.by_country(conn, t1_scope(conn)).set_index("country_code")
    engine.dispose()
    us, de = df.loc["US"], df.loc["DE"]
    assert (us.n_sites, us.n_sites_activated, us.n_enrolled, us.n_planned_subjects) == (2, 1, 2, 7)
    assert (us.n_visits, us.n_visits_late, us.n_queries, us.n_queries_open_30d, us.n_important_deviations) == (
        3,
        1,
        5,
        1,
        1,
    )
    assert (us.days_open, us.subject_days) == (166, 192)
    assert (de.n_sites, de.n_enrolled, de.n_visits, de.n_visits_late, de.n_queries, de.days_open, de.subject_days) == (
        1,
        1,
        2,
        2,
        3,
        121,
        79,
    )


@pytest.fixture
def t1(monkeypatch, sites_url):
    at = open_page(monkeypatch, sites_url, "sites", trial="T-1", as_of=AS_OF.isoformat())
    assert not at.exception
    return at


def test_the_trial_view_tiles_and_table(t1):
    tiles = metrics(t1)
    assert tiles["Sites active"] == "2"
    assert tiles["Non-enrolling sites"] == "0"
    assert tiles["Sites with a red flag"] == "0"
    table = t1.dataframe[0].value.set_index("site_name")
    assert list(table.index) == ["Boston General", "Charité Berlin", "Denver Health"]
    s1, s2, s3 = (table.loc[name] for name in table.index)
    assert s1["site"] == "./sites?trial=T-1&site=S1&as_of=2026-06-30&since=2026-06-23"
    assert (s1["n_enrolled"], s1["pct_of_target"]) == (2, 50)
    assert s1["entry_lag"] == pytest.approx(100 / 3) and s1["mean_entry_lag_days"] == pytest.approx(23 / 3)
    assert (s2["entry_lag"], s2["mean_entry_lag_days"]) == (100, 60)
    assert pd.isna(s3["entry_lag"]) and pd.isna(s3["mean_entry_lag_days"])  # no visits: empty, not 0
    assert (s1["query_aging"], s1["median_days_to_close"], s1["query_rate"]) == (
        20,
        7,
        pytest.approx(500 / 3),
    )  # per 100 visits
    assert (s1["screen_failure"], s1["dropout"]) == (pytest.approx(100 / 3), 50)
    assert s1["deviation_rate"] == pytest.approx(1 / 192 * 100 * 365.25 / 12)
    assert s1["enrollment_rate"] == pytest.approx(2 / (166 / (365.25 / 12)))
    assert [b.proto.label for b in t1.main.get("download_button")] == [
        "⬇️ Download sites (CSV)",
        "⬇️ Download countries (CSV)",
    ]


def test_the_funnel_plot_has_sites_and_limits_and_says_when_too_few_sites_can_be_flagged(t1):
    spec = json.loads(t1.get("plotly_chart")[0].proto.spec)
    names = [trace.get("name") for trace in spec["data"]]
    assert names == ["±3 limits", "±2 limits", "Pooled", "Sites"]
    assert [box.value for box in t1.selectbox if box.label == "Indicator"] == ["enrollment_rate"]
    assert any("Only 2 sites" in i and "no site can be amber or red" in i for i in t1.info.values)


def test_the_indicator_comes_from_the_link(monkeypatch, sites_url):
    at = open_page(monkeypatch, sites_url, "sites", trial="T-1", as_of=AS_OF.isoformat(), indicator="query_aging")
    assert not at.exception
    assert [box.value for box in at.selectbox if box.label == "Indicator"] == ["query_aging"]
    # No site has 10 queries: nothing to compare, and the page says so.
    assert any("Only 0 sites" in i for i in at.info.values)


def test_a_site_link_opens_its_drill_down(monkeypatch, sites_url):
    at = open_page(monkeypatch, sites_url, "sites", trial="T-1", site="S2", as_of=AS_OF.isoformat())
    assert not at.exception
    assert "Site S2 · Charité Berlin" in at.subheader.values
    drill = html_tables(at)[0]
    lag = next(r for r in drill if r["Indicator"].startswith("Late data entry"))
    assert lag["This site"] == "100%" and lag["Numerator ÷ denominator"] == "2 ÷ 2" and lag["Flag"] == "No data"
    text = visible_text(at)
    assert (
        "3 raised, 0 outstanding today" in text
        and "2 of 2 visits late (> 10 days) · mean visit entry lag 60.0 days" in text
    )
    # The tiny portfolio loads no adverse events: no data, not zero.
    assert "no adverse-event data loaded for this trial" in text


def test_an_unknown_site_says_not_found(monkeypatch, sites_url):
    at = open_page(monkeypatch, sites_url, "sites", trial="T-1", site="S9", as_of=AS_OF.isoformat())
    assert not at.exception
    assert any("Site 'S9' was not found in trial T-1" in w for w in notices(at))
    assert not any(v.startswith("Site S9") for v in at.subheader.values)


def test_the_portfolio_view_without_flags_says_so(monkeypatch, sites_url):
    at = open_page(monkeypatch, sites_url, "sites", as_of=AS_OF.isoformat())
    assert not at.exception
    assert "No site is flagged amber or red, and no active site is non-enrolling." in at.info.values


@pytest.fixture(scope="module")
def demo_url(tmp_path_factory):
    """The demo portfolio, whose BAD_SITE in BIG_TRIAL enters data slowly and leaves queries open."""
    url = f"sqlite:///{tmp_path_factory.mktemp('sites_demo') / 'demo.db'}"
    demo.build(url, seed=7, n_trials=7, today=date(2026, 11, 20))
    return url


def test_the_demo_bad_site_is_flagged_on_data_entry_and_queries(monkeypatch, demo_url):
    at = open_page(monkeypatch, demo_url, "sites", trial=demo.BIG_TRIAL, site=demo.BAD_SITE, as_of="2026-11-20")
    assert not at.exception
    flags = {r["Indicator"].split(" (")[0]: r for r in html_tables(at)[0]}
    assert flags["Late data entry"]["Flag"] == "At risk"
    assert flags["Query rate"]["Flag"] == "At risk"
    # 48 of its 96 queries are old, the others' almost none; with 11 sites of ≥ 10 queries |z| ≤ √11 and it reaches 2.79.
    assert (
        flags["Queries open > 30 days"]["Flag"] in ("Watch", "At risk")
        and float(flags["Queries open > 30 days"]["z"]) > 2
    )


def test_the_demo_portfolio_view_lists_the_bad_site_first_with_a_link(monkeypatch, demo_url):
    at = open_page(monkeypatch, demo_url, "sites", as_of="2026-11-20")
    assert not at.exception
    first = html_tables(at)[0][0]
    assert (first["Trial"], first["Site"]) == (demo.BIG_TRIAL, demo.BAD_SITE)
    assert (
        first["Site href"] == f"./sites?trial={demo.BIG_TRIAL}&site={demo.BAD_SITE}&as_of=2026-11-20&since=2026-11-13"
    )


def test_the_site_table_prints_every_row_with_the_columns_of_the_group_on_screen(t1):
    """A grid prints only what it shows on screen; its printed twin holds every row, formatted as the grid shows it."""
    from apptest_helpers import print_twins

    grid = t1.dataframe[0].value
    (twin,) = [t for t in print_twins(t1) if t and "Institution" in t[0]]
    assert [r["Institution"] for r in twin] == list(grid["site_name"])
    assert list(twin[0]) == [
        "Site",
        "Institution",
        "Country",
        "Status",
        "Flags",
        "Enrolled",
        "% of target",
        "Per site-month",
    ]
    boston = next(r for r in twin if r["Institution"] == "Boston General")
    assert (boston["Site"], boston["Enrolled"], boston["% of target"]) == ("S1", "2", "50%")
