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

The package, by responsibility: limits, inputs (checked), fit (the model's parameters), simulation, model (the
Forecast it gives), predict (predict_completion and the dashboard's entry points), prior (a drift prior learned from a
sponsor's earlier trials).
"""

from dashboard.forecast.limits import ALPHA_CAP, ALPHA_FLOOR, HORIZON_DAYS, MIN_FIT_SITES, N_DRAWS, PRIOR_SHAPE, Method
from dashboard.forecast.model import Forecast, sites_needed_cap
from dashboard.forecast.predict import (
    DASHBOARD_SEED,
    MODEL,
    TRIAL_COLUMNS,
    Forecasts,
    TrialInputs,
    _predict,
    predict_completion,
    predict_trial,
    trial_inputs,
)
from dashboard.forecast.prior import learn_prior
from dashboard.metrics import DAYS_PER_MONTH

__all__ = [
    "ALPHA_CAP",
    "ALPHA_FLOOR",
    "DASHBOARD_SEED",
    "DAYS_PER_MONTH",
    "HORIZON_DAYS",
    "MIN_FIT_SITES",
    "MODEL",
    "N_DRAWS",
    "PRIOR_SHAPE",
    "TRIAL_COLUMNS",
    "Forecast",
    "Forecasts",
    "Method",
    "TrialInputs",
    "_predict",
    "predict_completion",
    "predict_trial",
    "sites_needed_cap",
    "trial_inputs",
    "learn_prior",
]
