"""The vendor tables: vendors, contracts and their unit prices, change orders, planned spend, actual costs,
milestones and their forecasts."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Date, ForeignKey, Index, Integer, String, Table, UniqueConstraint

from dashboard.schema.columns import (
    CHANGE_ORDER_STATUSES,
    COST_CATEGORIES,
    LANES,
    MILESTONE_KINDS,
    PAYMENT_STATUSES,
    UNIT_TYPES,
    VENDOR_KINDS,
    Money,
    _count,
    _enum,
    _money,
    metadata,
)

vendor = Table(
    "vendor",
    metadata,
    Column("vendor_id", Integer, primary_key=True),
    Column("vendor_code", String(32), nullable=False, unique=True, comment="Short code, used in links"),
    Column("vendor_name", String(200), nullable=False),
    _enum("vendor_kind", VENDOR_KINDS, comment="What the vendor does; a CDMO works in both lanes"),
    info={
        "grain": "One row per vendor; vendors are shared across trials and sponsors.",
        "natural_key": ("vendor_code",),
    },
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
    info={
        "grain": "One row per contract of a vendor on a trial (one per vendor and trial).",
        "natural_key": ("contract_number",),
    },
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
    Column(
        "change_amount",
        Money,
        nullable=False,
        comment="Change to the contract value (negative = descope)",
        info={"unit": "reporting currency"},
    ),
    Column("reason", String(300), nullable=False),
    info={"grain": "One row per change order to a contract.", "natural_key": ("change_order_number",)},
)

planned_spend = Table(
    "planned_spend",
    metadata,
    Column("planned_spend_id", Integer, primary_key=True),
    Column("contract_id", ForeignKey("contract.contract_id"), nullable=False),
    Column(
        "change_order_id",
        ForeignKey("change_order.change_order_id"),
        nullable=True,
        index=True,
        comment="Empty = the baseline plan; else the change order this spend belongs to",
    ),
    Column("month_date", Date, nullable=False, comment="First day of the month"),
    _enum("cost_category", COST_CATEGORIES, comment="Service fee or pass-through"),
    Column(
        "planned_amount",
        Money,
        nullable=False,
        comment="Spend planned in that month",
        info={"unit": "reporting currency"},
    ),
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
    Column(
        "precedes_milestone_id",
        ForeignKey("milestone.milestone_id"),
        nullable=True,
        comment="The milestone this one must come before (supply → clinical)",
    ),
    _count("lead_time_days", comment="Days needed between this milestone and the one it precedes"),
    UniqueConstraint("trial_id", "milestone_code"),
    info={
        "grain": "One row per contracted milestone of a trial.",
        "natural_key": ("protocol_number", "milestone_code"),
    },
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
