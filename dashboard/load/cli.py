"""The command line of the loader: python -m dashboard.load (see dashboard.load)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from dashboard.db import (
    SchemaStateError,
    UsageError,
    cli_database_url,
    report_cli_error,
)
from dashboard.load.model import MODES
from dashboard.load.run import _summary, load


def main(argv: list[str] | None = None) -> int:
    """Command line; problems in the files exit 1 with one line each, usage errors exit 2."""
    parser = argparse.ArgumentParser(
        prog="python -m dashboard.load",
        description="Load a folder of CSV files written to docs/data-contract.md into the reporting database.",
    )
    parser.add_argument("directory", metavar="DIR", type=Path, help="the folder holding sponsor.csv, trial.csv, …")
    parser.add_argument("--url", help="SQLAlchemy database URL (default: the DASHBOARD_DATABASE_URL setting)")
    parser.add_argument(
        "--mode",
        choices=MODES,
        default="upsert",
        help="upsert (default): insert new rows, update changed ones; replace: swap the data of the sponsors in sponsor.csv",
    )
    parser.add_argument("--dry-run", action="store_true", help="check the files and count the changes, write nothing")
    parser.add_argument(
        "--source", help="name of the load on the dashboard's freshness line (default: the folder name)"
    )
    parser.add_argument(
        "--reference",
        action="store_true",
        help="this load may change shared reference rows (countries, vendors) for every sponsor",
    )
    parser.add_argument(
        "--no-publish",
        action="store_true",
        help="do not publish snapshots after the load (several loads in a row: publish after the last "
        "with python -m dashboard.snapshot); the pages compute the load's day live until then",
    )
    args = parser.parse_args(argv)

    def progress(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    started = time.perf_counter()
    try:
        url, shown = cli_database_url(args.url)
        result = load(
            url,
            args.directory,
            mode=args.mode,
            dry_run=args.dry_run,
            source=args.source,
            progress=progress,
            reference=args.reference,
            publish=not args.no_publish,
        )
    except (UsageError, SchemaStateError, ImportError, SQLAlchemyError) as exc:
        return report_cli_error(exc, "the load")
    except KeyboardInterrupt:
        print("interrupted: nothing was written", file=sys.stderr)
        return 130
    if result.ok and result.publish_error is not None:
        for line in _summary(result, shown, args.dry_run, time.perf_counter() - started):
            print(line)
        print(
            f"The data is loaded, but publishing its snapshots failed ({result.publish_error}): the pages compute "
            f"its figures live until `python -m dashboard.snapshot --url URL` succeeds.",
            file=sys.stderr,
        )
        return 3
    if not result.ok:
        problems = result.plan.problems
        for line in problems.lines():
            print(line, file=sys.stderr)
        print(
            f"{problems.total:,} problem{'s' if problems.total != 1 else ''} in {args.directory}; nothing was written. "
            "Fix them and load again (docs/data-contract.md says what each file holds).",
            file=sys.stderr,
        )
        return 1
    for line in _summary(result, shown, args.dry_run, time.perf_counter() - started):
        print(line)
    return 0
