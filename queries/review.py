"""What a review action may be about and who may own it, read from the reporting database for the scope's trial
(the actions themselves live in the review database: dashboard/review)."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import Connection, Integer, String, and_, cast, func, literal, null, select, union_all

from dashboard.access import Scope
from dashboard.schema import milestone, site, sponsor, trial, user_access, vendor
from queries.common import frame, trial_conditions

_NONE = cast(null(), String)


def targets(conn: Connection, scope: Scope) -> pd.DataFrame:
    """One row per thing of the scope's trial an action can be about: the trial, each site, each milestone.

    Empty when the scope names no trial or one the user may not see."""
    if scope.trial is None:
        return pd.DataFrame(
            columns=["kind", "protocol_number", "sponsor_code", "site_number", "milestone_code", "label"]
        )
    seen = and_(*trial_conditions(scope))
    the_trial = (
        select(
            literal("trial", String).label("kind"),
            trial.c.protocol_number,
            sponsor.c.sponsor_code,
            _NONE.label("site_number"),
            _NONE.label("milestone_code"),
            trial.c.trial_title.label("label"),
            literal(0, Integer).label("rank"),
        )
        .join(sponsor, sponsor.c.sponsor_id == trial.c.sponsor_id)
        .where(seen)
    )
    sites = (
        select(
            literal("site", String).label("kind"),
            trial.c.protocol_number,
            sponsor.c.sponsor_code,
            site.c.site_number,
            _NONE.label("milestone_code"),
            site.c.site_name.label("label"),
            literal(1, Integer).label("rank"),
        )
        .join(trial, trial.c.trial_id == site.c.trial_id)
        .join(sponsor, sponsor.c.sponsor_id == trial.c.sponsor_id)
        .where(seen)
    )
    milestones = (
        select(
            literal("milestone", String).label("kind"),
            trial.c.protocol_number,
            sponsor.c.sponsor_code,
            _NONE.label("site_number"),
            milestone.c.milestone_code,
            (milestone.c.milestone_name + " (" + vendor.c.vendor_name + ")").label("label"),
            literal(2, Integer).label("rank"),
        )
        .join(trial, trial.c.trial_id == milestone.c.trial_id)
        .join(vendor, vendor.c.vendor_id == milestone.c.vendor_id)
        .join(sponsor, sponsor.c.sponsor_id == trial.c.sponsor_id)
        .where(seen, milestone.c.milestone_kind != "expiry")
    )
    every = union_all(the_trial, sites, milestones).subquery()
    query = select(
        every.c.kind,
        every.c.protocol_number,
        every.c.sponsor_code,
        every.c.site_number,
        every.c.milestone_code,
        every.c.label,
    ).order_by(every.c.rank, every.c.site_number, every.c.milestone_code)
    return frame(
        conn,
        query,
        {
            "kind": "str",
            "protocol_number": "str",
            "sponsor_code": "str",
            "site_number": "str",
            "milestone_code": "str",
            "label": "str",
        },
    )


def owners(conn: Connection, scope: Scope) -> pd.DataFrame:
    """One row per e-mail granted the sponsor of the scope's trial: who may own an action on it (lower-cased)."""
    if scope.trial is None:
        return pd.DataFrame({"user_email": pd.Series(dtype="string")})
    query = (
        select(func.lower(user_access.c.user_email).label("user_email"))
        .join(trial, trial.c.sponsor_id == user_access.c.sponsor_id)
        .where(and_(*trial_conditions(scope)))
        .distinct()
        .order_by("user_email")
    )
    return frame(conn, query, {"user_email": "str"})


QUERIES = [targets, owners]
# Queries about the scope's one trial: empty for a portfolio view (tests compare them on a trial's scope).
ONE_TRIAL = [targets, owners]
