"""Trial health (domain.md §7) assembled from query frames: one function for pages and the digest alike."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd

from dashboard import drift, metrics
from dashboard.forecast import TRIAL_COLUMNS, learn_prior
from dashboard.settings import Settings

ACTIVE_STATUSES = ("startup", "enrolling", "follow_up")
# The clinical milestone the enrollment data complete: done on the day enrollment reached its target.
LPI_CODE = "LPI"


def _date(value) -> date | None:
    return None if pd.isna(value) else pd.Timestamp(value).date()


def milestone_statuses(milestones: pd.DataFrame, as_of: date, settings: Settings) -> pd.DataFrame:
    """The milestones with slip_days, status, rag, is_done, due_date (actual if done, else forecast or baseline) and
    expected (when it is expected, in words: expected_column)."""
    out = milestones.copy()
    slip, status, rag = metrics.milestone_status_columns(
        out["baseline_date"], out["forecast_date"], out["actual_date"], as_of,
        amber_days=settings.milestone_amber_days, red_days=settings.milestone_red_days,
    )
    if "milestone_kind" in out.columns and (expiry := (out["milestone_kind"] == "expiry").to_numpy()).any():
        # An expiry or re-test date moved later is good news: its own status, read the other way round.
        e_slip, e_status, e_rag = metrics.expiry_status_columns(
            out["baseline_date"][expiry], out["forecast_date"][expiry], out["actual_date"][expiry], as_of,
            amber_days=settings.milestone_amber_days, red_days=settings.milestone_red_days,
        )
        slip, status, rag = slip.copy(), status.copy(), rag.copy()
        slip[expiry], status[expiry], rag[expiry] = e_slip, e_status, e_rag
    out["slip_days"] = pd.array(slip, dtype="Int64")
    out["status"] = status
    out["rag"] = rag
    out["is_done"] = out["actual_date"].notna()
    out["due_date"] = out["actual_date"].fillna(out["forecast_date"]).fillna(out["baseline_date"])
    out["expected"] = expected_column(out, as_of)
    return out


def most_slipped_trials(statuses: pd.DataFrame, n: int) -> list[str]:
    """The `n` trials of `statuses` (milestone_statuses rows) whose open milestones are in the worst state.

    Worst rag of an open milestone first (red, amber, green; a trial with none open last), then the largest slip,
    then the protocol number: the order a reader triaging a long portfolio wants.
    """
    open_ = statuses[~statuses["is_done"].astype(bool)]
    ranked = pd.DataFrame({
        "protocol_number": open_["protocol_number"],
        "order": open_["rag"].map(metrics.HEALTH_ORDER).astype("float64"),
        "slip": open_["slip_days"].astype("float64"),
    }).groupby("protocol_number").max()
    every = pd.Index(statuses["protocol_number"].unique(), name="protocol_number")
    trials = ranked.reindex(every).astype("float64").fillna({"order": -1.0, "slip": float("-inf")}).reset_index()
    return list(trials.sort_values(["order", "slip", "protocol_number"], ascending=[False, False, True])["protocol_number"].head(n))


def schedule_milestones(statuses: pd.DataFrame, as_of: date, settings: Settings) -> pd.DataFrame:
    """The milestones (of milestone_statuses) schedule health is taken from: open, not an expiry date, late or due within the horizon."""
    horizon = pd.Timestamp(as_of + timedelta(days=settings.schedule_horizon_days))
    open_ = statuses[~statuses["is_done"] & (statuses["milestone_kind"] != "expiry")]
    return open_[(open_["status"] == "late") | (open_["baseline_date"] <= horizon)]


def worst_milestones(statuses: pd.DataFrame, as_of: date, settings: Settings) -> pd.DataFrame:
    """One row per trial with schedule milestones: the one that sets its schedule health (the worst rag, then the
    largest slip, then the earliest due), from milestone_statuses rows."""
    relevant = schedule_milestones(statuses, as_of, settings)
    ranked = relevant.assign(_rank=relevant["rag"].map(metrics.HEALTH_ORDER), _slip=relevant["slip_days"].astype("float64"))
    ranked = ranked.sort_values(["protocol_number", "_rank", "_slip", "due_date"], ascending=[True, False, False, True])
    return ranked.drop_duplicates("protocol_number").drop(columns=["_rank", "_slip"])


def expected_column(statuses: pd.DataFrame, as_of: date) -> pd.Series:
    """When each milestone (milestone_statuses rows) is expected, in words: its actual when done ("done on …", "by the
    enrollment data" when that is where it comes from), "overdue since <baseline>" when overdue (or its forecast, if
    that is still to come), else its forecast or baseline. Never a past date presented as the expectation."""
    def day(column: str) -> pd.Series:
        return pd.to_datetime(statuses[column]).dt.strftime("%d %b %Y")

    actual, forecast, baseline = day("actual_date"), day("forecast_date"), day("baseline_date")
    done = statuses["actual_date"].notna()
    source = statuses["actual_source"] if "actual_source" in statuses else pd.Series(None, index=statuses.index, dtype=object)
    late = statuses["status"] == "late"
    coming = pd.to_datetime(statuses["forecast_date"]) > pd.Timestamp(as_of)
    out = forecast.where(statuses["forecast_date"].notna(), baseline)
    out = out.where(~late, ("overdue since " + baseline).where(~coming, forecast + " (overdue since " + baseline + ")"))
    by_enrollment = (source == "enrollment").fillna(False).astype(bool)
    return out.where(~done, ("done on " + actual).where(~by_enrollment, "done on " + actual + " by the enrollment data"))


def trial_health(
    summary: pd.DataFrame,
    evm: pd.DataFrame,
    milestones: pd.DataFrame,
    as_of: date,
    settings: Settings,
    outlooks: dict[str, Outlook] | None = None,
) -> pd.DataFrame:
    """One row per trial of `summary`: enrollment against plan, CPI/SPI, late milestones, the next one, and health.

    With `outlooks`, a trial whose forecast gives a probability of meeting the planned LPI takes its
    enrollment health from that probability (domain.md §7); the others from enrolled ÷ planned to date.
    """
    out = summary.copy()
    out["planned_to_date"] = [
        metrics.planned_to_date(prev, cur, as_of)
        for prev, cur in zip(out["n_planned_previous_month"], out["n_planned_current_month"])
    ]
    out["pct_to_target"] = [metrics.ratio(e, t) for e, t in zip(out["n_enrolled"], out["n_planned_subjects"])]
    out["pct_of_plan_to_date"] = [metrics.ratio(e, p) for e, p in zip(out["n_enrolled"], out["planned_to_date"])]
    out["enrollment_health"] = [
        metrics.enrollment_health(e, p, green=settings.enrollment_green, amber=settings.enrollment_amber)
        for e, p in zip(out["n_enrolled"], out["planned_to_date"])
    ]
    # The figure the enrollment colour follows (registry keys): the forecast's probability once there is one.
    out["enrollment_driver"] = "pct_of_plan_to_date"
    if outlooks:
        out["p_meet_plan"] = [getattr(outlooks.get(p), "p_meet_plan", None) for p in out["protocol_number"]]
        out["p_meet_plan"] = out["p_meet_plan"].astype("float64")
        # Not yet enrolling (no site open, nobody in) stays grey however confident the plan-based forecast is.
        enrolling = (out["n_sites_active"] > 0) | (out["n_enrolled"] > 0)
        by_forecast = enrolling & out["p_meet_plan"].notna()
        out["enrollment_health"] = [
            metrics.probability_health(q, green=settings.probability_green, amber=settings.probability_amber) if use else h
            for q, h, use in zip(out["p_meet_plan"], out["enrollment_health"], by_forecast)
        ]
        out.loc[by_forecast, "enrollment_driver"] = "p_meet_lpi_plan"

    budget = evm.set_index("protocol_number")
    figures = {
        protocol: metrics.earned_value(row.bac, row.pv, row.ev, row.ac) for protocol, row in budget.iterrows()
    }
    for field in ("bac", "ac", "ev", "pv", "cpi", "spi", "eac"):
        out[field] = [getattr(figures[p], field) if p in figures else None for p in out["protocol_number"]]
        out[field] = out[field].astype("float64")
    out["budget_health"] = [
        metrics.index_health(c, green=settings.index_green, amber=settings.index_amber) for c in out["cpi"]
    ]

    # Given milestone_statuses rows already (as queries.overview does), they are not worked out again.
    statuses = milestones if "rag" in milestones else milestone_statuses(milestones, as_of, settings)
    open_ = statuses[~statuses["is_done"]]
    late = open_[open_["status"] == "late"]
    # Grouped once (not filtered per trial): a portfolio of hundreds of trials has tens of thousands of milestones.
    counts = {
        "n_milestones_overdue": late[late["milestone_kind"] == "contract"],
        "n_stability_pulls_overdue": late[late["milestone_kind"] == "stability_pull"],
        "n_milestones_forecast_late": open_[(open_["status"] == "at_risk") & (open_["milestone_kind"] == "contract")],
    }
    for column, rows in counts.items():
        out[column] = pd.array(out["protocol_number"].map(rows.groupby("protocol_number").size()).fillna(0), dtype="Int64")
    with_milestones = set(statuses["protocol_number"])
    setting = worst_milestones(statuses, as_of, settings).set_index("protocol_number")
    out["schedule_health"] = [
        "grey" if p not in with_milestones else setting.at[p, "rag"] if p in setting.index else "green"
        for p in out["protocol_number"]
    ]
    for column, source in (("schedule_milestone", "milestone_name"), ("schedule_milestone_status", "status"),
                           ("schedule_milestone_baseline_date", "baseline_date"), ("schedule_milestone_forecast_date", "forecast_date"),
                           ("schedule_slip_days", "slip_days")):
        out[column] = out["protocol_number"].map(setting[source]) if not setting.empty else None
    out["schedule_slip_days"] = pd.array(out["schedule_slip_days"], dtype="Int64")
    for column in ("schedule_milestone_baseline_date", "schedule_milestone_forecast_date"):
        out[column] = pd.to_datetime(pd.Series(list(out[column]), index=out.index, dtype="object")).astype("datetime64[ns]")
    out["overall_health"] = [
        metrics.worst_health(e, b, s)
        for e, b, s in zip(out["enrollment_health"], out["budget_health"], out["schedule_health"])
    ]
    out["is_active"] = out["trial_status"].isin(ACTIVE_STATUSES)
    return out


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



def supply_risks(links: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    """The supply links (vendors.supply_links rows) with margin_days, conflict_days and risk (a key of
    metrics.SUPPLY_RISK_LABEL), worst margin first: domain.md §6."""
    margins = [
        metrics.supply_margin(s.date(), c.date(), lead, near_miss_days=settings.supply_near_miss_days)
        for s, c, lead in zip(links["supply_date"], links["clinical_date"], links["lead_time_days"])
    ]
    out = links.assign(
        margin_days=pd.array([m.margin_days for m in margins], dtype="Int64"),
        conflict_days=pd.array([m.conflict_days for m in margins], dtype="Int64"),
        risk=pd.Series([m.kind for m in margins], index=links.index, dtype="object"),
    )
    return out.sort_values(["margin_days", "protocol_number"], kind="stable")


def open_supply_risks(risks: pd.DataFrame) -> pd.DataFrame:
    """The supply risks that still matter: conflicts and near misses whose clinical milestone is not done yet."""
    return risks[~risks["is_clinical_done"] & (risks["risk"] != "clear")]


def planned_dates(milestones: pd.DataFrame, code: str) -> dict[str, date]:
    """Each trial's baseline date of the milestone `code` (the plan's dates are the milestones' baselines)."""
    rows = milestones[milestones["milestone_code"] == code]
    return {p: _date(d) for p, d in zip(rows["protocol_number"], rows["baseline_date"]) if not pd.isna(d)}


# A sponsor's trials that teach the forecast's drift prior (forecast.prior): those whose first site opened at least a
# year before the as-of date, the most recent of them; a trial never teaches its own.
PRIOR_MIN_AGE_DAYS = 365
PRIOR_MAX_TRIALS = 10
# Trial statuses in which enrollment has closed: a trial's sites fall silent then because it stopped enrolling.
ENROLLMENT_CLOSED = frozenset({"follow_up", "closed"})


def drift_priors(inputs: pd.DataFrame, history: pd.DataFrame, trials: pd.DataFrame,
                 protocols: list[str] | None = None) -> dict[str, drift.Prior]:
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
    out = pd.DataFrame({
        "enrolled": np.bincount(seen["site"].to_numpy(), minlength=len(sites))[keep],
        "days_open": days_open[keep],
        "opens_in_days": np.nan,
        "is_closed": closed_before[keep],
        "days_since_closed": np.where(closed_before, since_closed - cut, np.nan)[keep],
    })
    return out, pd.DataFrame({"site": position[seen["site"].to_numpy()], "days_before": seen["days_before"].to_numpy() - cut})


def enrollment_outlooks(
    summary: pd.DataFrame, inputs: pd.DataFrame, sites: pd.DataFrame, milestones: pd.DataFrame, as_of: date,
    predict: Callable, settings: Settings, history: pd.DataFrame | None = None,
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
    trial_row, inputs: pd.DataFrame, sites: pd.DataFrame, planned_lpi: date | None, as_of: date,
    predict: Callable, settings: Settings, history: pd.DataFrame | None = None, prior: drift.Prior | None = None,
) -> Outlook:
    """Forecast one trial's last patient in with `predict` (forecast.predict_completion or a cached wrapper of it),
    with the trial's enrollment history when given (enrollment.enrollment_history rows) and its sponsor's drift prior."""
    target = int(trial_row.n_planned_subjects)
    enrolled = int(inputs["enrolled"].sum()) if not inputs.empty else 0
    inputs = inputs.reset_index(drop=True)
    if target < 1 or enrolled >= target:
        reached = getattr(trial_row, "target_reached_date", None)
        return Outlook(trial_row.protocol_number, planned_lpi, None, None, None, None, True,
                       completed_on=None if reached is None or pd.isna(reached) else _date(reached))
    timing = forecast_history(inputs, history)
    change = None if timing is None else metrics.rate_change(inputs, timing)
    prior_rate = metrics.planned_rate_per_site_day(
        target, (_date(d) for d in sites["planned_activation_date"]), planned_lpi
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
        trial_row.protocol_number, planned_lpi, result, p50, p_meet, days_ahead, False, first_opening, as_of,
        settings.probability_green, rate_change=change,
    )


def flag_sites_by_trial(frame: pd.DataFrame, settings: Settings) -> tuple[pd.DataFrame, dict]:
    """The sites (site_kpis rows) with z_, flag_, side_ (high or low), withheld_ (too few events) and expected_ (events
    expected at the pooled rate) columns per indicator, n_red, n_amber, n_safety (safety indicators red or amber),
    worst_flag and sae_on_time (SAE reporting timeliness), each site compared with the other sites of its trial; and each
    (trial, indicator)'s peer baseline."""
    frame = frame.copy()
    baselines = {}
    for key, ind in metrics.SITE_INDICATORS.items():
        minimum = getattr(settings, ind.min_setting)
        found, by_trial = metrics.flag_peer_columns(
            frame["protocol_number"], frame[ind.numerator], frame[ind.denominator], kind=ind.kind, bad_side=ind.bad_side,
            min_denominator=minimum, amber=settings.flag_amber_z, red=settings.flag_red_z, min_events=settings.flag_min_events,
        )
        frame[f"z_{key}"] = found.z
        frame[f"flag_{key}"] = found.flag
        frame[f"side_{key}"] = found.side
        frame[f"withheld_{key}"] = found.withheld
        frame[f"expected_{key}"] = found.expected
        baselines.update({(protocol, key): baseline for protocol, baseline in by_trial.items()})
    flags = frame[[f"flag_{key}" for key in metrics.SITE_INDICATORS]]
    frame["n_red"] = (flags == "red").sum(axis=1)
    frame["n_amber"] = (flags == "amber").sum(axis=1)
    frame["worst_flag"] = [metrics.worst_health(*row) for row in flags.itertuples(index=False)]
    safety = [f"flag_{key}" for key, ind in metrics.SITE_INDICATORS.items() if ind.safety]
    frame["n_safety"] = frame[safety].isin(("red", "amber")).sum(axis=1)
    frame["sae_on_time"] = metrics.ratios(frame["n_sae_on_time"], frame["n_sae_due"])
    return frame, baselines


def flag_reason(row, key: str, settings: Settings) -> str | None:
    """Why a site's indicator `key` has the flag it has, in words, when that is not plain from its z: which side a
    two-sided flag is on, or why a flag was withheld (too few events) or not computed (no data, too small)."""
    ind = metrics.SITE_INDICATORS[key]
    flag, side = row[f"flag_{key}"], row[f"side_{key}"]
    if any(row[c] is None or pd.isna(row[c]) for c in (ind.numerator, ind.denominator)):
        return "No data: the trial has not loaded this source."
    if row[f"withheld_{key}"]:
        return (f"Flag withheld: {row[ind.numerator]:,.0f} event(s) observed and {row[f'expected_{key}']:.1f} expected at the "
                f"trial's pooled rate; a flag needs at least {settings.flag_min_events:g}.")
    if flag == "grey":
        return f"Not compared: below the minimum {ind.denominator_label.lower()} ({getattr(settings, ind.min_setting):,})."
    if flag in ("red", "amber") and ind.bad_side == "both":
        return ("Low against peers: possible under-reporting." if side == "low" else "High against peers.")
    return None


def qtl_status(limits: pd.DataFrame, kpis: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Each quality tolerance limit (queries.sites.qtl_limits rows) with the trial's figure as of the date and whether it
    is breached: `value` is the site indicator pooled over the trial's sites (`kpis`: protocol → site_kpis rows), in the
    indicator's unit as shown; `breached` is empty when the figure has no value yet (no data is not a breach)."""
    rows = []
    for r in limits.itertuples(index=False):
        ind = metrics.SITE_INDICATORS[r.qtl_figure]
        value = metrics.pooled_value(kpis[r.protocol_number], r.qtl_figure) if r.protocol_number in kpis else None
        breached = None if value is None else (value > r.limit_value if r.direction == "above" else value < r.limit_value)
        rows.append({
            "protocol_number": r.protocol_number, "qtl_figure": r.qtl_figure, "label": ind.label, "unit": ind.unit,
            "limit_value": float(r.limit_value), "direction": r.direction, "value": value, "breached": breached,
        })
    return pd.DataFrame(rows, columns=QTL_COLUMNS).astype({"value": "float64"})


QTL_COLUMNS = ["protocol_number", "qtl_figure", "label", "unit", "limit_value", "direction", "value", "breached"]


def qtl_values(row) -> tuple[str, str]:
    """A QTL's trial value and limit as written, in its unit: ("10.5%", "7.4%"), ("2.1", "3 per 100 subject-months")."""
    unit = row["unit"]
    percent = unit.startswith("%")
    value = "no data" if row["value"] is None or pd.isna(row["value"]) else f"{row['value']:.3g}" + ("%" if percent else "")
    return value, f"{row['limit_value']:g}" + ("%" if percent else f" {unit}")


def qtl_text(row) -> str:
    """A QTL and where its figure stands, in words: "QTL breached: Study discontinuation 10.5% > limit 7.4%"."""
    value, limit = qtl_values(row)
    sign = ">" if row["direction"] == "above" else "<"
    return f"QTL {'breached' if row['breached'] else 'set'}: {row['label']} {value} {sign} limit {limit}"


def cro_sae_timeliness(milestones: pd.DataFrame, trials: pd.DataFrame) -> pd.DataFrame:
    """SAE reporting timeliness per CRO: the SAEs due and reported on time (trial_health's n_sae_due, n_sae_on_time) of
    the trials where the vendor runs the clinical (CRO) lane, summed; empty where none of its trials has AE data."""
    pairs = milestones.loc[milestones["lane"] == "CRO", ["vendor_code", "protocol_number"]].drop_duplicates()
    counts = pairs.merge(trials[["protocol_number", "n_sae_due", "n_sae_on_time"]], on="protocol_number", how="left")
    counts = counts.astype({"n_sae_due": "float64", "n_sae_on_time": "float64"})
    out = counts.groupby("vendor_code", as_index=False)[["n_sae_due", "n_sae_on_time"]].sum(min_count=1)
    return out.assign(sae_on_time=metrics.ratios(out["n_sae_on_time"], out["n_sae_due"]))
