"""Engines for the reporting database, and the commands that create and migrate its schema.

The dashboard reads through `make_engine(url)`, whose connections refuse writes. Creating and
migrating the schema is a separate step with its own writable engine:

    python -m dashboard.db init [--url URL]       create the schema in an empty database
    python -m dashboard.db upgrade [--url URL]    apply the migrations the database lacks
    python -m dashboard.db revision -m MESSAGE    write the next migration (developers)

--url defaults to the DASHBOARD_DATABASE_URL setting.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
VERSION_TABLE = "alembic_version"
# Schema changes may rewrite large tables: allow them far longer than a dashboard query.
MIGRATION_TIMEOUT_S = 3600


class SchemaStateError(Exception):
    """The database is not in a state the schema command can start from."""


class UsageError(Exception):
    """A command-line user's mistake (bad setting or URL): reported as one plain line, exit code 2."""


def cli_database_url(url: str | None) -> tuple[str, str]:
    """The URL a command should use (given, else the setting), checked; returns it and a printable form."""
    if url is None:
        from pydantic import ValidationError

        from dashboard.settings import get_settings

        try:
            url = get_settings().database_url
        except ValidationError as exc:
            error = exc.errors()[0]
            raise UsageError(f"invalid DASHBOARD_* setting: {error['loc'][0]}: {error['msg']}") from None
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise UsageError(f"not a database URL: {url!r}") from None
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise UsageError(f"unsupported database {parsed.get_backend_name()!r}: use a sqlite or postgresql URL")
    return url, parsed.render_as_string(hide_password=True)


def report_cli_error(exc: BaseException, action: str) -> int:
    """Print one plain line for an error a command-line user can meet and return the exit code; re-raise others."""
    if isinstance(exc, (UsageError, SchemaStateError)):
        message, code = str(exc), 2
    elif isinstance(exc, ImportError):
        message, code = f"the database driver is not installed: {exc}", 2
    elif isinstance(exc, DBAPIError):
        reason = str(exc.orig).strip().splitlines()[0] if str(exc.orig).strip() else type(exc.orig).__name__
        message, code = f"database error during {action}: {reason}", 1
    elif isinstance(exc, SQLAlchemyError):
        message, code = f"database error during {action}: {str(exc).splitlines()[0]}", 1
    else:
        raise exc
    print(f"error: {message}", file=sys.stderr)
    return code


def make_engine(url: str, *, read_only: bool = True, statement_timeout_s: float = 30) -> Engine:
    """An engine for `url`; with `read_only` every connection refuses writes (architecture.md)."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        # hide_parameters: an error's text (logged, printed by the commands) never carries a query's values, such as
        # the e-mail the sign-in looks up.
        engine = create_engine(
            url, connect_args={"timeout": statement_timeout_s, "check_same_thread": False}, hide_parameters=True
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, record):
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            if read_only:
                cursor.execute("PRAGMA query_only=ON")
            else:
                # Write-ahead log (kept by the file once set): readers go on reading the last committed data while a
                # load writes, instead of waiting for it; the dashboard's read-only connections inherit it.
                cursor.execute("PRAGMA journal_mode=WAL")
            cursor.close()
            info = record.info

            # SQLite has no statement timeout: interrupt a statement (and the reading of its rows) that runs too long.
            def _past_deadline() -> int:
                started = info.get("statement_started")
                return int(started is not None and time.monotonic() - started > statement_timeout_s)

            dbapi_connection.set_progress_handler(_past_deadline, 20_000)

        @event.listens_for(engine, "before_cursor_execute")
        def _start_clock(conn, _cursor, _statement, _parameters, _context, _executemany):
            conn.info["statement_started"] = time.monotonic()

        return engine
    if backend == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        options = f"-c statement_timeout={int(statement_timeout_s * 1000)}"
        if read_only:
            options += " -c default_transaction_read_only=on"
        return create_engine(parsed, connect_args={"options": options}, pool_pre_ping=True, hide_parameters=True)
    raise ValueError(
        f"Unsupported database URL {parsed.render_as_string(hide_password=True)!r}: use sqlite or postgresql"
    )


def writable_engine(url: str, *, statement_timeout_s: float) -> Engine:
    """A writable engine whose transactions include DDL and, on SQLite, hold the write lock from their start (the
    loader's and the snapshot command's: one writer at a time, and no check or computation outside the transaction)."""
    engine = make_engine(url, read_only=False, statement_timeout_s=statement_timeout_s)
    if engine.dialect.name == "sqlite":
        # pysqlite would begin only before the first INSERT, leaving the checks and any DDL outside the transaction.
        @event.listens_for(engine, "connect")
        def _autocommit_driver(dbapi_connection, _record):
            dbapi_connection.isolation_level = None

        @event.listens_for(engine, "begin")
        def _begin_immediate(conn):
            conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def alembic_config(*, url: str | None = None, connection: Connection | None = None) -> Config:
    """The Alembic configuration, handing migrations/env.py either a URL or an open connection."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    config.attributes["url"] = url
    config.attributes["connection"] = connection
    return config


def head_revision() -> str | None:
    """The newest migration's revision id."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def create_schema(engine: Engine) -> None:
    """Create every table of the reporting schema in an empty database and record it as migrated to head."""
    from dashboard.schema import metadata

    with engine.begin() as connection:
        existing = inspect(connection).get_table_names()
        if existing:
            raise SchemaStateError(
                f"the database already has tables ({', '.join(sorted(existing)[:5])}{', …' if len(existing) > 5 else ''}); "
                "use `upgrade` to migrate it, or start from an empty database"
            )
        metadata.create_all(connection, checkfirst=False)
        command.stamp(alembic_config(connection=connection), "head")


def init(url: str) -> None:
    """Create the reporting schema in the empty database at `url`."""
    engine = make_engine(url, read_only=False, statement_timeout_s=MIGRATION_TIMEOUT_S)
    try:
        create_schema(engine)
    finally:
        engine.dispose()


def upgrade(url: str) -> None:
    """Apply every migration the database at `url` lacks; an empty database gets the whole schema."""
    engine = make_engine(url, read_only=False, statement_timeout_s=MIGRATION_TIMEOUT_S)
    try:
        with engine.connect() as connection:
            tables = set(inspect(connection).get_table_names())
        if tables and VERSION_TABLE not in tables:
            raise SchemaStateError(
                "the database has tables but no migration version: it was not made by `init` or `upgrade`"
            )
    finally:
        engine.dispose()
    command.upgrade(alembic_config(url=url), "head")


def current_revision(url: str) -> str | None:
    """The revision the database at `url` is migrated to (None: never migrated)."""
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def make_revision(message: str) -> Path:
    """Write the next migration: what schema.metadata has that the migrations so far do not build.

    It compares against SQLite, which sees no CHECK constraints or comments: add changes to those by hand.
    """
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/head.db"
        upgrade(url)
        head = head_revision()
        rev_id = f"{int(head) + 1:04d}" if head else "0001"
        script = command.revision(alembic_config(url=url), message=message, autogenerate=True, rev_id=rev_id)
    if not script:  # autogenerate found no change (migrations/env.py writes no empty file)
        raise SchemaStateError("schema.metadata matches the migrations: nothing to write")
    return Path(script.path)


def main(argv: list[str] | None = None) -> int:
    """Command line: init, upgrade or revision; plain one-line errors, exit 2 for a user error."""
    parser = argparse.ArgumentParser(
        prog="python -m dashboard.db", description="Create or migrate the reporting schema."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    for name, help_ in (
        ("init", "create the schema in an empty database"),
        ("upgrade", "apply the migrations the database lacks"),
    ):
        sub = commands.add_parser(name, help=help_)
        sub.add_argument("--url", help="SQLAlchemy database URL (default: the DASHBOARD_DATABASE_URL setting)")
    revision = commands.add_parser("revision", help="write the next migration from changes to dashboard/schema/")
    revision.add_argument("-m", "--message", required=True, help="what the migration does, e.g. 'add site region'")
    args = parser.parse_args(argv)

    try:
        if args.command == "revision":
            print(f"Wrote {make_revision(args.message)}; read it and tidy it before committing.")
            return 0
        url, shown = cli_database_url(args.url)
        if args.command == "init":
            init(url)
            print(f"Created the reporting schema in {shown} (revision {current_revision(url)}).")
        else:
            upgrade(url)
            print(f"{shown} is at revision {current_revision(url)} (head).")
        return 0
    except (UsageError, SchemaStateError, ImportError, SQLAlchemyError) as exc:
        return report_cli_error(exc, args.command)


if __name__ == "__main__":
    sys.exit(main())
