"""The enrollment page on the hand-counted tiny portfolio: tiles, curves and forecast fan, funnel, portfolio view."""

import base64
import json

import numpy as np
import pytest

import tiny_portfolio
from apptest_helpers import html_tables, metrics, open_page, visible_text

AS_OF = tiny_portfolio.AS_OF.isoformat()


@pytest.fixture
def t1(monkeypatch, tiny_url):
    """The enrollment view of trial T-1 as of the fixture's date."""
    at = open_page(monkeypatch, tiny_url, "enrollment", trial="T-1", as_of=AS_OF)
    assert not at.exception
    return at


def test_trial_tiles_show_the_hand_counted_figures(t1):
    tiles = metrics(t1)
    assert tiles["Enrolled"] == "3"
    assert tiles["% of plan to date"] == "43%"  # 3 of 7 planned by 30 June
    # Nobody enrolled between 23 and 30 June (the compare date defaults to a week before).
    assert next(m for m in t1.metric if m.label == "Enrolled").delta == "no change"
    assert "Last patient in (model P50)" in tiles
    assert tiles["Last patient in (CRO forecast)"] == "15 Jan 2027"  # recorded 1 June
    assert "3 of 10 target (30%) · plan 7 by now · planned LPI 01 Dec 2026" in visible_text(t1)


def test_trial_tiles_show_the_change_since_the_compare_date(monkeypatch, tiny_url):
    # 005 enrolls on 07-05: one more between 30 Jun and 10 Jul; the plan (7 by end of June) grows in July too.
    at = open_page(monkeypatch, tiny_url, "enrollment", trial="T-1", as_of="2026-07-10", since="2026-06-30")
    assert not at.exception
    deltas = {m.label: m.delta for m in at.metric}
    assert deltas["Enrolled"] == "+1"
    assert deltas["Chance of LPI by plan"].endswith(" pts")


def test_the_curve_has_actual_plan_and_the_forecast_fan_of_simulated_paths(t1):
    spec = json.loads(t1.get("plotly_chart")[0].proto.spec)
    names = [trace.get("name") for trace in spec["data"]]
    assert names == ["Plan", "Actual", "P10–P90 of simulated paths", "Median path", "Median last patient in"]
    band, median, marker = (plotly_values(trace["y"]) for trace in spec["data"][2:])
    # Drawn from the paths, not two straight lines: many points, from today's 3 enrolled up to the target of 10.
    assert len(median) > 10 and median[0] == 3 and median == sorted(median)
    assert min(band) == 3 and max(band) == 10
    assert list(marker) == [10]


def plotly_values(values) -> list:
    """A Plotly array as a list (Plotly sends numbers as base64 "bdata" with a dtype)."""
    if isinstance(values, dict):
        return np.frombuffer(base64.b64decode(values["bdata"]), dtype=values["dtype"]).tolist()
    return list(values)


def test_the_funnel_and_its_rates(t1):
    specs = [json.loads(chart.proto.spec) for chart in t1.get("plotly_chart")]
    funnel = next(s for s in specs if s["data"][0].get("type") == "funnel")
    assert funnel["data"][0]["name"] == "Subjects"
    text = visible_text(t1)
    assert "Screen-failure rate 25%" in text  # 1 failed of 4 with a known outcome
    assert "dropout rate 33%" in text  # 1 discontinued of 3 enrolled


def test_other_trials_are_absent(t1):
    text = visible_text(t1)
    assert "T-1" in text and "T-2" not in text and "X-9" not in text


def test_the_portfolio_view_lists_each_trial_with_a_link_to_its_view(monkeypatch, tiny_url):
    at = open_page(monkeypatch, tiny_url, "enrollment", sponsor="ACME", as_of=AS_OF)
    assert not at.exception
    (table,) = html_tables(at)
    by_trial = {row["Trial"]: row for row in table}
    assert set(by_trial) == {"T-1", "T-2"}
    assert by_trial["T-1"]["Enrolled / target"] == "3 / 10"
    assert by_trial["T-1"]["Planned LPI"] == "01 Dec 2026"
    assert by_trial["T-1"]["Trial href"] == "./enrollment?sponsor=ACME&trial=T-1&as_of=2026-06-30&since=2026-06-23"
    assert len(at.main.get("download_button")) == 1


def test_the_portfolio_view_is_read_a_page_at_a_time(monkeypatch, tiny_url):
    from dashboard import ui

    monkeypatch.setattr(ui, "TRIALS_PER_PAGE", 1)
    at = open_page(monkeypatch, tiny_url, "enrollment", sponsor="ACME", as_of=AS_OF)
    assert not at.exception
    pager = next(s for s in at.selectbox if s.label == "Showing trials")
    (first,) = html_tables(at)
    pager.select(1).run()
    (second,) = html_tables(at)
    assert {row["Trial"] for row in first + second} == {"T-1", "T-2"} and len(first) == len(second) == 1


def test_a_trial_with_too_few_sites_forecasts_from_the_planned_rate_and_says_so(t1):
    # T-1 has 2 sites open (S3 is planned but not activated): too few to fit, so the plan's rate is the prior.
    assert any("Too little data to fit" in c and "planned" in c for c in t1.caption.values)
    p = next(m for m in t1.metric if m.label == "Chance of LPI by plan").value
    assert p.endswith("%") and int(p[:-1]) < 50


def test_a_trial_with_no_site_open_yet_draws_its_forecast_from_the_first_opening(monkeypatch, tmp_path):
    from datetime import date

    import pandas as pd

    from dashboard import demo

    url = f"sqlite:///{tmp_path / 'demo.db'}"
    demo.build(url, seed=7, n_trials=7, today=date(2026, 11, 20))
    at = open_page(monkeypatch, url, "enrollment", trial=demo.SUPPLY_RISK_TRIAL, as_of="2026-11-20")
    assert not at.exception
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    median = next(t for t in spec["data"] if t.get("name") == "Median path")
    # The start-up trial has no site open on 20 Nov: the simulated paths stay at 0 until the first one opens.
    x, y = [pd.Timestamp(d) for d in median["x"]], plotly_values(median["y"])
    first_opening = min(pd.Timestamp(d) for d in demo_sites_opening(url, demo.SUPPLY_RISK_TRIAL))
    rising = [when for when, count in zip(x, y) if count > 0]
    assert y[0] == 0 and rising and min(rising) >= first_opening > pd.Timestamp("2026-11-20")


def demo_sites_opening(url: str, protocol: str) -> list:
    """The planned activation dates of a trial's sites."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "select s.planned_activation_date from site s join trial t on t.trial_id = s.trial_id "
                "where t.protocol_number = :p and s.planned_activation_date is not null"
            ),
            {"p": protocol},
        )
        found = [r[0] for r in rows]
    engine.dispose()
    return found


def test_without_an_activation_plan_the_page_says_so_instead_of_a_plan_at_zero(monkeypatch, tmp_path):
    from sqlalchemy import create_engine, text

    url = f"sqlite:///{tmp_path / 'no_plan.db'}"
    tiny_portfolio.build(url)
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("update site set planned_activation_date = null"))
    engine.dispose()
    at = open_page(monkeypatch, url, "enrollment", trial="T-1", as_of=AS_OF)
    assert not at.exception
    text_shown = visible_text(at)
    assert "No activation plan is loaded for this trial" in text_shown
    assert "has not yet reached 25 %" not in text_shown
    chart = next(
        json.loads(c.proto.spec)
        for c in at.get("plotly_chart")
        if "Site activation" in json.dumps(json.loads(c.proto.spec)["layout"].get("title", ""))
    )
    assert [t["name"] for t in chart["data"]] == ["Activated sites"]
    # With the plan, the same chart draws it.
    with_plan = open_page(monkeypatch, _plain_tiny(tmp_path), "enrollment", trial="T-1", as_of=AS_OF)
    chart = next(
        json.loads(c.proto.spec)
        for c in with_plan.get("plotly_chart")
        if "Site activation" in json.dumps(json.loads(c.proto.spec)["layout"].get("title", ""))
    )
    assert [t["name"] for t in chart["data"]] == ["Planned sites", "Activated sites"]


def _plain_tiny(tmp_path) -> str:
    url = f"sqlite:///{tmp_path / 'plain.db'}"
    tiny_portfolio.build(url)
    return url
