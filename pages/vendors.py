"""Vendors: CRO and CMO milestones side by side: baseline, forecast and actual, slips, supply risk, vendor scorecards."""

from datetime import timedelta

import pandas as pd
import streamlit as st

from dashboard import charts, health, metrics, registry, ui
from dashboard.formats import day
from dashboard.metrics import MILESTONE_STATUS_LABEL, STATUS_LABEL, SUPPLY_RISK_LABEL
from dashboard.settings import get_settings
from queries import overview, review, vendors

ctx = ui.context()
scope = ctx.scope
settings = get_settings()
UPCOMING_DAYS = 90
TIMELINE_TRIALS = 30  # rows of the portfolio timeline: beyond this it is a scroll, not a picture
RISK_COLOUR = {"conflict": "red", "near_miss": "amber", "clear": "green"}

TILES = (
    ("milestones_overdue", "milestones_forecast_late", "supply_conflicts"),
    ("stability_pulls_overdue", "milestones_contracted", "forecasts_moved"),
)

with st.spinner("Loading vendor milestones…"):
    # Milestone figures need no forecast: the page does not pay for forecasting every trial.
    now = ui.basis(overview.view_basis, scope, forecast=False, vendor=True)
    then = ui.basis(overview.view_basis, overview.then_scope(scope), forecast=False, vendor=True)
    scorecard = ui.cached(vendors.vendor_scorecard, scope, tolerance_days=settings.milestone_amber_days)

st.title("Vendors" + (f" · {ui.md(scope.trial)}" if scope.trial else ""))
st.caption(
    f"{'Trial ' + ui.md(scope.trial) if scope.trial else 'Every trial in view'} · CRO and CMO milestones as of {scope.as_of:%d %b %Y} · changes since {scope.since:%d %b %Y}"
)

statuses = now.milestones
if statuses.empty:
    st.info(
        "No vendor milestones are recorded for "
        + (f"trial {ui.md(scope.trial)}." if scope.trial else "the trials in view.")
    )
    ui.end_page()


def trial_cell(protocol: str) -> str:
    return ui.link(ctx.link("vendors", trial=protocol), protocol)


contract = statuses[statuses["milestone_kind"] == "contract"]
links = now.supply
changes = now.moved

# --- Supply risk: at the top when any exists -----------------------------------------------------
risks = health.open_supply_risks(links)
conflicts = risks[risks["risk"] == "conflict"]

for keys in TILES:
    for column, key in zip(st.columns(len(keys)), keys):
        note = (
            f"Near misses: {registry.evaluate('supply_near_misses', now).display}."
            if key == "supply_conflicts"
            else None
        )
        ui.figure(column, registry.evaluate(key, now, then), scope.since, note=note)

if not risks.empty:
    st.subheader(
        "⚠️ Supply risk",
        help="Margin = clinical milestone date − lead time − supply milestone date (actual if done, else forecast).",
    )
    for r in conflicts.itertuples(index=False):
        st.error(
            f"**{ui.md(r.protocol_number)}: {ui.md(r.supply_name)}** ({ui.md(r.supply_vendor_name)}, {day(r.supply_date)}) "
            f"threatens **{ui.md(r.clinical_name)}** ({ui.md(r.clinical_vendor_name)}, {day(r.clinical_date)}): with "
            f"{r.lead_time_days} days of lead time the supply is **{r.conflict_days} days late**.",
            icon="🚚",
        )
    ui.html_table(
        [
            {
                "risk": ui.chip(RISK_COLOUR[r.risk], SUPPLY_RISK_LABEL[r.risk]),
                "trial": trial_cell(r.protocol_number),
                "supply": ui.markup('{}<br><span class="muted">{}</span>', r.supply_name, r.supply_vendor_name),
                "supply_date": ui.markup(
                    '{}<br><span class="muted">{}</span>',
                    ui.cell(day(r.supply_date)),
                    "actual" if r.is_supply_done else "forecast",
                ),
                "clinical": ui.markup('{}<br><span class="muted">{}</span>', r.clinical_name, r.clinical_vendor_name),
                "clinical_date": ui.markup('{}<br><span class="muted">forecast</span>', ui.cell(day(r.clinical_date))),
                "lead": f"{r.lead_time_days} d",
                "margin": f"{r.margin_days:+d} d",
                "conflict": f"{r.conflict_days} d" if r.conflict_days else ui.cell(None),
            }
            for r in risks.itertuples(index=False)
        ],
        {
            "risk": "Risk",
            "trial": "Trial",
            "supply": "Supply milestone",
            "supply_date": "Supply date",
            "clinical": "Threatens",
            "clinical_date": "Clinical date",
            "lead": "Lead time",
            "margin": "Margin",
            "conflict": "Days of conflict",
        },
        numeric=("lead", "margin", "conflict"),
        nowrap=("risk", "trial", "supply_date", "clinical_date"),
    )
    ui.download_table("⬇️ Download supply risks (CSV)", risks, f"supply_risks_{scope.as_of}", sheet="Supply risks")


def status_with_colour(milestones: pd.DataFrame) -> pd.Series:
    """A milestone's status with its colour's dot in front ("🔴 Overdue"): one column, so the table fits a laptop."""
    return milestones["rag"].map(metrics.HEALTH_ICON) + " " + milestones["status"].map(STATUS_LABEL)


# --- Timeline ----------------------------------------------------------------------------------
labels = MILESTONE_STATUS_LABEL
if scope.trial:
    if contract.empty:
        st.info("This trial has no contracted milestones to draw.")
    else:
        st.plotly_chart(
            charts.milestone_timeline(
                contract,
                as_of=scope.as_of,
                status_labels=labels,
                links=links,
                title=f"Milestones of {scope.trial}: baseline, forecast and actual",
            ),
            width="stretch",
            config={"displaylogo": False},
        )
        st.caption(
            "Grey tick: baseline (contracted) date. ◆ forecast, ● actual, coloured by status; the shaded bar is the slip "
            "from the baseline; the dotted line joins a supply milestone to the clinical one it must precede. "
            "Stability pulls and the expiry date are in the milestone table below."
        )
else:
    key = contract[contract["is_key"].astype(bool)]
    names = dict(zip(key["milestone_code"], key["milestone_name"]))
    if key.empty:
        st.info("No key milestones to draw for the trials in view.")
    else:
        n_trials = key["protocol_number"].nunique()
        worst = health.most_slipped_trials(key, TIMELINE_TRIALS)
        drawn = key[key["protocol_number"].isin(worst)]
        st.plotly_chart(
            charts.portfolio_timeline(
                drawn, as_of=scope.as_of, status_labels=labels, order=worst if n_trials > TIMELINE_TRIALS else None
            ),
            width="stretch",
            config={"displaylogo": False},
        )
        st.caption(
            (
                f"The {TIMELINE_TRIALS} trials of {n_trials:,} whose open key milestones are most overdue or slipped, the worst at "
                "the top; narrow the view "
                "with the filters, or see every milestone in the table below. "
                if n_trials > TIMELINE_TRIALS
                else ""
            )
            + "Key milestones only: "
            + ", ".join(
                f"{short} {ui.md(names[code].lower())}"
                for code, short in charts.MILESTONE_SHORT.items()
                if code in names
            )
            + ". ◆ forecast, ● actual; the grey bar runs from the baseline. Pick a trial for all its milestones."
        )

# --- What moved --------------------------------------------------------------------------------
st.subheader(
    f"What moved since {scope.since:%d %b %Y}",
    help="Forecasts recorded between the compare date and the as-of date (the link's since=, else a week before).",
)
if changes.empty:
    st.caption("No milestone forecast changed in this period.")
else:
    ui.html_table(
        [
            {
                "trial": trial_cell(c.protocol_number),
                "milestone": ui.markup(
                    '{}<br><span class="muted">{} · {}</span>', c.milestone_name, c.lane, c.vendor_name
                ),
                "baseline": ui.cell(day(c.baseline_date)),
                "move": ui.markup("{} → <b>{}</b>", day(c.old_forecast_date), day(c.new_forecast_date)),
                "days": f"{'🔺' if c.days_moved > 0 else '🔻'} {c.days_moved:+d} d",
                "recorded": ui.cell(day(c.recorded_date)),
            }
            for c in changes.itertuples(index=False)
        ],
        {
            **({} if scope.trial else {"trial": "Trial"}),
            "milestone": "Milestone",
            "baseline": "Baseline",
            "move": "Forecast: was → now",
            "days": "Moved",
            "recorded": "Recorded",
        },
        numeric=("days",),
        nowrap=("trial", "baseline", "move", "recorded"),
    )
    st.caption("🔺 later than before, 🔻 earlier. A milestone without a forecast yet counts at its baseline date.")
    ui.download_table(
        "⬇️ Download changes (CSV)", changes, f"milestone_changes_{scope.since}_{scope.as_of}", sheet="Forecast changes"
    )

# --- Vendor scorecard --------------------------------------------------------------------------
st.subheader(
    "Vendor scorecard",
    help="Contracted milestones of the trials in view only: a vendor's work for other sponsors is not counted.",
)
card = scorecard.assign(
    on_time_rate=[metrics.on_time_rate(n, d) for n, d in zip(scorecard["n_done_on_time"], scorecard["n_done"])]
)
card["on_time_rate"] = card["on_time_rate"].astype("float64")
card = card.merge(health.cro_sae_timeliness(statuses, now.trials), on="vendor_code", how="left")
ui.html_table(
    [
        {
            "vendor": ui.markup('{}<br><span class="muted">{}</span>', ui.cell(v.vendor_name), ui.cell(v.vendor_kind)),
            "trials": f"{v.n_trials}",
            "milestones": f"{v.n_milestones}",
            "done": f"{v.n_done}",
            "on_time": ui.markup(
                '{} <span class="muted">({}/{})</span>', ui.bar(v.on_time_rate), v.n_done_on_time, v.n_done
            )
            if v.n_done
            else ui.markup('<span class="muted">— none done yet</span>'),
            "mean": ui.cell(v.mean_slip_days, "{:+.1f} d"),
            "worst": ui.cell(v.worst_slip_days, "{:+d} d"),
            "overdue": ui.markup("<b>{}</b>", v.n_overdue) if v.n_overdue else "0",
            "due": f"{v.n_due_30} / {v.n_due_60} / {v.n_due_90}",
            "payments": ui.cell(None)
            if pd.isna(v.payments_due_amount)
            else ui.markup("{} {}", ui.money(v.payments_due_amount), v.reporting_currency),
        }
        for v in card.itertuples(index=False)
    ],
    {
        "vendor": "Vendor",
        "trials": "Trials",
        "milestones": "Milestones",
        "done": "Done",
        "on_time": "On time",
        "mean": "Mean slip",
        "worst": "Worst slip",
        "overdue": "Overdue",
        "due": "Due 30/60/90 d",
        "payments": "Payments ≤ 90 d",
    },
    numeric=("trials", "milestones", "done", "mean", "worst", "overdue", "due", "payments"),
    nowrap=("on_time",),
)
st.caption(
    f"Contracted milestones of the trials in view (a vendor's work for other sponsors is not counted). On time: done no later "
    f"than baseline + {settings.milestone_amber_days} days, of those done. Slip: actual − baseline when done, else forecast − "
    "baseline (at least until today when overdue), over all its milestones. Due: open, not overdue, expected (forecast, else "
    "baseline) within 30, 60, 90 days. Payments due: fees of open milestones overdue or expected within 90 days"
    + (" — not summed across currencies: pick a sponsor." if card["reporting_currency"].isna().any() else ".")
)
safety = card[card["sae_on_time"].notna()]
if not safety.empty:
    st.markdown("**Safety reporting by CRO**")
    ui.html_table(
        [
            {
                "vendor": ui.cell(v.vendor_name),
                "sae": ui.markup(
                    '{} <span class="muted">({}/{})</span>',
                    ui.bar(v.sae_on_time),
                    f"{v.n_sae_on_time:.0f}",
                    f"{v.n_sae_due:.0f}",
                ),
            }
            for v in safety.itertuples(index=False)
        ],
        {"vendor": "CRO", "sae": "SAEs on time (CRO)"},
        nowrap=("vendor", "sae"),
    )
    st.caption(
        "Serious adverse events of the trials whose clinical lane the vendor runs, reported to the sponsor by the "
        "day after the site became aware, of those due."
    )
ui.download_table("⬇️ Download scorecard (CSV)", card, f"vendor_scorecard_{scope.as_of}", sheet="Vendor scorecard")

# --- Upcoming and overdue ----------------------------------------------------------------------
horizon = pd.Timestamp(scope.as_of + timedelta(days=UPCOMING_DAYS))
upcoming = contract[
    ~contract["is_done"] & ((contract["status"] == "late") | (contract["due_date"] <= horizon))
].sort_values(["due_date", "protocol_number"])
st.subheader(f"Upcoming and overdue milestones: next {UPCOMING_DAYS} days")
if upcoming.empty:
    st.caption(f"No open contracted milestone is overdue or due in the next {UPCOMING_DAYS} days.")
else:
    table = upcoming.assign(
        status_label=status_with_colour(upcoming),
        colour=upcoming["rag"].map(ui.health_label),
    )[
        [
            "protocol_number",
            "lane",
            "vendor_name",
            "milestone_name",
            "baseline_date",
            "expected",
            "slip_days",
            "status_label",
            "colour",
            "payment_amount",
        ]
    ]
    upcoming_shown = ui.page_of(table, "upcoming_page", "milestones")
    ui.dataframe(
        upcoming_shown,
        column_config={
            "protocol_number": "Trial",
            "lane": "Lane",
            "vendor_name": "Vendor",
            "milestone_name": "Milestone",
            "baseline_date": st.column_config.DateColumn("Baseline", format="DD MMM YYYY"),
            "expected": st.column_config.TextColumn(
                "Expected", help="The forecast; for an overdue milestone, since when."
            ),
            "slip_days": st.column_config.NumberColumn(
                "Slip (d)",
                format="%+d",
                help="Days later than the baseline. For an expiry or re-test date later is better: an extension is green.",
            ),
            "status_label": "Status",
            "colour": None,  # in the Status column's dot; the CSV keeps it as words
            "payment_amount": st.column_config.NumberColumn("Payment", format="localized"),
        },
        hide_index=True,
        width="stretch",
    )
    ui.download_table(
        ui.download_label("upcoming milestones", len(table), len(upcoming_shown)),
        table,
        f"milestones_upcoming_{scope.as_of}",
        sheet="Upcoming milestones",
    )

# --- Every milestone ---------------------------------------------------------------------------
with st.expander(f"All milestones ({len(statuses):,}), stability pulls and expiry included"):
    everything = statuses.assign(
        status_label=status_with_colour(statuses),
        colour=statuses["rag"].map(ui.health_label),
    )[
        [
            "protocol_number",
            "lane",
            "vendor_name",
            "milestone_name",
            "milestone_kind",
            "baseline_date",
            "forecast_date",
            "actual_date",
            "expected",
            "slip_days",
            "status_label",
            "colour",
            "payment_amount",
        ]
    ]
    everything_shown = ui.page_of(everything, "milestones_page", "milestones", in_url=True)
    ui.dataframe(
        everything_shown,
        column_config={
            "protocol_number": "Trial",
            "lane": "Lane",
            "vendor_name": "Vendor",
            "milestone_name": "Milestone",
            "milestone_kind": "Kind",
            "baseline_date": st.column_config.DateColumn("Baseline", format="DD MMM YYYY"),
            "forecast_date": st.column_config.DateColumn("Forecast", format="DD MMM YYYY"),
            "actual_date": st.column_config.DateColumn("Actual", format="DD MMM YYYY"),
            "expected": st.column_config.TextColumn("Expected"),
            "slip_days": st.column_config.NumberColumn(
                "Slip (d)",
                format="%+d",
                help="Days later than the baseline. For an expiry or re-test date later is better: an extension is green.",
            ),
            "status_label": "Status",
            "colour": None,  # in the Status column's dot; the CSV keeps it as words
            "payment_amount": st.column_config.NumberColumn("Payment", format="localized"),
        },
        hide_index=True,
        width="stretch",
    )
    ui.download_table(
        ui.download_label("milestones", len(everything), len(everything_shown)),
        everything,
        f"milestones_{scope.as_of}",
        sheet="All milestones",
    )

# --- Actions and notes on the trial's milestones -------------------------------------------------
if scope.trial is not None:
    st.subheader("Actions and notes on milestones")
    ui.actions_section(
        ctx, ui.cached(review.targets, scope), list(ui.cached(review.owners, scope)["user_email"]), kinds=("milestone",)
    )
