"""Creating, migrating and reading the reporting database, on SQLite and PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import CheckConstraint, func, insert, inspect, select, text
from sqlalchemy.exc import DBAPIError, OperationalError

import tiny_portfolio
from dashboard import db
from dashboard.schema import data_query, deviation, metadata, site_month, sponsor, visit
from test_rollups import assert_roll_up_is_current

REPO_DIR = Path(__file__).resolve().parent.parent


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "dashboard.db", *args], cwd=REPO_DIR, capture_output=True, text=True, timeout=120
    )


def test_init_creates_every_table_at_head(empty_db_url):
    db.init(empty_db_url)

    engine = db.make_engine(empty_db_url)
    with engine.connect() as connection:
        tables = set(inspect(connection).get_table_names())
    engine.dispose()
    assert tables == set(metadata.tables) | {db.VERSION_TABLE}
    assert db.current_revision(empty_db_url) == db.head_revision()


def test_upgrade_from_empty_builds_the_schema_exactly(empty_db_url):
    db.upgrade(empty_db_url)

    engine = db.make_engine(empty_db_url)
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), metadata)
    engine.dispose()
    assert differences == []
    assert db.current_revision(empty_db_url) == db.head_revision()


def test_upgrade_creates_every_check_constraint(empty_db_url):
    # compare_metadata does not look at CHECK constraints, and autogenerate leaves column-level ones out.
    db.upgrade(empty_db_url)

    engine = db.make_engine(empty_db_url)
    with engine.connect() as connection:
        inspector = inspect(connection)
        built = {(t, ck["name"]) for t in metadata.tables for ck in inspector.get_check_constraints(t)}
    engine.dispose()
    declared = {
        (table.name, constraint.name)
        for table in metadata.tables.values()
        for constraint in [*table.constraints, *(k for c in table.columns for k in c.constraints)]
        if isinstance(constraint, CheckConstraint)
    }
    assert built == declared


def test_upgrade_after_init_changes_nothing(empty_db_url):
    db.init(empty_db_url)
    db.upgrade(empty_db_url)

    assert db.current_revision(empty_db_url) == db.head_revision()


def test_upgrading_a_database_with_data_fills_the_site_month_roll_up(empty_db_url):
    tiny_portfolio.build(empty_db_url)
    command.downgrade(db.alembic_config(url=empty_db_url), "0001")  # as a database made before the roll-up
    assert "site_month" not in inspect(db.make_engine(empty_db_url)).get_table_names()

    db.upgrade(empty_db_url)

    engine = db.make_engine(empty_db_url)
    with engine.connect() as conn:
        visits = conn.execute(select(func.sum(site_month.c.n_visits))).scalar_one()
        assert visits == conn.execute(select(func.count()).select_from(visit)).scalar_one() > 0
    engine.dispose()
    assert_roll_up_is_current(empty_db_url)


def test_upgrading_a_database_with_data_keeps_its_meaning_under_the_safety_sources(empty_db_url):
    import test_sites  # tiny portfolio plus queries (open and closed) and dated deviations

    test_sites.build(empty_db_url)
    command.downgrade(db.alembic_config(url=empty_db_url), "0002")  # as a database made before adverse events
    assert "adverse_event" not in inspect(db.make_engine(empty_db_url)).get_table_names()

    db.upgrade(empty_db_url)

    engine = db.make_engine(empty_db_url)
    with engine.connect() as conn:
        statuses = dict(conn.execute(select(data_query.c.query_number, data_query.c.query_status)).all())
        closed = {
            n for n, c in conn.execute(select(data_query.c.query_number, data_query.c.closed_date)) if c is not None
        }
        dated = conn.execute(
            select(func.count()).select_from(deviation).where(deviation.c.deviation_date.is_not(None))
        ).scalar_one()
    engine.dispose()
    assert statuses and {n for n, s in statuses.items() if s == "closed"} == closed
    assert {s for n, s in statuses.items() if n not in closed} == {"open"}
    assert dated == 3  # every deviation keeps its date
    # The undated deviations the new schema allows can be stored.
    engine = db.make_engine(empty_db_url, read_only=False)
    with engine.begin() as conn:
        conn.execute(
            deviation.insert().values(
                trial_id=1,
                site_id=1,
                deviation_number="U1",
                deviation_date=None,
                identified_date=date(2026, 6, 1),
                is_important=True,
            )
        )
    engine.dispose()


def test_upgrade_refuses_tables_it_did_not_make(empty_db_url):
    engine = db.make_engine(empty_db_url, read_only=False)
    metadata.create_all(engine)
    engine.dispose()

    with pytest.raises(db.SchemaStateError, match="no migration version"):
        db.upgrade(empty_db_url)


def test_read_only_engine_refuses_insert_but_reads(empty_db_url):
    db.init(empty_db_url)
    engine = db.make_engine(empty_db_url)
    row = {"sponsor_code": "ACME", "sponsor_name": "Acme", "reporting_currency": "USD"}

    with engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(sponsor)) == 0
        with pytest.raises(DBAPIError, match="(?i)read-?only"):
            connection.execute(insert(sponsor).values(**row))
    with engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(sponsor)) == 0
    engine.dispose()


def test_a_query_longer_than_the_statement_timeout_is_stopped(empty_db_url):
    engine = db.make_engine(empty_db_url, statement_timeout_s=0.3)
    # Counts to 10^9: minutes on either engine unless the timeout stops it.
    slow = text(
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1000000000) SELECT count(*) FROM c"
    )
    try:
        with engine.connect() as connection:
            with pytest.raises(OperationalError, match="(?i)interrupt|cancel"):
                connection.execute(slow).scalar()
        with engine.connect() as connection:
            assert connection.execute(text("SELECT 1")).scalar() == 1, "the next query on the pool works"
    finally:
        engine.dispose()


def test_cli_init_then_upgrade_and_refuses_a_second_init(empty_db_url):
    first = run_cli("init", "--url", empty_db_url)
    assert first.returncode == 0, first.stderr
    upgraded = run_cli("upgrade", "--url", empty_db_url)
    assert upgraded.returncode == 0, upgraded.stderr

    again = run_cli("init", "--url", empty_db_url)
    assert again.returncode == 2
    assert "already has tables" in again.stderr
    assert "Traceback" not in again.stderr
    assert len(again.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("url", ["not a url", "mysql://localhost/reporting"])
def test_cli_rejects_unusable_url_plainly(url):
    result = run_cli("init", "--url", url)

    assert result.returncode == 2
    assert result.stderr.startswith("error: ")
    assert "Traceback" not in result.stderr
