"""The forecast of one trial: predict_completion (the public entry), the stationary model and the one under drift
(dashboard.drift), and the dashboard's cached entry points."""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import date, timedelta

import numpy as np
import pandas as pd

from dashboard import drift
from dashboard.forecast.fit import _Fit, _fit, _parameter_draws
from dashboard.forecast.inputs import _as_date, _column, _prior_rate, _quantiles, _site_arrays, _target
from dashboard.forecast.limits import (
    HORIZON_DAYS,
    MAX_DAYS,
    MIN_FIT_SITES,
    N_DRAWS,
    N_DRAWS_WITH_HISTORY,
    PRIOR_SHAPE,
    Method,
)
from dashboard.forecast.model import Forecast, _Simulation, sites_needed_cap
from dashboard.forecast.simulation import _days_to_reach, _group_rates, _intensity_table
from dashboard.metrics import DAYS_PER_MONTH

# --- the forecast -------------------------------------------------------------------------------


def _predict(
    sites: pd.DataFrame,
    target: int,
    as_of: date,
    *,
    quantiles: Iterable[float] = (0.1, 0.5, 0.9),
    seed: int | None = None,
    prior_rate: float | None = None,
    parameter_uncertainty: bool = True,
    parameters: tuple[float, float] | None = None,
    n_draws: int | None = None,
    history: pd.DataFrame | None = None,
    drift_prior: drift.Prior | None = None,
) -> Forecast:
    """`predict_completion`, plus the tests' seams: plug-in estimates, or α and β given outright."""
    as_of = _as_date(as_of, "as_of")
    target = _target(target)
    qs = _quantiles(quantiles)
    prior_rate = _prior_rate(prior_rate)
    k, tau, start, can_enroll = _site_arrays(sites)
    timing = None if history is None else _timing(sites, history, k, tau)
    try:
        rng = np.random.default_rng(seed)
    except (TypeError, ValueError):
        raise ValueError(f"seed must be a whole number or None, not {seed!r}") from None

    enrolled = int(k.sum())
    n_plus = target - enrolled
    has_data = tau > 0
    n_fit, k_fit = int(has_data.sum()), int(k[has_data].sum())
    months = float(tau.sum()) / DAYS_PER_MONTH
    n_pending = int(np.sum(can_enroll & (start > 0)))
    pending = f"; {n_pending} site{'s' if n_pending != 1 else ''} yet to open" if n_pending else ""

    fit: _Fit | None = None
    method: Method = "prior"
    alpha = beta = math.nan
    if parameters is not None:
        alpha, beta = (float(p) for p in parameters)
        method, note = "poisson-gamma", f"Poisson-Gamma with α = {alpha:.3g}, β = {beta:.3g} given{pending}."
    elif n_fit >= MIN_FIT_SITES and k_fit > 0:
        fit = _fit(k[has_data], tau[has_data])
        alpha, beta = fit.alpha, fit.beta
        method = "poisson-gamma"
        spread = (
            "site rates vary no more than chance (Poisson limit)"
            if fit.at_cap
            else f"site-to-site spread α = {alpha:.2g}"
        )
        note = (
            f"Poisson-Gamma fit on {n_fit} sites ({k_fit} enrolled over {months:.1f} site-months): "
            f"{alpha / beta * DAYS_PER_MONTH:.2f} per site-month, {spread}{pending}; "
            f"{'intervals include parameter uncertainty' if parameter_uncertainty else 'plug-in estimates'}."
        )
    elif prior_rate is not None:
        alpha, beta = PRIOR_SHAPE, PRIOR_SHAPE / prior_rate
        note = (
            f"Too little data to fit ({n_fit} site{'s' if n_fit != 1 else ''} open, {k_fit} enrolled): "
            f"assumed the planned {prior_rate * DAYS_PER_MONTH:.2f} per site-month, updated with each site's data{pending}."
        )
    else:
        note = f"Too little data to fit ({n_fit} site{'s' if n_fit != 1 else ''} open, {k_fit} enrolled) and no planned rate: no forecast."

    if n_plus <= 0:
        note = f"Target reached: {enrolled} enrolled of {target}."
        return Forecast(as_of, target, enrolled, {q: as_of for q in qs}, alpha, beta, method, note, np.zeros(1))
    if math.isnan(alpha):
        return Forecast(as_of, target, enrolled, {q: None for q in qs}, alpha, beta, method, note, np.empty(0))

    if fit is not None and timing is not None:
        return _predict_drift(
            fit,
            timing,
            k,
            tau,
            start,
            can_enroll,
            as_of,
            target,
            enrolled,
            qs,
            note,
            rng,
            parameter_uncertainty,
            n_draws or N_DRAWS_WITH_HISTORY,
            drift_prior or drift.NO_DRIFT,
        )
    n_draws = n_draws or N_DRAWS
    if fit is not None and parameter_uncertainty:
        alpha_d, beta_d = _parameter_draws(fit, rng, n_draws)
    else:
        alpha_d, beta_d = np.full(n_draws, alpha), np.full(n_draws, beta)
    g = rng.standard_gamma(float(n_plus), size=n_draws)
    order = np.argsort(start[can_enroll], kind="stable")
    sim = _Simulation(
        k=k[can_enroll][order],
        tau=tau[can_enroll][order],
        start=start[can_enroll][order],
        alpha=alpha_d,
        beta=beta_d,
        g=g,
        rng_state=rng.bit_generator.state,
        cap=sites_needed_cap(int(k.size)),
    )
    if sim.k.size == 0:
        note = f"No site is open or planned to open: {n_plus} still to enroll."
        return Forecast(
            as_of, target, enrolled, {q: None for q in qs}, alpha, beta, method, note, np.full(n_draws, np.inf), sim
        )

    days = _days_to_reach(*_intensity_table(*_group_rates(rng, alpha_d, beta_d, sim.k, sim.tau, sim.start)), g)
    return Forecast(as_of, target, enrolled, _completion(days, qs, as_of), alpha, beta, method, note, days, sim)


# --- under drift (drift.py) ---------------------------------------------------------------------


def _predict_drift(
    fit: _Fit,
    timing: drift.Timing,
    k: np.ndarray,
    tau: np.ndarray,
    start: np.ndarray,
    can_enroll: np.ndarray,
    as_of: date,
    target: int,
    enrolled: int,
    qs: list[float],
    note: str,
    rng: np.random.Generator,
    parameter_uncertainty: bool,
    n_draws: int,
    drift_prior: drift.Prior = drift.NO_DRIFT,
) -> Forecast:
    """The forecast with the enrollment history: rates that may decay with time since activation, sites that may stop."""
    has_data = tau > 0
    found = drift.fit(timing, (math.log(fit.alpha), math.log(fit.alpha / fit.beta)), drift_prior)
    active = np.ones(k.size)
    active[has_data] = drift.p_active(found.theta, timing, found.settle_days)
    alpha_d, beta_d, rho_d = drift.parameter_draws(found, rng, n_draws, parameter_uncertainty)
    g = rng.standard_gamma(float(target - enrolled), size=n_draws)
    order = np.argsort(start[can_enroll], kind="stable")
    sim = _Simulation(
        k=k[can_enroll][order],
        tau=tau[can_enroll][order],
        start=start[can_enroll][order],
        alpha=alpha_d,
        beta=beta_d,
        g=g,
        rng_state=rng.bit_generator.state,
        cap=sites_needed_cap(int(k.size)),
        rho=rho_d,
        eta=found.eta,
        active=active[can_enroll][order],
        settle_days=found.settle_days,
    )
    is_open = can_enroll & (start <= 0) & has_data
    stopped = int(np.sum(active[is_open] < 0.5))
    settled = found.rho
    note = note.rstrip(".") + "; " + _drift_words(settled, stopped) + _prior_words(drift_prior) + "."
    if sim.k.size == 0:
        return Forecast(
            as_of,
            target,
            enrolled,
            {q: None for q in qs},
            found.alpha,
            found.beta,
            "poisson-gamma",
            f"No site is open or planned to open: {target - enrolled} still to enroll.",
            np.full(n_draws, np.inf),
            sim,
            settled_share=settled,
            stopped_sites=stopped,
        )
    t = drift.table(rng, alpha_d, beta_d, rho_d, found.eta, sim.k, sim.tau, sim.start, sim.active, found.settle_days)
    days = drift.days_to_reach(t, g)
    return Forecast(
        as_of,
        target,
        enrolled,
        _completion(days, qs, as_of),
        found.alpha,
        found.beta,
        "poisson-gamma",
        note,
        days,
        sim,
        settled_share=settled,
        stopped_sites=stopped,
    )


def _drift_words(settled: float, stopped: int) -> str:
    """What the drift model found, in words for the forecast's note."""
    if settled < 0.9:
        words = f"sites settle at about {settled:.0%} of the rate they start at"
    elif settled > 1.1:
        words = f"sites speed up to about {settled:.1f}× the rate they start at"
    else:
        words = "site rates steady with time open"
    if stopped:
        words += f"; {stopped} site{'s' if stopped != 1 else ''} probably stopped enrolling (silent far beyond {'its' if stopped == 1 else 'their'} usual gap)"
    return words


def _prior_words(prior: drift.Prior) -> str:
    """What the drift prior learned from the sponsor's other trials says, for the note ("" for the default)."""
    if prior.trials == 0:
        return ""
    if prior.rho < 0.9:
        found = f"their sites settled at about {prior.rho:.0%} of the rate they started at"
    elif prior.rho > 1.1:
        found = f"their sites sped up to about {prior.rho:.1f}× the rate they started at"
    else:
        found = "their sites' rates held steady"
    stopping = 1.0 - math.exp(-prior.eta_seen)
    if stopping >= 0.05:
        found += f", and about {stopping:.0%} of sites a year stopped enrolling"
    return f"; expected from the sponsor's {prior.trials} other trials of a year and more: {found}"


def _completion(days: np.ndarray, qs: list[float], as_of: date) -> dict[float, date | None]:
    """The completion date at each quantile of the simulated days (None beyond the horizon)."""
    completion: dict[float, date | None] = {}
    finite_days = np.minimum(days, HORIZON_DAYS + 1.0)  # "never" (inf) sorts last without inf − inf
    for q in qs:
        d = float(np.quantile(finite_days, q))
        completion[q] = as_of + timedelta(days=math.ceil(d)) if d <= HORIZON_DAYS else None
    return completion


def _timing(sites: pd.DataFrame, history: pd.DataFrame, k: np.ndarray, tau: np.ndarray) -> drift.Timing:
    """Each site's enrollment ages (days since its activation) from the history; ValueError when they disagree with the sites."""
    if not isinstance(history, pd.DataFrame):
        raise ValueError(f"history must be a DataFrame with one row per enrolled subject, not {type(history).__name__}")
    missing = [c for c in ("site", "days_before") if c not in history.columns]
    if missing:
        raise ValueError(f"history is missing the column{'s' if len(missing) > 1 else ''} {', '.join(missing)}")
    position = pd.Index(sites.index).get_indexer(history["site"])
    if (position < 0).any():
        unknown = history["site"][position < 0].iloc[0]
        raise ValueError(f"history names a site that is not in sites: {unknown!r}")
    before = _column(history, "days_before")
    if np.isnan(before).any() or np.isinf(before).any() or (before < 0).any() or (before > MAX_DAYS).any():
        raise ValueError("history.days_before must be a finite number of days ≥ 0")
    counts = np.bincount(position, minlength=k.size)
    if not np.array_equal(counts, k.astype(np.int64)):
        i = int(np.flatnonzero(counts != k)[0])
        raise ValueError(
            f"history has {counts[i]} subject(s) for site {sites.index[i]!r}, sites.enrolled says {int(k[i])}"
        )
    closed_ago = np.zeros(k.size)
    if "days_since_closed" in sites.columns:
        closed_ago = np.nan_to_num(_column(sites, "days_since_closed"), nan=0.0)
    # Age at enrollment: the site opened τ (+ days since it closed) before as_of. An enrollment dated before the
    # activation (a data-entry slip) counts at age 0.
    age = np.clip(tau[position] + closed_ago[position] - before, 0.0, tau[position])
    has_data = tau > 0
    last = np.zeros(k.size)
    np.maximum.at(last, position, age)
    return drift.Timing(k=k[has_data], tau=tau[has_data], last=last[has_data], ages=age)


def predict_completion(
    sites: pd.DataFrame,
    target: int,
    as_of: date,
    *,
    quantiles: Iterable[float] = (0.1, 0.5, 0.9),
    seed: int | None = None,
    prior_rate: float | None = None,
    history: pd.DataFrame | None = None,
    drift_prior: drift.Prior | None = None,
) -> Forecast:
    """Forecast the date enrollment reaches `target` from one row per site (domain.md §3).

    `sites` has `enrolled` and `days_open` (up to as_of), optionally `opens_in_days` (days after
    as_of a site not yet active opens; NaN for active sites), `is_closed` (its data count for
    the fit but it enrolls no more) and `days_since_closed` (for a closed site, days from its
    closing to as_of; 0 when missing). `prior_rate` (subjects per site per day, the plan's) is used
    when fewer than 3 sites have been open or nobody has enrolled.

    `history`, one row per enrolled subject with `site` (a label of `sites`' index) and
    `days_before` (as_of − enrollment date, in days, ≥ 0), lets the forecast see drift (drift.py):
    site rates that decay with time since activation and sites that have stopped. Without it the
    rates are taken as constant (the stationary model). `drift_prior` (with a history) replaces the
    model's default assumption of no drift, drift.NO_DRIFT: forecast.learn_prior learns one from the
    sponsor's earlier trials. Raises ValueError with a plain message for invalid input.
    """
    if drift_prior is not None and not isinstance(drift_prior, drift.Prior):
        raise ValueError(f"drift_prior must be a dashboard.drift.Prior, not {type(drift_prior).__name__}")
    return _predict(
        sites,
        target,
        as_of,
        quantiles=quantiles,
        seed=seed,
        prior_rate=prior_rate,
        history=history,
        drift_prior=drift_prior,
    )


# Which model made a forecast: part of a published snapshot's fingerprint (published.settings_key), so figures
# published by another model are not read as this one's.
MODEL = "poisson-gamma with drift and stops, drift prior from the sponsor's earlier trials (2026-12b)"

# The dashboard's forecasts: one seed, so the same inputs give the same forecast on every page and in every e-mail.
DASHBOARD_SEED = 0
TRIAL_COLUMNS = ("enrolled", "days_open", "opens_in_days", "is_closed", "days_since_closed")
# The sites' arrays (TRIAL_COLUMNS), then the history's: each enrolled subject's site (its row in the sites) and days
# before as_of; the history's are None when the forecast has none.
TrialInputs = tuple


def trial_inputs(sites: pd.DataFrame, history: pd.DataFrame | None = None) -> TrialInputs:
    """A trial's sites (enrollment.forecast_inputs rows) and enrollment history (enrollment.enrollment_history rows,
    `site` the row of `sites` by position) as the plain arrays its dashboard forecast is keyed and made on.

    Arrays, not a DataFrame: a cache hashes them from their bytes, where a frame is hashed column by column.
    """
    closed_ago = (
        sites["days_since_closed"] if "days_since_closed" in sites.columns else pd.Series(np.nan, index=sites.index)
    )
    arrays = (
        sites["enrolled"].to_numpy(dtype="int64"),
        sites["days_open"].to_numpy(dtype="float64", na_value=np.nan),
        sites["opens_in_days"].to_numpy(dtype="float64", na_value=np.nan),
        sites["is_closed"].to_numpy(dtype=bool),
        closed_ago.to_numpy(dtype="float64", na_value=np.nan),
    )
    if history is None:
        return arrays + (None, None)
    return arrays + (history["site"].to_numpy(dtype="int64"), history["days_before"].to_numpy(dtype="float64"))


def predict_trial(
    inputs: TrialInputs, target: int, as_of: date, prior_rate: float | None, drift_prior: drift.Prior | None = None
) -> Forecast:
    """The dashboard's forecast of one trial from `trial_inputs` (predict_completion with DASHBOARD_SEED)."""
    sites = pd.DataFrame(dict(zip(TRIAL_COLUMNS, inputs[:5])))
    history = None if inputs[5] is None else pd.DataFrame({"site": inputs[5], "days_before": inputs[6]})
    return predict_completion(
        sites, target, as_of, seed=DASHBOARD_SEED, prior_rate=prior_rate, history=history, drift_prior=drift_prior
    )


class Forecasts:
    """The forecasts exactly as the pages make them (ui.predict: predict_trial on trial_inputs), each input once per
    process: the command lines' `predict`."""

    def __init__(self):
        self._done: dict[tuple, Forecast] = {}

    def __call__(
        self,
        sites: pd.DataFrame,
        target: int,
        as_of: date,
        prior_rate: float | None,
        history: pd.DataFrame | None = None,
        drift_prior: drift.Prior | None = None,
    ) -> Forecast:
        inputs = trial_inputs(sites, history)
        key = (
            tuple(None if column is None else column.tobytes() for column in inputs),
            target,
            as_of,
            prior_rate,
            drift_prior,
        )
        if key not in self._done:
            self._done[key] = predict_trial(inputs, target, as_of, prior_rate, drift_prior)
        return self._done[key]
