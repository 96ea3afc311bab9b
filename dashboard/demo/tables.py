"""Every reporting table of the demo portfolio as DataFrames (generate), from the simulated trials."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from dashboard import schema
from dashboard.demo.detail import _actual_cost, _adverse_events, _edc_detail, _forecasts, _qtls
from dashboard.demo.simulation import (
    _dates,
    _day,
    _ids,
    _month_index,
    _month_start,
    _phase_amounts,
    _rank_within,
    _simulate,
    _site_labels,
    _upto,
)
from dashboard.demo.specs import (
    CHANGE_ORDER_REASONS,
    CMO_MILESTONES,
    COUNTRIES,
    CRO_MILESTONES,
    DEFAULT_TRIALS,
    DEMO_USERS,
    DEVIATION_TEXTS,
    FIRST_NAMES,
    INSTITUTIONS,
    LAB,
    LAST_NAMES,
    MIN_TRIALS,
    NA,
    PHASES,
    SPONSORS,
    STABILITY_MONTHS,
    SUPPLY_LEAD_TIME_DAYS,
    UNDATED_DEVIATIONS_TRIAL,
    VENDORS,
    VISIT_INTERVAL_DAYS,
    DemoError,
    _trial_specs,
)


def generate(seed: int = 7, n_trials: int = DEFAULT_TRIALS, today: date | None = None) -> dict[str, pd.DataFrame]:
    """Every reporting table of the demo portfolio, keyed by table name; the same for the same arguments.

    The main sponsor gets `n_trials` trials, the other max(2, n_trials // 4); no actual date is after `today`.
    Trials beyond those of the default portfolio are larger (LARGE_TRIAL_RATE_FACTOR, LARGE_TRIAL_TREATMENT_FACTOR).
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
    frames: dict[str, pd.DataFrame] = {}

    frames["sponsor"] = pd.DataFrame({
        "sponsor_id": _ids(len(SPONSORS)),
        "sponsor_code": [s[0] for s in SPONSORS],
        "sponsor_name": [s[1] for s in SPONSORS],
        "reporting_currency": [s[2] for s in SPONSORS],
    })
    frames["country"] = pd.DataFrame({
        "country_id": _ids(len(COUNTRIES)),
        "country_code": [c[0] for c in COUNTRIES],
        "country_name": [c[1] for c in COUNTRIES],
        "region": [c[2] for c in COUNTRIES],
    })
    frames["vendor"] = pd.DataFrame({
        "vendor_id": _ids(len(VENDORS)),
        "vendor_code": [v[0] for v in VENDORS],
        "vendor_name": [v[1] for v in VENDORS],
        "vendor_kind": [v[2] for v in VENDORS],
    })
    vendor_id = {v[0]: i + 1 for i, v in enumerate(VENDORS)}

    # Trials.
    trial_rows = []
    for i, sim in enumerate(sims):
        spec = sim["spec"]
        compound = f"{SPONSORS[spec.sponsor][3][:2]}-{int(rng.integers(1000, 10000))}"
        design = "randomised, double-blind, placebo-controlled " if spec.phase in ("II", "III") else "open-label "
        trial_rows.append(dict(
            trial_id=i + 1, sponsor_id=spec.sponsor + 1, protocol_number=spec.protocol,
            trial_title=f"{compound} in {spec.indication}: {'an' if design[0] == 'o' else 'a'} {design}phase {spec.phase} study",
            phase=spec.phase, therapeutic_area=spec.ta, indication=spec.indication, trial_status=spec.status,
            n_planned_sites=sim["n_sites"], n_planned_subjects=sim["target"],
        ))
    frames["trial"] = pd.DataFrame(trial_rows)

    # Sites.
    n_sites = np.array([sim["n_sites"] for sim in sims])
    site_trial = np.repeat(np.arange(len(sims)), n_sites)
    site_offset = np.r_[0, np.cumsum(n_sites)[:-1]]
    cat = lambda key: np.concatenate([sim[key] for sim in sims])  # noqa: E731
    planned, selected, activated, closed = cat("planned"), cat("selected"), cat("activated"), cat("closed")
    never_activated = np.isnan(activated)
    activated_kept = _upto(activated, T)
    closed_kept = _upto(closed, T)
    selected_kept = np.where(selected <= np.where(never_activated, closed, T), _upto(selected, T), NA)
    site_status = np.select(
        [~np.isnan(closed_kept), ~np.isnan(activated_kept), ~np.isnan(selected_kept)], ["closed", "active", "selected"], "planned"
    )
    country = cat("country")
    site_local = np.concatenate([_site_labels(sim, T) for sim in sims])
    site_number = (1001 + site_local).astype(str)
    cities = [rng.choice(COUNTRIES[c][4]) for c in country]
    institutions = rng.choice(INSTITUTIONS, site_trial.size)
    first, last = rng.choice(FIRST_NAMES, site_trial.size), rng.choice(LAST_NAMES, site_trial.size)
    frames["site"] = pd.DataFrame({
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
    })

    # Subjects: those screened by today, with the outcomes known by today.
    subj_site = np.concatenate([sim["subj_site"] + off for sim, off in zip(sims, site_offset)])
    screened, failed, enrolled = cat("subj_screened"), cat("subj_failed"), cat("subj_enrolled")
    disc, done = cat("subj_disc"), cat("subj_done")
    keep = screened <= T
    subj_site, screened, failed, enrolled, disc, done = (x[keep] for x in (subj_site, screened, failed, enrolled, disc, done))
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
    frames["subject"] = pd.DataFrame({
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
    })

    # Enrollment plan per trial × country × month (cumulative, reaching the target in the LPI month).
    plan_rows = []
    for i, sim in enumerate(sims):
        p_act, lpi_base = sim["plan_frac"]
        months = np.arange(_month_index([p_act.min()])[0], _month_index([lpi_base])[0] + 1)
        month_end = _month_start(months + 1) - 1
        frac = np.clip((month_end[:, None] - p_act[None, :]) / (lpi_base - p_act)[None, :], 0, 1)
        for c in np.unique(sim["country"]):
            in_c = sim["country"] == c
            cumulative = np.round(frac[:, in_c] @ sim["site_target"][in_c]).astype(int)
            plan_rows.append(pd.DataFrame({"trial_id": i + 1, "country_id": c + 1, "month": months, "n_planned_cumulative": cumulative}))
    plan = pd.concat(plan_rows, ignore_index=True)
    frames["enrollment_plan"] = pd.DataFrame({
        "enrollment_plan_id": _ids(len(plan)),
        "trial_id": plan["trial_id"].to_numpy(),
        "country_id": plan["country_id"].to_numpy(),
        "month_date": _dates(_month_start(plan["month"].to_numpy())),
        "n_planned_cumulative": plan["n_planned_cumulative"].to_numpy(),
    })

    # Visits: 1 = screening; then every four weeks from enrollment until the subject leaves (or today).
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
    frames["visit"] = pd.DataFrame({
        "visit_id": _ids(v_subj.size),
        "trial_id": v_trial + 1,
        "site_id": v_site + 1,
        "subject_id": v_subj + 1,
        "visit_number": v_number,
        "visit_date": _dates(v_date),
        "entered_date": _dates(entered),
    })

    # Data queries, raised on entered visits; the database lock closes every one.
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
    review = np.minimum(np.floor(extra.uniform(0.3, 0.9, n_q) * (closed_q - opened)), 1 + np.floor(extra.exponential(5.0, n_q)))
    answered = np.where(extra.random(n_q) < 0.85, np.maximum(opened, closed_q - review), NA)
    closed_kept, answered = _upto(closed_q, T), _upto(answered, T)
    query_status = np.where(~np.isnan(closed_kept), "closed", np.where(~np.isnan(answered), "answered", "open"))
    frames["data_query"] = pd.DataFrame({
        "data_query_id": _ids(q_visit.size),
        "trial_id": q_trial + 1,
        "site_id": v_site[q_visit] + 1,
        "subject_id": v_subj[q_visit] + 1,
        "query_number": [f"Q-{k:06d}" for k in _rank_within(q_trial)],
        "opened_date": _dates(opened),
        "answered_date": _dates(answered),
        "closed_date": _dates(closed_kept),
        "query_status": query_status,
    })

    # Protocol deviations, on the day of a visit.
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
    frames["deviation"] = pd.DataFrame({
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
    })

    # Safety and EDC detail (domain.md §4a), and the quality tolerance limits set on them.
    frames["adverse_event"] = _adverse_events(extra, sims, T, subj_site, subj_trial, enrolled, disc, done, site_trial, site_number)
    frames["crf_page"], frames["data_point"], frames["lab_result"] = _edc_detail(
        extra, sims, T, v_trial, v_site, v_number, v_date, entered, locked, site_trial.size
    )
    counted = np.where(np.isnan(deviation_date), np.where(np.isnan(identified), loaded, identified), deviation_date)
    frames["qtl"] = _qtls(sims, T, subj_trial, failed, enrolled, disc, done, treatment_stopped, d_trial[is_important],
                          counted[is_important])

    # Contracts, unit prices and milestones, trial by trial.
    contract_rows, price_rows, milestone_rows, plan_parts = [], [], [], []
    trial_cpi = np.array([sim["cpi"] for sim in sims])
    for i, sim in enumerate(sims):
        spec = sim["spec"]
        scale = PHASES[spec.phase]["scale"]
        target, n_planned = sim["target"], sim["n_sites"]
        pl_act, lpi_base = sim["plan_frac"]
        # Planned units by day: sites at planned activation, subjects evenly per site, visits following enrollment.
        days = np.arange(int(pl_act.min()) - 30, int(lpi_base) + sim["treat_days"] + 1)
        frac = np.clip((days[:, None] - pl_act[None, :]) / (lpi_base - pl_act)[None, :], 0, 1)
        enrol_by_day = np.diff(np.r_[0.0, frac @ sim["site_target"]])
        kernel = np.zeros(sim["treat_days"] + 1)
        kernel[::VISIT_INTERVAL_DAYS] = 1 - 0.1 * np.arange(sim["n_treat"] + 1) / sim["n_treat"]
        screening = np.r_[enrol_by_day[10:], np.zeros(10)] / (1 - sim["sf_plan"])
        visits_by_day = screening + np.convolve(enrol_by_day, kernel)[: days.size]
        planned_visits = int(round(visits_by_day.sum()))
        site_by_day = np.bincount((pl_act - days[0]).astype(int), minlength=days.size)[: days.size]
        ms = sim["milestones"]

        def phased(parts: list[tuple[np.ndarray, np.ndarray]]) -> pd.Series:
            """Monthly sums of (day, amount) pieces."""
            d = np.concatenate([p[0] for p in parts])
            a = np.concatenate([p[1] for p in parts])
            return pd.Series(a).groupby(_month_index(d)).sum()

        clinical_vendor = spec.cro
        supply_vendor = spec.supplier
        # A full-service CDMO signs one contract, early enough for its supply work.
        cro_signed = sim["cro_signed"] if supply_vendor != clinical_vendor else min(sim["cro_signed"], sim["cmo_signed"])
        contracts = [("CRO", clinical_vendor, cro_signed, ms["CSR_FINAL"][0])]
        if supply_vendor != clinical_vendor:
            contracts.append(("CMO", supply_vendor, sim["cmo_signed"], ms["SITE_SUPPLY_READY"][0]))
        if spec.lab:
            contracts.append(("LAB", LAB, sim["lab_signed"], ms["LPLV"][0] + 30))
        for suffix, vcode, signed, end_day in contracts:
            contract_id = len(contract_rows) + 1
            prices = []
            service, passthrough = [], []
            if suffix == "CRO":
                site_fee = round(float(rng.uniform(12_000, 25_000)), -2)
                subject_fee = round(float(rng.uniform(2_500, 6_000)) * (0.6 + scale / 2), -1)
                grant = round(float(rng.uniform(6_000, 20_000)) * (0.5 + scale / 2), -1)
                visit_fee = round(float(rng.uniform(600, 1_500)), -1)
                prices = [("site_activated", "service_fee", site_fee), ("subject_enrolled", "service_fee", subject_fee),
                          ("subject_enrolled", "pass_through", grant), ("visit_done", "pass_through", visit_fee)]
                service += [(days, site_by_day * site_fee), (days, enrol_by_day * subject_fee)]
                passthrough += [(days, enrol_by_day * grant), (days, visits_by_day * visit_fee)]
                service_total = site_fee * n_planned + subject_fee * target
                pass_total = grant * target + visit_fee * planned_visits
            elif suffix == "LAB":
                lab_fee = round(float(rng.uniform(150, 450)), -1)
                prices = [("visit_done", "service_fee", lab_fee)]
                service += [(days, visits_by_day * lab_fee)]
                service_total, pass_total = lab_fee * planned_visits, 0.0
            else:
                service_total, pass_total = 0.0, 0.0
            lanes = []
            if vcode == clinical_vendor and suffix == "CRO":
                lanes.append("CRO")
            if vcode == supply_vendor:
                lanes.append("CMO")
            for lane in lanes:
                for seq, (code, name, is_key, fee) in enumerate(CRO_MILESTONES if lane == "CRO" else CMO_MILESTONES, start=1):
                    b, t = ms[code]
                    payment = round(fee * scale * float(rng.uniform(0.85, 1.15)), -2)
                    service.append((np.array([b]), np.array([payment])))
                    service_total += payment
                    milestone_rows.append(dict(trial=i, vendor=vcode, lane=lane, code=code, name=name, kind="contract", seq=seq,
                                               is_key=is_key, baseline=b, truth=t, payment=payment, signed=signed, role=spec.role))
                if lane == "CMO":
                    stab = [(f"STAB_{m:02d}M", f"Stability pull {m} months", "stability_pull") for m in STABILITY_MONTHS]
                    for seq, (code, name, kind) in enumerate(stab + [("EXPIRY", "Expiry / re-test date", "expiry")], start=len(CMO_MILESTONES) + 1):
                        b, t = ms[code]
                        milestone_rows.append(dict(trial=i, vendor=vcode, lane="CMO", code=code, name=name, kind=kind, seq=seq,
                                                   is_key=False, baseline=b, truth=t, payment=0.0, signed=signed, role=spec.role))
            contract_rows.append(dict(
                contract_id=contract_id, trial_id=i + 1, vendor_id=vendor_id[vcode],
                contract_number=f"{spec.protocol}-{suffix}", signed_date=signed,
                contracted_amount=round(service_total + pass_total, 2), planned_end_date=end_day,
            ))
            for unit_type, category, amount in prices:
                price_rows.append(dict(contract_id=contract_id, unit_type=unit_type, cost_category=category, unit_price_amount=amount))
            # The baseline plan: month by month from signature to the planned end, per cost category.
            months = np.arange(_month_index([signed])[0], _month_index([end_day])[0] + 1)
            for category, parts, total in (("service_fee", service, service_total), ("pass_through", passthrough, pass_total)):
                if total <= 0:
                    continue
                monthly = phased(parts).reindex(months, fill_value=0.0).to_numpy()
                plan_parts.append(pd.DataFrame({
                    "contract_id": contract_id, "change_order_id": pd.NA, "month": months, "cost_category": category,
                    "planned_amount": _phase_amounts(np.clip(monthly, 0, None), total),
                }))

    contracts = pd.DataFrame(contract_rows)
    frames["contract"] = pd.DataFrame({
        "contract_id": contracts["contract_id"].to_numpy(),
        "trial_id": contracts["trial_id"].to_numpy(),
        "vendor_id": contracts["vendor_id"].to_numpy(),
        "contract_number": contracts["contract_number"].to_numpy(),
        "signed_date": _dates(contracts["signed_date"]),
        "contracted_amount": contracts["contracted_amount"].to_numpy(),
        "planned_end_date": _dates(contracts["planned_end_date"]),
    })
    prices = pd.DataFrame(price_rows)
    frames["unit_price"] = pd.DataFrame({"unit_price_id": _ids(len(prices)), **{c: prices[c].to_numpy() for c in prices.columns}})

    # Change orders on CRO contracts of trials under way: most approved, one still proposed.
    cro_contracts = contracts[contracts["contract_number"].str.endswith("-CRO")]
    running = [cid for cid, tid in zip(cro_contracts["contract_id"], cro_contracts["trial_id"])
               if sims[tid - 1]["spec"].status in ("enrolling", "follow_up", "closed")]
    n_co = min(len(running), max(3, len(sims) // 4))
    chosen = sorted(rng.choice(running, size=n_co, replace=False).tolist())
    proposed_at = int(rng.integers(0, n_co))
    co_rows, per_contract = [], {}
    for j, cid in enumerate(chosen):
        row = contracts.iloc[cid - 1]
        per_contract[cid] = per_contract.get(cid, 0) + 1
        reason, category = CHANGE_ORDER_REASONS[int(rng.integers(len(CHANGE_ORDER_REASONS)))]
        share = float(rng.uniform(0.04, 0.14))
        if j == proposed_at:
            requested = T - int(rng.integers(3, 25))
            approved = NA
        else:
            requested = float(rng.integers(int(row["signed_date"]) + 60, max(int(row["signed_date"]) + 61, T - 50)))
            approved = requested + int(rng.integers(10, max(11, min(46, T - int(requested)))))
            if j == (proposed_at + 1) % n_co:
                reason, category, share = "Descoped country after feasibility", "service_fee", -float(rng.uniform(0.02, 0.05))
        amount = round(row["contracted_amount"] * share, -3)
        co_id = len(co_rows) + 1
        co_rows.append(dict(
            change_order_id=co_id, contract_id=cid, change_order_number=f"{row['contract_number']}-CO{per_contract[cid]}",
            requested_date=requested, approved_date=approved, change_order_status="proposed" if np.isnan(approved) else "approved",
            change_amount=amount, reason=reason,
        ))
        start = _month_index([approved if not np.isnan(approved) else requested])[0]
        months = np.arange(start, max(start, _month_index([row["planned_end_date"]])[0]) + 1)
        spread = np.full(months.size, amount / months.size)
        cents = np.round(spread * 100)
        cents[-1] += round(amount * 100) - cents.sum()
        plan_parts.append(pd.DataFrame({"contract_id": cid, "change_order_id": co_id, "month": months,
                                        "cost_category": category, "planned_amount": cents / 100}))
    co = pd.DataFrame(co_rows)
    frames["change_order"] = pd.DataFrame({
        "change_order_id": co["change_order_id"].to_numpy(),
        "contract_id": co["contract_id"].to_numpy(),
        "change_order_number": co["change_order_number"].to_numpy(),
        "requested_date": _dates(co["requested_date"]),
        "approved_date": _dates(co["approved_date"]),
        "change_order_status": co["change_order_status"].to_numpy(),
        "change_amount": co["change_amount"].to_numpy(dtype=float),
        "reason": co["reason"].to_numpy(),
    })
    spend = pd.concat(plan_parts, ignore_index=True)
    frames["planned_spend"] = pd.DataFrame({
        "planned_spend_id": _ids(len(spend)),
        "contract_id": spend["contract_id"].to_numpy(),
        "change_order_id": spend["change_order_id"].astype("Int64").array,
        "month_date": _dates(_month_start(spend["month"].to_numpy())),
        "cost_category": spend["cost_category"].to_numpy(),
        "planned_amount": spend["planned_amount"].to_numpy(dtype=float),
    })

    # Milestones: CRO lane first in each trial, so a supply milestone refers back to a lower id.
    ms_df = pd.DataFrame(milestone_rows)
    ms_df["order"] = ms_df["lane"].map({"CRO": 0, "CMO": 1})
    ms_df = ms_df.sort_values(["trial", "order", "seq"], kind="stable").reset_index(drop=True)
    ms_df["milestone_id"] = _ids(len(ms_df))
    truth = ms_df["truth"].to_numpy(dtype=float)
    actual = _upto(truth, T)
    fsa_id = ms_df[ms_df["code"] == "FIRST_SITE_ACTIVATED"].set_index("trial")["milestone_id"]
    is_ssr = ms_df["code"] == "SITE_SUPPLY_READY"
    precedes = pd.array([fsa_id[t] if s else pd.NA for t, s in zip(ms_df["trial"], is_ssr)], dtype="Int64")
    age = T - actual
    pay_status = np.select([np.isnan(actual) | (ms_df["payment"].to_numpy() <= 0), age > 60, age > 20], ["not_due", "paid", "invoiced"], "due")
    frames["milestone"] = pd.DataFrame({
        "milestone_id": ms_df["milestone_id"].to_numpy(),
        "trial_id": ms_df["trial"].to_numpy() + 1,
        "vendor_id": ms_df["vendor"].map(vendor_id).to_numpy(),
        "lane": ms_df["lane"].to_numpy(),
        "milestone_code": ms_df["code"].to_numpy(),
        "milestone_name": ms_df["name"].to_numpy(),
        "milestone_kind": ms_df["kind"].to_numpy(),
        "sequence": ms_df["seq"].to_numpy(),
        "is_key": ms_df["is_key"].to_numpy(dtype=bool),
        "baseline_date": _dates(ms_df["baseline"]),
        "actual_date": _dates(actual),
        "payment_amount": ms_df["payment"].to_numpy(dtype=float),
        "payment_status": pay_status,
        "precedes_milestone_id": precedes,
        "lead_time_days": np.where(is_ssr, SUPPLY_LEAD_TIME_DAYS, 0),
    })

    frames["milestone_forecast"] = _forecasts(rng, ms_df, T)

    # Actual cost: earned value of each month's delivered units and milestones, at the trial's cost factor.
    frames["actual_cost"] = _actual_cost(rng, frames, trial_cpi, T)

    sponsor_id = {s[0]: i + 1 for i, s in enumerate(SPONSORS)}
    grants = [(email, sponsor_id[code]) for email, codes in DEMO_USERS.items() for code in codes]
    frames["user_access"] = pd.DataFrame({
        "user_access_id": _ids(len(grants)),
        "user_email": [g[0] for g in grants],
        "sponsor_id": [g[1] for g in grants],
    })

    return {t.name: frames[t.name] for t in schema.TABLES if t.name in frames}
