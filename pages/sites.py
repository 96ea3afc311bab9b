"""Sites: site performance (enrollment, screen failures, data entry, queries, deviations), flagged against peers of the same trial."""

import pandas as pd
import streamlit as st

from dashboard import charts, health, metrics, registry, ui
from dashboard.formats import day, natural_key
from dashboard.links import INDICATORS
from dashboard.metrics import SITE_INDICATORS
from dashboard.review import Target
from dashboard.settings import get_settings
from queries import overview, review, sites

ctx = ui.context()
scope = ctx.scope
settings = get_settings()
WORST_SITES = 30  # rows of the portfolio's worst sites; the CSV holds every site
BENCHMARK_NON_ENROLLING = 1 / 3  # Medidata, 2,000+ studies: about one site in three never enrolls (domain.md §2)

with st.spinner("Loading sites…"):
    # Flagged once per scope and cached: every site of the trial(s) against its peers, whichever site is in view.
    now_flagged = ui.composed(overview.flagged_sites, scope.replace(site=None))
    # The headline figures need no forecast: the sites page does not pay for forecasting every trial.
    now = ui.basis(overview.view_basis, scope.replace(site=None), forecast=False, flags=True)
    then = ui.basis(overview.view_basis, overview.then_scope(scope).replace(site=None), forecast=False, flags=True)


def min_denominator(key: str) -> float:
    return getattr(settings, SITE_INDICATORS[key].min_setting)



FORMAT = {"enrollment_rate": "{:.2f}", "screen_failure": "{:.0f}%", "dropout": "{:.0f}%", "treatment_discontinuation": "{:.0f}%",
          "ae_rate": "{:.1f}", "sae_rate": "{:.1f}", "deviation_rate": "{:.1f}", "minor_deviation_rate": "{:.1f}",
          "abnormal_lab_rate": "{:.1f}%", "entry_lag": "{:.0f}%", "query_aging": "{:.0f}%", "outstanding_query_rate": "{:.0f}%",
          "query_rate": "{:.1f}", "data_change_rate": "{:.1f}%"}
assert set(FORMAT) == set(INDICATORS), "every site indicator has a format"

# The per-site table's columns, by what a reviewer looks at together (each group fits a laptop screen).
SITE_COLUMN_GROUPS = {
    "Enrollment": ["n_enrolled", "pct_of_target", "enrollment_rate"],
    "Screening and retention": ["n_screened", "screen_failure", "dropout", "treatment_discontinuation"],
    "Safety": ["n_ae", "ae_rate", "n_sae", "sae_rate", "sae_on_time", "abnormal_lab_rate"],
    "Data entry": ["n_visits", "entry_lag", "mean_entry_lag_days", "data_change_rate"],
    "Queries": ["n_queries", "query_rate", "query_aging", "outstanding_query_rate", "median_days_to_close"],
    "Deviations": ["n_important_deviations", "deviation_rate", "minor_deviation_rate"],
    "Start-up": ["activated_date", "days_selected_to_activated", "days_activated_to_first_subject"],
}


def few_sites_note(n_eligible: int, what: str) -> str | None:
    """A plain sentence when a trial has too few eligible sites for amber or red to be possible (|z| ≤ √N)."""
    if n_eligible >= 10:
        return None
    reachable = metrics.max_abs_z(n_eligible)
    cannot = "amber or red" if n_eligible < 5 else "red"
    return (
        f"Only {n_eligible} site{'s' if n_eligible != 1 else ''} of this trial {'have' if n_eligible != 1 else 'has'} enough {what} "
        f"to be compared: with N sites no |z| can exceed √N = {reachable:.2f}, so no site can be {cannot} here. "
        "This is not the same as every site being fine."
    )


flagged, baselines = now_flagged.sites, now_flagged.baselines
PORTFOLIO_TILES = ("sites_active", "sites_non_enrolling", "sae_on_time", "sites_red_flag", "sites_amber_flag", "sites_safety_flag")



flag_note = (
    f"Flags compare each site with the other sites of its trial (over-dispersion-adjusted z-score, Zink et al. 2018): "
    f"|z| > {settings.flag_amber_z:g} on the bad side is amber, > {settings.flag_red_z:g} red; AE and SAE rates are flagged "
    f"low as well as high (low: possible under-reporting). Sites below a minimum "
    f"({settings.flag_min_subjects} subjects, {settings.flag_min_days} subject- or site-days, {settings.flag_min_visits} visits, "
    f"{settings.flag_min_queries} queries) are not flagged and not used as peers, and a flag needs at least "
    f"{settings.flag_min_events:g} events observed or expected at the site's size. See Methods."
)


def unit_of(key: str) -> str:
    """An indicator's unit for the trial in view (the query rate's denominator depends on the trial's sources)."""
    if key == "query_rate":
        return f"per 100 {flagged['query_basis'].iloc[0]}"
    if key == "entry_lag":
        return f"% of {flagged['entry_basis'].iloc[0]} entered > 10 days"
    return SITE_INDICATORS[key].unit


def denominator_of(key: str) -> str:
    """What an indicator's denominator counts for the trial in view."""
    basis = SITE_INDICATORS[key].basis
    return flagged[basis].iloc[0].capitalize() if basis else SITE_INDICATORS[key].denominator_label


def sae_on_time(share) -> str:
    """A site's share of SAEs reported on time with its colour word, by the portfolio figure's thresholds."""
    if pd.isna(share):
        return "—"
    colour = metrics.index_health(share, green=settings.sae_on_time_green, amber=settings.sae_on_time_amber)
    return f"{share:.0%} ({metrics.HEALTH_WORD[colour].lower()})"


def count(value) -> str:
    return "no data" if value is None or pd.isna(value) else f"{int(value):,}"


def site_summary(r) -> str:
    """The drill-down's counts in sentences: queries, deviations, data entry and safety (Markdown)."""
    close = "—" if pd.isna(r["median_days_to_close"]) else f"{r['median_days_to_close']:.1f}"
    undated = int(r["n_deviations_undated"])
    lag = "—" if pd.isna(r["mean_entry_lag_days"]) else f"{r['mean_entry_lag_days']:.1f} days"
    lines = [
        f"**Queries:** {int(r['n_queries']):,} raised, {int(r['n_queries_open']):,} outstanding today "
        f"({int(r['n_queries_answered']):,} answered, awaiting closure), {int(r['n_queries_open_30d']):,} outstanding more than "
        f"30 days today, {int(r['n_queries_outstanding_30d']):,} ever · median days to close {close}",
        f"**Deviations:** {int(r['n_deviations']):,}, of which {int(r['n_important_deviations']):,} important"
        + (f"; {undated:,} undated, counted from the day identified (else loaded)" if undated else ""),
        f"**Data entry:** {count(r['n_entry_late'])} of {count(r['n_entry_units'])} {r['entry_basis']} late (> 10 days) · "
        f"mean visit entry lag {lag}",
        "**Safety:** no adverse-event data loaded for this trial" if pd.isna(r["n_ae"]) else
        f"**Safety:** {count(r['n_ae'])} adverse events, {count(r['n_sae'])} serious · **SAEs reported on time** "
        f"(by the day after the site knew): {sae_on_time(r['sae_on_time'])} — {count(r['n_sae_on_time'])} of "
        f"{count(r['n_sae_due'])} due",
    ]
    return "  \n".join(lines)


if scope.trial is None:
    # ------------------------------------------------------------------ portfolio view
    st.title("Sites")
    st.caption(f"Every trial in view · as of {scope.as_of:%d %b %Y} · changes since {scope.since:%d %b %Y} · the sites with the most red flags first")
    if flagged.empty:
        st.info("No sites match these filters.")
        st.stop()
    for row in (PORTFOLIO_TILES[:3], PORTFOLIO_TILES[3:]):
        for column, key in zip(st.columns(3), row):
            ui.figure(column, registry.evaluate(key, now, then), scope.since, note=flag_note if key.endswith("_flag") else None)
    worst = registry.worst_sites(now)
    st.subheader("Worst sites across trials")
    if worst.empty:
        st.info("No site is flagged amber or red, and no active site is non-enrolling.")
    else:
        rows = []
        for _, r in worst.head(WORST_SITES).iterrows():
            rows.append({
                "site": ui.link(ctx.link("sites", trial=r["protocol_number"], site=r["site_number"]), r["site_number"]),
                "trial": ui.cell(r["protocol_number"]),
                "name": ui.cell(r["site_name"]),
                "country": ui.cell(r["country_name"]),
                # Counted as listed: a non-enrolling site's red problem counts with the red flags.
                "red": f"{sum(c == 'red' for c, _ in r['problems'])}", "amber": f"{sum(c == 'amber' for c, _ in r['problems'])}",
                "flags": ui.joined(", ", (ui.markup("{} {}", ui.chip(colour), text) for colour, text in r["problems"])),
            })
        ui.html_table(
            rows,
            {"site": "Site", "trial": "Trial", "name": "Institution", "country": "Country", "red": "Red flags",
             "amber": "Amber flags", "flags": "Flagged on"},
            numeric=("red", "amber"), nowrap=("site", "trial"),
        )
        st.caption(registry.WORST_SITES_TEXT)
    st.caption(flag_note)
    ui.download_table(ui.download_label("sites", len(flagged), min(len(worst), WORST_SITES)), flagged, f"sites_{scope.as_of}",
                      sheet="Sites")
    st.stop()

# ---------------------------------------------------------------------- trial view
st.title(f"Sites · {ui.md(scope.trial)}")
st.caption(f"Trial {ui.md(scope.trial)} · as of {scope.as_of:%d %b %Y} · changes since {scope.since:%d %b %Y}")
if flagged.empty:
    st.info(f"Trial {ui.md(scope.trial)} has no sites yet.")
    st.stop()

# Site numbers in the order people count them (9, 10, 100), in the table, the drill-down links and the downloads.
flagged = flagged.sort_values("site_number", key=natural_key, kind="stable").reset_index(drop=True)
site_numbers = list(flagged["site_number"])
chosen_site = scope.site
if chosen_site is not None and chosen_site not in site_numbers:
    st.warning(f"Site '{ui.md(chosen_site)}' was not found in trial {ui.md(scope.trial)}; showing all its sites.", icon="⚠️")
    chosen_site = None

shown = {key: registry.evaluate(key, now, then) for key in PORTFOLIO_TILES}
for column, (key, value) in zip([*st.columns(3), *st.columns(3)], shown.items()):
    ui.figure(column, value, scope.since, note=flag_note if key.endswith("_flag") else None)
share = metrics.ratio(shown["sites_non_enrolling"].value, shown["sites_active"].value)
entry_basis, query_basis = flagged["entry_basis"].iloc[0], flagged["query_basis"].iloc[0]
missing = [name for name, columns in (("adverse events", "n_ae"), ("eCRF pages", "n_pages"), ("data-point counts", "n_data_points"),
                                      ("lab results", "n_lab_results")) if flagged[columns].isna().all()]
st.caption(f"{ui.md(shown['sites_active'].display)} of {len(flagged):,} sites active · non-enrolling: "
           f"{'—' if share is None else format(share, '.0%')} of active (industry benchmark: about 1 in 3). "
           f"Late data entry counts **{entry_basis}** and the query rate is per 100 **{query_basis}** for this trial."
           + (f" Not loaded for this trial: {', '.join(missing)} — their indicators show no data (—), not zero." if missing else ""))

medians = {key: metrics.indicator_values(flagged, key).median() for key in INDICATORS}

if chosen_site is not None:
    # ------------------------------------------------------------------ site drill-down
    r = flagged[flagged["site_number"] == chosen_site].iloc[0]
    st.subheader(f"Site {ui.md(r['site_number'])} · {ui.md(r['site_name'])}")
    st.caption(f"{ui.md(r['country_name'])} · {ui.md(r['site_status'])} · activated {day(r['activated_date'])} · "
               f"{int(r['n_enrolled'])} enrolled of {int(r['n_planned_subjects'])} planned")
    st.html(ui.markup('<div style="font-weight:600">{}</div>', ui.link(ctx.link("sites", site=None), f"← All sites of {scope.trial}", style=True)))
    rows, raw = [], []
    for key in INDICATORS:
        ind = SITE_INDICATORS[key]
        median = medians[key]
        raw.append({
            "indicator": ind.label, "unit": ind.unit,
            "site_value": metrics.indicator_values(flagged[flagged["site_number"] == chosen_site], key).iloc[0], "trial_median": median,
            "numerator": r[ind.numerator], "denominator": r[ind.denominator], "z": r[f"z_{key}"], "flag": r[f"flag_{key}"],
            "note": health.flag_reason(r, key, settings),
        })
        rows.append({
            "indicator": ui.cell(f"{ind.label} ({unit_of(key)})"),
            "site": ui.cell(metrics.indicator_values(flagged[flagged["site_number"] == chosen_site], key).iloc[0], FORMAT[key]),
            "median": ui.cell(None if pd.isna(median) else median, FORMAT[key]),
            "of": ui.cell(None if pd.isna(r[ind.denominator]) else f"{r[ind.numerator]:,.0f} ÷ {r[ind.denominator]:,.0f}"),
            "z": ui.cell(None if pd.isna(r[f"z_{key}"]) else r[f"z_{key}"], "{:+.2f}"),
            "flag": ui.chip("grey", "Withheld") if r[f"withheld_{key}"] else ui.chip(r[f"flag_{key}"]),
            "note": ui.cell(raw[-1]["note"]),
        })
    ui.html_table(rows, {"indicator": "Indicator", "site": "This site", "median": "Trial median", "of": "Numerator ÷ denominator",
                         "z": "z", "flag": "Flag", "note": "Why"}, numeric=("site", "median", "of", "z"), nowrap=("flag",))
    ui.download_table(ui.download_label(f"site {r['site_number']}'s indicators", len(raw)), pd.DataFrame(raw),
                      f"site_{scope.trial}_{r['site_number']}_{scope.as_of}", sheet="Site indicators")
    st.markdown(site_summary(r))
    st.markdown(f"**Actions and notes on site {ui.md(chosen_site)}**")
    ui.actions_section(ctx, ui.cached(review.targets, scope), list(ui.cached(review.owners, scope)["user_email"]),
                       about=Target(scope.trial, site_number=chosen_site))
    st.divider()

# ---------------------------------------------------------------------- funnel plot
st.subheader("Sites against their peers")
# People read the indicator's name; the link keeps its code (indicator=query_aging).
key = ui.url_selectbox(
    "Indicator", list(INDICATORS), "indicator", {k: SITE_INDICATORS[k].label for k in INDICATORS}, ctx.view.indicator,
    help="Methods defines each indicator, its unit and its minimum denominator.",
)
ind = SITE_INDICATORS[key]
baseline = baselines[scope.trial, key]
note = few_sites_note(baseline.n_eligible, denominator_of(key).lower())
if note:
    st.info(note, icon="ℹ️")
points = flagged[flagged[ind.denominator].fillna(0) > 0]
if baseline.pooled is None or points.empty:
    st.caption(f"No site has enough {denominator_of(key).lower()} to draw the funnel plot.")
else:
    top = float(points[ind.denominator].max())
    steps = [max(min_denominator(key), 1) + (top - max(min_denominator(key), 1)) * i / 60 for i in range(61)]
    limits = {k: metrics.funnel_limits(baseline, steps, k, kind=ind.kind) for k in (2, 3)}
    curve = pd.DataFrame({
        "denominator": steps,
        **{f"lower{k}": [lo * ind.scale for lo, _ in limits[k]] for k in (2, 3)},
        **{f"upper{k}": [hi * ind.scale for _, hi in limits[k]] for k in (2, 3)},
    })
    marks = pd.DataFrame({
        "site_label": [f"Site {s} · {n}" for s, n in zip(points["site_number"], points["site_name"])],
        "denominator": points[ind.denominator].astype(float),
        "value": metrics.indicator_values(points, key).to_numpy(),
        "flag": points[f"flag_{key}"],
        "z": points[f"z_{key}"],
    })
    st.plotly_chart(
        charts.funnel_plot(marks, curve, pooled=baseline.pooled * ind.scale, title=f"{ind.label} against {denominator_of(key).lower()}",
                           x_title=denominator_of(key), y_title=f"{ind.label} ({unit_of(key)})", y_format=".2f"),
        width="stretch",
    )
    st.caption(
        f"Pooled over the {baseline.n_eligible} eligible sites: {baseline.pooled * ind.scale:.2f} {ind.unit}; over-dispersion φ = "
        f"{baseline.phi:.2f}. Limits: pooled ± 2 and ± 3 × √(φ × variance at that denominator). Grey points are below the minimum."
    )

# ---------------------------------------------------------------------- site table
st.subheader(f"Sites of {ui.md(scope.trial)}")
table = pd.DataFrame({
    "site": [ctx.link("sites", site=n) for n in flagged["site_number"]],
    "site_name": flagged["site_name"],
    "country_code": flagged["country_code"],
    "site_status": flagged["site_status"],
    "activated_date": flagged["activated_date"],
    "days_selected_to_activated": flagged["days_selected_to_activated"],
    "days_activated_to_first_subject": flagged["days_activated_to_first_subject"],
    "n_enrolled": flagged["n_enrolled"].astype("float64"),
    "pct_of_target": [None if (f := metrics.ratio(e, p)) is None else f * 100 for e, p in zip(flagged["n_enrolled"], flagged["n_planned_subjects"])],
    **{key: metrics.indicator_values(flagged, key) for key in INDICATORS},
    "n_screened": flagged["n_screened"].astype("float64"),
    "n_visits": flagged["n_visits"].astype("float64"),
    "mean_entry_lag_days": flagged["mean_entry_lag_days"],
    "n_queries": flagged["n_queries"].astype("float64"),
    "median_days_to_close": flagged["median_days_to_close"],
    "n_important_deviations": flagged["n_important_deviations"].astype("float64"),
    "n_ae": flagged["n_ae"].astype("float64"),
    "n_sae": flagged["n_sae"].astype("float64"),
    "sae_on_time": flagged["sae_on_time"].astype("float64") * 100,
    "flags": [
        ", ".join(f"{metrics.HEALTH_ICON[colour]} {words}" for colour, words in registry.site_flags(r))
        for _, r in flagged.iterrows()
    ],
})
IDENTITY = ["site", "site_name", "country_code", "site_status", "flags"]
assert sorted(IDENTITY + [c for cs in SITE_COLUMN_GROUPS.values() for c in cs]) == sorted(table.columns), \
    "every column of the site table is in exactly one group"
column = st.column_config
# Thirty-odd indicators do not fit a page: the reader picks a group; the site, its flags and the CSV keep everything.
chosen_group = st.segmented_control(
    "Columns", list(SITE_COLUMN_GROUPS), default="Enrollment", key="site_columns",
    help="Which indicators the table shows beside each site and its flags. The CSV download holds every column.",
) or "Enrollment"
ui.dataframe(
    table,
    column_order=[*IDENTITY, *SITE_COLUMN_GROUPS[chosen_group]],
    column_config={
        "site": column.LinkColumn("Site", display_text=r"site=([^&]+)", pinned=True, width="small"),
        "site_name": column.TextColumn("Institution", width="medium"),
        "country_code": column.TextColumn("Country", width="small"),
        "site_status": column.TextColumn("Status", width="small"),
        "flags": column.TextColumn("Flags", width="medium", help="Indicators flagged amber (🟡) or red (🔴) against the trial's other sites."),
        "n_enrolled": column.NumberColumn("Enrolled", format="%d", width="small"),
        "pct_of_target": column.ProgressColumn("% of target", format="%.0f%%", min_value=0, max_value=100,
                                               help="Enrolled ÷ the site's planned subjects"),
        "enrollment_rate": column.NumberColumn("Per site-month", format="%.2f", help="Enrolled ÷ site-months open"),
        "n_screened": column.NumberColumn("Screened", format="%d"),
        "screen_failure": column.NumberColumn("Screen failure", format="%.0f%%", help="Screen-failed ÷ subjects with a known outcome"),
        "dropout": column.NumberColumn("Study discontinuation", format="%.0f%%", help="Left the study early ÷ enrolled"),
        "treatment_discontinuation": column.NumberColumn("Treatment discontinuation", format="%.0f%%",
                                                         help="Stopped study treatment early ÷ enrolled"),
        "n_ae": column.NumberColumn("AEs", format="%d", help="Adverse events the site knew of by the date; empty: no AE data"),
        "ae_rate": column.NumberColumn("AEs per 100 subject-months", format="%.1f",
                                       help="Flagged low as well as high: a site far below its peers may be under-reporting"),
        "n_sae": column.NumberColumn("SAEs", format="%d"),
        "sae_rate": column.NumberColumn("SAEs per 100 subject-months", format="%.1f"),
        "sae_on_time": column.NumberColumn("SAEs on time", format="%.0f%%",
                                           help="SAEs reported to the sponsor by the day after the site became aware ÷ SAEs due"),
        "abnormal_lab_rate": column.NumberColumn("Labs grade ≥ 3", format="%.1f%%", help="Lab results of grade 3 or more ÷ lab results"),
        "n_visits": column.NumberColumn("Visits", format="%d"),
        "entry_lag": column.NumberColumn(f"{entry_basis.capitalize()} entered > 10 d", format="%.0f%%",
                                         help=f"{entry_basis.capitalize()} entered more than 10 days after the visit, or still not "
                                              f"entered after 10 days, ÷ {entry_basis} of the visits done"),
        "mean_entry_lag_days": column.NumberColumn("Mean lag (d)", format="%.1f",
                                                   help="Days from visit to entry, each capped at 60, over the visits entered; empty when none is"),
        "n_queries": column.NumberColumn("Queries", format="%d"),
        "query_rate": column.NumberColumn(f"Queries {unit_of('query_rate')}", format="%.1f", help=f"Queries ÷ {query_basis} × 100"),
        "query_aging": column.NumberColumn("Outstanding > 30 d today", format="%.0f%%",
                                           help="Queries outstanding on the as-of date, raised more than 30 days before it, ÷ queries raised"),
        "outstanding_query_rate": column.NumberColumn("Ever outstanding > 30 d", format="%.0f%%",
                                                      help="Queries outstanding more than 30 days at any time ÷ queries raised"),
        "median_days_to_close": column.NumberColumn("Median days to close", format="%.1f"),
        "data_change_rate": column.NumberColumn("Data changed", format="%.1f%%", help="Data points changed after entry ÷ data points"),
        "n_important_deviations": column.NumberColumn("Important deviations", format="%d"),
        "deviation_rate": column.NumberColumn("Important deviations per 100 subject-months", format="%.1f",
                                              help="Important deviations ÷ subject-days on study"),
        "minor_deviation_rate": column.NumberColumn("Other deviations per 100 subject-months", format="%.1f",
                                                    help="Deviations not classed important ÷ subject-days on study"),
        "activated_date": column.DateColumn("Activated", format="DD MMM YYYY"),
        "days_selected_to_activated": column.NumberColumn("Selected → activated (d)", format="%d"),
        "days_activated_to_first_subject": column.NumberColumn("Activated → 1st subject (d)", format="%d"),
    },
    hide_index=True,
    width="stretch",
    height=min(38 + 35 * len(table), 560),
)
st.caption(flag_note + " An empty cell has no denominator yet (empty is not zero).")
ui.download_table("⬇️ Download sites (CSV)", flagged, f"sites_{scope.trial}_{scope.as_of}", sheet="Sites")

# ---------------------------------------------------------------------- countries
st.subheader("By country")
countries = ui.cached(sites.by_country, scope.replace(site=None))
countries = countries.assign(
    rate=[metrics.rate_per_site_month(e, d) for e, d in zip(countries["n_enrolled"], countries["days_open"])],
    pct_late=[metrics.ratio(n, d) for n, d in zip(countries["n_visits_late"], countries["n_visits"])],
    pct_old=[metrics.ratio(n, d) for n, d in zip(countries["n_queries_open_30d"], countries["n_queries"])],
)
left, right = st.columns([2, 3])
with left:
    st.plotly_chart(charts.sites_by_country(countries), width="stretch")
with right:
    ui.dataframe(
        countries[["country_name", "n_sites", "n_sites_activated", "n_enrolled", "n_planned_subjects", "rate", "pct_late", "pct_old",
                   "n_important_deviations"]].assign(pct_late=lambda d: d["pct_late"] * 100, pct_old=lambda d: d["pct_old"] * 100),
        column_config={
            "country_name": "Country",
            "n_sites": st.column_config.NumberColumn("Sites"),
            "n_sites_activated": st.column_config.NumberColumn("Activated"),
            "n_enrolled": st.column_config.ProgressColumn("Enrolled", format="%d", min_value=0,
                                                          max_value=int(countries["n_enrolled"].max() or 1)),
            "n_planned_subjects": st.column_config.NumberColumn("Site targets"),
            "rate": st.column_config.NumberColumn("Per site-month", format="%.2f", help="Enrolled ÷ site-months open"),
            "pct_late": st.column_config.NumberColumn("Entered > 10 d", format="%.0f%%"),
            "pct_old": st.column_config.NumberColumn("Queries open > 30 d", format="%.0f%%"),
            "n_important_deviations": st.column_config.NumberColumn("Important deviations"),
        },
        hide_index=True,
        width="stretch",
    )
    ui.download_table(ui.download_label("countries", len(countries)), countries, f"sites_countries_{scope.trial}_{scope.as_of}",
                      sheet="Countries")
