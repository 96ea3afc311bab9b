"""The reporting schema: every table the dashboard reads, with its grain, keys, units and allowed values.

Conventions (architecture.md): tables singular, keys `<table>_id`, dates `*_date`, timestamps
`*_at`, booleans `is_*`, counts `n_*`, money `*_amount` in the sponsor's reporting currency.
Each table states its grain in `info["grain"]` and its natural key in `info["natural_key"]`
(the columns a data team knows the row by, so data can be exported and loaded back); each
column says what it is in `comment`, and its unit and allowed values in `info`. The data
contract (docs/data-contract.md) is generated from this module.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
)

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
TRIAL_STATUS_LABEL = {"planned": "Planned", "startup": "Start-up", "enrolling": "Enrolling", "follow_up": "Follow-up", "closed": "Closed"}
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
    "deviation_rate", "minor_deviation_rate", "dropout", "treatment_discontinuation", "screen_failure", "ae_rate",
    "sae_rate", "abnormal_lab_rate", "query_rate", "outstanding_query_rate", "entry_lag", "data_change_rate",
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


sponsor = Table(
    "sponsor",
    metadata,
    Column("sponsor_id", Integer, primary_key=True),
    Column("sponsor_code", String(32), nullable=False, unique=True, comment="Short code, used in links"),
    Column("sponsor_name", String(200), nullable=False, comment="Company name"),
    Column("reporting_currency", String(3), nullable=False, comment="ISO 4217 code of every *_amount"),
    info={"grain": "One row per sponsor.", "natural_key": ("sponsor_code",)},
)

trial = Table(
    "trial",
    metadata,
    Column("trial_id", Integer, primary_key=True),
    Column("sponsor_id", ForeignKey("sponsor.sponsor_id"), nullable=False, index=True),
    Column("protocol_number", String(32), nullable=False, unique=True, comment="Protocol number, used in links"),
    Column("trial_title", String(300), nullable=False, comment="Short title"),
    _enum("phase", PHASES, comment="Clinical phase"),
    Column("therapeutic_area", String(60), nullable=False, index=True, comment="e.g. Oncology"),
    Column("indication", String(120), nullable=False, comment="Disease studied"),
    _enum("trial_status", TRIAL_STATUSES, comment="Where the trial is in its life"),
    _count("n_planned_sites", comment="Sites the trial plans to activate"),
    _count("n_planned_subjects", comment="Planned enrollment: the trial's target"),
    info={"grain": "One row per trial (protocol).", "natural_key": ("protocol_number",)},
)

country = Table(
    "country",
    metadata,
    Column("country_id", Integer, primary_key=True),
    Column("country_code", String(2), nullable=False, unique=True, comment="ISO 3166-1 alpha-2"),
    Column("country_name", String(80), nullable=False),
    Column("region", String(40), nullable=False, comment="e.g. Europe, North America"),
    info={"grain": "One row per country.", "natural_key": ("country_code",)},
)

site = Table(
    "site",
    metadata,
    Column("site_id", Integer, primary_key=True),
    Column("trial_id", ForeignKey("trial.trial_id"), nullable=False, index=True),
    Column("country_id", ForeignKey("country.country_id"), nullable=False, index=True),
    Column("site_number", String(16), nullable=False, comment="Site number within the trial, used in links"),
    Column("site_name", String(200), nullable=False, comment="Institution"),
    Column("investigator_name", String(120), nullable=True, comment="Principal investigator"),
    _enum("site_status", SITE_STATUSES, comment="Status today (as-of views use the dates)"),
    Column("selected_date", Date, nullable=True, comment="Site selected"),
    Column("planned_activation_date", Date, nullable=True, comment="Activation planned in the baseline"),
    Column("activated_date", Date, nullable=True, index=True, comment="Site initiated, open to enroll"),
    Column("closed_date", Date, nullable=True, comment="Site closed out"),
    _count("n_planned_subjects", comment="Site enrollment target"),
    UniqueConstraint("trial_id", "site_number"),
    CheckConstraint("closed_date IS NULL OR activated_date IS NULL OR closed_date >= activated_date", name="closed_after_activated"),
    info={"grain": "One row per site of a trial.", "natural_key": ("protocol_number", "site_number")},
)

subject = Table(
    "subject",
    metadata,
    Column("subject_id", Integer, primary_key=True),
    Column("trial_id", ForeignKey("trial.trial_id"), nullable=False, index=True),
    Column("site_id", ForeignKey("site.site_id"), nullable=False, index=True),
    Column("subject_number", String(24), nullable=False, comment="Subject number within the trial"),
    Column("screened_date", Date, nullable=False, comment="Informed consent / screening started"),
    Column("screen_failed_date", Date, nullable=True, comment="Screen failure confirmed; never enrolled"),
    Column("enrolled_date", Date, nullable=True, comment="Randomized / enrolled"),
    Column("discontinued_date", Date, nullable=True, comment="Left the study before completing it"),
    Column("completed_date", Date, nullable=True, comment="Completed the study"),
    Column("treatment_discontinued_date", Date, nullable=True,
           comment="Stopped study treatment early (may stay on study for follow-up); empty = did not"),
    UniqueConstraint("trial_id", "subject_number"),
    CheckConstraint("enrolled_date IS NULL OR enrolled_date >= screened_date", name="enrolled_after_screened"),
    CheckConstraint("NOT (enrolled_date IS NOT NULL AND screen_failed_date IS NOT NULL)", name="failed_or_enrolled"),
    Index("ix_subject_trial_enrolled", "trial_id", "enrolled_date"),
    info={"grain": "One row per subject screened.", "natural_key": ("protocol_number", "subject_number")},
)

enrollment_plan = Table(
    "enrollment_plan",
    metadata,
    Column("enrollment_plan_id", Integer, primary_key=True),
    Column("trial_id", ForeignKey("trial.trial_id"), nullable=False),
    Column("country_id", ForeignKey("country.country_id"), nullable=False),
    Column("month_date", Date, nullable=False, comment="First day of the month"),
    _count("n_planned_cumulative", comment="Baseline cumulative planned enrollment at the end of the month"),
    UniqueConstraint("trial_id", "country_id", "month_date"),
    info={
        "grain": "One row per trial × country × month of the baseline plan; the trial's plan is the sum over countries.",
        "natural_key": ("protocol_number", "country_code", "month_date"),
    },
)

visit = Table(
    "visit",
    metadata,
    Column("visit_id", Integer, primary_key=True),
    Column("trial_id", ForeignKey("trial.trial_id"), nullable=False),
    Column("site_id", ForeignKey("site.site_id"), nullable=False, index=True),
    Column("subject_id", ForeignKey("subject.subject_id"), nullable=False, index=True),
    _count("visit_number", comment="Visit sequence within the subject (1 = screening)"),
    Column("visit_date", Date, nullable=False, comment="Visit took place"),
    Column("entered_date", Date, nullable=True, comment="Visit data entered in EDC; empty = not yet"),
    UniqueConstraint("subject_id", "visit_number"),
    CheckConstraint("entered_date IS NULL OR entered_date >= visit_date", name="entered_after_visit"),
    Index("ix_visit_trial_date", "trial_id", "visit_date"),
    Index("ix_visit_trial_entered", "trial_id", "entered_date"),
    info={"grain": "One row per subject visit done.", "natural_key": ("protocol_number", "subject_number", "visit_number")},
)

data_query = Table(
    "data_query",
    metadata,
    Column("data_query_id", Integer, primary_key=True),
    Column("trial_id", ForeignKey("trial.trial_id"), nullable=False),
    Column("site_id", ForeignKey("site.site_id"), nullable=False, index=True),
    Column("subject_id", ForeignKey("subject.subject_id"), nullable=True, index=True),
    Column("query_number", String(24), nullable=False, comment="Query number within the trial"),
    Column("opened_date", Date, nullable=False),
    Column("answered_date", Date, nullable=True, comment="The site answered it; empty = not answered (a query is outstanding until closed)"),
    Column("closed_date", Date, nullable=True, comment="Empty = still outstanding (open or answered)"),
    Column("query_status", String(20), nullable=True,
           comment="Status today: open, answered or closed; empty = closed when closed_date is set, else open "
                   "(as-of views use the dates)",
           info={"allowed": QUERY_STATUSES}),
    UniqueConstraint("trial_id", "query_number"),
    CheckConstraint("closed_date IS NULL OR closed_date >= opened_date", name="closed_after_opened"),
    Index("ix_data_query_trial_opened", "trial_id", "opened_date"),
    Index("ix_data_query_trial_closed", "trial_id", "closed_date"),
    info={"grain": "One row per data query raised on a site's data.", "natural_key": ("protocol_number", "query_number")},
)

deviation = Table(
    "deviation",
    metadata,
    Column("deviation_id", Integer, primary_key=True),
    Column("trial_id", ForeignKey("trial.trial_id"), nullable=False),
    Column("site_id", ForeignKey("site.site_id"), nullable=False, index=True),
    Column("subject_id", ForeignKey("subject.subject_id"), nullable=True, index=True),
    Column("deviation_number", String(24), nullable=False, comment="Deviation number within the trial"),
    Column("deviation_date", Date, nullable=True, comment="Deviation occurred; empty when the source has no date"),
    Column("identified_date", Date, nullable=True, comment="Deviation identified (by the site or a monitor)"),
    Column("first_loaded_date", Date, nullable=True,
           comment="Day the deviation was first loaded; the loader sets it when empty and keeps it on later loads. "
                   "A deviation counts from deviation_date, else identified_date, else this day",
           info={"loader_default": "load_date"}),
    Column("is_important", Boolean, nullable=False, comment="Important (major) protocol deviation"),
    Column("description", String(300), nullable=True),
    UniqueConstraint("trial_id", "deviation_number"),
    Index("ix_deviation_trial_date", "trial_id", "deviation_date"),
    info={"grain": "One row per protocol deviation.", "natural_key": ("protocol_number", "deviation_number")},
)

crf_page = Table(
    "crf_page",
    metadata,
    Column("crf_page_id", Integer, primary_key=True),
    Column("trial_id", ForeignKey("trial.trial_id"), nullable=False, index=True),
    Column("visit_id", ForeignKey("visit.visit_id"), nullable=False, index=True, comment="The visit the page belongs to"),
    Column("page_name", String(60), nullable=False, comment="eCRF page (form), e.g. VITALS"),
    Column("entered_date", Date, nullable=True, comment="Page data entered in EDC; empty = not yet"),
    UniqueConstraint("visit_id", "page_name"),
    info={
        "grain": "One row per eCRF page of a subject visit (optional: where a trial has pages, data-entry lag is counted per page).",
        "natural_key": ("protocol_number", "subject_number", "visit_number", "page_name"),
    },
)

data_point = Table(
    "data_point",
    metadata,
    Column("data_point_id", Integer, primary_key=True),
    Column("trial_id", ForeignKey("trial.trial_id"), nullable=False, index=True),
    Column("visit_id", ForeignKey("visit.visit_id"), nullable=False, comment="The visit counted"),
    _count("n_data_points", comment="Data points entered for the visit"),
    _count("n_data_points_changed", comment="Of those, data points changed after their first entry"),
    UniqueConstraint("visit_id"),
    CheckConstraint("n_data_points >= n_data_points_changed", name="changed_within_entered"),
    info={
        "grain": "One row per subject visit with data-point counts (optional: the denominator of query and data-change rates).",
        "natural_key": ("protocol_number", "subject_number", "visit_number"),
    },
)

lab_result = Table(
    "lab_result",
    metadata,
    Column("lab_result_id", Integer, primary_key=True),
    Column("trial_id", ForeignKey("trial.trial_id"), nullable=False, index=True),
    Column("visit_id", ForeignKey("visit.visit_id"), nullable=False, comment="The visit the samples were taken at"),
    _count("n_lab_results", comment="Laboratory results reported for the visit"),
    _count("n_lab_abnormal", comment="Of those, abnormal results of grade 3 or higher"),
    UniqueConstraint("visit_id"),
    CheckConstraint("n_lab_results >= n_lab_abnormal", name="abnormal_within_results"),
    info={
        "grain": "One row per subject visit with laboratory results: counts (optional: the abnormal lab rate).",
        "natural_key": ("protocol_number", "subject_number", "visit_number"),
    },
)

adverse_event = Table(
    "adverse_event",
    metadata,
    Column("adverse_event_id", Integer, primary_key=True),
    Column("trial_id", ForeignKey("trial.trial_id"), nullable=False),
    Column("subject_id", ForeignKey("subject.subject_id"), nullable=False, index=True, comment="The subject who had it"),
    Column("ae_number", String(24), nullable=False, comment="Adverse event number within the trial"),
    Column("onset_date", Date, nullable=False, comment="The event started"),
    Column("is_serious", Boolean, nullable=False, comment="Serious adverse event (SAE)"),
    Column("aware_date", Date, nullable=True,
           comment="The site became aware of it; empty = on its onset date. The event counts from this day"),
    Column("reported_date", Date, nullable=True, comment="Reported to the sponsor (expected for SAEs); empty = not yet"),
    Column("term", String(200), nullable=True, comment="Event term (e.g. MedDRA preferred term)"),
    Column("grade", Integer, nullable=True, comment="Severity grade, 1 to 5 (CTCAE)"),
    UniqueConstraint("trial_id", "ae_number"),
    CheckConstraint("aware_date IS NULL OR aware_date >= onset_date", name="aware_after_onset"),
    CheckConstraint("reported_date IS NULL OR reported_date >= onset_date", name="reported_after_onset"),
    Index("ix_adverse_event_trial_aware", "trial_id", "aware_date"),
    info={"grain": "One row per adverse event of a subject.", "natural_key": ("protocol_number", "ae_number")},
)

qtl = Table(
    "qtl",
    metadata,
    Column("qtl_id", Integer, primary_key=True),
    Column("trial_id", ForeignKey("trial.trial_id"), nullable=False, index=True),
    _enum("qtl_figure", QTL_FIGURES, comment="The trial-level figure limited: a site indicator pooled over the trial's sites"),
    Column("limit_value", Numeric(12, 4), nullable=False,
           comment="The limit, in the figure's unit as shown (%, per 100 subject-months, …)", info={"unit": "figure's unit"}),
    _enum("direction", QTL_DIRECTIONS, comment="above = breached when the figure is above the limit; below = when below"),
    UniqueConstraint("trial_id", "qtl_figure"),
    info={
        "grain": "One row per quality tolerance limit of a trial (ICH E6(R3)): set before the trial starts.",
        "natural_key": ("protocol_number", "qtl_figure"),
    },
)

site_month = Table(
    "site_month",
    metadata,
    Column("site_id", Integer, primary_key=True, comment="The site (site.site_id)"),
    Column("month_date", Date, primary_key=True, comment="First day of the month"),
    Column("trial_id", Integer, nullable=False, comment="The site's trial (trial.trial_id)"),
    _count("n_visits", comment="Visits done in the month (visit_date)"),
    _count("n_visits_late_prone", comment="Of those, visits entered more than 10 days after the visit or not at all"),
    _count("n_visits_entered", comment="Visits entered in the month (entered_date)"),
    Column("entry_lag_days", Float, nullable=False,
           comment="Sum over the visits entered in the month of days from visit to entry, each at most 60",
           info={"unit": "days"}),
    _count("n_queries_opened", comment="Data queries opened in the month"),
    _count("n_queries_closed", comment="Data queries closed in the month"),
    Index("ix_site_month_trial_month", "trial_id", "month_date"),
    info={
        "grain": "One row per site × month with visits or data queries: counts derived from `visit` and `data_query`.",
        "natural_key": ("protocol_number", "site_number", "month_date"),
        "derived": True,
    },
)

vendor = Table(
    "vendor",
    metadata,
    Column("vendor_id", Integer, primary_key=True),
    Column("vendor_code", String(32), nullable=False, unique=True, comment="Short code, used in links"),
    Column("vendor_name", String(200), nullable=False),
    _enum("vendor_kind", VENDOR_KINDS, comment="What the vendor does; a CDMO works in both lanes"),
    info={"grain": "One row per vendor; vendors are shared across trials and sponsors.", "natural_key": ("vendor_code",)},
)

contract = Table(
    "contract",
    metadata,
    Column("contract_id", Integer, primary_key=True),
    Column("trial_id", ForeignKey("trial.trial_id"), nullable=False, index=True),
    Column("vendor_id", ForeignKey("vendor.vendor_id"), nullable=False, index=True),
    Column("contract_number", String(32), nullable=False, unique=True),
    Column("signed_date", Date, nullable=False),
    _money("contracted_amount", comment="Contract value at signature, before change orders"),
    Column("planned_end_date", Date, nullable=False, comment="Date the planned spend reaches the budget"),
    # Milestone fees reach their contract through (trial, vendor): one contract per vendor per trial.
    UniqueConstraint("trial_id", "vendor_id"),
    info={"grain": "One row per contract of a vendor on a trial (one per vendor and trial).", "natural_key": ("contract_number",)},
)

unit_price = Table(
    "unit_price",
    metadata,
    Column("unit_price_id", Integer, primary_key=True),
    Column("contract_id", ForeignKey("contract.contract_id"), nullable=False),
    _enum("unit_type", UNIT_TYPES, comment="The delivered unit, counted from the operational tables"),
    _enum("cost_category", COST_CATEGORIES, comment="Service fee, or pass-through cost that follows enrollment"),
    _money("unit_price_amount", comment="Contracted price of one unit"),
    UniqueConstraint("contract_id", "unit_type", "cost_category"),
    info={
        "grain": "One row per contract × unit type × cost category. Milestone fees are the milestones' payment_amount.",
        "natural_key": ("contract_number", "unit_type", "cost_category"),
    },
)

change_order = Table(
    "change_order",
    metadata,
    Column("change_order_id", Integer, primary_key=True),
    Column("contract_id", ForeignKey("contract.contract_id"), nullable=False, index=True),
    Column("change_order_number", String(32), nullable=False, unique=True),
    Column("requested_date", Date, nullable=False),
    Column("approved_date", Date, nullable=True, comment="Empty until approved"),
    _enum("change_order_status", CHANGE_ORDER_STATUSES, comment="Status today (as-of views use approved_date)"),
    Column("change_amount", Money, nullable=False, comment="Change to the contract value (negative = descope)", info={"unit": "reporting currency"}),
    Column("reason", String(300), nullable=False),
    info={"grain": "One row per change order to a contract.", "natural_key": ("change_order_number",)},
)

planned_spend = Table(
    "planned_spend",
    metadata,
    Column("planned_spend_id", Integer, primary_key=True),
    Column("contract_id", ForeignKey("contract.contract_id"), nullable=False),
    Column("change_order_id", ForeignKey("change_order.change_order_id"), nullable=True, index=True,
           comment="Empty = the baseline plan; else the change order this spend belongs to"),
    Column("month_date", Date, nullable=False, comment="First day of the month"),
    _enum("cost_category", COST_CATEGORIES, comment="Service fee or pass-through"),
    Column("planned_amount", Money, nullable=False, comment="Spend planned in that month", info={"unit": "reporting currency"}),
    Index("ix_planned_spend_contract_month", "contract_id", "month_date"),
    info={
        "grain": "One row per contract × plan source (baseline or change order) × month × cost category.",
        "natural_key": ("contract_number", "change_order_number", "month_date", "cost_category"),
    },
)

actual_cost = Table(
    "actual_cost",
    metadata,
    Column("actual_cost_id", Integer, primary_key=True),
    Column("contract_id", ForeignKey("contract.contract_id"), nullable=False),
    Column("month_date", Date, nullable=False, comment="First day of the month the work was done"),
    _enum("cost_category", COST_CATEGORIES, comment="Service fee or pass-through"),
    _money("invoiced_amount", comment="Invoiced for work of that month"),
    _money("accrued_amount", comment="Accrued, not yet invoiced (ASC 730)"),
    UniqueConstraint("contract_id", "month_date", "cost_category"),
    info={
        "grain": "One row per contract × month × cost category; actual cost = invoiced + accrued.",
        "natural_key": ("contract_number", "month_date", "cost_category"),
    },
)

milestone = Table(
    "milestone",
    metadata,
    Column("milestone_id", Integer, primary_key=True),
    Column("trial_id", ForeignKey("trial.trial_id"), nullable=False, index=True),
    Column("vendor_id", ForeignKey("vendor.vendor_id"), nullable=False, index=True),
    _enum("lane", LANES, comment="CRO = clinical, CMO = clinical supply"),
    Column("milestone_code", String(32), nullable=False, comment="e.g. FPI, LPI, DP_RELEASED"),
    Column("milestone_name", String(120), nullable=False),
    _enum("milestone_kind", MILESTONE_KINDS, comment="Contracted milestone, stability pull, or expiry/re-test"),
    Column("sequence", Integer, nullable=False, comment="Order within the lane"),
    Column("is_key", Boolean, nullable=False, comment="Shown on the portfolio timeline"),
    Column("baseline_date", Date, nullable=False, comment="Contracted date"),
    Column("actual_date", Date, nullable=True, comment="Done on; empty = not done"),
    _money("payment_amount", comment="Fee earned when achieved (0 = none)"),
    _enum("payment_status", PAYMENT_STATUSES, comment="Status today of the milestone payment"),
    Column("precedes_milestone_id", ForeignKey("milestone.milestone_id"), nullable=True,
           comment="The milestone this one must come before (supply → clinical)"),
    _count("lead_time_days", comment="Days needed between this milestone and the one it precedes"),
    UniqueConstraint("trial_id", "milestone_code"),
    info={"grain": "One row per contracted milestone of a trial.", "natural_key": ("protocol_number", "milestone_code")},
)

milestone_forecast = Table(
    "milestone_forecast",
    metadata,
    Column("milestone_forecast_id", Integer, primary_key=True),
    Column("milestone_id", ForeignKey("milestone.milestone_id"), nullable=False),
    Column("recorded_date", Date, nullable=False, comment="When this forecast was recorded"),
    Column("forecast_date", Date, nullable=False, comment="Forecast date of the milestone"),
    UniqueConstraint("milestone_id", "recorded_date"),
    info={
        "grain": "One row per milestone × date a forecast was recorded; the forecast as of D is the last recorded ≤ D.",
        "natural_key": ("protocol_number", "milestone_code", "recorded_date"),
    },
)

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

# --- Published snapshots (dashboard/snapshot.py): figures computed where data is written, read by the pages. ---
# Keyed by protocol number, not trial_id: a replace load may give a trial a new id, and what was published stays.

snapshot = Table(
    "snapshot",
    metadata,
    Column("as_of_date", Date, primary_key=True, comment="The as-of date the figures were computed for"),
    Column("compare_date", Date, nullable=False, comment="The compare date of its changes (since): a week earlier"),
    Column("published_at", DateTime(timezone=False), nullable=False, comment="UTC time the snapshot was written"),
    Column("loaded_at", DateTime(timezone=False), nullable=True, comment="UTC time of the data load it was computed from"),
    Column("settings_key", String(16), nullable=False,
           comment="Fingerprint of the threshold settings it was computed with; a server with others computes live"),
    _count("n_trials", comment="Trials published"),
    info={"grain": "One row per published as-of date.", "natural_key": ("as_of_date",), "snapshot": True},
)

def _snapshot_of_trial() -> list[Column]:
    """The key columns every per-trial snapshot table starts with."""
    return [
        Column("as_of_date", ForeignKey("snapshot.as_of_date", ondelete="CASCADE"), primary_key=True,
               comment="The snapshot (snapshot.as_of_date)"),
        Column("protocol_number", String(32), primary_key=True, comment="The trial"),
    ]


snapshot_part = Table(
    "snapshot_part",
    metadata,
    *_snapshot_of_trial(),
    Column("part_name", String(40), primary_key=True,
           comment="Which frame of the composed parts: trial_health.trials, flagged_sites.sites, …"),
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
    Column("sites_needed", Integer, nullable=True, comment="Extra sites that bring that probability to the green threshold"),
    Column("planned_lpi_date", Date, nullable=True, comment="The planned last patient in (baseline)"),
    Column("is_complete", Boolean, nullable=False, comment="Enrollment had reached its target"),
    Column("completed_date", Date, nullable=True, comment="When it reached the target, if it had"),
    info={"grain": "One row per published date × trial: its enrollment forecast.",
          "natural_key": ("as_of_date", "protocol_number"), "snapshot": True},
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
    info={"grain": "One row per published date × trial × figure of the registry (the trial's own figures).",
          "natural_key": ("as_of_date", "protocol_number", "figure_key"), "snapshot": True},
)

SNAPSHOT_TABLES = [t for t in metadata.sorted_tables if t.info.get("snapshot")]
# Order in which tables can be filled (every table after those it references); the reporting tables, not snapshots.
TABLES = [t for t in metadata.sorted_tables if not t.info.get("snapshot")]
# Tables written from the others (dashboard/rollups.py), never from a file of their own.
DERIVED_TABLES = [t for t in TABLES if t.info.get("derived")]
