"""Sites: site performance (enrollment, screen failures, data entry, queries, deviations), flagged against peers of the same trial."""

import pandas as pd
import streamlit as st

from dashboard import charts, health, metrics, registry, ui
from dashboard.formats import day, natural_key
from dashboard.links import INDICATORS
from dashboard.metrics import SITE_INDICATORS
from dashboard.review import Target
from dashboard.settings import get_settings
from dashboard.ui import sites as site_ui
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


flagged, baselines = now_flagged.sites, now_flagged.baselines
flag_note = site_ui.flag_note(settings)
PORTFOLIO_TILES = (
    "sites_active",
    "sites_non_enrolling",
    "sae_on_time",
    "sites_red_flag",
    "sites_amber_flag",
    "sites_safety_flag",
)


if scope.trial is None:
    # ------------------------------------------------------------------ portfolio view
    st.title("Sites")
    st.caption(
        f"Every trial in view · as of {scope.as_of:%d %b %Y} · changes since {scope.since:%d %b %Y} · the sites with the most red flags first"
    )
    if flagged.empty:
        st.info("No sites match these filters.")
        ui.end_page()
    for row in (PORTFOLIO_TILES[:3], PORTFOLIO_TILES[3:]):
        for column, key in zip(st.columns(3), row):
            ui.figure(
                column,
                registry.evaluate(key, now, then),
                scope.since,
                note=flag_note if key.endswith("_flag") else None,
            )
    worst = registry.worst_sites(now)
    st.subheader("Worst sites across trials")
    if worst.empty:
        st.info("No site is flagged amber or red, and no active site is non-enrolling.")
    else:
        rows = []
        for _, r in worst.head(WORST_SITES).iterrows():
            rows.append(
                {
                    "site": ui.link(
                        ctx.link("sites", trial=r["protocol_number"], site=r["site_number"]), r["site_number"]
                    ),
                    "trial": ui.cell(r["protocol_number"]),
                    "name": ui.cell(r["site_name"]),
                    "country": ui.cell(r["country_name"]),
                    # Counted as listed: a non-enrolling site's red problem counts with the red flags.
                    "red": f"{sum(c == 'red' for c, _ in r['problems'])}",
                    "amber": f"{sum(c == 'amber' for c, _ in r['problems'])}",
                    "flags": ui.joined(
                        ", ", (ui.markup("{} {}", ui.chip(colour), text) for colour, text in r["problems"])
                    ),
                }
            )
        ui.html_table(
            rows,
            {
                "site": "Site",
                "trial": "Trial",
                "name": "Institution",
                "country": "Country",
                "red": "Red flags",
                "amber": "Amber flags",
                "flags": "Flagged on",
            },
            numeric=("red", "amber"),
            nowrap=("site", "trial"),
        )
        st.caption(registry.WORST_SITES_TEXT)
    st.caption(flag_note)
    ui.download_table(
        ui.download_label("sites", len(flagged), min(len(worst), WORST_SITES)),
        flagged,
        f"sites_{scope.as_of}",
        sheet="Sites",
    )
    ui.end_page()

# ---------------------------------------------------------------------- trial view
st.title(f"Sites · {ui.md(scope.trial)}")
st.caption(f"Trial {ui.md(scope.trial)} · as of {scope.as_of:%d %b %Y} · changes since {scope.since:%d %b %Y}")
if flagged.empty:
    st.info(f"Trial {ui.md(scope.trial)} has no sites yet.")
    ui.end_page()

# Site numbers in the order people count them (9, 10, 100), in the table, the drill-down links and the downloads.
flagged = flagged.sort_values("site_number", key=natural_key, kind="stable").reset_index(drop=True)
site_numbers = list(flagged["site_number"])
chosen_site = scope.site
if chosen_site is not None and chosen_site not in site_numbers:
    st.warning(
        f"Site '{ui.md(chosen_site)}' was not found in trial {ui.md(scope.trial)}; showing all its sites.", icon="⚠️"
    )
    chosen_site = None

shown = {key: registry.evaluate(key, now, then) for key in PORTFOLIO_TILES}
for column, (key, value) in zip([*st.columns(3), *st.columns(3)], shown.items()):
    ui.figure(column, value, scope.since, note=flag_note if key.endswith("_flag") else None)
share = metrics.ratio(shown["sites_non_enrolling"].value, shown["sites_active"].value)
entry_basis, query_basis = flagged["entry_basis"].iloc[0], flagged["query_basis"].iloc[0]
missing = [
    name
    for name, columns in (
        ("adverse events", "n_ae"),
        ("eCRF pages", "n_pages"),
        ("data-point counts", "n_data_points"),
        ("lab results", "n_lab_results"),
    )
    if flagged[columns].isna().all()
]
st.caption(
    f"{ui.md(shown['sites_active'].display)} of {len(flagged):,} sites active · non-enrolling: "
    f"{'—' if share is None else format(share, '.0%')} of active (industry benchmark: about 1 in 3). "
    f"Late data entry counts **{entry_basis}** and the query rate is per 100 **{query_basis}** for this trial."
    + (
        f" Not loaded for this trial: {', '.join(missing)} — their indicators show no data (—), not zero."
        if missing
        else ""
    )
)

medians = {key: metrics.indicator_values(flagged, key).median() for key in INDICATORS}

if chosen_site is not None:
    # ------------------------------------------------------------------ site drill-down
    r = flagged[flagged["site_number"] == chosen_site].iloc[0]
    st.subheader(f"Site {ui.md(r['site_number'])} · {ui.md(r['site_name'])}")
    st.caption(
        f"{ui.md(r['country_name'])} · {ui.md(r['site_status'])} · activated {day(r['activated_date'])} · "
        f"{int(r['n_enrolled'])} enrolled of {int(r['n_planned_subjects'])} planned"
    )
    st.html(
        ui.markup(
            '<div style="font-weight:600">{}</div>',
            ui.link(ctx.link("sites", site=None), f"← All sites of {scope.trial}", style=True),
        )
    )
    rows, raw = [], []
    for key in INDICATORS:
        ind = SITE_INDICATORS[key]
        median = medians[key]
        raw.append(
            {
                "indicator": ind.label,
                "unit": ind.unit,
                "site_value": metrics.indicator_values(flagged[flagged["site_number"] == chosen_site], key).iloc[0],
                "trial_median": median,
                "numerator": r[ind.numerator],
                "denominator": r[ind.denominator],
                "z": r[f"z_{key}"],
                "flag": r[f"flag_{key}"],
                "note": health.flag_reason(r, key, settings),
            }
        )
        rows.append(
            {
                "indicator": ui.cell(f"{ind.label} ({site_ui.unit_of(flagged, key)})"),
                "site": ui.cell(
                    metrics.indicator_values(flagged[flagged["site_number"] == chosen_site], key).iloc[0],
                    site_ui.FORMAT[key],
                ),
                "median": ui.cell(None if pd.isna(median) else median, site_ui.FORMAT[key]),
                "of": ui.cell(
                    None if pd.isna(r[ind.denominator]) else f"{r[ind.numerator]:,.0f} ÷ {r[ind.denominator]:,.0f}"
                ),
                "z": ui.cell(None if pd.isna(r[f"z_{key}"]) else r[f"z_{key}"], "{:+.2f}"),
                "flag": ui.chip("grey", "Withheld") if r[f"withheld_{key}"] else ui.chip(r[f"flag_{key}"]),
                "note": ui.cell(raw[-1]["note"]),
            }
        )
    ui.html_table(
        rows,
        {
            "indicator": "Indicator",
            "site": "This site",
            "median": "Trial median",
            "of": "Numerator ÷ denominator",
            "z": "z",
            "flag": "Flag",
            "note": "Why",
        },
        numeric=("site", "median", "of", "z"),
        nowrap=("flag",),
    )
    ui.download_table(
        ui.download_label(f"site {r['site_number']}'s indicators", len(raw)),
        pd.DataFrame(raw),
        f"site_{scope.trial}_{r['site_number']}_{scope.as_of}",
        sheet="Site indicators",
    )
    st.markdown(site_ui.site_summary(r, settings))
    st.markdown(f"**Actions and notes on site {ui.md(chosen_site)}**")
    ui.actions_section(
        ctx,
        ui.cached(review.targets, scope),
        list(ui.cached(review.owners, scope)["user_email"]),
        about=Target(scope.trial, site_number=chosen_site),
    )
    st.divider()

# ---------------------------------------------------------------------- funnel plot
st.subheader("Sites against their peers")
# People read the indicator's name; the link keeps its code (indicator=query_aging).
key = ui.url_selectbox(
    "Indicator",
    list(INDICATORS),
    "indicator",
    {k: SITE_INDICATORS[k].label for k in INDICATORS},
    ctx.view.indicator,
    help="Methods defines each indicator, its unit and its minimum denominator.",
)
ind = SITE_INDICATORS[key]
baseline = baselines[scope.trial, key]
note = site_ui.few_sites_note(baseline.n_eligible, site_ui.denominator_of(flagged, key).lower())
if note:
    st.info(note, icon="ℹ️")
points = flagged[flagged[ind.denominator].fillna(0) > 0]
if baseline.pooled is None or points.empty:
    st.caption(f"No site has enough {site_ui.denominator_of(flagged, key).lower()} to draw the funnel plot.")
else:
    top = float(points[ind.denominator].max())
    steps = [max(min_denominator(key), 1) + (top - max(min_denominator(key), 1)) * i / 60 for i in range(61)]
    limits = {k: metrics.funnel_limits(baseline, steps, k, kind=ind.kind) for k in (2, 3)}
    curve = pd.DataFrame(
        {
            "denominator": steps,
            **{f"lower{k}": [lo * ind.scale for lo, _ in limits[k]] for k in (2, 3)},
            **{f"upper{k}": [hi * ind.scale for _, hi in limits[k]] for k in (2, 3)},
        }
    )
    marks = pd.DataFrame(
        {
            "site_label": [f"Site {s} · {n}" for s, n in zip(points["site_number"], points["site_name"])],
            "denominator": points[ind.denominator].astype(float),
            "value": metrics.indicator_values(points, key).to_numpy(),
            "flag": points[f"flag_{key}"],
            "z": points[f"z_{key}"],
        }
    )
    st.plotly_chart(
        charts.funnel_plot(
            marks,
            curve,
            pooled=baseline.pooled * ind.scale,
            title=f"{ind.label} against {site_ui.denominator_of(flagged, key).lower()}",
            x_title=site_ui.denominator_of(flagged, key),
            y_title=f"{ind.label} ({site_ui.unit_of(flagged, key)})",
            y_format=".2f",
        ),
        width="stretch",
    )
    st.caption(
        f"Pooled over the {baseline.n_eligible} eligible sites: {baseline.pooled * ind.scale:.2f} {ind.unit}; over-dispersion φ = "
        f"{baseline.phi:.2f}. Limits: pooled ± 2 and ± 3 × √(φ × variance at that denominator). Grey points are below the minimum."
    )

# ---------------------------------------------------------------------- site table
st.subheader(f"Sites of {ui.md(scope.trial)}")
table = pd.DataFrame(
    {
        "site": [ctx.link("sites", site=n) for n in flagged["site_number"]],
        "site_name": flagged["site_name"],
        "country_code": flagged["country_code"],
        "site_status": flagged["site_status"],
        "activated_date": flagged["activated_date"],
        "days_selected_to_activated": flagged["days_selected_to_activated"],
        "days_activated_to_first_subject": flagged["days_activated_to_first_subject"],
        "n_enrolled": flagged["n_enrolled"].astype("float64"),
        "pct_of_target": [
            None if (f := metrics.ratio(e, p)) is None else f * 100
            for e, p in zip(flagged["n_enrolled"], flagged["n_planned_subjects"])
        ],
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
    }
)
IDENTITY = ["site", "site_name", "country_code", "site_status", "flags"]
assert sorted(IDENTITY + [c for cs in site_ui.SITE_COLUMN_GROUPS.values() for c in cs]) == sorted(table.columns), (
    "every column of the site table is in exactly one group"
)
# Thirty-odd indicators do not fit a page: the reader picks a group; the site, its flags and the CSV keep everything.
chosen_group = (
    st.segmented_control(
        "Columns",
        list(site_ui.SITE_COLUMN_GROUPS),
        default="Enrollment",
        key="site_columns",
        help="Which indicators the table shows beside each site and its flags. The CSV download holds every column.",
    )
    or "Enrollment"
)
ui.dataframe(
    table,
    column_order=[*IDENTITY, *site_ui.SITE_COLUMN_GROUPS[chosen_group]],
    column_config=site_ui.table_columns(entry_basis, query_basis, site_ui.unit_of(flagged, "query_rate")),
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
        countries[
            [
                "country_name",
                "n_sites",
                "n_sites_activated",
                "n_enrolled",
                "n_planned_subjects",
                "rate",
                "pct_late",
                "pct_old",
                "n_important_deviations",
            ]
        ].assign(pct_late=lambda d: d["pct_late"] * 100, pct_old=lambda d: d["pct_old"] * 100),
        column_config={
            "country_name": "Country",
            "n_sites": st.column_config.NumberColumn("Sites"),
            "n_sites_activated": st.column_config.NumberColumn("Activated"),
            "n_enrolled": st.column_config.ProgressColumn(
                "Enrolled", format="%d", min_value=0, max_value=int(countries["n_enrolled"].max() or 1)
            ),
            "n_planned_subjects": st.column_config.NumberColumn("Site targets"),
            "rate": st.column_config.NumberColumn("Per site-month", format="%.2f", help="Enrolled ÷ site-months open"),
            "pct_late": st.column_config.NumberColumn("Entered > 10 d", format="%.0f%%"),
            "pct_old": st.column_config.NumberColumn("Queries open > 30 d", format="%.0f%%"),
            "n_important_deviations": st.column_config.NumberColumn("Important deviations"),
        },
        hide_index=True,
        width="stretch",
    )
    ui.download_table(
        ui.download_label("countries", len(countries)),
        countries,
        f"sites_countries_{scope.trial}_{scope.as_of}",
        sheet="Countries",
    )
