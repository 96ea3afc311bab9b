"""The figures themselves, in one list: key, label, unit, good direction, definition, computation, colour rule,
where shown; and the Methods page's groups of them."""

from __future__ import annotations

from dashboard import metrics
from dashboard.registry.computations import (
    _contract,
    _count,
    _dimension,
    _earned,
    _index_colour,
    _lpi_cro,
    _lpi_cro_colour,
    _lpi_cro_shown,
    _lpi_gap,
    _lpi_milestone,
    _lpi_model,
    _lpi_model_shown,
    _open_supply,
    _outlook,
    _plan_colour,
    _probability_colour,
    _qtl_breaches,
    _quantile,
    _rate_change,
    _rate_change_colour,
    _sae_colour,
    _sae_on_time,
    _schedule_slip,
    _schedule_slip_shown,
    _sites_needed,
    _sites_needed_shown,
    _sum,
    non_enrolling_sites,
)
from dashboard.registry.model import Figure, _missing

_INDEX_RULE = "green at {s.index_green:.2f} or above, amber at {s.index_amber:.2f} or above, red below"
_P_RULE = "green at {s.probability_green:.0%} or above, amber at {s.probability_amber:.0%} or above, red below"
_PLAN_RULE = "green at {s.enrollment_green:.0%} or above, amber at {s.enrollment_amber:.0%} or above, red below"
_SCHEDULE_RULE = (
    "the worst colour of the trial's open milestones late or due within {s.schedule_horizon_days} days: red when a slip "
    "exceeds {s.milestone_red_days} days, amber when it exceeds {s.milestone_amber_days} days or the milestone is overdue"
)

P, O, E, S, B, V, MAIL = "portfolio", "overview", "enrollment", "sites", "budget", "vendors", "e-mail"

# The list is a table, one figure per entry, read down its keys and labels: the formatter would give every argument a
# line of its own (240 lines to 730), so it leaves this block as written.
# fmt: off
_FIGURES: list[Figure] = [
    # Portfolio
    Figure("active_trials", "Active trials", "count", None,
           "Trials whose status is start-up, enrolling or follow-up (the status as last loaded: it carries no date).",
           _count(lambda t: t["is_active"]), levels=("portfolio",), pages=(P, MAIL)),
    Figure("trials_at_risk", "Trials at risk", "count", "down", "Trials whose overall health is red (at risk).",
           _count(lambda t: t["overall_health"] == "red"), levels=("portfolio",), pages=(P, MAIL), part="forecast"),
    Figure("trials_watch", "Trials to watch", "count", "down", "Trials whose overall health is amber (watch).",
           _count(lambda t: t["overall_health"] == "amber"), levels=("portfolio",), pages=(P, MAIL), part="forecast"),
    Figure("trials_on_track", "Trials on track", "count", "up", "Trials whose overall health is green (on track).",
           _count(lambda t: t["overall_health"] == "green"), levels=("portfolio",), pages=(P, MAIL), part="forecast"),
    Figure("trials_no_data", "Trials without data", "count", None, "Trials whose overall health is grey: nothing to judge yet.",
           _count(lambda t: t["overall_health"] == "grey"), levels=("portfolio",), pages=(P, MAIL), part="forecast"),
    # Health of a trial (domain.md §7)
    Figure("overall_health", "Overall", "health", None, "The worst of the enrollment, budget and schedule colours.",
           lambda b: None, levels=("trial",), pages=(P, O, MAIL), colour=_dimension("overall_health"), part="forecast"),
    Figure("enrollment_health", "Enrollment", "health", None,
           "Once a forecast exists, the colour of the chance of LPI by plan; before that, of % of plan to date; grey before "
           "enrollment starts.", lambda b: None, levels=("trial",), pages=(P, O, E), colour=_dimension("enrollment_health"), part="forecast"),
    Figure("budget_health", "Budget", "health", None, "The colour of CPI; grey without a budget.",
           lambda b: None, levels=("trial",), pages=(P, O), colour=_dimension("budget_health"), thresholds=_INDEX_RULE),
    Figure("schedule_health", "Schedule", "health", None,
           "Milestone health: the colour of the worst open milestone that is overdue or due soon; grey without milestones.",
           lambda b: None, levels=("trial",), pages=(P, O), colour=_dimension("schedule_health"), thresholds=_SCHEDULE_RULE),
    # Enrollment (domain.md §2)
    Figure("enrolled", "Enrolled", "count", "up",
           "Subjects randomized or enrolled on or before the as-of date; screen failures never count.",
           _sum("n_enrolled"), pages=(P, O, E, MAIL)),
    Figure("enrollment_target", "Enrollment target", "count", None, "The planned enrollment of the trials.",
           _sum("n_planned_subjects"), pages=(P, O, E, MAIL)),
    Figure("pct_to_target", "% of target", "percent", "up", "Enrolled ÷ enrollment target.",
           lambda b: metrics.ratio(b.trials["n_enrolled"].sum(), b.trials["n_planned_subjects"].sum()), pages=(P, E, MAIL), listed=False),
    Figure("pct_of_plan_to_date", "% of plan to date", "percent", "up",
           "Enrolled ÷ the baseline plan's cumulative enrollment on the as-of date (linear within the month).",
           lambda b: metrics.ratio(b.trials["n_enrolled"].sum(), b.trials["planned_to_date"].sum()),
           pages=(O, E, MAIL), colour=lambda v, b: _plan_colour(v, b), thresholds=_PLAN_RULE),
    Figure("sites_active", "Sites active", "count", None, "Sites activated and not closed on the as-of date.",
           _sum("n_sites_active"), pages=(P, E, S, MAIL)),
    Figure("sites_non_enrolling", "Non-enrolling sites", "count", "down",
           "Active sites open for at least {s.non_enrolling_days} days with nobody enrolled (industry benchmark: about "
           "one site in three never enrolls a patient).",
           lambda b: len(non_enrolling_sites(b)), pages=(O, S, E)),
    # Last patient in (domain.md §3)
    Figure("p_meet_lpi_plan", "Chance of LPI by plan", "probability", "up",
           "Share of forecast outcomes (Poisson-Gamma model) with the last patient in by the planned LPI, the LPI "
           "milestone's baseline.", _outlook("p_meet_plan"), levels=("trial",), pages=(P, O, E, MAIL),
           colour=lambda v, b: None if _missing(v) else _probability_colour(v, b), thresholds=_P_RULE, part="forecast"),
    Figure("lpi_model", "Last patient in (model P50)", "date", "down",
           "The model's median date for enrollment to reach its target; once it has, the day it did.",
           _lpi_model, levels=("trial",), pages=(P, O, E), shown=_lpi_model_shown, part="forecast"),
    Figure("lpi_model_p10", "Last patient in (model P10)", "date", "down",
           "The early edge of the model's forecast: 1 outcome in 10 is earlier.", _quantile(0.1), levels=("trial",), pages=(O, E), part="forecast"),
    Figure("lpi_model_p90", "Last patient in (model P90)", "date", "down",
           "The late edge of the model's forecast: 1 outcome in 10 is later.", _quantile(0.9), levels=("trial",), pages=(O, E), part="forecast"),
    Figure("lpi_cro", "Last patient in (CRO forecast)", "date", "down",
           "The CRO's latest forecast of the LPI milestone recorded by the as-of date (its actual once done, its baseline "
           "before any forecast); it sets the schedule colour, the model sets the enrollment colour.",
           _lpi_cro, levels=("trial",), pages=(O, E), shown=_lpi_cro_shown, colour=_lpi_cro_colour),
    Figure("lpi_gap", "Model P50 − CRO forecast", "days", None,
           "Days from the CRO's LPI forecast to the model's median: positive when the model expects the last patient later.",
           _lpi_gap, levels=("trial",), pages=(O, E), part="forecast"),
    Figure("lpi_planned", "Planned LPI", "date", None, "The baseline (contracted) date of the LPI milestone.",
           lambda b: None if _lpi_milestone(b) is None or len(b.trials) != 1 else _lpi_milestone(b)["baseline_date"],
           levels=("trial",), pages=(O, E), compares=False),
    Figure("sites_needed", "Extra sites needed", "count", "down",
           "Additional sites, opening now at rates like the current ones, that would bring the chance of LPI by plan to "
           "{s.probability_green:.0%}; “none suffices” when no number of sites up to the model's cap does.",
           _sites_needed, levels=("trial",), pages=(E,), shown=_sites_needed_shown, costly=True, part="forecast"),
    Figure("enrollment_rate_change", "Enrollment rate, last 3 months against the first 3", "percent", "up",
           "The trial's enrollment rate per open site-month over the last 91 days against its first 91 days after the "
           "first site opened, minus 1: −40% when the last three months ran 40% below the first three (none before six "
           "months, or with fewer than 5 enrolled in the first three).",
           _rate_change, levels=("trial",), pages=(E,), shown=lambda v, b: None if _missing(v) else f"{v:+.0%}",
           colour=_rate_change_colour,
           thresholds=f"amber when {metrics.DECLINE_AT_LEAST:.0%} or more below and unlikely by chance (one-sided p < "
                      f"{metrics.DECLINE_P_VALUE:g})",
           compares=False, part="forecast"),
    # Budget: earned value (domain.md §5)
    Figure("budget_spent", "Budget spent", "percent", None, "Actual cost ÷ budget at completion (AC ÷ BAC).",
           _earned("burn_pct"), pages=(P, B, MAIL), listed=False),
    Figure("pct_complete", "Work complete", "percent", "up", "Earned value ÷ budget at completion (EV ÷ BAC).",
           _earned("pct_complete"), pages=(B,), listed=False),
    Figure("bac", "Budget (BAC)", "money", None, "Budget at completion: contracted value + change orders approved by the as-of date.",
           _earned("bac"), pages=(B, O, MAIL)),
    Figure("pv", "Planned value (PV)", "money", None,
           "Planned value: the approved plan's spend to the as-of date, a month's planned spend accruing by day.",
           _earned("pv"), pages=(B,), listed=False),
    Figure("ev", "Earned value (EV)", "money", "up",
           "Earned value: units delivered (sites activated, subjects enrolled, visits done) × contracted prices, plus "
           "milestone fees achieved.", _earned("ev"), pages=(B, O), listed=False),
    Figure("ac", "Actual cost (AC)", "money", None, "Actual cost: invoiced + accrued (ASC 730), a month's cost accruing by day within the month.", _earned("ac"), pages=(B, O, MAIL), listed=False),
    Figure("cpi", "CPI", "index", "up", "Cost performance index: EV ÷ AC.", _earned("cpi"),
           pages=(P, O, B, MAIL), colour=lambda v, b: _index_colour(v, b), thresholds=_INDEX_RULE),
    Figure("spi", "SPI", "index", "up", "Schedule performance index: EV ÷ PV.", _earned("spi"),
           pages=(P, O, B), colour=lambda v, b: _index_colour(v, b), thresholds=_INDEX_RULE),
    Figure("cv", "Cost variance (CV)", "money", "up", "Cost variance: EV − AC.", _earned("cv"), pages=(B,), listed=False),
    Figure("sv", "Schedule variance (SV)", "money", "up", "Schedule variance: EV − PV.", _earned("sv"), pages=(B,), listed=False),
    Figure("eac", "Forecast cost (EAC)", "money", "down", "Estimate at completion: BAC ÷ CPI.", _earned("eac"), pages=(B, O, MAIL)),
    Figure("eac_atypical", "Forecast cost, one-off overrun", "money", "down",
           "Estimate at completion if the overrun so far is a one-off: AC + (BAC − EV).", _earned("eac_atypical"), pages=(B,)),
    Figure("etc", "Cost to complete (ETC)", "money", None, "Estimate to complete: EAC − AC.", _earned("etc"), pages=(B,), listed=False),
    Figure("vac", "Left at end (VAC)", "money", "up", "Variance at completion: BAC − EAC, the budget left when the work is done (negative: an expected overrun).",
           _earned("vac"), pages=(B, MAIL)),
    Figure("tcpi", "CPI needed (TCPI)", "index", "down",
           "To-complete performance index: (BAC − EV) ÷ (BAC − AC), the cost efficiency the remaining work needs to finish "
           "within budget; undefined once AC reaches BAC.", _earned("tcpi"), pages=(B,)),
    Figure("cost_per_subject", "Cost per enrolled subject", "money", "down", "Actual cost ÷ subjects enrolled.",
           lambda b: None if b.budgeted.empty or b.currency is None
           else metrics.ratio(b.budgeted["ac"].sum(), b.budgeted["n_enrolled"].sum()), pages=(B,), listed=False),
    Figure("planned_cost_per_subject", "Planned cost per subject", "money", "down", "BAC ÷ enrollment target.",
           lambda b: None if b.budgeted.empty or b.currency is None
           else metrics.ratio(b.budgeted["bac"].sum(), b.budgeted["n_planned_subjects"].sum()), pages=(B,)),
    # Vendor milestones (domain.md §6)
    Figure("milestones_contracted", "Contracted milestones", "count", None,
           "CRO and CMO contract milestones (stability pulls and the expiry date are not contract milestones).",
           _count(_contract, "milestones"), pages=(V,)),
    Figure("milestones_overdue", "Milestones overdue", "count", "down",
           "Contract milestones not done whose baseline (contracted) date has passed.",
           _sum("n_milestones_overdue"), pages=(P, V, MAIL)),
    Figure("milestones_forecast_late", "Milestones forecast late", "count", "down",
           "Contract milestones not yet due whose forecast is later than their baseline.",
           _sum("n_milestones_forecast_late"), pages=(V,)),
    Figure("stability_pulls_overdue", "Stability pulls overdue", "count", "down",
           "Stability pulls (ICH Q1A) not done whose baseline date has passed.", _sum("n_stability_pulls_overdue"), pages=(V, MAIL)),
    Figure("schedule_slip", "Worst milestone slip", "days", "down",
           "The slip of the milestone that sets the schedule colour: the worst open milestone overdue or due within "
           "{s.schedule_horizon_days} days.", _schedule_slip, levels=("trial",), pages=(P, O, MAIL),
           shown=_schedule_slip_shown, colour=_dimension("schedule_health"), thresholds=_SCHEDULE_RULE),
    Figure("supply_conflicts", "Supply conflicts", "count", "down",
           "Open links where the supply milestone, with its lead time, lands after the clinical milestone it must precede.",
           lambda b: _open_supply(b, "conflict"), part="vendor", pages=(V, MAIL)),
    Figure("supply_near_misses", "Supply near misses", "count", "down",
           "Open links with less than {s.supply_near_miss_days} days to spare between supply and clinical milestone.",
           lambda b: _open_supply(b, "near_miss"), part="vendor", pages=(V, MAIL)),
    Figure("forecasts_moved", "Forecasts moved", "count", None,
           "Open milestones whose forecast recorded on the as-of date differs from the one on the compare date.",
           lambda b: None if b.moved is None else len(b.moved), part="vendor", pages=(V,), compares=False, period=True),
    Figure("forecasts_slipped", "Forecasts slipped", "count", "down",
           "Contract milestones whose forecast moved later between the compare date and the as-of date.",
           lambda b: None if b.moved is None else int(((b.moved["days_moved"] > 0) & (b.moved["milestone_kind"] == "contract")).sum()),
           part="vendor", pages=(V, MAIL), compares=False, period=True),
    # Sites (domain.md §4)
    Figure("sites_red_flag", "Sites with a red flag", "count", "down",
           "Sites with at least one indicator flagged red against the other sites of their trial.",
           _count(lambda f: f["n_red"] > 0, "flags"), part="flags", pages=(S,)),
    Figure("sites_amber_flag", "Sites with an amber flag only", "count", "down",
           "Sites with an indicator flagged amber and none red.",
           _count(lambda f: (f["n_red"] == 0) & (f["n_amber"] > 0), "flags"), part="flags", pages=(S,)),
    Figure("sites_safety_flag", "Sites with a safety flag", "count", "down",
           "Sites with the AE rate, SAE rate or abnormal lab rate flagged amber or red against the other sites of their "
           "trial, on either side for AE and SAE rates (low: possible under-reporting).",
           _count(lambda f: f["n_safety"] > 0, "flags"), part="flags", pages=(O, S)),
    # Quality and safety (domain.md §4a)
    Figure("sae_on_time", "SAEs reported on time", "percent", "up",
           "Serious adverse events reported to the sponsor on the day the site became aware of them or the next, ÷ SAEs "
           "due by the as-of date (reported by then, or known to the site for more than a day); trials without "
           "adverse-event data are left out.",
           _sae_on_time, pages=(O, S, MAIL), colour=_sae_colour,
           thresholds="Green from {s.sae_on_time_green:.0%}, amber from {s.sae_on_time_amber:.0%}, red below."),
    Figure("qtl_breaches", "QTL breaches", "count", "down",
           "Quality tolerance limits of the trials (set per trial before it starts) whose trial-level figure, the site "
           "indicator pooled over the trial's sites, is past its limit on the as-of date; no data where no QTL is set.",
           _qtl_breaches, pages=(P, O, MAIL), colour=lambda v, b: "red" if v else "green",
           thresholds="Red when any QTL is breached, else green."),
]
# fmt: on

FIGURES: dict[str, Figure] = {f.key: f for f in _FIGURES}

# The Methods page's sections: every figure in exactly one (a test holds this).
GROUPS: dict[str, tuple[str, ...]] = {
    "Portfolio and health": (
        "active_trials",
        "trials_at_risk",
        "trials_watch",
        "trials_on_track",
        "trials_no_data",
        "overall_health",
        "enrollment_health",
        "budget_health",
        "schedule_health",
    ),
    "Enrollment": (
        "enrolled",
        "enrollment_target",
        "pct_to_target",
        "pct_of_plan_to_date",
        "sites_active",
        "sites_non_enrolling",
    ),
    "Last patient in": (
        "p_meet_lpi_plan",
        "lpi_model",
        "lpi_model_p10",
        "lpi_model_p90",
        "lpi_cro",
        "lpi_gap",
        "lpi_planned",
        "sites_needed",
        "enrollment_rate_change",
    ),
    "Budget: earned value": (
        "budget_spent",
        "pct_complete",
        "bac",
        "pv",
        "ev",
        "ac",
        "cpi",
        "spi",
        "cv",
        "sv",
        "eac",
        "eac_atypical",
        "etc",
        "vac",
        "tcpi",
        "cost_per_subject",
        "planned_cost_per_subject",
    ),
    "Vendor milestones": (
        "milestones_contracted",
        "milestones_overdue",
        "milestones_forecast_late",
        "stability_pulls_overdue",
        "schedule_slip",
        "supply_conflicts",
        "supply_near_misses",
        "forecasts_moved",
        "forecasts_slipped",
    ),
    "Sites": ("sites_red_flag", "sites_amber_flag", "sites_safety_flag"),
    "Quality and safety": ("sae_on_time", "qtl_breaches"),
}
assert len(FIGURES) == len(_FIGURES) == len({f.label for f in _FIGURES}), "figure keys and labels are unique"
