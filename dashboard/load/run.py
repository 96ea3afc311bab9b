"""One load from a directory of contract files into the reporting database: read, check, write, log, publish."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import text

from dashboard import rollups, schema, snapshot
from dashboard.contract import (
    file_spec,
)
from dashboard.db import (
    UsageError,
    writable_engine,
)
from dashboard.load.checking import Checker
from dashboard.load.model import MODES, STATEMENT_TIMEOUT_S, Counts, Plan
from dashboard.load.writing import Writer, _ensure_schema
from dashboard.settings import get_settings


@dataclass
class Result:
    plan: Plan
    counts: dict[str, Counts] = field(default_factory=dict)
    loaded_at: datetime | None = None
    source: str = ""
    published: list[date] = field(default_factory=list)  # the snapshots published after the load
    publish_error: str | None = None  # why publishing failed (the data is loaded; the pages compute live)

    @property
    def ok(self) -> bool:
        return not self.plan.problems


def load(
    url: str,
    directory: Path,
    *,
    mode: str = "upsert",
    dry_run: bool = False,
    source: str | None = None,
    progress: Callable[[str], None] = lambda _text: None,
    reference: bool = False,
    publish: bool = True,
) -> Result:
    """Check the folder and, if it has no problem, load it in one transaction (rolled back for a dry run); then, with
    `publish`, publish the snapshots of the load's day and a week before (dashboard/snapshot.py).

    The load's own transaction removes the snapshot of its day, which no longer matches the data: if publishing
    then fails, the data stays loaded and the pages compute that day live (result.publish_error says why)."""
    if mode not in MODES:
        raise UsageError(f"unknown mode {mode!r}: use upsert or replace")
    if not directory.is_dir():
        raise UsageError(f"{directory} is not a folder")
    source = source or directory.resolve().name
    engine = writable_engine(url, statement_timeout_s=STATEMENT_TIMEOUT_S)
    try:
        with engine.connect() as conn:
            transaction = conn.begin()
            try:
                if conn.dialect.name == "postgresql":
                    # One load at a time: the ids a load hands out are chosen from what it sees.
                    conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('dashboard.load'))"))
                _ensure_schema(conn, progress, dry_run)
                progress(f"Checking {directory} ({mode}):")
                plan = Checker(conn, directory, mode, progress, reference=reference).run()
                result = Result(plan=plan, source=source)
                if plan.problems:
                    transaction.rollback()
                    return result
                progress("Writing:")
                result.counts = Writer(conn, plan, progress).run()
                progress("Rebuilding the site × month roll-up …")
                rollups.refresh(conn)
                result.loaded_at = datetime.now(UTC).replace(tzinfo=None)
                details = {
                    name: {"inserted": c.inserted, "updated": c.updated, "deleted": c.deleted}
                    for name, c in result.counts.items()
                }
                conn.execute(
                    schema.load_log.insert().values(
                        source=source[:120],
                        loaded_at=result.loaded_at,
                        n_rows=sum(c.inserted + c.updated + c.deleted for c in result.counts.values()),
                        details=json.dumps({"mode": mode, "tables": details}),
                    )
                )
                load_day = result.loaded_at.date()
                snapshot.delete_date(conn, load_day)
                if dry_run:
                    transaction.rollback()
                    return result
                transaction.commit()
            except BaseException:
                if transaction.is_active:
                    transaction.rollback()
                raise
    finally:
        engine.dispose()
    if publish:
        progress("Publishing the snapshots of the load's day and a week before:")
        try:
            dates = snapshot.default_dates(load_day)
            result.published = snapshot.publish(url, dates, get_settings(), keep=dates[1:], progress=progress)
        except BaseException as exc:  # even an interrupt: the data is committed, and the caller must hear that
            result.publish_error = (
                "interrupted"
                if isinstance(exc, KeyboardInterrupt)
                else (str(exc).splitlines() or [type(exc).__name__])[0]
            )
    return result


def _summary(result: Result, shown_url: str, dry_run: bool, elapsed: float) -> list[str]:
    plan = result.plan
    lines = []
    if dry_run:
        lines.append(
            f"Dry run: {plan.directory} has no problems. Loading it into {shown_url} ({plan.mode}) would change:"
        )
    else:
        lines.append(f"Loaded {plan.directory} into {shown_url} ({plan.mode}) in {elapsed:.1f} s:")
    lines.append(f"  {'file':<24}{'rows':>10}{'inserted':>10}{'updated':>10}{'deleted':>10}")
    total = Counts()
    for name, c in result.counts.items():
        lines.append(f"  {file_spec(name).file_name:<24}{c.rows:>10,}{c.inserted:>10,}{c.updated:>10,}{c.deleted:>10,}")
        total.rows += c.rows
        total.inserted += c.inserted
        total.updated += c.updated
        total.deleted += c.deleted
    lines.append(f"  {'total':<24}{total.rows:>10,}{total.inserted:>10,}{total.updated:>10,}{total.deleted:>10,}")
    if dry_run:
        lines.append("Nothing was written.")
    else:
        lines.append(
            f"The dashboard now shows: data loaded {result.loaded_at:%Y-%m-%d %H:%M} UTC from {result.source}."
        )
        if result.published:
            lines.append(
                f"Published the snapshots of {' and '.join(d.isoformat() for d in result.published)}: the pages "
                "open on them."
            )
    return lines
