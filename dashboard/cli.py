"""What the command lines that read the reporting database share (the digest, the figures): dates, settings,
the database file, and whose access the output is built for."""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path

from pydantic import ValidationError
from sqlalchemy import Connection, Engine
from sqlalchemy.engine import make_url

from dashboard import access, errors
from dashboard.db import UsageError, cli_database_url, make_engine
from dashboard.links import COMPARE_DAYS, ViewState
from dashboard.settings import Settings, get_settings


def parse_date(value: str, flag: str) -> date:
    """A command-line date (YYYY-MM-DD), or a usage error naming the flag."""
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise UsageError(f"{flag} {value!r} is not a date (use YYYY-MM-DD)") from None


def settings() -> Settings:
    """The DASHBOARD_* settings, or a usage error naming the bad one."""
    try:
        return get_settings()
    except ValidationError as exc:
        error = exc.errors()[0]
        raise UsageError(f"invalid DASHBOARD_* setting: {error['loc'][0]}: {error['msg']}") from None


def sqlite_must_exist(url: str) -> None:
    """A missing SQLite file is a wrong path, not an empty database (connecting would create it)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        if not Path(parsed.database).exists():
            raise UsageError(f"no database file at {parsed.database}")


def grants_of(conn: Connection, user: str | None, sponsor_code: str | None) -> list[access.Grant]:
    """The sponsors `user` may see (None: every sponsor), narrowed to `sponsor_code`; a usage error when none."""
    grants = access.granted_sponsors(conn, user)
    who = user or "this database"
    if not grants:
        raise UsageError(
            f"{user} has no access to any sponsor's trials, so there is nothing to show them"
            if user
            else "the database has no sponsors"
        )
    if sponsor_code is not None and sponsor_code not in {g.sponsor_code for g in grants}:
        raise UsageError(
            f"no sponsor {sponsor_code!r} among those {who} may see ({', '.join(g.sponsor_code for g in grants)})"
        )
    return grants


def add_view_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags that say which view a command shows: --as-of, --since, --sponsor, --url."""
    parser.add_argument("--as-of", required=True, metavar="DATE", help="the date the figures are as of (YYYY-MM-DD)")
    parser.add_argument(
        "--since",
        metavar="DATE",
        help=f"the date changes are measured from (default: {COMPARE_DAYS} days before --as-of)",
    )
    parser.add_argument("--sponsor", metavar="CODE", help="only this sponsor (among those the user may see)")
    parser.add_argument("--url", help="SQLAlchemy database URL (default: the DASHBOARD_DATABASE_URL setting)")


def view(args: argparse.Namespace) -> ViewState:
    """The view the command-line flags name (--as-of, --since, --sponsor, and --trial where the command has it),
    validated like a link, with its compare date made explicit."""
    as_of = parse_date(args.as_of, "--as-of")
    since = parse_date(args.since, "--since") if args.since else None
    if since is not None and since >= as_of:
        raise UsageError(f"--since {since} is not before --as-of {as_of}")
    try:
        state = ViewState(sponsor=args.sponsor, trial=getattr(args, "trial", None), as_of=as_of, since=since)
    except ValidationError as exc:
        field_name = exc.errors()[0]["loc"][0]
        raise UsageError(f"--{field_name.replace('_', '-')} {getattr(args, field_name)!r} is not valid") from None
    return state.model_copy(update={"since": state.effective_since(as_of)})


def open_view(args: argparse.Namespace) -> tuple[ViewState, Settings, Engine]:
    """The view the flags name, the settings, and a read-only engine on the database (--url, else the setting)."""
    state = view(args)
    found = settings()
    errors.configure_logging(found.log_level)  # warnings (the review database unreadable) as the app logs them
    url, _ = cli_database_url(args.url)
    sqlite_must_exist(url)
    return state, found, make_engine(url, read_only=True, statement_timeout_s=found.statement_timeout_s)
