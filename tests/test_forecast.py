"""Last-patient-in forecast (domain.md §3): the fit, calibration on simulated trials, the closed form, edge cases."""

import math
import pickle
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import stats

from dashboard import calibration as worlds
from dashboard.forecast import (
    ALPHA_CAP,
    DAYS_PER_MONTH,
    Forecast,
    _predict,
    predict_completion,
    sites_needed_cap,
)

AS_OF = date(2026, 1, 1)


def open_sites(enrolled, days_open):
    return pd.DataFrame({"enrolled": enrolled, "days_open": days_open})


def simulated_sites(rng, n_sites, alpha, beta, days=(30, 400)):
    """One row per site open a random number of days, counts drawn from the Poisson-Gamma model."""
    tau = rng.uniform(*days, n_sites)
    return open_sites(rng.poisson(rng.gamma(alpha, 1 / beta, n_sites) * tau), tau)


# --- the fit ------------------------------------------------------------------------------------


def test_maximum_likelihood_recovers_alpha_and_beta_within_10_percent():
    """3,000 sites from Gamma(α 1.5, β 50/day): the fit is within 10 % of each (its standard error is about 4 %)."""
    sites = simulated_sites(np.random.default_rng(7), 3000, 1.5, 50.0)
    fc = _predict(sites, int(sites.enrolled.sum()) + 100, AS_OF, seed=1, n_draws=200)
    assert fc.method == "poisson-gamma"
    assert fc.alpha == pytest.approx(1.5, rel=0.10)
    assert fc.beta == pytest.approx(50.0, rel=0.10)


def test_under_dispersed_counts_cap_alpha_at_the_poisson_limit():
    """Every site enrolling at exactly the same pace: α runs to the cap and the note says so."""
    fc = predict_completion(open_sites([6] * 10, [180.0] * 10), 200, AS_OF, seed=1)
    assert fc.alpha == pytest.approx(ALPHA_CAP)
    assert fc.alpha / fc.beta == pytest.approx(60 / 1800, rel=1e-3)
    assert "Poisson limit" in fc.note
    assert all(d is not None and d > AS_OF for d in fc.completion.values())


# --- calibration on trials simulated from the model ---------------------------------------------


def simulate_trial(rng, short_history):
    """A trial drawn from the model (dashboard.calibration's steady world): (sites at the census, target, true days)."""
    sites, _, target, true_days = worlds.simulate_trial(rng, "stationary", short_history)
    return sites, target, true_days


@pytest.fixture(scope="module")
def calibration():
    """600 simulated trials (every other one a short history with a long horizon): tails of the full and the plug-in forecast."""
    rng = np.random.default_rng(2026)
    rows = []
    for i in range(600):
        short = i % 2 == 0
        sites, target, true_days = simulate_trial(rng, short)
        full = _predict(sites, target, AS_OF, seed=i, n_draws=1000)
        row = {"short": short, "full": worlds.tail(full.completion, true_days), "plug_in": None}
        if short:
            plug_in = _predict(sites, target, AS_OF, seed=i, n_draws=1000, parameter_uncertainty=False)
            row["plug_in"] = worlds.tail(plug_in.completion, true_days)
        rows.append(row)
    return pd.DataFrame(rows)


def test_p10_p90_contains_the_true_completion_about_80_percent_of_the_time(calibration):
    tails = calibration["full"]
    assert 0.74 <= (tails == 0).mean() <= 0.86
    assert 0.05 <= (tails == -1).mean() <= 0.15
    assert 0.05 <= (tails == 1).mean() <= 0.15


def test_short_histories_with_long_horizons_stay_calibrated(calibration):
    tails = calibration.loc[calibration.short, "full"]
    assert 0.72 <= (tails == 0).mean() <= 0.88


def test_plug_in_estimates_without_parameter_uncertainty_are_far_too_narrow_on_short_histories(calibration):
    """The parameter draws are what make the intervals honest: without them coverage drops by more than 20 points."""
    short = calibration[calibration.short]
    full, plug_in = (short.full == 0).mean(), (short.plug_in == 0).mean()
    assert plug_in < full - 0.20
    assert plug_in < 0.70


# --- closed form against Monte Carlo --------------------------------------------------------------


@pytest.mark.parametrize(
    ("n_sites", "alpha", "beta", "remaining"), [(20, 1.5, 60.0, 150), (5, 0.8, 40.0, 30), (60, 3.0, 100.0, 600)]
)
def test_closed_form_agrees_with_monte_carlo_at_fixed_alpha_beta(n_sites, alpha, beta, remaining):
    """All sites open, α and β fixed: T⁺ = B·BetaPrime(n⁺, A) (domain.md §3) matches P10/P50/P90 within 1.5 %."""
    sites = simulated_sites(np.random.default_rng(n_sites), n_sites, alpha, beta)
    k, tau = sites.enrolled.to_numpy(), sites.days_open.to_numpy()
    target = int(k.sum()) + remaining
    fc = _predict(sites, target, AS_OF, seed=3, n_draws=40_000, parameters=(alpha, beta))
    mean = np.sum((alpha + k) / (beta + tau))
    var = np.sum((alpha + k) / (beta + tau) ** 2)
    closed = stats.betaprime(remaining, mean**2 / var, scale=mean / var)
    for q, on in fc.completion.items():
        days = closed.ppf(q)
        assert abs((on - AS_OF).days - days) <= max(0.015 * days, 1.0), q


SKEWED = pd.DataFrame({"enrolled": [30, 0, 0, 1, 0, 0], "days_open": [300.0, 300, 300, 300, 5, 5]})


@pytest.mark.parametrize(
    ("sites", "alpha", "beta", "remaining"),
    [
        (simulated_sites(np.random.default_rng(20), 20, 1.5, 60.0), 1.5, 60.0, 150),
        (simulated_sites(np.random.default_rng(5), 5, 0.8, 40.0), 0.8, 40.0, 30),
        # One site does nearly all the enrolling and α is small: a moment-matched total puts P90 17 % late here.
        (SKEWED, 0.17, 7.75, 40),
        (SKEWED, 0.17, 7.75, 10),
    ],
    ids=["20 sites", "5 sites", "skewed, 40 to go", "skewed, 10 to go"],
)
def test_the_forecast_matches_a_draw_of_every_sites_rate(sites, alpha, beta, remaining):
    """Drawing every site's rate independently here (the model itself) gives the forecast's P10/P50/P90 within 2 %."""
    k, tau = sites.enrolled.to_numpy(dtype=float), sites.days_open.to_numpy()
    fc = _predict(sites, int(k.sum()) + remaining, AS_OF, seed=3, n_draws=40_000, parameters=(alpha, beta))
    rng = np.random.default_rng(99)
    total_rate = (rng.gamma(alpha + k, 1.0 / (beta + tau), size=(100_000, len(k)))).sum(axis=1)
    exact_days = rng.gamma(remaining, 1.0, size=100_000) / total_rate
    for q, on in fc.completion.items():
        days = float(np.quantile(exact_days, q))
        assert abs((on - AS_OF).days - days) <= max(0.02 * days, 1.0), q


# --- reading a forecast -----------------------------------------------------------------------------


def trial_with_pending_sites():
    """30 sites open (α 2, β 60/day) and 10 opening within four months; 400 still to enroll."""
    rng = np.random.default_rng(11)
    sites = simulated_sites(rng, 30, 2.0, 60.0)
    pending = pd.DataFrame({"enrolled": 0, "days_open": 0.0, "opens_in_days": rng.uniform(0, 120, 10)})
    sites = pd.concat([sites, pending], ignore_index=True)
    return sites, int(sites.enrolled.sum()) + 400


@pytest.fixture(scope="module")
def forecast_with_pending_sites():
    return predict_completion(*trial_with_pending_sites(), AS_OF, seed=5)


def test_quantile_dates_are_ordered_and_match_probability_by(forecast_with_pending_sites):
    fc = forecast_with_pending_sites
    assert isinstance(fc, Forecast) and fc.method == "poisson-gamma"
    p10, p50, p90 = (fc.completion[q] for q in (0.1, 0.5, 0.9))
    assert AS_OF < p10 < p50 < p90
    for q, on in fc.completion.items():
        assert fc.probability_by(on) >= q > fc.probability_by(on - timedelta(days=1))
    assert fc.probability_by(AS_OF) == 0.0
    assert "10 sites yet to open" in fc.note


def test_same_seed_same_forecast(forecast_with_pending_sites):
    fc = forecast_with_pending_sites
    again = predict_completion(*trial_with_pending_sites(), AS_OF, seed=5)
    assert again.completion == fc.completion
    assert again.sites_needed(fc.completion[0.5]) == fc.sites_needed(fc.completion[0.5])


def test_sites_needed_is_zero_when_on_course_and_grows_as_the_date_nears(forecast_with_pending_sites):
    fc = forecast_with_pending_sites
    p90 = fc.completion[0.9]
    assert fc.sites_needed(p90, 0.8) == 0
    p50 = fc.completion[0.5]
    needed = [fc.sites_needed(p50 - timedelta(days=d), 0.8) for d in (0, 30, 60)]
    assert 0 < needed[0] <= needed[1] <= needed[2]
    assert fc.sites_needed(p50, 0.6) <= fc.sites_needed(p50, 0.8) <= fc.sites_needed(p50, 0.95)


def test_sites_needed_says_none_suffices_for_a_date_too_close():
    fc = predict_completion(simulated_sites(np.random.default_rng(3), 10, 2.0, 60.0), 5000, AS_OF, seed=1)
    assert fc.sites_needed(AS_OF + timedelta(days=30)) is None
    assert sites_needed_cap(10) == 50 and sites_needed_cap(40) == 80


def test_extra_sites_found_needed_do_bring_the_probability_to_80_percent(forecast_with_pending_sites):
    """Open the suggested number of extra sites (rates from the fitted Gamma) and P(by the date) reaches 0.8."""
    fc = forecast_with_pending_sites
    by = fc.completion[0.5] - timedelta(days=30)
    extra = fc.sites_needed(by, 0.8)
    sites, target = trial_with_pending_sites()
    now = pd.DataFrame({"enrolled": 0, "days_open": 0.0, "opens_in_days": np.zeros(extra)})
    with_extra = predict_completion(pd.concat([sites, now], ignore_index=True), target, AS_OF, seed=6)
    assert with_extra.probability_by(by) == pytest.approx(0.8, abs=0.05)


# --- edge cases ---------------------------------------------------------------------------------


def test_target_met_completes_on_as_of():
    fc = predict_completion(open_sites([30, 40, 35], [200.0, 200.0, 200.0]), 100, AS_OF, seed=1)
    assert fc.completion == {0.1: AS_OF, 0.5: AS_OF, 0.9: AS_OF}
    assert fc.probability_by(AS_OF) == 1.0
    assert fc.sites_needed(AS_OF + timedelta(days=10)) == 0
    assert "Target reached" in fc.note


def test_target_met_even_when_too_thin_to_fit():
    fc = predict_completion(open_sites([5], [10.0]), 5, AS_OF)
    assert fc.completion[0.5] == AS_OF and fc.probability_by(AS_OF) == 1.0


def test_nothing_enrolled_uses_the_planned_rate_updated_by_the_empty_sites():
    """Ten sites open 30 days, nobody enrolled: the plan's 1 per site-month, shrunk by the month without anyone."""
    sites = open_sites([0] * 10, [30.0] * 10)
    rate = 1 / DAYS_PER_MONTH
    fc = predict_completion(sites, 100, AS_OF, seed=1, prior_rate=rate)
    assert fc.method == "prior" and "planned" in fc.note
    assert fc.alpha == 2.0 and fc.beta == pytest.approx(2.0 / rate)
    posterior_rate = 10 * 2.0 / (2.0 / rate + 30)  # each site's posterior mean × sites
    assert (fc.completion[0.5] - AS_OF).days == pytest.approx(100 / posterior_rate, rel=0.15)


def test_nothing_enrolled_and_no_planned_rate_is_no_forecast():
    fc = predict_completion(open_sites([0] * 10, [30.0] * 10), 100, AS_OF)
    assert fc.completion == {0.1: None, 0.5: None, 0.9: None}
    assert "no planned rate" in fc.note
    assert math.isnan(fc.probability_by(AS_OF + timedelta(days=400)))
    assert fc.sites_needed(AS_OF + timedelta(days=400)) is None


def test_no_active_sites_is_no_completion_date():
    closed = pd.DataFrame({"enrolled": [3, 5, 2], "days_open": [100.0, 150.0, 90.0], "is_closed": True})
    fc = predict_completion(closed, 50, AS_OF, seed=1)
    assert fc.method == "poisson-gamma"
    assert fc.completion == {0.1: None, 0.5: None, 0.9: None}
    assert fc.probability_by(AS_OF + timedelta(days=10_000)) == 0.0
    assert "No site is open" in fc.note
    assert fc.sites_needed(AS_OF + timedelta(days=3650)) is not None  # new sites could still do it


def test_no_sites_at_all():
    fc = predict_completion(open_sites([], []), 50, AS_OF, prior_rate=0.03)
    assert fc.completion[0.5] is None


def test_only_sites_yet_to_open_forecast_from_their_opening_at_the_planned_rate():
    pending = pd.DataFrame({"enrolled": 0, "days_open": 0.0, "opens_in_days": [30.0, 30.0, 30.0, 30.0]})
    rate = 0.05
    fc = predict_completion(pending, 60, AS_OF, seed=2, prior_rate=rate)
    assert fc.method == "prior"
    assert fc.completion[0.1] > AS_OF + timedelta(days=30)
    assert (fc.completion[0.5] - AS_OF).days == pytest.approx(30 + 60 / (4 * rate), rel=0.2)
    assert predict_completion(pending, 60, AS_OF).completion[0.5] is None


def test_one_site_uses_the_plan_and_its_own_data():
    fast = predict_completion(open_sites([20], [100.0]), 60, AS_OF, seed=1, prior_rate=0.05)
    slow = predict_completion(open_sites([1], [100.0]), 60 - 19, AS_OF, seed=1, prior_rate=0.05)
    assert fast.method == slow.method == "prior"
    assert fast.completion[0.5] < slow.completion[0.5]  # same 40 to go, the busier site gets there first


def test_a_site_enrolling_on_its_first_day_is_not_an_error():
    sites = open_sites([1, 2, 3, 1], [0.0, 40.0, 60.0, 20.0])
    assert predict_completion(sites, 30, AS_OF, seed=1).completion[0.5] is not None


def test_dates_beyond_a_century_are_no_date():
    fc = predict_completion(open_sites([1, 0, 0], [300.0, 300.0, 300.0]), 100_000, AS_OF, seed=1)
    assert fc.completion[0.9] is None


@pytest.mark.parametrize(
    ("sites", "target", "message"),
    [
        (pd.DataFrame({"enrolled": [1]}), 10, "missing the column days_open"),
        (pd.DataFrame({"n": [1]}), 10, "missing the columns enrolled, days_open"),
        (open_sites([-1, 2, 3], [10.0, 10.0, 10.0]), 10, "enrolled cannot be negative"),
        (open_sites([1, 2, 3], [10.0, -5.0, 10.0]), 10, "days_open cannot be negative"),
        (open_sites([1.5, 2, 3], [10.0, 10.0, 10.0]), 10, "whole numbers"),
        (open_sites(["a", 2, 3], [10.0, 10.0, 10.0]), 10, "enrolled must be numbers"),
        (open_sites([None, 2, 3], [10.0, 10.0, 10.0]), 10, "missing for 1 active site"),
        (open_sites([1, 2, 3], [10.0, 10.0, 10.0]), 0, "at least 1"),
        (open_sites([1, 2, 3], [10.0, 10.0, 10.0]), 2.5, "whole number"),
        (open_sites([1, 2, 3], [10.0, 10.0, 10.0]), "ten", "whole number"),
        (pd.DataFrame({"enrolled": [0], "days_open": [0.0], "opens_in_days": [-3.0]}), 10, "opens_in_days"),
        (pd.DataFrame({"enrolled": [0], "days_open": [0.0], "is_closed": ["maybe"]}), 10, "is_closed"),
        ([{"enrolled": 1, "days_open": 10}], 10, "DataFrame"),
    ],
)
def test_invalid_input_is_a_plain_value_error(sites, target, message):
    with pytest.raises(ValueError, match=message):
        predict_completion(sites, target, AS_OF)


def test_invalid_dates_and_options_are_plain_value_errors():
    sites = open_sites([1, 2, 3], [10.0, 10.0, 10.0])
    with pytest.raises(ValueError, match="as_of must be a date"):
        predict_completion(sites, 10, "not a date")
    with pytest.raises(ValueError, match="quantiles"):
        predict_completion(sites, 10, AS_OF, quantiles=(0.1, 1.0))
    with pytest.raises(ValueError, match="prior_rate"):
        predict_completion(sites, 10, AS_OF, prior_rate=-0.1)
    fc = predict_completion(sites, 10, AS_OF, seed=1)
    with pytest.raises(ValueError, match="probability"):
        fc.sites_needed(AS_OF + timedelta(days=90), probability=1.5)


counts = st.one_of(
    st.integers(0, 10**6), st.floats(allow_nan=True, allow_infinity=True), st.none(), st.text(max_size=2)
)
days = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-5, 10**5), st.none())
site_rows = st.lists(
    st.fixed_dictionaries(
        {"enrolled": counts, "days_open": days},
        optional={"opens_in_days": days, "is_closed": st.one_of(st.booleans(), st.none(), st.integers(-1, 2))},
    ),
    max_size=8,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=site_rows,
    target=st.one_of(st.integers(-2, 10**7), st.floats(allow_nan=True), st.none()),
    prior_rate=st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True)),
)
def test_odd_input_gives_a_forecast_or_a_value_error_never_a_traceback(rows, target, prior_rate):
    sites = pd.DataFrame(rows, columns=["enrolled", "days_open", "opens_in_days", "is_closed"])
    try:
        fc = predict_completion(sites, target, AS_OF, seed=0, prior_rate=prior_rate)
    except ValueError:
        return
    dates = [d for d in fc.completion.values() if d is not None]
    assert dates == sorted(dates) and all(d >= AS_OF for d in dates)
    p = fc.probability_by(AS_OF + timedelta(days=365))
    assert math.isnan(p) or 0.0 <= p <= 1.0
    needed = fc.sites_needed(AS_OF + timedelta(days=365))
    assert needed is None or 0 <= needed <= sites_needed_cap(len(sites))


valid_rows = st.lists(
    st.fixed_dictionaries(
        {
            "enrolled": st.integers(0, 200),
            "days_open": st.floats(0, 2000),
            "opens_in_days": st.one_of(st.just(math.nan), st.floats(0, 2000)),
            "is_closed": st.booleans(),
        }
    ),
    max_size=12,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=valid_rows, target=st.integers(1, 5000), prior_rate=st.one_of(st.none(), st.floats(1e-4, 1.0)))
def test_valid_input_always_gives_a_consistent_forecast(rows, target, prior_rate):
    sites = pd.DataFrame(rows, columns=["enrolled", "days_open", "opens_in_days", "is_closed"])
    fc = predict_completion(sites, target, AS_OF, seed=0, prior_rate=prior_rate)
    assert fc.method in ("poisson-gamma", "prior") and fc.note
    if sites.enrolled.sum() >= target:
        assert set(fc.completion.values()) == {AS_OF}
    dates = [d for d in fc.completion.values() if d is not None]
    assert dates == sorted(dates) and all(d >= AS_OF for d in dates)
    for q, on in fc.completion.items():
        if on is not None:
            assert fc.probability_by(on) >= q


def test_a_cached_forecast_survives_pickling(forecast_with_pending_sites):
    """st.cache_data pickles what it caches: the copy answers exactly as the original."""
    fc = forecast_with_pending_sites
    copy = pickle.loads(pickle.dumps(fc))
    by = fc.completion[0.5]
    assert copy.completion == fc.completion and copy.note == fc.note
    assert copy.probability_by(by) == fc.probability_by(by)
    assert copy.sites_needed(by) == fc.sites_needed(by)
    assert len(pickle.dumps(fc)) < 200_000
