"""A trial's enrollment outlook: its last-patient-in forecast with the figures pages show, and the drift prior its
sponsor's earlier trials teach it."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd

from dashboard import drift, metrics
from dashboard.forecast import TRIAL_COLUMNS, learn_prior
from dashboard.health.milestones import planned_dates, to_date
from dashboard.settings import Settings

# The clinical milestone the enrollment data complete: done on the day enrollment reached its target.
LPI_CODE = "LPI"


@dataclass(frozen=True)
class Outlook:
    """A trial's enrollment outlook: the forecast (None when enrollment is complete) and the figures pages show."""

    protocol_number: str
    planned_lpi: date | None
    forecast: object | None
    p50: date | None
    p_meet_plan: float | None
    days_ahead: int | None
    is_complete: bool
    first_opening: date | None = None  # when no site is open yet: the day the first one opens
    as_of: date | None = None
    needed_probability: float = 0.8  # the probability extra sites should bring the planned LPI to
    completed_on: date | None = None  # when enrollment is complete: the day it reached the target
    rate_change: metrics.RateChange | None = None  # the rate per site-month of the last 3 months against the first 3

    @property
    def sites_needed(self) -> int | None:
        """Extra sites, opening now, that bring P(last patient in by the planned LPI) to `needed_probability`.

        Worked out only when asked (it redraws every site's rates): portfolio views never show it.
        """
        if self.forecast is None or self.p50 is None or self.planned_lpi is None or self.as_of is None:
            return None
        if self.planned_lpi <= self.as_of:
            return None
        return self.forecast.sites_needed(self.planned_lpi, probability=self.needed_probability)


# A sponsor's trials that teach the forecast's drift prior (forecast.prior): those whose first site opened at least a
# year before the as-of date, the most recent of them; a trial never teaches its own.
PRIOR_MIN_AGE_DAYS = 365
PRIOR_MAX_TRIALS = 10
# Trial statuses in which enrollment has closed: a trial's sites fall silent then because it stopped enrolling.
ENROLLMENT_CLOSED = frozenset({"follow_up", "closed"})


def drift_priors(
    inputs: pd.DataFrame, history: pd.DataFrame, trials: pd.DataFrame, protocols: list[str] | None = None
) -> dict[str, drift.Prior]:
    """The drift prior of each trial of `protocols` (default: every trial of `inputs`), learned from the other trials of
    its sponsor: `inputs` and `history` are forecast_inputs and enrollment_history rows of all the sponsor's trials,
    `trials` its trial_summary rows (target and status).

    A trial teaches once its first site opened PRIOR_MIN_AGE_DAYS before the as-of date (the PRIOR_MAX_TRIALS most
    recent such trials, the trial itself left out); with fewer than forecast.prior.MIN_TRIALS it is drift.NO_DRIFT. A
    trial is seen as it stood the day it reached its target, or, when its enrollment closed short of it, on the day of
    its last enrollment: its sites fell silent then because enrollment closed, not because they tired or stopped.
    """
    targets = dict(zip(trials["protocol_number"], pd.to_numeric(trials["n_planned_subjects"], errors="coerce")))
    statuses = dict(zip(trials["protocol_number"], trials["trial_status"]))
    by_trial = dict(tuple(history.groupby("protocol_number", sort=False)))
    teachers = []
    for protocol, rows in inputs.groupby("protocol_number", sort=True):
        rows = rows.reset_index(drop=True)
        age = float((rows["days_open"] + rows["days_since_closed"].fillna(0.0)).max())  # its first site's, at as_of
        timing = forecast_history(rows, by_trial.get(protocol, history.iloc[0:0]))
        if not age >= PRIOR_MIN_AGE_DAYS or timing is None or timing.empty:
            continue
        target = targets.get(protocol)
        if target is not None and not pd.isna(target) and 1 <= int(target) <= len(timing):
            cut = float(np.sort(timing["days_before"].to_numpy())[::-1][int(target) - 1])  # the target-th subject's
        elif statuses.get(protocol) in ENROLLMENT_CLOSED:
            cut = float(timing["days_before"].min())  # its last enrollment
        else:
            cut = 0.0
        teachers.append((age, protocol) + _as_it_stood(rows[list(TRIAL_COLUMNS)], timing, cut))
    teachers.sort(key=lambda t: (t[0], t[1]))
    wanted = list(inputs["protocol_number"].unique()) if protocols is None else protocols
    learned: dict[tuple[str, ...], drift.Prior] = {}  # most trials share their teachers: learn each set once
    out = {}
    for protocol in wanted:
        chosen = [t for t in teachers if t[1] != protocol][:PRIOR_MAX_TRIALS]
        key = tuple(t[1] for t in chosen)
        if key not in learned:
            learned[key] = learn_prior([(sites, timing) for _, _, sites, timing in chosen])
        out[protocol] = learned[key]
    return out


def _as_it_stood(sites: pd.DataFrame, timing: pd.DataFrame, cut: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A trial's sites and history (forecast_history rows) as they stood `cut` days before the as-of date: the sites
    open by then and the subjects they had enrolled, days counted back from then (a site closed since counts as open)."""
    since_closed = sites["days_since_closed"].fillna(0.0).to_numpy(dtype=float)
    closed_before = sites["is_closed"].fillna(False).to_numpy(dtype=bool) & (since_closed >= cut)
    days_open = np.where(closed_before, sites["days_open"], sites["days_open"] + since_closed - cut)
    keep = sites["opens_in_days"].isna().to_numpy() & (days_open > 0)
    site_of = timing["site"].to_numpy()
    seen = timing[(timing["days_before"].to_numpy() >= cut) & keep[site_of]]
    position = np.cumsum(keep) - 1
    out = pd.DataFrame(
        {
            "enrolled": np.bincount(seen["site"].to_numpy(), minlength=len(sites))[keep],
            "days_open": days_open[keep],
            "opens_in_days": np.nan,
            "is_closed": closed_before[keep],
            "days_since_closed": np.where(closed_before, since_closed - cut, np.nan)[keep],
        }
    )
    return out, pd.DataFrame(
        {"site": position[seen["site"].to_numpy()], "days_before": seen["days_before"].to_numpy() - cut}
    )


def enrollment_outlooks(
    summary: pd.DataFrame,
    inputs: pd.DataFrame,
    sites: pd.DataFrame,
    milestones: pd.DataFrame,
    as_of: date,
    predict: Callable,
    settings: Settings,
    history: pd.DataFrame | None = None,
    priors: dict[str, drift.Prior] | None = None,
) -> dict[str, Outlook]:
    """The enrollment outlook of every trial of `summary` (see enrollment_outlook); `history` the
    enrollment.enrollment_history rows of the same sites, for a forecast that sees drift; `priors` each trial's drift
    prior (drift_prior of its sponsor; drift.NO_DRIFT for a trial without one)."""
    planned_lpi = planned_dates(milestones, LPI_CODE)
    # Split once by trial rather than filtering the whole frames for every trial.
    inputs_by_trial = dict(tuple(inputs.groupby("protocol_number", sort=False)))
    sites_by_trial = dict(tuple(sites.groupby("protocol_number", sort=False)))
    history_by_trial = {} if history is None else dict(tuple(history.groupby("protocol_number", sort=False)))
    no_history = None if history is None else history.iloc[0:0]
    return {
        row.protocol_number: enrollment_outlook(
            row,
            inputs_by_trial.get(row.protocol_number, inputs.iloc[0:0]),
            sites_by_trial.get(row.protocol_number, sites.iloc[0:0]),
            planned_lpi.get(row.protocol_number),
            as_of,
            predict,
            settings,
            history_by_trial.get(row.protocol_number, no_history),
            (priors or {}).get(row.protocol_number),
        )
        for row in summary.itertuples(index=False)
    }


def forecast_history(inputs: pd.DataFrame, history: pd.DataFrame | None) -> pd.DataFrame | None:
    """A trial's enrollment history as the forecast takes it: `site` the row of `inputs` (by position) of each
    subject's site, and days_before. None without a history, or when it does not account for exactly the sites'
    enrolled (the forecast then goes without it rather than fail)."""
    if history is None:
        return None
    position = pd.Index(inputs["site_number"]).get_indexer(history["site_number"])
    out = pd.DataFrame({"site": position, "days_before": history["days_before"].to_numpy(dtype=float)})
    if (position < 0).any():
        return None
    if not np.array_equal(np.bincount(position, minlength=len(inputs)), inputs["enrolled"].to_numpy(dtype="int64")):
        return None
    return out


def enrollment_outlook(
    trial_row,
    inputs: pd.DataFrame,
    sites: pd.DataFrame,
    planned_lpi: date | None,
    as_of: date,
    predict: Callable,
    settings: Settings,
    history: pd.DataFrame | None = None,
    prior: drift.Prior | None = None,
) -> Outlook:
    """Forecast one trial's last patient in with `predict` (forecast.predict_completion or a cached wrapper of it),
    with the trial's enrollment history when given (enrollment.enrollment_history rows) and its sponsor's drift prior."""
    target = int(trial_row.n_planned_subjects)
    enrolled = int(inputs["enrolled"].sum()) if not inputs.empty else 0
    inputs = inputs.reset_index(drop=True)
    if target < 1 or enrolled >= target:
        reached = getattr(trial_row, "target_reached_date", None)
        return Outlook(
            trial_row.protocol_number,
            planned_lpi,
            None,
            None,
            None,
            None,
            True,
            completed_on=None if reached is None or pd.isna(reached) else to_date(reached),
        )
    timing = forecast_history(inputs, history)
    change = None if timing is None else metrics.rate_change(inputs, timing)
    prior_rate = metrics.planned_rate_per_site_day(
        target, (to_date(d) for d in sites["planned_activation_date"]), planned_lpi
    )
    result = predict(inputs[list(TRIAL_COLUMNS)], target, as_of, prior_rate, timing, prior)
    if not result.has_forecast:
        return Outlook(trial_row.protocol_number, planned_lpi, result, None, None, None, False, rate_change=change)
    p50 = result.completion.get(0.5)
    p_meet = result.probability_by(planned_lpi) if planned_lpi is not None else None
    days_ahead = (planned_lpi - p50).days if planned_lpi is not None and p50 is not None else None
    first_opening = None
    if not inputs.empty and inputs["opens_in_days"].notna().all():
        first_opening = as_of + timedelta(days=math.ceil(float(inputs["opens_in_days"].min())))
    return Outlook(
        trial_row.protocol_number,
        planned_lpi,
        result,
        p50,
        p_meet,
        days_ahead,
        False,
        first_opening,
        as_of,
        settings.probability_green,
        rate_change=change,
    )
