"""The view state: what a link may say, what is dropped with a notice, and links that reproduce the view."""

from datetime import date

import pytest

from dashboard.links import KEYS, ViewState, page_url, parse_return, parse_view, return_token, shareable, to_query


def test_a_full_link_round_trips():
    params = {
        "sponsor": "HELIOS",
        "trial": "HEL-301",
        "site": "3017",
        "as_of": "2026-06-01",
        "since": "2026-05-25",
        "phase": "III",
        "ta": "Infectious disease",
        "vendor": "CRO-A",
        "indicator": "query_aging",
        "page": "3",
    }
    view, notices = parse_view(params)
    assert notices == []
    assert to_query(view) == params
    assert list(to_query(view)) == list(KEYS)


def test_unknown_keys_are_ignored_and_empty_values_are_absent():
    view, notices = parse_view({"utm_source": "mail", "trial": "", "as_of": "2026-01-02"})
    assert notices == []
    assert view == ViewState(as_of=date(2026, 1, 2))


@pytest.mark.parametrize(
    "key, value, words",
    [
        ("as_of", "2026-13-01", "not a date"),
        ("as_of", "1900-01-01", "not a date"),
        ("since", "yesterday", "not a date"),
        ("phase", "V", "phase must be one of"),
        ("indicator", "vibes", "must be a site indicator code"),
        ("trial", "x' OR '1'='1", "not a valid value"),
        ("trial", "A" * 500, "not a valid value"),
        ("ta", "<script>alert(1)</script>", "not a valid value"),
    ],
)
def test_bad_values_are_dropped_with_a_plain_notice(key, value, words):
    view, notices = parse_view({key: value, "sponsor": "HELIOS"})
    assert getattr(view, key) is None
    assert view.sponsor == "HELIOS"
    assert len(notices) == 1 and words in notices[0] and key in notices[0]
    # The notice quotes the value safely: no markup, bounded length.
    assert "<" not in notices[0] and len(notices[0]) < 200


def test_a_repeated_key_counts_by_its_last_value():
    view, _ = parse_view({"trial": ["T-1", "T-2"]})
    assert view.trial == "T-2"


def test_page_urls_are_relative_or_absolute_and_the_portfolio_is_the_root():
    view = ViewState(trial="T-1", as_of=date(2026, 6, 30))
    assert page_url("enrollment", view) == "./enrollment?trial=T-1&as_of=2026-06-30"
    assert page_url("portfolio", view) == "./?trial=T-1&as_of=2026-06-30"
    assert page_url("sites", ViewState()) == "./sites"
    assert (
        page_url("budget", view, base_url="https://dash.example/")
        == "https://dash.example/budget?trial=T-1&as_of=2026-06-30"
    )
    with pytest.raises(ValueError):
        page_url("admin", view)


def test_a_link_carries_only_the_keys_its_page_reads():
    view = ViewState(trial="T-1", site="S2", indicator="enrollment_rate", vendor="V-1", as_of=date(2026, 6, 30))
    assert page_url("sites", view) == "./sites?trial=T-1&site=S2&as_of=2026-06-30&indicator=enrollment_rate"
    assert page_url("budget", view) == "./budget?trial=T-1&as_of=2026-06-30"
    assert page_url("vendors", view) == "./vendors?trial=T-1&as_of=2026-06-30&vendor=V-1"
    assert page_url("overview", view) == "./overview?trial=T-1&as_of=2026-06-30"


def test_a_shareable_view_carries_its_dates():
    view = shareable(ViewState(trial="T-1"), today=date(2026, 11, 24))
    assert view.as_of == date(2026, 11, 24) and view.since == date(2026, 11, 17)


def test_every_page_shows_a_shareable_link_that_reproduces_the_view(monkeypatch, tmp_path):
    from urllib.parse import parse_qsl, urlsplit

    import tiny_portfolio
    from apptest_helpers import metrics, open_page, share_link

    url = f"sqlite:///{tmp_path / 'tiny.db'}"
    tiny_portfolio.build(url)
    monkeypatch.setenv("DASHBOARD_PUBLIC_BASE_URL", "https://dash.example")
    at = open_page(monkeypatch, url, "enrollment", trial="T-1", as_of="2026-06-30")
    code = share_link(at)
    assert code == "https://dash.example/enrollment?trial=T-1&as_of=2026-06-30&since=2026-06-23"
    link = urlsplit(code)
    again = open_page(monkeypatch, url, link.path.strip("/"), **dict(parse_qsl(link.query)))
    assert not again.exception
    assert [t.value for t in again.title] == [t.value for t in at.title]
    assert metrics(again) == metrics(at)


def test_the_view_to_return_to_after_sign_in_round_trips_and_is_validated_again():
    view = ViewState(trial="T-1", as_of=date(2026, 6, 30), since=date(2026, 6, 1), site="S2")
    assert parse_return(return_token("sites", view)) == ("sites", view)
    # The token comes back from the browser: a made-up page, a bad value or an oversized token gets nothing through.
    assert parse_return("page=admin&trial=T-1") is None
    assert parse_return("page=sites&trial=T-1" + "&x=" + "a" * 1000) is None
    assert parse_return("page=enrollment&trial=%27%20OR%201%3D1&as_of=2026-02-30") == ("enrollment", ViewState())
    assert parse_return(None) is None and parse_return("") is None
