"""What a forecast is: its limits and its draws, the simulated outcomes of one trial (Forecast: completion
quantiles, the fan, the chance of meeting the plan, the extra sites needed)."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from dashboard import drift
from dashboard.forecast.inputs import _as_date, _quantiles
from dashboard.forecast.limits import HORIZON_DAYS, Method
from dashboard.forecast.simulation import _group_rates, _intensity_at, _intensity_table


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
    settle_days: float = drift.SETTLE_DAYS  # the drift model's time scale T

    def intensity(self, rng: np.random.Generator) -> Callable[[Any], np.ndarray]:
        """Draw the site rates (rng at rng_state) and return the cumulative intensity from as_of to given days, per draw."""
        if self.k.size == 0:
            return lambda days: np.zeros((self.g.size,) + np.shape(days))
        if self.rho is not None:
            t = drift.table(
                rng,
                self.alpha,
                self.beta,
                self.rho,
                self.eta,
                self.k,
                self.tau,
                self.start,
                self.active,
                self.settle_days,
            )
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
        return drift.added(self.rho, 1.0 - self.rho, self.eta, days, self.settle_days)


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
