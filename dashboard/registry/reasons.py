"""Why a trial has its colour (the figure behind each red or amber dimension) and how bad it is (worst first)."""

from __future__ import annotations

from dataclasses import dataclass

from dashboard import health
from dashboard.metrics import HEALTH_ORDER, Health
from dashboard.registry.computations import qtl_breaches
from dashboard.registry.evaluate import evaluate
from dashboard.registry.model import Basis

# --- Why a trial has its colour, and how bad it is -------------------------------------------------

DIMENSIONS = ("enrollment", "budget", "schedule")


def drivers(b: Basis) -> dict[str, str]:
    """For a one-trial basis: dimension → the key of the figure that sets its colour (health.trial_health says which
    one the enrollment colour followed: the chance of LPI by plan once the trial enrolls and has a forecast, else % of plan)."""
    row = b.trial_row()
    enrollment = row["enrollment_driver"] if row is not None and "enrollment_driver" in row else "pct_of_plan_to_date"
    return {"enrollment": enrollment, "budget": "cpi", "schedule": "schedule_slip"}


@dataclass(frozen=True)
class Reason:
    """A figure that makes a trial red or amber, in words: "Chance of LPI by plan 30%", "Database lock +52 d", "CPI 0.77"."""

    dimension: str
    health: Health
    text: str
    excess: float  # how far past the green threshold, in widths of the amber band


def reasons(b: Basis) -> list[Reason]:
    """Why a one-trial basis is red or amber: the figure behind each red or amber dimension, and each breached QTL
    (red), worst first."""
    return b._once("reasons", lambda: _reasons(b))


def _reasons(b: Basis) -> list[Reason]:
    row = b.trial_row()
    if row is None:
        return []
    out = []
    s = b.settings
    for dimension, key in drivers(b).items():
        colour = row[f"{dimension}_health"]
        if colour not in ("red", "amber"):
            continue
        v = evaluate(key, b)
        if key == "schedule_slip":
            text = v.display
            slip = 0 if v.value is None else v.value
            excess = (slip - s.milestone_amber_days) / max(s.milestone_red_days - s.milestone_amber_days, 1)
        else:
            text = f"{v.label} {v.display}"
            green, amber = {
                "p_meet_lpi_plan": (s.probability_green, s.probability_amber),
                "pct_of_plan_to_date": (s.enrollment_green, s.enrollment_amber),
                "cpi": (s.index_green, s.index_amber),
            }[key]
            excess = 0.0 if v.value is None else (green - v.value) / max(green - amber, 1e-9)
        out.append(Reason(dimension, colour, text, max(excess, 0.0)))
    for _, q in qtl_breaches(b).iterrows():  # a breached quality tolerance limit is reported whatever the colours say
        excess = abs(q["value"] - q["limit_value"]) / max(abs(q["limit_value"]), 1e-9)
        out.append(Reason("quality", "red", health.qtl_text(q), excess))
    return sorted(out, key=lambda r: (-HEALTH_ORDER[r.health], -r.excess))


def severity(b: Basis) -> tuple:
    """A one-trial basis's place in a worst-first order (smaller sorts first): overall colour, then how many
    dimensions are red, then amber, then how far past their green thresholds the figures are (summed, in widths
    of the amber band), then the protocol number."""
    row = b.trial_row()
    found = reasons(b)
    n_red = sum(r.health == "red" for r in found)
    n_amber = sum(r.health == "amber" for r in found)
    return (
        -HEALTH_ORDER[row["overall_health"]],
        -n_red,
        -n_amber,
        -sum(r.excess for r in found),
        row["protocol_number"],
    )


SEVERITY_TEXT = (
    "Worst first: by overall colour, then the number of red dimensions (enrollment, budget, schedule), then amber "
    "ones, then how far the figures behind them are past their green thresholds, counted in widths of the amber band "
    "(e.g. CPI 0.75 with thresholds 0.95 and 0.85 is 2 widths past; a slip of 45 days with tolerances 0 and 30 "
    "days is 1.5), summed; a breached quality tolerance limit counts as a red one; then by protocol number."
)


def worst_first(b: Basis) -> list[str]:
    """The protocol numbers of the basis, worst first (see severity)."""
    return b._once("worst_first", lambda: sorted(b.protocols, key=lambda p: severity(b.of_trial(p))))
