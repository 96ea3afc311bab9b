"""Last-patient-in forecast: the Poisson-Gamma enrollment model of domain.md §3 (Anisimov & Fedorov 2007).

Each site enrolls as a Poisson process with its own rate; the rates come from Gamma(α, β)
(shape/rate; numpy takes scale = 1/rate). α and β are fitted by maximum likelihood on the sites
that have been open, and their uncertainty is carried into the forecast by drawing (log α, log μ),
μ = α/β the mean rate, from the observed-information (Laplace) approximation: plug-in estimates
give intervals that are too narrow when the history is short and the horizon long.

For each parameter draw, every site that can still enroll has a rate from its posterior
Gamma(α + k, β + τ) (a site yet to open has k = τ = 0, i.e. the fitted Gamma) from the day it
opens; the total rate is then piecewise constant in time, and the day the n⁺-th remaining subject
enrolls is where the cumulative intensity reaches a Gamma(n⁺, 1) draw (the n-th event time of a
Poisson process in intensity time). Sites that share both their opening day and their days open
(every site yet to open on a given day) are drawn as one Gamma, which is exact. The closed form of
domain.md §3 (a moment-matched Gamma for the open sites' total) is checked against this in the tests.

Pure numpy/scipy; cache a trial's forecast per as_of in the caller (the forecast is a picklable
frozen dataclass).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import optimize, special, stats

from dashboard import drift
from dashboard.metrics import DAYS_PER_MONTH

N_DRAWS = 4000
# The forecast with the enrollment history draws every open site's rate and whether it still enrolls, per draw: half
# the draws keep one trial of 100 sites well under 50 ms (bench/forecast.md), and move P10–P90 by about a day.
N_DRAWS_WITH_HISTORY = 2000
# α above this is the Poisson limit (site counts no more variable than chance): the ML α runs to
# infinity for under-dispersed counts, so it is capped here (domain.md §3, numerics).
ALPHA_CAP = 1000.0
ALPHA_FLOOR = 0.01
# Fewer sites with time open than this, or nobody enrolled, and the data are too thin to fit.
MIN_FIT_SITES = 3
# Site-to-site spread assumed with the planned rate when the data are too thin: Gamma shape 2
# (coefficient of variation 0.71: sites differ, but not wildly).
PRIOR_SHAPE = 2.0
# A completion beyond this many days from as_of is reported as no date (None).
HORIZON_DAYS = 36525
# Beyond these an input is a data error, not a trial (and would overflow the arithmetic).
MAX_DAYS = 1e6
MAX_SUBJECTS = 10**9
MAX_RATE = 1e3  # subjects per site per day
# A site that enrolled on the day it opened (days_open 0) counts as open for this long.
MIN_DAYS_OPEN_WITH_ENROLLED = 1.0

Method = Literal["poisson-gamma", "prior"]


def sites_needed_cap(n_sites: int) -> int:
    """Return the most extra sites `Forecast.sites_needed` considers: max(50, 2 × sites in the trial)."""
    return max(50, 2 * n_sites)


@dataclass(frozen=True)
class _Simulation:
    """What it takes to redraw a forecast's site rates exactly: for `Forecast.sites_needed`.

    Only the inputs and the generator's state are kept, not the draws × sites rate table, so a
    cached forecast stays small.
    """

    k: np.ndarray  # enrolled, sites that can still enroll, sorted by opening day
    tau: np.ndarray  # days open, same sites
    start: np.ndarray  # days after as_of each opens (0 if open), same sites
    alpha: np.ndarray  # parameter draws
    beta: np.ndarray
    g: np.ndarray  # Gamma(n⁺, 1) draws: cumulative intensity at which the target is reached
    rng_state: dict[str, Any]  # generator state just before the site rates were drawn
    cap: int
    # The drift model's (drift.py), when the forecast had the enrollment history: each draw's settled share ρ of a
    # site's starting rate, the stop hazard per day, and each site's probability of still enrolling. None: stationary.
    rho: np.ndarray | None = None
    eta: float = 0.0  # stop hazard per day
    active: np.ndarray | None = None

    def intensity(self, rng: np.random.Generator) -> Callable[[Any], np.ndarray]:
        """Draw the site rates (rng at rng_state) and return the cumulative intensity from as_of to given days, per draw."""
        if self.k.size == 0:
            return lambda days: np.zeros((self.g.size,) + np.shape(days))
        if self.rho is not None:
            t = drift.table(rng, self.alpha, self.beta, self.rho, self.eta, self.k, self.tau, self.start, self.active)
            return lambda days: drift.intensity_at(t, days)
        table = _intensity_table(*_group_rates(rng, self.alpha, self.beta, self.k, self.tau, self.start))

        def at(days):
            if np.ndim(days) == 0:
                return _intensity_at(*table, float(days))
            return np.stack([_intensity_at(*table, float(d)) for d in days], axis=1)

        return at

    def new_site_exposure(self, days: float) -> np.ndarray:
        """The intensity a site opening now adds by `days`, per unit of its rate, per draw."""
        if self.rho is None:
            return np.full(self.g.size, days)
        return drift.added(self.rho, 1.0 - self.rho, self.eta, days)


@dataclass(frozen=True)
class Forecast:
    """Last-patient-in forecast of one trial as of a date.

    `completion` maps each quantile to the date cumulative enrollment reaches the target, or None
    when no site is or will be open (or the quantile lies beyond a century). `alpha` and `beta`
    are the fitted (or assumed) Gamma of site rates per day, NaN when there is no forecast.
    """

    as_of: date
    target: int
    enrolled: int
    completion: dict[float, date | None]
    alpha: float
    beta: float
    method: Method
    note: str
    _days: np.ndarray = field(repr=False, compare=False)  # simulated days from as_of to target; inf = never
    _simulation: _Simulation | None = field(repr=False, compare=False, default=None)
    # What the drift model found (NaN / None when it was not used): the share of its starting rate a site settles at,
    # and how many open sites have more likely than not stopped.
    settled_share: float = math.nan
    stopped_sites: int | None = None
    # Answers of sites_needed already worked out: it redraws every site's rates, so a page run that
    # reuses a cached forecast should not pay for it again.
    _answers: dict = field(repr=False, compare=False, default_factory=dict)

    @property
    def has_forecast(self) -> bool:
        """Whether there is a forecast at all (False when the data are too thin and no planned rate was given)."""
        return self._days.size > 0

    def probability_by(self, when: date | datetime | str) -> float:
        """Return the probability that enrollment reaches the target by `when` (NaN when there is no forecast).

        A date before as_of is read as as_of: the forecast knows only whether the target is met now.
        """
        if not self.has_forecast:
            return math.nan
        days = max((_as_date(when, "when") - self.as_of).days, 0)
        return float(np.mean(self._days <= days))

    def sites_needed(self, by: date | datetime | str, probability: float = 0.8) -> int | None:
        """Return how many extra sites, opening at as_of, bring P(target reached by `by`) to `probability`.

        Their rates are drawn from the fitted Gamma (over the parameter draws; common random
        numbers, so more sites never lowers the probability). 0 when the trial is on course
        already; None when no number up to `sites_needed_cap(sites)` suffices, or there is no forecast.
        """
        if isinstance(probability, (str, bytes)) or not 0 < float(probability) < 1:
            raise ValueError(f"probability must be between 0 and 1, not {probability!r}")
        key = (_as_date(by, "by"), float(probability))
        if key not in self._answers:
            self._answers[key] = self._sites_needed(*key)
        return self._answers[key]

    def _sites_needed(self, by: date, probability: float) -> int | None:
        if not self.has_forecast:
            return None
        if self.enrolled >= self.target:
            return 0
        sim = self._simulation
        if sim is None:
            return None
        days = float((_as_date(by, "by") - self.as_of).days)
        if days <= 0:
            return None
        rng = np.random.default_rng()
        rng.bit_generator.state = sim.rng_state
        reached = sim.intensity(rng)(days)
        with np.errstate(divide="ignore", invalid="ignore"):
            need = (sim.g - reached) / sim.new_site_exposure(days)
        return _extra_sites(rng, sim, np.where(sim.g <= reached, 0.0, need), probability)

    def fan_table(self, points: int = 41) -> pd.DataFrame:
        """The fan (see `fan`) on `points` days from as_of to a little past P90 (past P50 × 3 when P90 is beyond the horizon)."""
        finite = self._days[np.isfinite(self._days)] if self.has_forecast else np.empty(0)
        if finite.size == 0:
            return self.fan([])
        p90 = float(np.quantile(np.minimum(self._days, HORIZON_DAYS + 1.0), 0.9))
        end = p90 * 1.05 if p90 <= HORIZON_DAYS else float(np.quantile(finite, 0.5)) * 3
        return self.fan(np.linspace(0.0, max(end, 1.0), points))

    def fan(self, days: Iterable[float], quantiles: Iterable[float] = (0.1, 0.5, 0.9)) -> pd.DataFrame:
        """Quantiles of the cumulative enrolled count `days` after as_of, from the simulated enrollment paths.

        One row per day, a column per quantile (`q10`, `q50`, `q90` for 0.1, 0.5, 0.9). Each simulated path is the
        one whose n⁺-th enrollment falls on that draw's completion day (given it, the enrollments before are
        spread like uniform order statistics in intensity time), so the fan's edges reach the target on the
        completion quantiles. Empty when there is nothing to simulate.
        """
        days = np.asarray(list(days), dtype=float)
        qs = _quantiles(quantiles)
        columns = ["day"] + [f"q{round(q * 100)}" for q in qs]
        sim = self._simulation
        if sim is None or not self.has_forecast or self.enrolled >= self.target or days.size == 0:
            return pd.DataFrame(columns=columns)
        rng = np.random.default_rng()
        rng.bit_generator.state = sim.rng_state
        cum = sim.intensity(rng)(days)  # draws × days
        n_plus = self.target - self.enrolled
        share = np.clip(cum / sim.g[:, None], 0.0, 1.0)
        # One uniform per path, read through each day's binomial: a path's count never falls from one day to the next.
        u = np.random.default_rng(0).random(sim.g.size)[:, None]
        counts = np.where(share >= 1.0, n_plus, stats.binom.ppf(u, n_plus - 1, np.minimum(share, 1.0)))
        table = np.quantile(self.enrolled + counts, qs, axis=0, method="inverted_cdf").T
        return pd.DataFrame(np.column_stack([days, table]), columns=columns)


def _extra_sites(rng: np.random.Generator, sim: _Simulation, need: np.ndarray, probability: float) -> int | None:
    """Return the fewest extra sites whose summed rates cover `need` (extra rate per draw) in `probability` of draws.

    Sites are added a block at a time, each draw's new rates drawn from its own Gamma(α, β) and
    summed, until enough draws are covered; draws not covered by k sites are not covered by fewer.
    """
    n = need.size
    wanted = math.ceil(probability * n - 1e-9)
    sites = np.where(need <= 0, 0.0, np.inf)  # sites each draw needs; inf = not covered yet
    total = np.zeros(n)
    added = 0
    while True:
        covered = np.isfinite(sites)
        if covered.sum() >= wanted:
            return int(np.partition(sites[covered], wanted - 1)[wanted - 1])
        if added >= sim.cap:
            return None
        block = min(25, sim.cap - added)
        with np.errstate(over="ignore"):
            rates = rng.standard_gamma(np.repeat(sim.alpha[:, None], block, axis=1)) / sim.beta[:, None]
            cum = total[:, None] + np.cumsum(rates, axis=1)
        hit = cum >= need[:, None]
        newly = ~covered & hit.any(axis=1)
        sites[newly] = added + 1 + np.argmax(hit[newly], axis=1)
        total = cum[:, -1]
        added += block


def predict_completion(
    sites: pd.DataFrame,
    target: int,
    as_of: date,
    *,
    quantiles: Iterable[float] = (0.1, 0.5, 0.9),
    seed: int | None = None,
    prior_rate: float | None = None,
    history: pd.DataFrame | None = None,
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
    rates are taken as constant (the stationary model). Raises ValueError with a plain message for
    invalid input.
    """
    return _predict(sites, target, as_of, quantiles=quantiles, seed=seed, prior_rate=prior_rate, history=history)


# Which model made a forecast: part of a published snapshot's fingerprint (published.settings_key), so figures
# published by another model are not read as this one's.
MODEL = "poisson-gamma with drift and stops (2026-12)"

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
    closed_ago = sites["days_since_closed"] if "days_since_closed" in sites.columns else pd.Series(np.nan, index=sites.index)
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


def predict_trial(inputs: TrialInputs, target: int, as_of: date, prior_rate: float | None) -> Forecast:
    """The dashboard's forecast of one trial from `trial_inputs` (predict_completion with DASHBOARD_SEED)."""
    sites = pd.DataFrame(dict(zip(TRIAL_COLUMNS, inputs[:5])))
    history = None if inputs[5] is None else pd.DataFrame({"site": inputs[5], "days_before": inputs[6]})
    return predict_completion(sites, target, as_of, seed=DASHBOARD_SEED, prior_rate=prior_rate, history=history)


class Forecasts:
    """The forecasts exactly as the pages make them (ui.predict: predict_trial on trial_inputs), each input once per
    process: the command lines' `predict`."""

    def __init__(self):
        self._done: dict[tuple, Forecast] = {}

    def __call__(self, sites: pd.DataFrame, target: int, as_of: date, prior_rate: float | None,
                 history: pd.DataFrame | None = None) -> Forecast:
        inputs = trial_inputs(sites, history)
        key = (tuple(None if column is None else column.tobytes() for column in inputs), target, as_of, prior_rate)
        if key not in self._done:
            self._done[key] = predict_trial(inputs, target, as_of, prior_rate)
        return self._done[key]


# --- fit ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Fit:
    """Maximum-likelihood Gamma of site rates, with the Laplace covariance of (log α, log μ)."""

    alpha: float
    beta: float
    cov: np.ndarray  # 2×2 over (log α, log μ); log α variance 0 when α is held fixed
    at_cap: bool  # α at the cap: the Poisson limit
    fixed_alpha: bool  # α held at its estimate in the draws (at the cap, or no usable curvature)


def _nb_loglik(u: np.ndarray, k: np.ndarray, tau: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Return the negative-binomial log-likelihood (up to a constant), gradient and Hessian in (log α, log μ)."""
    a, m = u
    alpha = math.exp(a)
    beta = math.exp(a - m)
    bt = beta + tau
    log_ratio = -np.log1p(tau / beta)  # log(β / (β + τ)), exact for large β
    ll = float(np.sum(special.gammaln(alpha + k) - special.gammaln(alpha) + alpha * log_ratio - k * np.log(bt)))
    g_alpha = float(np.sum(special.digamma(alpha + k) - special.digamma(alpha) + log_ratio))
    g_beta = float(np.sum((alpha * tau - k * beta) / (beta * bt)))
    h_aa = float(np.sum(special.polygamma(1, alpha + k) - special.polygamma(1, alpha)))
    h_ab = float(np.sum(tau / (beta * bt)))
    h_bb = float(np.sum((alpha + k) / bt**2) - alpha * tau.size / beta**2)
    jac = np.array([[alpha, 0.0], [beta, -beta]])  # ∂(α, β) / ∂(log α, log μ)
    hess = jac.T @ np.array([[h_aa, h_ab], [h_ab, h_bb]]) @ jac
    hess += g_alpha * alpha * np.array([[1.0, 0.0], [0.0, 0.0]]) + g_beta * beta * np.array([[1.0, -1.0], [-1.0, 1.0]])
    grad = np.array([alpha * g_alpha + beta * g_beta, -beta * g_beta])
    return ll, grad, hess


def _fit(k: np.ndarray, tau: np.ndarray) -> _Fit:
    """Fit Gamma(α, β) to counts k over days open τ (all τ > 0, Σk > 0) by maximum likelihood."""
    m0 = math.log(k.sum() / tau.sum())
    bounds = [(math.log(ALPHA_FLOOR), math.log(ALPHA_CAP)), (m0 - 30.0, m0 + 30.0)]

    def objective(u: np.ndarray) -> tuple[float, np.ndarray]:
        ll, grad, _ = _nb_loglik(u, k, tau)
        return -ll, -grad

    result = optimize.minimize(objective, np.array([0.0, m0]), jac=True, method="L-BFGS-B", bounds=bounds)
    a, m = result.x
    at_cap = bool(a >= math.log(ALPHA_CAP) - 1e-6)
    _, _, hess = _nb_loglik(result.x, k, tau)
    info = -hess
    cov = np.zeros((2, 2))
    fixed_alpha = at_cap or not np.all(np.linalg.eigvalsh(info) > 0)
    if fixed_alpha:
        # At the cap the likelihood is flat in α (any larger α fits as well): hold α there and
        # draw only the mean rate. Without usable curvature elsewhere, likewise.
        cov[1, 1] = 1.0 / max(info[1, 1], 1e-12)
    else:
        cov = np.linalg.inv(info)
    alpha = math.exp(a)
    return _Fit(alpha=alpha, beta=alpha / math.exp(m), cov=cov, at_cap=at_cap, fixed_alpha=fixed_alpha)


def _parameter_draws(fit: _Fit, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Draw (α, β) from the Laplace approximation N((log α̂, log μ̂), cov); log α is kept within its bounds."""
    centre = np.array([math.log(fit.alpha), math.log(fit.alpha / fit.beta)])
    z = rng.standard_normal((n, 2))
    if fit.fixed_alpha:
        u = centre + z * np.array([0.0, math.sqrt(fit.cov[1, 1])])
    else:
        u = centre + z @ np.linalg.cholesky(fit.cov).T
    alpha = np.exp(np.clip(u[:, 0], math.log(ALPHA_FLOOR), math.log(ALPHA_CAP)))
    # Only absurd data (a few sites with thousands enrolled in a day) spread log μ this far.
    mean_rate = np.exp(np.clip(u[:, 1], centre[1] - 20.0, centre[1] + 20.0))
    return alpha, alpha / mean_rate


# --- simulation ---------------------------------------------------------------------------------


def _group_rates(
    rng: np.random.Generator, alpha: np.ndarray, beta: np.ndarray, k: np.ndarray, tau: np.ndarray, start: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Return the distinct opening days u and, per parameter draw, the total rate of the sites opening on each: draws × days.

    Each site's rate is Gamma(α + k, β + τ). Sites that open on the same day with the same days open τ share the
    scale, so their sum is exactly Gamma(Σ(α + k), β + τ): one draw for them all. That is every site yet to open on a
    given day (k = τ = 0), which is most of a trial in start-up. Sites with different τ are drawn one by one: merging
    them into one moment-matched Gamma was tried and puts P90 well off (17 % late for a trial with one site doing
    most of the enrolling and α near 0.2), which would make the intervals dishonest.
    """
    order = np.lexsort((tau, start))
    start, tau, k = start[order], tau[order], k[order]
    same = np.r_[True, (np.diff(start) != 0) | (np.diff(tau) != 0)]
    first = np.flatnonzero(same)  # the first site of each (start, τ) group
    n_sites = np.diff(np.r_[first, start.size])
    shape = alpha[:, None] * n_sites[None, :] + np.add.reduceat(k, first)[None, :]
    with np.errstate(over="ignore"):
        rates = rng.standard_gamma(shape) / (beta[:, None] + tau[first][None, :])
    u, day_first = np.unique(start[first], return_index=True)
    return u, np.add.reduceat(rates, day_first, axis=1)


def _intensity_table(u: np.ndarray, group_rate: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return the opening days u, the total rate from each u on, and the cumulative intensity at each u.

    `group_rate` is draws × opening days (_group_rates); the total rate is constant between openings.
    """
    rate = np.cumsum(group_rate, axis=1)
    cum = np.zeros_like(rate)
    if u.size > 1:
        with np.errstate(over="ignore", invalid="ignore"):
            cum[:, 1:] = np.cumsum(rate[:, :-1] * np.diff(u), axis=1)
    return u, rate, cum


def _intensity_at(u: np.ndarray, rate: np.ndarray, cum: np.ndarray, days: float) -> np.ndarray:
    """Return the cumulative intensity (expected enrollments) from as_of to `days`, per draw."""
    j = int(np.searchsorted(u, days, side="right")) - 1
    if j < 0:
        return np.zeros(rate.shape[0])
    return cum[:, j] + rate[:, j] * (days - u[j])


def _days_to_reach(u: np.ndarray, rate: np.ndarray, cum: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Return the day each draw's cumulative intensity reaches its g (inf when the rate runs out first)."""
    j = np.sum(cum <= g[:, None], axis=1) - 1
    rows = np.arange(g.size)
    r = rate[rows, j]
    with np.errstate(divide="ignore", invalid="ignore"):
        days = u[j] + (g - cum[rows, j]) / r
    return np.where(r > 0, days, np.inf)


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
        spread = "site rates vary no more than chance (Poisson limit)" if fit.at_cap else f"site-to-site spread α = {alpha:.2g}"
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
        return _predict_drift(fit, timing, k, tau, start, can_enroll, as_of, target, enrolled, qs, note, rng,
                              parameter_uncertainty, n_draws or N_DRAWS_WITH_HISTORY)
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
        return Forecast(as_of, target, enrolled, {q: None for q in qs}, alpha, beta, method, note, np.full(n_draws, np.inf), sim)

    days = _days_to_reach(*_intensity_table(*_group_rates(rng, alpha_d, beta_d, sim.k, sim.tau, sim.start)), g)
    return Forecast(as_of, target, enrolled, _completion(days, qs, as_of), alpha, beta, method, note, days, sim)


# --- under drift (drift.py) ---------------------------------------------------------------------


def _predict_drift(
    fit: _Fit, timing: drift.Timing, k: np.ndarray, tau: np.ndarray, start: np.ndarray, can_enroll: np.ndarray,
    as_of: date, target: int, enrolled: int, qs: list[float], note: str, rng: np.random.Generator,
    parameter_uncertainty: bool, n_draws: int,
) -> Forecast:
    """The forecast with the enrollment history: rates that may decay with time since activation, sites that may stop."""
    has_data = tau > 0
    found = drift.fit(timing, (math.log(fit.alpha), math.log(fit.alpha / fit.beta)))
    active = np.ones(k.size)
    active[has_data] = drift.p_active(found.theta, timing)
    alpha_d, beta_d, rho_d = drift.parameter_draws(found, rng, n_draws, parameter_uncertainty)
    g = rng.standard_gamma(float(target - enrolled), size=n_draws)
    order = np.argsort(start[can_enroll], kind="stable")
    sim = _Simulation(
        k=k[can_enroll][order], tau=tau[can_enroll][order], start=start[can_enroll][order],
        alpha=alpha_d, beta=beta_d, g=g, rng_state=rng.bit_generator.state, cap=sites_needed_cap(int(k.size)),
        rho=rho_d, eta=found.eta, active=active[can_enroll][order],
    )
    is_open = can_enroll & (start <= 0) & has_data
    stopped = int(np.sum(active[is_open] < 0.5))
    settled = found.rho
    note = note.rstrip(".") + "; " + _drift_words(settled, stopped) + "."
    if sim.k.size == 0:
        return Forecast(as_of, target, enrolled, {q: None for q in qs}, found.alpha, found.beta, "poisson-gamma",
                        f"No site is open or planned to open: {target - enrolled} still to enroll.",
                        np.full(n_draws, np.inf), sim, settled_share=settled, stopped_sites=stopped)
    t = drift.table(rng, alpha_d, beta_d, rho_d, found.eta, sim.k, sim.tau, sim.start, sim.active)
    days = drift.days_to_reach(t, g)
    return Forecast(as_of, target, enrolled, _completion(days, qs, as_of), found.alpha, found.beta, "poisson-gamma",
                    note, days, sim, settled_share=settled, stopped_sites=stopped)


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
        raise ValueError(f"history has {counts[i]} subject(s) for site {sites.index[i]!r}, sites.enrolled says {int(k[i])}")
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


# --- input --------------------------------------------------------------------------------------


def _as_date(value: Any, name: str) -> date:
    """Return value as a date; ValueError when it is not one."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if not isinstance(value, (str, np.datetime64)):
        raise ValueError(f"{name} must be a date, not {value!r}")
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"{name} must be a date, not {value!r}") from None
    if pd.isna(stamp):
        raise ValueError(f"{name} must be a date, not {value!r}")
    return stamp.date()


def _target(target: Any) -> int:
    """Return the target as an int; ValueError unless it is a whole number ≥ 1."""
    if isinstance(target, (bool, str, bytes)):
        raise ValueError(f"target must be a whole number of subjects, not {target!r}")
    try:
        value = float(target)
    except (TypeError, ValueError):
        raise ValueError(f"target must be a whole number of subjects, not {target!r}") from None
    if not math.isfinite(value) or value != round(value):
        raise ValueError(f"target must be a whole number of subjects, not {target!r}")
    if value < 1:
        raise ValueError(f"target must be at least 1 subject, not {target!r}")
    if value > MAX_SUBJECTS:
        raise ValueError(f"target of {target!r} subjects is implausibly large")
    return int(value)


def _quantiles(quantiles: Iterable[float]) -> list[float]:
    """Return the quantiles as floats; ValueError unless each lies strictly between 0 and 1."""
    try:
        qs = [float(q) for q in quantiles]
    except (TypeError, ValueError):
        raise ValueError(f"quantiles must be numbers between 0 and 1, not {quantiles!r}") from None
    if not all(0 < q < 1 for q in qs):
        raise ValueError(f"quantiles must be between 0 and 1 (exclusive), not {qs}")
    return qs


def _prior_rate(prior_rate: Any) -> float | None:
    """Return the planned rate per site-day, or None when there is none (None, NaN or 0)."""
    if prior_rate is None:
        return None
    try:
        value = float(prior_rate)
    except (TypeError, ValueError):
        raise ValueError(f"prior_rate must be subjects per site per day, not {prior_rate!r}") from None
    if math.isnan(value) or value == 0:
        return None
    if not 0 < value <= MAX_RATE:
        raise ValueError(f"prior_rate must be a positive rate per site per day, not {prior_rate!r}")
    return value


def _column(sites: pd.DataFrame, name: str) -> np.ndarray:
    """Return a column as floats (NaN where missing); ValueError when it holds something else."""
    try:
        values = pd.to_numeric(sites[name], errors="raise")
        return np.asarray(values.to_numpy(dtype=float, na_value=np.nan), dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"sites.{name} must be numbers") from None


def _site_arrays(sites: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Check the sites frame; return enrolled, days open, day each site opens (0 if open) and can-still-enroll."""
    if not isinstance(sites, pd.DataFrame):
        raise ValueError(f"sites must be a DataFrame with one row per site, not {type(sites).__name__}")
    missing = [c for c in ("enrolled", "days_open") if c not in sites.columns]
    if missing:
        raise ValueError(f"sites is missing the column{'s' if len(missing) > 1 else ''} {', '.join(missing)}")
    n = len(sites)
    k = _column(sites, "enrolled")
    tau = _column(sites, "days_open")
    opens_in = _column(sites, "opens_in_days") if "opens_in_days" in sites.columns else np.full(n, np.nan)
    pending = ~np.isnan(opens_in)
    if "is_closed" in sites.columns:
        closed = _closed_flags(sites["is_closed"])
    else:
        closed = np.zeros(n, dtype=bool)

    # A site not yet active may have no counts at all; an active one must have them.
    k = np.where(pending & np.isnan(k), 0.0, k)
    tau = np.where(pending & np.isnan(tau), 0.0, tau)
    for name, values in (("enrolled", k), ("days_open", tau)):
        if np.isnan(values).any():
            raise ValueError(f"sites.{name} is missing for {int(np.isnan(values).sum())} active site(s)")
        if np.isinf(values).any():
            raise ValueError(f"sites.{name} must be finite")
        if (values < 0).any():
            raise ValueError(f"sites.{name} cannot be negative")
        if (values > (MAX_SUBJECTS if name == "enrolled" else MAX_DAYS)).any():
            raise ValueError(f"sites.{name} holds an implausibly large value")
    if (k != np.round(k)).any():
        raise ValueError("sites.enrolled must be whole numbers")
    if (opens_in < 0).any() or (opens_in > MAX_DAYS).any():
        raise ValueError("sites.opens_in_days must be a finite number of days ≥ 0 (or missing for an active site)")

    tau = np.where((k > 0) & (tau < MIN_DAYS_OPEN_WITH_ENROLLED), MIN_DAYS_OPEN_WITH_ENROLLED, tau)
    start = np.where(pending, opens_in, 0.0)
    return k, tau, start, ~closed


def _closed_flags(column: pd.Series) -> np.ndarray:
    """Return is_closed as bools (missing = open); ValueError for anything but booleans or 0/1."""
    if pd.api.types.is_bool_dtype(column.dtype):
        return column.to_numpy(dtype=bool, na_value=False)
    values = column.to_numpy(dtype=object)
    flags = np.zeros(values.size, dtype=bool)
    for i, v in enumerate(values):
        if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)):
            continue
        if isinstance(v, (bool, np.bool_)) or (isinstance(v, (int, float, np.integer, np.floating)) and v in (0, 1)):
            flags[i] = bool(v)
        else:
            raise ValueError(f"sites.is_closed must be true or false, not {v!r}")
    return flags
