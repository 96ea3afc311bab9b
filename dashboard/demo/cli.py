"""The command line of the demo: python -m dashboard.demo (see dashboard.demo)."""

from __future__ import annotations

import argparse
import sys
import time
from datetime import date
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from dashboard.db import (
    SchemaStateError,
    UsageError,
    cli_database_url,
    current_revision,
    head_revision,
    report_cli_error,
)
from dashboard.demo.specs import DEFAULT_TRIALS, MIN_TRIALS, DemoError
from dashboard.demo.writer import _url_has_trials, build, export_csv


def _sqlite_file(url: str) -> Path | None:
    parsed = make_url(url)
    if (
        parsed.get_backend_name() != "sqlite"
        or not parsed.database
        or parsed.database == ":memory:"
        or parsed.database.startswith("file:")
    ):
        return None
    return Path(parsed.database)


def _parse_date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {value!r}") from None


def main(argv: list[str] | None = None) -> int:
    """Command line; plain one-line errors on stderr, exit 2 for a user error."""
    parser = argparse.ArgumentParser(
        prog="python -m dashboard.demo", description="Write the demo portfolio into a database."
    )
    parser.add_argument("--url", help="SQLAlchemy database URL (default: the DASHBOARD_DATABASE_URL setting)")
    parser.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    parser.add_argument(
        "--trials",
        type=int,
        default=DEFAULT_TRIALS,
        help=f"trials of the main sponsor (default {DEFAULT_TRIALS}, at least {MIN_TRIALS}); 200 makes a large portfolio",
    )
    parser.add_argument("--today", type=_parse_date, help="data cut date, YYYY-MM-DD (default: today)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--if-missing", action="store_true", help="do nothing if the database already has trials")
    mode.add_argument("--replace", action="store_true", help="drop every table first, then write the demo")
    parser.add_argument(
        "--csv",
        metavar="DIR",
        type=Path,
        help="write the portfolio as the CSV files of docs/data-contract.md into DIR instead of a database",
    )
    args = parser.parse_args(argv)
    if args.trials < MIN_TRIALS:
        print(f"error: --trials must be at least {MIN_TRIALS}", file=sys.stderr)
        return 2
    if args.csv is not None:
        if args.url or args.if_missing or args.replace:
            print(
                "error: --csv writes files, not a database: leave out --url, --if-missing and --replace",
                file=sys.stderr,
            )
            return 2
        try:
            counts = export_csv(args.csv, seed=args.seed, n_trials=args.trials, today=args.today)
        except OSError as exc:
            print(f"error: cannot write the CSV files: {exc}", file=sys.stderr)
            return 2
        print(f"Wrote the demo portfolio (seed {args.seed}) as CSV files to {args.csv}: {sum(counts.values()):,} rows")
        for name, n in counts.items():
            print(f"  {name:<24} {n:>10,}")
        print(f"Load them with: python -m dashboard.load {args.csv} --url URL")
        return 0

    try:
        url, shown = cli_database_url(args.url)
    except UsageError as exc:
        return report_cli_error(exc, "the demo")

    try:
        path = _sqlite_file(url)
        if path is not None:
            if args.if_missing and path.exists() and _url_has_trials(url):
                if current_revision(url) == head_revision():
                    print(f"The demo database {path} exists; leaving it as it is.")
                    return 0
                # Our own demo file, made before a schema change: the dashboard could not read it.
                print(f"The demo database {path} was made for an older schema; writing it again.")
                args.replace = True
            path.parent.mkdir(parents=True, exist_ok=True)
        elif args.if_missing and _url_has_trials(url):
            print(f"{shown} already has trials; leaving it as it is.")
            return 0
        started = time.perf_counter()
        counts = build(url, seed=args.seed, n_trials=args.trials, today=args.today, replace=args.replace)
        elapsed = time.perf_counter() - started
        # Published as a nightly load would: the pages open on the snapshot instead of computing every trial.
        from dashboard import snapshot  # the command line's, not the generator's: it reads through queries/
        from dashboard.settings import get_settings

        publishing = time.perf_counter()
        published = snapshot.publish(url, snapshot.default_dates(args.today or date.today()), get_settings())
        published_s = time.perf_counter() - publishing
    except DemoError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: cannot create the database file: {exc}", file=sys.stderr)
        return 2
    except (SchemaStateError, ImportError, SQLAlchemyError) as exc:
        return report_cli_error(exc, "the demo")
    total = sum(counts.values())
    print(f"Wrote the demo portfolio (seed {args.seed}) to {shown}: {total:,} rows in {elapsed:.1f} s")
    for name, n in counts.items():
        print(f"  {name:<20} {n:>10,}")
    print(f"Published the snapshots of {' and '.join(d.isoformat() for d in published)} in {published_s:.1f} s.")
    return 0
