"""Published snapshots (dashboard/snapshot.py writes them): which exist, the parts of a view's trials, forecast history.

Every query joins the trial table on the protocol number and applies the scope, so a snapshot row of a trial the
user may not see is never read.
"""

from __future__ import annotations

import pandas as pd
from sqlalchemy import Connection, and_, select

from dashboard.access import Scope
from dashboard.schema import snapshot, snapshot_forecast, snapshot_part, trial
from queries.common import frame, trial_conditions


def published(conn: Connection, scope: Scope) -> pd.DataFrame:
    """One row per snapshot published for scope.as_of (none or one): its compare date, when it was published and
    from which load, and the settings it was computed with (not how many trials: that counts every sponsor's)."""
    query = select(
        snapshot.c.as_of_date,
        snapshot.c.compare_date,
        snapshot.c.published_at,
        snapshot.c.loaded_at,
        snapshot.c.settings_key,
    ).where(snapshot.c.as_of_date == scope.as_of)
    return frame(
        conn, query, {"as_of_date": "date", "compare_date": "date", "published_at": "date", "loaded_at": "date"}
    )


def _parts(conn: Connection, scope: Scope, names: tuple[str, ...]) -> pd.DataFrame:
    query = (
        select(snapshot_part.c.protocol_number, snapshot_part.c.part_name, snapshot_part.c.payload)
        .join(trial, trial.c.protocol_number == snapshot_part.c.protocol_number)
        .where(
            snapshot_part.c.as_of_date == scope.as_of,
            snapshot_part.c.part_name.in_(names),
            and_(*trial_conditions(scope)),
        )
        .order_by(snapshot_part.c.part_name, snapshot_part.c.protocol_number)
    )
    result = conn.execute(query)
    return pd.DataFrame([(p, n, bytes(b)) for p, n, b in result], columns=["protocol_number", "part_name", "payload"])


# What each composed part of queries/overview.py is stored as: its frames, by part_name. trial_facts shares all but
# its trials (enrollment health without the forecast) with trial_health.
PART_FRAMES: dict[str, dict[str, str]] = {
    "trial_health": {f: f"trial_health.{f}" for f in ("trials", "milestones", "sites", "outlooks", "qtls")},
    "trial_facts": {
        "trials": "trial_facts.trials",
        **{f: f"trial_health.{f}" for f in ("milestones", "sites", "qtls")},
    },
    "flagged_sites": {f: f"flagged_sites.{f}" for f in ("sites", "baselines")},
    "vendor_risks": {f: f"vendor_risks.{f}" for f in ("supply", "moved")},
}


def trial_health_parts(conn: Connection, scope: Scope) -> pd.DataFrame:
    """One row per trial of the scope × frame of its published health (with forecasts) as of scope.as_of."""
    return _parts(conn, scope, tuple(PART_FRAMES["trial_health"].values()))


def trial_facts_parts(conn: Connection, scope: Scope) -> pd.DataFrame:
    """One row per trial of the scope × frame of its published health without forecasts as of scope.as_of."""
    return _parts(conn, scope, tuple(PART_FRAMES["trial_facts"].values()))


def flagged_sites_parts(conn: Connection, scope: Scope) -> pd.DataFrame:
    """One row per trial of the scope × frame of its published site flags as of scope.as_of."""
    return _parts(conn, scope, tuple(PART_FRAMES["flagged_sites"].values()))


def vendor_risks_parts(conn: Connection, scope: Scope) -> pd.DataFrame:
    """One row per trial of the scope × frame of its published vendor risks as of scope.as_of."""
    return _parts(conn, scope, tuple(PART_FRAMES["vendor_risks"].values()))


def forecast_history(conn: Connection, scope: Scope) -> pd.DataFrame:
    """One row per published date up to scope.as_of × trial of the scope: its published last-patient-in forecast."""
    f = snapshot_forecast
    query = (
        select(
            trial.c.protocol_number,
            f.c.as_of_date,
            f.c.lpi_p10_date,
            f.c.lpi_p50_date,
            f.c.lpi_p90_date,
            f.c.p_meet_plan,
            f.c.planned_lpi_date,
            f.c.is_complete,
            snapshot.c.published_at,
        )
        .join(trial, trial.c.protocol_number == f.c.protocol_number)
        .join(snapshot, snapshot.c.as_of_date == f.c.as_of_date)
        .where(f.c.as_of_date <= scope.as_of, and_(*trial_conditions(scope)))
        .order_by(trial.c.protocol_number, f.c.as_of_date)
    )
    return frame(
        conn,
        query,
        {
            "as_of_date": "date",
            "lpi_p10_date": "date",
            "lpi_p50_date": "date",
            "lpi_p90_date": "date",
            "p_meet_plan": "float",
            "planned_lpi_date": "date",
            "is_complete": "bool",
            "published_at": "date",
        },
    )


QUERIES = (published, trial_health_parts, trial_facts_parts, flagged_sites_parts, vendor_risks_parts, forecast_history)
