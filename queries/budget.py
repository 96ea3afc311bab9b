"""Budget queries: earned value from delivered work, per contract and per trial (domain.md §5)."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import Connection, Select, and_, case, func, or_, select

from dashboard.access import Scope
from dashboard.schema import (
    actual_cost,
    change_order,
    contract,
    milestone,
    planned_spend,
    site,
    subject,
    trial,
    unit_price,
    vendor,
    visit,
)
from queries.common import frame, scoped_trial_ids

EVM_DTYPES = {"bac": "float", "pv": "float", "ev": "float", "ac": "float"}


def _contract_evm(scope: Scope, *, whole_portfolio: bool = False) -> Select:
    """One row per contract in scope: BAC, PV, EV and AC as of the scope's date."""
    as_of = scope.as_of
    trials = scoped_trial_ids(scope, whole_portfolio=whole_portfolio)
    approved = and_(change_order.c.approved_date.is_not(None), change_order.c.approved_date <= as_of)

    changes = (
        select(change_order.c.contract_id, func.sum(change_order.c.change_amount).label("amount"))
        .where(approved)
        .group_by(change_order.c.contract_id)
        .subquery("changes")
    )
    planned = (
        select(planned_spend.c.contract_id, func.sum(planned_spend.c.planned_amount).label("amount"))
        .select_from(planned_spend.outerjoin(change_order, change_order.c.change_order_id == planned_spend.c.change_order_id))
        .where(planned_spend.c.month_date <= as_of, or_(planned_spend.c.change_order_id.is_(None), approved))
        .group_by(planned_spend.c.contract_id)
        .subquery("planned")
    )
    actual = (
        select(actual_cost.c.contract_id, func.sum(actual_cost.c.invoiced_amount + actual_cost.c.accrued_amount).label("amount"))
        .where(actual_cost.c.month_date <= as_of)
        .group_by(actual_cost.c.contract_id)
        .subquery("actual")
    )
    # Delivered units per trial, counted from the operational tables.
    sites_activated = (
        select(site.c.trial_id, func.count().label("n"))
        .where(site.c.trial_id.in_(trials), site.c.activated_date <= as_of)
        .group_by(site.c.trial_id)
        .subquery("sites_activated")
    )
    subjects_enrolled = (
        select(subject.c.trial_id, func.count().label("n"))
        .where(subject.c.trial_id.in_(trials), subject.c.enrolled_date <= as_of)
        .group_by(subject.c.trial_id)
        .subquery("subjects_enrolled")
    )
    visits_done = (
        select(visit.c.trial_id, func.count().label("n"))
        .where(visit.c.trial_id.in_(trials), visit.c.visit_date <= as_of)
        .group_by(visit.c.trial_id)
        .subquery("visits_done")
    )
    units = case(
        (unit_price.c.unit_type == "site_activated", func.coalesce(sites_activated.c.n, 0)),
        (unit_price.c.unit_type == "subject_enrolled", func.coalesce(subjects_enrolled.c.n, 0)),
        (unit_price.c.unit_type == "visit_done", func.coalesce(visits_done.c.n, 0)),
        else_=0,
    )
    unit_earned = (
        select(unit_price.c.contract_id, func.sum(units * unit_price.c.unit_price_amount).label("amount"))
        .select_from(
            unit_price.join(contract, contract.c.contract_id == unit_price.c.contract_id)
            .outerjoin(sites_activated, sites_activated.c.trial_id == contract.c.trial_id)
            .outerjoin(subjects_enrolled, subjects_enrolled.c.trial_id == contract.c.trial_id)
            .outerjoin(visits_done, visits_done.c.trial_id == contract.c.trial_id)
        )
        .where(contract.c.trial_id.in_(trials))
        .group_by(unit_price.c.contract_id)
        .subquery("unit_earned")
    )
    milestone_earned = (
        select(contract.c.contract_id, func.sum(milestone.c.payment_amount).label("amount"))
        .select_from(
            milestone.join(
                contract, and_(contract.c.trial_id == milestone.c.trial_id, contract.c.vendor_id == milestone.c.vendor_id)
            )
        )
        .where(milestone.c.trial_id.in_(trials), milestone.c.actual_date <= as_of)
        .group_by(contract.c.contract_id)
        .subquery("milestone_earned")
    )
    return (
        select(
            contract.c.contract_id,
            contract.c.trial_id,
            trial.c.protocol_number,
            vendor.c.vendor_code,
            vendor.c.vendor_name,
            vendor.c.vendor_kind,
            (contract.c.contracted_amount + func.coalesce(changes.c.amount, 0)).label("bac"),
            func.coalesce(planned.c.amount, 0).label("pv"),
            (func.coalesce(unit_earned.c.amount, 0) + func.coalesce(milestone_earned.c.amount, 0)).label("ev"),
            func.coalesce(actual.c.amount, 0).label("ac"),
        )
        .select_from(
            contract.join(trial, trial.c.trial_id == contract.c.trial_id)
            .join(vendor, vendor.c.vendor_id == contract.c.vendor_id)
            .outerjoin(changes, changes.c.contract_id == contract.c.contract_id)
            .outerjoin(planned, planned.c.contract_id == contract.c.contract_id)
            .outerjoin(actual, actual.c.contract_id == contract.c.contract_id)
            .outerjoin(unit_earned, unit_earned.c.contract_id == contract.c.contract_id)
            .outerjoin(milestone_earned, milestone_earned.c.contract_id == contract.c.contract_id)
        )
        .where(contract.c.trial_id.in_(trials), contract.c.signed_date <= as_of)
    )


def evm_by_contract(conn: Connection, scope: Scope) -> pd.DataFrame:
    """One row per contract (trial × vendor) in scope: BAC, PV, EV, AC as of the scope's date."""
    query = _contract_evm(scope).order_by(trial.c.protocol_number, vendor.c.vendor_code)
    df = frame(conn, query, EVM_DTYPES)
    return df.drop(columns=["contract_id", "trial_id"])


def evm_by_trial(conn: Connection, scope: Scope) -> pd.DataFrame:
    """One row per trial in scope with a signed contract: BAC, PV, EV, AC summed over its contracts."""
    per_contract = _contract_evm(scope).subquery("per_contract")
    query = (
        select(
            per_contract.c.protocol_number,
            func.sum(per_contract.c.bac).label("bac"),
            func.sum(per_contract.c.pv).label("pv"),
            func.sum(per_contract.c.ev).label("ev"),
            func.sum(per_contract.c.ac).label("ac"),
        )
        .group_by(per_contract.c.protocol_number)
        .order_by(per_contract.c.protocol_number)
    )
    return frame(conn, query, EVM_DTYPES)


QUERIES = [evm_by_contract, evm_by_trial]
