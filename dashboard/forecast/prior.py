"""A drift prior learned from a sponsor's other trials (issue 19).

A trial's own months of data rarely show a slow decline of its sites' rates, or how many will stop, clearly enough to
move the forecast (dashboard.drift: its default prior says "no drift"). A sponsor's earlier trials, seen for a year or
more, do: where they tired, the current ones likely will too, and where they did not, the forecast should not assume
it. `learn_prior` fits the drift model to each earlier trial under a weak prior, at each of a few time scales T, keeps
the T that fits them best together, and pools them (normal–normal empirical Bayes on log ρ; the stop hazard's mean and
spread across trials):

- log ρ ~ N(pooled mean, max(pooled spread, RHO_SD_FLOOR));
- η ~ N(mean + spread across trials, max(spread, ETA_SD_FLOOR)) per site-year: a hazard at the high end of the
  earlier trials', because a current trial's data cannot yet show its stops, and the forecast holds η at its estimate.

Measured in bench/drift_prior.py and dashboard/calibration.py (Methods shows both worlds).
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
WEAK = {"log_rho_sd": 1.0, "eta_sd": 0.5}
RHO_SD_FLOOR = 0.2  # measured: 0.1 left the tiring world at 72–74 % coverage; 0.2 meets the band, steady width +14 %
ETA_SD_FLOOR = 0.1


def _estimate(sites: pd.DataFrame, history: pd.DataFrame, scale: float) -> tuple[float, float, float, float] | None:
    """One trial's (log ρ, its variance, η per year, log-likelihood) at time scale `scale`; None when too thin to fit."""
    from dashboard.forecast.predict import _timing  # predict imports this module

    k, tau, _, _ = _site_arrays(sites)
    has = tau > 0
    if has.sum() < 3 or k[has].sum() == 0:
        return None
    timing = _timing(sites, history, k, tau)
    stationary = _fit(k[has], tau[has])
    found = drift.fit(timing, (math.log(stationary.alpha), math.log(stationary.alpha / stationary.beta)),
                      drift.Prior(settle_days=scale, **WEAK))
    variance = float(found.cov[2, 2]) if found.cov[2, 2] > 0 else 1.0
    return float(found.theta[2]), variance, float(found.theta[3]), float(drift.logliks(found.theta, timing, scale)[0])


def _pooled(estimates: list[tuple[float, float, float, float]]) -> tuple[float, float, float, float]:
    """Normal–normal empirical Bayes over trials' log ρ (estimate, variance): its mean and spread; η's mean and spread."""
    x = np.array([e[0] for e in estimates])
    v = np.array([e[1] for e in estimates])
    eta = np.array([e[2] for e in estimates])
    tau2 = max(float(np.var(x) - np.mean(v)), 0.0)
    mu = float(np.mean(x))
    for _ in range(50):
        w = 1.0 / (v + tau2)
        mu = float(np.sum(w * x) / np.sum(w))
        tau2 = max(float(np.sum(w**2 * ((x - mu) ** 2 - v)) / np.sum(w**2)), 0.0)
    return mu, math.sqrt(tau2), float(np.mean(eta)), float(np.std(eta))


# Learning a prior fits each trial at each time scale (about 2 s for 10 trials): the answers are kept per process, keyed
# on the trials' figures themselves, so every page, e-mail and command that forecasts a sponsor's trials pays once.
_LEARNED: dict[tuple, drift.Prior] = {}
_LEARNED_MAX = 256
_LOCK = threading.Lock()


def _key(trials: list[tuple[pd.DataFrame, pd.DataFrame]]) -> tuple:
    return tuple(
        (tuple(sites.columns), sites.to_numpy(dtype=float, na_value=np.nan).tobytes(),
         history["site"].to_numpy(dtype="int64").tobytes(), history["days_before"].to_numpy(dtype=float).tobytes())
        for sites, history in trials
    )


def learn_prior(trials: Iterable[tuple[pd.DataFrame, pd.DataFrame]]) -> drift.Prior:
    """The drift prior from earlier trials: each a (sites, history) pair as `predict_completion` takes them.

    Returns drift.NO_DRIFT when fewer than MIN_TRIALS of them can be fitted (3 sites open and someone enrolled).
    """
    trials = list(trials)
    key = _key(trials)
    with _LOCK:
        found = _LEARNED.get(key)
    if found is None:
        found = _learn(trials)  # outside the lock: two threads may both learn it, and get the same answer
        with _LOCK:
            while len(_LEARNED) >= _LEARNED_MAX:
                _LEARNED.pop(next(iter(_LEARNED)))
            _LEARNED[key] = found
    return found


def _learn(trials: list[tuple[pd.DataFrame, pd.DataFrame]]) -> drift.Prior:
    best: tuple[float, float, list] | None = None
    for scale in SCALES:
        found = [e for e in (_estimate(sites, history, scale) for sites, history in trials) if e is not None]
        if len(found) < MIN_TRIALS:
            return drift.NO_DRIFT
        total = sum(e[3] for e in found)
        if best is None or total > best[0]:
            best = (total, scale, found)
    _, scale, found = best
    mu, spread, eta, eta_spread = _pooled(found)
    low, high = drift.LOG_RHO_BOUNDS
    return drift.Prior(
        settle_days=scale, log_rho=min(max(mu, low), high), log_rho_sd=max(spread, RHO_SD_FLOOR),
        eta=min(max(eta + eta_spread, 0.0), drift.ETA_BOUNDS[1]), eta_sd=max(eta_spread, ETA_SD_FLOOR),
        trials=len(found),
    )
