"""Portfolio: every trial the user may see, with its health, at a glance."""

import streamlit as st

from dashboard import charts, health, ui
from dashboard.metrics import HEALTH_LABEL, ratio
from dashboard.settings import get_settings
from queries import budget, portfolio, vendors

STATUS_LABEL = {
    "planned": "Planned",
    "startup": "Start-up",
    "enrolling": "Enrolling",
    "follow_up": "Follow-up",
    "closed": "Closed",
}

ctx = ui.context()
scope = ctx.scope
settings = get_settings()

with st.spinner("Loading the portfolio…"):
    trials = health.trial_health(
        ui.cached(portfolio.trial_summary, scope),
        ui.cached(budget.evm_by_trial, scope),
        ui.cached(vendors.milestones, scope),
        scope.as_of,
        settings,
    )

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
    delta=f"of {target:,} planned ({ratio(enrolled, target):.0%})" if target else None,
    delta_color="off",
    help="Subjects enrolled up to the as-of date ÷ the trials' planned enrollment.",
)
tiles[2].metric("Sites active", f"{int(trials['n_sites_active'].sum()):,}", help="Sites activated and not closed on the as-of date.")
with_budget = trials.dropna(subset=["bac"])
spent = ratio(with_budget["ac"].sum(), with_budget["bac"].sum())
tiles[3].metric(
    "Budget spent",
    f"{spent:.0%}" if spent is not None else "—",
    delta="of budget at completion",
    delta_color="off",
    help="Actual cost (invoiced + accrued) ÷ budget at completion (contracts + approved change orders).",
)
late = int(trials["n_milestones_late"].sum())
tiles[4].metric("Milestones late", f"{late}", help="Open vendor milestones whose baseline date has passed.")

counts = trials["overall_health"].value_counts()
st.markdown(
    "**Overall health:** "
    + " · ".join(f"{HEALTH_LABEL[h]}: {counts.get(h, 0)}" for h in ("red", "amber", "green", "grey") if counts.get(h, 0))
)
for currency, group in with_budget.groupby("reporting_currency"):
    st.caption(
        f"Budget in {currency}: spent {group['ac'].sum():,.0f} of {group['bac'].sum():,.0f} "
        f"(earned value {group['ev'].sum():,.0f})."
    )

# --- The trial table ------------------------------------------------------------------------
table = trials.assign(
    link=[ctx.link("enrollment", trial=p) for p in trials["protocol_number"]],
    status=trials["trial_status"].map(STATUS_LABEL),
    enrollment=trials["enrollment_health"].map(HEALTH_LABEL),
    budget=trials["budget_health"].map(HEALTH_LABEL),
    schedule=trials["schedule_health"].map(HEALTH_LABEL),
    overall=trials["overall_health"].map(HEALTH_LABEL),
    pct=trials["pct_to_target"] * 100,
)
order = {"red": 0, "amber": 1, "green": 2, "grey": 3}
table = table.sort_values(["overall_health", "protocol_number"], key=lambda s: s.map(order) if s.name == "overall_health" else s)
columns = {
    "link": st.column_config.LinkColumn("Trial", display_text=r"trial=([^&]+)", help="Open the trial's enrollment view"),
    "trial_title": st.column_config.TextColumn("Title", width="medium"),
    "phase": st.column_config.TextColumn("Phase", width="small"),
    "status": st.column_config.TextColumn("Status", width="small"),
    "n_enrolled": st.column_config.NumberColumn("Enrolled", format="%d"),
    "n_planned_subjects": st.column_config.NumberColumn("Target", format="%d"),
    "pct": st.column_config.ProgressColumn("% to target", format="%.0f%%", min_value=0, max_value=100),
    "overall": st.column_config.TextColumn("Overall", help="Worst of enrollment, budget and schedule"),
    "enrollment": st.column_config.TextColumn("Enrollment", help="Enrolled ÷ planned to date: ≥ 90 % on track, ≥ 75 % watch"),
    "budget": st.column_config.TextColumn("Budget", help="CPI = earned value ÷ actual cost: ≥ 0.95 on track, ≥ 0.85 watch"),
    "schedule": st.column_config.TextColumn("Schedule", help="Worst open milestone due within 180 days or late"),
    "cpi": st.column_config.NumberColumn("CPI", format="%.2f"),
    "next_milestone": st.column_config.TextColumn("Next milestone"),
    "next_milestone_date": st.column_config.DateColumn("Due", format="YYYY-MM-DD"),
    "next_milestone_slip_days": st.column_config.NumberColumn("Slip (days)", format="%d", help="Forecast − baseline"),
}
st.subheader("Trials")
st.dataframe(table[list(columns)], column_config=columns, hide_index=True, width="stretch")

export = trials[
    [
        "protocol_number", "trial_title", "sponsor_code", "phase", "therapeutic_area", "trial_status",
        "n_sites_active", "n_enrolled", "n_planned_subjects", "pct_to_target", "planned_to_date",
        "enrollment_health", "bac", "ac", "ev", "cpi", "spi", "budget_health", "n_milestones_late",
        "schedule_health", "next_milestone", "next_milestone_date", "next_milestone_slip_days", "overall_health",
    ]
]
st.download_button(
    "⬇️ Download table (CSV)",
    export.to_csv(index=False).encode("utf-8"),
    file_name=f"portfolio_{scope.as_of:%Y-%m-%d}.csv",
    mime="text/csv",
)

# --- Charts ---------------------------------------------------------------------------------
left, right = st.columns([3, 2])
left.plotly_chart(charts.enrollment_vs_plan(trials, HEALTH_LABEL), width="stretch", config={"displaylogo": False})
right.plotly_chart(charts.cost_vs_schedule(trials, HEALTH_LABEL), width="stretch", config={"displaylogo": False})
