"""Every page renders, with and without a deep link; bad links get a plain message, not a traceback."""

import pytest

import tiny_portfolio
from apptest_helpers import PAGE_FILES, notices, open_page, visible_text

AS_OF = tiny_portfolio.AS_OF.isoformat()


@pytest.mark.parametrize("page", list(PAGE_FILES))
def test_every_page_renders_without_parameters(monkeypatch, tiny_url, page):
    at = open_page(monkeypatch, tiny_url, page)
    assert not at.exception
    assert at.title, "every page has a title"


@pytest.mark.parametrize("page", list(PAGE_FILES))
def test_every_page_renders_a_deep_link_to_one_trial(monkeypatch, tiny_url, page):
    at = open_page(monkeypatch, tiny_url, page, trial="T-2", as_of=AS_OF)
    assert not at.exception
    assert not notices(at) or all("not found" not in w for w in notices(at))
    if page != "methods":
        text = visible_text(at)
        assert "T-2" in text
        assert "T-1" not in text and "X-9" not in text


@pytest.mark.parametrize("page", ["portfolio", "enrollment", "budget"])
def test_an_unknown_trial_gets_a_plain_not_found(monkeypatch, tiny_url, page):
    at = open_page(monkeypatch, tiny_url, page, trial="NOPE-1", as_of=AS_OF)
    assert not at.exception
    assert any("'NOPE-1' was not found" in w for w in notices(at))


def test_a_malformed_date_gets_a_plain_message_and_today_is_shown(monkeypatch, tiny_url):
    at = open_page(monkeypatch, tiny_url, "portfolio", as_of="2026-02-30")
    assert not at.exception
    assert any("as_of='2026-02-30'" in w and "not a date" in w for w in notices(at))
    assert at.date_input[0].value.isoformat() != "2026-02-30"


def test_the_sidebar_filters_restore_from_the_link(monkeypatch, tiny_url):
    at = open_page(monkeypatch, tiny_url, "portfolio", sponsor="ACME", ta="Oncology", as_of=AS_OF)
    assert not at.exception
    values = {box.label: box.value for box in at.selectbox}
    assert values["Sponsor"] == "ACME" and values["Therapeutic area"] == "Oncology"
    assert at.date_input[0].value == tiny_portfolio.AS_OF
    text = visible_text(at)
    assert "T-1" in text and "T-2" not in text and "X-9" not in text


def test_a_trial_outside_the_links_sponsor_filter_is_shown_with_a_notice(monkeypatch, tiny_url):
    at = open_page(monkeypatch, tiny_url, "portfolio", sponsor="ACME", trial="X-9", as_of=AS_OF)
    assert not at.exception
    assert any("Trial X-9 is not in the filter (sponsor ACME)" in w for w in notices(at))
    text = visible_text(at)
    assert "X-9" in text and "T-1" not in text


def test_a_future_as_of_date_is_flagged(monkeypatch, tiny_url):
    at = open_page(monkeypatch, tiny_url, "portfolio", as_of="2099-01-01")
    assert not at.exception
    assert any("is in the future" in w for w in notices(at))


def test_the_private_streamlit_attribute_the_frame_relies_on_still_exists():
    """ui.context() sets PagesManager.uses_pages_directory to leave Streamlit's legacy pages/ mode (the one private
    API of the product). Setting an attribute that no longer exists would silently do nothing: fail here instead."""
    from streamlit.runtime.pages_manager import PagesManager

    assert "uses_pages_directory" in vars(PagesManager), "Streamlit renamed it: see dashboard/ui/context.py"
