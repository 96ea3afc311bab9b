"""Trial health (domain.md §7) assembled from query frames: one set of functions for pages and the digest alike.

The package, by part: milestones (each milestone's status, the schedule's, supply risks, planned dates), outlook (the
enrollment forecast a page shows, and the drift prior a sponsor's earlier trials teach), trial (trial_health: enrollment,
budget, schedule and overall colours), sites (site flags against peers, QTLs, SAE timeliness per CRO). Everything is
imported from dashboard.health.
"""

from dashboard.health.milestones import (
    expected_column,
    milestone_statuses,
    most_slipped_trials,
    open_supply_risks,
    planned_dates,
    schedule_milestones,
    supply_risks,
    to_date,
    worst_milestones,
)
from dashboard.health.outlook import (
    ENROLLMENT_CLOSED,
    LPI_CODE,
    PRIOR_MAX_TRIALS,
    PRIOR_MIN_AGE_DAYS,
    Outlook,
    drift_priors,
    enrollment_outlook,
    enrollment_outlooks,
    forecast_history,
)
from dashboard.health.sites import (
    QTL_COLUMNS,
    cro_sae_timeliness,
    flag_reason,
    flag_sites_by_trial,
    qtl_status,
    qtl_text,
    qtl_values,
)
from dashboard.health.trial import ACTIVE_STATUSES, trial_health

__all__ = [
    "ACTIVE_STATUSES",
    "ENROLLMENT_CLOSED",
    "LPI_CODE",
    "PRIOR_MAX_TRIALS",
    "PRIOR_MIN_AGE_DAYS",
    "QTL_COLUMNS",
    "Outlook",
    "cro_sae_timeliness",
    "drift_priors",
    "enrollment_outlook",
    "enrollment_outlooks",
    "expected_column",
    "flag_reason",
    "flag_sites_by_trial",
    "forecast_history",
    "milestone_statuses",
    "most_slipped_trials",
    "open_supply_risks",
    "planned_dates",
    "qtl_status",
    "qtl_text",
    "qtl_values",
    "schedule_milestones",
    "supply_risks",
    "to_date",
    "trial_health",
    "worst_milestones",
]
