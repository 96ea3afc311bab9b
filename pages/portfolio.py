"""Portfolio: every trial the user may see, with its health, at a glance."""

import streamlit as st

from dashboard import charts, health, ui
from dashboard.metrics import HEALTH_LABEL, HEALTH_ORDER, ratio
from dashboard.schema import TRIAL_STATUS_LABEL
from queries import overview

ctx = ui.context()
scope = ctx.scope

with st.spinner("Loading the portfolio…"):
    trials = ui.composed(overview.trial_health, scope).trials
    then = ui.composed(overview.trial_health, overview.then_scope(scope)).trials

st.title("Portfolio")
sponsors = ", ".join(sorted(trials["sponsor_name"].unique())) if not trials.empty else ""
st.caption(f"{sponsors} · as of {scope.as_of:%d %b %Y} · changes since {scope.since:%d %b %Y}")

if trials.empty:
    st.info("No trials match these filters. Clear the therapeutic area or phase filter in the sidebar to see more.")
    st.stop()
trials = overview.with_then(trials, then)


def budget_spent(frame):
    """Actual cost ÷ budget at completion over the trials with a budget; None when currencies differ."""
    with_budget = frame.dropna(subset=["bac"])
    return ratio(with_budget["ac"].sum(), with_budget["bac"].sum()) if with_budget["reporting_currency"].nunique() <= 1 else None


# --- Headline tiles -------------------------------------------------------------------------
enrolled, target = int(trials["n_enrolled"].sum()), int(trials["n_planned_subjects"].sum())
late = int(trials["n_milestones_late"].sum())
spent = budget_spent(trials)
tiles = st.columns(5)
ui.tile(tiles[0], "Active trials", f"{int(trials['is_active'].sum())}", now=int(trials["is_active"].sum()),
        then=int(then["is_active"].sum()) if not then.empty else None, since=scope.since, better=None,
        help="Trials in start-up, enrolling or follow-up.")
ui.tile(tiles[1], "Enrolled", f"{enrolled:,}",
        now=enrolled, then=int(then["n_enrolled"].sum()) if not then.empty else None, since=scope.since,
        help="Subjects enrolled up to the as-of date, of the trials' planned enrollment; the change is those enrolled since the compare date.")
ui.tile(tiles[2], "Sites active", f"{int(trials['n_sites_active'].sum()):,}", now=int(trials["n_sites_active"].sum()),
        then=int(then["n_sites_active"].sum()) if not then.empty else None, since=scope.since, better=None,
        help="Sites activated and not closed on the as-of date.")
# Amounts in different currencies cannot be added up: the per-currency lines below say it instead.
ui.tile(tiles[3], "Budget spent", f"{spent:.0%}" if spent is not None else "—",
        now=spent, then=budget_spent(then) if not then.empty else None, since=scope.since, fmt=ui.points, better=None,
        help="Actual cost (invoiced + accrued) ÷ budget at completion (contracts + approved change orders). "
        "Trials in several currencies cannot be added up: see the lines per currency below.")
ui.tile(tiles[4], "Milestones late", f"{late}", now=late, then=int(then["n_milestones_late"].sum()) if not then.empty else None,
        since=scope.since, better="down", help="Open vendor milestones whose baseline date has passed.")

counts = trials["overall_health"].value_counts()
st.html(
    "<b>Overall health of the trials:</b> "
    + " ".join(f"{ui.chip(h)} <b>{counts[h]}</b>&nbsp;&nbsp;" for h in ("red", "amber", "green", "grey") if counts.get(h, 0))
)
if target:
    st.caption(f"{enrolled:,} of {target:,} planned subjects enrolled ({ratio(enrolled, target):.0%}).")
for currency, group in trials.dropna(subset=["bac"]).groupby("reporting_currency"):
    st.caption(
        f"Budget in {currency}: spent {ui.money(group['ac'].sum())} of {ui.money(group['bac'].sum())} "
        f"at completion; work delivered is worth {ui.money(group['ev'].sum())} (earned value)."
    )

# --- The trial table ------------------------------------------------------------------------
st.subheader("Trials", help="Worst overall health first. Click a protocol number to open the trial's overview.")
# Worst first; trials with no data last.
ordered = trials.assign(order=-trials["overall_health"].map(HEALTH_ORDER)).sort_values(["order", "protocol_number"])
# A large portfolio is read a page at a time (the worst first); the charts below show the same trials.
shown = ui.page_of(ordered, "trials_page", "trials", rows=ui.TRIALS_PER_PAGE)
rows = [
    {
        "trial": ui.link(ctx.link("overview", trial=t.protocol_number), t.protocol_number),
        "title": f'<span title="{ui.cell(t.trial_title)}">{ui.cell(t.indication)}</span>'
        + f'<br><span class="muted">{ui.cell(t.therapeutic_area)} · phase {ui.cell(t.phase)}'
        + f' · {ui.cell(TRIAL_STATUS_LABEL.get(t.trial_status, t.trial_status))}</span>',
        "overall": ui.chip(t.overall_health),
        "enrollment": ui.chip(t.enrollment_health),
        "budget": ui.chip(t.budget_health),
        "schedule": ui.chip(t.schedule_health),
        "enrolled": f"{t.n_enrolled:,} / {t.n_planned_subjects:,}<br>{ui.bar(t.pct_to_target)}",
        "cpi": ui.cell(t.cpi, "{:.2f}"),
        "next": ui.cell(t.next_milestone)
        + (f'<br><span class="muted">{ui.cell(t.next_milestone_date, "{:%d %b %Y}")}</span>' if isinstance(t.next_milestone, str) else ""),
        "slip": ui.cell(t.next_milestone_slip_days, "{:+d} d"),
        "changed": "<br>".join(ui.cell(c) for c in health.changes_since(t._asdict())) or '<span class="muted">—</span>',
    }
    for t in shown.itertuples(index=False)
]
ui.html_table(
    rows,
    {
        "trial": "Trial", "title": "Indication", "overall": "Overall", "enrollment": "Enrollment",
        "budget": "Budget", "schedule": "Schedule", "enrolled": "Enrolled / target",
        "cpi": "CPI", "next": "Next milestone", "slip": "Slip", "changed": f"Since {scope.since:%d %b}",
    },
    numeric=("enrolled", "cpi", "slip"),
    nowrap=("trial", "overall", "enrollment", "budget", "schedule"),
)
st.caption(
    "Enrollment: probability of the last patient in by the planned date (≥ 80 % on track), or enrolled ÷ planned to date "
    "before there is a forecast. Budget: CPI = earned value ÷ actual cost. "
    "Schedule: worst open milestone due within 180 days or overdue. Slip: forecast − baseline of the next milestone. "
    f"Since {scope.since:%d %b}: overall health that changed, subjects enrolled and milestones newly late since the compare date. "
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
ui.download_table("⬇️ Download table (CSV)", export, f"portfolio_{scope.as_of:%Y-%m-%d}", sheet="Trials")

# --- Charts ---------------------------------------------------------------------------------
left, right = st.columns([3, 2])
left.plotly_chart(charts.enrollment_vs_plan(shown, HEALTH_LABEL), width="stretch", config={"displaylogo": False})
right.plotly_chart(charts.cost_vs_schedule(shown, HEALTH_LABEL), width="stretch", config={"displaylogo": False})
if len(shown) < len(trials):
    st.caption(f"The charts show the {len(shown)} trials of this page of the table, of {len(trials):,}.")
