"""Every query returns the same frame on SQLite and on PostgreSQL, for the same demo portfolio."""

from datetime import date

import pandas as pd
import pytest

from dashboard import demo
from dashboard.access import Scope, granted_sponsors
from dashboard.db import make_engine
from queries import MODULES, budget, portfolio, review, vendors

TODAY = date(2026, 11, 20)


@pytest.fixture(scope="module")
def engines(tmp_path_factory, pg_server):
    """The same demo portfolio (same seed and date) on SQLite and on PostgreSQL, opened read-only."""
    import uuid

    from sqlalchemy import create_engine, text

    sqlite_url = f"sqlite:///{tmp_path_factory.mktemp('queries') / 'demo.db'}"
    name = f"queries_{uuid.uuid4().hex[:8]}"
    admin = create_engine(f"{pg_server}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    pg_url = f"{pg_server}/{name}"
    for url in (sqlite_url, pg_url):
        demo.build(url, seed=3, n_trials=8, today=TODAY)
    pair = {"sqlite": make_engine(sqlite_url), "postgresql": make_engine(pg_url)}
    yield pair
    for engine in pair.values():
        engine.dispose()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    admin.dispose()


def scopes(conn) -> list[Scope]:
    """The whole portfolio now and a year ago, one trial, and one sponsor narrowed by phase."""
    ids = tuple(sorted(g.sponsor_id for g in granted_sponsors(conn, None)))
    everything = Scope(sponsor_ids=ids, as_of=TODAY, since=date(2026, 11, 13))
    return [
        everything,
        everything.replace(as_of=date(2025, 11, 20), since=date(2025, 11, 13)),
        everything.replace(trial=demo.BIG_TRIAL),
        everything.replace(sponsor_ids=ids[:1], phase="III"),
    ]


@pytest.mark.parametrize("query", [q for m in MODULES for q in m.QUERIES], ids=lambda q: f"{q.__module__}.{q.__name__}")
def test_sqlite_and_postgresql_return_equal_frames(engines, query):
    with engines["sqlite"].connect() as lite, engines["postgresql"].connect() as pg:
        sizes = []
        for scope in scopes(lite):
            left, right = query(lite, scope), query(pg, scope)
            if query is portfolio.freshness:
                # loaded_at is when each database was built; compare that each has one load.
                left, right = left.assign(loaded_at=1), right.assign(loaded_at=1)
            pd.testing.assert_frame_equal(left, right, check_exact=False, rtol=1e-9)
            sizes.append(len(left))
        # The whole portfolio today (one trial, for a query about one trial) has rows for every query, so the
        # comparison compares something.
        size = sizes[2] if query in review.ONE_TRIAL else sizes[0]
        assert size > 0, f"{query.__name__} returned nothing for the whole portfolio: the comparison proves little"


def test_a_trial_scope_returns_only_that_trial(engines):
    with engines["sqlite"].connect() as conn:
        scope = scopes(conn)[2]
        for query in (portfolio.trial_summary, budget.evm_by_trial, budget.evm_by_contract, vendors.milestones):
            assert set(query(conn, scope)["protocol_number"]) == {demo.BIG_TRIAL}
