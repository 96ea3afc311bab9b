"""Vendor milestone queries: each milestone with its dates as known on the scope's as-of date (domain.md §6)."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import Connection, and_, case, func, select

from dashboard.access import Scope
from dashboard.schema import milestone, milestone_forecast, trial, vendor
from queries.common import frame, scoped_trial_ids


def milestones(conn: Connection, scope: Scope) -> pd.DataFrame:
    """One row per milestone in scope: baseline, the forecast last recorded ≤ as_of, the actual if ≤ as_of."""
    as_of = scope.as_of
    latest = (
        select(milestone_forecast.c.milestone_id, func.max(milestone_forecast.c.recorded_date).label("recorded_date"))
        .where(milestone_forecast.c.recorded_date <= as_of)
        .group_by(milestone_forecast.c.milestone_id)
        .subquery("latest")
    )
    forecast = (
        select(milestone_forecast.c.milestone_id, milestone_forecast.c.forecast_date, milestone_forecast.c.recorded_date)
        .join(
            latest,
            and_(
                latest.c.milestone_id == milestone_forecast.c.milestone_id,
                latest.c.recorded_date == milestone_forecast.c.recorded_date,
            ),
        )
        .subquery("forecast")
    )
    precedes = milestone.alias("precedes")
    query = (
        select(
            trial.c.protocol_number,
            vendor.c.vendor_code,
            vendor.c.vendor_name,
            vendor.c.vendor_kind,
            milestone.c.lane,
            milestone.c.milestone_code,
            milestone.c.milestone_name,
            milestone.c.milestone_kind,
            milestone.c.sequence,
            milestone.c.is_key,
            milestone.c.baseline_date,
            forecast.c.forecast_date,
            forecast.c.recorded_date.label("forecast_recorded_date"),
            case((milestone.c.actual_date <= as_of, milestone.c.actual_date), else_=None).label("actual_date"),
            milestone.c.payment_amount,
            precedes.c.milestone_code.label("precedes_code"),
            milestone.c.lead_time_days,
        )
        .select_from(
            milestone.join(trial, trial.c.trial_id == milestone.c.trial_id)
            .join(vendor, vendor.c.vendor_id == milestone.c.vendor_id)
            .outerjoin(forecast, forecast.c.milestone_id == milestone.c.milestone_id)
            .outerjoin(precedes, precedes.c.milestone_id == milestone.c.precedes_milestone_id)
        )
        .where(milestone.c.trial_id.in_(scoped_trial_ids(scope)))
        .order_by(trial.c.protocol_number, milestone.c.lane, milestone.c.sequence)
    )
    return frame(
        conn,
        query,
        {
            "sequence": "int",
            "is_key": "bool",
            "baseline_date": "date",
            "forecast_date": "date",
            "forecast_recorded_date": "date",
            "actual_date": "date",
            "payment_amount": "float",
            "lead_time_days": "int",
        },
    )


QUERIES = [milestones]
