"""Milestone health (domain.md §6): each milestone's slip, status and colour, the ones that set a trial's schedule
health, supply risks, and planned dates."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd

from dashboard import metrics
from dashboard.settings import Settings


def to_date(value) -> date | None:
    """A frame's date cell as a date; None when it is missing."""
    return None if value is None or pd.isna(value) else pd.Timestamp(value).date()


def milestone_statuses(milestones: pd.DataFrame, as_of: date, settings: Settings) -> pd.DataFrame:
    """The milestones with slip_days, status, rag, is_done, due_date (actual if done, else forecast or baseline) and
    expected (when it is expected, in words: expected_column)."""
    out = milestones.copy()
    slip, status, rag = metrics.milestone_status_columns(
        out["baseline_date"],
        out["forecast_date"],
        out["actual_date"],
        as_of,
        amber_days=settings.milestone_amber_days,
        red_days=settings.milestone_red_days,
    )
    if "milestone_kind" in out.columns and (expiry := (out["milestone_kind"] == "expiry").to_numpy()).any():
        # An expiry or re-test date moved later is good news: its own status, read the other way round.
        e_slip, e_status, e_rag = metrics.expiry_status_columns(
            out["baseline_date"][expiry],
            out["forecast_date"][expiry],
            out["actual_date"][expiry],
            as_of,
            amber_days=settings.milestone_amber_days,
            red_days=settings.milestone_red_days,
        )
        slip, status, rag = slip.copy(), status.copy(), rag.copy()
        slip[expiry], status[expiry], rag[expiry] = e_slip, e_status, e_rag
    out["slip_days"] = pd.array(slip, dtype="Int64")
    out["status"] = status
    out["rag"] = rag
    out["is_done"] = out["actual_date"].notna()
    out["due_date"] = out["actual_date"].fillna(out["forecast_date"]).fillna(out["baseline_date"])
    out["expected"] = expected_column(out, as_of)
    return out


def most_slipped_trials(statuses: pd.DataFrame, n: int) -> list[str]:
    """The `n` trials of `statuses` (milestone_statuses rows) whose open milestones are in the worst state.

    Worst rag of an open milestone first (red, amber, green; a trial with none open last), then the largest slip,
    then the protocol number: the order a reader triaging a long portfolio wants.
    """
    open_ = statuses[~statuses["is_done"].astype(bool)]
    ranked = (
        pd.DataFrame(
            {
                "protocol_number": open_["protocol_number"],
                "order": open_["rag"].map(metrics.HEALTH_ORDER).astype("float64"),
                "slip": open_["slip_days"].astype("float64"),
            }
        )
        .groupby("protocol_number")
        .max()
    )
    every = pd.Index(statuses["protocol_number"].unique(), name="protocol_number")
    trials = ranked.reindex(every).astype("float64").fillna({"order": -1.0, "slip": float("-inf")}).reset_index()
    return list(
        trials.sort_values(["order", "slip", "protocol_number"], ascending=[False, False, True])[
            "protocol_number"
        ].head(n)
    )


def schedule_milestones(statuses: pd.DataFrame, as_of: date, settings: Settings) -> pd.DataFrame:
    """The milestones (of milestone_statuses) schedule health is taken from: open, not an expiry date, late or due within the horizon."""
    horizon = pd.Timestamp(as_of + timedelta(days=settings.schedule_horizon_days))
    open_ = statuses[~statuses["is_done"] & (statuses["milestone_kind"] != "expiry")]
    return open_[(open_["status"] == "late") | (open_["baseline_date"] <= horizon)]


def worst_milestones(statuses: pd.DataFrame, as_of: date, settings: Settings) -> pd.DataFrame:
    """One row per trial with schedule milestones: the one that sets its schedule health (the worst rag, then the
    largest slip, then the earliest due), from milestone_statuses rows."""
    relevant = schedule_milestones(statuses, as_of, settings)
    ranked = relevant.assign(
        _rank=relevant["rag"].map(metrics.HEALTH_ORDER), _slip=relevant["slip_days"].astype("float64")
    )
    ranked = ranked.sort_values(["protocol_number", "_rank", "_slip", "due_date"], ascending=[True, False, False, True])
    return ranked.drop_duplicates("protocol_number").drop(columns=["_rank", "_slip"])


def expected_column(statuses: pd.DataFrame, as_of: date) -> pd.Series:
    """When each milestone (milestone_statuses rows) is expected, in words: its actual when done ("done on …", "by the
    enrollment data" when that is where it comes from), "overdue since <baseline>" when overdue (or its forecast, if
    that is still to come), else its forecast or baseline. Never a past date presented as the expectation."""

    def day(column: str) -> pd.Series:
        return pd.to_datetime(statuses[column]).dt.strftime("%d %b %Y")

    actual, forecast, baseline = day("actual_date"), day("forecast_date"), day("baseline_date")
    done = statuses["actual_date"].notna()
    source = (
        statuses["actual_source"]
        if "actual_source" in statuses
        else pd.Series(None, index=statuses.index, dtype=object)
    )
    late = statuses["status"] == "late"
    coming = pd.to_datetime(statuses["forecast_date"]) > pd.Timestamp(as_of)
    out = forecast.where(statuses["forecast_date"].notna(), baseline)
    out = out.where(~late, ("overdue since " + baseline).where(~coming, forecast + " (overdue since " + baseline + ")"))
    by_enrollment = (source == "enrollment").fillna(False).astype(bool)
    return out.where(
        ~done, ("done on " + actual).where(~by_enrollment, "done on " + actual + " by the enrollment data")
    )


def supply_risks(links: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    """The supply links (vendors.supply_links rows) with margin_days, conflict_days and risk (a key of
    metrics.SUPPLY_RISK_LABEL), worst margin first: domain.md §6."""
    margins = [
        metrics.supply_margin(s.date(), c.date(), lead, near_miss_days=settings.supply_near_miss_days)
        for s, c, lead in zip(links["supply_date"], links["clinical_date"], links["lead_time_days"])
    ]
    out = links.assign(
        margin_days=pd.array([m.margin_days for m in margins], dtype="Int64"),
        conflict_days=pd.array([m.conflict_days for m in margins], dtype="Int64"),
        risk=pd.Series([m.kind for m in margins], index=links.index, dtype="object"),
    )
    return out.sort_values(["margin_days", "protocol_number"], kind="stable")


def open_supply_risks(risks: pd.DataFrame) -> pd.DataFrame:
    """The supply risks that still matter: conflicts and near misses whose clinical milestone is not done yet."""
    return risks[~risks["is_clinical_done"] & (risks["risk"] != "clear")]


def planned_dates(milestones: pd.DataFrame, code: str) -> dict[str, date]:
    """Each trial's baseline date of the milestone `code` (the plan's dates are the milestones' baselines)."""
    rows = milestones[milestones["milestone_code"] == code]
    return {p: to_date(d) for p, d in zip(rows["protocol_number"], rows["baseline_date"]) if not pd.isna(d)}
