"""The tables of running the dashboard: who may see which sponsor, and the log of loads."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, ForeignKey, Integer, String, Table, Text, UniqueConstraint

from dashboard.schema.columns import _count, metadata

user_access = Table(
    "user_access",
    metadata,
    Column("user_access_id", Integer, primary_key=True),
    Column("user_email", String(254), nullable=False, comment="Lower-case e-mail the sign-in gives"),
    Column("sponsor_id", ForeignKey("sponsor.sponsor_id"), nullable=False),
    UniqueConstraint("user_email", "sponsor_id"),
    info={"grain": "One row per user × sponsor they may see.", "natural_key": ("user_email", "sponsor_code")},
)

load_log = Table(
    "load_log",
    metadata,
    Column("load_log_id", Integer, primary_key=True),
    Column("source", String(120), nullable=False, comment="Where the data came from"),
    Column("loaded_at", DateTime(timezone=False), nullable=False, index=True, comment="UTC time the load finished"),
    _count("n_rows", comment="Rows written by the load"),
    Column("details", Text, nullable=True, comment="Rows per table, as JSON"),
    info={"grain": "One row per data load.", "natural_key": ("source", "loaded_at")},
)
