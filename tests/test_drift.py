"""The forecast under drift (issue 19): enrollment timing, stopped sites, calibration in a steady and a tiring world."""

import math
from dataclasses import astuple
from datetime import date

import numpy as np
import pandas as pd
import pytest

from dashboard import calibration, drift, metrics
from dashboard.forecast import learn_prior, predict_completion

AS_OF = date(2026, 1, 1)


def steady_trial(rng, n_sites=20, days=(120, 420), mean_rate=0.02):
    """Sites enrolling at constant rates (Gamma across sites), with each subject's enrollment day."""
    tau = rng.uniform(*days, n_sites)
    k = rng.poisson(rng.gamma(2.0, mean_rate / 2.0, n_sites) * tau)
    site = np.repeat(np.arange(n_sites), k)
    before = rng.random(site.size) * tau[site]
    sites = pd.DataFrame({"enrolled": k, "days_open": tau})
    return sites, pd.DataFrame({"site": site, "days_before": before})


def quantile_days(fc) -> list[int]:
    return [(fc.completion[q] - AS_OF).days for q in (0.1, 0.5, 0.9)]


# --- calibration in both worlds (the figures Methods shows) ------------------------------------------------------


@pytest.fixture(scope="module")
def measured():
    """Both worlds, every model, as `python -m dashboard.calibration` measures them (a few hundred trials each)."""
    return calibration.measure()


def test_methods_shows_the_calibration_the_code_produces(measured):
    """calibration.json (what Methods reads) is this code's: regenerate it with python -m dashboard.calibration."""
    assert calibration.load() == measured


def test_where_sites_enroll_steadily_the_forecast_stays_calibrated_and_no_wider_than_a_fifth_more(measured):
    steady, before = measured["stationary"]["drift"], measured["stationary"]["constant"]
    assert 0.74 <= steady["coverage"] <= 0.88
    assert steady["early"] <= 0.16 and steady["late"] <= 0.16
    assert steady["median_width_days"] <= 1.2 * before["median_width_days"]


def test_where_sites_tire_and_stop_the_forecast_is_less_optimistic_than_the_steady_model(measured):
    """Fewer true dates after P90 and more inside the range than without the enrollment dates, even with no prior from
    earlier trials (which the band needs: see the "sponsor" model)."""
    tiring, before = measured["drifting"]["drift"], measured["drifting"]["constant"]
    assert tiring["coverage"] >= before["coverage"] + 0.05
    assert tiring["late"] <= before["late"] - 0.05


@pytest.mark.parametrize("world", calibration.WORLDS)
def test_with_a_prior_from_the_sponsors_earlier_trials_the_forecast_is_calibrated_in_both_worlds(measured, world):
    """The issue's band, met where sites tire because the sponsor's earlier trials tired, and where they do not without
    widening the range by more than a fifth."""
    found = measured[world]["sponsor"]
    assert 0.74 <= found["coverage"] <= 0.88
    assert found["early"] <= 0.16 and found["late"] <= 0.16
    if world == "stationary":
        assert found["median_width_days"] <= 1.2 * measured["stationary"]["constant"]["median_width_days"]


@pytest.mark.parametrize("model", ["constant", "plug_in"])
def test_negative_controls_fail_the_band_where_sites_tire(measured, model):
    """The steady-rate model and the forecast without parameter uncertainty: neither is calibrated where sites tire."""
    found = measured["drifting"][model]
    assert not (0.74 <= found["coverage"] <= 0.88 and found["early"] <= 0.16 and found["late"] <= 0.16)


def test_without_parameter_uncertainty_even_steady_trials_are_far_too_narrow(measured):
    assert measured["stationary"]["plug_in"]["coverage"] < measured["stationary"]["drift"]["coverage"] - 0.2


def test_the_simulated_worlds_are_what_methods_says(measured):
    """Tiring sites: each halves its rate over 6–30 months after activation; 10–35 % of sites stop."""
    rng = np.random.default_rng(1)
    sites, history, target, true_days = calibration.simulate_trial(rng, "drifting", short_history=False)
    assert target > sites.enrolled.sum() and len(history) == sites.enrolled.sum()
    assert (history.days_before >= 0).all()
    h = np.array([180.0, 900.0])
    assert calibration._exposure(h, h) == pytest.approx(0.75 * h)  # linear to half: ¾ of the starting rate's exposure
    assert calibration._age_at(h, calibration._exposure(h, np.array([100.0, 1200.0]))) == pytest.approx([100.0, 1200.0])


# --- enrollment timing --------------------------------------------------------------------------------------------


# --- a drift prior from the sponsor's earlier trials ---------------------------------------------------------------


def earlier(world: str, n: int = 10, seed: int = 5):
    rng = np.random.default_rng(seed)
    return [calibration.earlier_trial(rng, world) for _ in range(n)]


def test_earlier_trials_that_tired_teach_a_decline_and_steady_ones_do_not():
    tired, steady = learn_prior(earlier("drifting")), learn_prior(earlier("stationary"))
    assert tired.trials == steady.trials == 10
    assert tired.rho < 0.75  # the drifting world's sites settle at about half their starting rate
    assert abs(steady.log_rho) < 0.2
    assert tired.eta > steady.eta  # sites that stopped: a higher stop hazard ahead


def test_too_few_earlier_trials_leave_the_default_of_no_drift():
    assert learn_prior(earlier("drifting", n=2)) == drift.NO_DRIFT
    assert learn_prior([]) == drift.NO_DRIFT


def test_a_learned_decline_moves_a_young_trials_forecast_later_and_the_default_prior_changes_nothing():
    """Three months of a trial cannot show a slow decline; its sponsor's earlier trials can."""
    sites, history = steady_trial(np.random.default_rng(4), days=(60, 100))
    target = int(sites.enrolled.sum()) * 6
    own = predict_completion(sites, target, AS_OF, seed=1, history=history)
    assert predict_completion(sites, target, AS_OF, seed=1, history=history, drift_prior=drift.NO_DRIFT) == own
    taught = predict_completion(
        sites, target, AS_OF, seed=1, history=history, drift_prior=learn_prior(earlier("drifting"))
    )
    assert taught.completion[0.9] > own.completion[0.9] + (own.completion[0.9] - AS_OF) * 0.1
    assert taught.completion[0.5] > own.completion[0.5]


@pytest.mark.parametrize("bad", [{"settle_days": 0.0}, {"log_rho_sd": -1.0}, {"eta": math.nan}, {"eta_sd": "wide"}])
def test_a_drift_prior_out_of_range_is_refused(bad):
    with pytest.raises(ValueError):
        drift.Prior(**bad)


def test_predict_completion_refuses_a_drift_prior_that_is_not_one():
    sites, history = steady_trial(np.random.default_rng(1))
    with pytest.raises(ValueError, match="drift_prior"):
        predict_completion(sites, 500, AS_OF, history=history, drift_prior={"rho": 0.5})


def test_a_trial_is_seen_as_it_stood_on_the_day_it_was_cut():
    """Counted by hand: a trial that reached its target 250 days ago, as it stood that day."""
    from dashboard.health.outlook import _as_it_stood

    sites = pd.DataFrame(
        {
            "enrolled": [4, 1, 2, 0, 0],
            "days_open": [500.0, 100.0, 300.0, 200.0, 0.0],
            "opens_in_days": [np.nan, np.nan, np.nan, np.nan, 30.0],
            "is_closed": [False, True, False, False, False],
            "days_since_closed": [np.nan, 350.0, np.nan, np.nan, np.nan],
        }
    )
    timing = pd.DataFrame({"site": [0, 0, 0, 0, 1, 2, 2], "days_before": [400.0, 300, 200, 100, 380, 250, 150]})
    # In time order: 400, 380, 300, 250 (the 4th: the target reached 250 days ago), then 200, 150, 100.
    then, seen = _as_it_stood(sites, timing, 250.0)
    assert then["enrolled"].tolist() == [2, 1, 1]  # the site opened 200 days ago and the one yet to open: not then
    assert then["days_open"].tolist() == [250.0, 100.0, 50.0]
    assert then["is_closed"].tolist() == [False, True, False]  # closed 350 days ago: before the target was reached
    assert then.loc[1, "days_since_closed"] == 100.0
    assert sorted(seen["days_before"].tolist()) == [0.0, 50.0, 130.0, 150.0]
    assert seen["site"].tolist() == [0, 0, 1, 2]


def test_a_site_dropped_from_the_middle_takes_its_subjects_with_it():
    """A site activated on the as-of day that enrolled that day (days open 0) is not a site the prior can learn from:
    its subject goes too, and the sites after it keep theirs."""
    from dashboard.health.outlook import _as_it_stood

    sites = pd.DataFrame(
        {
            "enrolled": [2, 1, 1],
            "days_open": [400.0, 0.0, 300.0],
            "opens_in_days": np.nan,
            "is_closed": False,
            "days_since_closed": np.nan,
        }
    )
    timing = pd.DataFrame({"site": [0, 0, 1, 2], "days_before": [300.0, 100, 0, 50]})
    now, seen = _as_it_stood(sites, timing, 0.0)
    assert now["enrolled"].tolist() == [2, 1] and now["days_open"].tolist() == [400.0, 300.0]
    assert seen["site"].tolist() == [0, 0, 1] and seen["days_before"].tolist() == [300.0, 100.0, 50.0]


def seen_later(frames, days: float, status: str = "enrolling"):
    """calibration.sponsor_frames seen `days` later (every site silent for those days), each trial in `status`."""
    inputs, history, trials = (f.copy() for f in frames)
    inputs["days_open"] += days
    history["days_before"] += days
    trials["trial_status"] = status
    return inputs, history, trials


def test_a_trial_never_teaches_its_own_prior_and_young_trials_teach_nothing():
    from dashboard.health import drift_priors

    old = earlier("drifting", n=3)
    young_sites, young_history = steady_trial(np.random.default_rng(2), days=(60, 200))
    priors = drift_priors(*calibration.sponsor_frames(old + [(young_sites, young_history)]))
    assert priors["EARLIER-03"].trials == 3  # the young trial learns from the three old ones...
    assert astuple(priors["EARLIER-03"]) == pytest.approx(astuple(learn_prior(old)))  # the same three, in another order
    # ...and each old one from the two others only: too few, so no drift is assumed.
    assert all(priors[f"EARLIER-{n:02d}"] == drift.NO_DRIFT for n in range(3))


def test_a_trial_whose_enrollment_closed_is_read_as_of_its_last_enrollment_not_as_sites_that_stopped():
    """A sponsor's steady trials, all closed to enrollment a year ago: read as enrolling, that year of silence at every
    site looks like sites stopping; read as closed, the prior is what it was the day they closed."""
    from dashboard.health import drift_priors

    frames = calibration.sponsor_frames(earlier("stationary", n=4))
    then = drift_priors(*seen_later(frames, 0.0, "closed"), protocols=["NEW"])["NEW"]  # the day they closed
    now = drift_priors(*seen_later(frames, 365.0, "closed"), protocols=["NEW"])["NEW"]
    misread = drift_priors(*seen_later(frames, 365.0), protocols=["NEW"])["NEW"]
    assert now.trials == then.trials == 4
    assert now.eta_seen == pytest.approx(then.eta_seen) and now.log_rho == pytest.approx(then.log_rho)
    assert misread.eta_seen > now.eta_seen + 0.2  # stops a year: what the closed enrollment would have taught


@pytest.fixture(scope="module")
def portfolio_db(tmp_path_factory):
    """The demo's default portfolio: its main sponsor has trials a year old and more, which teach its drift prior."""
    from dashboard import demo

    url = f"sqlite:///{tmp_path_factory.mktemp('prior') / 'demo.db'}"
    demo.build(url, seed=7, n_trials=12, today=date(2026, 12, 1))
    return url


def test_the_drift_prior_reads_only_the_users_sponsors_and_is_one_for_every_view_of_a_trial(portfolio_db):
    from dashboard.access import Scope, granted_sponsors
    from dashboard.db import make_engine
    from queries import overview, portfolio

    as_of = date(2026, 12, 1)
    engine = make_engine(portfolio_db)
    with engine.connect() as conn:
        grants = granted_sponsors(conn, None)
        asked = []

        def run(query, scope):
            asked.append(scope)
            return query(conn, scope)

        everywhere = Scope(tuple(g.sponsor_id for g in grants), as_of, as_of)
        protocols = list(portfolio.trial_options(conn, everywhere)["protocol_number"])
        everyone = overview.drift_priors(run, everywhere, protocols)
        learned = sorted(p for p, prior in everyone.items() if prior.trials >= 3)
        assert learned, "no sponsor of the demo has the earlier trials to learn from: this test would prove nothing"
        protocol = learned[0]
        owner = next(
            g
            for g in grants
            if protocol in set(portfolio.trial_options(conn, Scope((g.sponsor_id,), as_of, as_of))["protocol_number"])
        )
        asked.clear()
        one = overview.drift_priors(
            run, Scope((owner.sponsor_id,), as_of, date(2026, 11, 1), trial=protocol, phase="II"), [protocol]
        )
    engine.dispose()
    assert set(everyone) == set(protocols) and len(grants) > 1
    assert one == {protocol: everyone[protocol]}  # the view's filters and compare date do not change what is taught
    assert {s.sponsor_ids for s in asked} == {(owner.sponsor_id,)}  # and no other sponsor's data are read


def test_a_trials_forecast_is_the_same_in_the_portfolio_and_in_its_own_view(portfolio_db):
    """The figures command, whole portfolio against one trial's view, for a trial whose sponsor's prior is learned."""
    from dashboard import figures
    from dashboard.access import Scope, granted_sponsors
    from dashboard.db import make_engine
    from dashboard.links import ViewState
    from dashboard.settings import get_settings
    from queries import overview

    as_of = date(2026, 12, 1)
    engine = make_engine(portfolio_db)
    with engine.connect() as conn:
        grants = granted_sponsors(conn, None)
        whole = figures.view_figures(conn, grants, ViewState(as_of=as_of, since=date(2026, 11, 24)), get_settings())
        forecast = {p: {f["key"]: f["value"] for f in block} for p, block in whole["trials"].items()}
        priors = overview.drift_priors(
            lambda q, s: q(conn, s), Scope(tuple(g.sponsor_id for g in grants), as_of, as_of), list(forecast)
        )
        young = sorted(p for p, f in forecast.items() if f.get("lpi_model_p90") is not None and priors[p].trials >= 3)
        assert young, "no trial forecast with a learned prior: this test would prove nothing"
        for protocol in young[:3]:
            view = ViewState(as_of=as_of, since=date(2026, 10, 31), trial=protocol)
            alone = figures.view_figures(conn, grants, view, get_settings())["trials"][protocol]
            mine = {f["key"]: f["value"] for f in alone}
            for key in ("lpi_model_p10", "lpi_model", "lpi_model_p90", "p_meet_lpi_plan"):
                assert mine[key] == forecast[protocol][key], (protocol, key)
    engine.dispose()


@pytest.mark.parametrize("as_of", [date(2026, 11, 30), date(2026, 12, 1)], ids=str)
def test_the_page_the_email_and_the_figures_command_show_one_forecast_with_the_learned_prior(
    monkeypatch, portfolio_db, as_of
):
    """At a month's last day and the next one's first: the Enrollment page's P10–P90 and the e-mail's chance of meeting
    the plan are the figures command's, for trials whose forecast uses the sponsor's prior (and the page says so)."""
    from datetime import timedelta

    from apptest_helpers import open_page, visible_text
    from dashboard import digest, figures, registry
    from dashboard.access import Scope, granted_sponsors
    from dashboard.db import make_engine
    from dashboard.digest.render import render_text
    from dashboard.links import ViewState
    from dashboard.settings import get_settings
    from queries import overview

    view = ViewState(as_of=as_of, since=as_of - timedelta(days=7))
    engine = make_engine(portfolio_db)
    with engine.connect() as conn:
        grants = granted_sponsors(conn, None)
        document = figures.view_figures(conn, grants, view, get_settings())
        email = render_text(digest.build_digest(conn, grants, view, get_settings()))
        priors = overview.drift_priors(
            lambda q, s: q(conn, s), Scope(tuple(g.sponsor_id for g in grants), as_of, as_of), list(document["trials"])
        )
    engine.dispose()
    forecast = {p: {f["key"]: f for f in block} for p, block in document["trials"].items()}
    taught = sorted(
        p
        for p, f in forecast.items()
        if f["lpi_model_p90"]["value"] is not None and priors[p].trials and f["enrolled"]["value"]
    )
    assert taught, "no trial forecast with a learned prior: this test would prove nothing"
    chance = registry.FIGURES["p_meet_lpi_plan"].label
    compared = 0
    for line in email.splitlines():
        protocol = next((p for p in taught if line.startswith(f"- {p} <") and "/enrollment?" in line), None)
        if protocol is not None and chance in line:
            assert f"{chance} {forecast[protocol]['p_meet_lpi_plan']['display']}" in line, line
            compared += 1
    assert compared, "the e-mail listed none of these trials' chance of meeting the plan"
    protocol = taught[0]
    at = open_page(
        monkeypatch, portfolio_db, "enrollment", trial=protocol, as_of=as_of.isoformat(), since=view.since.isoformat()
    )
    assert not at.exception
    text = visible_text(at)
    assert "expected from the sponsor's" in text and "other trials of a year and more" in text
    mine = forecast[protocol]
    assert f"model P10–P90 {mine['lpi_model_p10']['display']} – {mine['lpi_model_p90']['display']}" in text


def test_without_a_history_the_forecast_is_the_steady_model_unchanged():
    sites, _ = steady_trial(np.random.default_rng(3))
    target = int(sites.enrolled.sum()) + 150
    without = predict_completion(sites, target, AS_OF, seed=4)
    assert predict_completion(sites, target, AS_OF, seed=4, history=None).completion == without.completion
    assert math.isnan(without.settled_share) and without.stopped_sites is None


def test_a_history_consistent_with_a_constant_rate_gives_nearly_the_same_forecast():
    """Several steady trials: with the enrollment dates the median moves less than 5 %, the range less than 20 %."""
    for seed in range(4):
        sites, history = steady_trial(np.random.default_rng(seed), n_sites=30)
        target = int(sites.enrolled.sum()) + 200
        steady = quantile_days(predict_completion(sites, target, AS_OF, seed=1))
        timed = predict_completion(sites, target, AS_OF, seed=1, history=history)
        assert abs(timed.settled_share - 1) < 0.1 and timed.stopped_sites == 0, seed
        days = quantile_days(timed)
        assert abs(days[1] - steady[1]) <= 0.05 * steady[1], seed
        assert abs((days[2] - days[0]) - (steady[2] - steady[0])) <= 0.2 * (steady[2] - steady[0]), seed


def silent_after_a_fast_start(silent: bool):
    """20 steady sites, and one that enrolled 30 in the 60 days after it opened 360 days ago, then (if `silent`) nobody:
    otherwise the same 30 spread over its whole year."""
    sites, history = steady_trial(np.random.default_rng(11), n_sites=20, days=(300, 420))
    fast = pd.DataFrame({"enrolled": [30], "days_open": [360.0]}, index=[len(sites)])
    ages = np.linspace(1, 59, 30) if silent else np.linspace(5, 355, 30)
    history = pd.concat([history, pd.DataFrame({"site": len(sites), "days_before": 360.0 - ages})], ignore_index=True)
    return pd.concat([sites, fast]), history


def test_a_site_silent_for_long_after_a_fast_start_raises_the_later_quantiles():
    quiet_sites, quiet = silent_after_a_fast_start(silent=True)
    busy_sites, busy = silent_after_a_fast_start(silent=False)
    target = int(quiet_sites.enrolled.sum()) + 250
    stopped = predict_completion(quiet_sites, target, AS_OF, seed=2, history=quiet)
    going = predict_completion(busy_sites, target, AS_OF, seed=2, history=busy)
    assert stopped.stopped_sites == 1 and going.stopped_sites == 0
    assert "1 site probably stopped enrolling" in stopped.note
    assert quantile_days(stopped)[2] > quantile_days(going)[2] + 14
    assert quantile_days(stopped)[1] > quantile_days(going)[1]


def test_a_site_that_just_opened_or_never_enrolled_is_not_taken_for_stopped():
    sites, history = steady_trial(np.random.default_rng(5), n_sites=15)
    new = pd.DataFrame({"enrolled": [0, 1, 0], "days_open": [5.0, 12.0, 400.0]}, index=[15, 16, 17])
    sites = pd.concat([sites, new])
    history = pd.concat([history, pd.DataFrame({"site": [16], "days_before": [11.0]})], ignore_index=True)
    fc = predict_completion(sites, int(sites.enrolled.sum()) + 100, AS_OF, seed=3, history=history)
    assert fc.stopped_sites == 0
    assert (fc._simulation.active[15:] > 0.9).all()  # every site is open: the simulation keeps the sites' order


@pytest.mark.parametrize(
    ("history", "message"),
    [
        (pd.DataFrame({"site": [0], "days_before": [3.0]}), "history has 1 subject"),
        (pd.DataFrame({"site": [99] * 4, "days_before": [3.0] * 4}), "not in sites"),
        (pd.DataFrame({"site": [0, 0, 0, 0], "days_before": [3.0, -1.0, 2.0, 2.0]}), "days_before"),
        (pd.DataFrame({"days_before": [3.0]}), "missing the column site"),
    ],
)
def test_a_history_that_does_not_match_the_sites_is_refused_with_a_plain_message(history, message):
    sites = pd.DataFrame({"enrolled": [4, 0, 0], "days_open": [100.0, 100.0, 100.0]})
    with pytest.raises(ValueError, match=message):
        predict_completion(sites, 20, AS_OF, history=history)


def test_rates_that_settle_lower_are_found_and_push_the_forecast_later():
    """Every site halves its rate within a year: the fit finds ρ well below 1 and the median is later than steady."""
    rng = np.random.default_rng(8)
    n, rho = 60, 0.4
    tau = rng.uniform(300, 500, n)
    lam = rng.gamma(3.0, 0.05 / 3.0, n)
    capacity = drift.exposure(rho, tau)
    k = rng.poisson(lam * capacity)
    site = np.repeat(np.arange(n), k)
    share = rng.random(site.size) * capacity[site]
    grid = np.linspace(0, 500, 5001)
    ages = np.interp(share, drift.exposure(rho, grid), grid)
    sites = pd.DataFrame({"enrolled": k, "days_open": tau})
    history = pd.DataFrame({"site": site, "days_before": tau[site] - ages})
    target = int(k.sum()) + 400
    timed = predict_completion(sites, target, AS_OF, seed=1, history=history)
    steady = predict_completion(sites, target, AS_OF, seed=1)
    assert timed.settled_share < 0.75
    assert "sites settle at about" in timed.note
    assert quantile_days(timed)[1] > quantile_days(steady)[1] * 1.1


# --- the fan and the extra sites ------------------------------------------------------------------------------------


def test_the_fan_of_simulated_paths_reaches_the_target_at_the_completion_quantiles():
    sites, history = steady_trial(np.random.default_rng(4), n_sites=25)
    target = int(sites.enrolled.sum()) + 120
    for h in (None, history):
        fc = predict_completion(sites, target, AS_OF, seed=6, history=h)
        fan = fc.fan(np.arange(0, 2000, 1.0))
        p10, p50, p90 = quantile_days(fc)
        # The 90th percentile path is the early edge: it reaches the target on P10; the 10th percentile path on P90.
        assert abs(fan.day[fan.q90 >= target].min() - p10) <= 2
        assert abs(fan.day[fan.q50 >= target].min() - p50) <= 2
        assert abs(fan.day[fan.q10 >= target].min() - p90) <= 2
        assert fan.q10.iloc[0] == fan.q90.iloc[0] == sites.enrolled.sum()
        assert (np.diff(fan.q50) >= 0).all()


def test_extra_sites_needed_account_for_sites_that_tire():
    """With rates settling lower, new sites add less by a date: at least as many are needed as if they kept their pace."""
    quiet_sites, quiet = silent_after_a_fast_start(silent=True)
    target = int(quiet_sites.enrolled.sum()) + 250
    fc = predict_completion(quiet_sites, target, AS_OF, seed=2, history=quiet)
    by = fc.completion[0.5]
    needed = fc.sites_needed(by, probability=0.9)
    assert needed is not None and needed > 0
    assert fc.sites_needed(fc.completion[0.9], probability=0.5) == 0


# --- the rate of the last three months against the first three --------------------------------------------------


def test_the_rate_change_compares_the_first_and_last_three_months_per_open_site_month():
    """Two sites open 400 days (one closed 30 days ago after 370 days): 20 enrolled in the first 91 days, 4 in the last."""
    sites = pd.DataFrame({"days_open": [400.0, 370.0], "days_since_closed": [np.nan, 30.0]})
    first = np.linspace(310, 399, 20)  # days before as_of: within the 91 days after the first opening (400 days ago)
    last = np.array([5.0, 20.0, 50.0, 80.0])
    history = pd.DataFrame({"site": 0, "days_before": np.r_[first, last]})
    found = metrics.rate_change(sites, history)
    # First window (400 → 309 days before): both sites open all its 91 days. Last window: the first site all 91, the
    # second the 61 days from 91 to 30 days before, when it closed.
    first_rate = 20 / (2 * 91 / metrics.DAYS_PER_MONTH)
    last_rate = 4 / ((91 + 61) / metrics.DAYS_PER_MONTH)
    assert found.first_rate == pytest.approx(first_rate)
    assert found.last_rate == pytest.approx(last_rate)
    assert found.change == pytest.approx(last_rate / first_rate - 1)
    assert found.declining()


def test_no_rate_change_before_six_months_or_with_too_few_to_compare():
    young = pd.DataFrame({"days_open": [150.0], "days_since_closed": [np.nan]})
    assert metrics.rate_change(young, pd.DataFrame({"site": [0] * 30, "days_before": np.linspace(1, 149, 30)})) is None
    old = pd.DataFrame({"days_open": [400.0], "days_since_closed": [np.nan]})
    assert metrics.rate_change(old, pd.DataFrame({"site": [0] * 4, "days_before": [399.0, 398.0, 10.0, 5.0]})) is None


def test_a_small_dip_is_not_called_a_decline():
    sites = pd.DataFrame({"days_open": [400.0], "days_since_closed": [np.nan]})
    history = pd.DataFrame({"site": 0, "days_before": np.r_[np.linspace(310, 399, 10), np.linspace(1, 90, 8)]})
    found = metrics.rate_change(sites, history)
    assert found.change == pytest.approx(-0.2) and not found.declining()


# --- on the pages ---------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def slowing_url(small_demo_db, tmp_path_factory):
    """The small demo with HEL-301 slowing down: of the subjects it enrolled in the last 91 days, 3 in 4 never were."""
    import shutil

    from sqlalchemy import create_engine, text

    from conftest import SMALL_DEMO_TODAY

    path = tmp_path_factory.mktemp("slowing") / "demo.db"
    shutil.copy(small_demo_db.removeprefix("sqlite:///"), path)
    engine = create_engine(f"sqlite:///{path}")
    since = (SMALL_DEMO_TODAY - pd.Timedelta(days=91)).isoformat()
    with engine.begin() as conn:
        conn.execute(
            text(
                "update subject set enrolled_date = null, discontinued_date = null, completed_date = null, "
                "treatment_discontinued_date = null "
                "where subject_id in (select su.subject_id from subject su join trial t on t.trial_id = su.trial_id "
                "where t.protocol_number = 'HEL-301' and su.enrolled_date > :since and su.subject_id % 4 != 0)"
            ),
            {"since": since},
        )
    engine.dispose()
    return f"sqlite:///{path}"


def test_the_enrollment_page_says_when_the_rate_declines_with_the_figures_commands_number(
    monkeypatch, capsys, slowing_url
):
    import json

    from apptest_helpers import open_page, visible_text
    from conftest import SMALL_DEMO_TODAY
    from dashboard import figures

    assert (
        figures.main(
            ["--url", slowing_url, "--as-of", SMALL_DEMO_TODAY.isoformat(), "--trial", "HEL-301", "--all-sponsors"]
        )
        == 0
    )
    block = {f["key"]: f for f in json.loads(capsys.readouterr().out)["trials"]["HEL-301"]}
    change = block["enrollment_rate_change"]
    assert change["health"] == "amber" and change["value"] < -0.4
    at = open_page(monkeypatch, slowing_url, "enrollment", trial="HEL-301", as_of=SMALL_DEMO_TODAY.isoformat())
    assert not at.exception
    text = visible_text(at)
    assert f"The enrollment rate of the last 3 months is {-change['value']:.0%} below the first 3" in text
    # A trial enrolling steadily says nothing of the kind.
    steady = open_page(monkeypatch, slowing_url, "enrollment", trial="BOR-201", as_of=SMALL_DEMO_TODAY.isoformat())
    assert not steady.exception and "Enrollment is slowing" not in visible_text(steady)


def test_methods_shows_the_generated_calibration(monkeypatch, tiny_db):
    from apptest_helpers import html_tables, open_page

    at = open_page(monkeypatch, tiny_db, "methods")
    assert not at.exception
    table = next(t for t in html_tables(at) if t and "Truth after P90" in t[0])
    measured = calibration.load()
    rows = {(r["Simulated trials"], r["Forecast"][:20]): r for r in table}
    ours = rows[("Tiring and stopping sites", "The dashboard's fore")]
    assert ours["Truth after P90"] == f"{measured['drifting']['sponsor']['late']:.0%}"
    assert ours["Truth within P10–P90"] == f"{measured['drifting']['sponsor']['coverage']:.0%}"
    assert len(table) == len(calibration.WORLDS) * len(calibration.MODELS)


@pytest.mark.parametrize(
    "as_of", [date(2026, 10, 31), date(2026, 11, 1), date(2026, 11, 20), date(2021, 6, 1)], ids=str
)
def test_the_rate_change_is_one_figure_in_the_export_the_figures_command_and_the_page(
    monkeypatch, small_demo_db, as_of
):
    """Month end, month start, the data cut and a date before any data: the Enrollment export's column is the figures
    command's value for every trial, and a trial view warns exactly when the figure is amber."""
    from datetime import timedelta

    from apptest_helpers import open_page, page_tables, visible_text
    from dashboard import figures
    from dashboard.access import granted_sponsors
    from dashboard.db import make_engine
    from dashboard.links import ViewState
    from dashboard.settings import get_settings

    engine = make_engine(small_demo_db)
    with engine.connect() as conn:
        document = figures.view_figures(
            conn, granted_sponsors(conn, None), ViewState(as_of=as_of, since=as_of - timedelta(days=7)), get_settings()
        )
    engine.dispose()
    want = {p: {f["key"]: f for f in block}["enrollment_rate_change"] for p, block in document["trials"].items()}
    at = open_page(monkeypatch, small_demo_db, "enrollment", as_of=as_of.isoformat())
    assert not at.exception
    if not want:
        assert "No trials match" in visible_text(at) or "Trials" not in page_tables(at)
        return
    table = page_tables(at)["Trials"].set_index("protocol_number")
    assert set(table.index) == set(want)
    for protocol, figure in want.items():
        cell = table.loc[protocol, "enrollment_rate_change"]
        if figure["value"] is None:
            assert cell is None or pd.isna(cell), protocol
        else:
            assert float(cell) == pytest.approx(figure["value"]), protocol
    for protocol, figure in want.items():
        if figure["health"] == "amber" or (figure["value"] is not None and figure["value"] < -0.2):
            page = open_page(monkeypatch, small_demo_db, "enrollment", trial=protocol, as_of=as_of.isoformat())
            said = "Enrollment is slowing" in visible_text(page)
            assert said == (figure["health"] == "amber"), (protocol, figure)
            if said:
                assert f"is {-figure['value']:.0%} below the first 3" in visible_text(page)
