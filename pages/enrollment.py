"""Enrollment: subjects in against plan, where they come from, site activation, and when the last patient will be in."""

import pandas as pd
import streamlit as st

from dashboard import charts, metrics, registry, ui
from dashboard.settings import get_settings
from queries import enrollment, overview, snapshots
from queries import sites as site_queries

ctx = ui.context()
scope = ctx.scope
settings = get_settings()

EXPORTED = (
    "enrolled",
    "enrollment_target",
    "pct_to_target",
    "pct_of_plan_to_date",
    "p_meet_lpi_plan",
    "lpi_model",
    "lpi_model_p10",
    "lpi_model_p90",
    "lpi_planned",
    "lpi_cro",
    "lpi_gap",
    "sites_non_enrolling",
    "enrollment_rate_change",
)

with st.spinner("Loading enrollment…"):
    now = ui.basis(overview.view_basis, scope)
    trials, sites, outlooks = now.trials, now.sites, now.outlooks


if scope.trial is None:
    # ------------------------------------------------------------------ portfolio view
    st.title("Enrollment")
    st.caption(f"Every trial in view · as of {scope.as_of:%d %b %Y} · riskiest first")
    if trials.empty:
        st.info("No trials match these filters.")
        ui.end_page()
    # The tiles' changes need no forecast of the compare date: the portfolio view forecasts each trial once.
    then = ui.basis(overview.view_basis, overview.then_scope(scope), forecast=False)
    for column, key in zip(
        st.columns(5), ("enrolled", "pct_to_target", "pct_of_plan_to_date", "sites_active", "sites_non_enrolling")
    ):
        ui.figure(column, registry.evaluate(key, now, then), scope.since)

    def value(protocol: str, key: str) -> registry.Value:
        """A trial's figure (the registry keeps it once worked out): ordering reads one figure of every trial, the
        table those of one page of trials, the CSV all of them when it is asked for."""
        return registry.evaluate(key, now.of_trial(protocol))

    order = sorted(
        now.protocols,
        key=lambda p: (outlooks[p].is_complete, value(p, "p_meet_lpi_plan").value or 0, p),
    )
    # A large portfolio is read a page at a time (the riskiest first); the chart below shows the same trials.
    shown = ui.page_of(order, "trials_page", "trials", rows=ui.TRIALS_PER_PAGE, in_url=True)
    indication = trials.set_index("protocol_number")["indication"]
    rows = []
    for p in shown:
        v = {
            k: value(p, k)
            for k in (
                "enrolled",
                "enrollment_target",
                "pct_of_plan_to_date",
                "lpi_model",
                "lpi_cro",
                "lpi_planned",
                "p_meet_lpi_plan",
                "enrollment_health",
            )
        }
        rows.append(
            {
                "trial": ui.link(ctx.link("enrollment", trial=p), p),
                "indication": ui.cell(indication[p]),
                "enrolled": ui.markup(
                    "{} / {}", ui.cell(v["enrolled"].display), ui.cell(v["enrollment_target"].display)
                ),
                "plan": ui.bar(v["pct_of_plan_to_date"].value)
                if v["pct_of_plan_to_date"].value is not None
                else ui.cell(None),
                "p50": ui.cell(v["lpi_model"].display),
                "cro": ui.cell(v["lpi_cro"].display),
                "planned": ui.cell(v["lpi_planned"].display),
                "p": ui.cell(v["p_meet_lpi_plan"].display),
                "health": ui.chip(v["enrollment_health"].health),
            }
        )
    ui.html_table(
        rows,
        {
            "trial": "Trial",
            "indication": "Indication",
            "enrolled": "Enrolled / target",
            "plan": "% of plan to date",
            "p50": "Last patient in (model P50)",
            "cro": "Last patient in (CRO forecast)",
            "planned": "Planned LPI",
            "p": registry.FIGURES["p_meet_lpi_plan"].label,
            "health": "Enrollment",
        },
        numeric=("enrolled", "p"),
        nowrap=("trial", "plan", "p50", "planned", "health"),
    )
    st.caption(
        f"{registry.FIGURES['lpi_model'].definition_text(settings)} {registry.FIGURES['lpi_cro'].definition_text(settings)} "
        f"{registry.FIGURES['p_meet_lpi_plan'].label}: {registry.FIGURES['p_meet_lpi_plan'].definition_text(settings)}"
    )
    forecasting = [
        {
            "protocol_number": p,
            "p10": value(p, "lpi_model_p10").value,
            "p50": value(p, "lpi_model").value,
            "p90": value(p, "lpi_model_p90").value,
            "planned_lpi": value(p, "lpi_planned").value,
            "health": value(p, "p_meet_lpi_plan").health,
        }
        for p in shown
        if all(value(p, k).value is not None for k in ("lpi_model_p10", "lpi_model", "lpi_model_p90", "lpi_planned"))
        and not outlooks[p].is_complete
    ]
    if forecasting:
        st.plotly_chart(charts.lpi_forecasts(pd.DataFrame(forecasting)), width="stretch")
        if len(shown) < len(order):
            st.caption(f"The chart shows the trials of this page of the table, of {len(trials):,}.")
    ui.download_table(  # every trial's every figure: worked out when the file is asked for, not at every cold run
        ui.download_label("trials", len(order), len(shown)),
        lambda: pd.DataFrame(
            [
                {
                    "protocol_number": p,
                    "indication": indication[p],
                    **{k: value(p, k).value for k in EXPORTED},
                    "enrollment_health": value(p, "enrollment_health").health,
                }
                for p in order
            ]
        ),
        f"enrollment_{scope.as_of}",
        sheet="Trials",
    )
    ui.end_page()

# ---------------------------------------------------------------------- trial view
row = trials.iloc[0]
outlook = outlooks[row.protocol_number]
st.title(f"Enrollment · {ui.md(row.protocol_number)}")
st.caption(
    f"{ui.md(row.trial_title)} · phase {ui.md(row.phase)} · {ui.md(row.therapeutic_area)} · as of {scope.as_of:%d %b %Y} · "
    f"changes since {scope.since:%d %b %Y}"
)

then = ui.basis(overview.view_basis, overview.then_scope(scope))
since = scope.since


def figure(key: str) -> registry.Value:
    return registry.evaluate(key, now, then)


for column, key in zip(st.columns(4), ("enrolled", "pct_of_plan_to_date", "p_meet_lpi_plan", "sites_needed")):
    ui.figure(column, figure(key), since, instead="enrollment complete" if outlook.is_complete else None)
ui.lpi_tiles(figure, since, complete=outlook.is_complete)
context = [
    f"{figure('enrolled').display} of {figure('enrollment_target').display} target ({figure('pct_to_target').display})"
]
if row.planned_to_date:
    context.append(f"plan {row.planned_to_date:,.0f} by now")
context.append(f"planned LPI {figure('lpi_planned').display}")
if not outlook.is_complete:
    context.append(f"model P10–P90 {figure('lpi_model_p10').display} – {figure('lpi_model_p90').display}")
st.caption(
    " · ".join(ui.md(c) for c in context)
    + ". The enrollment colour follows the model (the chance of LPI by plan); the schedule colour follows the "
    "CRO's forecast of the LPI milestone."
)
if outlook.forecast is not None:
    st.caption(f"Forecast: {outlook.forecast.note}")
slowing = figure("enrollment_rate_change")
if slowing.health == "amber":
    change = outlook.rate_change
    st.warning(
        f"**Enrollment is slowing.** The enrollment rate of the last 3 months is {-slowing.value:.0%} below the first 3 "
        f"({change.last_rate:.2f} against {change.first_rate:.2f} per open site-month). The forecast assumes a slowdown "
        "only as far as each site’s own history shows one (the forecast note above says what it found): if the "
        "slowdown goes on, the last patient comes later than it says. Methods: “The forecast when sites tire”."
    )

with st.spinner("Drawing the curves…"):
    actual = ui.cached(enrollment.enrolled_by_month, scope)
    plan = ui.cached(enrollment.plan_by_month, scope)
completion = outlook.forecast.completion if outlook.forecast is not None else None
st.plotly_chart(
    charts.enrollment_curve(
        actual,
        plan,
        as_of=scope.as_of,
        n_enrolled=int(row.n_enrolled),
        target=int(row.n_planned_subjects),
        completion=completion,
        planned_lpi=outlook.planned_lpi,
        fan_start=outlook.first_opening,
        fan=outlook.forecast.fan_table() if outlook.forecast is not None and outlook.forecast.has_forecast else None,
    ),
    width="stretch",
)

st.subheader(
    "Forecast history",
    help="The forecast as it was published on each date (python -m dashboard.snapshot, run "
    "with each load), not recomputed with today's data: a line that keeps rising is a forecast drifting late.",
)
history = ui.cached(snapshots.forecast_history, scope)
dated = history.dropna(subset=["lpi_p50_date"])
if len(dated) >= 2:
    st.plotly_chart(charts.forecast_history(history, planned_lpi=outlook.planned_lpi), width="stretch")
    first, last = dated.iloc[0], dated.iloc[-1]
    moved = (last["lpi_p50_date"] - first["lpi_p50_date"]).days
    st.caption(
        f"{len(dated)} published forecasts from {first['as_of_date']:%d %b %Y} to {last['as_of_date']:%d %b %Y}: the median "
        f"moved {'no days' if moved == 0 else f'{abs(moved)} day' + ('s' if abs(moved) != 1 else '') + (' later' if moved > 0 else ' earlier')}."
    )
elif history.empty:
    st.info(
        "No forecast of this trial has been published up to this date: the history starts with the first snapshot "
        "a load publishes."
    )
elif dated.empty:
    st.info("Enrollment was complete on every published date: there is no forecast to follow.")
else:
    st.info(
        f"One forecast published so far ({dated.iloc[0]['as_of_date']:%d %b %Y}): the history draws from the second."
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
    countries["rate"] = [
        metrics.rate_per_site_month(e, d) for e, d in zip(countries["n_enrolled"], countries["days_open"])
    ]
    countries["rate"] = countries["rate"].astype("float64")
    st.plotly_chart(charts.by_country(countries), width="stretch")

st.subheader("Countries")
ui.dataframe(
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
ui.download_table(
    "⬇️ Download countries (CSV)",
    countries,
    f"enrollment_countries_{row.protocol_number}_{scope.as_of}",
    sheet="Countries",
)

st.subheader("Site activation")
left, right = st.columns(2)
activation = ui.cached(enrollment.activation_by_month, scope)
has_plan = bool(sites["planned_activation_date"].notna().any())
with left:
    if activation.empty or (not has_plan and activation["n_activated"].fillna(0).sum() == 0):
        st.info("No site has been activated and no activation plan is loaded for this trial.", icon="ℹ️")
    else:
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
            + " · ".join(
                f"{c.share:.0%} of sites ({c.plan_date:%d %b %Y}): {c.n_activated}/{c.n_planned} = {c.on_time:.0%}"
                for c in checks
            )
        )
    elif not has_plan:
        st.caption(
            "No activation plan is loaded for this trial (the sites' planned activation dates): the chart shows "
            "the activations only, and on-time activation cannot be measured."
        )
    else:
        st.caption("The activation plan has not yet reached 25 % of its sites.")
with right:
    st.plotly_chart(charts.cycle_times(sites), width="stretch")

non_enrolling = registry.non_enrolling_sites(now)
st.subheader(
    f"Non-enrolling sites: {ui.md(figure('sites_non_enrolling').display)} of {ui.md(figure('sites_active').display)} active"
)
st.caption(registry.FIGURES["sites_non_enrolling"].definition_text(settings))
if not non_enrolling.empty:
    ui.dataframe(
        non_enrolling[["site_number", "site_name", "country_name", "activated_date", "days_open", "n_screened"]],
        column_config={
            "site_number": "Site",
            "site_name": "Institution",
            "country_name": "Country",
            "activated_date": st.column_config.DateColumn("Activated", format="DD MMM YYYY"),
            "days_open": st.column_config.NumberColumn("Days open", format="%d"),
            "n_screened": st.column_config.NumberColumn("Screened"),
        },
        hide_index=True,
        width="stretch",
    )
    ui.download_table(
        "⬇️ Download non-enrolling sites (CSV)",
        non_enrolling,
        f"enrollment_non_enrolling_{row.protocol_number}_{scope.as_of}",
        sheet="Non-enrolling sites",
    )
ui.download_table(
    "⬇️ Download all sites (CSV)", sites, f"enrollment_sites_{row.protocol_number}_{scope.as_of}", sheet="Sites"
)
