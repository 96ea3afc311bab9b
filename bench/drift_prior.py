"""Experiment for issue 19: can a drift prior learned from a sponsor's other trials make the forecast honest where
sites tire, without widening it where they do not?

The forecast's own data rarely show a slow decline (dashboard/calibration.json: 43 % coverage where sites tire).
Here each simulated "sponsor" has 15 trials forecast at their census (dashboard.calibration's worlds) and 10 earlier
trials seen 18–36 months after their first site opened. The drift model (dashboard.drift) is given a prior from
them, four ways:

- **today**: the dashboard's prior, "no drift" (log ρ ~ N(0, 0.15), T = 180 days);
- **eb_current**: empirical Bayes from the sponsor's 15 current trials (normal–normal on log ρ, mean stop hazard);
- **eb_past**: the same from its 10 earlier trials, with the time scale T that fits them best;
- **mixture**: each earlier trial's own fit (T, ρ, η) is one component of the prior; the current trial's data weigh
  the components and the forecast draws from them in proportion.

This changes the drift module's constants while it runs (an experiment, not the product's code path).

    .venv/bin/python -m bench.drift_prior        # about 10 minutes; prints and writes bench/drift_prior.md
"""

from __future__ import annotations

import contextlib
import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from dashboard import calibration, drift
from dashboard.forecast import DAYS_PER_MONTH, _predict
from dashboard.forecast.fit import _fit
from dashboard.forecast.inputs import _site_arrays
from dashboard.forecast.predict import _completion, _timing

OUT = Path(__file__).with_name("drift_prior.md")
N_TRIALS = 300
PORTFOLIO = 15
N_PAST = 10
SCALES = (90.0, 180.0, 365.0, 730.0)
VARIANTS = ("today", "eb_current", "eb_past", "mixture")


def past_trial(rng: np.random.Generator, world: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """An earlier trial of the sponsor, seen 18–36 months after its first site opened: its sites and history."""
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
        capacity = calibration._exposure(halving, np.clip(np.minimum(stops, census) - opens, 0, None))
        site_of = np.repeat(np.arange(n), rng.poisson(rate * capacity))
        ages = calibration._age_at(halving[site_of], rng.random(site_of.size) * capacity[site_of])
        if site_of.size:
            sites = pd.DataFrame({"enrolled": np.bincount(site_of, minlength=n), "days_open": census - opens})
            return sites, pd.DataFrame({"site": site_of, "days_before": census - (opens[site_of] + ages)})


@contextlib.contextmanager
def prior(scale: float = drift.SETTLE_DAYS, log_rho: float = 0.0, log_rho_sd: float = drift.LOG_RHO_PRIOR_SD,
          eta: float = 0.0, eta_sd: float = drift.ETA_PRIOR_SD):
    """The drift model with time scale `scale` and priors log ρ ~ N(log_rho, log_rho_sd), η ~ N(eta, eta_sd)/yr."""
    saved = drift.SETTLE_DAYS, drift._penalty
    drift.SETTLE_DAYS = scale
    drift._penalty = lambda th: 0.5 * ((th[:, 2] - log_rho) / log_rho_sd) ** 2 + 0.5 * ((th[:, 3] - eta) / eta_sd) ** 2
    try:
        yield
    finally:
        drift.SETTLE_DAYS, drift._penalty = saved


def fit(sites: pd.DataFrame, history: pd.DataFrame) -> tuple[drift.Fit, float] | None:
    """The drift model's fit of one trial under the prior in force, and its log-likelihood (None: too thin to fit)."""
    k, tau, _, _ = _site_arrays(sites)
    has = tau > 0
    if has.sum() < 3 or k[has].sum() == 0:
        return None
    timing = _timing(sites, history, k, tau)
    stationary = _fit(k[has], tau[has])
    found = drift.fit(timing, (math.log(stationary.alpha), math.log(stationary.alpha / stationary.beta)))
    return found, float(drift.logliks(found.theta, timing)[0])


def pooled(estimates: list[tuple[float, float, float]]) -> tuple[float, float, float, float]:
    """Normal–normal empirical Bayes over trials' (log ρ, its variance, η): mean and spread of log ρ, of η."""
    x, v, eta = (np.array(col) for col in zip(*estimates, strict=True))
    tau2 = max(float(np.var(x) - np.mean(v)), 0.0)
    for _ in range(50):
        w = 1.0 / (v + tau2)
        mu = float(np.sum(w * x) / np.sum(w))
        tau2 = max(float(np.sum(w**2 * ((x - mu) ** 2 - v)) / np.sum(w**2)), 0.0)
    return mu, math.sqrt(tau2), float(np.mean(eta)), float(np.std(eta))


def estimates(trials, scale: float, log_rho_sd: float = 1.0):
    """Each trial's (log ρ, variance, η) under a weak prior at time scale `scale`, and their summed log-likelihood."""
    out, total = [], 0.0
    with prior(scale, log_rho_sd=log_rho_sd, eta_sd=0.5):
        for sites, history in trials:
            found = fit(sites, history)
            if found is not None:
                f, loglik = found
                out.append((f.theta[2], f.cov[2, 2] if f.cov[2, 2] > 0 else 1.0, f.theta[3]))
                total += loglik
    return out, total


def forecast_days(sites, history, target, seed, n_draws=calibration.N_DRAWS) -> np.ndarray:
    return _predict(sites, target, calibration.AS_OF, seed=seed, n_draws=n_draws, history=history)._days


def score(days: np.ndarray, true_days: float) -> tuple[int, float]:
    completion = _completion(days, [0.1, 0.5, 0.9], calibration.AS_OF)
    return calibration.tail(completion, true_days), calibration.width(completion)


def run(world: str, n: int = N_TRIALS) -> pd.DataFrame:
    rng = np.random.default_rng(calibration.SEEDS[world])
    past_rng = np.random.default_rng(99)
    trials = [calibration.simulate_trial(rng, world, i % 2 == 0) for i in range(n)]
    rows = []
    for first in range(0, n, PORTFOLIO):
        group = trials[first:first + PORTFOLIO]
        past = [past_trial(past_rng, world) for _ in range(N_PAST)]
        mu_c, sd_c, eta_c, eta_sd_c = pooled(estimates([(s, h) for s, h, _, _ in group], drift.SETTLE_DAYS)[0])
        best = max((estimates(past, scale) + (scale,) for scale in SCALES), key=lambda e: e[1])
        mu_p, sd_p, eta_p, eta_sd_p = pooled(best[0])
        components = []
        for sites, history in past:
            fits = []
            for scale in SCALES:
                with prior(scale, log_rho_sd=3.0, eta_sd=0.5):
                    found = fit(sites, history)
                if found is not None:
                    fits.append((found[1], scale, found[0].theta[2], found[0].theta[3]))
            if fits:
                components.append(max(fits)[1:])
        for i, (sites, history, target, true_days) in enumerate(group):
            seed = first + i
            row = {"short": i % 2 == 0}
            row["today"] = score(forecast_days(sites, history, target, seed), true_days)
            with prior(log_rho=mu_c, log_rho_sd=max(sd_c, 0.1), eta=eta_c, eta_sd=max(eta_sd_c, 0.1)):
                row["eb_current"] = score(forecast_days(sites, history, target, seed), true_days)
            with prior(best[2], log_rho=mu_p, log_rho_sd=max(sd_p, 0.1), eta=eta_p, eta_sd=max(eta_sd_p, 0.1)):
                row["eb_past"] = score(forecast_days(sites, history, target, seed), true_days)
            weights, draws = [], []
            for scale, log_rho, eta in components:
                with prior(scale, log_rho=log_rho, log_rho_sd=0.15, eta=eta, eta_sd=0.1):
                    found = fit(sites, history)
                    draws.append(forecast_days(sites, history, target, seed, n_draws=200))
                weights.append(found[1] - float(drift._penalty(np.atleast_2d(found[0].theta))[0]) if found else 0.0)
            w = np.exp(np.array(weights) - max(weights))
            pick_rng = np.random.default_rng(seed)
            pick = pick_rng.choice(len(components), size=calibration.N_DRAWS, p=w / w.sum())
            mixed = np.array([draws[j][pick_rng.integers(draws[j].size)] for j in pick])
            row["mixture"] = score(mixed, true_days)
            rows.append(row)
    return pd.DataFrame(rows)


def summary(frame: pd.DataFrame, variant: str) -> dict:
    tails = frame[variant].map(lambda r: r[0])
    widths = frame[variant].map(lambda r: r[1])
    return {
        "coverage": float((tails == 0).mean()), "early": float((tails == -1).mean()), "late": float((tails == 1).mean()),
        "width": float(np.median(widths)),
        "short": float((tails[frame.short] == 0).mean()), "long": float((tails[~frame.short] == 0).mean()),
    }


def main() -> int:
    lines = [
        "# A drift prior from the sponsor's other trials (issue 19 experiment)", "",
        f"Generated by `python -m bench.drift_prior`: {N_TRIALS} simulated trials per world "
        f"(dashboard.calibration's), in sponsors of {PORTFOLIO}, each with {N_PAST} earlier trials. "
        "Targets: coverage 0.74–0.88, each tail ≤ 0.16, stationary median width ≤ 1.2 × the constant-rate model's "
        f"({calibration.load()['stationary']['constant']['median_width_days']:.0f} days → "
        f"{1.2 * calibration.load()['stationary']['constant']['median_width_days']:.0f}).", "",
        "| world | prior | P10–P90 coverage | early | late | median width (days) | coverage, short history | long history |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for world in calibration.WORLDS:
        frame = run(world)
        for variant in VARIANTS:
            s = summary(frame, variant)
            line = (f"| {world} | {variant} | {s['coverage']:.0%} | {s['early']:.0%} | {s['late']:.0%} | {s['width']:.0f} "
                    f"| {s['short']:.0%} | {s['long']:.0%} |")
            print(line, flush=True)
            lines.append(line)
    OUT.write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
