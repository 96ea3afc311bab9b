"""Enrollment: subjects in against plan, where they come from, site activation, and when the last patient will be in."""

import pandas as pd
import streamlit as st

from dashboard import charts, metrics, ui
from dashboard.settings import get_settings
from queries import enrollment, overview
from queries import sites as site_queries

ctx = ui.context()
scope = ctx.scope
settings = get_settings()

with st.spinner("Loading enrollment…"):
    found = ui.composed(overview.trial_health, scope)
    trials, sites, outlooks = found.trials, found.sites, found.outlooks


def date_text(day) -> str:
    return f"{day:%d %b %Y}" if day is not None else "—"


if scope.trial is None:
    # ------------------------------------------------------------------ portfolio view
    st.title("Enrollment")
    st.caption(f"Every trial in view · as of {scope.as_of:%d %b %Y} · riskiest first")
    if trials.empty:
        st.info("No trials match these filters.")
        st.stop()
    order = sorted(
        trials.itertuples(index=False),
        key=lambda r: (outlooks[r.protocol_number].is_complete, outlooks[r.protocol_number].p_meet_plan or 0, r.protocol_number),
    )
    # A large portfolio is read a page at a time (the riskiest first); the chart below shows the same trials.
    order = ui.page_of(order, "trials_page", "trials", rows=ui.TRIALS_PER_PAGE)
    rows = []
    for row in order:
        o = outlooks[row.protocol_number]
        rows.append(
            {
                "trial": ui.link(ctx.link("enrollment", trial=row.protocol_number), row.protocol_number),
                "indication": ui.cell(row.indication),
                "enrolled": f"{row.n_enrolled:,} / {row.n_planned_subjects:,}",
                "plan": ui.bar(row.pct_of_plan_to_date) if row.planned_to_date else ui.cell(None),
                "p50": "complete" if o.is_complete else ui.cell(date_text(o.p50)),
                "planned": ui.cell(date_text(o.planned_lpi)),
                "ahead": ui.cell(o.days_ahead, "{:+,d} d"),
                "p": ui.cell(o.p_meet_plan, "{:.0%}"),
                "health": ui.chip(row.enrollment_health),
            }
        )
    ui.html_table(
        rows,
        {
            "trial": "Trial", "indication": "Indication", "enrolled": "Enrolled / target", "plan": "% of plan to date",
            "p50": "Last patient in (P50)", "planned": "Planned LPI", "ahead": "Ahead (+) / behind (−)",
            "p": "P(meet plan)", "health": "Enrollment",
        },
        numeric=("enrolled", "ahead", "p"),
        nowrap=("trial", "plan", "p50", "planned", "health"),
    )
    st.caption(
        "P50: the median forecast date of the last patient in (Poisson-Gamma model, see Methods). "
        "P(meet plan): the probability that the last patient is in by the planned LPI (the LPI milestone's baseline)."
    )
    forecasting = [
        {"protocol_number": p, "p10": o.forecast.completion[0.1], "p50": o.p50, "p90": o.forecast.completion[0.9],
         "planned_lpi": o.planned_lpi,
         "health": metrics.probability_health(o.p_meet_plan, green=settings.probability_green, amber=settings.probability_amber)}
        for p, o in ((row.protocol_number, outlooks[row.protocol_number]) for row in order)
        if o.p50 is not None and o.forecast.completion.get(0.1) and o.forecast.completion.get(0.9) and o.planned_lpi is not None
    ]
    if forecasting:
        st.plotly_chart(charts.lpi_forecasts(pd.DataFrame(forecasting)), width="stretch")
        if len(order) < len(trials):
            st.caption(f"The chart shows the trials of this page of the table, of {len(trials):,}.")
    table = trials.assign(
        p50_lpi=[outlooks[p].p50 for p in trials["protocol_number"]],
        planned_lpi=[outlooks[p].planned_lpi for p in trials["protocol_number"]],
        p_meet_plan=[outlooks[p].p_meet_plan for p in trials["protocol_number"]],
    )[["protocol_number", "indication", "n_enrolled", "n_planned_subjects", "planned_to_date", "pct_of_plan_to_date",
       "p50_lpi", "planned_lpi", "p_meet_plan"]]
    ui.download_table("⬇️ Download table (CSV)", table, f"enrollment_{scope.as_of}", sheet="Trials")
    st.stop()

# ---------------------------------------------------------------------- trial view
row = trials.iloc[0]
outlook = outlooks[row.protocol_number]
st.title(f"Enrollment · {row.protocol_number}")
st.caption(f"{row.trial_title} · phase {row.phase} · {row.therapeutic_area} · as of {scope.as_of:%d %b %Y} · changes since {scope.since:%d %b %Y}")

then_found = ui.composed(overview.trial_health, overview.then_scope(scope))
then_row = then_found.trials.iloc[0] if not then_found.trials.empty else None
then_outlook = then_found.outlooks.get(row.protocol_number)
since = scope.since

tiles = st.columns(5)
ui.tile(tiles[0], "Enrolled", f"{row.n_enrolled:,}", now=row.n_enrolled, then=None if then_row is None else then_row.n_enrolled,
        since=since, help="Subjects randomized/enrolled up to the as-of date; the change is those enrolled since the compare date.")
ui.tile(tiles[1], "% of plan to date", f"{row.pct_of_plan_to_date:.0%}" if row.planned_to_date else "—",
        now=row.pct_of_plan_to_date if row.planned_to_date else None,
        then=then_row.pct_of_plan_to_date if then_row is not None and then_row.planned_to_date else None,
        since=since, fmt=ui.points, help="Enrolled ÷ the baseline plan's cumulative enrollment on the as-of date.")
if outlook.is_complete:
    tiles[2].metric("Last patient in", "Complete", help="Enrollment has reached the target.")
else:
    # A later forecast than on the compare date is bad news: the delta is green when it moved earlier.
    moved = (None if outlook.p50 is None or then_outlook is None or then_outlook.p50 is None
             else (outlook.p50 - then_outlook.p50).days)
    ui.tile(tiles[2], "Last patient in (P50)", f"{outlook.p50:%d %b %y}" if outlook.p50 else "—", now=moved,
            then=0 if moved is not None else None, since=since, fmt="{:+,.0f} days", better="down",
            help="The median forecast date on which enrollment reaches the target; the change is how far it moved since the compare date.")
ui.tile(tiles[3], "P(meet planned LPI)", ui.plain(outlook.p_meet_plan, "{:.0%}"), now=outlook.p_meet_plan,
        then=None if then_outlook is None else then_outlook.p_meet_plan, since=since, fmt=ui.points,
        help="Share of forecast outcomes in which the last patient is in by the planned LPI (the LPI milestone's baseline).")
tiles[4].metric(
    "Extra sites needed", "—" if outlook.is_complete or outlook.p50 is None or outlook.planned_lpi is None
    or outlook.planned_lpi <= scope.as_of
    else (f"{outlook.sites_needed}" if outlook.sites_needed is not None else "none suffices"),
    help=f"Additional sites, opening now at rates like the current ones, that would bring P(meet plan) to {settings.probability_green:.0%}.",
)
context = [f"{row.n_enrolled:,} of {row.n_planned_subjects:,} target ({row.pct_to_target:.0%})"]
if row.planned_to_date:
    context.append(f"plan {row.planned_to_date:,.0f} by now")
if outlook.planned_lpi is not None:
    context.append(f"planned LPI {date_text(outlook.planned_lpi)}")
if not outlook.is_complete and outlook.days_ahead is not None:
    context.append(f"P50 {abs(outlook.days_ahead):,d} days {'ahead of' if outlook.days_ahead >= 0 else 'behind'} plan")
st.caption(" · ".join(context))
if outlook.forecast is not None:
    st.caption(f"Forecast: {outlook.forecast.note}")

with st.spinner("Drawing the curves…"):
    actual = ui.cached(enrollment.enrolled_by_month, scope)
    plan = ui.cached(enrollment.plan_by_month, scope)
completion = outlook.forecast.completion if outlook.forecast is not None else None
st.plotly_chart(
    charts.enrollment_curve(
        actual, plan, as_of=scope.as_of, n_enrolled=int(row.n_enrolled), target=int(row.n_planned_subjects),
        completion=completion, planned_lpi=outlook.planned_lpi, fan_start=outlook.first_opening,
    ),
    width="stretch",
)

left, right = st.columns(2)
funnel = ui.cached(enrollment.funnel, scope)
with left:
    if funnel.empty or int(funnel.iloc[0].n_screened) == 0:
        st.info("No subject has been screened by this date.")
    else:
        f = funnel.iloc[0]
        st.plotly_chart(charts.screening_funnel(f), width="stretch")
        failure = metrics.ratio(f.n_screen_failed, f.n_outcome_known)
        dropout = metrics.ratio(f.n_discontinued, f.n_enrolled)
        st.caption(
            f"Screen-failure rate {ui.plain(failure, '{:.0%}')} (screen failures ÷ screened subjects with a known outcome); "
            f"dropout rate {ui.plain(dropout, '{:.0%}')} (discontinued ÷ enrolled)."
        )
with right:
    countries = ui.cached(site_queries.by_country, scope).sort_values("n_enrolled", ascending=False)
    countries["rate"] = [metrics.rate_per_site_month(e, d) for e, d in zip(countries["n_enrolled"], countries["days_open"])]
    countries["rate"] = countries["rate"].astype("float64")
    st.plotly_chart(charts.by_country(countries), width="stretch")

st.subheader("Countries")
st.dataframe(
    countries[["country_name", "n_sites_activated", "n_enrolled", "n_planned_subjects", "rate"]],
    column_config={
        "country_name": "Country",
        "n_sites_activated": st.column_config.NumberColumn("Sites activated"),
        "n_enrolled": st.column_config.NumberColumn("Enrolled"),
        "n_planned_subjects": st.column_config.NumberColumn("Site targets"),
        "rate": st.column_config.NumberColumn("Rate per site-month", format="%.2f", help="Enrolled ÷ site-months open"),
    },
    hide_index=True,
    width="stretch",
)

st.subheader("Site activation")
left, right = st.columns(2)
activation = ui.cached(enrollment.activation_by_month, scope)
with left:
    st.plotly_chart(charts.activation_curve(activation, as_of=scope.as_of), width="stretch")
    checks = metrics.on_time_activation(
        [None if d is None else d.date() for d in sites["planned_activation_date"].dropna()],
        [d.date() for d in sites["activated_date"].dropna()],
        int(row.n_planned_sites),
        scope.as_of,
    )
    if checks:
        st.caption(
            "On-time activation (activated ÷ planned, on the date the plan reached each share): "
            + " · ".join(f"{c.share:.0%} of sites ({c.plan_date:%d %b %Y}): {c.n_activated}/{c.n_planned} = {c.on_time:.0%}" for c in checks)
        )
    else:
        st.caption("The activation plan has not yet reached 25 % of its sites.")
with right:
    st.plotly_chart(charts.cycle_times(sites), width="stretch")

non_enrolling = sites[
    [metrics.is_non_enrolling(d, e, min_days=settings.non_enrolling_days) for d, e in zip(sites["days_open"], sites["n_enrolled"])]
]
active = int((sites["site_status"] == "active").sum())
st.subheader(f"Non-enrolling sites: {len(non_enrolling)} of {active} active")
st.caption(
    f"Active for at least {settings.non_enrolling_days} days with nobody enrolled. "
    "Industry benchmark: about one site in three never enrolls a patient."
)
if not non_enrolling.empty:
    st.dataframe(
        non_enrolling[["site_number", "site_name", "country_name", "activated_date", "days_open", "n_screened"]],
        column_config={
            "site_number": "Site", "site_name": "Institution", "country_name": "Country",
            "activated_date": st.column_config.DateColumn("Activated", format="YYYY-MM-DD"),
            "days_open": st.column_config.NumberColumn("Days open", format="%d"),
            "n_screened": st.column_config.NumberColumn("Screened"),
        },
        hide_index=True,
        width="stretch",
    )
ui.download_table("⬇️ Download sites (CSV)", sites, f"enrollment_sites_{row.protocol_number}_{scope.as_of}", sheet="Sites")
