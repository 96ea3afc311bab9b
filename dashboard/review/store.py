"""The review store: actions and notes in a database of their own, every change appended, never overwritten.

The reporting database stays read-only for the dashboard; this one (DASHBOARD_REVIEW_DATABASE_URL) is written by
it. An action's target and sponsor are written once (review_action); each change appends its whole new state with
who and when (review_event), so the state at any past moment, and the audit trail, are a read of the events up to
it. The database itself refuses an UPDATE or DELETE of either table (triggers), so "never overwritten" holds for
anything that connects, not only for this code.

The schema is created on first use by numbered migrations recorded in review_schema_version.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import (
    Column,
    Date,
    DateTime,
    Engine,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    func,
    insert,
    select,
)
from sqlalchemy.engine import Connection, make_url

from dashboard.db import make_engine, writable_engine
from dashboard.review.model import Action, Event, Refused, State, Target

metadata = MetaData()

review_action = Table(
    "review_action",
    metadata,
    Column("action_id", Integer, primary_key=True, autoincrement=True),
    Column("sponsor_code", String(32), nullable=False, comment="The sponsor of the trial, when it was written"),
    Column("protocol_number", String(32), nullable=False, index=True, comment="The trial (as in links)"),
    Column("site_number", String(16), nullable=True, comment="The site within the trial, if about a site"),
    Column("milestone_code", String(32), nullable=True, comment="The milestone of the trial, if about a milestone"),
    comment="One row per action or note: what it is about, written once.",
)

review_event = Table(
    "review_event",
    metadata,
    Column("event_id", Integer, primary_key=True, autoincrement=True),
    Column("action_id", ForeignKey("review_action.action_id"), nullable=False, index=True),
    Column("changed_at", DateTime, nullable=False, comment="When, UTC"),
    Column("author", String(254), nullable=False, comment="The signed-in e-mail, or 'demo user'"),
    Column("text", Text, nullable=False),
    Column("owner", String(254), nullable=True, comment="Empty: a note"),
    Column("due_date", Date, nullable=True),
    Column("status", String(8), nullable=False),
    Column("responds_to", String(64), nullable=True, comment="A figure's or site indicator's key"),
    comment="One row per change of an action: the state it left, appended, never updated.",
)

version_table = Table("review_schema_version", metadata, Column("version", Integer, nullable=False))

MIGRATION_TIMEOUT_S = 60  # a migration waits this long for another server's to finish
_APPEND_ONLY = "the review history is append-only: rows are never updated or deleted"


def _v1(conn: Connection) -> None:
    """The two tables, and triggers that refuse to change or delete their rows."""
    review_action.create(conn)
    review_event.create(conn)
    if conn.dialect.name == "sqlite":
        for table in ("review_action", "review_event"):
            for verb in ("UPDATE", "DELETE"):
                conn.exec_driver_sql(
                    f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, '{_APPEND_ONLY}'); END"
                )
    else:
        conn.exec_driver_sql(
            "CREATE FUNCTION review_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN RAISE EXCEPTION '{_APPEND_ONLY}'; END $$"
        )
        for table in ("review_action", "review_event"):
            conn.exec_driver_sql(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION review_append_only()"
            )
            conn.exec_driver_sql(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION review_append_only()"
            )


MIGRATIONS = (_v1,)  # the n-th brings the schema to version n; append, never edit


# Any number, the same in every server: PostgreSQL's lock that lets one server at a time migrate.
_MIGRATION_LOCK = 23_0001


def migrate(engine: Engine) -> int:
    """Bring the review schema to the latest version (creating it on first use); return that version.

    One transaction, DDL included, taken by one server at a time: pass a `db.writable_engine` on SQLite (its
    transaction holds the write lock from its start and includes the DDL); PostgreSQL takes an advisory lock. A
    migration that fails leaves the schema as it was."""
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK})")
        version_table.create(conn, checkfirst=True)
        current = conn.execute(select(func.max(version_table.c.version))).scalar() or 0
        for number, step in enumerate(MIGRATIONS, start=1):
            if number > current:
                step(conn)
                conn.execute(insert(version_table).values(version=number))
    return len(MIGRATIONS)


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


def end_of(day: date) -> datetime:
    """The first moment after `day` (UTC): a view as of `day` shows what was written before it."""
    return datetime.combine(day + timedelta(days=1), datetime.min.time())


def visible_until(as_of: date, today: date) -> datetime | None:
    """How far a view as of `as_of` reads the history: everything (None) for today's view, where actions are
    written; the end of `as_of` for a past view, which shows them as they stood then. Pages and e-mail alike."""
    return None if as_of >= today else end_of(as_of)


class Store:
    """Actions and notes in one review database."""

    def __init__(self, engine: Engine):
        self.engine = engine

    def create(self, target: Target, sponsor_code: str, state: State, author: str, at: datetime | None = None) -> int:
        """Record a new action (or note) about `target`; return its id."""
        at = at or _now()
        with self.engine.begin() as conn:
            action_id = conn.execute(
                insert(review_action)
                .values(
                    sponsor_code=sponsor_code,
                    protocol_number=target.protocol_number,
                    site_number=target.site_number,
                    milestone_code=target.milestone_code,
                )
                .returning(review_action.c.action_id)
            ).scalar_one()
            conn.execute(insert(review_event).values(action_id=action_id, changed_at=at, author=author, **_row(state)))
        return int(action_id)

    def change(
        self,
        action_id: int,
        protocols: Iterable[str],
        state: State,
        author: str,
        at: datetime | None = None,
        seen: int | None = None,
    ) -> bool:
        """Append `state` to an action of one of `protocols` (the trials the user may see); False when nothing changed.

        An action of another trial is refused exactly as one that does not exist, so an id tells nothing. `seen`, the
        number of changes the editor saw: if someone changed it since, the edit is refused rather than silently
        undoing theirs."""
        found = self.actions(protocols, action_ids=(action_id,))
        if not found:
            raise Refused("There is no such action on the trials you can see.")
        if seen is not None and len(found[0].history) != seen:
            last = found[0].history[-1]
            raise Refused(
                f"{last.author} changed #{action_id} at {last.at:%H:%M} UTC, after you opened it. Your edit "
                "was not saved, so theirs stays; see it above and edit again."
            )
        if found[0].state == state:
            return False
        with self.engine.begin() as conn:
            conn.execute(
                insert(review_event).values(action_id=action_id, changed_at=at or _now(), author=author, **_row(state))
            )
        return True

    def actions(
        self, protocols: Iterable[str], until: datetime | None = None, action_ids: Iterable[int] | None = None
    ) -> list[Action]:
        """The actions on the trials `protocols` as they stood just before `until` (None: now), each with its history,
        oldest first. An action created after `until` is not there yet."""
        protocols = sorted(set(protocols))
        if not protocols:
            return []
        query = (
            select(
                review_action,
                review_event.c.changed_at,
                review_event.c.author,
                review_event.c.text,
                review_event.c.owner,
                review_event.c.due_date,
                review_event.c.status,
                review_event.c.responds_to,
            )
            .join(review_event, review_event.c.action_id == review_action.c.action_id)
            .where(review_action.c.protocol_number.in_(protocols))
            # In the order they were written (an event id, not a server's clock, which may differ between servers).
            .order_by(review_action.c.action_id, review_event.c.event_id)
        )
        if until is not None:
            query = query.where(review_event.c.changed_at < until)
        if action_ids is not None:
            query = query.where(review_action.c.action_id.in_(list(action_ids)))
        out: dict[int, Action] = {}
        with self.engine.connect() as conn:
            for r in conn.execute(query):
                event = Event(r.changed_at, r.author, State(r.text, r.owner, r.due_date, r.status, r.responds_to))
                if r.action_id in out:
                    a = out[r.action_id]
                    out[r.action_id] = Action(a.action_id, a.sponsor_code, a.target, a.history + (event,))
                else:
                    out[r.action_id] = Action(
                        r.action_id,
                        r.sponsor_code,
                        Target(r.protocol_number, r.site_number, r.milestone_code),
                        (event,),
                    )
        return list(out.values())


def _row(state: State) -> dict:
    return {
        "text": state.text,
        "owner": state.owner,
        "due_date": state.due_date,
        "status": state.status,
        "responds_to": state.responds_to,
    }


_opening = threading.Lock()


@functools.cache
def _open(url: str) -> Store:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    migrating = writable_engine(url, statement_timeout_s=MIGRATION_TIMEOUT_S)
    try:
        migrate(migrating)
    finally:
        migrating.dispose()
    return Store(make_engine(url, read_only=False))


def open_store(url: str) -> Store:
    """The store at `url`, its schema brought up to date once per process (a SQLite file's folder is created); one
    session at a time opens it. A failure is not remembered: the next call tries again."""
    with _opening:
        return _open(url)
