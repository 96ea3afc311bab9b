"""The site × month roll-up gives the same site and budget figures as the detail, for any date, on both engines."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.pool import NullPool

from dashboard import demo, rollups, schema
from dashboard.access import Scope
from queries import budget, sites

TODAY = date(2026, 11, 20)
# A month's last day, a first, mid-month, the 5th (whose late-entry cutoff falls in the month before),
# the data cut, a day before any visit and a day after everything.
DATES = [
    date(2026, 10, 31),
    date(2026, 11, 1),
    date(2026, 9, 17),
    date(2026, 8, 5),
    TODAY,
    date(2020, 1, 1),
    date(2028, 1, 1),
]


def read(conn, name: str, dates: tuple[str, ...]) -> pd.DataFrame:
    df = pd.read_sql(select(schema.metadata.tables[name]), conn)
    for column in dates:
        df[column] = pd.to_datetime(df[column])
    return df


def site_figures_from_detail(visits: pd.DataFrame, queries: pd.DataFrame, as_of: date) -> pd.DataFrame:
    """Per site id, the visit and query figures straight from the detail rows, as domain.md §4 defines them."""
    day = pd.Timestamp(as_of)
    done = visits[visits.visit_date <= day]
    entered = done.entered_date.notna() & (done.entered_date <= day)
    lag = (done.entered_date - done.visit_date).dt.days
    late = (entered & (lag > 10)) | (~entered & ((day - done.visit_date).dt.days > 10))
    per_visit = pd.DataFrame(
        {
            "site_id": done.site_id,
            "n_visits": 1,
            "n_visits_entered": entered.astype(int),
            "n_visits_late": late.astype(int),
            "capped_lag": lag.clip(upper=60).where(entered),
        }
    )
    visit_figures = per_visit.groupby("site_id").agg(
        n_visits=("n_visits", "sum"),
        n_visits_entered=("n_visits_entered", "sum"),
        n_visits_late=("n_visits_late", "sum"),
        mean_entry_lag_days=("capped_lag", "mean"),
    )
    opened = queries[queries.opened_date <= day]
    is_open = opened.closed_date.isna() | (opened.closed_date > day)
    per_query = pd.DataFrame(
        {
            "site_id": opened.site_id,
            "n_queries": 1,
            "n_queries_open": is_open.astype(int),
            "n_queries_open_30d": (is_open & ((day - opened.opened_date).dt.days > 30)).astype(int),
        }
    )
    query_figures = per_query.groupby("site_id").sum()
    closed = queries[queries.closed_date <= day]
    medians = (
        (closed.closed_date - closed.opened_date)
        .dt.days.groupby(closed.site_id)
        .median()
        .rename("median_days_to_close")
    )
    return visit_figures.join(query_figures, how="outer").join(medians, how="outer")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def demo_url(request, tmp_path):
    """The default demo portfolio (15 trials, ~54k visits) on each engine."""
    url = f"sqlite:///{tmp_path / 'demo.db'}" if request.param == "sqlite" else request.getfixturevalue("pg_url")
    demo.build(url, today=TODAY)
    return url


def test_site_figures_from_the_roll_up_equal_the_detail_on_any_date(demo_url):
    engine = create_engine(demo_url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            assert conn.execute(select(schema.site_month.c.site_id).limit(1)).first(), "the demo wrote no roll-up"
            visits = read(conn, "visit", ("visit_date", "entered_date"))
            queries = read(conn, "data_query", ("opened_date", "closed_date"))
            ids = read(conn, "site", ()).merge(read(conn, "trial", ()), on="trial_id")[
                ["protocol_number", "site_number", "site_id"]
            ]
            sponsors = tuple(conn.execute(select(schema.sponsor.c.sponsor_id)).scalars())
            for as_of in DATES:
                kpis = sites.site_kpis(conn, Scope(sponsor_ids=sponsors, as_of=as_of, since=as_of))
                expected = site_figures_from_detail(visits, queries, as_of)
                got = kpis.merge(ids, on=["protocol_number", "site_number"])
                got = got.set_index("site_id")[expected.columns]
                expected = expected.reindex(got.index)
                counts = [c for c in expected.columns if c.startswith("n_")]
                expected[counts] = expected[counts].fillna(0)
                for column in expected.columns:
                    np.testing.assert_allclose(
                        got[column].astype(float).to_numpy(),
                        expected[column].astype(float).to_numpy(),
                        rtol=1e-9,
                        equal_nan=True,
                        err_msg=f"{column} on {as_of}",
                    )
                if as_of == TODAY:
                    assert got.n_visits_late.sum() > 0 and got.n_queries_open_30d.sum() > 0, (
                        "nothing late: the test compares little"
                    )
    finally:
        engine.dispose()


def test_earned_value_from_the_roll_up_equals_visits_counted_one_by_one(demo_url):
    engine = create_engine(demo_url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            sponsors = tuple(conn.execute(select(schema.sponsor.c.sponsor_id)).scalars())
            visits = read(conn, "visit", ("visit_date", "entered_date"))
            prices = read(conn, "unit_price", ()).merge(
                read(conn, "contract", ("signed_date", "planned_end_date")), on="contract_id"
            )
            visit_prices = prices[prices.unit_type == "visit_done"]
            for as_of in (TODAY, date(2026, 11, 1), date(2025, 6, 30)):
                monthly = budget.monthly(conn, Scope(sponsor_ids=sponsors, as_of=as_of, since=as_of))
                done = visits[visits.visit_date <= pd.Timestamp(as_of)]
                signed = visit_prices[visit_prices.signed_date <= pd.Timestamp(as_of)]
                per_trial = done.groupby("trial_id").size().rename("n").reset_index().merge(signed, on="trial_id")
                visit_ev = float((per_trial.n * per_trial.unit_price_amount.astype(float)).sum())
                assert visit_ev > 0
                assert monthly.ev.sum() == pytest.approx(_ev_from_detail(conn, as_of, visit_ev), rel=1e-9), as_of
    finally:
        engine.dispose()


def _ev_from_detail(conn, as_of: date, visit_ev: float) -> float:
    """EV to date without the roll-up: sites activated and subjects enrolled times their prices, milestone fees, plus visits."""
    day = as_of.isoformat()
    other_units = conn.execute(
        text(
            "SELECT COALESCE(SUM(p.unit_price_amount), 0) FROM unit_price p JOIN contract c ON c.contract_id = p.contract_id "
            "JOIN site s ON s.trial_id = c.trial_id WHERE p.unit_type = 'site_activated' AND c.signed_date <= :d "
            "AND s.activated_date <= :d"
        ),
        {"d": day},
    ).scalar_one()
    subjects = conn.execute(
        text(
            "SELECT COALESCE(SUM(p.unit_price_amount), 0) FROM unit_price p JOIN contract c ON c.contract_id = p.contract_id "
            "JOIN subject s ON s.trial_id = c.trial_id WHERE p.unit_type = 'subject_enrolled' AND c.signed_date <= :d "
            "AND s.enrolled_date <= :d"
        ),
        {"d": day},
    ).scalar_one()
    fees = conn.execute(
        text(
            "SELECT COALESCE(SUM(m.payment_amount), 0) FROM milestone m JOIN contract c "
            "ON c.trial_id = m.trial_id AND c.vendor_id = m.vendor_id WHERE c.signed_date <= :d AND m.actual_date <= :d"
        ),
        {"d": day},
    ).scalar_one()
    return float(other_units) + float(subjects) + float(fees) + visit_ev


def assert_roll_up_is_current(url: str) -> None:
    """`site_month` is exactly what a rebuild from the detail would write (checked in a rolled-back transaction)."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            order = [schema.site_month.c.site_id, schema.site_month.c.month_date]
            stored = conn.execute(select(schema.site_month).order_by(*order)).all()
            rollups.refresh(conn)
            rebuilt = conn.execute(select(schema.site_month).order_by(*order)).all()
            conn.rollback()
        assert stored == rebuilt
    finally:
        engine.dispose()


def test_the_demo_writes_a_current_roll_up(demo_url):
    assert_roll_up_is_current(demo_url)
