"""Site flags, domain.md §4: the site indicators, and each site against its peers (over-dispersion-adjusted z,
funnel limits)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from dashboard.metrics.core import ratio
from dashboard.metrics.enrollment import DAYS_PER_MONTH

# --- §4 Site flags ----------------------------------------------------------------------------

FlagKind = Literal["proportion", "rate"]
BadSide = Literal["high", "low", "both"]


@dataclass(frozen=True)
class SiteIndicator:
    """A flagged site indicator of domain.md §4 and §4a: numerator ÷ denominator columns of queries.sites.site_kpis.

    `bad_side` "both" flags a site on either side (AE and SAE rates: low is under-reporting). `basis`, when set, is
    the site_kpis column saying what the denominator counts for the site's trial (e.g. eCRF pages or visits)."""

    label: str
    kind: FlagKind
    numerator: str
    denominator: str
    bad_side: BadSide
    min_setting: str  # the setting holding its minimum denominator
    scale: float  # multiply the ratio by this to show it
    unit: str
    denominator_label: str
    definition: str = ""
    basis: str | None = None
    safety: bool = False


PER_100_MONTHS = 100 * DAYS_PER_MONTH

SITE_INDICATORS: dict[str, SiteIndicator] = {
    "enrollment_rate": SiteIndicator(
        "Enrollment rate",
        "rate",
        "n_enrolled",
        "days_open",
        "low",
        "flag_min_days",
        DAYS_PER_MONTH,
        "per site-month",
        "Site-days open",
        "Subjects enrolled ÷ site-months the site has been open.",
    ),
    "screen_failure": SiteIndicator(
        "Screen failure",
        "proportion",
        "n_screen_failed",
        "n_outcome_known",
        "high",
        "flag_min_subjects",
        100,
        "%",
        "Subjects with a known screening outcome",
        "Subjects who failed screening ÷ subjects screened with a known outcome (failed or enrolled).",
    ),
    "dropout": SiteIndicator(
        "Study discontinuation",
        "proportion",
        "n_discontinued",
        "n_enrolled",
        "high",
        "flag_min_subjects",
        100,
        "%",
        "Subjects enrolled",
        "Enrolled subjects who left the study early ÷ subjects enrolled.",
    ),
    "treatment_discontinuation": SiteIndicator(
        "Treatment discontinuation",
        "proportion",
        "n_treatment_discontinued",
        "n_enrolled",
        "high",
        "flag_min_subjects",
        100,
        "%",
        "Subjects enrolled",
        "Enrolled subjects who stopped study treatment early (on study or not) ÷ subjects enrolled.",
    ),
    "ae_rate": SiteIndicator(
        "AE rate",
        "rate",
        "n_ae",
        "subject_days",
        "both",
        "flag_min_days",
        PER_100_MONTHS,
        "per 100 subject-months",
        "Subject-days on study",
        "Adverse events the site was aware of ÷ subject-months on study (enrolled to completion, "
        "discontinuation or the as-of date). Low is flagged too: a site far below its peers may be under-reporting.",
        safety=True,
    ),
    "sae_rate": SiteIndicator(
        "SAE rate",
        "rate",
        "n_sae",
        "subject_days",
        "both",
        "flag_min_days",
        PER_100_MONTHS,
        "per 100 subject-months",
        "Subject-days on study",
        "Serious adverse events the site was aware of ÷ subject-months on study; flagged on both sides, "
        "as the AE rate.",
        safety=True,
    ),
    "deviation_rate": SiteIndicator(
        "Important deviation rate",
        "rate",
        "n_important_deviations",
        "subject_days",
        "high",
        "flag_min_days",
        PER_100_MONTHS,
        "per 100 subject-months",
        "Subject-days on study",
        "Important protocol deviations ÷ subject-months on study.",
    ),
    "minor_deviation_rate": SiteIndicator(
        "Deviation rate (not important)",
        "rate",
        "n_minor_deviations",
        "subject_days",
        "high",
        "flag_min_days",
        PER_100_MONTHS,
        "per 100 subject-months",
        "Subject-days on study",
        "Protocol deviations not classed important ÷ subject-months on study.",
    ),
    "abnormal_lab_rate": SiteIndicator(
        "Abnormal lab rate",
        "proportion",
        "n_lab_abnormal",
        "n_lab_results",
        "high",
        "flag_min_lab_results",
        100,
        "% of results grade ≥ 3",
        "Lab results",
        "Laboratory results of grade 3 or higher ÷ laboratory results, at visits done by the date.",
        safety=True,
    ),
    "entry_lag": SiteIndicator(
        "Late data entry",
        "proportion",
        "n_entry_late",
        "n_entry_units",
        "high",
        "flag_min_visits",
        100,
        "% entered > 10 days",
        "eCRF pages (visits where pages are not loaded)",
        "eCRF pages entered more than 10 days after the visit, or still not entered 10 days after it, ÷ "
        "pages of the visits done; per visit where the trial has no page data.",
        basis="entry_basis",
    ),
    "query_aging": SiteIndicator(
        "Queries open > 30 days",
        "proportion",
        "n_queries_open_30d",
        "n_queries",
        "high",
        "flag_min_queries",
        100,
        "% open > 30 days today",
        "Queries raised",
        "Queries still outstanding on the as-of date and raised more than 30 days before it ÷ queries raised.",
    ),
    "outstanding_query_rate": SiteIndicator(
        "Outstanding query rate",
        "proportion",
        "n_queries_outstanding_30d",
        "n_queries",
        "high",
        "flag_min_queries",
        100,
        "% ever outstanding > 30 days",
        "Queries raised",
        "Queries outstanding (open or answered, not closed) for more than 30 days at any time up to the date ÷ queries raised "
        "(the risk-monitoring convention).",
    ),
    "query_rate": SiteIndicator(
        "Query rate",
        "rate",
        "n_queries",
        "n_query_base",
        "high",
        "flag_min_visits",
        100,
        "per 100 data points (or visits)",
        "Data points (visits entered where points are not loaded)",
        "Queries raised ÷ data points entered, per 100; per 100 visits entered where the trial has no "
        "data-point counts.",
        basis="query_basis",
    ),
    "data_change_rate": SiteIndicator(
        "Data change rate",
        "proportion",
        "n_data_points_changed",
        "n_data_points",
        "high",
        "flag_min_data_points",
        100,
        "% of data points",
        "Data points",
        "Data points changed after their first entry ÷ data points entered.",
    ),
}


def ratios(numerators, denominators) -> pd.Series:
    """ratio for columns: numerator ÷ denominator row by row, NaN where either is missing or the denominator is 0."""
    numerator = pd.to_numeric(pd.Series(numerators), errors="coerce").astype("float64")
    denominator = pd.to_numeric(pd.Series(denominators), errors="coerce").astype("float64")
    return numerator / denominator.where(denominator != 0)


def indicator_values(frame: pd.DataFrame, key: str) -> pd.Series:
    """Each site's (site_kpis rows) value of the indicator `key`, scaled as shown (per site-month, %, …); NaN when its
    denominator is 0 or missing (empty is not zero)."""
    ind = SITE_INDICATORS[key]
    return ratios(frame[ind.numerator], frame[ind.denominator]) * ind.scale


def _terms(frame: pd.DataFrame, key: str) -> tuple[pd.Series, pd.Series]:
    """The indicator's numerator and denominator columns of site_kpis rows, as floats (NaN where missing)."""
    ind = SITE_INDICATORS[key]
    return tuple(pd.to_numeric(frame[c], errors="coerce").astype("float64") for c in (ind.numerator, ind.denominator))


def pooled_value(frame: pd.DataFrame, key: str) -> float | None:
    """The indicator pooled over the given sites (sum of numerators ÷ sum of denominators, scaled): a trial-level figure
    such as a QTL's; None when no site has a denominator (the source is not loaded or nothing happened yet)."""
    numerator, denominator = _terms(frame, key)
    known = denominator.notna() & numerator.notna()
    value = ratio(numerator[known].sum(), denominator[known].sum()) if known.any() else None
    return None if value is None else value * SITE_INDICATORS[key].scale


@dataclass(frozen=True)
class PeerBaseline:
    """What sites are compared with: the pooled ratio and over-dispersion φ of the eligible sites, and how many there are."""

    pooled: float | None
    phi: float
    n_eligible: int


@dataclass(frozen=True)
class PeerFlags:
    """flag_peer_columns' answer, one entry per site in input order (what a table of thousands of sites needs): z (NaN
    when not eligible), flag, side ("high", "low" or None), withheld, observed and expected events."""

    z: np.ndarray
    flag: np.ndarray
    side: np.ndarray
    withheld: np.ndarray
    observed: np.ndarray
    expected: np.ndarray
    eligible: np.ndarray


def _as_floats(values) -> np.ndarray:
    series = values if isinstance(values, pd.Series) else pd.Series(list(values), dtype="object")
    return pd.to_numeric(series, errors="coerce").astype("float64").to_numpy()


def flag_peer_columns(
    groups: Iterable,
    numerators: Iterable,
    denominators: Iterable,
    *,
    kind: FlagKind,
    bad_side: BadSide,
    min_denominator: float,
    amber: float = 2.0,
    red: float = 3.0,
    min_events: float = 0.0,
) -> tuple[PeerFlags, dict]:
    """Flag each site against the other sites of its group (its trial), all groups at once: domain.md §4.

    Zink et al. 2018, as in gsm: among the eligible sites of a group (denominator at least
    `min_denominator`), the pooled ratio and φ = max(1, mean unadjusted z²); each eligible site's
    z = (ratio − pooled) / sqrt(φ · variance), flagged amber / red beyond `amber` / `red` on the bad side;
    the other sites are grey. `bad_side` "both" flags either side. An eligible site is flagged only when at least
    `min_events` events were observed or are expected at its size under the pooled ratio (pooled × denominator):
    otherwise its flag is withheld (grey, `withheld`), so one event at a tiny site is not red, while a site that
    should have had many events and reported few still is. Returns the flags as columns and each group's PeerBaseline.
    """
    group_values = groups.to_numpy() if isinstance(groups, pd.Series) else np.asarray(list(groups), dtype=object)
    frame = pd.DataFrame({"group": group_values, "num": _as_floats(numerators), "den": _as_floats(denominators)})
    eligible = frame["num"].notna() & frame["den"].notna() & (frame["den"] > 0) & (frame["den"] >= min_denominator)
    kept = frame[eligible]
    sums = kept.groupby("group", sort=False)[["num", "den"]].sum()
    pooled = (sums["num"] / sums["den"]).reindex(frame["group"]).to_numpy()
    den = frame["den"].to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):  # ineligible sites (no or zero denominator) are masked below
        ratio_ = frame["num"].to_numpy() / den
        variance = pooled * (1 - pooled) / den if kind == "proportion" else pooled / den
        # Every eligible site at 0 % (or 100 %): nobody differs from the pool.
        unadjusted = np.where(variance > 0, (ratio_ - pooled) / np.sqrt(np.where(variance > 0, variance, 1.0)), 0.0)
    ok = eligible.to_numpy()
    unadjusted = np.where(ok, unadjusted, np.nan)
    mean_square = pd.Series(unadjusted**2).groupby(frame["group"].to_numpy(), sort=False).mean()
    phi = mean_square.clip(lower=1.0).fillna(1.0)
    z = unadjusted / np.sqrt(phi.reindex(frame["group"]).to_numpy())
    bad = z if bad_side == "high" else -z if bad_side == "low" else np.abs(z)
    observed = frame["num"].to_numpy()
    expected = pooled * den
    colour = np.where(bad > red, "red", np.where(bad > amber, "amber", "green")).astype(object)
    withheld = ok & (colour != "green") & (np.fmax(observed, expected) < min_events)
    flag = np.where(~ok | withheld, "grey", colour).astype(object)
    side = np.where(~ok, None, np.where(z > 0, "high", np.where(z < 0, "low", None))).astype(object)
    counts = eligible.groupby(frame["group"].to_numpy(), sort=False).sum()
    pooled_by_group = sums["num"] / sums["den"]
    baselines = {
        group: PeerBaseline(
            pooled=float(pooled_by_group[group]) if counts[group] else None,
            phi=float(phi[group]) if counts[group] else 1.0,
            n_eligible=int(counts[group]),
        )
        for group in counts.index
    }
    return PeerFlags(z, flag, side, withheld, observed, np.where(ok, expected, np.nan), ok), baselines


def max_abs_z(n_eligible: int) -> float:
    """Return the largest |z| a trial with `n_eligible` sites can reach: φ ≥ z²/N, so |z| ≤ √N."""
    return math.sqrt(max(n_eligible, 0))


def funnel_limits(
    baseline: PeerBaseline, denominators: Iterable, k: float, *, kind: FlagKind
) -> list[tuple[float, float]]:
    """Return (lower, upper) of pooled ± k·sqrt(φ · variance) at each denominator (a funnel plot's limit curves)."""
    limits = []
    for d in denominators:
        spread = k * math.sqrt(
            baseline.phi * (baseline.pooled * (1 - baseline.pooled) if kind == "proportion" else baseline.pooled) / d
        )
        lower, upper = baseline.pooled - spread, baseline.pooled + spread
        limits.append((max(lower, 0.0), min(upper, 1.0) if kind == "proportion" else upper))
    return limits
