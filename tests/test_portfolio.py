"""The portfolio page on the hand-counted tiny portfolio: tiles, trial table, links, charts, download."""

import json

import pytest

import tiny_portfolio
from apptest_helpers import html_tables, metrics, open_page, share_link, visible_text

AS_OF = tiny_portfolio.AS_OF.isoformat()


@pytest.fixture
def acme(monkeypatch, tiny_url):
    """The portfolio page for sponsor ACME as of the fixture's date."""
    at = open_page(monkeypatch, tiny_url, "portfolio", sponsor="ACME", as_of=AS_OF)
    assert not at.exception
    return at


def test_tiles_show_the_hand_counted_figures(acme):
    tiles = metrics(acme)
    assert tiles["Active trials"] == "2"
    assert tiles["Enrolled"] == "3"
    assert tiles["Sites active"] == "2"
    assert tiles["Budget spent"] == "38%"
    assert tiles["Milestones overdue"] == "1"  # T-2's drug product release: a contract milestone
    assert "3 of 18 planned subjects enrolled (17%)." in visible_text(acme)


def test_tiles_and_table_show_what_changed_since_the_compare_date(monkeypatch, tiny_url):
    # Between 30 Jun and 10 Jul: 005 enrolls in T-1 (07-05); T-2's site supply (baseline 07-01) becomes late.
    at = open_page(monkeypatch, tiny_url, "portfolio", sponsor="ACME", as_of="2026-07-10", since="2026-06-30")
    assert not at.exception
    deltas = {m.label: m.delta for m in at.metric}
    assert deltas["Enrolled"] == "+1"
    assert deltas["Milestones overdue"] == "+1"
    assert deltas["Active trials"] == "no change"
    (table,) = html_tables(at)
    changed = {row["Trial"]: row["Since 30 Jun 2026"] for row in table}
    assert "Enrolled: 3 → 4" in changed["T-1"]
    assert "CPI: 1.22 → 0.82" in changed["T-1"]  # 10/31 of the July invoice of 999 has accrued by 10 July
    assert changed["T-2"] == "Milestones overdue: 1 → 2"


def test_the_trial_table_has_one_row_per_trial_with_its_health_worst_first(acme):
    (table,) = html_tables(acme)
    assert [row["Trial"] for row in table] == ["T-1", "T-2"]
    t1, t2 = table
    assert t1["Trial href"] == "./overview?sponsor=ACME&trial=T-1&as_of=2026-06-30&since=2026-06-23"
    assert t1["Enrolled / target"] == "3 / 10 30%"
    assert t1["CPI"] == "1.22"  # budget on track: no reason in "why"
    assert t1["Indication"] == "NSCLC Oncology · phase II · Enrolling"
    assert t1["Worst milestone slip"] == "Last patient in +45 d"
    # Enrollment at risk (P(last patient in by 1 Dec) is low: 3 of 10 with 2 sites open); LPI forecast 45 days late.
    assert (
        t1["Why (red and amber)"].startswith("At risk Chance of LPI by plan ")
        and "At risk Last patient in +45 d" in t1["Why (red and amber)"]
    )
    assert "CPI" not in t1["Why (red and amber)"], "a green dimension is no reason"
    assert t2["CPI"] == "—"  # no contract: undefined, not zero
    assert t2["Worst milestone slip"] == "Drug product released +44 d"  # overdue since 1 Jun, expected 15 Jul
    assert t2["Why (red and amber)"] == "At risk Drug product released +44 d"  # not enrolling yet: enrollment grey
    assert t2["Overall"] == "At risk"


def test_other_sponsors_trials_are_absent_everywhere(acme):
    text = visible_text(acme)
    assert "T-1" in text and "T-2" in text
    assert "X-9" not in text and "Other Pharma" not in text
    for chart in acme.get("plotly_chart"):
        assert "X-9" not in chart.proto.spec


def test_a_deep_linked_trial_shows_only_that_trial(monkeypatch, tiny_url):
    at = open_page(monkeypatch, tiny_url, "portfolio", trial="T-1", as_of=AS_OF)
    assert not at.exception
    text = visible_text(at)
    assert "T-1" in text and "T-2" not in text and "X-9" not in text
    assert metrics(at)["Enrolled"] == "3"


def test_charts_have_the_named_traces(acme):
    specs = [json.loads(chart.proto.spec) for chart in acme.get("plotly_chart")]
    names = [[trace.get("name") for trace in spec["data"]] for spec in specs]
    # Every colour has its word in the legend: one trace per enrollment / budget health present.
    assert any(
        n[-2:] == ["Planned to date", "Target"] and all(x.startswith("Enrolled · ") for x in n[:-2]) for n in names
    )
    assert any(n and all(x.startswith("Budget · ") for x in n) for n in names)
    bars = next(s for s in specs if s["data"][-1]["name"] == "Target")
    # The value column beside the bars: "enrolled / target" for each trial, T-1 hand-counted.
    assert "3 / 10" in [a["text"] for a in bars["layout"]["annotations"]]
    # Top to bottom in the table's order, worst first.
    table_order = [row["Trial"] for row in html_tables(acme)[0]]
    assert bars["layout"]["yaxis"]["categoryarray"][::-1] == table_order


def test_a_long_trial_table_is_read_a_page_at_a_time_with_its_charts(monkeypatch, tiny_url):
    from dashboard import ui

    monkeypatch.setattr(ui, "TRIALS_PER_PAGE", 1)
    at = open_page(monkeypatch, tiny_url, "portfolio", sponsor="ACME", as_of=AS_OF)
    assert not at.exception
    pager = next(s for s in at.selectbox if s.label == "Showing trials")
    assert pager.options == ["1–1 of 2", "2–2 of 2"]
    first = [row["Trial"] for row in html_tables(at)[0]]
    bars = [
        y
        for c in at.get("plotly_chart")
        for t in json.loads(c.proto.spec)["data"]
        if t["name"].startswith("Enrolled")
        for y in t["y"]
    ]
    assert len(first) == 1 and bars == first, "the chart shows the trials of the table's page"
    assert metrics(at)["Enrolled"] == "3", "the tiles still count every trial"
    pager.select(1).run()
    second = [row["Trial"] for row in html_tables(at)[0]]
    assert len(second) == 1 and second != first
    # The address says the page, so a copied link opens the same rows.
    assert at.query_params["page"] == ["2"] or at.query_params["page"] == "2"
    again = open_page(monkeypatch, tiny_url, "portfolio", query={"page": "2"}, sponsor="ACME", as_of=AS_OF)
    assert [row["Trial"] for row in html_tables(again)[0]] == second
    assert "page=2" in share_link(again)
    # A page past the end shows the last one; one that is not a number is dropped with a notice.
    past_end = open_page(monkeypatch, tiny_url, "portfolio", query={"page": "9"}, sponsor="ACME", as_of=AS_OF)
    assert [row["Trial"] for row in html_tables(past_end)[0]] == second
    bad = open_page(monkeypatch, tiny_url, "portfolio", query={"page": "2; drop"}, sponsor="ACME", as_of=AS_OF)
    assert [row["Trial"] for row in html_tables(bad)[0]] == first and "table page must be a number" in visible_text(bad)


def test_the_table_downloads_as_csv(acme):
    buttons = acme.main.get("download_button")
    assert len(buttons) == 1
    assert "CSV" in buttons[0].proto.label


def test_a_portfolio_without_budgets_says_so_where_the_cost_chart_would_be(monkeypatch, tmp_path):
    from sqlalchemy import create_engine, text

    url = f"sqlite:///{tmp_path / 'no_budget.db'}"
    tiny_portfolio.build(url)
    engine = create_engine(url)
    with engine.begin() as conn:
        for table in ("actual_cost", "planned_spend", "change_order", "unit_price", "contract"):
            conn.execute(text(f"delete from {table}"))
    engine.dispose()
    at = open_page(monkeypatch, url, "portfolio", sponsor="ACME", as_of=AS_OF)
    assert not at.exception
    assert "cost and schedule performance (CPI, SPI) cannot be drawn" in visible_text(at)
    names = [[t.get("name") for t in json.loads(c.proto.spec)["data"]] for c in at.get("plotly_chart")]
    assert not any(x.startswith("Budget · ") for n in names for x in n)
    assert any(n[-2:] == ["Planned to date", "Target"] for n in names)


@pytest.mark.parametrize(
    "wanted", [[1.0, 1.0, 1.0, 1.0], [1.2, 1.19, 0.7, 0.69, 0.68], [0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7]]
)
def test_scatter_names_are_spread_at_least_a_line_apart_inside_the_plot(wanted):
    from dashboard.charts import _spread

    low, high, gap = 0.65, 1.25, 0.06
    ys = _spread(sorted(wanted, reverse=True), low, high, gap)
    assert all(low - 1e-9 <= y <= high + 1e-9 for y in ys)
    assert all(a - b >= gap - 1e-9 for a, b in zip(ys, ys[1:]))
    # A name stays beside its point when there is room.
    if wanted == [1.2, 1.19, 0.7, 0.69, 0.68]:
        assert ys[0] == 1.2 and ys[1] == pytest.approx(1.14)
