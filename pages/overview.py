"""Trial overview: one trial on one page for the weekly review — health, enrollment, worst sites, budget, milestones, changes."""

from html import escape

import pandas as pd
import streamlit as st

from dashboard import charts, health, metrics, ui
from dashboard.metrics import HEALTH_WORD, MILESTONE_STATUS_LABEL
from dashboard.settings import get_settings
from queries import budget, enrollment, overview, vendors

ctx = ui.context()
scope = ctx.scope
settings = get_settings()
WORST_SITES = 5
NEXT_MILESTONES = 5


def day(value) -> str:
    return "—" if value is None or pd.isna(value) else f"{pd.Timestamp(value):%d %b %Y}"


def more(page: str, text: str) -> None:
    """A link to the full page for this trial and view."""
    st.html(
        f'<div style="text-align:right;font-weight:600">'
        f'<a href="{escape(ctx.link(page), quote=True)}" target="_self" style="color:#0F5C6E;text-decoration:none">'
        f"{escape(text)} →</a></div>"
    )


if scope.trial is None:
    st.title("Trial overview")
    st.caption("One trial on one page for the weekly review: pick a trial.")
    with st.spinner("Loading the trials…"):
        found = ui.composed(overview.trial_health, scope)
    if found.trials.empty:
        st.info("No trials match these filters.")
        st.stop()
    ordered = found.trials.assign(order=-found.trials["overall_health"].map(metrics.HEALTH_ORDER)).sort_values(
        ["order", "protocol_number"]
    )
    ui.html_table(
        [
            {
                "trial": ui.link(ctx.link("overview", trial=t.protocol_number), t.protocol_number),
                "title": ui.cell(t.trial_title),
                "overall": ui.chip(t.overall_health),
            }
            for t in ordered.itertuples(index=False)
        ],
        {"trial": "Trial", "title": "Title", "overall": "Overall"},
        nowrap=("trial", "overall"),
    )
    st.stop()

with st.spinner("Loading the trial…"):
    now = ui.composed(overview.trial_health, scope)
    then_scope = overview.then_scope(scope)
    then = ui.composed(overview.trial_health, then_scope)
row = overview.with_then(now.trials, then.trials).iloc[0]
outlook = now.outlooks[row.protocol_number]
then_outlook = then.outlooks.get(row.protocol_number)
since = scope.since

st.title(f"Trial overview · {row.protocol_number}")
st.caption(
    f"{row.trial_title} · phase {row.phase} · {row.therapeutic_area} · as of {scope.as_of:%d %b %Y} "
    f"· changes since {since:%d %b %Y}"
)
st.html(
    " &nbsp; ".join(
        f"<b>{label}</b> {ui.chip(row[f'{key}_health'])}"
        for key, label in (("overall", "Overall"), ("enrollment", "Enrollment"), ("budget", "Budget"), ("schedule", "Schedule"))
    )
)

# --- What changed -------------------------------------------------------------------------------
st.subheader(f"What changed since {since:%d %b}")
changes = [c for c in health.changes_since(row.to_dict()) if c != "new in view"]
for key, label in (("enrollment", "Enrollment"), ("budget", "Budget"), ("schedule", "Schedule")):
    was = row.get(f"{key}_health_then")
    if isinstance(was, str) and was != row[f"{key}_health"]:
        changes.append(f"{label} health: {HEALTH_WORD[was]} → {HEALTH_WORD[row[f'{key}_health']]}")
moved = ui.cached(vendors.forecast_changes, scope)
for m in moved.itertuples(index=False):
    direction = "later" if m.days_moved > 0 else "earlier"
    changes.append(
        f"{m.milestone_name} ({m.vendor_name}) forecast moved {abs(int(m.days_moved))} days {direction}: "
        f"{day(m.old_forecast_date)} → {day(m.new_forecast_date)}"
    )
if changes:
    st.html("<ul>" + "".join(f"<li>{ui.cell(c)}</li>" for c in changes) + "</ul>")
else:
    st.caption("Nothing changed in health, enrollment, late milestones or forecasts.")

# --- Enrollment ---------------------------------------------------------------------------------
st.subheader("Enrollment")
tiles = st.columns(4)
then_row = then.trials.iloc[0] if not then.trials.empty else None
ui.tile(tiles[0], f"Enrolled (of {row.n_planned_subjects:,})", f"{row.n_enrolled:,}", now=row.n_enrolled,
        then=None if then_row is None else then_row.n_enrolled, since=since, help="Subjects enrolled up to the as-of date.")
ui.tile(tiles[1], "% of plan to date", f"{row.pct_of_plan_to_date:.0%}" if row.planned_to_date else "—",
        now=row.pct_of_plan_to_date if row.planned_to_date else None,
        then=then_row.pct_of_plan_to_date if then_row is not None and then_row.planned_to_date else None,
        since=since, fmt=ui.points, help="Enrolled ÷ the baseline plan's cumulative enrollment on the as-of date.")
if outlook.is_complete:
    tiles[2].metric("Last patient in", "Complete")
else:
    shift = None if outlook.p50 is None or then_outlook is None or then_outlook.p50 is None else (outlook.p50 - then_outlook.p50).days
    ui.tile(tiles[2], "Last patient in (P50)", f"{outlook.p50:%d %b %y}" if outlook.p50 else "—", now=shift,
            then=0 if shift is not None else None, since=since, fmt="{:+,.0f} days", better="down",
            help=f"Median forecast; planned LPI {day(outlook.planned_lpi)}.")
ui.tile(tiles[3], "P(meet planned LPI)", ui.plain(outlook.p_meet_plan, "{:.0%}"), now=outlook.p_meet_plan,
        then=None if then_outlook is None else then_outlook.p_meet_plan, since=since, fmt=ui.points,
        help="Share of forecast outcomes with the last patient in by the planned LPI.")
st.plotly_chart(
    charts.enrollment_curve(
        ui.cached(enrollment.enrolled_by_month, scope), ui.cached(enrollment.plan_by_month, scope), as_of=scope.as_of,
        n_enrolled=int(row.n_enrolled), target=int(row.n_planned_subjects),
        completion=outlook.forecast.completion if outlook.forecast is not None else None,
        planned_lpi=outlook.planned_lpi, fan_start=outlook.first_opening,
    ),
    width="stretch",
)
more("enrollment", "Enrollment: funnel, countries, activation")

# --- Worst sites --------------------------------------------------------------------------------
st.subheader("Worst sites")
flagged = ui.composed(overview.flagged_sites, scope.replace(site=None)).sites
worst = flagged[(flagged["n_red"] + flagged["n_amber"]) > 0].sort_values(["n_red", "n_amber", "site_number"],
                                                                          ascending=[False, False, True]).head(WORST_SITES)
if worst.empty:
    st.caption("No site is flagged amber or red against its peers.")
else:
    ui.html_table(
        [
            {
                "site": ui.link(ctx.link("sites", site=r.site_number), r.site_number),
                "name": ui.cell(r.site_name),
                "country": ui.cell(r.country_name),
                "flags": ", ".join(
                    f"{ui.chip(getattr(r, f'flag_{key}'))} {ui.cell(ind.label)}"
                    for key, ind in metrics.SITE_INDICATORS.items() if getattr(r, f"flag_{key}") in ("red", "amber")
                ),
            }
            for r in worst.itertuples(index=False)
        ],
        {"site": "Site", "name": "Institution", "country": "Country", "flags": "Flagged on"},
        nowrap=("site",),
    )
more("sites", "Sites: every indicator and the funnel plot")

# --- Budget -------------------------------------------------------------------------------------
st.subheader("Budget")
evm_now, evm_then = ui.cached(budget.evm_by_trial, scope), ui.cached(budget.evm_by_trial, then_scope)
if evm_now.empty:
    st.caption("No signed contract yet.")
else:
    ev = metrics.earned_value(*(evm_now[c].sum() for c in ("bac", "pv", "ev", "ac")))
    ev_then = None if evm_then.empty else metrics.earned_value(*(evm_then[c].sum() for c in ("bac", "pv", "ev", "ac")))

    def change(field: str):
        return None if ev_then is None else getattr(ev_then, field)

    def signed_money(amount: float) -> str:
        return ("+" if amount > 0 else "") + ui.money(amount)

    tiles = st.columns(5)
    ui.tile(tiles[0], f"AC (of BAC {ui.money(ev.bac)})", ui.money(ev.ac), now=ev.ac, then=change("ac"), since=since,
            fmt=signed_money, better=None, help="Actual cost: invoiced + accrued; BAC: contracts + approved change orders.")
    ui.tile(tiles[1], "EV", ui.money(ev.ev), now=ev.ev, then=change("ev"), since=since, fmt=signed_money,
            help="Earned value: the contracted worth of the work delivered.")
    ui.tile(tiles[2], "CPI", ui.plain(ev.cpi, "{:.2f}"), now=ev.cpi, then=change("cpi"), since=since, fmt="{:+.2f}",
            help="EV ÷ AC.")
    ui.tile(tiles[3], "SPI", ui.plain(ev.spi, "{:.2f}"), now=ev.spi, then=change("spi"), since=since, fmt="{:+.2f}",
            help="EV ÷ PV.")
    ui.tile(tiles[4], "EAC", ui.money(ev.eac), now=ev.eac, then=change("eac"), since=since, fmt=signed_money,
            better="down", help="Estimate at completion: BAC ÷ CPI.")
    st.caption(f"Amounts in {row.reporting_currency}.")
more("budget", "Budget: S-curve, vendors, change orders")

# --- Milestones ---------------------------------------------------------------------------------
st.subheader("Next and slipped milestones")
statuses = health.milestone_statuses(now.milestones, scope.as_of, settings)
open_ = statuses[~statuses["is_done"] & (statuses["milestone_kind"] != "expiry")].sort_values("due_date")
shown = pd.concat([open_[open_["status"] == "late"], open_[open_["status"] != "late"].head(NEXT_MILESTONES)])
if shown.empty:
    st.caption("No open milestones.")
else:
    ui.html_table(
        [
            {
                "milestone": ui.cell(m.milestone_name) + f'<br><span class="muted">{ui.cell(m.vendor_name)} · {ui.cell(m.lane)}</span>',
                "baseline": ui.cell(day(m.baseline_date)),
                "expected": ui.cell(day(m.due_date)),
                "slip": ui.cell(None if pd.isna(m.slip_days) else int(m.slip_days), "{:+d} d"),
                "status": ui.chip(m.rag) + " " + ui.cell(MILESTONE_STATUS_LABEL.get(m.status, m.status)),
            }
            for m in shown.itertuples(index=False)
        ],
        {"milestone": "Milestone", "baseline": "Baseline", "expected": "Expected", "slip": "Slip", "status": "Status"},
        numeric=("slip",),
        nowrap=("baseline", "expected", "status"),
    )
more("vendors", "Vendors: timeline, supply risk, scorecards")
