"""Methods & definitions: every figure of the registry with its definition, unit, colour rule and pages, the site
indicators, and domain.md's worked examples computed by the code itself — generated, so it cannot drift from it."""

import math
from datetime import date, timedelta

import streamlit as st

from dashboard import calibration, drift, health, metrics, registry, ui
from dashboard.forecast import prior
from dashboard.links import PAGES
from dashboard.metrics import EXPIRY_STATUS_LABEL, HEALTH_LABEL, MILESTONE_STATUS_LABEL, SITE_INDICATORS
from dashboard.settings import get_settings

# No figures here, but like every page it is shown only after the frame has signed the user in.
ui.context()
settings = get_settings()
SHOWN_ON = {**PAGES, "e-mail": "Status e-mail"}

st.title("Methods & definitions")
st.caption(
    "Every figure on the dashboard, what it is a ratio of, how it is coloured and where it is shown. This page is "
    "generated from the code that computes the figures and from this server's settings, so it always states the rules "
    "the figures follow."
)

st.header("Dates and scope")
st.markdown(
    """
- **As of**: every figure is computed from the facts dated on or before this date, so the dashboard can be
  shown as it was on any past day. Forecasts are the ones recorded on or before it.
- **Compare with** (since): the earlier date that changes are measured from; by default a week before *as of*.
- You see only the trials of the sponsors you are granted; a link cannot widen that.
- The same figure has the same label everywhere: a tile, a table column, the status e-mail, the exports and
  `python -m dashboard.figures` all take it from one definition, listed below.
"""
)

st.header("Health colours")
st.markdown(f"Colours always come with a label: {', '.join(HEALTH_LABEL.values())}.")
for key in ("enrollment_health", "budget_health", "schedule_health", "overall_health"):
    figure = registry.FIGURES[key]
    rule = figure.threshold_text(settings)
    st.markdown(f"- **{figure.label}**: {figure.definition_text(settings)}" + (f" Colour: {rule}." if rule else ""))
enrollment = registry.FIGURES["pct_of_plan_to_date"], registry.FIGURES["p_meet_lpi_plan"]
st.markdown(
    f"- The enrollment colour's figures: **{enrollment[1].label}** ({enrollment[1].threshold_text(settings)}) once there is "
    f"a forecast, else **{enrollment[0].label}** ({enrollment[0].threshold_text(settings)})."
)
st.markdown(f"**Order of the portfolio.** {registry.SEVERITY_TEXT}")

for group, keys in registry.GROUPS.items():
    st.header(group)
    rows = []
    for key in keys:
        f = registry.FIGURES[key]
        rule = f.threshold_text(settings)
        rows.append(
            {
                "figure": ui.markup("<b>{}</b>", f.label),
                "definition": ui.cell(f.definition_text(settings)),
                "unit": ui.cell(registry.UNIT_WORDS[f.unit]),
                "colour": ui.cell(rule[:1].upper() + rule[1:] if rule else None),
                "change": ui.cell(
                    "counted over the period"
                    if f.period
                    else None
                    if not f.compares
                    else registry.tolerance_text(f)
                    if f.listed
                    else "not listed (grows with the work)"
                ),
                "shown": ui.cell(", ".join(SHOWN_ON.get(p, p) for p in f.pages) or None),
                "key": ui.markup('<code style="font-size:12px">{}</code>', f.key),
            }
        )
    ui.html_table(
        rows,
        {
            "figure": "Figure",
            "definition": "Definition",
            "unit": "Unit",
            "colour": "Colour",
            "change": "“What changed” lists it at",
            "shown": "Shown on",
            "key": "Key",
        },
    )

st.header("Last-patient-in forecast")
st.markdown(
    f"""
Each site enrolls at its own rate; the rates across sites follow a Gamma distribution fitted to the sites'
history (the Poisson-Gamma model of Anisimov & Fedorov, 2007), with the uncertainty of the fit carried into the
forecast. The forecast gives a range for the date the last patient is in (P10, P50, P90), the probability of
meeting the planned date, and how many extra sites would bring that probability to {settings.probability_green:.0%}.
Once enrollment has reached its target, the last patient was in on the day it did: the LPI milestone counts as done
on that day "by the enrollment data" even when the CRO has not recorded its actual date.
"""
)

st.subheader("The forecast when sites tire")
st.markdown(
    f"""
Real sites rarely enroll at one steady pace: they are fastest soon after they open and slow down (fatigue, competing
trials, the easy patients found first), and some stop enrolling for good long before they close. The forecast reads
**when** each subject enrolled, not just how many, and assumes in plain words:

- a site's rate may move, over its first months, from where it started towards a settled level: the same share for
  every site of a trial, estimated from the enrollment dates. **What to expect before the data show it comes from the
  sponsor's other trials**: those whose first site opened at least a year ago (the {health.PRIOR_MAX_TRIALS} most
  recent, never the trial itself; one that reached its target, or closed enrollment short of it, is read as it stood
  on its last day of enrollment). Where they tired, a young trial is expected to
  tire too, and sites to stop as often as theirs did; where they did not, it is not. With fewer than
  {prior.MIN_TRIALS} such trials the forecast assumes **no change unless the trial's own data show one** (a settled
  rate below {math.exp(-2 * drift.LOG_RHO_PRIOR_SD):.0%} of the starting one needs clear evidence), and its note says
  which it used;
- a site that has enrolled before and has since been silent for many times its usual gap has probably stopped: the
  forecast counts it only with its chance of still enrolling, and open sites may stop in the future at the rate the
  trial's silent sites, and the sponsor's earlier trials, suggest. A site that has just opened, or never enrolled anyone, is not taken for stopped: it
  may simply be slow;
- the uncertainty of the fitted rates, and of the decline, is carried into the range, and the fan on the Enrollment
  page is drawn from the simulated enrollment paths.

The Enrollment page says when a trial's rate of the last three months is well below its first three
({metrics.DECLINE_AT_LEAST:.0%} or more, and unlikely by chance: one-sided p < {metrics.DECLINE_P_VALUE:g}).

**How honest the range is, measured.** The table below is generated by `python -m dashboard.calibration` and checked
by the test suite against the code: each row scores a few hundred simulated trials, half of them only 2–4 months in
with 1–3 years to go, in sponsors of {calibration.PORTFOLIO} trials that each have {calibration.EARLIER} earlier trials
of the same kind. *Steady sites* enroll as the model's stationary case assumes. *Tiring sites* each halve their
rate over 6–30 months after activation, and 10–35% of a trial's sites stop at some point. The P10–P90 range should
hold the true date 80% of the time, with about 10% on each side.
"""
)
measured = calibration.load()
if measured is None:
    st.info("The calibration figures have not been generated: run python -m dashboard.calibration.")
else:
    model_label = {
        "sponsor": "The dashboard's forecast (enrollment dates, and what the sponsor's earlier trials show)",
        "drift": "Enrollment dates only, no drift expected (a sponsor without earlier trials)",
        "constant": "Steady rates only (the forecast before enrollment dates were read)",
        "plug_in": "Without parameter uncertainty (a negative control)",
    }
    world_label = {"stationary": "Steady sites", "drifting": "Tiring and stopping sites"}
    rows = [
        {
            "world": ui.cell(world_label[w]),
            "model": ui.cell(model_label[m]),
            "coverage": ui.cell(f"{r['coverage']:.0%}"),
            "early": ui.cell(f"{r['early']:.0%}"),
            "late": ui.cell(f"{r['late']:.0%}"),
            "width": ui.cell(f"{r['median_width_days']:,.0f} days"),
            "trials": ui.cell(f"{r['trials']:,}"),
        }
        for w in calibration.WORLDS
        for m in calibration.MODELS
        for r in (measured[w][m],)
    ]
    ui.html_table(
        rows,
        {
            "world": "Simulated trials",
            "model": "Forecast",
            "coverage": "Truth within P10–P90",
            "early": "Truth before P10",
            "late": "Truth after P90",
            "width": "Median P10–P90 width",
            "trials": "Trials",
        },
        numeric=("coverage", "early", "late", "width", "trials"),
    )
    ours, alone = measured["drifting"]["sponsor"], measured["drifting"]["drift"]
    steady, before = measured["stationary"]["sponsor"], measured["stationary"]["constant"]
    st.markdown(
        f"""
Where sites tire, a trial's own few months rarely show the decline: read alone, they leave the true last patient
after P90 in {alone["late"]:.0%} of the simulated trials. The sponsor's earlier trials do show it, and with them the
range holds the truth in {ours["coverage"]:.0%} of trials ({ours["early"]:.0%} before P10, {ours["late"]:.0%} after
P90). Where sites enroll steadily, the earlier trials say so, and the range stays honest ({steady["coverage"]:.0%})
and about as wide as a steady-rate model's ({steady["median_width_days"]:,.0f} days against
{before["median_width_days"]:,.0f}). The assumption behind this: **a sponsor's trials tire the way its earlier ones
did**. A trial unlike its predecessors (a new indication, a new kind of site) may still surprise: read P90 of a trial
whose rate is slowing (the Enrollment page says so) as a date that may slip.
"""
    )

st.header("Site quality indicators")
rows = []
for key, ind in SITE_INDICATORS.items():
    minimum = getattr(settings, ind.min_setting)
    rows.append(
        {
            "indicator": ui.markup(
                '<b>{}</b>{}<br><span class="muted">{}</span>', ind.label, " · safety" if ind.safety else "", key
            ),
            "definition": ui.cell(ind.definition),
            "ratio": ui.cell(f"{ind.numerator} ÷ {ind.denominator}"),
            "unit": ui.cell(ind.unit),
            "bad": ui.cell({"low": "low", "high": "high", "both": "high or low"}[ind.bad_side]),
            "minimum": ui.cell(f"{minimum:,} ({ind.denominator_label.lower()})"),
        }
    )
ui.html_table(
    rows,
    {
        "indicator": "Indicator",
        "definition": "Definition",
        "ratio": "Numerator ÷ denominator (columns)",
        "unit": "Unit",
        "bad": "Flagged when",
        "minimum": "Smallest denominator flagged",
    },
)
st.markdown(
    f"""
A site is flagged when it is unusual among the sites of the same trial (the over-dispersion-adjusted z-score of
Zink et al. 2018, as in Gilead's gsm): z = (site ratio − pooled ratio) ÷ √(φ × variance), with φ the mean of the
unadjusted z² (at least 1). |z| above {settings.flag_amber_z:g} on the bad side is amber, above {settings.flag_red_z:g}
red; the AE and SAE rates are flagged on **both** sides, a low one saying *possible under-reporting*. Sites below the
smallest denominator are neither flagged nor used as peers. A flag also needs **at least {settings.flag_min_events:g}
events**, observed or expected at the site's size under the trial's pooled rate (pooled rate × the site's denominator):
otherwise it is withheld and the site's drill-down says so, so one event at a four-subject site is not red, while a
site that should have reported many adverse events and reported few still is. With N eligible sites no |z| can
exceed √N, so a trial with fewer than {int(settings.flag_amber_z**2) + 1} eligible sites cannot show amber: the page
says so. The **funnel plot** draws each site's ratio against its denominator, with the pooled ratio and the limits
pooled ± 2 and ± 3 × √(φ × variance at that denominator).

Also on the Sites and Enrollment pages: **mean entry lag** (days from visit to entry, each capped at 60, over the
visits entered); **median days to close** a query; **cycle times** (site selected → activated, activated → first
subject enrolled, in days); **on-time activation** (sites activated ÷ sites planned, on the dates the activation plan
reaches 25 %, 50 % and 75 % of its sites); the **screen-failure rate** (screen failures ÷ screened subjects with a known
outcome) and **dropout rate** (discontinued ÷ enrolled); the **enrollment rate** (enrolled ÷ site-months open).

**Dates that count, and sources that may be missing.**
- *Exposure* is subject-days on study: from enrollment to completion, discontinuation or the as-of date, whichever
  comes first; rates are per 100 subject-months (a month is 365.25 ÷ 12 days).
- An *adverse event* counts from the day the site became aware of it (its onset when no awareness date is given).
- A *deviation* counts from its date; an undated one from the day it was identified, else the day it was first loaded
  (the loader records that day and keeps it on later loads), so a view as of a past date does not change when undated
  deviations arrive later.
- A query is *outstanding* until it is closed, answered or not. The **outstanding query rate** counts queries
  outstanding more than 30 days at any time up to the date (the risk-monitoring convention); **queries open > 30 days**
  counts those outstanding on the as-of date and raised more than 30 days before it.
- **Late data entry** counts eCRF pages where the trial loads them (crf_page.csv), else visits; the **query rate** is
  per 100 data points where the trial loads data-point counts, else per 100 visits entered. The Sites page says which.
- In a trial that loads eCRF pages, a visit done without any page row counts as one page, late by the visit rule.
- Data-point and lab-result counts are per visit, counted at the visits done by the date, as last loaded: a view of a
  past date uses today's count of changed data points.
- Adverse events, eCRF pages, data points and lab results are optional files: a trial without any of their rows shows
  **no data** (—) for their indicators, never 0.

**SAE reporting timeliness** (ICH E2A, GCP: serious adverse events reach the sponsor within 24 hours of the site's
awareness): an SAE is due by the day after the site became aware of it. It counts once it is reported by the as-of date
or is past due on it: **on time** when reported on the day of awareness or the next, **late** otherwise (reported later,
or due and not yet reported). SAEs reported on time ÷ SAEs counted, per site, per trial, per CRO (the trials whose
clinical lane it runs) and for the portfolio.

**Quality tolerance limits** (ICH E6(R2) 5.0.7, E6(R3)): limits a trial sets before it starts on a few trial-level
figures, loaded as qtl.csv (figure, limit, direction). The trial's figure is the site indicator pooled over all its
sites (sum of numerators ÷ sum of denominators, in the indicator's unit). A breach shows on the Overview, in the
Portfolio's *why* and in the status e-mail; no data is not a breach.
"""
)

st.header("Vendor milestones")
st.markdown(
    f"""
- **Slip**: done → actual − baseline; not done and not yet due → forecast − baseline; overdue → the later of
  the forecast and *as of*, minus the baseline.
- **Status**: {", ".join(MILESTONE_STATUS_LABEL.values())}. An overdue milestone is *expected* "overdue since" its
  baseline, or on its forecast if that is still to come: never a past date.
- **Colour**: red when the slip exceeds {settings.milestone_red_days} days; amber when it exceeds
  {settings.milestone_amber_days} days or the milestone is overdue.
- **Expiry and re-test dates** read the other way round, since a later date is good news: {", ".join(EXPIRY_STATUS_LABEL.values())}.
  Extended or as planned is green; shortened is amber beyond {settings.milestone_amber_days} days earlier and red
  beyond {settings.milestone_red_days}; a date reached on or before *as of* is expired, red. They never set a
  trial's schedule colour.
- **Supply risk**: margin = date of the clinical milestone − lead time − date of the supply milestone it needs
  (each the actual if done, else the current forecast). A negative margin is a conflict (days of conflict =
  −margin); a margin under {settings.supply_near_miss_days} days is a near miss.
- **Vendor scorecard**: on-time rate = milestones done no later than baseline + {settings.milestone_amber_days} days
  ÷ milestones done; mean and worst slip; overdue; due in the next 30/60/90 days; fees of open milestones due within 90
  days. Only the trials you may see count, although vendors work for several sponsors.
"""
)

st.header("Worked examples")
st.caption("Computed here by the dashboard's own functions, with the inputs of the domain reference (domain.md).")
example = metrics.earned_value(200, 100, 80, 90)
ui.html_table(
    [
        {"figure": ui.cell(label), "value": ui.cell(value)}
        for label, value in (
            ("Inputs", "BAC 200, PV 100, EV 80, AC 90"),
            ("CV, SV", f"{example.cv:+.0f}, {example.sv:+.0f}"),
            ("CPI, SPI", f"{example.cpi:.3f}, {example.spi:.3f}"),
            ("EAC, EAC (one-off overrun)", f"{example.eac:.1f}, {example.eac_atypical:.1f}"),
            ("ETC, VAC", f"{example.etc:.1f}, {example.vac:.1f}"),
            ("TCPI", f"{example.tcpi:.3f}"),
            ("Budget spent, work complete", f"{example.burn_pct:.0%}, {example.pct_complete:.0%}"),
        )
    ],
    {"figure": "Earned value", "value": "Result"},
)
d = date(2026, 6, 1)
cases = (
    ("baseline 1 Mar, actual 20 Mar", date(2026, 3, 1), None, date(2026, 3, 20)),
    ("baseline 1 Sep, forecast 15 Oct", date(2026, 9, 1), date(2026, 10, 15), None),
    ("baseline 1 May, forecast 1 Jul", date(2026, 5, 1), date(2026, 7, 1), None),
    ("baseline 1 Mar, actual 1 Jul (after the as-of date)", date(2026, 3, 1), None, date(2026, 7, 1)),
)
rows = []
for text, baseline, forecast, actual in cases:
    m = metrics.milestone_status(baseline, forecast, actual, d, amber_days=0, red_days=30)
    rows.append(
        {
            "milestone": ui.cell(text),
            "status": ui.cell(MILESTONE_STATUS_LABEL[m.status]),
            "slip": ui.cell(f"{m.slip_days:+d} d"),
            "colour": ui.chip(m.rag),
        }
    )
st.markdown(f"Milestones as of {d:%d %b %Y}, with the default tolerances (amber above 0 days, red above 30):")
ui.html_table(rows, {"milestone": "Milestone", "status": "Status", "slip": "Slip", "colour": "Colour"})

planned = [date(2026, 1, 1) + timedelta(days=7 * k) for k in range(20)]
activated = [d + timedelta(days=2) for d in planned[:8]] + [date(2026, 9, 1)] * 12
checks = metrics.on_time_activation(planned, activated, 20, date(2026, 6, 30))
st.markdown(
    "On-time site activation: 20 sites planned a week apart from 1 Jan 2026, the first 8 activated two days after "
    "their plan and the other 12 in September; as of 30 Jun 2026:"
)
ui.html_table(
    [
        {
            "share": ui.cell(f"{c.share:.0%} of planned sites"),
            "date": ui.cell(f"{c.plan_date:%d %b %Y}"),
            "result": ui.cell(f"{c.n_activated} of {c.n_planned} planned = {c.on_time:.0%}"),
        }
        for c in checks
    ],
    {"share": "The plan reaches", "date": "On", "result": "Activated ÷ planned by then"},
)

st.header("Freshness")
st.markdown(
    f"Every page says when its data was last loaded; data older than {settings.stale_after_hours:g} hours shows a warning."
)
st.markdown(
    "**Published or computed now.** Each load publishes a snapshot of its day and of the week before: every trial's "
    "figures, health, forecast and site flags, computed once where the data is written. A view whose as-of and compare "
    "dates have a snapshot (computed under these same thresholds) reads it, and the freshness line says *figures "
    "published* with its time; any other view is computed when it is opened (*figures computed now*). Both give the "
    "same numbers for the same data. A snapshot is kept as it was published: a later load replaces only the snapshot of "
    "its own day, so the changes since last week, in the pages and the e-mail, and the Enrollment page's forecast "
    "history compare what was published then, not last week recomputed with data that arrived later."
)
