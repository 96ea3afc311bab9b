"""Grants come from sign-in and the URL can only narrow them."""

from datetime import date

import pytest

import tiny_portfolio
from dashboard.access import Grant, granted_sponsors, make_scope
from dashboard.db import make_engine
from dashboard.links import ViewState


@pytest.fixture(scope="module")
def conn(tmp_path_factory):
    """A connection to the hand-counted tiny portfolio, which has two sponsors and one user each."""
    url = f"sqlite:///{tmp_path_factory.mktemp('access') / 'tiny.db'}"
    tiny_portfolio.build(url)
    engine = make_engine(url)
    with engine.connect() as connection:
        yield connection
    engine.dispose()


def test_a_user_is_granted_only_their_sponsors(conn):
    assert [g.sponsor_code for g in granted_sponsors(conn, tiny_portfolio.ACME_USER)] == ["ACME"]
    assert [g.sponsor_code for g in granted_sponsors(conn, "  Olga@Other.Example ")] == ["OTHER"]
    assert granted_sponsors(conn, "stranger@example.com") == []
    assert {g.sponsor_code for g in granted_sponsors(conn, None)} == {"ACME", "OTHER"}


def test_the_url_narrows_grants_but_cannot_widen_them(conn):
    grants = granted_sponsors(conn, tiny_portfolio.ACME_USER)
    scope, notices = make_scope(grants, ViewState(sponsor="OTHER"), date(2026, 6, 30))
    assert scope.sponsor_ids == (1,)
    assert notices and "OTHER" in notices[0]
    everyone = granted_sponsors(conn, None)
    scope, notices = make_scope(everyone, ViewState(sponsor="OTHER"), date(2026, 6, 30))
    assert scope.sponsor_ids == (2,) and notices == []


def test_dates_default_to_today_and_a_week_before(conn):
    grants = granted_sponsors(conn, None)
    scope, _ = make_scope(grants, ViewState(), date(2026, 6, 30))
    assert (scope.as_of, scope.since) == (date(2026, 6, 30), date(2026, 6, 23))
    scope, notices = make_scope(grants, ViewState(as_of=date(2026, 6, 1), since=date(2026, 7, 1)), date(2026, 6, 30))
    assert scope.since == date(2026, 5, 25) and "not before" in notices[0]


def test_url_keys_no_query_reads_do_not_split_the_cache():
    """Query results are cached by Scope: keys only a page reads (a vendor, an indicator, a table's page) leave the
    Scope alone, so such a link reuses what another view of the same data worked out."""
    grants = [Grant(1, "ACME", "Acme")]
    plain, _ = make_scope(grants, ViewState(trial="T-1"), date(2026, 6, 30))
    for extra in ({"vendor": "CRO-A"}, {"indicator": "query_aging"}, {"page": 3}):
        scope, _ = make_scope(grants, ViewState(trial="T-1", **extra), date(2026, 6, 30))
        assert scope == plain and hash(scope) == hash(plain), extra
