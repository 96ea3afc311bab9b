"""One trial simulated in days, from its CRO contract to the end of its story, and the day and month helpers the
tables share."""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pandas as pd

from dashboard.demo.specs import (
    BAD_SITE,
    BIG_TRIAL,
    CMO_MILESTONES,
    CMO_STEP_DAYS,
    COUNTRIES,
    DAYS_PER_MONTH,
    EPOCH,
    LATE_SAE_SITE,
    LATE_SAE_TRIAL,
    NA,
    PHASES,
    RATE_MEAN,
    RATE_SHAPE,
    STABILITY_MONTHS,
    SUPPLY_LEAD_TIME_DAYS,
    UNDER_REPORTING_SITE,
    VISIT_INTERVAL_DAYS,
    ZERO_RATE_SHARE,
    _Spec,
)


def _day(d: date) -> int:
    return (d - EPOCH).days


def _dates(days) -> pd.Series:
    days = np.asarray(days, dtype=float)
    out = np.full(days.shape, np.datetime64("NaT"), dtype="datetime64[D]")
    known = ~np.isnan(days)
    out[known] = days[known].astype(np.int64).astype("datetime64[D]")
    return pd.Series(out.astype("datetime64[s]"))


def _month_index(days) -> np.ndarray:
    """Months since 1970-01 of each day (days must be known)."""
    return np.asarray(days, dtype=np.int64).astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)


def _month_start(months) -> np.ndarray:
    """First day (as a day number) of each month index."""
    return np.asarray(months, dtype=np.int64).astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)


def _upto(values, today: int) -> np.ndarray:
    """Values after `today` become unknown: the data is cut at today."""
    values = np.asarray(values, dtype=float).copy()
    values[values > today] = NA
    return values


def _next_monday(day: int) -> int:
    return day + ((4 - day) % 7)  # 1970-01-05 (day 4) was a Monday


# The trials to simulate.


def _simulate(rng: np.random.Generator, spec: _Spec, today: int) -> dict:
    par = PHASES[spec.phase]
    n = int(spec.n_sites or rng.integers(par["sites"][0], par["sites"][1] + 1))
    t0 = int(rng.integers(150, 241))  # first planned site activation
    act_window = int(rng.integers(*par["act"]))
    enroll_days = int(rng.integers(*par["enroll"]))
    if spec.role == "big":
        act_window, enroll_days = 240, 660
    n_treat = round(int(rng.integers(par["treat"][0], par["treat"][1] + 1)) * spec.treatment_factor)
    treat_days = VISIT_INTERVAL_DAYS * n_treat

    # Sites: staggered planned activation, actual activation a few weeks late, selection months before.
    u = np.sort(rng.random(n) ** 1.3)
    u[0] = 0.0
    planned = t0 + np.round(u * act_window)
    activated = planned + np.round(rng.gamma(2.0, 12.0, n)) - 8
    if spec.role == "big":
        activated[:6] = planned[:6] + rng.integers(0, 10, 6)  # BAD_SITE among the first active
    selected = np.maximum(activated - rng.integers(40, 151, n), 30)

    k_countries = int(rng.integers(par["countries"][0], par["countries"][1] + 1))
    weights = np.array([c[3] for c in COUNTRIES])
    chosen = rng.choice(len(COUNTRIES), size=min(k_countries, n), replace=False, p=weights / weights.sum())
    counts = np.ones(len(chosen), dtype=int) + rng.multinomial(n - len(chosen), weights[chosen] / weights[chosen].sum())
    country = rng.permutation(np.repeat(chosen, counts))

    # The plan: each site recruits its target evenly from planned activation to the planned LPI.
    plan_factor = float(spec.plan_factor or rng.uniform(0.75, 1.3))
    lpi_base = t0 + enroll_days
    site_target = np.maximum(
        1, np.round(RATE_MEAN * spec.rate_factor * plan_factor * (lpi_base - planned) / DAYS_PER_MONTH)
    ).astype(int)
    target = int(site_target.sum())

    # Actual recruitment: a Gamma-distributed rate per site, Poisson arrivals of enrolled subjects.
    rate = rng.gamma(RATE_SHAPE, RATE_MEAN * spec.rate_factor / (1 - ZERO_RATE_SHARE) / RATE_SHAPE, n)
    rate[rng.permutation(n)[: round(ZERO_RATE_SHARE * n)]] = 0.0
    if spec.role == "big":
        rate[int(BAD_SITE) - 1001] = 1.0
    floor = 0.35 * target / (enroll_days / DAYS_PER_MONTH)  # no trial recruits at under a third of its plan
    if rate.sum() < floor:
        rate = rate * floor / rate.sum() if rate.sum() > 0 else np.full(n, floor / n)
    horizon = lpi_base + 2 * enroll_days
    while True:
        arrivals = rng.poisson(rate * np.maximum(horizon - activated, 0) / DAYS_PER_MONTH)
        if arrivals.sum() >= target:
            break
        horizon += enroll_days
    arrival_site = np.repeat(np.arange(n), arrivals)
    arrival_day = activated[arrival_site] + rng.random(arrival_site.size) * (horizon - activated[arrival_site])
    first = np.argsort(arrival_day, kind="stable")[:target]
    enr_site, enr_day = arrival_site[first], np.floor(arrival_day[first])
    lpi = float(enr_day.max())
    enr_scr = enr_day - np.minimum(3 + np.round(rng.gamma(2.0, 4.0, target)), enr_day - activated[enr_site])

    # Screen failures: a thinned Poisson stream beside the enrolled one, up to the LPI.
    sf_trial = rng.uniform(0.24, 0.32)
    sf_site = rng.beta(sf_trial * 40, (1 - sf_trial) * 40, n)
    fail_counts = rng.poisson((rate + 0.03) * sf_site / (1 - sf_site) * np.maximum(lpi - activated, 0) / DAYS_PER_MONTH)
    fail_site = np.repeat(np.arange(n), fail_counts)
    fail_scr = np.floor(activated[fail_site] + rng.random(fail_site.size) * np.maximum(lpi - activated[fail_site], 0))
    fail_day = fail_scr + 3 + np.round(rng.gamma(2.0, 4.0, fail_site.size))

    # Dropout and completion.
    dropout = rng.random(target) < rng.uniform(0.09, 0.17)
    disc = np.where(dropout, enr_day + rng.integers(14, treat_days - 6, target), NA)
    done = np.where(dropout, NA, enr_day + treat_days)
    end = np.where(dropout, disc, done)
    lplv = float(end.max())

    # CRO milestones: baselines from the plan, actual dates from the simulated data.
    day_grid = np.arange(t0, lpi_base + 1)
    frac = np.clip((day_grid[:, None] - planned[None, :]) / (lpi_base - planned)[None, :], 0, 1)
    plan_curve = frac @ site_target
    # A site that would open after recruitment ends (and screened nobody) is cancelled.
    site_ok = activated < lpi - 14
    site_ok[enr_site] = True
    site_ok[fail_site] = True
    act_sorted = np.sort(activated[site_ok])
    planned_sorted = np.sort(planned)
    enr_sorted = np.sort(enr_day)
    half = math.ceil(target / 2) - 1

    def nth_active(share: float) -> tuple[float, float]:
        k = math.ceil(share * n) - 1
        return float(planned_sorted[k]), float(act_sorted[k]) if k < act_sorted.size else NA

    dbl = lplv + rng.integers(40, 111)
    base = {}  # code → (baseline, truth)
    pf = float(rng.integers(20, 61))
    base["PROTOCOL_FINAL"] = (pf, pf + rng.integers(-5, 26))
    base["FIRST_SITE_ACTIVATED"] = (float(t0), float(act_sorted[0]))
    base["FPI"] = (float(t0 + 30), float(enr_sorted[0]))
    base["SITES_25"], base["SITES_50"], base["SITES_75"] = nth_active(0.25), nth_active(0.5), nth_active(0.75)
    base["ENROLLED_50"] = (float(day_grid[np.argmax(plan_curve >= target / 2)]), float(enr_sorted[half]))
    base["LPI"] = (float(lpi_base), lpi)
    base["LPLV"] = (float(lpi_base + treat_days), lplv)
    dbl_base = lpi_base + treat_days + 60
    base["DB_LOCK"] = (float(dbl_base), float(dbl))
    base["TOPLINE"] = (float(dbl_base + 30), float(dbl + rng.integers(20, 51)))
    base["CSR_FINAL"] = (float(dbl_base + 120), float(dbl + rng.integers(90, 161)))

    # CMO milestones, counted back from site supply ready; slips accumulate along the chain.
    ssr_base = t0 - SUPPLY_LEAD_TIME_DAYS - int(rng.integers(21, 51))
    cmo_base = [float(ssr_base)]
    for lo, hi in reversed(CMO_STEP_DAYS):
        cmo_base.insert(0, cmo_base[0] - int(rng.integers(lo, hi + 1)))
    cmo_base = np.array(cmo_base)
    slip = np.cumsum(np.clip(np.round(rng.normal(3, 6, len(cmo_base))), -3, 15))
    if spec.role in ("supply_risk", "near_miss"):
        margin = (
            -18 if spec.role == "supply_risk" else 3
        )  # against the baseline first-site date, which the CRO keeps forecasting
        wanted = (t0 - SUPPLY_LEAD_TIME_DAYS - margin) - ssr_base
        slip = wanted * np.array([0, 0, 0.5, 1, 1, 1, 1, 1])
    else:
        slip = np.minimum(slip, base["FIRST_SITE_ACTIVATED"][1] - SUPPLY_LEAD_TIME_DAYS - 14 - ssr_base)
    cmo_truth = cmo_base + np.round(slip)
    for (code, *_), b, t in zip(CMO_MILESTONES, cmo_base, cmo_truth):
        base[code] = (float(b), float(t))
    dp_base, dp_truth = base["DP_RELEASED"]
    for m in STABILITY_MONTHS:
        offset = round(m * DAYS_PER_MONTH)
        base[f"STAB_{m:02d}M"] = (dp_base + offset, dp_truth + offset + rng.integers(0, 6))
    base["EXPIRY"] = (dp_base + 730, dp_truth + 1095)  # shelf life extended from 24 to 36 months on stability data

    # Where today falls in this life.
    fpi_truth = base["FPI"][1]
    if spec.role in ("supply_risk", "near_miss"):
        today_rel = t0 - int(rng.integers(50, 71))
    elif spec.status == "startup":
        today_rel = int(rng.integers(int(act_sorted[0]) - 45, int(fpi_truth) + 8))  # a few subjects at most
    elif spec.status == "enrolling":
        today_rel = fpi_truth + rng.uniform(0.3, 0.85) * (lpi - fpi_truth)
        if spec.role == "big":
            today_rel = max(fpi_truth + 0.45 * (lpi - fpi_truth), activated[np.argsort(activated)[int(0.8 * n)]] + 60)
            today_rel = min(today_rel, lpi - 60)
    elif spec.status == "follow_up":
        today_rel = lpi + rng.uniform(0.15, 0.85) * (dbl - lpi)
    else:
        today_rel = base["CSR_FINAL"][1] + int(rng.integers(30, 300))
    shift = today - int(round(today_rel))

    # Site closure: after the site's last subject, or soon after LPI for a site with none; all of a closed trial's.
    last_end = np.full(n, -np.inf)
    np.maximum.at(last_end, enr_site, end)
    closed = np.where(np.isfinite(last_end), last_end, np.maximum(lpi, activated)) + rng.integers(14, 91, n)
    if spec.status == "closed":
        closed = np.maximum(closed, lplv + rng.integers(14, 121, n))
    closed = np.where(site_ok, closed, lpi + 14)
    activated = np.where(site_ok, activated, NA)

    # Site-level quality: data-entry lag, query rate and closing time, deviation rate.
    lag_mean = np.clip(rng.gamma(4.0, 1.0, n), 1.5, 8.0)
    query_rate = np.clip(0.25 * rng.gamma(5.0, 0.2, n), 0.08, 0.5)
    close_mean = np.clip(rng.gamma(4.0, 2.5, n), 3.0, 12.0)
    deviation_rate = np.clip(0.02 * rng.gamma(3.0, 1 / 3, n), 0.003, 0.06)
    if spec.role == "big":
        bad = int(BAD_SITE) - 1001
        lag_mean[bad], query_rate[bad], close_mean[bad], deviation_rate[bad] = 40.0, 0.8, 300.0, 0.05

    subjects_screened = np.concatenate([enr_scr, fail_scr])
    s = shift
    return dict(
        spec=spec,
        n_sites=n,
        target=target,
        treat_days=treat_days,
        n_treat=n_treat,
        sf_plan=0.3,
        planned=planned + s,
        selected=selected + s,
        activated=activated + s,
        closed=closed + s,
        country=country,
        site_target=site_target,
        lag_mean=lag_mean,
        query_rate=query_rate,
        close_mean=close_mean,
        deviation_rate=deviation_rate,
        subj_site=np.concatenate([enr_site, fail_site]),
        subj_screened=subjects_screened + s,
        subj_failed=np.concatenate([np.full(target, NA), fail_day + s]),
        subj_enrolled=np.concatenate([enr_day + s, np.full(fail_site.size, NA)]),
        subj_disc=np.concatenate([disc + s, np.full(fail_site.size, NA)]),
        subj_done=np.concatenate([done + s, np.full(fail_site.size, NA)]),
        milestones={code: (b + s, t + s) for code, (b, t) in base.items()},
        dbl=float(dbl + s),
        cmo_signed=float(cmo_base[0] + s - int(rng.integers(45, 121))),
        lab_signed=float(min(s + int(rng.integers(30, 91)), today)),
        cro_signed=float(s),
        cpi=float(spec.cpi or rng.uniform(0.93, 1.07)),
        plan_frac=(planned + s, lpi_base + s),
    )


# Assembling the tables.


def _ids(n: int) -> np.ndarray:
    return np.arange(1, n + 1, dtype=np.int64)


def _rank_within(groups: np.ndarray) -> np.ndarray:
    """1-based position of each row within its group, rows being already sorted by group."""
    n = groups.size
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    starts = np.r_[0, np.flatnonzero(groups[1:] != groups[:-1]) + 1]
    sizes = np.diff(np.r_[starts, n])
    return np.arange(n) - np.repeat(starts, sizes) + 1


def _site_labels(sim: dict, today: int) -> np.ndarray:
    """Each site's number within its trial, less 1001: its position, except that the site with the most subject-days on
    study by `today` (BAD_SITE aside) swaps numbers with UNDER_REPORTING_SITE in BIG_TRIAL, and with LATE_SAE_SITE in
    LATE_SAE_TRIAL.

    Only labels move (no random draw), so every other table is as it would be without the safety plants.
    """
    n = sim["n_sites"]
    labels = np.arange(n)
    spec = sim["spec"]
    planted = {BIG_TRIAL: UNDER_REPORTING_SITE, LATE_SAE_TRIAL: LATE_SAE_SITE}.get(spec.protocol)
    if planted is None or spec.large:
        return labels
    enrolled = sim["subj_enrolled"]
    on = enrolled <= today
    until = np.fmin(np.fmin(sim["subj_disc"], sim["subj_done"]), today)
    days = np.bincount(sim["subj_site"][on], weights=(until - enrolled)[on], minlength=n)
    if spec.role == "big":
        days[int(BAD_SITE) - 1001] = -np.inf
    site, wanted = int(np.argmax(days)), int(planted) - 1001
    labels[wanted], labels[site] = labels[site], wanted
    return labels


def _sensible(value: float) -> float:
    """A limit someone would write down: two significant digits (at most two decimals, as the demo writes them)."""
    return round(float(f"{value:.2g}"), 2)


def _phase_amounts(amounts: np.ndarray, total: float) -> np.ndarray:
    """Round monthly amounts to cents so they add up exactly to `total`."""
    if amounts.sum() <= 0:
        amounts = np.ones_like(amounts)
    cents = np.round(amounts / amounts.sum() * total * 100)
    cents[np.argmax(cents)] += round(total * 100) - cents.sum()
    return cents / 100
