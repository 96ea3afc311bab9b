"""Every reporting table of the demo portfolio as DataFrames (generate), from the simulated trials."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from dashboard import schema
from dashboard.demo.contracts import vendor_tables
from dashboard.demo.detail import _actual_cost, _adverse_events, _edc_detail, _forecasts, _qtls
from dashboard.demo.simulation import (
    _dates,
    _day,
    _ids,
    _month_index,
    _month_start,
    _rank_within,
    _simulate,
    _site_labels,
    _upto,
)
from dashboard.demo.specs import (
    COUNTRIES,
    DEFAULT_TRIALS,
    DEMO_USERS,
    DEVIATION_TEXTS,
    FIRST_NAMES,
    INSTITUTIONS,
    LAST_NAMES,
    MIN_TRIALS,
    NA,
    SPONSORS,
    UNDATED_DEVIATIONS_TRIAL,
    VENDORS,
    VISIT_INTERVAL_DAYS,
    DemoError,
    _trial_specs,
)


def _cat(sims: list[dict], key: str) -> np.ndarray:
    """One simulated array of every trial, end to end (sites, or subjects, in trial order)."""
    return np.concatenate([sim[key] for sim in sims])


def generate(seed: int = 7, n_trials: int = DEFAULT_TRIALS, today: date | None = None) -> dict[str, pd.DataFrame]:
    """Every reporting table of the demo portfolio, keyed by table name; the same for the same arguments.

    The main sponsor gets `n_trials` trials, the other max(2, n_trials // 4); no actual date is after `today`.
    Trials beyond those of the default portfolio are larger (LARGE_TRIAL_RATE_FACTOR, LARGE_TRIAL_TREATMENT_FACTOR).
    The tables are drawn in a fixed order from two random streams; each step below draws what it draws in that order,
    so moving a step changes the portfolio.
    """
    if n_trials < MIN_TRIALS:
        raise DemoError(f"the demo needs at least {MIN_TRIALS} trials for its planted features (asked for {n_trials})")
    today_d = today or date.today()
    T = _day(today_d)
    rng = np.random.default_rng(seed)
    specs = _trial_specs(rng, n_trials)
    sims = [_simulate(rng, spec, T) for spec in specs]
    # The safety and EDC-detail sources draw from a stream of their own, so adding them left the rest as it was.
    extra = np.random.default_rng([seed, 4242])
    frames: dict[str, pd.DataFrame] = _reference_tables()
    vendor_id = {v[0]: i + 1 for i, v in enumerate(VENDORS)}

    frames["trial"] = _trials(rng, sims)
    frames["site"], sites = _sites(rng, sims, T)
    frames["subject"], subjects = _subjects(extra, sims, T, sites)
    frames["enrollment_plan"] = _enrollment_plan(sims)
    frames["visit"], visits = _visits(rng, sims, T, subjects)
    frames["data_query"] = _data_queries(rng, extra, sims, T, visits)
    frames["deviation"], important_deviations = _deviations(rng, extra, sims, T, visits)

    # Safety and EDC detail (domain.md §4a), and the quality tolerance limits set on them.
    s, v = subjects, visits
    frames["adverse_event"] = _adverse_events(
        extra, sims, T, s.site, s.trial, s.enrolled, s.disc, s.done, sites.trial, sites.number
    )
    frames["crf_page"], frames["data_point"], frames["lab_result"] = _edc_detail(
        extra, sims, T, v.trial, v.site, v.number, v.date, v.entered, v.locked, sites.trial.size
    )
    frames["qtl"] = _qtls(
        sims, T, s.trial, s.failed, s.enrolled, s.disc, s.done, s.treatment_stopped, *important_deviations
    )

    # The vendor side: contracts, unit prices, change orders, the planned spend and milestones.
    trial_cpi = np.array([sim["cpi"] for sim in sims])
    vendor_frames, ms_df = vendor_tables(rng, sims, T, vendor_id)
    frames.update(vendor_frames)
    frames["milestone_forecast"] = _forecasts(rng, ms_df, T)

    # Actual cost: earned value of each month's delivered units and milestones, at the trial's cost factor.
    frames["actual_cost"] = _actual_cost(rng, frames, trial_cpi, T)

    sponsor_id = {s[0]: i + 1 for i, s in enumerate(SPONSORS)}
    grants = [(email, sponsor_id[code]) for email, codes in DEMO_USERS.items() for code in codes]
    frames["user_access"] = pd.DataFrame(
        {
            "user_access_id": _ids(len(grants)),
            "user_email": [g[0] for g in grants],
            "sponsor_id": [g[1] for g in grants],
        }
    )

    return {t.name: frames[t.name] for t in schema.TABLES if t.name in frames}


def _reference_tables() -> dict[str, pd.DataFrame]:
    """Sponsors, countries and vendors: the portfolio's fixed lists."""
    return {
        "sponsor": pd.DataFrame(
            {
                "sponsor_id": _ids(len(SPONSORS)),
                "sponsor_code": [s[0] for s in SPONSORS],
                "sponsor_name": [s[1] for s in SPONSORS],
                "reporting_currency": [s[2] for s in SPONSORS],
            }
        ),
        "country": pd.DataFrame(
            {
                "country_id": _ids(len(COUNTRIES)),
                "country_code": [c[0] for c in COUNTRIES],
                "country_name": [c[1] for c in COUNTRIES],
                "region": [c[2] for c in COUNTRIES],
            }
        ),
        "vendor": pd.DataFrame(
            {
                "vendor_id": _ids(len(VENDORS)),
                "vendor_code": [v[0] for v in VENDORS],
                "vendor_name": [v[1] for v in VENDORS],
                "vendor_kind": [v[2] for v in VENDORS],
            }
        ),
    }


def _trials(rng: np.random.Generator, sims: list[dict]) -> pd.DataFrame:
    """One row per trial, with a compound code drawn for its title."""
    trial_rows = []
    for i, sim in enumerate(sims):
        spec = sim["spec"]
        compound = f"{SPONSORS[spec.sponsor][3][:2]}-{int(rng.integers(1000, 10000))}"
        design = "randomised, double-blind, placebo-controlled " if spec.phase in ("II", "III") else "open-label "
        trial_rows.append(
            dict(
                trial_id=i + 1,
                sponsor_id=spec.sponsor + 1,
                protocol_number=spec.protocol,
                trial_title=f"{compound} in {spec.indication}: {'an' if design[0] == 'o' else 'a'} {design}phase {spec.phase} study",
                phase=spec.phase,
                therapeutic_area=spec.ta,
                indication=spec.indication,
                trial_status=spec.status,
                n_planned_sites=sim["n_sites"],
                n_planned_subjects=sim["target"],
            )
        )
    return pd.DataFrame(trial_rows)


@dataclass(frozen=True)
class _SiteIndex:
    """Per site (in site_id order): its trial (0-based) and site number; per trial, the index of its first site."""

    trial: np.ndarray
    offset: np.ndarray
    number: np.ndarray


def _sites(rng: np.random.Generator, sims: list[dict], T: int) -> tuple[pd.DataFrame, _SiteIndex]:
    """The site table, with each site's status and dates as known today."""
    cat = lambda key: _cat(sims, key)  # noqa: E731
    n_sites = np.array([sim["n_sites"] for sim in sims])
    site_trial = np.repeat(np.arange(len(sims)), n_sites)
    site_offset = np.r_[0, np.cumsum(n_sites)[:-1]]
    planned, selected, activated, closed = cat("planned"), cat("selected"), cat("activated"), cat("closed")
    never_activated = np.isnan(activated)
    activated_kept = _upto(activated, T)
    closed_kept = _upto(closed, T)
    selected_kept = np.where(selected <= np.where(never_activated, closed, T), _upto(selected, T), NA)
    site_status = np.select(
        [~np.isnan(closed_kept), ~np.isnan(activated_kept), ~np.isnan(selected_kept)],
        ["closed", "active", "selected"],
        "planned",
    )
    country = cat("country")
    site_local = np.concatenate([_site_labels(sim, T) for sim in sims])
    site_number = (1001 + site_local).astype(str)
    cities = [rng.choice(COUNTRIES[c][4]) for c in country]
    institutions = rng.choice(INSTITUTIONS, site_trial.size)
    first, last = rng.choice(FIRST_NAMES, site_trial.size), rng.choice(LAST_NAMES, site_trial.size)
    table = pd.DataFrame(
        {
            "site_id": _ids(site_trial.size),
            "trial_id": site_trial + 1,
            "country_id": country + 1,
            "site_number": site_number,
            "site_name": [f"{c} {inst}" for c, inst in zip(cities, institutions)],
            "investigator_name": [f"{f} {l}" for f, l in zip(first, last)],
            "site_status": site_status,
            "selected_date": _dates(selected_kept),
            "planned_activation_date": _dates(planned),
            "activated_date": _dates(activated_kept),
            "closed_date": _dates(closed_kept),
            "n_planned_subjects": cat("site_target"),
        }
    )
    return table, _SiteIndex(site_trial, site_offset, site_number)


@dataclass(frozen=True)
class _Subjects:
    """Per subject screened by today (in subject_id order): site and trial (0-based) and simulated days (NaN: never)."""

    site: np.ndarray
    trial: np.ndarray
    screened: np.ndarray
    failed: np.ndarray
    enrolled: np.ndarray
    disc: np.ndarray
    done: np.ndarray
    treatment_stopped: np.ndarray


def _subjects(
    extra: np.random.Generator, sims: list[dict], T: int, sites: _SiteIndex
) -> tuple[pd.DataFrame, _Subjects]:
    """Subjects: those screened by today, with the outcomes known by today."""
    cat = lambda key: _cat(sims, key)  # noqa: E731
    site_trial, site_offset, site_number = sites.trial, sites.offset, sites.number
    subj_site = np.concatenate([sim["subj_site"] + off for sim, off in zip(sims, site_offset)])
    screened, failed, enrolled = cat("subj_screened"), cat("subj_failed"), cat("subj_enrolled")
    disc, done = cat("subj_disc"), cat("subj_done")
    keep = screened <= T
    subj_site, screened, failed, enrolled, disc, done = (
        x[keep] for x in (subj_site, screened, failed, enrolled, disc, done)
    )
    subj_trial = site_trial[subj_site]
    order = np.lexsort((subj_site, screened, subj_trial))
    subj_site, subj_trial, screened, failed, enrolled, disc, done = (
        x[order] for x in (subj_site, subj_trial, screened, failed, enrolled, disc, done)
    )
    by_site = np.lexsort((screened, subj_site))
    number_in_site = np.empty(subj_site.size, dtype=np.int64)
    number_in_site[by_site] = _rank_within(subj_site[by_site])
    # Treatment stopped early: most who leave the study stopped it on the day or in the weeks before; a few others
    # stop it and stay on study for follow-up.
    n_subj = subj_site.size
    treat_span = np.array([sim["treat_days"] for sim in sims])[subj_trial]
    leaves = ~np.isnan(disc)
    stop_before = np.where(extra.random(n_subj) < 0.4, 0, extra.integers(1, 61, n_subj))
    stays = ~leaves & (extra.random(n_subj) < 0.09)
    stop_on_study = enrolled + np.floor(extra.uniform(0.1, 0.9, n_subj) * treat_span)
    treatment_stopped = np.select(
        [leaves & (extra.random(n_subj) < 0.85), stays], [np.maximum(enrolled, disc - stop_before), stop_on_study], NA
    )
    treatment_stopped = _upto(np.where(np.isnan(enrolled), NA, treatment_stopped), T)
    table = pd.DataFrame(
        {
            "subject_id": _ids(subj_site.size),
            "trial_id": subj_trial + 1,
            "site_id": subj_site + 1,
            "subject_number": [f"{s}-{k:03d}" for s, k in zip(site_number[subj_site], number_in_site)],
            "screened_date": _dates(screened),
            "screen_failed_date": _dates(_upto(failed, T)),
            "enrolled_date": _dates(_upto(enrolled, T)),
            "discontinued_date": _dates(_upto(disc, T)),
            "completed_date": _dates(_upto(done, T)),
            "treatment_discontinued_date": _dates(treatment_stopped),
        }
    )
    return table, _Subjects(subj_site, subj_trial, screened, failed, enrolled, disc, done, treatment_stopped)


def _enrollment_plan(sims: list[dict]) -> pd.DataFrame:
    """Enrollment plan per trial × country × month (cumulative, reaching the target in the LPI month)."""
    plan_rows = []
    for i, sim in enumerate(sims):
        p_act, lpi_base = sim["plan_frac"]
        months = np.arange(_month_index([p_act.min()])[0], _month_index([lpi_base])[0] + 1)
        month_end = _month_start(months + 1) - 1
        frac = np.clip((month_end[:, None] - p_act[None, :]) / (lpi_base - p_act)[None, :], 0, 1)
        for c in np.unique(sim["country"]):
            in_c = sim["country"] == c
            cumulative = np.round(frac[:, in_c] @ sim["site_target"][in_c]).astype(int)
            plan_rows.append(
                pd.DataFrame(
                    {"trial_id": i + 1, "country_id": c + 1, "month": months, "n_planned_cumulative": cumulative}
                )
            )
    plan = pd.concat(plan_rows, ignore_index=True)
    return pd.DataFrame(
        {
            "enrollment_plan_id": _ids(len(plan)),
            "trial_id": plan["trial_id"].to_numpy(),
            "country_id": plan["country_id"].to_numpy(),
            "month_date": _dates(_month_start(plan["month"].to_numpy())),
            "n_planned_cumulative": plan["n_planned_cumulative"].to_numpy(),
        }
    )


@dataclass(frozen=True)
class _Visits:
    """Per visit (in visit_id order): subject, site and trial (0-based), number, simulated days visited and entered
    (NaN: not yet), and the day its trial's database is locked."""

    subj: np.ndarray
    site: np.ndarray
    trial: np.ndarray
    number: np.ndarray
    date: np.ndarray
    entered: np.ndarray
    locked: np.ndarray


def _visits(rng: np.random.Generator, sims: list[dict], T: int, s: _Subjects) -> tuple[pd.DataFrame, _Visits]:
    """Visits: 1 = screening; then every four weeks from enrollment until the subject leaves (or today)."""
    cat = lambda key: _cat(sims, key)  # noqa: E731
    subj_site, subj_trial, screened, enrolled, disc, done = s.site, s.trial, s.screened, s.enrolled, s.disc, s.done
    dbl_of_trial = np.array([sim["dbl"] for sim in sims])
    n_treat_of_trial = np.array([sim["n_treat"] for sim in sims])
    enrolled_now = ~np.isnan(enrolled) & (enrolled <= T)
    leave = np.where(np.isnan(disc), done, disc)
    e_idx = np.flatnonzero(enrolled_now)
    span = np.minimum(leave[e_idx], T) - enrolled[e_idx]
    n_v = np.minimum(np.floor(span / VISIT_INTERVAL_DAYS).astype(np.int64), n_treat_of_trial[subj_trial[e_idx]]) + 1
    v_subj = np.repeat(e_idx, n_v)
    k = np.arange(v_subj.size) - np.repeat(np.r_[0, np.cumsum(n_v)[:-1]], n_v)
    jitter = np.where(k > 0, rng.integers(-3, 4, v_subj.size), 0)
    v_date = np.minimum(enrolled[v_subj] + VISIT_INTERVAL_DAYS * k + jitter, leave[v_subj])
    ok = v_date <= T
    v_subj = np.concatenate([np.arange(subj_site.size), v_subj[ok]])
    v_number = np.concatenate([np.ones(subj_site.size, dtype=np.int64), k[ok] + 2])
    v_date = np.concatenate([screened, v_date[ok]])
    order = np.lexsort((v_number, v_subj))
    v_subj, v_number, v_date = v_subj[order], v_number[order], v_date[order]
    v_site = subj_site[v_subj]
    v_trial = subj_trial[v_subj]
    lag_mean = cat("lag_mean")[v_site]
    lag = np.minimum(np.floor(rng.exponential(1.0, v_subj.size) * lag_mean), 60)
    entered = v_date + lag
    locked = dbl_of_trial[v_trial]
    entered = np.where(locked <= T, np.maximum(np.minimum(entered, locked - 1), v_date), entered)
    entered = _upto(entered, T)
    table = pd.DataFrame(
        {
            "visit_id": _ids(v_subj.size),
            "trial_id": v_trial + 1,
            "site_id": v_site + 1,
            "subject_id": v_subj + 1,
            "visit_number": v_number,
            "visit_date": _dates(v_date),
            "entered_date": _dates(entered),
        }
    )
    return table, _Visits(v_subj, v_site, v_trial, v_number, v_date, entered, locked)


def _data_queries(
    rng: np.random.Generator, extra: np.random.Generator, sims: list[dict], T: int, v: _Visits
) -> pd.DataFrame:
    """Data queries, raised on entered visits; the database lock closes every one."""
    cat = lambda key: _cat(sims, key)  # noqa: E731
    v_subj, v_site, v_trial, entered, locked = v.subj, v.site, v.trial, v.entered, v.locked
    is_entered = ~np.isnan(entered)
    q_counts = np.where(is_entered, rng.poisson(cat("query_rate")[v_site]), 0)
    q_visit = np.repeat(np.arange(v_subj.size), q_counts)
    opened = entered[q_visit] + np.floor(rng.exponential(4.0, q_visit.size))
    closed_q = opened + 1 + np.floor(rng.exponential(1.0, q_visit.size) * cat("close_mean")[v_site[q_visit]])
    q_locked = locked[q_visit]
    lock_done = q_locked <= T
    opened = np.where(lock_done, np.minimum(opened, q_locked - 1), opened)
    closed_q = np.where(lock_done, np.minimum(closed_q, q_locked), closed_q)
    ok = opened <= T
    q_visit, opened, closed_q = q_visit[ok], opened[ok], closed_q[ok]
    q_trial = v_trial[q_visit]
    order = np.lexsort((q_visit, opened, q_trial))
    q_visit, opened, closed_q, q_trial = q_visit[order], opened[order], closed_q[order], q_trial[order]
    # Most queries are answered by the site, then closed by data management after a review that takes a good part of
    # the time to close, but a few weeks at most (so BAD_SITE's queries wait for the site); the others are closed
    # without an answer. Status is as of today.
    n_q = q_visit.size
    review = np.minimum(
        np.floor(extra.uniform(0.3, 0.9, n_q) * (closed_q - opened)), 1 + np.floor(extra.exponential(5.0, n_q))
    )
    answered = np.where(extra.random(n_q) < 0.85, np.maximum(opened, closed_q - review), NA)
    closed_kept, answered = _upto(closed_q, T), _upto(answered, T)
    query_status = np.where(~np.isnan(closed_kept), "closed", np.where(~np.isnan(answered), "answered", "open"))
    return pd.DataFrame(
        {
            "data_query_id": _ids(q_visit.size),
            "trial_id": q_trial + 1,
            "site_id": v_site[q_visit] + 1,
            "subject_id": v_subj[q_visit] + 1,
            "query_number": [f"Q-{k:06d}" for k in _rank_within(q_trial)],
            "opened_date": _dates(opened),
            "answered_date": _dates(answered),
            "closed_date": _dates(closed_kept),
            "query_status": query_status,
        }
    )


def _deviations(
    rng: np.random.Generator, extra: np.random.Generator, sims: list[dict], T: int, v: _Visits
) -> tuple[pd.DataFrame, tuple[np.ndarray, np.ndarray]]:
    """Protocol deviations, on the day of a visit; and the important ones' trials and the days they count from (QTLs)."""
    cat = lambda key: _cat(sims, key)  # noqa: E731
    v_subj, v_site, v_trial, v_date = v.subj, v.site, v.trial, v.date
    d_counts = rng.poisson(cat("deviation_rate")[v_site])
    d_visit = np.repeat(np.arange(v_subj.size), d_counts)
    d_trial = v_trial[d_visit]
    order = np.lexsort((d_visit, v_date[d_visit], d_trial))
    d_visit, d_trial = d_visit[order], d_trial[order]
    # Identified by the site or a monitor some days later (half of them with that day recorded); UNDATED_DEVIATIONS_TRIAL's
    # log leaves two thirds undated, most with the day identified, a few with neither. Each row is loaded 1–7 days
    # after the last day it has (identified, else its date; one with neither, after the day it was in fact identified),
    # never after today: the day an undated one without an identified day counts from.
    n_d = d_visit.size
    happened = v_date[d_visit]
    identified = np.minimum(happened + np.floor(extra.exponential(6.0, n_d)), T)
    undated_trial = [sim["spec"].protocol for sim in sims].index(UNDATED_DEVIATIONS_TRIAL)
    undated = (d_trial == undated_trial) & (extra.random(n_d) < 0.65)
    no_identified = np.where(undated, extra.random(n_d) < 0.15, extra.random(n_d) < 0.5)
    deviation_date = np.where(undated, NA, happened)
    known = np.where(no_identified, np.where(undated, identified, happened), identified)
    identified = np.where(no_identified, NA, identified)
    loaded = np.minimum(known + extra.integers(1, 8, n_d), T)
    is_important = rng.random(n_d) < 0.3
    table = pd.DataFrame(
        {
            "deviation_id": _ids(d_visit.size),
            "trial_id": d_trial + 1,
            "site_id": v_site[d_visit] + 1,
            "subject_id": v_subj[d_visit] + 1,
            "deviation_number": [f"PD-{k:05d}" for k in _rank_within(d_trial)],
            "deviation_date": _dates(deviation_date),
            "identified_date": _dates(identified),
            "first_loaded_date": _dates(loaded),
            "is_important": is_important,
            "description": rng.choice(DEVIATION_TEXTS, d_visit.size),
        }
    )

    counted = np.where(np.isnan(deviation_date), np.where(np.isnan(identified), loaded, identified), deviation_date)
    return table, (d_trial[is_important], counted[is_important])
