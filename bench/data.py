"""The benchmark's databases: the demo portfolio at each scale on each engine, built once and kept under bench/data/.

A database is rebuilt when the demo generator or the schema changes (a fingerprint of their source
files is kept beside it), not every run: the large one takes a minute or so to write. Its data cut
(`--today`) is the day it was built, and every link the benchmark opens names that date as its
as_of, so the figures do not move as the database ages.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

from sqlalchemy import func, select

from bench.serverside import REPO_DIR, Target

DATA_DIR = Path(__file__).resolve().parent / "data"
SCALES = {"small": 12, "large": 200}  # --trials of the main sponsor
DATABASES = ("sqlite", "postgresql")
_SOURCES = (
    "dashboard/demo/*.py",
    "dashboard/schema/*.py",
    "dashboard/rollups.py",
    "dashboard/snapshot.py",
    "dashboard/published.py",
)


def _fingerprint(n_trials: int) -> str:
    digest = hashlib.sha256(f"trials={n_trials}".encode())
    for pattern in _SOURCES:
        for path in sorted(REPO_DIR.glob(pattern)):
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def counts(url: str) -> dict[str, int]:
    """Rows in the tables that make a portfolio large."""
    from dashboard import schema
    from dashboard.db import make_engine

    engine = make_engine(url, statement_timeout_s=600)
    try:
        with engine.connect() as conn:
            return {
                name: conn.execute(select(func.count()).select_from(getattr(schema, name))).scalar_one()
                for name in ("trial", "site", "subject", "visit", "data_query")
            }
    finally:
        engine.dispose()


def largest_trials(url: str, n: int) -> list[str]:
    """The protocol numbers of the `n` trials with the most subjects (the links of a burst)."""
    from dashboard import schema
    from dashboard.db import make_engine

    engine = make_engine(url, statement_timeout_s=600)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                select(schema.trial.c.protocol_number)
                .join(schema.subject, schema.subject.c.trial_id == schema.trial.c.trial_id)
                .group_by(schema.trial.c.protocol_number)
                .order_by(func.count().desc(), schema.trial.c.protocol_number)
                .limit(n)
            ).all()
        return [r[0] for r in rows]
    finally:
        engine.dispose()


def ensure(scale: str, database: str, url: str, log=print) -> dict:
    """The demo portfolio at `scale` in the database at `url`, built unless an up-to-date one is there; returns its record."""

    n_trials = SCALES[scale]
    stamp = DATA_DIR / f"{database}-{scale}.json"
    fingerprint = _fingerprint(n_trials)
    if stamp.exists():
        built = json.loads(stamp.read_text())
        if built.get("fingerprint") == fingerprint and built.get("url") == _shown(url):
            try:
                if counts(url) == built["counts"]:
                    log(f"  {database} {scale}: reusing the database built on {built['today']}")
                    return built
            except Exception:  # missing or broken: build it again
                pass
    today = date.today()
    log(f"  {database} {scale}: building the demo portfolio with --trials {n_trials} …")
    started = time.perf_counter()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "dashboard.demo",
            "--url",
            url,
            "--trials",
            str(n_trials),
            "--today",
            today.isoformat(),
            "--replace",
        ],
        cwd=REPO_DIR,
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"building the {scale} demo on {database} failed: {result.stderr.strip() or result.stdout.strip()}"
        )
    # The demo publishes the snapshots of its data cut and a week before, as a load does, and says how long it took.
    published = re.search(r"Published the snapshots of .* in ([0-9.]+) s", result.stdout)
    built = {
        "scale": scale,
        "database": database,
        "url": _shown(url),
        "n_trials_option": n_trials,
        "fingerprint": fingerprint,
        "today": today.isoformat(),
        "build_s": round(time.perf_counter() - started, 1),
        "snapshot_build_s": float(published.group(1)) if published else None,
        "counts": counts(url),
    }
    stamp.parent.mkdir(parents=True, exist_ok=True)
    stamp.write_text(json.dumps(built, indent=2) + "\n")
    log(f"  {database} {scale}: built in {built['build_s']} s: {built['counts']}")
    return built


def _shown(url: str) -> str:
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    # The port of the benchmark's PostgreSQL changes from run to run; the database does not.
    return (
        parsed.set(port=None).render_as_string(hide_password=True)
        if parsed.port
        else parsed.render_as_string(hide_password=True)
    )


def sqlite_url(scale: str) -> str:
    return f"sqlite:///{DATA_DIR / f'{scale}.db'}"


def target(scale: str, database: str, url: str, built: dict) -> Target:
    """The benchmark target for a demo database: the trial view shows the planted big phase III trial at every scale."""
    from dashboard import demo

    return Target(
        scale=scale, database=database, url=url, trial=demo.BIG_TRIAL, as_of=date.fromisoformat(built["today"])
    )
