"""Site × month roll-up of visits and data queries, and the date indexes it is completed from.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25

`site_month` is derived (dashboard/rollups.py): the upgrade fills it from the detail already in the
database, so an existing reporting database answers exactly as before, only faster.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _count(name: str, comment: str) -> sa.Column:
    return sa.Column(name, sa.Integer(), nullable=False, comment=comment)


def upgrade() -> None:
    op.create_table(
        "site_month",
        sa.Column("site_id", sa.Integer(), nullable=False, comment="The site (site.site_id)"),
        sa.Column("month_date", sa.Date(), nullable=False, comment="First day of the month"),
        sa.Column("trial_id", sa.Integer(), nullable=False, comment="The site's trial (trial.trial_id)"),
        _count("n_visits", "Visits done in the month (visit_date)"),
        _count("n_visits_late_prone", "Of those, visits entered more than 10 days after the visit or not at all"),
        _count("n_visits_entered", "Visits entered in the month (entered_date)"),
        sa.Column("entry_lag_days", sa.Float(), nullable=False,
                  comment="Sum over the visits entered in the month of days from visit to entry, each at most 60"),
        _count("n_queries_opened", "Data queries opened in the month"),
        _count("n_queries_closed", "Data queries closed in the month"),
        sa.PrimaryKeyConstraint("site_id", "month_date", name=op.f("pk_site_month")),
        *[
            sa.CheckConstraint(f"{name} >= 0", name=op.f(f"ck_site_month_{name}_not_negative"))
            for name in ("n_visits", "n_visits_late_prone", "n_visits_entered", "n_queries_opened", "n_queries_closed")
        ],
    )
    op.create_index(op.f("ix_site_month_trial_month"), "site_month", ["trial_id", "month_date"])
    op.create_index(op.f("ix_visit_trial_entered"), "visit", ["trial_id", "entered_date"])
    op.create_index(op.f("ix_data_query_trial_closed"), "data_query", ["trial_id", "closed_date"])

    from dashboard.rollups import refresh

    refresh(op.get_bind())


def downgrade() -> None:
    op.drop_index(op.f("ix_data_query_trial_closed"), table_name="data_query")
    op.drop_index(op.f("ix_visit_trial_entered"), table_name="visit")
    op.drop_index(op.f("ix_site_month_trial_month"), table_name="site_month")
    op.drop_table("site_month")
