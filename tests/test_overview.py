"""Trial overview: one trial's health, enrollment, worst sites, budget, milestones and changes, each linking to its page."""

import pandas as pd

import tiny_portfolio
from apptest_helpers import html_tables, metrics, open_page, read, visible_text

AS_OF = tiny_portfolio.AS_OF.isoformat()


def test_the_overview_of_t1_shows_the_hand_counted_figures_and_links_to_every_page(monkeypatch, tiny_url):
    at = open_page(monkeypatch, tiny_url, "overview", trial="T-1", as_of=AS_OF)
    assert not at.exception
    assert read(at.title[0].value) == "Trial overview · T-1"
    tiles = metrics(at)
    assert tiles["Enrolled"] == "3"
    assert tiles["% of plan to date"] == "43%"
    assert tiles["CPI"] == "1.22"  # EV 550 ÷ AC 450
    assert tiles["Budget (BAC)"] == "$1.2k" and tiles["Actual cost (AC)"] == "$450"
    # The LPI: the CRO's forecast recorded on 1 June beside the model's median, and the days between them.
    assert tiles["Last patient in (CRO forecast)"] == "15 Jan 2027"
    model = tiles["Last patient in (model P50)"]
    gap = (pd.Timestamp(model) - pd.Timestamp("2027-01-15")).days
    assert tiles["Model P50 − CRO forecast"] == f"{gap:+,} d"
    tables = html_tables(at)
    milestones = tables[-1]
    lpi = next(m for m in milestones if m["Milestone"].startswith("Last patient in"))
    assert lpi["Slip"] == "+45 d" and lpi["Expected"] == "15 Jan 2027"
    links = [html for html in at.get("html") if "→" in html.proto.body]
    targets = " ".join(html.proto.body for html in links)
    for page in ("enrollment", "sites", "budget", "vendors"):
        assert f"./{page}?trial=T-1&amp;as_of={AS_OF}" in targets, page
    text = visible_text(at)
    assert "T-2" not in text and "X-9" not in text


def test_the_overview_says_what_changed_since_the_compare_date(monkeypatch, tiny_url):
    # 30 Jun → 10 Jul: 005 enrolls (07-05); the LPI forecast recorded on 07-10 replaces that of 06-01.
    at = open_page(monkeypatch, tiny_url, "overview", trial="T-1", as_of="2026-07-10", since="2026-06-30")
    assert not at.exception
    text = visible_text(at)
    assert "What changed since 30 Jun" in text
    assert "Enrolled: 3 → 4" in text
    # AC 450 + 10/31 of the July invoice of 999 = 772.26 against EV 630: CPI 0.82, budget red.
    assert "CPI: 1.22 → 0.82" in text and "Budget: On track → At risk" in text
    assert "Last patient in (CRO forecast): 15 Jan 2027 → 01 Mar 2027" in text
    assert "Last patient in" in text and "forecast moved" in text
    assert {m.label: m.delta for m in at.metric}["Enrolled"] == "+1"


def test_without_a_trial_the_overview_lists_the_trials_to_pick(monkeypatch, tiny_url):
    at = open_page(monkeypatch, tiny_url, "overview", sponsor="ACME", as_of=AS_OF)
    assert not at.exception
    (table,) = html_tables(at)
    assert {row["Trial"] for row in table} == {"T-1", "T-2"}
    assert all(row["Trial href"].startswith("./overview?sponsor=ACME&trial=") for row in table)
