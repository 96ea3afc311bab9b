"""How honest the last-patient-in forecast is: its P10–P90 against the truth on simulated trials, in two worlds.

- **stationary**: every site enrolls at a constant rate from a Gamma across sites (the model's own assumption);
- **drifting**: each site's rate halves over 6–30 months after activation (the half-life varies by trial, and by
  site around it) and 10–35 % of a trial's sites stop enrolling for good, each at a time spread evenly over the
  trial's whole course (before the census, where the data can show it, or after, where they cannot).

Trials come in sponsors of 15, each with 10 earlier trials from the same world, seen 18–36 months in: the dashboard's
forecast learns its drift prior from them (forecast.prior), as it does from a real sponsor's other trials.

Each simulated trial is enrolled subject by subject to its target; the forecast sees it at a census date (its sites'
counts, and with the history their enrollment dates) and is scored on where the true completion falls: before P10,
inside P10–P90, or after P90. Half the trials have a short history (a census 2–4 months in) and a long horizon.

`python -m dashboard.calibration` runs both worlds and writes what the Methods page shows (calibration.json beside
this file); the test suite re-runs them with the same seeds and checks the file matches, so the figures on Methods are
always the code's.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from dashboard import drift, health
from dashboard.forecast import DAYS_PER_MONTH, _predict

WORLDS = ("stationary", "drifting")
# The forecasts scored: the dashboard's with a drift prior learned from the sponsor's earlier trials (forecast.prior),
# the same with the default prior of no drift (the trial's own history only), the constant-rate model (without the
# history: the model before drift) and the dashboard's without parameter uncertainty (plug-in): the last two are the
# negative controls.
MODELS = ("sponsor", "drift", "constant", "plug_in")
# Trials are grouped into sponsors of PORTFOLIO; each sponsor has EARLIER trials, seen 18–36 months after their first
# site opened, drawn from the same world with a generator of their own (so the other models' trials are unchanged).
PORTFOLIO = 15
EARLIER = 10
EARLIER_SEED_OFFSET = 100
AS_OF = date(2026, 1, 1)
N_TRIALS = 300
SEEDS = {"stationary": 2026, "drifting": 2027}
N_DRAWS = 1000
PATH = Path(__file__).with_name("calibration.json")


def simulate_trial(rng: np.random.Generator, world: str, short_history: bool):
    """A trial enrolled subject by subject to its target: (sites at the census, history, target, true days to target).

    Sites open at staggered times; about one in ten of those open for a month closes before the census. The target
    is the expected enrollment to a horizon 1–3 years past a census 60–120 days in (short history), or 2–18 months
    past one 6–18 months in, worked out from the trial's mean rate, decay and stops, never from the sites' drawn
    rates. Trials already at target, or too thin to fit (fewer than 3 sites open or nobody enrolled), are drawn again.
    """
    if world not in WORLDS:
        raise ValueError(f"world must be one of {WORLDS}, not {world!r}")
    while True:
        alpha = rng.uniform(0.8, 4.0)
        mean_rate = rng.uniform(0.2, 1.5) / DAYS_PER_MONTH  # per site-day, at activation
        n = int(rng.integers(5, 61))
        opens = rng.uniform(0, rng.uniform(60, 360), n)
        opens[0] = 0.0
        census = rng.uniform(60, 120) if short_history else rng.uniform(180, 540)
        horizon = rng.uniform(365, 1095) if short_history else rng.uniform(60, 540)
        rate = rng.gamma(alpha, mean_rate / alpha, n)
        closes = np.full(n, np.inf)
        closing = (rng.random(n) < 0.1) & (opens < census - 30)
        closes[closing] = rng.uniform(opens[closing] + 30, census)
        if world == "drifting":
            # Each site's rate falls linearly to half its starting rate over its first H months, then stays there;
            # some sites stop for good at a time spread over the trial.
            halving = rng.uniform(6, 30) * DAYS_PER_MONTH * np.exp(rng.normal(0.0, 0.2, n))
            stopping = rng.random(n) < rng.uniform(0.10, 0.35)
            stops = np.where(stopping, opens + rng.uniform(0, census + horizon, n), np.inf)
        else:
            halving = np.full(n, np.inf)
            stops = np.full(n, np.inf)
        ends = np.minimum(closes, stops)
        planned_span = np.clip(np.minimum(ends, census + horizon) - opens, 0, None)
        target = max(1, round(mean_rate * _exposure(halving, planned_span).sum()))

        span = np.clip(np.minimum(ends, census + 10 * horizon + 3650) - opens, 0, None)
        capacity = _exposure(halving, span)
        site_of = np.repeat(np.arange(n), rng.poisson(rate * capacity))
        ages = _age_at(halving[site_of], rng.random(site_of.size) * capacity[site_of])
        times = opens[site_of] + ages
        seen = times <= census
        enrolled = np.bincount(site_of[seen], minlength=n)
        is_open = opens <= census
        days_open = np.where(is_open, np.minimum(closes, census) - opens, 0.0)
        if enrolled.sum() >= target or enrolled.sum() == 0 or (days_open > 0).sum() < 3:
            continue
        times.sort()
        true_days = times[target - 1] - census if times.size >= target else math.inf
        closed = np.isfinite(closes)
        sites = pd.DataFrame(
            {
                "enrolled": enrolled,
                "days_open": days_open,
                "opens_in_days": np.where(is_open, np.nan, opens - census),
                "is_closed": closed,
                "days_since_closed": np.where(closed, census - closes, np.nan),
            }
        )
        history = pd.DataFrame({"site": site_of[seen], "days_before": census - (opens[site_of] + ages)[seen]})
        return sites, history, target, true_days


def earlier_trial(rng: np.random.Generator, world: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A sponsor's earlier trial, seen 18–36 months after its first site opened: its sites and enrollment history.

    The same sites and rates as simulate_trial's, in the same world (its sites stop at some point before the census).
    """
    census = rng.uniform(540, 1100)
    while True:
        alpha = rng.uniform(0.8, 4.0)
        mean_rate = rng.uniform(0.2, 1.5) / DAYS_PER_MONTH
        n = int(rng.integers(5, 61))
        opens = rng.uniform(0, rng.uniform(60, 360), n)
        opens[0] = 0.0
        rate = rng.gamma(alpha, mean_rate / alpha, n)
        if world == "drifting":
            halving = rng.uniform(6, 30) * DAYS_PER_MONTH * np.exp(rng.normal(0.0, 0.2, n))
            stops = np.where(rng.random(n) < rng.uniform(0.10, 0.35), opens + rng.uniform(0, census, n), np.inf)
        else:
            halving, stops = np.full(n, np.inf), np.full(n, np.inf)
        capacity = _exposure(halving, np.clip(np.minimum(stops, census) - opens, 0, None))
        site_of = np.repeat(np.arange(n), rng.poisson(rate * capacity))
        ages = _age_at(halving[site_of], rng.random(site_of.size) * capacity[site_of])
        if site_of.size:
            sites = pd.DataFrame({"enrolled": np.bincount(site_of, minlength=n), "days_open": census - opens})
            return sites, pd.DataFrame({"site": site_of, "days_before": census - (opens[site_of] + ages)})


def sponsor_frames(trials: list[tuple[pd.DataFrame, pd.DataFrame]]) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(sites, history) pairs as one sponsor's forecast_inputs, enrollment_history and trial_summary rows (EARLIER-00,
    EARLIER-01, …: still enrolling, targets unknown)."""
    inputs, history, trials_rows = [], [], []
    for n, (sites, timing) in enumerate(trials):
        protocol = f"EARLIER-{n:02d}"
        inputs.append(
            pd.DataFrame(
                {
                    "protocol_number": protocol,
                    "site_number": [f"S{i:03d}" for i in range(len(sites))],
                    "enrolled": sites["enrolled"].to_numpy(),
                    "days_open": sites["days_open"].to_numpy(),
                    "opens_in_days": np.nan,
                    "is_closed": False,
                    "days_since_closed": np.nan,
                }
            )
        )
        history.append(
            pd.DataFrame(
                {
                    "protocol_number": protocol,
                    "site_number": [f"S{i:03d}" for i in timing["site"]],
                    "days_before": timing["days_before"].to_numpy(),
                }
            )
        )
        trials_rows.append({"protocol_number": protocol, "n_planned_subjects": np.nan, "trial_status": "enrolling"})
    return pd.concat(inputs, ignore_index=True), pd.concat(history, ignore_index=True), pd.DataFrame(trials_rows)


def sponsor_prior(earlier: list[tuple[pd.DataFrame, pd.DataFrame]]) -> drift.Prior:
    """The prior a new trial of a sponsor with these earlier trials gets: they go through the dashboard's own rule
    (health.drift_priors, as the pages call it) as that sponsor's rows (sponsor_frames)."""
    return health.drift_priors(*sponsor_frames(earlier), ["NEW"])["NEW"]


def _exposure(halving: np.ndarray, age: np.ndarray) -> np.ndarray:
    """Cumulative intensity per unit starting rate to `age`, the rate falling linearly to half by `halving` days."""
    h = np.where(np.isfinite(halving), halving, 1.0)
    early = age - age**2 / (4 * h)
    late = 0.75 * h + 0.5 * (age - h)
    return np.where(np.isinf(halving), age, np.where(age <= h, early, late))


def _age_at(halving: np.ndarray, exposure: np.ndarray) -> np.ndarray:
    """The inverse of _exposure: the age at which a site's cumulative intensity per unit rate reaches `exposure`."""
    h = np.where(np.isfinite(halving), halving, 1.0)
    early = 2 * h * (1 - np.sqrt(np.clip(1 - exposure / h, 0.0, None)))
    late = h + 2 * (exposure - 0.75 * h)
    return np.where(np.isinf(halving), exposure, np.where(exposure <= 0.75 * h, early, late))


def tail(completion: dict, true_days: float) -> int:
    """Where the true completion falls: -1 before P10, +1 after P90, 0 inside."""
    truth = AS_OF + timedelta(days=math.ceil(true_days)) if math.isfinite(true_days) else date.max
    lo, hi = completion[0.1] or date.max, completion[0.9] or date.max
    return -1 if truth < lo else 1 if truth > hi else 0


def width(completion: dict) -> float:
    """P90 − P10 in days (inf when P90 is beyond the horizon)."""
    lo, hi = completion[0.1], completion[0.9]
    return math.inf if lo is None or hi is None else float((hi - lo).days)


def run(world: str, n: int = N_TRIALS, seed: int | None = None, models=MODELS) -> pd.DataFrame:
    """One row per simulated trial of `world`: its history length, and each model's tail and width."""
    rng = np.random.default_rng(SEEDS[world] if seed is None else seed)
    earlier_rng = np.random.default_rng((SEEDS[world] if seed is None else seed) + EARLIER_SEED_OFFSET)
    rows = []
    prior = drift.NO_DRIFT
    for i in range(n):
        if "sponsor" in models and i % PORTFOLIO == 0:  # a new sponsor: its earlier trials, and what they teach
            prior = sponsor_prior([earlier_trial(earlier_rng, world) for _ in range(EARLIER)])
        short = i % 2 == 0
        sites, history, target, true_days = simulate_trial(rng, world, short)
        row = {"short": short, "true_days": true_days}
        for model in models:
            fc = _predict(
                sites,
                target,
                AS_OF,
                seed=i,
                n_draws=N_DRAWS,
                history=None if model == "constant" else history,
                parameter_uncertainty=model != "plug_in",
                drift_prior=prior if model == "sponsor" else None,
            )
            row[f"{model}_tail"] = tail(fc.completion, true_days)
            row[f"{model}_width"] = width(fc.completion)
        rows.append(row)
    return pd.DataFrame(rows)


def summary(frame: pd.DataFrame, model: str) -> dict:
    """A model's coverage of P10–P90, its two tails and its median width in days, over the trials of `frame`."""
    tails = frame[f"{model}_tail"]
    return {
        "coverage": round(float((tails == 0).mean()), 4),
        "early": round(float((tails == -1).mean()), 4),
        "late": round(float((tails == 1).mean()), 4),
        "median_width_days": float(np.median(frame[f"{model}_width"])),
        "trials": int(len(frame)),
    }


def measure(n: int = N_TRIALS) -> dict:
    """Both worlds, every model: {world: {model: summary}}."""
    return {
        world: {model: summary(frame, model) for model in MODELS} for world, frame in ((w, run(w, n)) for w in WORLDS)
    }


def load() -> dict | None:
    """The calibration Methods shows (None when it has not been generated)."""
    try:
        return json.loads(PATH.read_text())
    except (OSError, ValueError):
        return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dashboard.calibration", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--output", type=Path, default=PATH, help=f"where to write the figures (default {PATH.name} beside the code)"
    )
    args = parser.parse_args(argv)
    figures = measure()
    args.output.write_text(json.dumps(figures, indent=1, sort_keys=True) + "\n")
    for world, models in figures.items():
        for model, s in models.items():
            print(
                f"{world:10} {model:8} coverage {s['coverage']:.0%} early {s['early']:.0%} late {s['late']:.0%} "
                f"median width {s['median_width_days']:.0f} days"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
