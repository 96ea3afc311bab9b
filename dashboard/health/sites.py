"""Site flags against peers (domain.md §4), quality tolerance limits, and each CRO's SAE reporting timeliness: which
sites (and vendors) stand out, and why in words."""

from __future__ import annotations

import pandas as pd

from dashboard import metrics
from dashboard.settings import Settings


def flag_sites_by_trial(frame: pd.DataFrame, settings: Settings) -> tuple[pd.DataFrame, dict]:
    """The sites (site_kpis rows) with z_, flag_, side_ (high or low), withheld_ (too few events) and expected_ (events
    expected at the pooled rate) columns per indicator, n_red, n_amber, n_safety (safety indicators red or amber),
    worst_flag and sae_on_time (SAE reporting timeliness), each site compared with the other sites of its trial; and each
    (trial, indicator)'s peer baseline."""
    frame = frame.copy()
    baselines = {}
    for key, ind in metrics.SITE_INDICATORS.items():
        minimum = getattr(settings, ind.min_setting)
        found, by_trial = metrics.flag_peer_columns(
            frame["protocol_number"],
            frame[ind.numerator],
            frame[ind.denominator],
            kind=ind.kind,
            bad_side=ind.bad_side,
            min_denominator=minimum,
            amber=settings.flag_amber_z,
            red=settings.flag_red_z,
            min_events=settings.flag_min_events,
        )
        frame[f"z_{key}"] = found.z
        frame[f"flag_{key}"] = found.flag
        frame[f"side_{key}"] = found.side
        frame[f"withheld_{key}"] = found.withheld
        frame[f"expected_{key}"] = found.expected
        baselines.update({(protocol, key): baseline for protocol, baseline in by_trial.items()})
    flags = frame[[f"flag_{key}" for key in metrics.SITE_INDICATORS]]
    frame["n_red"] = (flags == "red").sum(axis=1)
    frame["n_amber"] = (flags == "amber").sum(axis=1)
    frame["worst_flag"] = [metrics.worst_health(*row) for row in flags.itertuples(index=False)]
    safety = [f"flag_{key}" for key, ind in metrics.SITE_INDICATORS.items() if ind.safety]
    frame["n_safety"] = frame[safety].isin(("red", "amber")).sum(axis=1)
    frame["sae_on_time"] = metrics.ratios(frame["n_sae_on_time"], frame["n_sae_due"])
    return frame, baselines


def flag_reason(row, key: str, settings: Settings) -> str | None:
    """Why a site's indicator `key` has the flag it has, in words, when that is not plain from its z: which side a
    two-sided flag is on, or why a flag was withheld (too few events) or not computed (no data, too small)."""
    ind = metrics.SITE_INDICATORS[key]
    flag, side = row[f"flag_{key}"], row[f"side_{key}"]
    if any(row[c] is None or pd.isna(row[c]) for c in (ind.numerator, ind.denominator)):
        return "No data: the trial has not loaded this source."
    if row[f"withheld_{key}"]:
        return (
            f"Flag withheld: {row[ind.numerator]:,.0f} event(s) observed and {row[f'expected_{key}']:.1f} expected at the "
            f"trial's pooled rate; a flag needs at least {settings.flag_min_events:g}."
        )
    if flag == "grey":
        return (
            f"Not compared: below the minimum {ind.denominator_label.lower()} ({getattr(settings, ind.min_setting):,})."
        )
    if flag in ("red", "amber") and ind.bad_side == "both":
        return "Low against peers: possible under-reporting." if side == "low" else "High against peers."
    return None


def qtl_status(limits: pd.DataFrame, kpis: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Each quality tolerance limit (queries.sites.qtl_limits rows) with the trial's figure as of the date and whether it
    is breached: `value` is the site indicator pooled over the trial's sites (`kpis`: protocol → site_kpis rows), in the
    indicator's unit as shown; `breached` is empty when the figure has no value yet (no data is not a breach)."""
    rows = []
    for r in limits.itertuples(index=False):
        ind = metrics.SITE_INDICATORS[r.qtl_figure]
        value = metrics.pooled_value(kpis[r.protocol_number], r.qtl_figure) if r.protocol_number in kpis else None
        breached = (
            None if value is None else (value > r.limit_value if r.direction == "above" else value < r.limit_value)
        )
        rows.append(
            {
                "protocol_number": r.protocol_number,
                "qtl_figure": r.qtl_figure,
                "label": ind.label,
                "unit": ind.unit,
                "limit_value": float(r.limit_value),
                "direction": r.direction,
                "value": value,
                "breached": breached,
            }
        )
    return pd.DataFrame(rows, columns=QTL_COLUMNS).astype({"value": "float64"})


QTL_COLUMNS = ["protocol_number", "qtl_figure", "label", "unit", "limit_value", "direction", "value", "breached"]


def qtl_values(row) -> tuple[str, str]:
    """A QTL's trial value and limit as written, in its unit: ("10.5%", "7.4%"), ("2.1", "3 per 100 subject-months")."""
    unit = row["unit"]
    percent = unit.startswith("%")
    value = (
        "no data" if row["value"] is None or pd.isna(row["value"]) else f"{row['value']:.3g}" + ("%" if percent else "")
    )
    return value, f"{row['limit_value']:g}" + ("%" if percent else f" {unit}")


def qtl_text(row) -> str:
    """A QTL and where its figure stands, in words: "QTL breached: Study discontinuation 10.5% > limit 7.4%"."""
    value, limit = qtl_values(row)
    sign = ">" if row["direction"] == "above" else "<"
    return f"QTL {'breached' if row['breached'] else 'set'}: {row['label']} {value} {sign} limit {limit}"


def cro_sae_timeliness(milestones: pd.DataFrame, trials: pd.DataFrame) -> pd.DataFrame:
    """SAE reporting timeliness per CRO: the SAEs due and reported on time (trial_health's n_sae_due, n_sae_on_time) of
    the trials where the vendor runs the clinical (CRO) lane, summed; empty where none of its trials has AE data."""
    pairs = milestones.loc[milestones["lane"] == "CRO", ["vendor_code", "protocol_number"]].drop_duplicates()
    counts = pairs.merge(trials[["protocol_number", "n_sae_due", "n_sae_on_time"]], on="protocol_number", how="left")
    counts = counts.astype({"n_sae_due": "float64", "n_sae_on_time": "float64"})
    out = counts.groupby("vendor_code", as_index=False)[["n_sae_due", "n_sae_on_time"]].sum(min_count=1)
    return out.assign(sae_on_time=metrics.ratios(out["n_sae_on_time"], out["n_sae_due"]))
