"""Words, not codes, on the hand-counted tiny portfolio: selectors show names while the address keeps codes, site
numbers in the order people count them, one date format, and a money tile that says why it has no figure."""

import re

from sqlalchemy import create_engine, text

import tiny_portfolio
from apptest_helpers import metrics, open_page, page_tables
from dashboard import demo
from dashboard.metrics import SITE_INDICATORS

AS_OF = tiny_portfolio.AS_OF.isoformat()


def test_the_indicator_picker_shows_names_and_the_address_keeps_the_code(monkeypatch, tiny_db):
    at = open_page(monkeypatch, tiny_db, "sites", trial="T-1", as_of=AS_OF, indicator="query_aging")
    assert not at.exception
    picker = at.selectbox(key="indicator")
    assert picker.value == "query_aging"
    assert picker.options == [ind.label for ind in SITE_INDICATORS.values()], "names, not codes"
    assert not set(picker.options) & set(SITE_INDICATORS)
    picker.select("enrollment_rate").run()
    assert at.query_params["indicator"] in ("enrollment_rate", ["enrollment_rate"])


def test_site_numbers_sort_as_numbers(monkeypatch, tmp_path):
    url = f"sqlite:///{tmp_path / 'numbers.db'}"
    tiny_portfolio.build(url)
    engine = create_engine(url)
    with engine.begin() as conn:
        for old, new in (("S1", "100"), ("S2", "9"), ("S3", "10")):
            conn.execute(text("update site set site_number = :new where site_number = :old"), {"new": new, "old": old})
    engine.dispose()
    at = open_page(monkeypatch, url, "sites", trial="T-1", as_of=AS_OF)
    assert not at.exception
    shown = [re.search(r"site=([^&]+)", link).group(1) for link in at.dataframe[0].value["site"]]
    assert shown == ["9", "10", "100"]


def test_dates_read_one_way_on_the_page(monkeypatch, tiny_db):
    at = open_page(monkeypatch, tiny_db, "overview", trial="T-1", as_of=AS_OF)
    # What a person reads: titles, captions, notices and tiles (links and the print header's address are addresses).
    shown = "\n".join(
        [
            *(str(e.value) for kind in ("title", "subheader", "caption", "warning", "info") for e in at.get(kind)),
            *(f"{m.label} {m.value} {m.delta or ''}" for m in at.metric),
        ]
    )
    assert "as of 30 Jun 2026" in shown and "showing as of 30 Jun 2026" in shown
    assert not re.search(r"\b20\d\d-\d\d-\d\d\b", shown), re.findall(r"\b20\d\d-\d\d-\d\d\b", shown)


def test_a_money_tile_without_a_figure_says_why(monkeypatch, tiny_db, small_demo_db):
    # The demo's sponsors report in EUR and USD: together they cannot be added up.
    at = open_page(monkeypatch, small_demo_db, "portfolio")
    tile = next(m for m in at.metric if m.label == "Budget spent")
    assert tile.value == "—" and tile.delta == "EUR · USD: not added up"
    assert metrics(open_page(monkeypatch, tiny_db, "budget", trial="T-1", as_of=AS_OF))["Budget (BAC)"].startswith("$")


def test_a_trial_that_has_finished_enrolling_shows_when_not_a_forecast(monkeypatch, small_demo_db):
    """Nothing is left to forecast: the day the last patient came in beside the day planned, each whole on one tile,
    and the forecast tiles say why they are empty instead of a bare dash."""
    for page in ("overview", "enrollment"):
        at = open_page(monkeypatch, small_demo_db, page, trial=demo.CLOSED_TRIAL)
        assert not at.exception
        tiles = {m.label: m for m in at.metric}
        assert tiles["Last patient in (model P50)"].value.startswith("done on "), page
        assert re.fullmatch(r"\d\d [A-Z][a-z]{2} \d{4}", tiles["Planned LPI"].value), page
        assert "Model P50 − CRO forecast" not in tiles and "Last patient in (CRO forecast)" not in tiles, page
        assert (
            tiles["Chance of LPI by plan"].value == "—"
            and tiles["Chance of LPI by plan"].delta == "enrollment complete"
        )
        assert "**Last patient in: enrollment is complete**" in [str(m.value) for m in at.markdown]


def test_the_portfolio_says_why_its_trial_count_and_the_table_differ(monkeypatch, small_demo_db):
    """The tile counts active trials; the table lists every trial in view, the closed one too: the page says so."""
    at = open_page(monkeypatch, small_demo_db, "portfolio")
    active = int(metrics(at)["Active trials"])
    rows = len(page_tables(at)["Trials"])
    assert rows > active, "the demo has a closed trial"
    assert f"{rows} trials: the {active} active ones and {rows - active} closed or not yet started." in [
        c.value for c in at.caption
    ]
