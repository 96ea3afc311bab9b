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


def test_the_product_uses_no_streamlit_internals():
    """Nothing of the product imports from streamlit.runtime (or another internal module) or reads an underscore name
    of Streamlit's: those change without notice between releases. A fresh server's first deep link, which once needed
    one, is tested in a browser (tests/test_browser.py)."""
    import re

    from conftest import REPO_DIR

    internal = re.compile(
        r"\bstreamlit\.(runtime|proto|web|elements|commands|navigation)\b|\bst\._[a-z]|from streamlit import _"
    )
    found = [
        f"{path.relative_to(REPO_DIR)}:{number}: {line.strip()}"
        for folder in ("app.py", "dashboard", "pages", "queries")
        for path in ([REPO_DIR / folder] if folder.endswith(".py") else sorted((REPO_DIR / folder).rglob("*.py")))
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if internal.search(line)
    ]
    assert found == []
