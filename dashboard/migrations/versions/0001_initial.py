"""Initial reporting schema: every table of dashboard/schema.py as of the first release.

Revision ID: 0001
Revises:
Create Date: 2026-11-24

Written out in full rather than imported from dashboard.schema, so this revision keeps
building the same schema when schema.py moves on. Autogenerate skips column-level CHECK
constraints; they are listed here by hand, after each table's other constraints. Names are
wrapped in op.f() because they are final: the target metadata's naming convention would
otherwise prefix the CHECK names a second time.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "country",
        sa.Column("country_id", sa.Integer(), nullable=False),
        sa.Column("country_code", sa.String(2), nullable=False, comment="ISO 3166-1 alpha-2"),
        sa.Column("country_name", sa.String(80), nullable=False),
        sa.Column("region", sa.String(40), nullable=False, comment="e.g. Europe, North America"),
        sa.PrimaryKeyConstraint("country_id", name=op.f("pk_country")),
        sa.UniqueConstraint("country_code", name=op.f("uq_country_country_code")),
    )

    op.create_table(
        "load_log",
        sa.Column("load_log_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(120), nullable=False, comment="Where the data came from"),
        sa.Column("loaded_at", sa.DateTime(), nullable=False, comment="UTC time the load finished"),
        sa.Column("n_rows", sa.Integer(), nullable=False, comment="Rows written by the load"),
        sa.Column("details", sa.Text(), nullable=True, comment="Rows per table, as JSON"),
        sa.PrimaryKeyConstraint("load_log_id", name=op.f("pk_load_log")),
        sa.CheckConstraint("n_rows >= 0", name=op.f("ck_load_log_n_rows_not_negative")),
    )
    op.create_index(op.f("ix_load_log_loaded_at"), "load_log", ["loaded_at"])

    op.create_table(
        "sponsor",
        sa.Column("sponsor_id", sa.Integer(), nullable=False),
        sa.Column("sponsor_code", sa.String(32), nullable=False, comment="Short code, used in links"),
        sa.Column("sponsor_name", sa.String(200), nullable=False, comment="Company name"),
        sa.Column("reporting_currency", sa.String(3), nullable=False, comment="ISO 4217 code of every *_amount"),
        sa.PrimaryKeyConstraint("sponsor_id", name=op.f("pk_sponsor")),
        sa.UniqueConstraint("sponsor_code", name=op.f("uq_sponsor_sponsor_code")),
    )

    op.create_table(
        "vendor",
        sa.Column("vendor_id", sa.Integer(), nullable=False),
        sa.Column("vendor_code", sa.String(32), nullable=False, comment="Short code, used in links"),
        sa.Column("vendor_name", sa.String(200), nullable=False),
        sa.Column("vendor_kind", sa.String(20), nullable=False, comment="What the vendor does; a CDMO works in both lanes"),
        sa.PrimaryKeyConstraint("vendor_id", name=op.f("pk_vendor")),
        sa.UniqueConstraint("vendor_code", name=op.f("uq_vendor_vendor_code")),
        sa.CheckConstraint("vendor_kind IN ('CRO', 'CMO', 'CDMO', 'central_lab', 'IRT', 'other')", name=op.f("ck_vendor_vendor_kind_allowed")),
    )

    op.create_table(
        "trial",
        sa.Column("trial_id", sa.Integer(), nullable=False),
        sa.Column("sponsor_id", sa.Integer(), nullable=False),
        sa.Column("protocol_number", sa.String(32), nullable=False, comment="Protocol number, used in links"),
        sa.Column("trial_title", sa.String(300), nullable=False, comment="Short title"),
        sa.Column("phase", sa.String(20), nullable=False, comment="Clinical phase"),
        sa.Column("therapeutic_area", sa.String(60), nullable=False, comment="e.g. Oncology"),
        sa.Column("indication", sa.String(120), nullable=False, comment="Disease studied"),
        sa.Column("trial_status", sa.String(20), nullable=False, comment="Where the trial is in its life"),
        sa.Column("n_planned_sites", sa.Integer(), nullable=False, comment="Sites the trial plans to activate"),
        sa.Column("n_planned_subjects", sa.Integer(), nullable=False, comment="Planned enrollment: the trial's target"),
        sa.PrimaryKeyConstraint("trial_id", name=op.f("pk_trial")),
        sa.ForeignKeyConstraint(["sponsor_id"], ["sponsor.sponsor_id"], name=op.f("fk_trial_sponsor_id_sponsor")),
        sa.UniqueConstraint("protocol_number", name=op.f("uq_trial_protocol_number")),
        sa.CheckConstraint("phase IN ('I', 'II', 'III', 'IV')", name=op.f("ck_trial_phase_allowed")),
        sa.CheckConstraint("trial_status IN ('planned', 'startup', 'enrolling', 'follow_up', 'closed')", name=op.f("ck_trial_trial_status_allowed")),
        sa.CheckConstraint("n_planned_sites >= 0", name=op.f("ck_trial_n_planned_sites_not_negative")),
        sa.CheckConstraint("n_planned_subjects >= 0", name=op.f("ck_trial_n_planned_subjects_not_negative")),
    )
    op.create_index(op.f("ix_trial_sponsor_id"), "trial", ["sponsor_id"])
    op.create_index(op.f("ix_trial_therapeutic_area"), "trial", ["therapeutic_area"])

    op.create_table(
        "user_access",
        sa.Column("user_access_id", sa.Integer(), nullable=False),
        sa.Column("user_email", sa.String(254), nullable=False, comment="Lower-case e-mail the sign-in gives"),
        sa.Column("sponsor_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("user_access_id", name=op.f("pk_user_access")),
        sa.ForeignKeyConstraint(["sponsor_id"], ["sponsor.sponsor_id"], name=op.f("fk_user_access_sponsor_id_sponsor")),
        sa.UniqueConstraint("user_email", "sponsor_id", name=op.f("uq_user_access_user_email_sponsor_id")),
    )

    op.create_table(
        "contract",
        sa.Column("contract_id", sa.Integer(), nullable=False),
        sa.Column("trial_id", sa.Integer(), nullable=False),
        sa.Column("vendor_id", sa.Integer(), nullable=False),
        sa.Column("contract_number", sa.String(32), nullable=False),
        sa.Column("signed_date", sa.Date(), nullable=False),
        sa.Column("contracted_amount", sa.Numeric(14, 2), nullable=False, comment="Contract value at signature, before change orders"),
        sa.Column("planned_end_date", sa.Date(), nullable=False, comment="Date the planned spend reaches the budget"),
        sa.PrimaryKeyConstraint("contract_id", name=op.f("pk_contract")),
        sa.ForeignKeyConstraint(["trial_id"], ["trial.trial_id"], name=op.f("fk_contract_trial_id_trial")),
        sa.ForeignKeyConstraint(["vendor_id"], ["vendor.vendor_id"], name=op.f("fk_contract_vendor_id_vendor")),
        sa.UniqueConstraint("contract_number", name=op.f("uq_contract_contract_number")),
        sa.UniqueConstraint("trial_id", "vendor_id", name=op.f("uq_contract_trial_id_vendor_id")),
        sa.CheckConstraint("contracted_amount >= 0", name=op.f("ck_contract_contracted_amount_not_negative")),
    )
    op.create_index(op.f("ix_contract_trial_id"), "contract", ["trial_id"])
    op.create_index(op.f("ix_contract_vendor_id"), "contract", ["vendor_id"])

    op.create_table(
        "enrollment_plan",
        sa.Column("enrollment_plan_id", sa.Integer(), nullable=False),
        sa.Column("trial_id", sa.Integer(), nullable=False),
        sa.Column("country_id", sa.Integer(), nullable=False),
        sa.Column("month_date", sa.Date(), nullable=False, comment="First day of the month"),
        sa.Column("n_planned_cumulative", sa.Integer(), nullable=False, comment="Baseline cumulative planned enrollment at the end of the month"),
        sa.PrimaryKeyConstraint("enrollment_plan_id", name=op.f("pk_enrollment_plan")),
        sa.ForeignKeyConstraint(["country_id"], ["country.country_id"], name=op.f("fk_enrollment_plan_country_id_country")),
        sa.ForeignKeyConstraint(["trial_id"], ["trial.trial_id"], name=op.f("fk_enrollment_plan_trial_id_trial")),
        sa.UniqueConstraint("trial_id", "country_id", "month_date", name=op.f("uq_enrollment_plan_trial_id_country_id_month_date")),
        sa.CheckConstraint("n_planned_cumulative >= 0", name=op.f("ck_enrollment_plan_n_planned_cumulative_not_negative")),
    )

    op.create_table(
        "milestone",
        sa.Column("milestone_id", sa.Integer(), nullable=False),
        sa.Column("trial_id", sa.Integer(), nullable=False),
        sa.Column("vendor_id", sa.Integer(), nullable=False),
        sa.Column("lane", sa.String(20), nullable=False, comment="CRO = clinical, CMO = clinical supply"),
        sa.Column("milestone_code", sa.String(32), nullable=False, comment="e.g. FPI, LPI, DP_RELEASED"),
        sa.Column("milestone_name", sa.String(120), nullable=False),
        sa.Column("milestone_kind", sa.String(20), nullable=False, comment="Contracted milestone, stability pull, or expiry/re-test"),
        sa.Column("sequence", sa.Integer(), nullable=False, comment="Order within the lane"),
        sa.Column("is_key", sa.Boolean(), nullable=False, comment="Shown on the portfolio timeline"),
        sa.Column("baseline_date", sa.Date(), nullable=False, comment="Contracted date"),
        sa.Column("actual_date", sa.Date(), nullable=True, comment="Done on; empty = not done"),
        sa.Column("payment_amount", sa.Numeric(14, 2), nullable=False, comment="Fee earned when achieved (0 = none)"),
        sa.Column("payment_status", sa.String(20), nullable=False, comment="Status today of the milestone payment"),
        sa.Column("precedes_milestone_id", sa.Integer(), nullable=True, comment="The milestone this one must come before (supply → clinical)"),
        sa.Column("lead_time_days", sa.Integer(), nullable=False, comment="Days needed between this milestone and the one it precedes"),
        sa.PrimaryKeyConstraint("milestone_id", name=op.f("pk_milestone")),
        sa.ForeignKeyConstraint(["precedes_milestone_id"], ["milestone.milestone_id"], name=op.f("fk_milestone_precedes_milestone_id_milestone")),
        sa.ForeignKeyConstraint(["trial_id"], ["trial.trial_id"], name=op.f("fk_milestone_trial_id_trial")),
        sa.ForeignKeyConstraint(["vendor_id"], ["vendor.vendor_id"], name=op.f("fk_milestone_vendor_id_vendor")),
        sa.UniqueConstraint("trial_id", "milestone_code", name=op.f("uq_milestone_trial_id_milestone_code")),
        sa.CheckConstraint("lane IN ('CRO', 'CMO')", name=op.f("ck_milestone_lane_allowed")),
        sa.CheckConstraint("milestone_kind IN ('contract', 'stability_pull', 'expiry')", name=op.f("ck_milestone_milestone_kind_allowed")),
        sa.CheckConstraint("payment_amount >= 0", name=op.f("ck_milestone_payment_amount_not_negative")),
        sa.CheckConstraint("payment_status IN ('not_due', 'due', 'invoiced', 'paid')", name=op.f("ck_milestone_payment_status_allowed")),
        sa.CheckConstraint("lead_time_days >= 0", name=op.f("ck_milestone_lead_time_days_not_negative")),
    )
    op.create_index(op.f("ix_milestone_trial_id"), "milestone", ["trial_id"])
    op.create_index(op.f("ix_milestone_vendor_id"), "milestone", ["vendor_id"])

    op.create_table(
        "site",
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("trial_id", sa.Integer(), nullable=False),
        sa.Column("country_id", sa.Integer(), nullable=False),
        sa.Column("site_number", sa.String(16), nullable=False, comment="Site number within the trial, used in links"),
        sa.Column("site_name", sa.String(200), nullable=False, comment="Institution"),
        sa.Column("investigator_name", sa.String(120), nullable=True, comment="Principal investigator"),
        sa.Column("site_status", sa.String(20), nullable=False, comment="Status today (as-of views use the dates)"),
        sa.Column("selected_date", sa.Date(), nullable=True, comment="Site selected"),
        sa.Column("planned_activation_date", sa.Date(), nullable=True, comment="Activation planned in the baseline"),
        sa.Column("activated_date", sa.Date(), nullable=True, comment="Site initiated, open to enroll"),
        sa.Column("closed_date", sa.Date(), nullable=True, comment="Site closed out"),
        sa.Column("n_planned_subjects", sa.Integer(), nullable=False, comment="Site enrollment target"),
        sa.PrimaryKeyConstraint("site_id", name=op.f("pk_site")),
        sa.ForeignKeyConstraint(["country_id"], ["country.country_id"], name=op.f("fk_site_country_id_country")),
        sa.ForeignKeyConstraint(["trial_id"], ["trial.trial_id"], name=op.f("fk_site_trial_id_trial")),
        sa.UniqueConstraint("trial_id", "site_number", name=op.f("uq_site_trial_id_site_number")),
        sa.CheckConstraint("site_status IN ('planned', 'selected', 'active', 'closed')", name=op.f("ck_site_site_status_allowed")),
        sa.CheckConstraint("n_planned_subjects >= 0", name=op.f("ck_site_n_planned_subjects_not_negative")),
        sa.CheckConstraint("closed_date IS NULL OR activated_date IS NULL OR closed_date >= activated_date", name=op.f("ck_site_closed_after_activated")),
    )
    op.create_index(op.f("ix_site_activated_date"), "site", ["activated_date"])
    op.create_index(op.f("ix_site_country_id"), "site", ["country_id"])
    op.create_index(op.f("ix_site_trial_id"), "site", ["trial_id"])

    op.create_table(
        "actual_cost",
        sa.Column("actual_cost_id", sa.Integer(), nullable=False),
        sa.Column("contract_id", sa.Integer(), nullable=False),
        sa.Column("month_date", sa.Date(), nullable=False, comment="First day of the month the work was done"),
        sa.Column("cost_category", sa.String(20), nullable=False, comment="Service fee or pass-through"),
        sa.Column("invoiced_amount", sa.Numeric(14, 2), nullable=False, comment="Invoiced for work of that month"),
        sa.Column("accrued_amount", sa.Numeric(14, 2), nullable=False, comment="Accrued, not yet invoiced (ASC 730)"),
        sa.PrimaryKeyConstraint("actual_cost_id", name=op.f("pk_actual_cost")),
        sa.ForeignKeyConstraint(["contract_id"], ["contract.contract_id"], name=op.f("fk_actual_cost_contract_id_contract")),
        sa.UniqueConstraint("contract_id", "month_date", "cost_category", name=op.f("uq_actual_cost_contract_id_month_date_cost_category")),
        sa.CheckConstraint("cost_category IN ('service_fee', 'pass_through')", name=op.f("ck_actual_cost_cost_category_allowed")),
        sa.CheckConstraint("invoiced_amount >= 0", name=op.f("ck_actual_cost_invoiced_amount_not_negative")),
        sa.CheckConstraint("accrued_amount >= 0", name=op.f("ck_actual_cost_accrued_amount_not_negative")),
    )

    op.create_table(
        "change_order",
        sa.Column("change_order_id", sa.Integer(), nullable=False),
        sa.Column("contract_id", sa.Integer(), nullable=False),
        sa.Column("change_order_number", sa.String(32), nullable=False),
        sa.Column("requested_date", sa.Date(), nullable=False),
        sa.Column("approved_date", sa.Date(), nullable=True, comment="Empty until approved"),
        sa.Column("change_order_status", sa.String(20), nullable=False, comment="Status today (as-of views use approved_date)"),
        sa.Column("change_amount", sa.Numeric(14, 2), nullable=False, comment="Change to the contract value (negative = descope)"),
        sa.Column("reason", sa.String(300), nullable=False),
        sa.PrimaryKeyConstraint("change_order_id", name=op.f("pk_change_order")),
        sa.ForeignKeyConstraint(["contract_id"], ["contract.contract_id"], name=op.f("fk_change_order_contract_id_contract")),
        sa.UniqueConstraint("change_order_number", name=op.f("uq_change_order_change_order_number")),
        sa.CheckConstraint("change_order_status IN ('proposed', 'approved', 'rejected')", name=op.f("ck_change_order_change_order_status_allowed")),
    )
    op.create_index(op.f("ix_change_order_contract_id"), "change_order", ["contract_id"])

    op.create_table(
        "milestone_forecast",
        sa.Column("milestone_forecast_id", sa.Integer(), nullable=False),
        sa.Column("milestone_id", sa.Integer(), nullable=False),
        sa.Column("recorded_date", sa.Date(), nullable=False, comment="When this forecast was recorded"),
        sa.Column("forecast_date", sa.Date(), nullable=False, comment="Forecast date of the milestone"),
        sa.PrimaryKeyConstraint("milestone_forecast_id", name=op.f("pk_milestone_forecast")),
        sa.ForeignKeyConstraint(["milestone_id"], ["milestone.milestone_id"], name=op.f("fk_milestone_forecast_milestone_id_milestone")),
        sa.UniqueConstraint("milestone_id", "recorded_date", name=op.f("uq_milestone_forecast_milestone_id_recorded_date")),
    )

    op.create_table(
        "subject",
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("trial_id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("subject_number", sa.String(24), nullable=False, comment="Subject number within the trial"),
        sa.Column("screened_date", sa.Date(), nullable=False, comment="Informed consent / screening started"),
        sa.Column("screen_failed_date", sa.Date(), nullable=True, comment="Screen failure confirmed; never enrolled"),
        sa.Column("enrolled_date", sa.Date(), nullable=True, comment="Randomized / enrolled"),
        sa.Column("discontinued_date", sa.Date(), nullable=True, comment="Left the study before completing it"),
        sa.Column("completed_date", sa.Date(), nullable=True, comment="Completed the study"),
        sa.PrimaryKeyConstraint("subject_id", name=op.f("pk_subject")),
        sa.ForeignKeyConstraint(["site_id"], ["site.site_id"], name=op.f("fk_subject_site_id_site")),
        sa.ForeignKeyConstraint(["trial_id"], ["trial.trial_id"], name=op.f("fk_subject_trial_id_trial")),
        sa.UniqueConstraint("trial_id", "subject_number", name=op.f("uq_subject_trial_id_subject_number")),
        sa.CheckConstraint("NOT (enrolled_date IS NOT NULL AND screen_failed_date IS NOT NULL)", name=op.f("ck_subject_failed_or_enrolled")),
        sa.CheckConstraint("enrolled_date IS NULL OR enrolled_date >= screened_date", name=op.f("ck_subject_enrolled_after_screened")),
    )
    op.create_index(op.f("ix_subject_site_id"), "subject", ["site_id"])
    op.create_index(op.f("ix_subject_trial_enrolled"), "subject", ["trial_id", "enrolled_date"])
    op.create_index(op.f("ix_subject_trial_id"), "subject", ["trial_id"])

    op.create_table(
        "unit_price",
        sa.Column("unit_price_id", sa.Integer(), nullable=False),
        sa.Column("contract_id", sa.Integer(), nullable=False),
        sa.Column("unit_type", sa.String(20), nullable=False, comment="The delivered unit, counted from the operational tables"),
        sa.Column("cost_category", sa.String(20), nullable=False, comment="Service fee, or pass-through cost that follows enrollment"),
        sa.Column("unit_price_amount", sa.Numeric(14, 2), nullable=False, comment="Contracted price of one unit"),
        sa.PrimaryKeyConstraint("unit_price_id", name=op.f("pk_unit_price")),
        sa.ForeignKeyConstraint(["contract_id"], ["contract.contract_id"], name=op.f("fk_unit_price_contract_id_contract")),
        sa.UniqueConstraint("contract_id", "unit_type", "cost_category", name=op.f("uq_unit_price_contract_id_unit_type_cost_category")),
        sa.CheckConstraint("unit_type IN ('site_activated', 'subject_enrolled', 'visit_done')", name=op.f("ck_unit_price_unit_type_allowed")),
        sa.CheckConstraint("cost_category IN ('service_fee', 'pass_through')", name=op.f("ck_unit_price_cost_category_allowed")),
        sa.CheckConstraint("unit_price_amount >= 0", name=op.f("ck_unit_price_unit_price_amount_not_negative")),
    )

    op.create_table(
        "data_query",
        sa.Column("data_query_id", sa.Integer(), nullable=False),
        sa.Column("trial_id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=True),
        sa.Column("query_number", sa.String(24), nullable=False, comment="Query number within the trial"),
        sa.Column("opened_date", sa.Date(), nullable=False),
        sa.Column("closed_date", sa.Date(), nullable=True, comment="Empty = still open"),
        sa.PrimaryKeyConstraint("data_query_id", name=op.f("pk_data_query")),
        sa.ForeignKeyConstraint(["site_id"], ["site.site_id"], name=op.f("fk_data_query_site_id_site")),
        sa.ForeignKeyConstraint(["subject_id"], ["subject.subject_id"], name=op.f("fk_data_query_subject_id_subject")),
        sa.ForeignKeyConstraint(["trial_id"], ["trial.trial_id"], name=op.f("fk_data_query_trial_id_trial")),
        sa.UniqueConstraint("trial_id", "query_number", name=op.f("uq_data_query_trial_id_query_number")),
        sa.CheckConstraint("closed_date IS NULL OR closed_date >= opened_date", name=op.f("ck_data_query_closed_after_opened")),
    )
    op.create_index(op.f("ix_data_query_site_id"), "data_query", ["site_id"])
    op.create_index(op.f("ix_data_query_subject_id"), "data_query", ["subject_id"])
    op.create_index(op.f("ix_data_query_trial_opened"), "data_query", ["trial_id", "opened_date"])

    op.create_table(
        "deviation",
        sa.Column("deviation_id", sa.Integer(), nullable=False),
        sa.Column("trial_id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=True),
        sa.Column("deviation_number", sa.String(24), nullable=False, comment="Deviation number within the trial"),
        sa.Column("deviation_date", sa.Date(), nullable=False, comment="Deviation occurred"),
        sa.Column("is_important", sa.Boolean(), nullable=False, comment="Important (major) protocol deviation"),
        sa.Column("description", sa.String(300), nullable=True),
        sa.PrimaryKeyConstraint("deviation_id", name=op.f("pk_deviation")),
        sa.ForeignKeyConstraint(["site_id"], ["site.site_id"], name=op.f("fk_deviation_site_id_site")),
        sa.ForeignKeyConstraint(["subject_id"], ["subject.subject_id"], name=op.f("fk_deviation_subject_id_subject")),
        sa.ForeignKeyConstraint(["trial_id"], ["trial.trial_id"], name=op.f("fk_deviation_trial_id_trial")),
        sa.UniqueConstraint("trial_id", "deviation_number", name=op.f("uq_deviation_trial_id_deviation_number")),
    )
    op.create_index(op.f("ix_deviation_site_id"), "deviation", ["site_id"])
    op.create_index(op.f("ix_deviation_subject_id"), "deviation", ["subject_id"])
    op.create_index(op.f("ix_deviation_trial_date"), "deviation", ["trial_id", "deviation_date"])

    op.create_table(
        "planned_spend",
        sa.Column("planned_spend_id", sa.Integer(), nullable=False),
        sa.Column("contract_id", sa.Integer(), nullable=False),
        sa.Column("change_order_id", sa.Integer(), nullable=True, comment="Empty = the baseline plan; else the change order this spend belongs to"),
        sa.Column("month_date", sa.Date(), nullable=False, comment="First day of the month"),
        sa.Column("cost_category", sa.String(20), nullable=False, comment="Service fee or pass-through"),
        sa.Column("planned_amount", sa.Numeric(14, 2), nullable=False, comment="Spend planned in that month"),
        sa.PrimaryKeyConstraint("planned_spend_id", name=op.f("pk_planned_spend")),
        sa.ForeignKeyConstraint(["change_order_id"], ["change_order.change_order_id"], name=op.f("fk_planned_spend_change_order_id_change_order")),
        sa.ForeignKeyConstraint(["contract_id"], ["contract.contract_id"], name=op.f("fk_planned_spend_contract_id_contract")),
        sa.CheckConstraint("cost_category IN ('service_fee', 'pass_through')", name=op.f("ck_planned_spend_cost_category_allowed")),
    )
    op.create_index(op.f("ix_planned_spend_change_order_id"), "planned_spend", ["change_order_id"])
    op.create_index(op.f("ix_planned_spend_contract_month"), "planned_spend", ["contract_id", "month_date"])

    op.create_table(
        "visit",
        sa.Column("visit_id", sa.Integer(), nullable=False),
        sa.Column("trial_id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("visit_number", sa.Integer(), nullable=False, comment="Visit sequence within the subject (1 = screening)"),
        sa.Column("visit_date", sa.Date(), nullable=False, comment="Visit took place"),
        sa.Column("entered_date", sa.Date(), nullable=True, comment="Visit data entered in EDC; empty = not yet"),
        sa.PrimaryKeyConstraint("visit_id", name=op.f("pk_visit")),
        sa.ForeignKeyConstraint(["site_id"], ["site.site_id"], name=op.f("fk_visit_site_id_site")),
        sa.ForeignKeyConstraint(["subject_id"], ["subject.subject_id"], name=op.f("fk_visit_subject_id_subject")),
        sa.ForeignKeyConstraint(["trial_id"], ["trial.trial_id"], name=op.f("fk_visit_trial_id_trial")),
        sa.UniqueConstraint("subject_id", "visit_number", name=op.f("uq_visit_subject_id_visit_number")),
        sa.CheckConstraint("visit_number >= 0", name=op.f("ck_visit_visit_number_not_negative")),
        sa.CheckConstraint("entered_date IS NULL OR entered_date >= visit_date", name=op.f("ck_visit_entered_after_visit")),
    )
    op.create_index(op.f("ix_visit_site_id"), "visit", ["site_id"])
    op.create_index(op.f("ix_visit_subject_id"), "visit", ["subject_id"])
    op.create_index(op.f("ix_visit_trial_date"), "visit", ["trial_id", "visit_date"])


def downgrade() -> None:
    op.drop_table("visit")
    op.drop_table("planned_spend")
    op.drop_table("deviation")
    op.drop_table("data_query")
    op.drop_table("unit_price")
    op.drop_table("subject")
    op.drop_table("milestone_forecast")
    op.drop_table("change_order")
    op.drop_table("actual_cost")
    op.drop_table("site")
    op.drop_table("milestone")
    op.drop_table("enrollment_plan")
    op.drop_table("contract")
    op.drop_table("user_access")
    op.drop_table("trial")
    op.drop_table("vendor")
    op.drop_table("sponsor")
    op.drop_table("load_log")
    op.drop_table("country")
