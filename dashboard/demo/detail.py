"""The demo's detailed tables: adverse events, EDC detail (data points, labs, eCRF pages), QTLs, milestone forecast
histories and actual cost."""

from __future__ import annotations

import numpy as np
import pandas as pd

from dashboard import schema
from dashboard.demo.simulation import (
    _dates,
    _ids,
    _month_index,
    _month_start,
    _next_monday,
    _rank_within,
    _sensible,
    _upto,
)
from dashboard.demo.specs import (
    AE_TERMS,
    BIG_TRIAL,
    CRF_PAGE_TRIALS,
    CRF_PAGES,
    DAYS_PER_MONTH,
    FORECAST_NEWS_DAYS,
    LARGE_TRIAL_AE_RATE,
    LATE_SAE_SITE,
    LATE_SAE_TRIAL,
    MOVED_THIS_WEEK,
    NA,
    QTL_BREACH_FIGURE,
    QTL_BREACH_TRIAL,
    QTL_TRIALS,
    SAE_TERMS,
    UNDER_REPORTING_FACTOR,
    UNDER_REPORTING_SITE,
)


def _adverse_events(
    rng: np.random.Generator,
    sims: list[dict],
    T: int,
    subj_site: np.ndarray,
    subj_trial: np.ndarray,
    enrolled: np.ndarray,
    disc: np.ndarray,
    done: np.ndarray,
    site_trial: np.ndarray,
    site_number: np.ndarray,
) -> pd.DataFrame:
    """Adverse events of enrolled subjects while on study: Poisson at the trial's rate per subject-month (0.45 in
    oncology, 0.22–0.38 elsewhere, LARGE_TRIAL_AE_RATE in the large portfolio's extra trials), a little over-dispersed
    between sites; 8–12 % serious. The site becomes aware 0–3 days after onset; an SAE reaches the sponsor on the day
    or the next (95 %), a non-serious AE within weeks or not individually. Only events the site was aware of by
    `today` are kept. Planted: BIG_TRIAL's UNDER_REPORTING_SITE reports UNDER_REPORTING_FACTOR of its
    peers' rate; LATE_SAE_TRIAL's LATE_SAE_SITE reports four in five of its SAEs 3–10 days after awareness.
    """
    n_trials = len(sims)
    trial_rate = np.where([sim["spec"].ta == "Oncology" for sim in sims], 0.45, rng.uniform(0.22, 0.38, n_trials))
    trial_rate[[sim["spec"].large for sim in sims]] = LARGE_TRIAL_AE_RATE
    sae_share = rng.uniform(0.08, 0.12, n_trials)
    site_factor = rng.gamma(30.0, 1 / 30.0, site_trial.size)
    protocols = [sim["spec"].protocol for sim in sims]
    under = np.flatnonzero((site_trial == protocols.index(BIG_TRIAL)) & (site_number == UNDER_REPORTING_SITE))[0]
    late_site = np.flatnonzero((site_trial == protocols.index(LATE_SAE_TRIAL)) & (site_number == LATE_SAE_SITE))[0]
    site_factor[under] = UNDER_REPORTING_FACTOR

    # On study from enrollment to the earliest of discontinuation, completion and today.
    e_idx = np.flatnonzero(enrolled <= T)
    start = enrolled[e_idx]
    stop = np.fmin(np.fmin(disc[e_idx], done[e_idx]), T)
    span = stop - start
    counts = rng.poisson(trial_rate[subj_trial[e_idx]] * site_factor[subj_site[e_idx]] * span / DAYS_PER_MONTH)
    a_subj = np.repeat(e_idx, counts)
    onset = np.minimum(
        np.repeat(start, counts) + np.floor(rng.random(a_subj.size) * (np.repeat(span, counts) + 1)),
        np.repeat(stop, counts),
    )
    serious = rng.random(a_subj.size) < sae_share[subj_trial[a_subj]]
    aware = onset + rng.choice(4, a_subj.size, p=[0.6, 0.25, 0.1, 0.05])
    keep = aware <= T
    a_subj, onset, serious, aware = a_subj[keep], onset[keep], serious[keep], aware[keep]
    a_trial = subj_trial[a_subj]
    order = np.lexsort((a_subj, aware, a_trial))
    a_subj, onset, serious, aware, a_trial = a_subj[order], onset[order], serious[order], aware[order], a_trial[order]
    n = a_subj.size

    # Reporting to the sponsor.
    sae_delay = rng.choice(7, n, p=[0.62, 0.33, 0.02, 0.01, 0.01, 0.005, 0.005]).astype(float)
    at_late_site = serious & (subj_site[a_subj] == late_site)
    late_rank = np.cumsum(at_late_site) - 1  # the site's SAEs in order of awareness
    sae_delay = np.where(at_late_site & (late_rank % 5 != 4), rng.integers(3, 11, n), sae_delay)
    ae_delay = np.where(rng.random(n) < 0.35, NA, rng.integers(0, 29, n))
    reported = _upto(aware + np.where(serious, sae_delay, ae_delay), T)
    aware_shown = np.where(~serious & (aware == onset) & (rng.random(n) < 0.5), NA, aware)
    grade = np.where(
        serious, rng.choice([3, 4, 5], n, p=[0.75, 0.22, 0.03]), rng.choice([1, 2, 3], n, p=[0.6, 0.32, 0.08])
    )
    term = np.where(serious, rng.choice(SAE_TERMS, n), rng.choice(AE_TERMS, n))
    return pd.DataFrame(
        {
            "adverse_event_id": _ids(n),
            "trial_id": a_trial + 1,
            "subject_id": a_subj + 1,
            "ae_number": [f"AE-{k:05d}" for k in _rank_within(a_trial)],
            "onset_date": _dates(onset),
            "is_serious": serious,
            "aware_date": _dates(aware_shown),
            "reported_date": _dates(reported),
            "term": term,
            "grade": grade.astype(np.int64),
        }
    )


def _edc_detail(
    rng: np.random.Generator,
    sims: list[dict],
    T: int,
    v_trial: np.ndarray,
    v_site: np.ndarray,
    v_number: np.ndarray,
    v_date: np.ndarray,
    entered: np.ndarray,
    locked: np.ndarray,
    n_sites: int,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """eCRF pages, data-point counts and lab-result counts per visit, for the default portfolio's trials only (the large
    portfolio's extra trials have none, so it stays quick to build); pages only for CRF_PAGE_TRIALS.

    Data points: 40–120 per visit entered (none for a visit not yet entered), 2–6 % changed after entry (by site).
    Labs: 20–40 results per visit, 0.5–2 % of grade ≥ 3 (by trial). Pages: 4–8 of CRF_PAGES per visit (DM at screening
    only), each entered around its visit's entry day (most on it, some days before, some later), so BAD_SITE's pages
    are as late as its visits; a page of a visit not entered is not entered.
    """
    detailed = np.array([not sim["spec"].large for sim in sims])
    idx = np.flatnonzero(detailed[v_trial])
    n = idx.size
    points = np.where(np.isnan(entered[idx]), 0, rng.integers(40, 121, n))
    changed = rng.binomial(points, rng.uniform(0.02, 0.06, n_sites)[v_site[idx]])
    labs = rng.integers(20, 41, n)
    abnormal = rng.binomial(labs, rng.uniform(0.005, 0.02, len(sims))[v_trial[idx]])
    data_point = pd.DataFrame(
        {
            "data_point_id": _ids(n),
            "trial_id": v_trial[idx] + 1,
            "visit_id": idx + 1,
            "n_data_points": points,
            "n_data_points_changed": changed,
        }
    )
    lab_result = pd.DataFrame(
        {
            "lab_result_id": _ids(n),
            "trial_id": v_trial[idx] + 1,
            "visit_id": idx + 1,
            "n_lab_results": labs,
            "n_lab_abnormal": abnormal,
        }
    )

    with_pages = [i for i, sim in enumerate(sims) if sim["spec"].protocol in CRF_PAGE_TRIALS and not sim["spec"].large]
    pidx = np.flatnonzero(np.isin(v_trial, with_pages))
    m, n_pages = pidx.size, len(CRF_PAGES)
    screening = v_number[pidx] == 1
    keys = rng.random((m, n_pages))
    keys[:, 0] = np.where(screening, -1.0, np.inf)  # DM first at screening, never after
    wanted = np.where(screening, rng.integers(4, n_pages + 1, m), rng.integers(4, n_pages, m))
    chosen = keys.argsort(axis=1).argsort(axis=1) < wanted[:, None]
    row, page = np.nonzero(chosen)  # by visit, then in CRF_PAGES order
    p_visit = pidx[row]
    u = rng.random(row.size)
    shift = np.select(
        [u < 0.75, u < 0.85], [0, -rng.integers(1, 4, row.size)], 1 + np.floor(rng.exponential(6.0, row.size))
    )
    p_entered = np.maximum(entered[p_visit] + shift, v_date[p_visit])
    p_locked = locked[p_visit]
    p_entered = np.where(p_locked <= T, np.maximum(np.minimum(p_entered, p_locked - 1), v_date[p_visit]), p_entered)
    crf_page = pd.DataFrame(
        {
            "crf_page_id": _ids(row.size),
            "trial_id": v_trial[p_visit] + 1,
            "visit_id": p_visit + 1,
            "page_name": np.array(CRF_PAGES)[page],
            "entered_date": _dates(_upto(p_entered, T)),
        }
    )
    return crf_page, data_point, lab_result


def _qtl_figures(
    T: int,
    failed: np.ndarray,
    enrolled: np.ndarray,
    disc: np.ndarray,
    done: np.ndarray,
    treatment_stopped: np.ndarray,
    n_important: int,
) -> dict[str, float]:
    """A trial's QTL figures on `today`, pooled over its sites as the dashboard pools them (dashboard/metrics.py):
    screen failures in % of subjects with a known outcome, dropout and treatment discontinuation in % of subjects
    enrolled, important deviations (counted from their date, else identified, else loaded) per 100 subject-months on
    study."""
    on = enrolled <= T
    n_failed = int(np.sum(failed <= T))
    left, finished = _upto(disc, T), _upto(done, T)
    subject_days = float((np.fmin(np.fmin(left, finished), T) - enrolled)[on].sum())
    n_enrolled = int(on.sum())
    return {
        "screen_failure": 100 * n_failed / (n_failed + n_enrolled) if n_failed + n_enrolled else NA,
        "dropout": 100 * np.sum(on & (left <= T)) / n_enrolled if n_enrolled else NA,
        "treatment_discontinuation": 100 * np.sum(on & (treatment_stopped <= T)) / n_enrolled if n_enrolled else NA,
        "deviation_rate": 100 * DAYS_PER_MONTH * n_important / subject_days if subject_days else NA,
    }


def _qtls(
    sims: list[dict],
    T: int,
    subj_trial: np.ndarray,
    failed: np.ndarray,
    enrolled: np.ndarray,
    disc: np.ndarray,
    done: np.ndarray,
    treatment_stopped: np.ndarray,
    important_trial: np.ndarray,
    important_counted: np.ndarray,
) -> pd.DataFrame:
    """Quality tolerance limits of the QTL_TRIALS, all 'above'. A real limit is set before the trial starts; the demo
    sets it from the trial's figure on `today`: QTL_BREACH_TRIAL's QTL_BREACH_FIGURE at 0.7 × the figure (breached),
    every other at 1.5 × (well within), rounded to two significant digits. A figure that is 0 or unknown gets none,
    and so does one whose name is longer than qtl.qtl_figure holds (String(20) cannot hold 'treatment_discontinuation')."""
    fits = schema.qtl.c.qtl_figure.type.length or 1000
    rows = []
    for i, sim in enumerate(sims):
        protocol = sim["spec"].protocol
        if protocol not in QTL_TRIALS or sim["spec"].large:
            continue
        mine = subj_trial == i
        values = _qtl_figures(
            T,
            failed[mine],
            enrolled[mine],
            disc[mine],
            done[mine],
            treatment_stopped[mine],
            int(np.sum((important_trial == i) & (important_counted <= T))),
        )
        for figure in QTL_TRIALS[protocol]:
            value = values[figure]
            if not value > 0 or len(figure) > fits:
                continue
            breach = protocol == QTL_BREACH_TRIAL and figure == QTL_BREACH_FIGURE
            limit = _sensible((0.7 if breach else 1.5) * value)
            rows.append({"trial_id": i + 1, "qtl_figure": figure, "limit_value": limit, "direction": "above"})
    out = pd.DataFrame(rows, columns=["trial_id", "qtl_figure", "limit_value", "direction"])
    return pd.DataFrame(
        {
            "qtl_id": _ids(len(out)),
            "trial_id": out["trial_id"].to_numpy(dtype=np.int64),
            "qtl_figure": out["qtl_figure"].to_numpy(dtype=object),
            "limit_value": out["limit_value"].to_numpy(dtype=float),
            "direction": out["direction"].to_numpy(dtype=object),
        }
    )


def _forecasts(rng: np.random.Generator, ms: pd.DataFrame, T: int) -> pd.DataFrame:
    """Forecast history per milestone: the baseline at signature, then re-forecasts on Mondays drifting to the outcome.

    Re-forecasts are monthly, weekly in the last six weeks while the milestone is open, and recorded only
    when the date moves by a week or more. A slip becomes known over the FORECAST_NEWS_DAYS before the
    milestone is done (for an open one: before a day in the last few months, so only some are still
    moving this week), and enrollment-driven milestones stay at their baseline until the first site is
    active. A done milestone's last forecast is its actual date.
    """
    fsa = ms[ms["code"] == "FIRST_SITE_ACTIVATED"].set_index("trial")["truth"]
    clinical_after_fsa = (ms["lane"] == "CRO") & (ms["seq"] > 2)
    rows_id, rows_rec, rows_fc = [], [], []
    last_monday = _next_monday(T - 6)
    weekly = np.arange(last_monday - 35, last_monday + 1, 7)
    settled_days_ago = rng.integers(0, 120, len(ms))
    for mid, b, t, signed, code, role, trial, after_fsa, settled in zip(
        ms["milestone_id"],
        ms["baseline"],
        ms["truth"],
        ms["signed"],
        ms["code"],
        ms["role"],
        ms["trial"],
        clinical_after_fsa,
        settled_days_ago,
    ):
        r0 = int(min(signed, b - 1))
        done = t <= T
        if role in ("supply_risk", "near_miss") and code == "FIRST_SITE_ACTIVATED":
            t = b  # the CRO still forecasts its baseline
        if done:
            end, heading = int(t), t
            rec = np.arange(_next_monday(r0 + 1) + 21, end, 28)
        else:
            end, heading = T - int(settled), (t if not np.isnan(t) else max(b, T + 30))
            rec = np.unique(np.r_[np.arange(_next_monday(r0 + 1) + 21, T + 1, 28), weekly])
        rec = rec[(rec > r0) & (rec <= T)]
        # News of a slip arrives over the last months before the date (or before today, for an open milestone).
        informed = max(r0, end - FORECAST_NEWS_DAYS) if not after_fsa else (fsa[trial] if fsa[trial] <= T else np.inf)
        informed = max(informed, end - FORECAST_NEWS_DAYS)
        w = (
            np.clip((rec - informed) / max(end - informed, 1), 0, 1) ** 0.7
            if np.isfinite(informed)
            else np.zeros(rec.size)
        )
        fc = b + np.round((heading - b) * w)
        if not done:
            fc = np.maximum(fc, rec + 1)  # an open milestone is never forecast in the past
        else:
            fc = np.maximum(fc, np.minimum(rec + 1, t))
        kept_rec, kept_fc = [r0], [b]
        for r, f in zip(rec.tolist(), fc.tolist()):
            if abs(f - kept_fc[-1]) >= 7:
                kept_rec.append(r)
                kept_fc.append(f)
        if done and t > r0 and kept_fc[-1] != t:
            kept_rec.append(t)
            kept_fc.append(t)
        if not done and (role, code) in MOVED_THIS_WEEK and heading != b:
            # Planted: this milestone's forecast is re-recorded this week, after last week's different value.
            while kept_rec[-1] >= last_monday - 6 and len(kept_rec) > 1:
                kept_rec.pop()
                kept_fc.pop()
            if abs(kept_fc[-1] - heading) < 7:  # make it a move worth reporting: two weeks
                if len(kept_fc) == 1:
                    kept_rec.append(last_monday - 28)
                    kept_fc.append(heading - 14)
                else:
                    kept_fc[-1] = heading - 14
            kept_rec.append(last_monday)
            kept_fc.append(heading)
        rows_id.append(np.full(len(kept_rec), mid))
        rows_rec.append(kept_rec)
        rows_fc.append(kept_fc)
    ids = np.concatenate(rows_id)
    return pd.DataFrame(
        {
            "milestone_forecast_id": _ids(ids.size),
            "milestone_id": ids,
            "recorded_date": _dates(np.concatenate(rows_rec)),
            "forecast_date": _dates(np.concatenate(rows_fc)),
        }
    )


def _actual_cost(
    rng: np.random.Generator, frames: dict[str, pd.DataFrame], trial_cpi: np.ndarray, T: int
) -> pd.DataFrame:
    """Invoiced plus accrued cost per contract × month × category: earned value ÷ the trial's CPI, with noise.

    Months before last month are invoiced; last month and this one are accrued, not yet invoiced.
    """

    def monthly_units(df: pd.DataFrame, column: str, unit_type: str) -> pd.DataFrame:
        d = df[["trial_id", column]].dropna()
        months = d[column].to_numpy().astype("datetime64[M]").astype(np.int64)
        out = (
            pd.DataFrame({"trial_id": d["trial_id"].to_numpy(), "month": months})
            .value_counts()
            .rename("units")
            .reset_index()
        )
        return out.assign(unit_type=unit_type)

    units = pd.concat(
        [
            monthly_units(frames["site"], "activated_date", "site_activated"),
            monthly_units(frames["subject"], "enrolled_date", "subject_enrolled"),
            monthly_units(frames["visit"], "visit_date", "visit_done"),
        ]
    )
    prices = frames["unit_price"].merge(frames["contract"][["contract_id", "trial_id"]], on="contract_id")
    earned_units = prices.merge(units, on=["trial_id", "unit_type"])
    earned_units["ev"] = earned_units["units"] * earned_units["unit_price_amount"]
    ms = frames["milestone"].dropna(subset=["actual_date"])
    ms = ms[ms["payment_amount"] > 0].merge(
        frames["contract"][["contract_id", "trial_id", "vendor_id"]], on=["trial_id", "vendor_id"]
    )
    earned_ms = pd.DataFrame(
        {
            "contract_id": ms["contract_id"].to_numpy(),
            "trial_id": ms["trial_id"].to_numpy(),
            "month": ms["actual_date"].to_numpy().astype("datetime64[M]").astype(np.int64),
            "cost_category": "service_fee",
            "ev": ms["payment_amount"].to_numpy(),
        }
    )
    earned = pd.concat([earned_units[["contract_id", "trial_id", "month", "cost_category", "ev"]], earned_ms])
    earned = earned.groupby(["contract_id", "trial_id", "month", "cost_category"], as_index=False)["ev"].sum()
    earned = earned.sort_values(["contract_id", "month", "cost_category"], kind="stable").reset_index(drop=True)
    noise = np.exp(rng.normal(0, 0.05, len(earned)))
    cost = np.round(earned["ev"].to_numpy() / trial_cpi[earned["trial_id"].to_numpy() - 1] * noise, 2)
    this_month = _month_index([T])[0]
    accrued = earned["month"].to_numpy() >= this_month - 1
    return pd.DataFrame(
        {
            "actual_cost_id": _ids(len(earned)),
            "contract_id": earned["contract_id"].to_numpy(),
            "month_date": _dates(_month_start(earned["month"].to_numpy())),
            "cost_category": earned["cost_category"].to_numpy(),
            "invoiced_amount": np.where(accrued, 0.0, cost),
            "accrued_amount": np.where(accrued, cost, 0.0),
        }
    )


# Writing.
