"""Fitting the Poisson-Gamma model to the sites' enrollment: the negative-binomial likelihood, the fit, and draws of
its parameters (their uncertainty, carried into the forecast)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import optimize, special

from dashboard.forecast.limits import ALPHA_CAP, ALPHA_FLOOR

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
