"""Budget queries: planned, earned and actual value from delivered work, per contract, trial, category and month (domain.md §5).

Earned value is counted from the operational tables — sites activated, subjects enrolled, visits done,
milestones achieved, each up to as_of — times the contracted unit prices; never read from a typed column.
All figures come from one set of monthly events (`_events`), so totals and curves always agree.
"""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
from sqlalchemy import Connection, Numeric, Select, and_, case, cast, func, literal, or_, select, union_all

from dashboard.access import Scope
from dashboard.metrics import share_of_month
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
)
from queries import rollups, vendors
from queries.common import frame, month_start, scoped_trial_ids

EVM_DTYPES = {"bac": "float", "pv": "float", "ev": "float", "ac": "float"}


def _events(scope: Scope) -> Select:
    """Money events per contract × month × cost category: planned (pv), earned (ev), actual (ac)."""
    as_of = scope.as_of
    contracts = select(contract.c.contract_id).where(
        contract.c.trial_id.in_(scoped_trial_ids(scope)), contract.c.signed_date <= as_of
    )
    zero = literal(0.0)
    approved = and_(change_order.c.approved_date.is_not(None), change_order.c.approved_date <= as_of)
    planned = (
        select(
            planned_spend.c.contract_id,
            planned_spend.c.month_date,
            planned_spend.c.cost_category,
            planned_spend.c.planned_amount.label("pv"),
            zero.label("ev"),
            zero.label("ac"),
        )
        .select_from(
            planned_spend.outerjoin(change_order, change_order.c.change_order_id == planned_spend.c.change_order_id)
        )
        .where(planned_spend.c.contract_id.in_(contracts), or_(planned_spend.c.change_order_id.is_(None), approved))
    )
    # A month's cost accrues by day within the month, as the plan does: the cost to the date.
    actual = select(
        actual_cost.c.contract_id,
        actual_cost.c.month_date,
        actual_cost.c.cost_category,
        zero.label("pv"),
        zero.label("ev"),
        _accrued(actual_cost.c.invoiced_amount + actual_cost.c.accrued_amount, actual_cost.c.month_date, as_of).label(
            "ac"
        ),
    ).where(actual_cost.c.contract_id.in_(contracts), actual_cost.c.month_date <= as_of)

    def earned(unit_type: str, units):
        """Units of one type delivered per trial and month (`units`), times each contract's price for them."""
        return (
            select(
                unit_price.c.contract_id,
                units.c.month_date,
                unit_price.c.cost_category,
                zero.label("pv"),
                func.sum(unit_price.c.unit_price_amount * units.c.n_units).label("ev"),
                zero.label("ac"),
            )
            .select_from(
                unit_price.join(contract, contract.c.contract_id == unit_price.c.contract_id).join(
                    units, units.c.trial_id == contract.c.trial_id
                )
            )
            # The units are the scoped trials' already; a contract_id IN (…) here made SQLite re-read that list per row.
            .where(contract.c.signed_date <= as_of, unit_price.c.unit_type == unit_type)
            .group_by(unit_price.c.contract_id, units.c.month_date, unit_price.c.cost_category)
        )

    def monthly_units(fact, fact_date, name: str):
        """Rows of `fact` dated up to as_of, counted per trial and month."""
        month = month_start(fact_date)
        return (
            select(fact.c.trial_id, month.label("month_date"), func.count().label("n_units"))
            .where(fact.c.trial_id.in_(scoped_trial_ids(scope)), fact_date <= as_of)
            .group_by(fact.c.trial_id, month)
            .subquery(name)
        )

    # Visits come from the site × month roll-up (millions of rows in a large portfolio).
    visits = rollups.upto({"n_visits": as_of}, scoped_trial_ids(scope), by="month", name="visit_months")
    visits_done = select(visits.c.trial_id, visits.c.month_date, visits.c.n_visits.label("n_units")).subquery(
        "visits_done"
    )

    # A milestone's fee is earned when it is done, as every page counts it done (the LPI by the enrollment data too).
    done_by = vendors.reached(scope)
    done_on = vendors.actual_on(as_of, done_by)
    fees = (
        select(
            contract.c.contract_id,
            month_start(done_on).label("month_date"),
            literal("service_fee").label("cost_category"),
            zero.label("pv"),
            milestone.c.payment_amount.label("ev"),
            zero.label("ac"),
        )
        .select_from(
            milestone.join(
                contract,
                and_(contract.c.trial_id == milestone.c.trial_id, contract.c.vendor_id == milestone.c.vendor_id),
            ).outerjoin(done_by, done_by.c.trial_id == milestone.c.trial_id)
        )
        .where(contract.c.contract_id.in_(contracts), done_on.is_not(None))
    )
    return union_all(
        planned,
        actual,
        earned("site_activated", monthly_units(site, site.c.activated_date, "sites_activated")),
        earned("subject_enrolled", monthly_units(subject, subject.c.enrolled_date, "subjects_enrolled")),
        earned("visit_done", visits_done),
        fees,
    )


def _bac(scope: Scope):
    """BAC per contract: contracted value + change orders approved by as_of."""
    changes = (
        select(change_order.c.contract_id, func.sum(change_order.c.change_amount).label("amount"))
        .where(change_order.c.approved_date <= scope.as_of)
        .group_by(change_order.c.contract_id)
        .subquery("changes")
    )
    return (
        select(contract.c.contract_id, (contract.c.contracted_amount + func.coalesce(changes.c.amount, 0)).label("bac"))
        .select_from(contract.outerjoin(changes, changes.c.contract_id == contract.c.contract_id))
        .where(contract.c.trial_id.in_(scoped_trial_ids(scope)), contract.c.signed_date <= scope.as_of)
        .subquery("bac")
    )


def _accrued(amount, month_date, as_of):
    """How much of a month's `amount` (planned or actual, dated the first of its month) has accrued by as_of: all of
    it for a month before as_of's, the share of as_of's own month passed by then, none after (domain.md §5: "to the
    date", so PV, AC, CPI and SPI do not jump on the 1st of a month).

    The share is exact decimal arithmetic rounded to cents, so SQLite and PostgreSQL give the same amounts.
    """
    first = as_of.replace(day=1)
    share = literal(Decimal(share_of_month(as_of)).quantize(Decimal("1e-12")), Numeric(14, 12))
    return case(
        (month_date < first, amount),
        (month_date == first, func.round(cast(amount, Numeric(14, 2)) * share, 2)),
        else_=0,
    )


def _pv_to_date(events, as_of):
    """The sum of planned value accrued by as_of (the events hold the whole plan, future months included)."""
    return func.sum(_accrued(events.c.pv, events.c.month_date, as_of))


def _to_date(scope: Scope):
    """Per contract: PV, EV and AC to date."""
    events = _events(scope).subquery("events")
    return (
        select(
            events.c.contract_id,
            _pv_to_date(events, scope.as_of).label("pv"),
            func.sum(events.c.ev).label("ev"),
            func.sum(events.c.ac).label("ac"),
        )
        .group_by(events.c.contract_id)
        .subquery("to_date")
    )


def evm_by_contract(conn: Connection, scope: Scope) -> pd.DataFrame:
    """One row per contract (trial × vendor) in scope: BAC, PV, EV, AC as of the scope's date."""
    bac, to_date = _bac(scope), _to_date(scope)
    query = (
        select(
            trial.c.protocol_number,
            vendor.c.vendor_code,
            vendor.c.vendor_name,
            vendor.c.vendor_kind,
            contract.c.contract_number,
            contract.c.planned_end_date,
            bac.c.bac,
            func.coalesce(to_date.c.pv, 0).label("pv"),
            func.coalesce(to_date.c.ev, 0).label("ev"),
            func.coalesce(to_date.c.ac, 0).label("ac"),
        )
        .select_from(
            bac.join(contract, contract.c.contract_id == bac.c.contract_id)
            .join(trial, trial.c.trial_id == contract.c.trial_id)
            .join(vendor, vendor.c.vendor_id == contract.c.vendor_id)
            .outerjoin(to_date, to_date.c.contract_id == bac.c.contract_id)
        )
        .order_by(trial.c.protocol_number, vendor.c.vendor_code)
    )
    return frame(conn, query, {**EVM_DTYPES, "planned_end_date": "date"})


def evm_by_trial(conn: Connection, scope: Scope) -> pd.DataFrame:
    """One row per trial in scope with a signed contract: BAC, PV, EV, AC summed over its contracts."""
    bac, to_date = _bac(scope), _to_date(scope)
    query = (
        select(
            trial.c.protocol_number,
            func.sum(bac.c.bac).label("bac"),
            func.sum(func.coalesce(to_date.c.pv, 0)).label("pv"),
            func.sum(func.coalesce(to_date.c.ev, 0)).label("ev"),
            func.sum(func.coalesce(to_date.c.ac, 0)).label("ac"),
            func.max(contract.c.planned_end_date).label("planned_end_date"),
        )
        .select_from(
            bac.join(contract, contract.c.contract_id == bac.c.contract_id)
            .join(trial, trial.c.trial_id == contract.c.trial_id)
            .outerjoin(to_date, to_date.c.contract_id == bac.c.contract_id)
        )
        .group_by(trial.c.protocol_number)
        .order_by(trial.c.protocol_number)
    )
    return frame(conn, query, {**EVM_DTYPES, "planned_end_date": "date"})


def evm_by_category(conn: Connection, scope: Scope) -> pd.DataFrame:
    """One row per cost category (service fee, pass-through): the whole approved plan as its budget, and PV, EV, AC to date."""
    events = _events(scope).subquery("events")
    query = (
        select(
            events.c.cost_category,
            func.sum(events.c.pv).label("bac"),
            _pv_to_date(events, scope.as_of).label("pv"),
            func.sum(events.c.ev).label("ev"),
            func.sum(events.c.ac).label("ac"),
        )
        .group_by(events.c.cost_category)
        .order_by(events.c.cost_category)
    )
    return frame(conn, query, EVM_DTYPES)


MONTHLY_DTYPES = {
    "month_date": "date",
    **{n: "float" for n in ("pv", "ev", "ac", "pv_cumulative", "ev_cumulative", "ac_cumulative")},
}


def monthly(conn: Connection, scope: Scope) -> pd.DataFrame:
    """One row per month of the scope's budgets: PV, EV, AC in the month and cumulative (EV and AC stop at as_of)."""
    events = _events(scope).subquery("events")
    per_month = (
        select(
            events.c.month_date,
            func.sum(events.c.pv).label("pv"),
            func.sum(events.c.ev).label("ev"),
            func.sum(events.c.ac).label("ac"),
        )
        .group_by(events.c.month_date)
        .subquery("per_month")
    )
    amounts = [per_month.c.pv, per_month.c.ev, per_month.c.ac]
    running = [
        func.sum(amount).over(order_by=per_month.c.month_date, rows=(None, 0)).label(f"{amount.name}_cumulative")
        for amount in amounts
    ]
    query = select(per_month.c.month_date, *amounts, *running).order_by(per_month.c.month_date)
    return frame(conn, query, MONTHLY_DTYPES)


def change_orders(conn: Connection, scope: Scope) -> pd.DataFrame:
    """One row per change order requested by as_of on a contract in scope, with its status on that date."""
    as_of = scope.as_of
    status = case(
        (change_order.c.approved_date <= as_of, "approved"),
        (change_order.c.change_order_status == "rejected", "rejected"),
        else_="proposed",
    )
    query = (
        select(
            trial.c.protocol_number,
            vendor.c.vendor_name,
            change_order.c.change_order_number,
            change_order.c.requested_date,
            case((change_order.c.approved_date <= as_of, change_order.c.approved_date)).label("approved_date"),
            status.label("change_order_status"),
            change_order.c.change_amount,
            change_order.c.reason,
        )
        .select_from(
            change_order.join(contract, contract.c.contract_id == change_order.c.contract_id)
            .join(trial, trial.c.trial_id == contract.c.trial_id)
            .join(vendor, vendor.c.vendor_id == contract.c.vendor_id)
        )
        .where(contract.c.trial_id.in_(scoped_trial_ids(scope)), change_order.c.requested_date <= as_of)
        .order_by(change_order.c.requested_date, change_order.c.change_order_number)
    )
    return frame(conn, query, {"requested_date": "date", "approved_date": "date", "change_amount": "float"})


def invoiced_vs_accrued(conn: Connection, scope: Scope) -> pd.DataFrame:
    """One row per month up to as_of: cost invoiced and cost accrued but not yet invoiced, over the scope's contracts."""
    query = (
        select(
            actual_cost.c.month_date,
            func.sum(actual_cost.c.invoiced_amount).label("invoiced"),
            func.sum(actual_cost.c.accrued_amount).label("accrued"),
        )
        .select_from(actual_cost.join(contract, contract.c.contract_id == actual_cost.c.contract_id))
        .where(contract.c.trial_id.in_(scoped_trial_ids(scope)), actual_cost.c.month_date <= scope.as_of)
        .group_by(actual_cost.c.month_date)
        .order_by(actual_cost.c.month_date)
    )
    return frame(conn, query, {"month_date": "date", "invoiced": "float", "accrued": "float"})


QUERIES = [
    evm_by_contract,
    evm_by_trial,
    evm_by_category,
    monthly,
    change_orders,
    invoiced_vs_accrued,
]
