"""The schema's shared parts: the metadata (with its naming convention), the allowed values of every enumerated
column, and the column helpers that state units (money, counts) and allowed values."""

from __future__ import annotations

from sqlalchemy import CheckConstraint, Column, Integer, MetaData, Numeric, String

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

PHASES = ("I", "II", "III", "IV")
TRIAL_STATUSES = ("planned", "startup", "enrolling", "follow_up", "closed")
TRIAL_STATUS_LABEL = {
    "planned": "Planned",
    "startup": "Start-up",
    "enrolling": "Enrolling",
    "follow_up": "Follow-up",
    "closed": "Closed",
}
SITE_STATUSES = ("planned", "selected", "active", "closed")
VENDOR_KINDS = ("CRO", "CMO", "CDMO", "central_lab", "IRT", "other")
LANES = ("CRO", "CMO")
UNIT_TYPES = ("site_activated", "subject_enrolled", "visit_done")
COST_CATEGORIES = ("service_fee", "pass_through")
CHANGE_ORDER_STATUSES = ("proposed", "approved", "rejected")
PAYMENT_STATUSES = ("not_due", "due", "invoiced", "paid")
MILESTONE_KINDS = ("contract", "stability_pull", "expiry")
QUERY_STATUSES = ("open", "answered", "closed")
# Trial-level figures a quality tolerance limit may be set on: site indicators (dashboard/metrics.py) pooled over the trial.
QTL_FIGURES = (
    "deviation_rate",
    "minor_deviation_rate",
    "dropout",
    "treatment_discontinuation",
    "screen_failure",
    "ae_rate",
    "sae_rate",
    "abnormal_lab_rate",
    "query_rate",
    "outstanding_query_rate",
    "entry_lag",
    "data_change_rate",
)
QTL_DIRECTIONS = ("above", "below")

# Money: two decimals, large enough for a portfolio's totals.
Money = Numeric(14, 2)


def _enum(name: str, allowed: tuple[str, ...], *, nullable: bool = False, comment: str) -> Column:
    """A text column restricted to `allowed`, enforced by a CHECK constraint in the database."""
    quoted = ", ".join(f"'{v}'" for v in allowed)
    return Column(
        name,
        String(max(20, *(len(v) for v in allowed))),
        CheckConstraint(f"{name} IN ({quoted})", name=f"{name}_allowed"),
        nullable=nullable,
        comment=comment,
        info={"allowed": allowed},
    )


def _money(name: str, *, nullable: bool = False, comment: str) -> Column:
    return Column(
        name,
        Money,
        CheckConstraint(f"{name} >= 0", name=f"{name}_not_negative"),
        nullable=nullable,
        comment=comment,
        info={"unit": "reporting currency"},
    )


def _count(name: str, *, nullable: bool = False, comment: str) -> Column:
    return Column(
        name,
        Integer,
        CheckConstraint(f"{name} >= 0", name=f"{name}_not_negative"),
        nullable=nullable,
        comment=comment,
        info={"unit": "count"},
    )
