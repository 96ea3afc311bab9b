"""Trial overview: one trial on one page for the weekly review — health, enrollment, worst sites, budget, milestones, changes."""

import pandas as pd
import streamlit as st

from dashboard import charts, health, registry, ui
from dashboard.formats import day
from dashboard.metrics import MILESTONE_STATUS_LABEL
from dashboard.settings import get_settings
from queries import enrollment, overview, review

ctx = ui.context()
scope = ctx.scope
settings = get_settings()
WORST_SITES = 5
NEXT_MILESTONES = 5
DIMENSIONS = (
    ("overall_health", "Overall"),
    ("enrollment_health", "Enrollment"),
    ("budget_health", "Budget"),
    ("schedule_health", "Schedule"),
)


def more(page: str, text: str) -> None:
    """A link to the full page for this trial and view."""
    st.html(
        ui.markup(
            '<div style="text-align:right;font-weight:600">{}</div>', ui.link(ctx.link(page), f"{text} →", style=True)
        )
    )


if scope.trial is None:
    st.title("Trial overview")
    st.caption("One trial on one page for the weekly review: pick a trial.")
    with st.spinner("Loading the trials…"):
        found = ui.basis(overview.view_basis, scope)
    if found.trials.empty:
        st.info("No trials match these filters.")
        ui.end_page()
    order = registry.worst_first(found)
    titles = found.trials.set_index("protocol_number")["trial_title"]
    listed = [
        {
            "protocol_number": p,
            "trial_title": titles[p],
            "overall_health": registry.evaluate("overall_health", found.of_trial(p)).health,
            "why": "; ".join(r.text for r in registry.reasons(found.of_trial(p))),
        }
        for p in order
    ]
    ui.html_table(
        [
            {
                "trial": ui.link(ctx.link("overview", trial=t["protocol_number"]), t["protocol_number"]),
                "title": ui.cell(t["trial_title"]),
                "overall": ui.chip(t["overall_health"]),
                "why": ui.cell(t["why"] or None),
            }
            for t in listed
        ],
        {"trial": "Trial", "title": "Title", "overall": "Overall", "why": "Why"},
        nowrap=("trial", "overall"),
    )
    st.caption(registry.SEVERITY_TEXT)
    ui.download_table("⬇️ Download trials (CSV)", pd.DataFrame(listed), f"trials_{scope.as_of}", sheet="Trials")
    ui.end_page()

with st.spinner("Loading the trial…"):
    now = ui.basis(overview.view_basis, scope.replace(site=None), flags=True, vendor=True)
    then = ui.basis(overview.view_basis, overview.then_scope(scope).replace(site=None), flags=True, vendor=True)
row = now.trial_row()
outlook = now.outlook
since = scope.since


def figure(key: str) -> registry.Value:
    return registry.evaluate(key, now, then)


st.title(f"Trial overview · {ui.md(row.protocol_number)}")
st.caption(
    f"{ui.md(row.trial_title)} · phase {ui.md(row.phase)} · {ui.md(row.therapeutic_area)} · as of {scope.as_of:%d %b %Y} "
    f"· changes since {since:%d %b %Y}"
)
st.html(
    ui.joined(" &nbsp; ", (ui.markup("<b>{}</b> {}", label, ui.chip(figure(key).health)) for key, label in DIMENSIONS))
)
why = registry.reasons(now)
if why:
    st.html(ui.markup("<b>Why:</b> {}", ui.joined(" · ", (ui.markup("{} {}", ui.reason_chip(r), r.text) for r in why))))
counted = ui.open_counts(ctx, [row.protocol_number]).get(row.protocol_number)
if counted is not None and (counted.open or counted.notes):
    st.caption(f"Weekly review: {counted.open_text}, listed under Actions and notes at the foot of the page.")

# What changed: the first few in view beside the chart, the rest one click away.
CHANGES_SHOWN = 8

# --- Enrollment and what changed ----------------------------------------------------------------
# The headline tiles first, then the chart beside what moved: the first screen holds the tiles and the chart's start.
st.subheader("Enrollment")
complete = outlook is not None and outlook.is_complete
for column, key in zip(st.columns(4), ("enrolled", "pct_of_plan_to_date", "p_meet_lpi_plan", "sites_non_enrolling")):
    ui.figure(
        column,
        figure(key),
        since,
        note=f"Enrollment target {row.n_planned_subjects:,}." if key == "enrolled" else None,
        instead="enrollment complete" if complete else None,
    )
ui.lpi_tiles(figure, since, complete=complete)
p10, p90 = figure("lpi_model_p10"), figure("lpi_model_p90")
spread = (
    " · enrollment complete"
    if complete
    else " · no model forecast yet"
    if p10.value is None
    else f" · model P10–P90 {ui.md(p10.display)} – {ui.md(p90.display)}"
)
st.caption(
    f"Enrolled {ui.md(figure('enrolled').display)} of {row.n_planned_subjects:,} · planned LPI "
    f"{ui.md(figure('lpi_planned').display)}{spread}. "
    "The enrollment colour follows the model (the chance of LPI by plan); the schedule colour follows the CRO's forecast of the LPI "
    "milestone."
)
chart, moved = st.columns([3, 2], gap="medium")
chart.plotly_chart(
    charts.enrollment_curve(
        ui.cached(enrollment.enrolled_by_month, scope),
        ui.cached(enrollment.plan_by_month, scope),
        as_of=scope.as_of,
        n_enrolled=int(row.n_enrolled),
        target=int(row.n_planned_subjects),
        completion=outlook.forecast.completion if outlook.forecast is not None else None,
        planned_lpi=outlook.planned_lpi,
        fan_start=outlook.first_opening,
        # The same fan as the Enrollment page's: one forecast, one picture.
        fan=outlook.forecast.fan_table() if outlook.forecast is not None and outlook.forecast.has_forecast else None,
    ),
    width="stretch",
)
changes = [v.change_text for v in registry.moved(registry.block(now, then, "trial"))]
for m in now.moved.itertuples(index=False):
    direction = "later" if m.days_moved > 0 else "earlier"
    changes.append(
        f"{m.milestone_name} ({m.vendor_name}) forecast moved {abs(int(m.days_moved))} days {direction}: "
        f"{day(m.old_forecast_date)} → {day(m.new_forecast_date)}"
    )
with moved:
    st.markdown(f"**What changed since {since:%d %b %Y}**")
    if changes:
        items = [ui.markup("<li>{}</li>", c) for c in changes]
        shown, rest = items[:CHANGES_SHOWN], items[CHANGES_SHOWN:]
        more_items = (
            ui.markup(
                '<details><summary>{} more</summary><ul style="margin:0;padding-left:1.2em">{}</ul></details>',
                len(rest),
                ui.joined("", rest),
            )
            if rest
            else ""
        )
        st.html(
            ui.markup(
                '<div style="font-size:0.92rem;line-height:1.4"><ul style="margin:0;padding-left:1.2em">{}</ul>{}</div>',
                ui.joined("", shown),
                more_items,
            )
        )
        st.caption(
            "Figures that moved beyond their tolerance (Methods), and milestone forecasts recorded in the period."
        )
    else:
        st.caption("No figure of the trial moved by more than its tolerance, and no milestone forecast changed.")
more("enrollment", "Enrollment: funnel, countries, activation")

# --- Worst sites --------------------------------------------------------------------------------
st.subheader("Worst sites")
worst = registry.worst_sites(now).head(WORST_SITES)
if worst.empty:
    st.caption("No site is flagged amber or red against its peers, and no active site is non-enrolling.")
else:
    ui.html_table(
        [
            {
                "site": ui.link(ctx.link("sites", site=r.site_number), r.site_number),
                "name": ui.cell(r.site_name),
                "country": ui.cell(r.country_name),
                "flags": ui.joined(", ", (ui.markup("{} {}", ui.chip(colour), text) for colour, text in r.problems)),
            }
            for r in worst.itertuples(index=False)
        ],
        {"site": "Site", "name": "Institution", "country": "Country", "flags": "Flagged on"},
        nowrap=("site",),
    )
    ui.download_table(
        "⬇️ Download worst sites (CSV)",
        worst[
            ["site_number", "site_name", "country_name", "n_red", "n_amber", "n_safety", "non_enrolling_days"]
        ].assign(flagged_on=["; ".join(text for _, text in p) for p in worst["problems"]]),
        f"worst_sites_{scope.trial}_{scope.as_of}",
        sheet="Worst sites",
    )
    st.caption(registry.WORST_SITES_TEXT)

# --- Quality and safety ---------------------------------------------------------------------------
st.subheader("Quality and safety")
for column, key in zip(st.columns(4), ("qtl_breaches", "sae_on_time", "sites_safety_flag")):
    ui.figure(column, figure(key), since)
if now.qtls is not None and not now.qtls.empty:
    ui.html_table(
        [
            {
                "qtl": ui.cell(q["label"]),
                "value": ui.cell(health.qtl_values(q)[0]),
                "limit": ui.cell(f"{q['direction']} {health.qtl_values(q)[1]}"),
                "status": ui.chip("grey" if pd.isna(q["breached"]) else "red" if q["breached"] else "green")
                + " "
                + ui.cell("No data" if pd.isna(q["breached"]) else "Breached" if q["breached"] else "Within limit"),
            }
            for _, q in now.qtls.iterrows()
        ],
        {"qtl": "Quality tolerance limit", "value": "Trial value", "limit": "Breached when", "status": "Status"},
        numeric=("value",),
        nowrap=("status",),
    )
    st.caption(
        "Each figure is the site indicator pooled over the trial's sites (Methods). A breach is reported to the "
        "sponsor's management and in the clinical study report (ICH E6(R3))."
    )
else:
    st.caption("No quality tolerance limit is loaded for this trial.")
more("sites", "Sites: every indicator and the funnel plot")

# --- Budget -------------------------------------------------------------------------------------
st.subheader("Budget")
if now.budgeted.empty:
    st.caption("No signed contract yet.")
else:
    for keys in (("bac", "ac", "ev", "eac"), ("cpi", "spi")):
        for column, key in zip(st.columns(4), keys):
            ui.figure(column, figure(key), since)
more("budget", "Budget: S-curve, vendors, change orders")

# --- Milestones ---------------------------------------------------------------------------------
st.subheader("Overdue and next milestones")
statuses = now.milestones
open_ = statuses[~statuses["is_done"] & (statuses["milestone_kind"] != "expiry")].sort_values("due_date")
shown = pd.concat([open_[open_["status"] == "late"], open_[open_["status"] != "late"].head(NEXT_MILESTONES)])
if shown.empty:
    st.caption("No open milestones.")
else:
    expected = list(shown["expected"])
    ui.html_table(
        [
            {
                "milestone": ui.markup(
                    '{}<br><span class="muted">{} · {}</span>', m.milestone_name, m.vendor_name, m.lane
                ),
                "baseline": ui.cell(day(m.baseline_date)),
                "expected": ui.cell(text),
                "slip": ui.cell(None if pd.isna(m.slip_days) else int(m.slip_days), "{:+d} d"),
                "status": ui.chip(m.rag) + " " + ui.cell(MILESTONE_STATUS_LABEL.get(m.status, m.status)),
            }
            for m, text in zip(shown.itertuples(index=False), expected)
        ],
        {"milestone": "Milestone", "baseline": "Baseline", "expected": "Expected", "slip": "Slip", "status": "Status"},
        numeric=("slip",),
        nowrap=("baseline", "status"),
    )
    ui.download_table(
        "⬇️ Download milestones (CSV)",
        shown[
            [
                "milestone_name",
                "vendor_name",
                "lane",
                "milestone_kind",
                "baseline_date",
                "forecast_date",
                "slip_days",
                "status",
                "rag",
            ]
        ].assign(expected=expected),
        f"milestones_{scope.trial}_{scope.as_of}",
        sheet="Milestones",
    )
more("vendors", "Vendors: timeline, supply risk, scorecards")

# --- Actions and notes of the weekly review -------------------------------------------------------
st.subheader("Actions and notes")
ui.actions_section(ctx, ui.cached(review.targets, scope), list(ui.cached(review.owners, scope)["user_email"]))
