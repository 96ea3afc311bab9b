"""The command line of the digest: python -m dashboard.digest (see dashboard.digest)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from dashboard import access, cli
from dashboard.db import UsageError, report_cli_error
from dashboard.digest.content import sponsor_names
from dashboard.digest.mail import MailError, message, recipients, send
from dashboard.digest.model import build_digest
from dashboard.digest.phrases import plural_text
from dashboard.digest.render import render_html
from dashboard.forecast import Forecasts

# --- Command line ---------------------------------------------------------------------------------


def _check_arguments(args: argparse.Namespace) -> None:
    for flag, value in (("--to", args.to), ("--user", args.user)):
        if value is not None and access.valid_email(value) is None:
            raise UsageError(f"{flag} {value[:80]!r} is not an e-mail address")
    if args.to and not (args.send and args.user):
        raise UsageError("--to needs --send and --user (whose access the digest is built for)")
    if args.all_sponsors and (args.user or args.send):
        raise UsageError("--all-sponsors builds one digest of every sponsor: leave out --user and --send")
    if not args.send:
        if not args.out:
            raise UsageError("say where the digest goes: --out FILE.html, or --send")
        if not (args.user or args.all_sponsors):
            raise UsageError("say whose access the digest is for: --user EMAIL, or --all-sponsors for every sponsor")


def _out_path(out: Path, address: str | None) -> Path:
    """Where a digest's HTML goes: FILE itself, or beside it with the recipient's address in the name."""
    return out if address is None else out.with_name(f"{out.stem}.{address}{out.suffix or '.html'}")


def main(argv: list[str] | None = None) -> int:
    """Command line: write the digest to a file and/or mail it; plain one-line errors."""
    parser = argparse.ArgumentParser(
        prog="python -m dashboard.digest",
        description="Write or send the status digest: key figures, what changed and what slipped, each line linking into the dashboard.",
    )
    parser.add_argument("--user", metavar="EMAIL", help="build the digest for this user's access (the access table)")
    parser.add_argument(
        "--all-sponsors", action="store_true", help="without --user: every sponsor (demo mode); not with --send"
    )
    parser.add_argument(
        "--out",
        metavar="FILE.html",
        type=Path,
        help="write the HTML here (with --send: one file per recipient beside it)",
    )
    parser.add_argument(
        "--send", action="store_true", help="mail one digest per recipient (every user of the access table, or --user)"
    )
    parser.add_argument(
        "--to", metavar="ADDR", help="with --send and --user: mail that user's digest to this address instead"
    )
    cli.add_view_arguments(parser)
    args = parser.parse_args(argv)

    try:
        _check_arguments(args)
        view, settings, engine = cli.open_view(args)
        try:
            with engine.connect() as conn:
                forecasts = Forecasts()
                built = [
                    (r, build_digest(conn, list(r.grants), view, settings, user=r.user, predict=forecasts))
                    for r in recipients(conn, args, view.sponsor)
                ]
        finally:
            engine.dispose()
    except (UsageError, ImportError, SQLAlchemyError) as exc:
        return report_cli_error(exc, "the digest")

    if args.out:
        try:
            for r, d in built:
                path = _out_path(args.out, r.address)
                path.write_text(render_html(d), encoding="utf-8")
                print(f"Wrote the digest {('for ' + r.address + ' ') if r.address else ''}to {path}")
        except OSError as exc:
            print(f"error: cannot write the digest: {exc.strerror or exc}: {exc.filename or args.out}", file=sys.stderr)
            return 2
    if args.send:
        try:
            send([message(d, r.address, settings) for r, d in built], settings)
        except MailError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        for r, d in built:
            print(f"Sent the digest to {r.address} ({sponsor_names(d)}; {plural_text(len(d.trials), 'trial')})")
    return 0
