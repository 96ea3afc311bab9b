"""What the figures of a view are computed from, composed from several queries the same way for every page, the
status e-mail and the figures command: every trial's health, its sites' flags, its vendors' risks.

Each composed part is read from the snapshot published for the view (dashboard/snapshot.py) when there is one for its
as-of and compare dates under this server's settings, and computed live otherwise (`live=True` always computes: the
snapshot command publishes what it computes). Either way it is the same part, so a figure reads the same.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd
from sqlalchemy import Connection

from dashboard import drift, health, published
from dashboard.access import Scope
from dashboard.registry import Basis
from dashboard.settings import Settings
from queries import budget, enrollment, portfolio, sites, snapshots, vendors

# Runs a query function of this package for a scope: the pages pass ui.cached, the command lines a connection.
Run = Callable[[Callable[..., pd.DataFrame], Scope], pd.DataFrame]
# Runs a composed function of this module for a scope: the pages pass ui.composed (cached), the command lines
# call it with their run, settings and forecast.
Compose = Callable[[Callable, Scope], object]


@dataclass
class TrialHealth:
    """One row per trial of the scope with its health (domain.md §7), and what it was computed from."""

    trials: pd.DataFrame
    milestones: pd.DataFrame  # health.milestone_statuses rows
    sites: pd.DataFrame  # enrollment.sites rows
    outlooks: dict[str, health.Outlook]
    qtls: pd.DataFrame  # health.qtl_status rows


def publication(run: Run, scope: Scope, settings: Settings) -> pd.Series | None:
    """The snapshot published for the scope's view (a snapshots.published row), or None when there is none to read:
    none for its as-of date, one with another compare date, or one computed under other thresholds."""
    if not settings.read_snapshots:
        return None
    rows = run(snapshots.published, scope)
    if rows.empty:
        return None
    row = rows.iloc[0]
    if row["compare_date"].date() != scope.since or row["settings_key"] != published.settings_key(settings):
        return None
    return row


_PART_QUERIES = {
    "trial_health": snapshots.trial_health_parts,
    "trial_facts": snapshots.trial_facts_parts,
    "flagged_sites": snapshots.flagged_sites_parts,
    "vendor_risks": snapshots.vendor_risks_parts,
}


def _published(run: Run, scope: Scope, settings: Settings, name: str, cls: type):
    """The composed part `name` of the scope's trials from the published snapshot, or None to compute it live (no
    snapshot to read, or none of the scope's trials in it)."""
    if publication(run, scope, settings) is None:
        return None
    rows = run(_PART_QUERIES[name], scope)
    if rows.empty:
        return None
    frames = {
        field: published.decode(list(rows.loc[rows["part_name"] == stored, "payload"]))
        for field, stored in snapshots.PART_FRAMES[name].items()
    }
    if name == "trial_facts":  # health without forecasts: no outlooks, as trial_facts computes it
        frames["outlooks"] = published.outlook_rows({})
    return published.part_from(cls, frames)


def trial_health(
    run: Run, scope: Scope, settings: Settings, predict: Callable | None, *, live: bool = False
) -> TrialHealth:
    """Every trial of the scope with its enrollment, budget, schedule and overall health as of scope.as_of.

    Without `predict` nothing is forecast: no outlooks, and enrollment health from enrolled ÷ planned to date only
    (for views that show no forecast figure, so they do not pay for forecasting every trial).
    """
    if not live:
        found = _published(run, scope, settings, "trial_facts" if predict is None else "trial_health", TrialHealth)
        if found is not None:
            return found
    summary = run(portfolio.trial_summary, scope)
    statuses = health.milestone_statuses(run(vendors.milestones, scope), scope.as_of, settings)
    site_rows = run(enrollment.sites, scope)
    outlooks = (
        {}
        if predict is None
        else health.enrollment_outlooks(
            summary,
            run(enrollment.forecast_inputs, scope),
            site_rows,
            statuses,
            scope.as_of,
            predict,
            settings,
            run(enrollment.enrollment_history, scope),
            drift_priors(run, scope, list(summary["protocol_number"])),
        )
    )
    trials = health.trial_health(summary, run(budget.evm_by_trial, scope), statuses, scope.as_of, settings, outlooks)
    safety = run(sites.safety_by_trial, scope)
    trials = trials.merge(safety[["protocol_number", "n_sae_due", "n_sae_on_time"]], on="protocol_number", how="left")
    return TrialHealth(trials, statuses, site_rows, outlooks, quality_limits(run, scope))


def drift_priors(run: Run, scope: Scope, protocols: list[str]) -> dict[str, drift.Prior]:
    """The drift prior of each trial of `protocols` (health.drift_priors), learned from the other trials of its sponsor,
    whatever the view's filters: one trial's forecast is the same on every page. Only the scope's sponsors (the user's)
    that own one of `protocols` are read."""
    priors: dict[str, drift.Prior] = {}
    wanted = set(protocols)
    for sponsor_id in scope.sponsor_ids:
        # The view's own since (the prior does not depend on it): the whole portfolio of one sponsor is this very scope.
        whole = Scope(sponsor_ids=(sponsor_id,), as_of=scope.as_of, since=scope.since)
        owned = sorted(wanted & set(run(portfolio.trial_options, whole)["protocol_number"]))
        if not owned:
            continue
        priors.update(
            health.drift_priors(
                run(enrollment.forecast_inputs, whole),
                run(enrollment.enrollment_history, whole),
                run(portfolio.trial_summary, whole),
                owned,
            )
        )
    return priors


def quality_limits(run: Run, scope: Scope) -> pd.DataFrame:
    """The QTLs of the scope's trials with each trial's figure (its sites' indicator, pooled) and whether it is breached."""
    limits = run(sites.qtl_limits, scope)
    if limits.empty:
        return health.qtl_status(limits, {})
    # The same site_kpis call as flagged_sites' (every site of the scope's trials, cached once on the pages): a trial's
    # sites are its rows, so one query serves every trial instead of one per trial.
    kpis = dict(tuple(run(sites.site_kpis, scope.replace(site=None)).groupby("protocol_number", sort=False)))
    return health.qtl_status(limits, kpis)


def trial_facts(
    run: Run, scope: Scope, settings: Settings, predict: Callable | None = None, *, live: bool = False
) -> TrialHealth:
    """trial_health without forecasts (see there)."""
    return trial_health(run, scope, settings, None, live=live)


@dataclass
class FlaggedSites:
    """Every site of the scope's trials (site_kpis rows) flagged against the peers of its trial, and the baselines."""

    sites: pd.DataFrame
    baselines: dict  # (protocol_number, indicator) → metrics.PeerBaseline


def flagged_sites(
    run: Run, scope: Scope, settings: Settings, predict: Callable | None = None, *, live: bool = False
) -> FlaggedSites:
    """Flag every site of the scope's trials (the whole trial, whichever site is in view: peers need all of them)."""
    if not live:
        found = _published(run, scope.replace(site=None), settings, "flagged_sites", FlaggedSites)
        if found is not None:
            return found
    frame, baselines = health.flag_sites_by_trial(run(sites.site_kpis, scope.replace(site=None)), settings)
    return FlaggedSites(frame, baselines)


@dataclass
class VendorRisks:
    """The scope's supply links with their risk (health.supply_risks), and the milestone forecasts that moved
    between the compare date and the as-of date (vendors.forecast_changes with each milestone's kind and status)."""

    supply: pd.DataFrame
    moved: pd.DataFrame


def vendor_risks(
    run: Run, scope: Scope, settings: Settings, predict: Callable | None = None, *, live: bool = False
) -> VendorRisks:
    """Supply risks and moved forecasts of the scope's trials as of scope.as_of."""
    if not live:
        found = _published(run, scope, settings, "vendor_risks", VendorRisks)
        if found is not None:
            return found
    supply = health.supply_risks(run(vendors.supply_links, scope), settings)
    statuses = health.milestone_statuses(run(vendors.milestones, scope), scope.as_of, settings)
    moved = run(vendors.forecast_changes, scope).merge(
        statuses[["protocol_number", "milestone_code", "milestone_kind", "slip_days", "status", "rag"]],
        on=["protocol_number", "milestone_code"],
        how="left",
    )
    return VendorRisks(supply, moved)


def view_basis(
    compose: Compose,
    scope: Scope,
    settings: Settings,
    *,
    forecast: bool = True,
    flags: bool = False,
    vendor: bool = False,
) -> Basis:
    """The registry's Basis for the view of `scope`: its trials' health (forecast unless `forecast` is False), and
    (when asked) their sites' flags and vendor risks, each composed through `compose` (ui.composed on the pages, so
    each part is cached by scope)."""
    found = compose(trial_health if forecast else trial_facts, scope)
    flagged = compose(flagged_sites, scope.replace(site=None)) if flags else None
    risks = compose(vendor_risks, scope) if vendor else None
    return Basis(
        scope.as_of,
        settings,
        found.trials,
        found.milestones,
        found.outlooks,
        found.sites,
        qtls=found.qtls,
        flags=None if flagged is None else flagged.sites,
        supply=None if risks is None else risks.supply,
        moved=None if risks is None else risks.moved,
        forecast=forecast,
    )


def then_scope(scope: Scope) -> Scope:
    """The same view as of its compare date (`since`), to show what changed."""
    return scope.replace(as_of=scope.since, since=scope.since - (scope.as_of - scope.since))


def connected(conn: Connection) -> Run:
    """The command lines' Run on `conn`: each query once per scope (the views' parts share most of theirs, as the pages'
    cache does), each caller given its own copy of a frame."""
    memo: dict = {}

    def run(query: Callable[..., pd.DataFrame], scope: Scope) -> pd.DataFrame:
        key = (query.__module__, query.__qualname__, scope)
        if key not in memo:
            memo[key] = query(conn, scope)
        found = memo[key]
        return found.copy() if isinstance(found, pd.DataFrame) else found

    return run


def direct(run: Run, settings: Settings, predict: Callable) -> Compose:
    """A Compose for the command lines: each composed function called straight away with `run`."""
    return lambda function, scope: function(run, scope, settings, predict)
