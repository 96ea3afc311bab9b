"""A trial's health (domain.md §7): enrollment against plan (or its forecast), budget (CPI) and schedule, worst of three."""

from __future__ import annotations

from datetime import date

import pandas as pd

from dashboard import metrics
from dashboard.health.milestones import milestone_statuses, worst_milestones
from dashboard.health.outlook import Outlook
from dashboard.settings import Settings

ACTIVE_STATUSES = ("startup", "enrolling", "follow_up")


def trial_health(
    summary: pd.DataFrame,
    evm: pd.DataFrame,
    milestones: pd.DataFrame,
    as_of: date,
    settings: Settings,
    outlooks: dict[str, Outlook] | None = None,
) -> pd.DataFrame:
    """One row per trial of `summary`: enrollment against plan, CPI/SPI, late milestones, the next one, and health.

    With `outlooks`, a trial whose forecast gives a probability of meeting the planned LPI takes its
    enrollment health from that probability (domain.md §7); the others from enrolled ÷ planned to date.
    """
    out = summary.copy()
    out["planned_to_date"] = [
        metrics.planned_to_date(prev, cur, as_of)
        for prev, cur in zip(out["n_planned_previous_month"], out["n_planned_current_month"])
    ]
    out["pct_to_target"] = [metrics.ratio(e, t) for e, t in zip(out["n_enrolled"], out["n_planned_subjects"])]
    out["pct_of_plan_to_date"] = [metrics.ratio(e, p) for e, p in zip(out["n_enrolled"], out["planned_to_date"])]
    out["enrollment_health"] = [
        metrics.enrollment_health(e, p, green=settings.enrollment_green, amber=settings.enrollment_amber)
        for e, p in zip(out["n_enrolled"], out["planned_to_date"])
    ]
    # The figure the enrollment colour follows (registry keys): the forecast's probability once there is one.
    out["enrollment_driver"] = "pct_of_plan_to_date"
    if outlooks:
        out["p_meet_plan"] = [getattr(outlooks.get(p), "p_meet_plan", None) for p in out["protocol_number"]]
        out["p_meet_plan"] = out["p_meet_plan"].astype("float64")
        # Not yet enrolling (no site open, nobody in) stays grey however confident the plan-based forecast is.
        enrolling = (out["n_sites_active"] > 0) | (out["n_enrolled"] > 0)
        by_forecast = enrolling & out["p_meet_plan"].notna()
        out["enrollment_health"] = [
            metrics.probability_health(q, green=settings.probability_green, amber=settings.probability_amber)
            if use
            else h
            for q, h, use in zip(out["p_meet_plan"], out["enrollment_health"], by_forecast)
        ]
        out.loc[by_forecast, "enrollment_driver"] = "p_meet_lpi_plan"

    budget = evm.set_index("protocol_number")
    figures = {protocol: metrics.earned_value(row.bac, row.pv, row.ev, row.ac) for protocol, row in budget.iterrows()}
    for field in ("bac", "ac", "ev", "pv", "cpi", "spi", "eac"):
        out[field] = [getattr(figures[p], field) if p in figures else None for p in out["protocol_number"]]
        out[field] = out[field].astype("float64")
    out["budget_health"] = [
        metrics.index_health(c, green=settings.index_green, amber=settings.index_amber) for c in out["cpi"]
    ]

    # Given milestone_statuses rows already (as queries.overview does), they are not worked out again.
    statuses = milestones if "rag" in milestones else milestone_statuses(milestones, as_of, settings)
    open_ = statuses[~statuses["is_done"]]
    late = open_[open_["status"] == "late"]
    # Grouped once (not filtered per trial): a portfolio of hundreds of trials has tens of thousands of milestones.
    counts = {
        "n_milestones_overdue": late[late["milestone_kind"] == "contract"],
        "n_stability_pulls_overdue": late[late["milestone_kind"] == "stability_pull"],
        "n_milestones_forecast_late": open_[(open_["status"] == "at_risk") & (open_["milestone_kind"] == "contract")],
    }
    for column, rows in counts.items():
        out[column] = pd.array(
            out["protocol_number"].map(rows.groupby("protocol_number").size()).fillna(0), dtype="Int64"
        )
    with_milestones = set(statuses["protocol_number"])
    setting = worst_milestones(statuses, as_of, settings).set_index("protocol_number")
    out["schedule_health"] = [
        "grey" if p not in with_milestones else setting.at[p, "rag"] if p in setting.index else "green"
        for p in out["protocol_number"]
    ]
    for column, source in (
        ("schedule_milestone", "milestone_name"),
        ("schedule_milestone_status", "status"),
        ("schedule_milestone_baseline_date", "baseline_date"),
        ("schedule_milestone_forecast_date", "forecast_date"),
        ("schedule_slip_days", "slip_days"),
    ):
        out[column] = out["protocol_number"].map(setting[source]) if not setting.empty else None
    out["schedule_slip_days"] = pd.array(out["schedule_slip_days"], dtype="Int64")
    for column in ("schedule_milestone_baseline_date", "schedule_milestone_forecast_date"):
        out[column] = pd.to_datetime(pd.Series(list(out[column]), index=out.index, dtype="object")).astype(
            "datetime64[ns]"
        )
    out["overall_health"] = [
        metrics.worst_health(e, b, s)
        for e, b, s in zip(out["enrollment_health"], out["budget_health"], out["schedule_health"])
    ]
    out["is_active"] = out["trial_status"].isin(ACTIVE_STATUSES)
    return out
