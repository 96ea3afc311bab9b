"""The digest's milestones: which slipped, are overdue, due soon or were achieved in the period, and their tables
(supply risk first)."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd

from dashboard import registry
from dashboard.digest.document import Cell, Chip, Link, Table
from dashboard.digest.model import DUE_SOON_DAYS, Digest
from dashboard.digest.phrases import capped, joined, period, plural_text, trial_link
from dashboard.formats import day as _day
from dashboard.metrics import MILESTONE_STATUS_LABEL, SUPPLY_RISK_LABEL


def _is_open(m: pd.DataFrame) -> pd.Series:
    return ~m["is_done"] & (m["milestone_kind"] != "expiry")


def slipped_forecasts(d: Digest) -> pd.DataFrame:
    c = d.changes
    return c[(c["days_moved"] > 0) & (c["milestone_kind"] == "contract")]


def overdue_milestones(d: Digest, kind: str = "contract") -> pd.DataFrame:
    """Open milestones of `kind` past their baseline (the registry's milestones_overdue, or stability pulls), new first."""
    m = d.milestones
    late = m[_is_open(m) & (m["status"] == "late") & (m["milestone_kind"] == kind)]
    return late.assign(_new=late["status_then"] == "late").sort_values(
        ["_new", "slip_days", "protocol_number"], ascending=[True, False, True]
    )


def milestones_due_soon(d: Digest) -> pd.DataFrame:
    m = d.milestones
    horizon = pd.Timestamp(d.as_of + timedelta(days=DUE_SOON_DAYS))
    due = m[_is_open(m) & (m["milestone_kind"] == "contract") & (m["status"] != "late")]
    return due[due["due_date"] <= horizon].sort_values(["due_date", "protocol_number"])


def milestones_achieved(d: Digest) -> pd.DataFrame:
    m = d.milestones
    done = m[m["is_done"] & (m["actual_date"] > pd.Timestamp(d.since)) & (m["milestone_kind"] == "contract")]
    return done.sort_values(["actual_date", "protocol_number"])


def _milestone_cell(r) -> Cell:
    return Cell([r.milestone_name], note=r.vendor_name)


def _slip_chip(r) -> Chip:
    return Chip(r.rag, f"{int(r.slip_days):+d} d")


def milestone_blocks(d: Digest) -> list:
    blocks: list = []
    if not d.supply.empty:
        blocks += capped(
            d,
            "Supply risk: investigational product needed before a clinical milestone can happen:",
            Table(
                ["Trial", "Supply milestone", "Expected", "Needed for", "Margin"],
                [
                    [
                        Cell([trial_link(d, r.protocol_number, "vendors")]),
                        Cell([r.supply_name], note=r.supply_vendor_name),
                        Cell([_day(r.supply_date)], note="done" if r.is_supply_done else "forecast"),
                        Cell([r.clinical_name], note=f"{_day(r.clinical_date)} · {r.lead_time_days} d lead time"),
                        Cell(
                            [
                                Chip(
                                    "red" if r.risk == "conflict" else "amber",
                                    f"{SUPPLY_RISK_LABEL[r.risk]} {r.margin_days:+d} d",
                                )
                            ]
                        ),
                    ]
                    for r in d.supply.itertuples(index=False)
                ],
            ),
            "vendors",
        )
    slipped = slipped_forecasts(d)
    if slipped.empty:
        blocks.append([f"No contracted milestone's forecast slipped {period(d)}."])
    else:
        blocks += capped(
            d,
            f"Forecasts that slipped {period(d)}:",
            Table(
                ["Trial", "Milestone", "Forecast", "Moved", "Slip"],
                [
                    [
                        Cell([trial_link(d, r.protocol_number, "vendors")]),
                        _milestone_cell(r),
                        Cell([_day(r.new_forecast_date)], note=f"was {_day(r.old_forecast_date)}"),
                        Cell([f"{int(r.days_moved):+d} d"]),
                        Cell([_slip_chip(r)], note=f"baseline {_day(r.baseline_date)}"),
                    ]
                    for r in slipped.itertuples(index=False)
                ],
                numeric=(3,),
            ),
            "vendors",
        )
    other_moves = d.changes[(d.changes["days_moved"] > 0) & (d.changes["milestone_kind"] == "stability_pull")]
    if not other_moves.empty:
        blocks.append([f"Also moved later: {plural_text(len(other_moves), 'stability pull')}."])
    late = overdue_milestones(d)
    if late.empty:
        blocks.append(["No contract milestone is overdue."])
    else:
        new = int((late["status_then"] != "late").sum())
        blocks += capped(
            d,
            f"{registry.FIGURES['milestones_overdue'].label}: {len(late):,} ({new or 'none'} new {period(d)}):",
            Table(
                ["Trial", "Milestone", "Baseline", "Expected", "Slip"],
                [
                    [
                        Cell(
                            [trial_link(d, r.protocol_number, "vendors")],
                            note="new" if r.status_then != "late" else None,
                        ),
                        _milestone_cell(r),
                        Cell([_day(r.baseline_date)]),
                        Cell([text]),
                        Cell([_slip_chip(r)]),
                    ]
                    for r, text in zip(late.itertuples(index=False), late["expected"])
                ],
            ),
            "vendors",
        )
    pulls = overdue_milestones(d, "stability_pull")
    if not pulls.empty:
        blocks.append(
            [
                f"Also overdue: {plural_text(len(pulls), 'stability pull')} (",
                Link("see the Vendors page", d.link("vendors")),
                f", {registry.FIGURES['stability_pulls_overdue'].label.lower()}).",
            ]
        )
    due = milestones_due_soon(d)
    if due.empty:
        blocks.append([f"No contracted milestone is due in the next {DUE_SOON_DAYS} days."])
    else:
        blocks += capped(
            d,
            f"Due in the next {DUE_SOON_DAYS} days:",
            Table(
                ["Trial", "Milestone", "Baseline", "Expected", "Status"],
                [
                    [
                        Cell([trial_link(d, r.protocol_number, "vendors")]),
                        _milestone_cell(r),
                        Cell([_day(r.baseline_date)]),
                        Cell([_day(r.due_date)]),
                        Cell(
                            [
                                Chip(
                                    r.rag,
                                    MILESTONE_STATUS_LABEL[r.status]
                                    + (f" {int(r.slip_days):+d} d" if r.slip_days else ""),
                                )
                            ]
                        ),
                    ]
                    for r in due.itertuples(index=False)
                ],
            ),
            "vendors",
        )
    done = milestones_achieved(d)
    if not done.empty:
        blocks.append(
            [f"Achieved {period(d)}: "]
            + joined(
                [
                    [
                        trial_link(d, r.protocol_number, "vendors"),
                        f" {r.milestone_name} on {_day(r.actual_date)} ({MILESTONE_STATUS_LABEL[r.status].lower()})",
                    ]
                    for r in done.itertuples(index=False)
                ],
                "; ",
            )
            + ["."]
        )
    return blocks
