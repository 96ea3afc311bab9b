"""Safety and risk-based monitoring sources: adverse events, eCRF pages, data-point and lab counts, QTLs;
undated deviations, answered queries, treatment discontinuation.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02

Written out in full (not imported from dashboard.schema), like 0001. Existing rows keep their meaning:
every deviation has its date, every query's status follows its closed date.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _count(name: str, comment: str) -> sa.Column:
    return sa.Column(name, sa.Integer(), nullable=False, comment=comment)


def _not_negative(table: str, *names: str) -> list[sa.CheckConstraint]:
    return [sa.CheckConstraint(f"{name} >= 0", name=op.f(f"ck_{table}_{name}_not_negative")) for name in names]


def _visit_counts(table: str, comment: str, counts: tuple[tuple[str, str], ...], check: tuple[str, str], grain_check: str) -> None:
    op.create_table(
        table,
        sa.Column(f"{table}_id", sa.Integer(), nullable=False),
        sa.Column("trial_id", sa.Integer(), nullable=False),
        sa.Column("visit_id", sa.Integer(), nullable=False, comment=comment),
        *[_count(name, text) for name, text in counts],
        sa.PrimaryKeyConstraint(f"{table}_id", name=op.f(f"pk_{table}")),
        sa.ForeignKeyConstraint(["trial_id"], ["trial.trial_id"], name=op.f(f"fk_{table}_trial_id_trial")),
        sa.ForeignKeyConstraint(["visit_id"], ["visit.visit_id"], name=op.f(f"fk_{table}_visit_id_visit")),
        sa.UniqueConstraint("visit_id", name=op.f(f"uq_{table}_visit_id")),
        sa.CheckConstraint(f"{check[0]} >= {check[1]}", name=op.f(f"ck_{table}_{grain_check}")),
        *_not_negative(table, *(name for name, _ in counts)),
    )
    op.create_index(op.f(f"ix_{table}_trial_id"), table, ["trial_id"])


def upgrade() -> None:
    with op.batch_alter_table("deviation") as batch:
        batch.alter_column("deviation_date", existing_type=sa.Date(), nullable=True,
                           comment="Deviation occurred; empty when the source has no date",
                           existing_comment="Deviation occurred")
        batch.add_column(sa.Column("identified_date", sa.Date(), nullable=True, comment="Deviation identified (by the site or a monitor)"))
        batch.add_column(sa.Column(
            "first_loaded_date", sa.Date(), nullable=True,
            comment="Day the deviation was first loaded; the loader sets it when empty and keeps it on later loads. "
                    "A deviation counts from deviation_date, else identified_date, else this day",
        ))
    with op.batch_alter_table("data_query") as batch:
        batch.add_column(sa.Column("answered_date", sa.Date(), nullable=True,
                                   comment="The site answered it; empty = not answered (a query is outstanding until closed)"))
        batch.add_column(sa.Column("query_status", sa.String(20), nullable=True,
                                   comment="Status today: open, answered or closed; empty = closed when closed_date is set, else open "
                                           "(as-of views use the dates)"))
        batch.alter_column("closed_date", existing_type=sa.Date(), existing_nullable=True,
                           comment="Empty = still outstanding (open or answered)", existing_comment="Empty = still open")
    op.execute("UPDATE data_query SET query_status = CASE WHEN closed_date IS NULL THEN 'open' ELSE 'closed' END")
    with op.batch_alter_table("subject") as batch:
        batch.add_column(sa.Column("treatment_discontinued_date", sa.Date(), nullable=True,
                                   comment="Stopped study treatment early (may stay on study for follow-up); empty = did not"))

    op.create_table(
        "crf_page",
        sa.Column("crf_page_id", sa.Integer(), nullable=False),
        sa.Column("trial_id", sa.Integer(), nullable=False),
        sa.Column("visit_id", sa.Integer(), nullable=False, comment="The visit the page belongs to"),
        sa.Column("page_name", sa.String(60), nullable=False, comment="eCRF page (form), e.g. VITALS"),
        sa.Column("entered_date", sa.Date(), nullable=True, comment="Page data entered in EDC; empty = not yet"),
        sa.PrimaryKeyConstraint("crf_page_id", name=op.f("pk_crf_page")),
        sa.ForeignKeyConstraint(["trial_id"], ["trial.trial_id"], name=op.f("fk_crf_page_trial_id_trial")),
        sa.ForeignKeyConstraint(["visit_id"], ["visit.visit_id"], name=op.f("fk_crf_page_visit_id_visit")),
        sa.UniqueConstraint("visit_id", "page_name", name=op.f("uq_crf_page_visit_id_page_name")),
    )
    op.create_index(op.f("ix_crf_page_trial_id"), "crf_page", ["trial_id"])
    op.create_index(op.f("ix_crf_page_visit_id"), "crf_page", ["visit_id"])
    _visit_counts(
        "data_point", "The visit counted",
        (("n_data_points", "Data points entered for the visit"),
         ("n_data_points_changed", "Of those, data points changed after their first entry")),
        ("n_data_points", "n_data_points_changed"), "changed_within_entered",
    )
    _visit_counts(
        "lab_result", "The visit the samples were taken at",
        (("n_lab_results", "Laboratory results reported for the visit"),
         ("n_lab_abnormal", "Of those, abnormal results of grade 3 or higher")),
        ("n_lab_results", "n_lab_abnormal"), "abnormal_within_results",
    )
    op.create_table(
        "adverse_event",
        sa.Column("adverse_event_id", sa.Integer(), nullable=False),
        sa.Column("trial_id", sa.Integer(), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=False, comment="The subject who had it"),
        sa.Column("ae_number", sa.String(24), nullable=False, comment="Adverse event number within the trial"),
        sa.Column("onset_date", sa.Date(), nullable=False, comment="The event started"),
        sa.Column("is_serious", sa.Boolean(), nullable=False, comment="Serious adverse event (SAE)"),
        sa.Column("aware_date", sa.Date(), nullable=True,
                  comment="The site became aware of it; empty = on its onset date. The event counts from this day"),
        sa.Column("reported_date", sa.Date(), nullable=True, comment="Reported to the sponsor (expected for SAEs); empty = not yet"),
        sa.Column("term", sa.String(200), nullable=True, comment="Event term (e.g. MedDRA preferred term)"),
        sa.Column("grade", sa.Integer(), nullable=True, comment="Severity grade, 1 to 5 (CTCAE)"),
        sa.PrimaryKeyConstraint("adverse_event_id", name=op.f("pk_adverse_event")),
        sa.ForeignKeyConstraint(["subject_id"], ["subject.subject_id"], name=op.f("fk_adverse_event_subject_id_subject")),
        sa.ForeignKeyConstraint(["trial_id"], ["trial.trial_id"], name=op.f("fk_adverse_event_trial_id_trial")),
        sa.UniqueConstraint("trial_id", "ae_number", name=op.f("uq_adverse_event_trial_id_ae_number")),
        sa.CheckConstraint("aware_date IS NULL OR aware_date >= onset_date", name=op.f("ck_adverse_event_aware_after_onset")),
        sa.CheckConstraint("reported_date IS NULL OR reported_date >= onset_date", name=op.f("ck_adverse_event_reported_after_onset")),
    )
    op.create_index(op.f("ix_adverse_event_subject_id"), "adverse_event", ["subject_id"])
    op.create_index(op.f("ix_adverse_event_trial_aware"), "adverse_event", ["trial_id", "aware_date"])
    figures = ("deviation_rate", "minor_deviation_rate", "dropout", "treatment_discontinuation", "screen_failure", "ae_rate",
               "sae_rate", "abnormal_lab_rate", "query_rate", "outstanding_query_rate", "entry_lag", "data_change_rate")
    op.create_table(
        "qtl",
        sa.Column("qtl_id", sa.Integer(), nullable=False),
        sa.Column("trial_id", sa.Integer(), nullable=False),
        sa.Column("qtl_figure", sa.String(25), nullable=False,
                  comment="The trial-level figure limited: a site indicator pooled over the trial's sites"),
        sa.Column("limit_value", sa.Numeric(12, 4), nullable=False,
                  comment="The limit, in the figure's unit as shown (%, per 100 subject-months, …)"),
        sa.Column("direction", sa.String(20), nullable=False,
                  comment="above = breached when the figure is above the limit; below = when below"),
        sa.PrimaryKeyConstraint("qtl_id", name=op.f("pk_qtl")),
        sa.ForeignKeyConstraint(["trial_id"], ["trial.trial_id"], name=op.f("fk_qtl_trial_id_trial")),
        sa.UniqueConstraint("trial_id", "qtl_figure", name=op.f("uq_qtl_trial_id_qtl_figure")),
        sa.CheckConstraint("qtl_figure IN (" + ", ".join(f"'{f}'" for f in figures) + ")", name=op.f("ck_qtl_qtl_figure_allowed")),
        sa.CheckConstraint("direction IN ('above', 'below')", name=op.f("ck_qtl_direction_allowed")),
    )
    op.create_index(op.f("ix_qtl_trial_id"), "qtl", ["trial_id"])


def downgrade() -> None:
    for table in ("qtl", "adverse_event", "lab_result", "data_point", "crf_page"):
        op.drop_table(table)
    with op.batch_alter_table("subject") as batch:
        batch.drop_column("treatment_discontinued_date")
    with op.batch_alter_table("data_query") as batch:
        batch.drop_column("query_status")
        batch.drop_column("answered_date")
        batch.alter_column("closed_date", existing_type=sa.Date(), existing_nullable=True, comment="Empty = still open")
    op.execute("DELETE FROM deviation WHERE deviation_date IS NULL")
    with op.batch_alter_table("deviation") as batch:
        batch.drop_column("first_loaded_date")
        batch.drop_column("identified_date")
        batch.alter_column("deviation_date", existing_type=sa.Date(), nullable=False, comment="Deviation occurred")
