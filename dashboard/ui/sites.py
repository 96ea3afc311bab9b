"""The Sites page's words and table layout: number formats, column groups, the flag rule in a sentence, units and
denominators as the trial's sources count them, a site's summary in sentences, and the per-site table's columns."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import metrics
from dashboard.links import INDICATORS
from dashboard.metrics import SITE_INDICATORS
from dashboard.settings import Settings

FORMAT = {
    "enrollment_rate": "{:.2f}",
    "screen_failure": "{:.0f}%",
    "dropout": "{:.0f}%",
    "treatment_discontinuation": "{:.0f}%",
    "ae_rate": "{:.1f}",
    "sae_rate": "{:.1f}",
    "deviation_rate": "{:.1f}",
    "minor_deviation_rate": "{:.1f}",
    "abnormal_lab_rate": "{:.1f}%",
    "entry_lag": "{:.0f}%",
    "query_aging": "{:.0f}%",
    "outstanding_query_rate": "{:.0f}%",
    "query_rate": "{:.1f}",
    "data_change_rate": "{:.1f}%",
}
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


def flag_note(settings: Settings) -> str:
    """How a site is flagged against its peers, in a sentence or three with the thresholds in force."""
    return (
        f"Flags compare each site with the other sites of its trial (over-dispersion-adjusted z-score, Zink et al. 2018): "
        f"|z| > {settings.flag_amber_z:g} on the bad side is amber, > {settings.flag_red_z:g} red; AE and SAE rates are flagged "
        f"low as well as high (low: possible under-reporting). Sites below a minimum "
        f"({settings.flag_min_subjects} subjects, {settings.flag_min_days} subject- or site-days, {settings.flag_min_visits} visits, "
        f"{settings.flag_min_queries} queries) are not flagged and not used as peers, and a flag needs at least "
        f"{settings.flag_min_events:g} events observed or expected at the site's size. See Methods."
    )


def unit_of(flagged: pd.DataFrame, key: str) -> str:
    """An indicator's unit for the trial of `flagged` (its sites): the query rate's denominator depends on its sources."""
    if key == "query_rate":
        return f"per 100 {flagged['query_basis'].iloc[0]}"
    if key == "entry_lag":
        return f"% of {flagged['entry_basis'].iloc[0]} entered > 10 days"
    return SITE_INDICATORS[key].unit


def denominator_of(flagged: pd.DataFrame, key: str) -> str:
    """What an indicator's denominator counts for the trial of `flagged` (its sites)."""
    basis = SITE_INDICATORS[key].basis
    return flagged[basis].iloc[0].capitalize() if basis else SITE_INDICATORS[key].denominator_label


def sae_on_time(share, settings: Settings) -> str:
    """A site's share of SAEs reported on time with its colour word, by the portfolio figure's thresholds."""
    if pd.isna(share):
        return "—"
    colour = metrics.index_health(share, green=settings.sae_on_time_green, amber=settings.sae_on_time_amber)
    return f"{share:.0%} ({metrics.HEALTH_WORD[colour].lower()})"


def count(value) -> str:
    return "no data" if value is None or pd.isna(value) else f"{int(value):,}"


def site_summary(r, settings: Settings) -> str:
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
        "**Safety:** no adverse-event data loaded for this trial"
        if pd.isna(r["n_ae"])
        else f"**Safety:** {count(r['n_ae'])} adverse events, {count(r['n_sae'])} serious · **SAEs reported on time** "
        f"(by the day after the site knew): {sae_on_time(r['sae_on_time'], settings)} — {count(r['n_sae_on_time'])} of "
        f"{count(r['n_sae_due'])} due",
    ]
    return "  \n".join(lines)


def table_columns(entry_basis: str, query_basis: str, query_unit: str) -> dict:
    """The per-site table's column headings, formats and help (st.column_config), for a trial whose data entry counts
    `entry_basis` and whose query rate is per 100 `query_basis` (`query_unit` in full)."""
    column = st.column_config
    return {
        "site": column.LinkColumn("Site", display_text=r"site=([^&]+)", pinned=True, width="small"),
        "site_name": column.TextColumn("Institution", width="medium"),
        "country_code": column.TextColumn("Country", width="small"),
        "site_status": column.TextColumn("Status", width="small"),
        "flags": column.TextColumn(
            "Flags", width="medium", help="Indicators flagged amber (🟡) or red (🔴) against the trial's other sites."
        ),
        "n_enrolled": column.NumberColumn("Enrolled", format="%d", width="small"),
        "pct_of_target": column.ProgressColumn(
            "% of target", format="%.0f%%", min_value=0, max_value=100, help="Enrolled ÷ the site's planned subjects"
        ),
        "enrollment_rate": column.NumberColumn("Per site-month", format="%.2f", help="Enrolled ÷ site-months open"),
        "n_screened": column.NumberColumn("Screened", format="%d"),
        "screen_failure": column.NumberColumn(
            "Screen failure", format="%.0f%%", help="Screen-failed ÷ subjects with a known outcome"
        ),
        "dropout": column.NumberColumn(
            "Study discontinuation", format="%.0f%%", help="Left the study early ÷ enrolled"
        ),
        "treatment_discontinuation": column.NumberColumn(
            "Treatment discontinuation", format="%.0f%%", help="Stopped study treatment early ÷ enrolled"
        ),
        "n_ae": column.NumberColumn(
            "AEs", format="%d", help="Adverse events the site knew of by the date; empty: no AE data"
        ),
        "ae_rate": column.NumberColumn(
            "AEs per 100 subject-months",
            format="%.1f",
            help="Flagged low as well as high: a site far below its peers may be under-reporting",
        ),
        "n_sae": column.NumberColumn("SAEs", format="%d"),
        "sae_rate": column.NumberColumn("SAEs per 100 subject-months", format="%.1f"),
        "sae_on_time": column.NumberColumn(
            "SAEs on time",
            format="%.0f%%",
            help="SAEs reported to the sponsor by the day after the site became aware ÷ SAEs due",
        ),
        "abnormal_lab_rate": column.NumberColumn(
            "Labs grade ≥ 3", format="%.1f%%", help="Lab results of grade 3 or more ÷ lab results"
        ),
        "n_visits": column.NumberColumn("Visits", format="%d"),
        "entry_lag": column.NumberColumn(
            f"{entry_basis.capitalize()} entered > 10 d",
            format="%.0f%%",
            help=f"{entry_basis.capitalize()} entered more than 10 days after the visit, or still not "
            f"entered after 10 days, ÷ {entry_basis} of the visits done",
        ),
        "mean_entry_lag_days": column.NumberColumn(
            "Mean lag (d)",
            format="%.1f",
            help="Days from visit to entry, each capped at 60, over the visits entered; empty when none is",
        ),
        "n_queries": column.NumberColumn("Queries", format="%d"),
        "query_rate": column.NumberColumn(
            f"Queries {query_unit}", format="%.1f", help=f"Queries ÷ {query_basis} × 100"
        ),
        "query_aging": column.NumberColumn(
            "Outstanding > 30 d today",
            format="%.0f%%",
            help="Queries outstanding on the as-of date, raised more than 30 days before it, ÷ queries raised",
        ),
        "outstanding_query_rate": column.NumberColumn(
            "Ever outstanding > 30 d",
            format="%.0f%%",
            help="Queries outstanding more than 30 days at any time ÷ queries raised",
        ),
        "median_days_to_close": column.NumberColumn("Median days to close", format="%.1f"),
        "data_change_rate": column.NumberColumn(
            "Data changed", format="%.1f%%", help="Data points changed after entry ÷ data points"
        ),
        "n_important_deviations": column.NumberColumn("Important deviations", format="%d"),
        "deviation_rate": column.NumberColumn(
            "Important deviations per 100 subject-months",
            format="%.1f",
            help="Important deviations ÷ subject-days on study",
        ),
        "minor_deviation_rate": column.NumberColumn(
            "Other deviations per 100 subject-months",
            format="%.1f",
            help="Deviations not classed important ÷ subject-days on study",
        ),
        "activated_date": column.DateColumn("Activated", format="DD MMM YYYY"),
        "days_selected_to_activated": column.NumberColumn("Selected → activated (d)", format="%d"),
        "days_activated_to_first_subject": column.NumberColumn("Activated → 1st subject (d)", format="%d"),
    }
