"""Named errors on real databases: an outage, a timeout and a broken query each get the sentence that fits them and a
reference, the log gets one line per event with the traceback and no e-mail in clear."""

from __future__ import annotations

import io
import logging
import re
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import SQLAlchemyError

import tiny_portfolio
from apptest_helpers import open_page
from conftest import copy_sqlite, free_port
from dashboard import errors
from dashboard.db import make_engine

SLOW_SQLITE = (
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 100000000) SELECT count(*) FROM c"
)


def raised(url: str, sql: str, timeout: float = 30) -> errors.DashboardError:
    """The named error of running `sql` on `url` through the dashboard's read-only engine."""
    engine = make_engine(url, statement_timeout_s=timeout)
    try:
        with engine.connect() as conn:
            conn.execute(text(sql)).all()
    except SQLAlchemyError as exc:
        return errors.from_database(exc)
    finally:
        engine.dispose()
    raise AssertionError(f"{sql!r} ran without an error")


def test_sqlite_errors_are_named_by_what_happened(tiny_db, tmp_path):
    assert isinstance(raised(tiny_db, SLOW_SQLITE, timeout=0.05), errors.StatementTimeout)
    assert isinstance(raised(tiny_db, "SELECT no_such_column FROM trial"), errors.QueryError)
    assert isinstance(raised(tiny_db, "SELECT * FROM no_such_table"), errors.QueryError)
    missing = f"sqlite:///{tmp_path / 'no' / 'such' / 'dir.db'}"
    assert isinstance(raised(missing, "SELECT 1"), errors.DatabaseUnreachable)


def test_postgresql_errors_are_named_by_what_happened(pg_url):
    assert isinstance(raised(pg_url, "SELECT pg_sleep(5)", timeout=0.2), errors.StatementTimeout)
    assert isinstance(raised(pg_url, "SELECT * FROM no_such_table"), errors.QueryError)
    for conflict in ("40001", "40P01"):  # a serialization failure, a deadlock: the transaction may simply be retried
        raise_it = f"DO $$ BEGIN RAISE EXCEPTION 'conflict' USING ERRCODE = '{conflict}'; END $$"
        assert isinstance(raised(pg_url, raise_it), errors.DatabaseUnreachable), conflict
    nobody = f"postgresql+psycopg://nobody@127.0.0.1:{free_port()}/nothing"
    assert isinstance(raised(nobody, "SELECT 1"), errors.DatabaseUnreachable)


def test_each_error_has_its_own_reference_and_sentence():
    outage, timeout, bug = errors.DatabaseUnreachable("x"), errors.StatementTimeout("x"), errors.QueryError("x")
    assert len({outage.reference, timeout.reference, bug.reference}) == 3
    assert all(re.fullmatch(r"[0-9a-f]{8}", e.reference) for e in (outage, timeout, bug))
    assert "Try again" in outage.message and outage.reference in outage.message
    assert "Narrow the filters" in timeout.message and timeout.reference in timeout.message
    assert "Something went wrong" in bug.message and bug.reference in bug.message


@pytest.fixture
def log_lines():
    """What the dashboard's logger writes, formatted as the server's log is."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(errors.OneLineFormatter("%(levelname)s %(name)s %(message)s"))
    errors.log.addHandler(handler)
    try:
        yield lambda: stream.getvalue().splitlines()
    finally:
        errors.log.removeHandler(handler)


def altered(url: str, statement: str) -> str:
    """The database at `url` after `statement` (a schema change the code does not expect); returns `url`."""
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(statement))
    engine.dispose()
    return url


def without_table(url: str, to: Path, table: str) -> str:
    """A copy of the database at `url` in `to` whose `table` is gone (a schema the code does not match)."""
    return altered(copy_sqlite(url, to), f"DROP TABLE {table}")


def test_a_broken_query_shows_a_reference_and_logs_one_line_with_its_traceback(
    monkeypatch, tiny_db, tmp_path, log_lines
):
    # A schema the code does not match (a migration gone wrong): the Budget page's change orders are gone.
    url = without_table(tiny_db, tmp_path / "broken.db", "change_order")
    at = open_page(
        monkeypatch, url, "budget", trial="T-1", as_of=tiny_portfolio.AS_OF.isoformat(), user=tiny_portfolio.ACME_USER
    )
    shown = [str(e.value) for e in at.error]
    assert len(shown) == 1 and shown[0].startswith("Something went wrong while preparing this page"), shown
    reference = re.search(r"reference ([0-9a-f]{8})", shown[0]).group(1)
    assert "Traceback" not in shown[0] and "change_order" not in shown[0], "no technical detail on the page"
    lines = [line for line in log_lines() if reference in line]
    assert len(lines) == 1, "one event, one line"
    line = lines[0]
    assert line.startswith("ERROR dashboard query error") and "page=budget" in line
    assert "no such table: change_order" in line and "Traceback" in line and " ⏎ " in line
    assert tiny_portfolio.ACME_USER not in line and f"user={errors.user_tag(tiny_portfolio.ACME_USER)}" in line


def test_a_view_too_large_for_the_timeout_says_to_narrow_it(monkeypatch, small_demo_db, tmp_path, log_lines):
    # A fresh copy: nothing of it is in the query cache, so the page asks the database, which cannot answer in time.
    url = copy_sqlite(small_demo_db, tmp_path / "slow.db")
    monkeypatch.setenv("DASHBOARD_STATEMENT_TIMEOUT_S", "0.000001")
    at = open_page(monkeypatch, url, "portfolio")
    assert not at.exception
    shown = [str(e.value) for e in at.error]
    assert len(shown) == 1 and shown[0].startswith("This view is too large to work out in time"), shown
    reference = re.search(r"reference ([0-9a-f]{8})", shown[0]).group(1)
    assert any(line.startswith("WARNING dashboard statement timeout") and reference in line for line in log_lines())
    assert not at.button, "no Retry: the same view would time out again"


def test_logging_is_configured_once_at_the_settings_level():
    errors.configure_logging("INFO")  # as the app does when it starts
    before = list(errors.log.handlers)
    errors.configure_logging("DEBUG")
    errors.configure_logging("WARNING")
    assert errors.log.handlers == before, "the handler is added once per process"
    assert errors.log.level == logging.WARNING and not errors.log.propagate
    errors.configure_logging("INFO")


def test_a_busy_pool_is_an_outage_and_a_file_that_is_no_database_is_not(tiny_db, tmp_path):
    engine = create_engine(tiny_db, pool_size=1, max_overflow=0, pool_timeout=0.1)
    try:
        with engine.connect():
            with pytest.raises(SQLAlchemyError) as busy:
                engine.connect()
    finally:
        engine.dispose()
    assert isinstance(errors.from_database(busy.value), errors.DatabaseUnreachable), "retrying can help"
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"not a database at all, " * 100)
    assert isinstance(raised(f"sqlite:///{garbage}", "SELECT count(*) FROM sqlite_master"), errors.QueryError), (
        "retrying cannot help"
    )


def test_no_e_mail_reaches_the_log_when_the_sign_in_lookup_fails(monkeypatch, tiny_db, tmp_path, log_lines):
    # The access table is what the sign-in reads with the user's e-mail as a parameter: break it.
    url = without_table(tiny_db, tmp_path / "no_access.db", "user_access")
    at = open_page(monkeypatch, url, "portfolio", user=tiny_portfolio.ACME_USER)
    (shown,) = [str(e.value) for e in at.error]
    reference = re.search(r"reference ([0-9a-f]{8})", shown).group(1)
    (line,) = [line for line in log_lines() if reference in line]
    assert "no such table: user_access" in line
    assert tiny_portfolio.ACME_USER not in line and tiny_portfolio.ACME_USER.lower() not in line.lower()


def test_the_log_level_does_not_stop_the_server_reading_published_figures():
    """Published figures are read only under the settings they were computed with; the log level changes no figure."""
    from dashboard.published import settings_key
    from dashboard.settings import Settings

    assert settings_key(Settings(log_level="DEBUG")) == settings_key(Settings(log_level="WARNING"))
    assert settings_key(Settings(index_green=0.9)) != settings_key(Settings()), "a threshold does change them"


def test_a_broken_review_query_is_named_a_bug_on_the_page_and_in_the_email_log(
    monkeypatch, tiny_db, tmp_path, log_lines
):
    # The review database's schema says it is up to date, but a column the code reads is gone (a migration gone
    # wrong): that is a bug to report with its reference, not an outage to wait out.
    from dashboard import digest, review
    from dashboard.settings import get_settings
    from test_digest import Document

    url = f"sqlite:///{tmp_path / 'review.db'}"
    review.open_store(url)
    altered(url, "ALTER TABLE review_event DROP COLUMN responds_to")
    monkeypatch.setenv("DASHBOARD_REVIEW_DATABASE_URL", url)
    get_settings.cache_clear()

    at = open_page(monkeypatch, tiny_db, "overview", trial="T-1", as_of=tiny_portfolio.AS_OF.isoformat())
    assert not at.exception and not at.error
    (shown,) = [w.value for w in at.warning if "actions and notes" in w.value]
    assert "the review database refused the dashboard's request" in shown and "figures are not affected" in shown
    assert "Try again" not in shown and "responds_to" not in shown
    reference = re.search(r"reference ([0-9a-f]{8})", shown).group(1)
    assert at.metric, "the page's figures are still there"
    (line,) = [line for line in log_lines() if reference in line]
    assert line.startswith("ERROR dashboard review query error") and "page=overview" in line
    assert "no such column: review_event.responds_to" in line and "Traceback" in line

    out = tmp_path / "digest.html"
    as_of = tiny_portfolio.AS_OF.isoformat()
    assert digest.main(["--as-of", as_of, "--user", tiny_portfolio.ACME_USER, "--out", str(out), "--url", tiny_db]) == 0
    assert "The review database could not be read" in Document(out.read_text(encoding="utf-8")).text
    (line,) = [line for line in log_lines() if "page=digest" in line]
    assert line.startswith("ERROR dashboard review query error ref=") and "responds_to" in line
