"""The clinical tables: sponsors, trials, countries, sites, subjects, the enrollment plan, visits, data
quality (queries, deviations, CRF pages, data points, lab results), adverse events, QTLs and the site-month rollup."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Table,
    UniqueConstraint,
)

from dashboard.schema.columns import (
    PHASES,
    QTL_DIRECTIONS,
    QTL_FIGURES,
    QUERY_STATUSES,
    SITE_STATUSES,
    TRIAL_STATUSES,
    _count,
    _enum,
    metadata,
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
    CheckConstraint(
        "closed_date IS NULL OR activated_date IS NULL OR closed_date >= activated_date", name="closed_after_activated"
    ),
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
    Column(
        "treatment_discontinued_date",
        Date,
        nullable=True,
        comment="Stopped study treatment early (may stay on study for follow-up); empty = did not",
    ),
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
    info={
        "grain": "One row per subject visit done.",
        "natural_key": ("protocol_number", "subject_number", "visit_number"),
    },
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
    Column(
        "answered_date",
        Date,
        nullable=True,
        comment="The site answered it; empty = not answered (a query is outstanding until closed)",
    ),
    Column("closed_date", Date, nullable=True, comment="Empty = still outstanding (open or answered)"),
    Column(
        "query_status",
        String(20),
        nullable=True,
        comment="Status today: open, answered or closed; empty = closed when closed_date is set, else open "
        "(as-of views use the dates)",
        info={"allowed": QUERY_STATUSES},
    ),
    UniqueConstraint("trial_id", "query_number"),
    CheckConstraint("closed_date IS NULL OR closed_date >= opened_date", name="closed_after_opened"),
    Index("ix_data_query_trial_opened", "trial_id", "opened_date"),
    Index("ix_data_query_trial_closed", "trial_id", "closed_date"),
    info={
        "grain": "One row per data query raised on a site's data.",
        "natural_key": ("protocol_number", "query_number"),
    },
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
    Column(
        "first_loaded_date",
        Date,
        nullable=True,
        comment="Day the deviation was first loaded; the loader sets it when empty and keeps it on later loads. "
        "A deviation counts from deviation_date, else identified_date, else this day",
        info={"loader_default": "load_date"},
    ),
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
    Column(
        "visit_id", ForeignKey("visit.visit_id"), nullable=False, index=True, comment="The visit the page belongs to"
    ),
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
    Column(
        "subject_id", ForeignKey("subject.subject_id"), nullable=False, index=True, comment="The subject who had it"
    ),
    Column("ae_number", String(24), nullable=False, comment="Adverse event number within the trial"),
    Column("onset_date", Date, nullable=False, comment="The event started"),
    Column("is_serious", Boolean, nullable=False, comment="Serious adverse event (SAE)"),
    Column(
        "aware_date",
        Date,
        nullable=True,
        comment="The site became aware of it; empty = on its onset date. The event counts from this day",
    ),
    Column(
        "reported_date", Date, nullable=True, comment="Reported to the sponsor (expected for SAEs); empty = not yet"
    ),
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
    _enum(
        "qtl_figure",
        QTL_FIGURES,
        comment="The trial-level figure limited: a site indicator pooled over the trial's sites",
    ),
    Column(
        "limit_value",
        Numeric(12, 4),
        nullable=False,
        comment="The limit, in the figure's unit as shown (%, per 100 subject-months, …)",
        info={"unit": "figure's unit"},
    ),
    _enum(
        "direction", QTL_DIRECTIONS, comment="above = breached when the figure is above the limit; below = when below"
    ),
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
    Column(
        "entry_lag_days",
        Float,
        nullable=False,
        comment="Sum over the visits entered in the month of days from visit to entry, each at most 60",
        info={"unit": "days"},
    ),
    _count("n_queries_opened", comment="Data queries opened in the month"),
    _count("n_queries_closed", comment="Data queries closed in the month"),
    Index("ix_site_month_trial_month", "trial_id", "month_date"),
    info={
        "grain": "One row per site × month with visits or data queries: counts derived from `visit` and `data_query`.",
        "natural_key": ("protocol_number", "site_number", "month_date"),
        "derived": True,
    },
)
