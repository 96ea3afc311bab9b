"""Vendor milestones: scorecards counted by hand, forecast history, supply risk, and the Vendors page in AppTest and Chromium."""

import json
import re
from datetime import date, timedelta

import pandas as pd
import pytest
from sqlalchemy import insert

import tiny_portfolio
from apptest_helpers import html_tables, metrics, open_page, visible_text
from dashboard import demo, health, schema
from dashboard.access import Scope
from dashboard.db import make_engine
from dashboard.settings import Settings
from queries import vendors

AS_OF = tiny_portfolio.AS_OF
D = date.fromisoformat
ACME, OTHER = (1,), (2,)


@pytest.fixture(scope="module")
def supply_url(tmp_path_factory):
    """The tiny portfolio plus a near miss in T-1 and a trial without milestones (T-3).

    T-2 (tiny): site supply ready forecast 07-20 + 14 days lead > first site activated 08-01: conflict of 2 days.
    T-1 (added): site supply ready baseline 07-25, no forecast, precedes 50 % of sites activated on 08-15 with
    14 days lead: margin 08-15 − 14 − 07-25 = 7 days, a near miss (< 14).
    """
    url = f"sqlite:///{tmp_path_factory.mktemp('vendors') / 'supply.db'}"
    tiny_portfolio.build(url)
    engine = make_engine(url, read_only=False)
    common = dict(milestone_kind="contract", is_key=False, payment_amount=0, payment_status="not_due", actual_date=None)
    with engine.begin() as conn:
        conn.execute(
            insert(schema.milestone),
            [
                dict(
                    milestone_id=8,
                    trial_id=1,
                    vendor_id=1,
                    lane="CRO",
                    milestone_code="SITES_50",
                    milestone_name="50 % of sites activated",
                    sequence=5,
                    baseline_date=D("2026-08-15"),
                    precedes_milestone_id=None,
                    lead_time_days=0,
                    **common,
                ),
                dict(
                    milestone_id=7,
                    trial_id=1,
                    vendor_id=2,
                    lane="CMO",
                    milestone_code="SITE_SUPPLY_READY",
                    milestone_name="Site supply ready",
                    sequence=8,
                    baseline_date=D("2026-07-25"),
                    precedes_milestone_id=8,
                    lead_time_days=14,
                    **common,
                ),
            ],
        )
        conn.execute(
            insert(schema.trial),
            [
                dict(
                    trial_id=4,
                    sponsor_id=1,
                    protocol_number="T-3",
                    trial_title="Tiny trial without vendors",
                    phase="I",
                    therapeutic_area="Oncology",
                    indication="Melanoma",
                    trial_status="planned",
                    n_planned_sites=1,
                    n_planned_subjects=2,
                )
            ],
        )
    engine.dispose()
    return url


def _scope(sponsors=ACME, as_of=AS_OF, since=None, **kw) -> Scope:
    return Scope(sponsor_ids=sponsors, as_of=as_of, since=since or as_of - timedelta(days=7), **kw)


def _query(url, function, scope, **kwargs) -> pd.DataFrame:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return function(conn, scope, **kwargs)
    finally:
        engine.dispose()


# --- Scorecard ---------------------------------------------------------------------------------


def test_the_scorecard_is_counted_by_hand(tiny_url):
    card = _query(tiny_url, vendors.vendor_scorecard, _scope()).set_index("vendor_code")
    cro = card.loc["CRO1"]
    # T-1 FPI done 9 days late; T-1 LPI forecast 45 days late; T-2 first site activated on its baseline.
    assert (cro.n_trials, cro.n_milestones, cro.n_done, cro.n_done_on_time) == (2, 3, 1, 0)
    assert cro.mean_slip_days == pytest.approx((9 + 45 + 0) / 3) and cro.worst_slip_days == 45
    assert (cro.n_overdue, cro.n_due_30, cro.n_due_60, cro.n_due_90) == (0, 0, 1, 1)
    assert cro.payments_due_amount == 0 and cro.reporting_currency == "USD"
    cmo = card.loc["CMO1"]
    # T-2 drug product released: overdue, forecast 07-15 (slip 44); site supply ready forecast 07-20 (slip 19).
    assert (cmo.n_trials, cmo.n_milestones, cmo.n_done, cmo.n_done_on_time) == (1, 2, 0, 0)
    assert cmo.mean_slip_days == pytest.approx(31.5) and cmo.worst_slip_days == 44
    assert (cmo.n_overdue, cmo.n_due_30, cmo.n_due_60, cmo.n_due_90) == (1, 1, 1, 1)
    assert cmo.payments_due_amount == 300  # the overdue release's fee


def test_the_scorecard_does_not_count_another_sponsors_trials_of_a_shared_vendor(tiny_url):
    acme = _query(tiny_url, vendors.vendor_scorecard, _scope(ACME)).set_index("vendor_code")
    other = _query(tiny_url, vendors.vendor_scorecard, _scope(OTHER)).set_index("vendor_code")
    # CRO1 also runs X-9 for OTHER (FPI done 4 days late): ACME does not see it, OTHER sees only it.
    assert acme.loc["CRO1", "n_milestones"] == 3 and acme.loc["CRO1", "n_trials"] == 2
    assert list(other.index) == ["CRO1"]
    assert (other.loc["CRO1", "n_trials"], other.loc["CRO1", "n_milestones"], other.loc["CRO1", "worst_slip_days"]) == (
        1,
        1,
        4,
    )
    assert other.loc["CRO1", "reporting_currency"] == "EUR"


def test_payments_in_different_currencies_are_not_summed(tiny_url):
    both = _query(tiny_url, vendors.vendor_scorecard, _scope(ACME + OTHER)).set_index("vendor_code")
    assert pd.isna(both.loc["CRO1", "payments_due_amount"]) and pd.isna(both.loc["CRO1", "reporting_currency"])
    assert both.loc["CMO1", "payments_due_amount"] == 300  # CMO1 works for ACME only


def test_the_tolerance_decides_what_is_on_time(tiny_url):
    card = _query(tiny_url, vendors.vendor_scorecard, _scope(), tolerance_days=10).set_index("vendor_code")
    assert card.loc["CRO1", "n_done_on_time"] == 1  # FPI 9 days late is within 10 days


@pytest.mark.parametrize("as_of", [D("2026-01-15"), D("2026-03-01"), AS_OF, D("2026-07-16"), D("2026-09-01")])
def test_the_scorecards_slips_are_those_of_milestone_status(tiny_url, as_of):
    """The scorecard aggregates slips in SQL: they must be the slips of metrics.milestone_status, milestone by milestone."""
    scope = _scope(ACME + OTHER, as_of=as_of)
    statuses = health.milestone_statuses(_query(tiny_url, vendors.milestones, scope), as_of, Settings())
    expected = statuses.groupby("vendor_code")["slip_days"].agg(["mean", "max"])
    card = _query(tiny_url, vendors.vendor_scorecard, scope).set_index("vendor_code")
    for code, row in expected.iterrows():
        assert card.loc[code, "mean_slip_days"] == pytest.approx(float(row["mean"]))
        assert card.loc[code, "worst_slip_days"] == row["max"]


# --- Forecast history --------------------------------------------------------------------------


def test_the_forecast_as_recorded_on_an_earlier_date_is_the_value_recorded_then(tiny_url):
    # T-1 LPI: recorded 2025-12-01 → 2026-12-01, 2026-06-01 → 2027-01-15, 2026-07-10 → 2027-03-01.
    def lpi_on(day):
        rows = _query(tiny_url, vendors.milestones, _scope(as_of=day, trial="T-1"))
        return rows.set_index("milestone_code").loc["LPI", "forecast_date"].date()

    assert lpi_on(D("2026-05-31")) == D("2026-12-01")
    assert lpi_on(D("2026-06-01")) == D("2027-01-15")
    assert lpi_on(AS_OF) == D("2027-01-15")  # the July re-forecast was not yet recorded
    assert lpi_on(D("2026-07-10")) == D("2027-03-01")
    history = _query(tiny_url, vendors.forecast_history, _scope(trial="T-1"))
    assert list(history["recorded_date"].dt.date) == [D("2025-12-01"), D("2026-06-01")]


def test_what_moved_compares_the_forecast_recorded_on_since_with_that_on_as_of(tiny_url):
    week = _query(tiny_url, vendors.forecast_changes, _scope()).set_index("milestone_code")
    # Since 06-23: the release was re-forecast on 06-25 (06-01 → 07-15); site supply ready got its first
    # forecast (07-20), so it moved from its baseline (07-01).
    assert set(week.index) == {"DP_RELEASED", "SITE_SUPPLY_READY"}
    assert (
        week.loc["DP_RELEASED", "old_forecast_date"].date(),
        week.loc["DP_RELEASED", "new_forecast_date"].date(),
    ) == (
        D("2026-06-01"),
        D("2026-07-15"),
    )
    assert week.loc["DP_RELEASED", "days_moved"] == 44 and week.loc["SITE_SUPPLY_READY", "days_moved"] == 19
    longer = _query(tiny_url, vendors.forecast_changes, _scope(since=D("2026-05-15"))).set_index("milestone_code")
    assert longer.loc["LPI", "days_moved"] == 45  # 2026-12-01 → 2027-01-15, recorded 06-01


# --- Supply risk -------------------------------------------------------------------------------


def test_supply_links_give_both_dates_as_of(supply_url):
    links = _query(supply_url, vendors.supply_links, _scope()).set_index("protocol_number")
    assert links.loc["T-2", "supply_date"].date() == D("2026-07-20") and links.loc["T-2", "clinical_date"].date() == D(
        "2026-08-01"
    )
    assert links.loc["T-1", "supply_date"].date() == D("2026-07-25")  # no forecast: the baseline
    assert links.loc["T-1", "clinical_name"] == "50 % of sites activated"


@pytest.fixture
def t2(monkeypatch, supply_url):
    at = open_page(monkeypatch, supply_url, "vendors", trial="T-2", as_of=AS_OF.isoformat())
    assert not at.exception
    return at


def test_the_supply_conflict_is_at_the_top_of_the_trial_view(t2):
    (error,) = t2.error.values
    assert "Site supply ready" in error and "First site activated" in error and "2 days late" in error
    risk_table = html_tables(t2)[0]
    assert [
        (r["Risk"], r["Threatens"].split(" Global")[0], r["Margin"], r["Days of conflict"]) for r in risk_table
    ] == [
        ("Supply conflict", "First site activated", "-2 d", "2 d"),
    ]
    assert metrics(t2)["Supply conflicts"] == "1"


def test_the_trial_timeline_has_both_lanes_baselines_statuses_and_the_supply_link(t2):
    spec = json.loads(t2.get("plotly_chart")[0].proto.spec)
    names = {trace.get("name") for trace in spec["data"] if trace.get("showlegend", True)}
    assert {
        "Baseline (contracted)",
        "Overdue",
        "Forecast late",
        "On track",
        "Supply must precede",
        "Supply needed by",
    } <= names
    lanes = {lane for trace in spec["data"] if trace.get("name") == "Baseline (contracted)" for lane in trace["y"][0]}
    assert lanes == {"Clinical (CRO)", "Supply (CMO)"}
    assert spec["layout"]["shapes"], "a line at as_of"


def test_the_portfolio_view_lists_conflicts_and_near_misses(monkeypatch, supply_url):
    at = open_page(monkeypatch, supply_url, "vendors", sponsor="ACME", as_of=AS_OF.isoformat())
    assert not at.exception
    risks = html_tables(at)[0]
    assert [(r["Risk"], r["Trial"], r["Margin"]) for r in risks] == [
        ("Supply conflict", "T-2", "-2 d"),
        ("Near miss", "T-1", "+7 d"),
    ]
    assert risks[0]["Trial href"] == "./vendors?sponsor=ACME&trial=T-2&as_of=2026-06-30&since=2026-06-23"
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert spec["layout"]["title"]["text"] == "Key milestones across the portfolio"
    assert {t["name"] for t in spec["data"]} >= {"Baseline (contracted)", "Done late", "Overdue"}


def test_the_portfolio_timeline_draws_each_slip_from_its_baseline_to_its_date(monkeypatch, supply_url):
    at = open_page(monkeypatch, supply_url, "vendors", sponsor="ACME", as_of=AS_OF.isoformat())
    traces = {t["name"]: t for t in json.loads(at.get("plotly_chart")[0].proto.spec)["data"]}
    slip, baseline = traces.pop("Slip (baseline → forecast/actual)"), traces.pop("Baseline (contracted)")
    # One segment per milestone, baseline → due, each ended by a gap so trials and milestones are not joined up.
    starts, ends, gaps = slip["x"][0::3], slip["x"][1::3], slip["x"][2::3]
    assert set(gaps) == {None} and starts == baseline["x"] and slip["y"][0::3] == baseline["y"]
    points = {(y, x) for t in traces.values() for y, x in zip(t["y"], t["x"])}
    assert points == set(zip(slip["y"][1::3], ends))
    assert all(re.fullmatch(r"\d{4}-\d{2}-\d{2}", day) for day in starts + ends)


def test_a_long_milestone_table_is_sent_a_page_at_a_time(monkeypatch, tiny_url):
    from dashboard import ui

    full = open_page(monkeypatch, tiny_url, "vendors", sponsor="ACME", as_of=AS_OF.isoformat())
    everything = full.dataframe[-1].value.reset_index(drop=True)
    assert len(everything) > 4
    assert not [s for s in full.selectbox if s.label == "Showing milestones"], "a short table has no page selector"
    monkeypatch.setattr(ui.widgets, "PAGE_ROWS", 2)  # where page_of reads it
    at = open_page(monkeypatch, tiny_url, "vendors", sponsor="ACME", as_of=AS_OF.isoformat())
    pager = [s for s in at.selectbox if s.label == "Showing milestones"][-1]
    pages = -(-len(everything) // 2)
    assert pager.value == 0 and len(pager.options) == pages and pager.options[0] == f"1–2 of {len(everything)}"
    assert at.dataframe[-1].value.reset_index(drop=True).equals(everything.iloc[:2])
    pager.select(2).run()
    assert not at.exception
    assert at.dataframe[-1].value.reset_index(drop=True).equals(everything.iloc[2:4].reset_index(drop=True))


def test_the_portfolio_timeline_picks_the_trials_in_the_worst_state_first():
    rows = [  # protocol, rag, slip, done
        ("A", "green", -2, False),
        ("A", "red", 50, True),  # a red slip already done does not count
        ("B", "amber", 10, False),
        ("B", "green", 0, False),
        ("C", "amber", 25, False),
        ("D", "red", 40, False),
        ("E", "green", 0, True),  # nothing open: last
        ("F", "green", 3, False),
    ]
    statuses = pd.DataFrame(rows, columns=["protocol_number", "rag", "slip_days", "is_done"]).astype(
        {"slip_days": "Int64"}
    )
    assert health.most_slipped_trials(statuses, 10) == ["D", "C", "B", "F", "A", "E"]
    assert health.most_slipped_trials(statuses, 2) == ["D", "C"]
    assert health.most_slipped_trials(statuses.assign(is_done=True), 3) == ["A", "B", "C"], "nothing open: by protocol"


def test_the_portfolio_timeline_draws_the_trials_in_the_order_given_top_down(supply_url):
    from dashboard import charts
    from dashboard.metrics import MILESTONE_STATUS_LABEL

    statuses = health.milestone_statuses(
        _query(supply_url, vendors.milestones, Scope((1,), AS_OF, AS_OF)), AS_OF, Settings()
    )
    key = statuses[statuses["is_key"].astype(bool)]
    assert set(key["protocol_number"]) == {"T-1", "T-2"}

    def top_down(order):
        spec = charts.portfolio_timeline(
            key, as_of=AS_OF, status_labels=MILESTONE_STATUS_LABEL, order=order
        ).to_plotly_json()
        return list(spec["layout"]["yaxis"]["categoryarray"])[::-1]  # Plotly draws the first category at the bottom

    assert top_down(None) == ["T-1", "T-2"]
    assert top_down(["T-2", "T-1", "T-9"]) == ["T-2", "T-1"], "worst first; a trial not drawn is left out"


def test_a_trial_without_milestones_gets_a_plain_message(monkeypatch, supply_url):
    at = open_page(monkeypatch, supply_url, "vendors", trial="T-3", as_of=AS_OF.isoformat())
    assert not at.exception
    assert any("No vendor milestones" in i for i in at.info.values)


# --- The page on the tiny portfolio ------------------------------------------------------------


def test_the_portfolio_view_shows_the_hand_counted_scorecard_and_what_moved(monkeypatch, tiny_url):
    at = open_page(monkeypatch, tiny_url, "vendors", sponsor="ACME", as_of=AS_OF.isoformat())
    assert not at.exception
    tables = html_tables(at)
    moved = next(t for t in tables if t and "Forecast: was → now" in t[0])
    assert {(r["Trial"], r["Milestone"].split(" CMO")[0], r["Moved"]) for r in moved} == {
        ("T-2", "Drug product released", "🔺 +44 d"),
        ("T-2", "Site supply ready", "🔺 +19 d"),
    }
    # The vendor's kind is written under its name ("Global Clinical CRO CRO").
    card = {r["Vendor"].rsplit(" ", 1)[0]: r for r in next(t for t in tables if t and "Worst slip" in t[0])}
    assert card["Global Clinical CRO"]["Vendor"].endswith(" CRO") and card["Fill & Finish CMO"]["Vendor"].endswith(
        " CMO"
    )
    assert (card["Global Clinical CRO"]["Trials"], card["Global Clinical CRO"]["Milestones"]) == ("2", "3")
    assert card["Global Clinical CRO"]["On time"] == "0% (0/1)"
    assert (
        card["Fill & Finish CMO"]["On time"] == "— none done yet"
        and card["Fill & Finish CMO"]["Payments ≤ 90 d"] == "300 USD"
    )
    assert "X-9" not in visible_text(at)
    assert len(at.get("download_button")) >= 4


def test_since_in_the_link_widens_what_moved(monkeypatch, tiny_url):
    at = open_page(monkeypatch, tiny_url, "vendors", sponsor="ACME", as_of=AS_OF.isoformat(), since="2026-05-15")
    assert not at.exception
    assert "What moved since 15 May 2026" in at.subheader.values
    assert metrics(at)["Forecasts moved"] == "3"


# --- The demo in Chromium ----------------------------------------------------------------------

DEMO_TODAY = date(2026, 11, 20)
CHART = '[data-testid="stPlotlyChart"] .main-svg'


@pytest.fixture(scope="module")
def demo_url(tmp_path_factory):
    """The demo portfolio on a fixed date: SUPPLY_RISK_TRIAL's site supply is planted 18 days too late."""
    url = f"sqlite:///{tmp_path_factory.mktemp('vendors_demo') / 'demo.db'}"
    demo.build(url, today=DEMO_TODAY)
    return url


def test_the_demo_late_cmo_release_shows_as_a_supply_risk_in_the_browser(page, app_server, demo_url):
    base = app_server(demo_url)
    page.goto(f"{base}/vendors?trial={demo.SUPPLY_RISK_TRIAL}&as_of={DEMO_TODAY}")
    page.wait_for_selector(CHART)
    main = page.get_by_test_id("stMain")
    page.get_by_role("heading", name=f"Vendors · {demo.SUPPLY_RISK_TRIAL}").wait_for()
    alert = main.get_by_test_id("stAlertContentError").first
    # The demo links site supply ready to first site activated (not FPI): that is the milestone shown as threatened.
    assert "Site supply ready" in alert.inner_text() and "threatens First site activated" in alert.inner_text()
    assert "Supply conflict" in main.locator("table.dash-table").first.inner_text()
    chart = page.locator('[data-testid="stPlotlyChart"]').first
    legend = chart.locator(".legendtext").evaluate_all("nodes => nodes.map(n => n.textContent)")
    assert "Baseline (contracted)" in legend and "Supply must precede" in legend
    assert chart.locator(".scatterlayer .trace").count() > 5
    assert "Traceback" not in main.inner_text()


def tiny_with_milestone(tmp_path, forecast_date: str, **milestone) -> str:
    """The tiny portfolio plus one open milestone of T-1 (`milestone`'s fields over plain defaults) and its forecast
    recorded on 2026-06-01."""
    url = f"sqlite:///{tmp_path / 'milestone.db'}"
    tiny_portfolio.build(url)
    row = dict(
        milestone_id=30,
        trial_id=1,
        vendor_id=1,
        lane="CRO",
        milestone_kind="contract",
        sequence=30,
        is_key=False,
        actual_date=None,
        payment_amount=0,
        payment_status="not_due",
        precedes_milestone_id=None,
        lead_time_days=0,
    )
    row.update(milestone)
    engine = make_engine(url, read_only=False)
    with engine.begin() as conn:
        conn.execute(insert(schema.milestone), [row])
        conn.execute(
            insert(schema.milestone_forecast),
            [
                dict(
                    milestone_forecast_id=300,
                    milestone_id=row["milestone_id"],
                    recorded_date=D("2026-06-01"),
                    forecast_date=D(forecast_date),
                )
            ],
        )
    engine.dispose()
    return url


def test_an_expiry_date_moved_a_year_later_reads_as_extended_not_late(monkeypatch, tmp_path):
    url = tiny_with_milestone(
        tmp_path,
        "2028-06-30",
        vendor_id=2,
        lane="CMO",
        milestone_code="EXPIRY",
        milestone_name="Expiry / re-test date",
        milestone_kind="expiry",
        baseline_date=D("2027-06-30"),
    )
    at = open_page(monkeypatch, url, "vendors", trial="T-1", as_of=AS_OF.isoformat())
    assert not at.exception
    table = at.dataframe[-1].value
    row = table[table["milestone_name"] == "Expiry / re-test date"].iloc[0]
    assert (row["status_label"], row["colour"], int(row["slip_days"])) == ("🟢 Extended", "🟢 On track", 366)
    assert "Expiry" not in " ".join(r.get("Milestone", "") for t in html_tables(at) for r in t), (
        "an expiry is not a milestone that is late or due"
    )


def test_an_overdue_fee_counts_as_due_whatever_its_forecast_says(tmp_path):
    """Payments due are the fees of open milestones overdue *or* expected within 90 days: an overdue milestone whose
    forecast is now months away still owes its fee (the page's caption and the count agree)."""
    url = tiny_with_milestone(
        tmp_path,
        "2026-12-15",
        milestone_code="ENR_50",
        milestone_name="50 % enrolled",
        baseline_date=D("2026-06-01"),
        payment_amount=500,
    )
    cro = _query(url, vendors.vendor_scorecard, _scope()).set_index("vendor_code").loc["CRO1"]
    assert cro.n_overdue == 1 and cro.payments_due_amount == 500
