"""Named errors and the server's log: what went wrong, in a sentence for the user and a line for the operator.

A database error reaches the dashboard as a driver's exception. `from_database` names it:

- `DatabaseUnreachable`: the server is down, refuses connections, or the file cannot be opened (an outage: the user
  is asked to try again);
- `StatementTimeout`: a query ran past the statement timeout (the view is too large: the user is asked to narrow it);
- `QueryError`: the database answered that the query is wrong (a bug, or a schema the code does not match).

Anything else that escapes a page is an `UnexpectedError` (a bug). Each carries a short reference, which the user
sees and the log line holds with the traceback, so a report ("reference 3f9a2c1e") finds its line.

`configure_logging` sets the `dashboard` logger up once per process: level from the settings, one line per event
(a traceback is folded into its line), and never a user's e-mail in clear (`user_tag` hashes it).
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import sys

from sqlalchemy.exc import DBAPIError, InterfaceError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout

log = logging.getLogger("dashboard")


class DashboardError(Exception):
    """An error the user is told about in a sentence that fits it, with a reference to the log line."""

    kind = "error"
    advice = "Something went wrong while preparing this page. Tell your dashboard administrator the reference {ref}."

    def __init__(self, detail: str = "") -> None:
        super().__init__(detail)
        self.detail = detail
        self.reference = secrets.token_hex(4)

    @property
    def message(self) -> str:
        """What the user reads."""
        return self.advice.format(ref=self.reference)


class DatabaseUnreachable(DashboardError):
    kind = "database unreachable"
    advice = (
        "The reporting database is not answering right now, so this page cannot show its figures. Try again in a "
        "minute; if it persists, tell your dashboard administrator (reference {ref})."
    )


class ReviewUnavailable(DashboardError):
    kind = "review database unavailable"
    advice = (
        "The review database is not answering, so the actions and notes are not shown here; the figures are not "
        "affected. Try again in a minute; if it persists, tell your dashboard administrator (reference {ref})."
    )


class ReviewQueryError(DashboardError):
    kind = "review query error"
    advice = (
        "The actions and notes cannot be shown: the review database refused the dashboard's request. The figures "
        "are not affected. Tell your dashboard administrator the reference {ref}."
    )


class StatementTimeout(DashboardError):
    kind = "statement timeout"
    advice = (
        "This view is too large to work out in time. Narrow the filters in the sidebar (a sponsor, a therapeutic "
        "area, a phase or a trial) and try again (reference {ref})."
    )


class QueryError(DashboardError):
    kind = "query error"


class UnexpectedError(DashboardError):
    kind = "unexpected error"


# PostgreSQL's SQLSTATE classes (Appendix A of its manual): 08 connection exception, 53 insufficient resources,
# 57P0x the server shutting down or unavailable, 40 a transaction rolled back by a conflict (a serialization failure,
# a deadlock: retrying succeeds); 57014 a statement cancelled (statement_timeout).
_PG_TIMEOUT = {"57014"}
_PG_UNREACHABLE_PREFIXES = ("08", "53", "57P", "40")
# SQLite says it in words: the progress handler's interrupt is our statement timeout.
_SQLITE_TIMEOUT = ("interrupted",)
# An outage: retrying later can help. A malformed file or a write refused by a read-only connection is not one.
_SQLITE_UNREACHABLE = ("unable to open database", "database is locked", "disk i/o error")


def from_database(exc: SQLAlchemyError) -> DashboardError:
    """The named error of a database exception (the driver's error is kept as the cause by the caller)."""
    original = getattr(exc, "orig", None)
    text = str(original if original is not None else exc).strip()
    detail = f"{type(original or exc).__name__}: {text.splitlines()[0] if text else ''}"
    sqlstate = getattr(original, "sqlstate", None) or getattr(original, "pgcode", None)
    if sqlstate:
        if sqlstate in _PG_TIMEOUT:
            return StatementTimeout(detail)
        if sqlstate.startswith(_PG_UNREACHABLE_PREFIXES):
            return DatabaseUnreachable(detail)
        return QueryError(detail)
    lowered = text.lower()
    if any(word in lowered for word in _SQLITE_TIMEOUT):
        return StatementTimeout(detail)
    if isinstance(exc, DBAPIError) and (exc.connection_invalidated or isinstance(exc, InterfaceError)):
        return DatabaseUnreachable(detail)
    if isinstance(exc, PoolTimeout):  # every connection of the pool busy for too long: a server overwhelmed
        return DatabaseUnreachable(detail)
    if any(words in lowered for words in _SQLITE_UNREACHABLE) or _connection_failed(lowered):
        return DatabaseUnreachable(detail)
    return QueryError(detail)


def _connection_failed(text: str) -> bool:
    """A driver's words for a connection that could not be made or was lost (psycopg without an SQLSTATE)."""
    return any(
        words in text
        for words in (
            "connection refused",
            "could not connect",
            "connection failed",
            "server closed the connection",
            "connection is closed",
            "no route to host",
            "name or service not known",
            "failed to resolve host",
            "temporary failure in name resolution",
            "timeout expired",
            "terminating connection",
        )
    )


def named(exc: BaseException) -> DashboardError:
    """Any exception that reached the page's frame, named: a database error by `from_database`, a named one as it is,
    anything else an unexpected error."""
    if isinstance(exc, DashboardError):
        return exc
    if isinstance(exc, SQLAlchemyError):
        return from_database(exc)
    return UnexpectedError(f"{type(exc).__name__}: {exc}")


def review_error(exc: BaseException) -> DashboardError:
    """A failure of the review database (actions and notes), named: a query it refuses is a bug (ReviewQueryError);
    an outage, a timeout or a file that cannot be opened is ReviewUnavailable (try again)."""
    found = from_database(exc) if isinstance(exc, SQLAlchemyError) else None
    detail = found.detail if found is not None else f"{type(exc).__name__}: {exc}"
    return ReviewQueryError(detail) if isinstance(found, QueryError) else ReviewUnavailable(detail)


def report(error: DashboardError, exc: BaseException, *, page: str | None = None, user: str | None = None) -> None:
    """Write the error's log line: its kind, reference, page, the user's tag and the traceback of `exc`."""
    level = (
        logging.WARNING
        if isinstance(error, (DatabaseUnreachable, StatementTimeout, ReviewUnavailable))
        else logging.ERROR
    )
    log.log(
        level,
        "%s ref=%s page=%s user=%s: %s",
        error.kind,
        error.reference,
        page or "-",
        user_tag(user),
        error.detail,
        exc_info=(type(exc), exc, exc.__traceback__),
    )


def user_tag(email: str | None) -> str:
    """A stable tag for a user in the log, not their e-mail: the first 10 hex digits of its SHA-256."""
    if not email:
        return "-"
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()[:10]


class OneLineFormatter(logging.Formatter):
    """One line per event: a traceback is folded into the line (" ⏎ " between its lines), so a log reader or a
    grep sees the whole event, and one event cannot pass for several."""

    def format(self, record: logging.LogRecord) -> str:
        return super().format(record).replace("\r", "").replace("\n", " ⏎ ")


_configured = False


def configure_logging(level: str = "INFO") -> None:
    """Set the `dashboard` logger up once per process (later calls change only its level): to standard error, one line
    per event with time, level and logger name. Streamlit's own logger is left as Streamlit sets it."""
    global _configured
    log.setLevel(level.upper())
    if _configured:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(OneLineFormatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    log.addHandler(handler)
    log.propagate = False
    _configured = True
