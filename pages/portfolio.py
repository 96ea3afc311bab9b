"""Portfolio: every trial the user may see, with its health, at a glance."""

import streamlit as st

from dashboard import charts, health, ui
from dashboard.metrics import HEALTH_LABEL, HEALTH_ORDER, ratio
from dashboard.schema import TRIAL_STATUS_LABEL
from dashboard.settings import get_settings
from queries import budget, enrollment, portfolio, vendors

ctx = ui.context()
scope = ctx.scope
settings = get_settings()

with st.spinner("Loading the portfolio…"):
    summary = ui.cached(portfolio.trial_summary, scope)
    milestones = ui.cached(vendors.milestones, scope)
    outlooks = health.enrollment_outlooks(
        summary, ui.cached(enrollment.forecast_inputs, scope), ui.cached(enrollment.sites, scope), milestones,
        scope.as_of, ui.predict, settings,
    )
    trials = health.trial_health(summary, ui.cached(budget.evm_by_trial, scope), milestones, scope.as_of, settings, outlooks)

st.title("Portfolio")
sponsors = ", ".join(sorted(trials["sponsor_name"].unique())) if not trials.empty else ""
st.caption(f"{sponsors} · as of {scope.as_of:%d %b %Y}")

if trials.empty:
    st.info("No trials match these filters. Clear the therapeutic area or phase filter in the sidebar to see more.")
    st.stop()

# --- Headline tiles -------------------------------------------------------------------------
active = trials[trials["is_active"]]
enrolled, target = int(trials["n_enrolled"].sum()), int(trials["n_planned_subjects"].sum())
tiles = st.columns(5)
tiles[0].metric("Active trials", f"{len(active)}", help="Trials in start-up, enrolling or follow-up.")
tiles[1].metric(
    "Enrolled",
    f"{enrolled:,}",
    delta=f"of {target:,} target ({ratio(enrolled, target):.0%})" if target else None,
    delta_color="off",
    delta_arrow="off",
    help="Subjects enrolled up to the as-of date ÷ the trials' planned enrollment.",
)
tiles[2].metric("Sites active", f"{int(trials['n_sites_active'].sum()):,}", help="Sites activated and not closed on the as-of date.")
with_budget = trials.dropna(subset=["bac"])
# Amounts in different currencies cannot be added up: the per-currency lines below say it instead.
one_currency = with_budget["reporting_currency"].nunique() <= 1
spent = ratio(with_budget["ac"].sum(), with_budget["bac"].sum()) if one_currency else None
tiles[3].metric(
    "Budget spent",
    f"{spent:.0%}" if spent is not None else "—",
    delta="of budget at completion" if one_currency else "several currencies: see below",
    delta_color="off",
    delta_arrow="off",
    help="Actual cost (invoiced + accrued) ÷ budget at completion (contracts + approved change orders).",
)
late = int(trials["n_milestones_late"].sum())
tiles[4].metric("Milestones late", f"{late}", help="Open vendor milestones whose baseline date has passed.")

counts = trials["overall_health"].value_counts()
st.html(
    "<b>Overall health of the trials:</b> "
    + " ".join(f"{ui.chip(h)} <b>{counts[h]}</b>&nbsp;&nbsp;" for h in ("red", "amber", "green", "grey") if counts.get(h, 0))
)
for currency, group in with_budget.groupby("reporting_currency"):
    st.caption(
        f"Budget in {currency}: spent {ui.money(group['ac'].sum())} of {ui.money(group['bac'].sum())} "
        f"at completion; work delivered is worth {ui.money(group['ev'].sum())} (earned value)."
    )

# --- The trial table ------------------------------------------------------------------------
st.subheader("Trials", help="Worst overall health first. Click a protocol number to open its enrollment view.")
# Worst first; trials with no data last.
ordered = trials.assign(order=-trials["overall_health"].map(HEALTH_ORDER)).sort_values(["order", "protocol_number"])
rows = [
    {
        "trial": ui.link(ctx.link("enrollment", trial=t.protocol_number), t.protocol_number),
        "title": f'<span title="{ui.cell(t.trial_title)}">{ui.cell(t.indication)}</span>'
        + f'<br><span class="muted">{ui.cell(t.therapeutic_area)} · phase {ui.cell(t.phase)}'
        + f' · {ui.cell(TRIAL_STATUS_LABEL.get(t.trial_status, t.trial_status))}</span>',
        "overall": ui.chip(t.overall_health),
        "enrollment": ui.chip(t.enrollment_health),
        "budget": ui.chip(t.budget_health),
        "schedule": ui.chip(t.schedule_health),
        "enrolled": f"{t.n_enrolled:,} / {t.n_planned_subjects:,}",
        "pct": ui.bar(t.pct_to_target),
        "cpi": ui.cell(t.cpi, "{:.2f}"),
        "next": ui.cell(t.next_milestone)
        + (f'<br><span class="muted">{ui.cell(t.next_milestone_date, "{:%d %b %Y}")}</span>' if isinstance(t.next_milestone, str) else ""),
        "slip": ui.cell(t.next_milestone_slip_days, "{:+d} d"),
    }
    for t in ordered.itertuples(index=False)
]
ui.html_table(
    rows,
    {
        "trial": "Trial", "title": "Indication", "overall": "Overall", "enrollment": "Enrollment",
        "budget": "Budget", "schedule": "Schedule", "enrolled": "Enrolled / target", "pct": "% to target",
        "cpi": "CPI", "next": "Next milestone", "slip": "Slip",
    },
    numeric=("enrolled", "cpi", "slip"),
    nowrap=("trial", "pct", "overall", "enrollment", "budget", "schedule"),
)
st.caption(
    "Enrollment: probability of the last patient in by the planned date (≥ 80 % on track), or enrolled ÷ planned to date "
    "before there is a forecast. Budget: CPI = earned value ÷ actual cost. "
    "Schedule: worst open milestone due within 180 days or overdue. Slip: forecast − baseline of the next milestone. "
    "Definitions on the Methods page."
)

export = trials[
    [
        "protocol_number", "trial_title", "sponsor_code", "phase", "therapeutic_area", "trial_status",
        "n_sites_active", "n_enrolled", "n_planned_subjects", "pct_to_target", "planned_to_date",
        "enrollment_health", "bac", "ac", "ev", "cpi", "spi", "budget_health", "n_milestones_late",
        "schedule_health", "next_milestone", "next_milestone_date", "next_milestone_slip_days", "overall_health",
    ]
]
ui.download_button(
    "⬇️ Download table (CSV)",
    export.to_csv(index=False).encode("utf-8"),
    file_name=f"portfolio_{scope.as_of:%Y-%m-%d}.csv",
    mime="text/csv",
)

# --- Charts ---------------------------------------------------------------------------------
left, right = st.columns([3, 2])
left.plotly_chart(charts.enrollment_vs_plan(trials, HEALTH_LABEL), width="stretch", config={"displaylogo": False})
right.plotly_chart(charts.cost_vs_schedule(trials, HEALTH_LABEL), width="stretch", config={"displaylogo": False})
