"""The reporting schema: every table the dashboard reads, with its grain, keys, units and allowed values.

Conventions (architecture.md): tables singular, keys `<table>_id`, dates `*_date`, timestamps
`*_at`, booleans `is_*`, counts `n_*`, money `*_amount` in the sponsor's reporting currency.
Each table states its grain in `info["grain"]` and its natural key in `info["natural_key"]`
(the columns a data team knows the row by, so data can be exported and loaded back); each
column says what it is in `comment`, and its unit and allowed values in `info`. The data
contract (docs/data-contract.md) is generated from this module.

The package, by part: columns (the metadata, allowed values and column helpers), clinical, vendors, operations (access
and the load log) and snapshots (published figures). Import everything from `dashboard.schema`.
"""

from __future__ import annotations

# isort: off
# In this order: the order the tables are defined in is the order the data contract lists them.
from dashboard.schema.columns import (
    CHANGE_ORDER_STATUSES,
    COST_CATEGORIES,
    LANES,
    MILESTONE_KINDS,
    PAYMENT_STATUSES,
    PHASES,
    QTL_DIRECTIONS,
    QTL_FIGURES,
    QUERY_STATUSES,
    SITE_STATUSES,
    TRIAL_STATUS_LABEL,
    TRIAL_STATUSES,
    UNIT_TYPES,
    VENDOR_KINDS,
    Money,
    metadata,
)
from dashboard.schema.clinical import (
    adverse_event,
    country,
    crf_page,
    data_point,
    data_query,
    deviation,
    enrollment_plan,
    lab_result,
    qtl,
    site,
    site_month,
    sponsor,
    subject,
    trial,
    visit,
)
from dashboard.schema.vendors import (
    actual_cost,
    change_order,
    contract,
    milestone,
    milestone_forecast,
    planned_spend,
    unit_price,
    vendor,
)
from dashboard.schema.operations import load_log, user_access
from dashboard.schema.snapshots import snapshot, snapshot_figure, snapshot_forecast, snapshot_part
# isort: on

SNAPSHOT_TABLES = [t for t in metadata.sorted_tables if t.info.get("snapshot")]
# Order in which tables can be filled (every table after those it references); the reporting tables, not snapshots.
TABLES = [t for t in metadata.sorted_tables if not t.info.get("snapshot")]
# Tables written from the others (dashboard/rollups.py), never from a file of their own.
DERIVED_TABLES = [t for t in TABLES if t.info.get("derived")]

__all__ = [
    "metadata",
    "Money",
    "PHASES",
    "TRIAL_STATUSES",
    "TRIAL_STATUS_LABEL",
    "SITE_STATUSES",
    "VENDOR_KINDS",
    "LANES",
    "UNIT_TYPES",
    "COST_CATEGORIES",
    "CHANGE_ORDER_STATUSES",
    "PAYMENT_STATUSES",
    "MILESTONE_KINDS",
    "QUERY_STATUSES",
    "QTL_FIGURES",
    "QTL_DIRECTIONS",
    "sponsor",
    "trial",
    "country",
    "site",
    "subject",
    "enrollment_plan",
    "visit",
    "data_query",
    "deviation",
    "crf_page",
    "data_point",
    "lab_result",
    "adverse_event",
    "qtl",
    "site_month",
    "vendor",
    "contract",
    "unit_price",
    "change_order",
    "planned_spend",
    "actual_cost",
    "milestone",
    "milestone_forecast",
    "user_access",
    "load_log",
    "snapshot",
    "snapshot_part",
    "snapshot_forecast",
    "snapshot_figure",
    "SNAPSHOT_TABLES",
    "TABLES",
    "DERIVED_TABLES",
]
