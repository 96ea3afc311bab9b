"""Every trial's health, composed from several queries the same way for every page and the status e-mail."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from dashboard import health
from dashboard.access import Scope
from dashboard.settings import Settings
from queries import budget, enrollment, portfolio, sites, vendors

# Runs a query function of this package for a scope: the pages pass ui.cached, the digest a connection.
Run = Callable[[Callable[..., pd.DataFrame], Scope], pd.DataFrame]


@dataclass
class TrialHealth:
    """One row per trial of the scope with its health (domain.md §7), and what it was computed from."""

    trials: pd.DataFrame
    milestones: pd.DataFrame
    sites: pd.DataFrame
    outlooks: dict[str, health.Outlook]


def trial_health(run: Run, scope: Scope, settings: Settings, predict: Callable) -> TrialHealth:
    """Every trial of the scope with its enrollment, budget, schedule and overall health as of scope.as_of."""
    summary = run(portfolio.trial_summary, scope)
    milestones = run(vendors.milestones, scope)
    sites = run(enrollment.sites, scope)
    outlooks = health.enrollment_outlooks(
        summary, run(enrollment.forecast_inputs, scope), sites, milestones, scope.as_of, predict, settings
    )
    trials = health.trial_health(summary, run(budget.evm_by_trial, scope), milestones, scope.as_of, settings, outlooks)
    return TrialHealth(trials, milestones, sites, outlooks)


@dataclass
class FlaggedSites:
    """Every site of the scope's trials (site_kpis rows) flagged against the peers of its trial, and the baselines."""

    sites: pd.DataFrame
    baselines: dict  # (protocol_number, indicator) → metrics.PeerBaseline


def flagged_sites(run: Run, scope: Scope, settings: Settings, predict: Callable | None = None) -> FlaggedSites:
    """Flag every site of the scope's trials (the whole trial, whichever site is in view: peers need all of them)."""
    frame, baselines = health.flag_sites_by_trial(run(sites.site_kpis, scope.replace(site=None)), settings)
    return FlaggedSites(frame, baselines)


def then_scope(scope: Scope) -> Scope:
    """The same view as of its compare date (`since`), to show what changed."""
    return scope.replace(as_of=scope.since, since=scope.since - (scope.as_of - scope.since))


# What the "changed" column and the digest compare between since and as_of.
COMPARED = ("overall_health", "enrollment_health", "budget_health", "schedule_health", "n_enrolled", "n_milestones_late",
            "n_sites_active", "cpi", "p_meet_plan")


def with_then(now: pd.DataFrame, then: pd.DataFrame) -> pd.DataFrame:
    """`now` with each compared column as of the compare date beside it, as `<column>_then` (empty for a new trial)."""
    kept = [c for c in COMPARED if c in then.columns]
    return now.merge(
        then[["protocol_number", *kept]].rename(columns={c: f"{c}_then" for c in kept}), on="protocol_number", how="left"
    )
