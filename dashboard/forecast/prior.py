"""A drift prior learned from a sponsor's other trials (issue 19).

A trial's own months of data rarely show a slow decline of its sites' rates, or how many will stop, clearly enough to
move the forecast (dashboard.drift: its default prior says "no drift"). A sponsor's earlier trials, seen for a year or
more, do: where they tired, the current ones likely will too, and where they did not, the forecast should not assume
it. `learn_prior` fits the drift model to each earlier trial under a weak prior, at each of a few time scales T, keeps
the T that fits them best together, and pools them:

- log ρ: normal–normal empirical Bayes over the trials' own estimates (the weak prior taken back out of each, so a
  trial whose data say little neither counts as "no drift" nor pulls the mean towards it); the prior is
  N(pooled mean, max(pooled spread, RHO_SD_FLOOR));
- η ~ N(mean + spread across trials, max(spread, ETA_SD_FLOOR)) per site-year: a hazard at the high end of the
  earlier trials', because a current trial's data cannot yet show its stops, and the forecast holds η at its estimate.
  The plain mean is kept too (Prior.eta_seen), for the forecast's note.

Measured by dashboard/calibration.py (Methods shows both worlds); bench/drift_prior.md has the experiment before it.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable

import numpy as np
import pandas as pd

from dashboard import drift
from dashboard.forecast.fit import _fit
from dashboard.forecast.inputs import _site_arrays

# The time scales T tried, in days; the one that fits the earlier trials best is kept.
SCALES = (90.0, 180.0, 365.0, 730.0)
# Fewer usable earlier trials than this and the prior is the default (no drift): too few to pool.
MIN_TRIALS = 3
# Each earlier trial's own fit: weak priors around "no drift", so its data speak.
WEAK_RHO_SD = 1.0
WEAK = {"log_rho_sd": WEAK_RHO_SD, "eta_sd": 0.5}
# A trial's own log ρ is used only when its data pin it down at least this well (sd of the data alone).
MAX_OWN_SD = 3.0
RHO_SD_FLOOR = 0.25  # measured on three seeds: 0.2 left the tiring world at 74–75 % coverage, 0.25 at 76–77 %
ETA_SD_FLOOR = 0.1

# One trial's estimates at each scale: (log ρ from its data alone or NaN, its variance, η per year, log-likelihood).
Estimate = tuple[float, float, float, float]


def _estimate(sites: pd.DataFrame, history: pd.DataFrame, scale: float) -> Estimate | None:
    """One trial's estimates at time scale `scale`; None when too thin to fit."""
    from dashboard.forecast.predict import _timing  # predict imports this module

    k, tau, _, _ = _site_arrays(sites)
    has = tau > 0
    if has.sum() < 3 or k[has].sum() == 0:
        return None
    timing = _timing(sites, history, k, tau)
    stationary = _fit(k[has], tau[has])
    found = drift.fit(
        timing,
        (math.log(stationary.alpha), math.log(stationary.alpha / stationary.beta)),
        drift.Prior(settle_days=scale, **WEAK),
    )
    loglik = float(drift.logliks(found.theta, timing, scale)[0])
    # The Laplace posterior N(x, v) under the weak N(0, WEAK_RHO_SD²): the data's own precision is 1/v − 1/WEAK_RHO_SD²,
    # and their own estimate x·(1/v) / that precision.
    v = float(found.cov[2, 2])
    own = 1.0 / v - 1.0 / WEAK_RHO_SD**2 if v > 0 else 0.0
    if own < 1.0 / MAX_OWN_SD**2:
        return math.nan, math.nan, float(found.theta[3]), loglik
    return float(found.theta[2]) / (v * own), 1.0 / own, float(found.theta[3]), loglik


# A trial's estimates are kept per process, keyed on its figures themselves: each trial is fitted once (about 0.2 s per
# scale) however many of its sponsor's forecasts it teaches, on every page, e-mail and command.
_ESTIMATES: dict[tuple, tuple[Estimate | None, ...]] = {}
_ESTIMATES_MAX = 2048
_LOCK = threading.Lock()


def _estimates(sites: pd.DataFrame, history: pd.DataFrame) -> tuple[Estimate | None, ...]:
    """The trial's estimate at each of SCALES (None where it cannot be fitted, or its data disagree with its sites)."""
    key = (
        tuple(sites.columns),
        sites.to_numpy(dtype=float, na_value=np.nan).tobytes(),
        history["site"].to_numpy(dtype="int64").tobytes(),
        history["days_before"].to_numpy(dtype=float).tobytes(),
    )
    with _LOCK:
        found = _ESTIMATES.get(key)
    if found is None:
        try:
            found = tuple(_estimate(sites, history, scale) for scale in SCALES)
        except ValueError:  # a history that does not match its sites: this trial teaches nothing
            found = (None,) * len(SCALES)
        with _LOCK:
            while len(_ESTIMATES) >= _ESTIMATES_MAX:
                _ESTIMATES.pop(next(iter(_ESTIMATES)))
            _ESTIMATES[key] = found
    return found


def _pooled(estimates: list[Estimate]) -> tuple[float, float, float, float, float]:
    """Normal–normal empirical Bayes over trials' own log ρ (estimate, variance): its mean and spread (NaN without any
    informative trial); η's mean and spread, and the high end the prior uses."""
    rho = [(e[0], max(e[1], 1e-6)) for e in estimates if math.isfinite(e[0]) and math.isfinite(e[1])]
    eta = np.array([e[2] for e in estimates])
    eta_mean, eta_spread = float(np.mean(eta)), float(np.std(eta))
    if not rho:
        return math.nan, math.nan, eta_mean, eta_spread, eta_mean + eta_spread
    x = np.array([r[0] for r in rho])
    v = np.array([r[1] for r in rho])
    tau2 = max(float(np.var(x) - np.mean(v)), 0.0)
    mu = float(np.mean(x))
    for _ in range(50):
        w = 1.0 / (v + tau2)
        mu = float(np.sum(w * x) / np.sum(w))
        tau2 = max(float(np.sum(w**2 * ((x - mu) ** 2 - v)) / np.sum(w**2)), 0.0)
    return mu, math.sqrt(tau2), eta_mean, eta_spread, eta_mean + eta_spread


def learn_prior(trials: Iterable[tuple[pd.DataFrame, pd.DataFrame]]) -> drift.Prior:
    """The drift prior from earlier trials: each a (sites, history) pair as `predict_completion` takes them.

    Returns drift.NO_DRIFT when fewer than MIN_TRIALS of them can be fitted (3 sites open and someone enrolled), or
    none of them says anything about the decline.
    """
    per_trial = [_estimates(sites, history) for sites, history in trials]
    best: tuple[float, float, list[Estimate]] | None = None
    for i, scale in enumerate(SCALES):
        found = [e[i] for e in per_trial if e[i] is not None]
        total = sum(e[3] for e in found)
        if len(found) >= MIN_TRIALS and math.isfinite(total) and (best is None or total > best[0]):
            best = (total, scale, found)
    if best is None:
        return drift.NO_DRIFT
    _, scale, found = best
    mu, spread, eta_seen, eta_spread, eta = _pooled(found)
    if not (math.isfinite(mu) and math.isfinite(eta)):
        return drift.NO_DRIFT
    low, high = drift.LOG_RHO_BOUNDS
    cap = drift.ETA_BOUNDS[1]
    return drift.Prior(
        settle_days=scale,
        log_rho=min(max(mu, low), high),
        log_rho_sd=max(spread, RHO_SD_FLOOR),
        eta=min(max(eta, 0.0), cap),
        eta_sd=max(eta_spread, ETA_SD_FLOOR),
        trials=len(found),
        eta_seen=min(max(eta_seen, 0.0), cap),
    )
