"""The figures of a view as data, for a PMO's slides or BI: every figure of the registry, as the pages show it.

    python -m dashboard.figures --as-of DATE [--since DATE] [--trial PROTOCOL] (--user EMAIL | --all-sponsors)
                                [--format json|csv] [--out FILE] [--sponsor CODE] [--url URL]

One portfolio block (the whole view: the user's trials, or --trial's) and one block per trial in it, each figure
with its key, label, value (a number, an ISO date or null), display (the text its tile shows), unit, health (its
colour, where it has one) and change since the compare date. Access as for the digest: --user builds it for that
user's grants, --all-sponsors for every sponsor. JSON:

    {"as_of": "2026-11-24", "since": "2026-11-17", "portfolio": [figure, …],
     "by_currency": {"<currency>": [figure, …]}, "trials": {"<protocol>": [figure, …]}}

`by_currency` is empty unless the trials in view report in several currencies: then the portfolio's amounts do not
add up (its budget figures are null) and each currency has its own earned-value figures, over its trials.

CSV: one row per figure, its block ("portfolio", "portfolio in EUR" or the protocol number) first. Exit codes: 0 done, 1 a database
error, 2 a usage error (one plain line on stderr).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from pathlib import Path

from sqlalchemy import Connection
from sqlalchemy.exc import SQLAlchemyError

from dashboard import access, cli, registry
from dashboard.db import UsageError, report_cli_error
from dashboard.forecast import Forecasts
from dashboard.links import ViewState
from dashboard.settings import Settings
from queries import overview, portfolio

FIELDS = ("key", "label", "value", "display", "unit", "health", "change")


def view_figures(conn: Connection, grants: list[access.Grant], view: ViewState, settings: Settings) -> dict:
    """The figures of `view` (as_of required) for a user's `grants`, as the JSON document described above."""
    scope, notices = access.make_scope(grants, view, view.as_of)
    if notices:
        raise UsageError(notices[0])
    if scope.trial is not None:
        known = set(portfolio.trial_options(conn, scope)["protocol_number"])
        if scope.trial not in known:
            raise UsageError(f"no trial {scope.trial!r} among those this access may see")
    compose = overview.direct(overview.connected(conn), settings, Forecasts())
    now = overview.view_basis(compose, scope, settings, flags=True, vendor=True)
    then = overview.view_basis(compose, overview.then_scope(scope), settings, flags=True, vendor=True)
    return {
        "as_of": scope.as_of.isoformat(),
        "since": scope.since.isoformat(),
        "portfolio": [v.as_dict() for v in registry.block(now, then, "portfolio")],
        # Trials in several reporting currencies: the earned-value figures per currency (the totals do not add up).
        "by_currency": {c: [v.as_dict() for v in values] for c, values in registry.by_currency(now, then).items()},
        "trials": {
            p: [v.as_dict() for v in registry.block(now.of_trial(p), then.of_trial(p), "trial", costly=True)]
            for p in now.protocols
        },
    }


def as_csv(document: dict) -> str:
    """The figures document as CSV: one row per figure, its block first."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=("block", *FIELDS), lineterminator="\n")
    writer.writeheader()
    blocks = [
        ("portfolio", document["portfolio"]),
        *((f"portfolio in {c}", values) for c, values in document.get("by_currency", {}).items()),
        *document["trials"].items(),
    ]
    for name, figures in blocks:
        for figure in figures:
            writer.writerow({"block": name, **{k: "" if figure[k] is None else figure[k] for k in FIELDS}})
    return out.getvalue()


def main(argv: list[str] | None = None) -> int:
    """Command line: print or write the view's figures; plain one-line errors."""
    parser = argparse.ArgumentParser(
        prog="python -m dashboard.figures",
        description="Print the figures of a view, as the dashboard shows them, as JSON or CSV.",
    )
    parser.add_argument("--trial", metavar="PROTOCOL", help="only this trial (its protocol number)")
    who = parser.add_mutually_exclusive_group(required=True)
    who.add_argument("--user", metavar="EMAIL", help="the figures this user may see (their grants in the access table)")
    who.add_argument("--all-sponsors", action="store_true", help="every sponsor (as in demo mode)")
    parser.add_argument("--format", choices=("json", "csv"), default="json", help="output format (default json)")
    parser.add_argument("--out", metavar="FILE", type=Path, help="write here instead of standard output")
    cli.add_view_arguments(parser)
    args = parser.parse_args(argv)

    try:
        view, settings, engine = cli.open_view(args)
        try:
            with engine.connect() as conn:
                grants = cli.grants_of(conn, None if args.all_sponsors else args.user, view.sponsor)
                document = view_figures(conn, grants, view, settings)
        finally:
            engine.dispose()
    except (UsageError, ImportError, SQLAlchemyError) as exc:
        return report_cli_error(exc, "the figures")

    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n" if args.format == "json" else as_csv(document)
    if args.out is None:
        sys.stdout.write(text)
        return 0
    try:
        args.out.write_text(text, encoding="utf-8")
    except OSError as exc:
        print(f"error: cannot write the figures: {exc.strerror or exc}: {exc.filename or args.out}", file=sys.stderr)
        return 2
    print(f"Wrote the figures to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
