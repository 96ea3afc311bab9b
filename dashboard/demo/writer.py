"""Writing the demo into a database (bulk inserts; COPY on PostgreSQL) or as the data contract's CSV files."""

from __future__ import annotations

import json
import tempfile
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine, func, inspect, select, text

from dashboard import rollups, schema
from dashboard.db import (
    create_schema,
    make_engine,
)
from dashboard.demo.specs import CHUNK_ROWS, DEFAULT_TRIALS, DemoError
from dashboard.demo.tables import generate


def _python_values(series: pd.Series, *, dates_as_text: bool = False) -> list:
    """A column as plain Python values (int, float, bool, str, date, None) that every driver accepts.

    With `dates_as_text`, dates are ISO strings, which is how SQLAlchemy stores a Date on SQLite.
    """
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        days = series.to_numpy().astype("datetime64[D]")
        if not dates_as_text:
            return days.astype(object).tolist()
        out = np.datetime_as_string(days).astype(object)
        out[np.isnat(days)] = None
        return out.tolist()
    if pd.api.types.is_bool_dtype(series.dtype) and not isinstance(series.dtype, pd.BooleanDtype):
        return series.to_numpy().tolist()
    if pd.api.types.is_float_dtype(series.dtype):
        values = series.to_numpy(dtype=float)
        out = np.round(values, 2).astype(object)
        out[np.isnan(values)] = None
        return out.tolist()
    if pd.api.types.is_integer_dtype(series.dtype) and not isinstance(series.dtype, pd.api.extensions.ExtensionDtype):
        return series.to_numpy().tolist()
    return [
        None if pd.isna(v) else (v.item() if isinstance(v, np.generic) else v) for v in series.to_numpy(dtype=object)
    ]


def _insert_rows(conn: Connection, table_name: str, columns: list[str], rows: list[tuple]) -> None:
    """Bulk-insert `rows` (tuples in `columns` order): COPY on PostgreSQL, the driver's executemany on SQLite.

    Both skip SQLAlchemy's per-row parameter handling, which costs more than the database's work
    at millions of rows; the values must already be what the driver stores (see _python_values).
    """
    quote = conn.dialect.identifier_preparer.quote
    names = ", ".join(quote(c) for c in columns)
    if conn.dialect.name == "postgresql":
        with conn.connection.driver_connection.cursor() as cursor:
            with cursor.copy(f"COPY {quote(table_name)} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        return
    sql = f"INSERT INTO {quote(table_name)} ({names}) VALUES ({', '.join('?' * len(columns))})"
    for start in range(0, len(rows), CHUNK_ROWS):
        conn.exec_driver_sql(sql, rows[start : start + CHUNK_ROWS])


def _drop_foreign_keys(conn: Connection) -> list[tuple[str, str, str]]:
    """Drop the reporting tables' foreign keys (PostgreSQL); returns (table, name, definition) to add them back."""
    names = [t.name for t in schema.TABLES]
    found = conn.execute(
        text(
            "SELECT c.relname, k.conname, pg_get_constraintdef(k.oid) FROM pg_constraint k "
            "JOIN pg_class c ON c.oid = k.conrelid "
            "WHERE k.contype = 'f' AND c.relnamespace = current_schema()::regnamespace AND c.relname = ANY(:names)"
        ),
        {"names": names},
    ).all()
    quote = conn.dialect.identifier_preparer.quote
    for table_name, name, _ in found:
        conn.execute(text(f"ALTER TABLE {quote(table_name)} DROP CONSTRAINT {quote(name)}"))
    return [tuple(row) for row in found]


def _drop_sqlite_indexes(conn: Connection, table_name: str) -> list[str]:
    """Drop a SQLite table's secondary indexes (not those of its keys and unique constraints); returns their CREATE
    statements, to build them again after the table is filled."""
    found = conn.exec_driver_sql(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL", (table_name,)
    ).all()
    quote = conn.dialect.identifier_preparer.quote
    for name, _ in found:
        conn.exec_driver_sql(f"DROP INDEX {quote(name)}")
    return [sql for _, sql in found]


def write(engine: Engine, frames: dict[str, pd.DataFrame]) -> dict[str, int]:
    """Insert the frames into the existing schema, parents first, in one transaction; returns rows per table.

    On PostgreSQL the foreign keys are dropped for the load and added back after it, in the same
    transaction: checking them once over whole tables is several times faster than row by row
    (2M visits: ~10 s instead of ~45 s), and they hold afterwards exactly as before. On SQLite a
    table's secondary indexes are dropped while it is filled and built again after it (sorting the
    whole table once is quicker than growing the index row by row: 2M visits, ~5 s less).
    """
    counts: dict[str, int] = {}
    with engine.begin() as conn:
        dates_as_text = conn.dialect.name == "sqlite"
        foreign_keys = _drop_foreign_keys(conn) if conn.dialect.name == "postgresql" else []
        for table in schema.TABLES:
            df = frames.get(table.name)
            if df is None:
                continue
            unknown = set(df.columns) - set(table.columns.keys())
            if unknown:
                raise DemoError(f"table {table.name} has no column(s) {', '.join(sorted(unknown))}")
            columns = list(df.columns)
            values = [_python_values(df[c], dates_as_text=dates_as_text) for c in columns]
            indexes = _drop_sqlite_indexes(conn, table.name) if dates_as_text and len(df) >= CHUNK_ROWS else []
            _insert_rows(conn, table.name, columns, list(zip(*values)))
            for create in indexes:
                conn.exec_driver_sql(create)
            counts[table.name] = len(df)
        counts[schema.site_month.name] = rollups.refresh(conn)
        quote = conn.dialect.identifier_preparer.quote
        for table_name, name, definition in foreign_keys:
            conn.execute(text(f"ALTER TABLE {quote(table_name)} ADD CONSTRAINT {quote(name)} {definition}"))
        if conn.dialect.name == "postgresql":
            # Explicit ids leave the serial sequences behind: move them on, so later inserts get fresh ids.
            for table in schema.TABLES:
                pk = table.primary_key.columns.values()[0].name
                conn.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table.name}', '{pk}'), "
                        f"COALESCE((SELECT MAX({pk}) FROM {table.name}), 0) + 1, false)"
                    )
                )
            # Fresh statistics, so the first queries after a bulk load are planned on the data, not guessed.
            conn.execute(text("ANALYZE"))
    return counts


def _has_trials(engine: Engine) -> bool:
    with engine.connect() as conn:
        if not inspect(conn).has_table(schema.trial.name):
            return False
        return bool(conn.execute(select(func.count()).select_from(schema.trial)).scalar())


def _url_has_trials(url: str) -> bool:
    engine = make_engine(url)
    try:
        return _has_trials(engine)
    finally:
        engine.dispose()


def _drop_everything(engine: Engine) -> None:
    schema.metadata.drop_all(engine)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS alembic_version"))


def build(
    url: str, *, seed: int = 7, n_trials: int = DEFAULT_TRIALS, today: date | None = None, replace: bool = False
) -> dict[str, int]:
    """Create the schema at `url` (if missing), fill it with the demo portfolio and log the load; returns rows per table.

    Refuses a database that already has trials unless `replace`, which drops and recreates every table.
    """
    engine = make_engine(url, read_only=False, statement_timeout_s=3600)
    try:
        if replace:
            _drop_everything(engine)
        elif _has_trials(engine):
            raise DemoError("the database already has trials; use --replace to drop them and write the demo")
        if not inspect(engine).has_table(schema.trial.name):
            create_schema(engine)
        frames = generate(seed=seed, n_trials=n_trials, today=today)
        counts = write(engine, frames)
        with engine.begin() as conn:
            conn.execute(
                schema.load_log.insert().values(
                    source=f"demo (seed {seed})",
                    loaded_at=datetime.now(UTC).replace(tzinfo=None),
                    n_rows=sum(counts.values()),
                    details=json.dumps(counts),
                )
            )
        counts["load_log"] = 1
        return counts
    finally:
        engine.dispose()


def export_csv(
    directory: Path, *, seed: int = 7, n_trials: int = DEFAULT_TRIALS, today: date | None = None
) -> dict[str, int]:
    """Write the demo portfolio as the data contract's CSV files into `directory`; returns rows per file."""
    from dashboard.contract import export_csv as export

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'demo.db'}"
        build(url, seed=seed, n_trials=n_trials, today=today)
        engine = make_engine(url)
        try:
            with engine.connect() as conn:
                return export(conn, directory)
        finally:
            engine.dispose()
