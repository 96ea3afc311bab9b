"""Published snapshots (dashboard/snapshot.py): figures computed where data is written, read by the pages."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Date, DateTime, Float, ForeignKey, Integer, LargeBinary, String, Table

from dashboard.schema.columns import _count, metadata

# --- Published snapshots (dashboard/snapshot.py): figures computed where data is written, read by the pages. ---
# Keyed by protocol number, not trial_id: a replace load may give a trial a new id, and what was published stays.

snapshot = Table(
    "snapshot",
    metadata,
    Column("as_of_date", Date, primary_key=True, comment="The as-of date the figures were computed for"),
    Column("compare_date", Date, nullable=False, comment="The compare date of its changes (since): a week earlier"),
    Column("published_at", DateTime(timezone=False), nullable=False, comment="UTC time the snapshot was written"),
    Column(
        "loaded_at", DateTime(timezone=False), nullable=True, comment="UTC time of the data load it was computed from"
    ),
    Column(
        "settings_key",
        String(16),
        nullable=False,
        comment="Fingerprint of the threshold settings it was computed with; a server with others computes live",
    ),
    _count("n_trials", comment="Trials published"),
    info={"grain": "One row per published as-of date.", "natural_key": ("as_of_date",), "snapshot": True},
)


def _snapshot_of_trial() -> list[Column]:
    """The key columns every per-trial snapshot table starts with."""
    return [
        Column(
            "as_of_date",
            ForeignKey("snapshot.as_of_date", ondelete="CASCADE"),
            primary_key=True,
            comment="The snapshot (snapshot.as_of_date)",
        ),
        Column("protocol_number", String(32), primary_key=True, comment="The trial"),
    ]


snapshot_part = Table(
    "snapshot_part",
    metadata,
    *_snapshot_of_trial(),
    Column(
        "part_name",
        String(40),
        primary_key=True,
        comment="Which frame of the composed parts: trial_health.trials, flagged_sites.sites, …",
    ),
    Column("payload", LargeBinary, nullable=False, comment="The trial's rows of that frame, as an Arrow IPC stream"),
    info={
        "grain": "One row per published date × trial × frame of the parts a view's figures are computed from "
        "(dashboard/published.py).",
        "natural_key": ("as_of_date", "protocol_number", "part_name"),
        "snapshot": True,
    },
)

snapshot_forecast = Table(
    "snapshot_forecast",
    metadata,
    *_snapshot_of_trial(),
    Column("lpi_p10_date", Date, nullable=True, comment="Last patient in: 10th percentile of the forecast"),
    Column("lpi_p50_date", Date, nullable=True, comment="Last patient in: median of the forecast"),
    Column("lpi_p90_date", Date, nullable=True, comment="Last patient in: 90th percentile of the forecast"),
    Column("p_meet_plan", Float, nullable=True, comment="Probability of the last patient in by the planned date"),
    Column(
        "sites_needed", Integer, nullable=True, comment="Extra sites that bring that probability to the green threshold"
    ),
    Column("planned_lpi_date", Date, nullable=True, comment="The planned last patient in (baseline)"),
    Column("is_complete", Boolean, nullable=False, comment="Enrollment had reached its target"),
    Column("completed_date", Date, nullable=True, comment="When it reached the target, if it had"),
    info={
        "grain": "One row per published date × trial: its enrollment forecast.",
        "natural_key": ("as_of_date", "protocol_number"),
        "snapshot": True,
    },
)

snapshot_figure = Table(
    "snapshot_figure",
    metadata,
    *_snapshot_of_trial(),
    Column("figure_key", String(40), primary_key=True, comment="The figure (dashboard/registry.py)"),
    Column("value_number", Float, nullable=True, comment="Its value, when a number"),
    Column("value_date", Date, nullable=True, comment="Its value, when a date"),
    Column("display", String(80), nullable=False, comment="Its value as its tile shows it"),
    Column("health", String(10), nullable=True, comment="Its colour, where it has one"),
    info={
        "grain": "One row per published date × trial × figure of the registry (the trial's own figures).",
        "natural_key": ("as_of_date", "protocol_number", "figure_key"),
        "snapshot": True,
    },
)
