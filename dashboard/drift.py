"""The enrollment model under drift: site rates that change with time since activation, and sites that stop.

Site i enrolls from its activation as a Poisson process of intensity λ_i·r(t), t its days since activation, with

    r(t) = ρ + (1 − ρ)·e^{−t/T},  T = 180 days by default (Prior.settle_days):

a site starts at λ_i and settles at ρ·λ_i within a year or so (ρ < 1: sites tire; ρ > 1: they warm up; ρ = 1 is the
stationary model of dashboard/forecast). It enrolls until it stops, which it does with a constant hazard η per day.
λ_i ~ Gamma(α, β). Given its enrollment ages t_i1…t_ik over τ_i days open (the last at ℓ_i), and E(x) = ∫₀ˣ r its
exposure, a site's likelihood with λ integrated out is

    Γ(α+k)/Γ(α) · β^α · Π r(t_ij) · [ e^{−ητ} (β+E(τ))^{−(α+k)} + ∫_ℓ^τ η e^{−ηs} (β+E(s))^{−(α+k)} ds ],

the first term for a site still enrolling at τ, the second for one that stopped after its last enrollment (only a site
that enrolled someone can be judged silent: one that never did is a slow one, the Gamma's low end). Its share of the
bracket is the probability the site still enrolls: near 1 for a site that has just opened or enrolled lately, near 0
for one silent for many times its usual gap. α, μ = α/β, ρ and η are fitted by maximum a posteriori, with weak priors
that say "no drift" (log ρ normal around 0, η half-normal around 0): a decline or stops must show in the data to move
the forecast. (log α, log μ, log ρ) are drawn from the Laplace approximation, as the stationary model draws
(log α, log μ); η, small and weakly identified, is held at its estimate.

Forward, a site still enrolling (drawn with its probability) has its posterior rate λ_i ~ Gamma(α+k, β+E(τ)); a
site yet to open draws λ from Gamma(α, β) from its opening day. Each may stop with hazard η, so its expected
intensity x days ahead is λ·[ρ·e^{−ηx} + (1−ρ)·e^{−(τ+x)/T}·e^{−ηx}]: two exponentials shared by every site. The
total cumulative intensity is therefore L + P·G(η, x) + Q·G(1/T + η, x) between openings, G(k, x) = (1 − e^{−kx})/k,
and the day a Gamma(n⁺, 1) draw of it is reached is found by a bracketed Newton iteration. No time grid.

What this buys, measured (dashboard/calibration.py, Methods): where nothing drifts, intervals as calibrated as the
stationary model's and at most 20 % wider; where sites tire and stop, fewer true dates after P90 than the stationary
model, but still far more than 10 %: a trial's own data, months of it, rarely show a slow decline clearly enough, and a
prior that assumed one would widen every stationary forecast. Tried and measured against this: exponential decay to
zero (its uncertainty, extrapolated over years, put most P90s at "never"), a free time scale T, wider or tiring priors
on ρ, heavy-tailed priors, uncertain stop hazards, and weighing a drifting against a steady model by their evidence.

What does move it is a prior that knows the sponsor: `Prior` holds the time scale and the priors on ρ and η, NO_DRIFT is
the default above, and forecast.prior.learn_prior learns one from the sponsor's earlier trials. With it, the
calibration meets the band in both worlds (dashboard.calibration's "sponsor" model).

Pure numpy/scipy; dashboard/forecast (predict) builds the Forecast from what is here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import optimize, special

YEAR = 365.25
# The time scale over which a site's rate moves from its starting level towards its settled one.
SETTLE_DAYS = 180.0
LOG_RHO_BOUNDS = (math.log(0.05), math.log(3.0))
# Normal around log ρ = 0 (no drift), sd 0.15: a settled rate below 74 % of the starting one needs the data to say so.
# The widest prior that keeps the stationary intervals within 20 % of the constant-rate model's (dashboard.calibration).
LOG_RHO_PRIOR_SD = 0.15
ETA_PRIOR_SD = 0.5  # stops per site-year, half-normal around 0
ETA_BOUNDS = (0.0, 3.0)  # stops per site-year
ALPHA_CAP = 1000.0  # forecast.ALPHA_CAP: the Poisson limit
ALPHA_FLOOR = 0.01


@dataclass(frozen=True)
class Prior:
    """What the model assumes before it sees a trial's data: the time scale T over which a site's rate settles, a normal
    prior on log ρ and a (truncated) normal prior on the stop hazard η per site-year.

    The default, NO_DRIFT, says "no drift": a decline or stops must show in the trial's own data to move the forecast.
    `learn_prior` learns one from a sponsor's other trials instead.
    """

    settle_days: float = SETTLE_DAYS
    log_rho: float = 0.0
    log_rho_sd: float = LOG_RHO_PRIOR_SD
    eta: float = 0.0
    eta_sd: float = ETA_PRIOR_SD
    trials: int = 0  # how many trials it was learned from (0: the default)
    eta_seen: float = 0.0  # the stop hazard those trials showed on average, per site-year (eta is its high end)

    def __post_init__(self):
        numbers = (self.settle_days, self.log_rho, self.log_rho_sd, self.eta, self.eta_sd, self.eta_seen)
        if not all(isinstance(x, (int, float)) and math.isfinite(x) for x in numbers):
            raise ValueError(f"a drift prior needs finite numbers, not {numbers!r}")
        if self.settle_days <= 0 or self.log_rho_sd <= 0 or self.eta_sd <= 0:
            raise ValueError("a drift prior needs a positive time scale and positive spreads")

    @property
    def rho(self) -> float:
        """The settled share ρ the prior expects."""
        return math.exp(self.log_rho)

    def penalty(self, thetas: np.ndarray) -> np.ndarray:
        """−log prior of each row of θ (up to a constant)."""
        return (
            0.5 * ((thetas[:, 2] - self.log_rho) / self.log_rho_sd) ** 2
            + 0.5 * ((thetas[:, 3] - self.eta) / self.eta_sd) ** 2
        )


NO_DRIFT = Prior()
# Gauss–Legendre nodes for the stop integral, in y = log(1 + x/x0) over the silent window (x0 the usual gap).
_NODES, _WEIGHTS = np.polynomial.legendre.leggauss(8)


def growth(k, x):
    """G(k, x) = (1 − e^{−kx})/k: what a unit rate decaying at k per day adds over x days (x when k is 0)."""
    x = np.asarray(x, dtype=float)
    if isinstance(k, float) and k > 0.0:  # the usual case (a time scale's 1/T, a hazard): no zero to guard
        with np.errstate(over="ignore"):
            return -np.expm1(-k * x) / k
    k = np.asarray(k, dtype=float)
    safe = np.where(k == 0.0, 1.0, k)
    with np.errstate(over="ignore", invalid="ignore"):
        out = -np.expm1(-k * x) / safe
    return np.where(k == 0.0, x, out)


def shape(rho, t, settle_days: float = SETTLE_DAYS):
    """r(t): a site's rate t days after activation, per unit of its starting rate."""
    return rho + (1.0 - rho) * np.exp(-np.asarray(t, dtype=float) / settle_days)


def exposure(rho, x, settle_days: float = SETTLE_DAYS):
    """E(x) = ∫₀ˣ r."""
    return rho * np.asarray(x, dtype=float) + (1.0 - rho) * growth(1.0 / settle_days, x)


@dataclass(frozen=True)
class Timing:
    """The sites with days open: counts k, days open τ, age at the last enrollment ℓ (0 when none), and every
    enrollment's age (days since its site's activation)."""

    k: np.ndarray
    tau: np.ndarray
    last: np.ndarray
    ages: np.ndarray  # one per enrolled subject


def _site_terms(theta: np.ndarray, t: Timing, T: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each row of θ (batch × 4) and each site: the log-likelihood outside the bracket (but the Π r(t_ij)), log of
    its "still enrolling" term and log of its "stopped" term (batch × sites). One pass for many θ: the optimiser's
    finite differences and the Laplace Hessian each cost about one evaluation."""
    a, m_, lr, h = (theta[:, i, None] for i in range(4))
    alpha = np.exp(a)
    beta = alpha / np.exp(m_)
    rho = np.exp(lr)
    eta = h / YEAR
    m = alpha + t.k
    base = special.gammaln(m) - special.gammaln(alpha) + alpha * np.log(beta)
    log_active = -eta * t.tau - m * np.log(beta + exposure(rho, t.tau, T))
    log_stopped = np.full(log_active.shape, -np.inf)
    # A site that never enrolled is a slow one (the Gamma's low end), not a stopped one: only a site with a rate seen
    # in its own data can be judged silent beyond its usual gap.
    silent = np.flatnonzero((t.tau > t.last) & (t.k > 0))
    if silent.size:
        last, window, ms = t.last[silent], (t.tau - t.last)[silent], m[:, silent]
        # The stopped term's integrand falls off over the site's usual gap x0 after its last enrollment (faster the
        # more it enrolled): integrate in y = log(1 + x/x0), where it is smooth.
        x0 = (beta + exposure(rho, last, T)) / (ms * np.maximum(shape(rho, last, T), 1e-9))
        top = np.log1p(window / x0)[..., None]
        x = x0[..., None] * np.expm1((_NODES + 1.0) / 2.0 * top)
        s = last[:, None] + x
        with np.errstate(divide="ignore"):
            log_integrand = (
                np.log(np.abs(eta))[..., None]
                - np.abs(eta)[..., None] * s
                - ms[..., None] * np.log(beta[..., None] + exposure(rho[..., None], s, T))
                + np.log(x0[..., None] + x)
                + np.log(_WEIGHTS / 2.0 * top)
            )
            peak = np.max(log_integrand, axis=-1)
            peak = np.where(np.isfinite(peak), peak, 0.0)
            log_stopped[:, silent] = np.log(np.sum(np.exp(log_integrand - peak[..., None]), axis=-1)) + peak
    return base, log_active, log_stopped


def logliks(thetas: np.ndarray, t: Timing, T: float = SETTLE_DAYS) -> np.ndarray:
    """The log-likelihood at each row θ = (log α, log μ, log ρ, η per year) of `thetas`, at time scale T."""
    thetas = np.atleast_2d(np.asarray(thetas, dtype=float))
    base, log_active, log_stopped = _site_terms(thetas, t, T)
    rho = np.exp(thetas[:, 2, None])
    events = np.sum(np.log(shape(rho, t.ages[None, :], T)), axis=1)
    return np.sum(base + np.logaddexp(log_active, log_stopped), axis=1) + events


def p_active(theta: np.ndarray, t: Timing, T: float = SETTLE_DAYS) -> np.ndarray:
    """Each site's probability of still enrolling at the as-of date, at θ and time scale T."""
    _, log_active, log_stopped = _site_terms(np.atleast_2d(theta), t, T)
    return np.exp(log_active - np.logaddexp(log_active, log_stopped))[0]


@dataclass(frozen=True)
class Fit:
    """The fitted θ = (log α, log μ, log ρ, η/yr), and the Laplace covariance of its first three (zero rows for any held)."""

    theta: np.ndarray
    cov: np.ndarray  # 3×3 over (log α, log μ, log ρ)
    settle_days: float = SETTLE_DAYS  # the time scale T it was fitted at

    @property
    def alpha(self) -> float:
        return math.exp(self.theta[0])

    @property
    def beta(self) -> float:
        return math.exp(self.theta[0] - self.theta[1])

    @property
    def rho(self) -> float:
        return math.exp(self.theta[2])

    @property
    def eta(self) -> float:
        """Stop hazard per day."""
        return self.theta[3] / YEAR


def fit(t: Timing, start: tuple[float, float], prior: Prior = NO_DRIFT) -> Fit:
    """Fit θ by maximum a posteriori under `prior` from the stationary fit's (log α, log μ) `start`; Laplace covariance
    at the fit."""
    a0, m0 = start
    bounds = [(math.log(ALPHA_FLOOR), math.log(ALPHA_CAP)), (m0 - 30.0, m0 + 30.0), LOG_RHO_BOUNDS, ETA_BOUNDS]
    x0 = np.array(
        [
            min(max(a0, bounds[0][0]), bounds[0][1]),
            m0,
            float(np.clip(prior.log_rho, *LOG_RHO_BOUNDS)),
            float(np.clip(max(prior.eta, 0.05), *ETA_BOUNDS)),
        ]
    )
    step = 1e-5

    def objectives(thetas: np.ndarray) -> np.ndarray:
        return -logliks(thetas, t, prior.settle_days) + prior.penalty(thetas)

    def value_and_gradient(x: np.ndarray) -> tuple[float, np.ndarray]:
        # Central differences, all nine points in one pass (η's lower bound 0 is stepped over: the likelihood is defined
        # a little below it, as the mirror of a small hazard).
        points = np.vstack([x, x + step * np.eye(4), x - step * np.eye(4)])
        f = objectives(points)
        return float(f[0]), (f[1:5] - f[5:9]) / (2 * step)

    result = optimize.minimize(
        value_and_gradient, x0, jac=True, method="L-BFGS-B", bounds=bounds, options={"ftol": 1e-10}
    )
    theta = result.x
    at_cap = bool(theta[0] >= math.log(ALPHA_CAP) - 1e-3)
    free = [1, 2] if at_cap else [0, 1, 2]
    info = _hessian(objectives, theta, free, 1e-3)
    cov = np.zeros((3, 3))
    if np.all(np.isfinite(info)) and np.all(np.linalg.eigvalsh(info) > 0):
        cov[np.ix_(free, free)] = np.linalg.inv(info)
    else:  # no usable curvature: draw the mean rate only, from its own curvature
        i = free.index(1)
        cov[1, 1] = 1.0 / info[i, i] if np.isfinite(info[i, i]) and info[i, i] > 0 else 1.0
    return Fit(theta=theta, cov=cov, settle_days=prior.settle_days)


def _hessian(f, x: np.ndarray, free: list[int], step: float) -> np.ndarray:
    """Central-difference Hessian of f (rows of θ → values) at x over the parameters `free`, in one evaluation of f."""
    n = len(free)
    unit = np.zeros((n, x.size))
    unit[np.arange(n), free] = step
    points = [x]
    points += [x + unit[i] for i in range(n)] + [x - unit[i] for i in range(n)]
    pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
    for i, j in pairs:
        points += [x + unit[i] + unit[j], x + unit[i] - unit[j], x - unit[i] + unit[j], x - unit[i] - unit[j]]
    v = f(np.array(points))
    h = np.zeros((n, n))
    for i in range(n):
        h[i, i] = (v[1 + i] - 2 * v[0] + v[1 + n + i]) / step**2
    for p, (i, j) in enumerate(pairs):
        pp, pm, mp, mm = v[1 + 2 * n + 4 * p : 5 + 2 * n + 4 * p]
        h[i, j] = h[j, i] = (pp - pm - mp + mm) / (4 * step**2)
    return h


def parameter_draws(f: Fit, rng: np.random.Generator, n: int, uncertainty: bool = True):
    """Draw (α, β, ρ) from the Laplace approximation around the fit (or n copies of the fit: plug-in)."""
    centre = f.theta[:3]
    u = np.tile(centre, (n, 1))
    if uncertainty:
        z = rng.standard_normal((n, 3))
        free = np.flatnonzero(np.diag(f.cov) > 0)  # the parameters drawn; the others held at the fit
        u[:, free] += z[:, free] @ np.linalg.cholesky(f.cov[np.ix_(free, free)]).T
    alpha = np.exp(np.clip(u[:, 0], math.log(ALPHA_FLOOR), math.log(ALPHA_CAP)))
    mean_rate = np.exp(np.clip(u[:, 1], centre[1] - 20.0, centre[1] + 20.0))
    rho = np.exp(np.clip(u[:, 2], *LOG_RHO_BOUNDS))
    return alpha, alpha / mean_rate, rho


# --- forward -------------------------------------------------------------------------------------------------------


def added(P, Q, eta: float, x, T: float = SETTLE_DAYS) -> np.ndarray:
    """The intensity added over the next x days by settled rates P (decaying at η, as sites stop) and settling rates Q
    (decaying at 1/T + η): P·G(η, x) + Q·G(1/T + η, x)."""
    return P * growth(eta, x) + Q * growth(1.0 / T + eta, x)


def rate(P, Q, eta: float, x, T: float = SETTLE_DAYS) -> np.ndarray:
    """The total rate x days on: the derivative of `added`."""
    return P * np.exp(-eta * x) + Q * np.exp(-(1.0 / T + eta) * x)


@dataclass(frozen=True)
class Table:
    """The total intensity ahead, per draw: opening days u, and at each the cumulative intensity L and the settled (P)
    and settling (Q) rates just after it (see `added`)."""

    u: np.ndarray
    L: np.ndarray  # draws × openings
    P: np.ndarray
    Q: np.ndarray
    eta: float
    settle_days: float = SETTLE_DAYS


def table(
    rng: np.random.Generator,
    alpha: np.ndarray,
    beta: np.ndarray,
    rho: np.ndarray,
    eta: float,
    k: np.ndarray,
    tau: np.ndarray,
    start: np.ndarray,
    active: np.ndarray,
    settle_days: float = SETTLE_DAYS,
) -> Table:
    """Draw every site's rate (per draw) and build the intensity table.

    `k`, `tau`, `start` and `active` (probability of still enrolling) are the sites that can still enroll: open ones
    (start 0) and ones yet to open (k = τ = 0, start > 0). Sites yet to open on one day are drawn as one Gamma.
    """
    T = settle_days
    is_open = start <= 0
    settled = np.zeros(alpha.size)
    settling = np.zeros(alpha.size)
    if is_open.any():
        ko, to = k[is_open], tau[is_open]
        with np.errstate(over="ignore"):
            lam = rng.standard_gamma(alpha[:, None] + ko[None, :]) / (
                beta[:, None] + exposure(rho[:, None], to[None, :], T)
            )
        p = active[is_open]
        unsure = np.flatnonzero(p < 1.0 - 1e-9)  # most sites are surely still enrolling: draw only for the others
        if unsure.size:
            lam[:, unsure] *= rng.random((lam.shape[0], unsure.size)) < p[unsure][None, :]
        settled = rho * lam.sum(axis=1)
        settling = (1.0 - rho) * np.sum(lam * np.exp(-to[None, :] / T), axis=1)
    days, counts = np.unique(start[~is_open], return_counts=True)
    u = np.r_[0.0, days]
    J = u.size
    L = np.zeros((alpha.size, J))
    P = np.zeros((alpha.size, J))
    Q = np.zeros((alpha.size, J))
    P[:, 0], Q[:, 0] = settled, settling
    if days.size:
        with np.errstate(over="ignore"):
            opening = rng.standard_gamma(alpha[:, None] * counts[None, :]) / beta[:, None]
    for j in range(1, J):
        dx = u[j] - u[j - 1]
        L[:, j] = L[:, j - 1] + added(P[:, j - 1], Q[:, j - 1], eta, dx, T)
        P[:, j] = P[:, j - 1] * math.exp(-eta * dx) + rho * opening[:, j - 1]
        Q[:, j] = Q[:, j - 1] * math.exp(-(1.0 / T + eta) * dx) + (1.0 - rho) * opening[:, j - 1]
    return Table(u, L, P, Q, eta, T)


def intensity_at(t: Table, days) -> np.ndarray:
    """The cumulative intensity from as_of to each of `days`: draws × days (draws when `days` is a number)."""
    d = np.atleast_1d(np.asarray(days, dtype=float))
    j = np.searchsorted(t.u, d, side="right") - 1
    out = np.zeros((t.L.shape[0], d.size))
    on = j >= 0
    if on.any():
        jj = j[on]
        out[:, on] = t.L[:, jj] + added(t.P[:, jj], t.Q[:, jj], t.eta, d[on][None, :] - t.u[jj][None, :], t.settle_days)
    return out[:, 0] if np.ndim(days) == 0 else out


def days_to_reach(t: Table, g: np.ndarray) -> np.ndarray:
    """The day each draw's cumulative intensity reaches its g (inf when it never does: the rates die out first)."""
    j = np.sum(t.L <= g[:, None], axis=1) - 1
    rows = np.arange(g.size)
    left = g - t.L[rows, j]
    P, Q = t.P[rows, j], t.Q[rows, j]
    # What the rates can still add (Q is negative when rates rise, ρ > 1): everything, without stops, while P > 0.
    settled = P / t.eta if t.eta > 0 else np.where(P > 0, np.inf, 0.0)
    reachable = left < settled + Q / (1.0 / t.settle_days + t.eta)

    def gap(x):
        return added(P, Q, t.eta, x, t.settle_days) - left

    # Bracket the root, then Newton's method kept inside the bracket (bisecting when a step leaves it).
    lo = np.zeros(g.size)
    hi = np.where(reachable, np.maximum(left / np.maximum(P + Q, 1e-300), 1.0), np.nan)
    for _ in range(80):
        short = reachable & (gap(hi) < 0)
        if not short.any():
            break
        lo = np.where(short, hi, lo)
        hi = np.where(short, hi * 2.0, hi)
    x = (lo + hi) / 2.0
    for _ in range(60):
        f = gap(x)
        lo = np.where(f < 0, x, lo)
        hi = np.where(f >= 0, x, hi)
        slope = rate(P, Q, t.eta, x, t.settle_days)
        with np.errstate(divide="ignore", invalid="ignore"):
            newton = x - f / slope
        inside = (newton > lo) & (newton < hi) & np.isfinite(newton)
        step = np.where(inside, newton, (lo + hi) / 2.0)
        if np.nanmax(np.abs(step - x) / np.maximum(x, 1.0), initial=0.0) < 1e-6:
            x = step
            break
        x = step
    return np.where(reachable, t.u[j] + x, np.inf)
