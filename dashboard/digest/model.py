"""What the digest says, worked out: the figures of the view now and on the compare date, per trial."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import pandas as pd
from sqlalchemy import Connection
from sqlalchemy.exc import SQLAlchemyError

from dashboard import access, errors, health, registry, review
from dashboard.db import UsageError
from dashboard.forecast import Forecasts
from dashboard.links import ViewState, page_url
from dashboard.settings import Settings
from queries import overview, portfolio

# Open milestones expected within this many days after as_of are listed as due soon.
DUE_SOON_DAYS = 30
# A longer list is cut here, with a link to the page that has all of it.
MAX_ROWS = 10
DIMENSIONS = ("enrollment", "budget", "schedule")


# --- What the digest says, computed ------------------------------------------------------------


@dataclass
class Digest:
    """One digest's figures: every trial in the scope as of `as_of` and as of `since`, the milestones, the load time."""

    scope: access.Scope
    view: ViewState  # the link state: sponsor filter (if any), as_of and since, always explicit
    sponsors: list[access.Grant]
    user: str | None
    now: registry.Basis  # what the figures are computed from, as of as_of (the pages' own basis)
    then: registry.Basis  # the same, as of since
    trials: pd.DataFrame  # health.trial_health as of as_of, with `<column>_then` as of since
    milestones: pd.DataFrame  # health.milestone_statuses as of as_of, with status_then
    changes: pd.DataFrame  # vendors.forecast_changes between since and as_of, with each milestone's kind and status
    supply: pd.DataFrame  # supply risks (conflicts and near misses) whose clinical milestone is open, worst first
    loaded_at: datetime | None
    settings: Settings
    published: tuple[pd.Series | None, pd.Series | None] = (None, None)  # the snapshots read for as_of and since
    # The review's actions and notes on these trials as the view shows them (None: the review database could not be read).
    actions: list[review.Action] | None = None
    built_at: datetime = field(default_factory=lambda: datetime.now(UTC).replace(tzinfo=None))

    @property
    def as_of(self) -> date:
        return self.scope.as_of

    @property
    def since(self) -> date:
        return self.scope.since

    def link(self, page: str, trial: str | None = None, site: str | None = None) -> str:
        """The absolute address of `page` showing this digest's view (and `trial`, `site`), dates explicit."""
        return page_url(
            page, self.view.model_copy(update={"trial": trial, "site": site}), base_url=self.settings.public_base_url
        )

    def figure(self, key: str, trial: str | None = None) -> registry.Value:
        """A registry figure of the digest's view (or of one trial), with its change over the period."""
        if trial is None:
            return registry.evaluate(key, self.now, self.then)
        return registry.evaluate(key, self.now.of_trial(trial), self.then.of_trial(trial))


# What the health-change sections compare between since and as_of.
COMPARED = (
    "overall_health",
    "enrollment_health",
    "budget_health",
    "schedule_health",
    "n_enrolled",
    "cpi",
    "p_meet_plan",
)


def _with_then(now: pd.DataFrame, then: pd.DataFrame) -> pd.DataFrame:
    """`now` with each compared column as of the compare date beside it, as `<column>_then` (empty for a new trial)."""
    for frame in (now, then):
        if "p_meet_plan" not in frame:
            frame["p_meet_plan"] = pd.Series(dtype="float64")
    return now.merge(
        then[["protocol_number", *COMPARED]].rename(columns={c: f"{c}_then" for c in COMPARED}),
        on="protocol_number",
        how="left",
    )


def build_digest(
    conn: Connection,
    grants: list[access.Grant],
    view: ViewState,
    settings: Settings,
    *,
    user: str | None = None,
    predict: Callable | None = None,
) -> Digest:
    """The digest for `grants` (a user's access) and `view` (as_of, required; since; an optional sponsor among the grants)."""
    scope, notices = access.make_scope(grants, view, view.as_of)
    if notices:
        raise UsageError(notices[0])
    run = overview.connected(conn)
    compose = overview.direct(run, settings, predict or Forecasts())
    now = overview.view_basis(compose, scope, settings, vendor=True)
    then = overview.view_basis(compose, overview.then_scope(scope), settings, vendor=True)
    trials = _with_then(now.trials.copy(), then.trials.copy())
    statuses = now.milestones.merge(
        then.milestones[["protocol_number", "milestone_code", "status"]].rename(columns={"status": "status_then"}),
        on=["protocol_number", "milestone_code"],
        how="left",
    )
    loads = portfolio.freshness(conn, scope)
    loaded_at = None if loads.empty else pd.Timestamp(loads.iloc[0]["loaded_at"]).to_pydatetime()
    in_scope = [g for g in grants if g.sponsor_id in scope.sponsor_ids]
    link_view = ViewState(sponsor=view.sponsor, as_of=scope.as_of, since=scope.since)
    return Digest(
        scope,
        link_view,
        in_scope,
        user,
        now,
        then,
        trials,
        statuses,
        now.moved,
        health.open_supply_risks(now.supply),
        loaded_at,
        settings,
        (overview.publication(run, scope, settings), overview.publication(run, overview.then_scope(scope), settings)),
        actions=_actions(settings, list(trials["protocol_number"]), scope.as_of),
    )


def _actions(settings: Settings, protocols: list[str], as_of: date) -> list[review.Action] | None:
    """The actions on `protocols` as a page of the same view shows them; None when the review database cannot be read
    (the e-mail says so rather than not going out)."""
    try:
        store = review.open_store(settings.review_database_url)
        return store.actions(protocols, until=review.visible_until(as_of, settings.today or date.today()))
    except (SQLAlchemyError, OSError) as exc:  # logged with a reference, as a page does; the e-mail says it
        errors.report(errors.review_error(exc), exc, page="digest")
        return None
