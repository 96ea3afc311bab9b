"""Trial health (domain.md §7) assembled from query frames: one function for pages and the digest alike."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd

from dashboard import metrics
from dashboard.settings import Settings

ACTIVE_STATUSES = ("startup", "enrolling", "follow_up")


def _date(value) -> date | None:
    return None if pd.isna(value) else pd.Timestamp(value).date()


def milestone_statuses(milestones: pd.DataFrame, as_of: date, settings: Settings) -> pd.DataFrame:
    """The milestones with slip_days, status, rag, is_done and due_date (actual if done, else forecast or baseline)."""
    out = milestones.copy()
    results = [
        metrics.milestone_status(
            _date(row.baseline_date),
            _date(row.forecast_date),
            _date(row.actual_date),
            as_of,
            amber_days=settings.milestone_amber_days,
            red_days=settings.milestone_red_days,
        )
        for row in out.itertuples(index=False)
    ]
    out["slip_days"] = pd.array([r.slip_days for r in results], dtype="Int64")
    out["status"] = [r.status for r in results]
    out["rag"] = [r.rag for r in results]
    out["is_done"] = out["actual_date"].notna()
    out["due_date"] = out["actual_date"].fillna(out["forecast_date"]).fillna(out["baseline_date"])
    return out


def trial_health(
    summary: pd.DataFrame, evm: pd.DataFrame, milestones: pd.DataFrame, as_of: date, settings: Settings
) -> pd.DataFrame:
    """One row per trial of `summary`: enrollment against plan, CPI/SPI, late milestones, the next one, and health."""
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

    budget = evm.set_index("protocol_number")
    figures = {
        protocol: metrics.earned_value(row.bac, row.pv, row.ev, row.ac) for protocol, row in budget.iterrows()
    }
    for field in ("bac", "ac", "ev", "pv", "cpi", "spi", "eac"):
        out[field] = [getattr(figures[p], field) if p in figures else None for p in out["protocol_number"]]
        out[field] = out[field].astype("float64")
    out["budget_health"] = [
        metrics.index_health(c, green=settings.index_green, amber=settings.index_amber) for c in out["cpi"]
    ]

    statuses = milestone_statuses(milestones, as_of, settings)
    horizon = pd.Timestamp(as_of + timedelta(days=settings.schedule_horizon_days))
    open_ = statuses[~statuses["is_done"] & (statuses["milestone_kind"] != "expiry")]
    relevant = open_[(open_["status"] == "late") | (open_["baseline_date"] <= horizon)]
    schedule, late, next_name, next_date, next_slip = [], [], [], [], []
    for protocol in out["protocol_number"]:
        mine = relevant[relevant["protocol_number"] == protocol]
        schedule.append(
            metrics.worst_health("green", *mine["rag"]) if protocol in set(statuses["protocol_number"]) else "grey"
        )
        late.append(int((open_[open_["protocol_number"] == protocol]["status"] == "late").sum()))
        upcoming = open_[(open_["protocol_number"] == protocol) & (open_["milestone_kind"] == "contract")]
        upcoming = upcoming.sort_values(["due_date", "lane", "sequence"])
        if upcoming.empty:
            next_name.append(None), next_date.append(pd.NaT), next_slip.append(None)
        else:
            first = upcoming.iloc[0]
            next_name.append(first["milestone_name"]), next_date.append(first["due_date"]), next_slip.append(first["slip_days"])
    out["schedule_health"] = schedule
    out["n_milestones_late"] = pd.array(late, dtype="Int64")
    out["next_milestone"] = next_name
    out["next_milestone_date"] = pd.to_datetime(pd.Series(next_date, index=out.index, dtype="object")).astype("datetime64[ns]")
    out["next_milestone_slip_days"] = pd.array(next_slip, dtype="Int64")
    out["overall_health"] = [
        metrics.worst_health(e, b, s)
        for e, b, s in zip(out["enrollment_health"], out["budget_health"], out["schedule_health"])
    ]
    out["is_active"] = out["trial_status"].isin(ACTIVE_STATUSES)
    return out
