"""Publish snapshots: compute, where data is written, what the pages would otherwise compute on their first view.

    python -m dashboard.snapshot [--url URL] [--as-of DATE ...]

For each as-of date (default: today and a week before, as the loader does) and every trial of every sponsor: the
composed parts a view's figures are computed from (each trial's health with its forecast, its sites' flags, its
vendor risks: dashboard/published.py), every trial-level figure of the registry, and the enrollment forecast
(P10/P50/P90 last patient in, P(meet plan), extra sites needed), compared with the date a week earlier. One
transaction per date replaces that date's snapshot, so a reader sees the old one or the new one, never half.

The pages and the e-mail read a snapshot when one exists for the view's dates under the same threshold settings, and
compute live otherwise; their freshness line says which. Exit codes: 0 published, 1 a database error, 2 a usage
error, 3 the data changed while computing (a load ran): run it again.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Connection, delete, func, insert, inspect, select, text
from sqlalchemy.exc import SQLAlchemyError

from dashboard import access, cli, published, registry, schema
from dashboard.db import SchemaStateError, UsageError, cli_database_url, make_engine, report_cli_error, writable_engine
from dashboard.forecast import Forecasts
from dashboard.links import COMPARE_DAYS
from dashboard.settings import Settings
from queries import overview, snapshots

STATEMENT_TIMEOUT_S = 600
LOCK = "SELECT pg_advisory_xact_lock(hashtext('dashboard.load'))"  # the loader's: one writer at a time


class DataChanged(Exception):
    """A load finished while the snapshot was being computed: what was computed is not what is loaded now."""


@dataclass
class Computed:
    """What one date's snapshot holds, ready to write."""

    as_of: date
    compare: date
    loaded_at: datetime | None
    n_trials: int
    parts: list[dict]
    forecasts: list[dict]
    figures: list[dict]


def _latest_load(conn: Connection) -> datetime | None:
    return conn.execute(select(func.max(schema.load_log.c.loaded_at))).scalar()


def compute(conn: Connection, as_of: date, settings: Settings, predict: Callable | None = None) -> Computed:
    """Everything one date's snapshot holds, computed live for every trial of every sponsor."""
    sponsor_ids = tuple(g.sponsor_id for g in access.granted_sponsors(conn, None))
    scope = access.Scope(sponsor_ids, as_of, as_of - timedelta(days=COMPARE_DAYS))
    run = overview.connected(conn)  # each query once per scope: trial_health and trial_facts share most of theirs
    predict = predict or Forecasts()
    parts = {
        name: function(run, scope, settings, predict, live=True)
        for name, function in (
            ("trial_health", overview.trial_health),
            ("trial_facts", overview.trial_facts),
            ("flagged_sites", overview.flagged_sites),
            ("vendor_risks", overview.vendor_risks),
        )
    }
    protocols = list(parts["trial_health"].trials["protocol_number"])
    stored = {stored for frames in snapshots.PART_FRAMES.values() for stored in frames.values()}
    rows = []
    for name, part in parts.items():
        for field, frame in published.frames_of(part).items():
            part_name = f"{name}.{field}"
            if part_name not in stored:
                continue  # shared with another part (trial_facts' milestones are trial_health's)
            for protocol, payload in published.encode_by_trial(frame, protocols).items():
                rows.append(
                    {"as_of_date": as_of, "protocol_number": protocol, "part_name": part_name, "payload": payload}
                )

    # The view of every trial is composed from exactly the parts just computed (its scope has no site to drop).
    basis = overview.view_basis(
        lambda function, _scope: parts[function.__name__], scope, settings, flags=True, vendor=True
    )
    figures, forecasts = [], []
    for protocol in protocols:
        of_trial = basis.of_trial(protocol)
        for value in registry.block(of_trial, None, "trial", costly=True):
            figures.append(_figure_row(as_of, protocol, value))
        outlook = basis.outlooks.get(protocol)
        if outlook is not None:
            forecasts.append(_forecast_row(as_of, protocol, outlook))
    return Computed(as_of, scope.since, _latest_load(conn), len(protocols), rows, forecasts, figures)


def _figure_row(as_of: date, protocol: str, value: registry.Value) -> dict:
    v = value.value
    is_date = isinstance(v, date)
    number = None if v is None or is_date else float(v)
    return {
        "as_of_date": as_of,
        "protocol_number": protocol,
        "figure_key": value.key,
        "value_number": number,
        "value_date": v if is_date else None,
        "display": value.display[:80],
        "health": value.health,
    }


def _forecast_row(as_of: date, protocol: str, outlook) -> dict:
    completion = outlook.forecast.completion if outlook.forecast is not None else {}
    return {
        "as_of_date": as_of,
        "protocol_number": protocol,
        "lpi_p10_date": completion.get(0.1),
        "lpi_p50_date": completion.get(0.5),
        "lpi_p90_date": completion.get(0.9),
        "p_meet_plan": outlook.p_meet_plan,
        "sites_needed": outlook.sites_needed,
        "planned_lpi_date": outlook.planned_lpi,
        "is_complete": bool(outlook.is_complete),
        "completed_date": outlook.completed_on,
    }


def delete_date(conn: Connection, as_of: date) -> None:
    """Remove the snapshot of `as_of` (children first: SQLite enforces no cascade without its pragma)."""
    for table in (schema.snapshot_part, schema.snapshot_forecast, schema.snapshot_figure, schema.snapshot):
        conn.execute(delete(table).where(table.c.as_of_date == as_of))


def write(conn: Connection, computed: Computed, settings: Settings) -> None:
    """Replace the snapshot of computed.as_of (inside the caller's transaction)."""
    if _latest_load(conn) != computed.loaded_at:
        raise DataChanged(f"a load finished while the snapshot of {computed.as_of} was computed")
    delete_date(conn, computed.as_of)
    conn.execute(
        insert(schema.snapshot).values(
            as_of_date=computed.as_of,
            compare_date=computed.compare,
            loaded_at=computed.loaded_at,
            published_at=datetime.now(UTC).replace(tzinfo=None),
            settings_key=published.settings_key(settings),
            n_trials=computed.n_trials,
        )
    )
    for table, rows in (
        (schema.snapshot_part, computed.parts),
        (schema.snapshot_forecast, computed.forecasts),
        (schema.snapshot_figure, computed.figures),
    ):
        for start in range(0, len(rows), 500):
            conn.execute(insert(table), rows[start : start + 500])


def publish(
    url: str,
    dates: Iterable[date],
    settings: Settings,
    *,
    keep: Iterable[date] = (),
    progress: Callable[[str], None] = lambda _text: None,
) -> list[date]:
    """Compute and write the snapshot of each date (those in `keep` only if none is published yet: what people read
    then stays); returns the dates written. Each date is computed from one consistent read and written in one
    transaction."""
    keep = set(keep)
    reader = make_engine(url, read_only=True, statement_timeout_s=STATEMENT_TIMEOUT_S)
    writer = writable_engine(url, statement_timeout_s=STATEMENT_TIMEOUT_S)
    written = []
    with reader.connect() as conn:
        if not inspect(conn).has_table(schema.snapshot.name):
            reader.dispose()
            writer.dispose()
            raise SchemaStateError(
                "the database has no snapshot tables: run `python -m dashboard.db upgrade --url URL` first"
            )
    forecasts = Forecasts()
    try:
        for as_of in dates:
            if as_of in keep:
                with reader.connect() as conn:
                    if conn.execute(
                        select(schema.snapshot.c.as_of_date).where(schema.snapshot.c.as_of_date == as_of)
                    ).first():
                        progress(f"  {as_of}: already published, kept")
                        continue
            started = time.perf_counter()
            with reader.connect() as conn:
                if conn.dialect.name == "postgresql":
                    conn = conn.execution_options(isolation_level="REPEATABLE READ")
                with conn.begin():  # one consistent view of the data for the whole computation
                    computed = compute(conn, as_of, settings, forecasts)
            with writer.begin() as conn:
                if conn.dialect.name == "postgresql":
                    conn.execute(text(LOCK))
                write(conn, computed, settings)
            written.append(as_of)
            progress(f"  {as_of}: {computed.n_trials} trials published in {time.perf_counter() - started:.1f} s")
    finally:
        reader.dispose()
        writer.dispose()
    return written


def default_dates(today: date) -> list[date]:
    """The dates a load publishes: its day and the compare date of a view of that day."""
    return [today, today - timedelta(days=COMPARE_DAYS)]


def main(argv: list[str] | None = None) -> int:
    """Command line; plain one-line errors."""
    parser = argparse.ArgumentParser(
        prog="python -m dashboard.snapshot",
        description="Publish snapshots: compute each trial's figures, health, forecast and site flags for the as-of "
        "dates and store them in the reporting database, so the pages and the e-mail open without computing them.",
    )
    parser.add_argument("--url", help="SQLAlchemy database URL (default: the DASHBOARD_DATABASE_URL setting)")
    parser.add_argument(
        "--as-of",
        metavar="DATE",
        action="append",
        dest="as_of",
        help="an as-of date to publish, YYYY-MM-DD (repeatable; default: today and a week before)",
    )
    args = parser.parse_args(argv)

    def progress(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    try:
        settings = cli.settings()
        dates = [cli.parse_date(d, "--as-of") for d in args.as_of] if args.as_of else default_dates(date.today())
        url, shown = cli_database_url(args.url)
        cli.sqlite_must_exist(url)
        started = time.perf_counter()
        progress(f"Publishing snapshots in {shown}:")
        written = publish(url, dates, settings, progress=progress)
    except DataChanged as exc:
        print(f"error: {exc}: nothing was published for it; run again", file=sys.stderr)
        return 3
    except (UsageError, SchemaStateError, ImportError, SQLAlchemyError) as exc:
        return report_cli_error(exc, "publishing the snapshots")
    print(
        f"Published {len(written)} snapshot{'s' if len(written) != 1 else ''} "
        f"({', '.join(d.isoformat() for d in written)}) in {time.perf_counter() - started:.1f} s."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
