"""The actions and notes of the weekly review on a page (issue 23): the list (overdue first), each one's history, and
the forms that add, edit and close them. The store is dashboard/review; who may own and what an action may be about
come from queries/review for the page's scope."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import streamlit as st
from sqlalchemy.exc import SQLAlchemyError

from dashboard import errors, registry, review
from dashboard.formats import day, md
from dashboard.metrics.sites import SITE_INDICATORS
from dashboard.settings import get_settings
from dashboard.ui.context import Context
from dashboard.ui.downloads import download_table
from dashboard.ui.widgets import cell, chip, html_table, markup

_FLASH = "_review_flash"
NOTE = ""  # the owner choice that makes a note


def responds_to() -> dict[str, str]:
    """What an action may respond to: every figure of the registry and every site indicator, key → words."""
    out = {key: f"Figure: {f.label}" for key, f in registry.FIGURES.items()}
    out.update({f"site:{key}": f"Site indicator: {ind.label}" for key, ind in SITE_INDICATORS.items()})
    return out


def _target(r) -> review.Target:
    """The Target a row of queries.review.targets names."""
    return review.Target(
        str(r.protocol_number),
        None if pd.isna(r.site_number) else str(r.site_number),
        None if pd.isna(r.milestone_code) else str(r.milestone_code),
    )


def _names(targets: pd.DataFrame) -> dict[tuple, str]:
    """The name of each site and milestone of the targets, by (kind, its number or code)."""
    return {
        (r.kind, r.site_number if r.kind == "site" else r.milestone_code): r.label
        for r in targets.itertuples(index=False)
        if r.kind != "trial"
    }


def _about(target: review.Target, labels: dict[tuple, str]) -> str:
    """What an action is about, in words: "The trial", "Site S1 · Boston General", "Milestone · Last patient in"."""
    if target.kind == "site":
        return f"Site {target.site_number} · {labels.get(('site', target.site_number), '')}".rstrip(" ·")
    if target.kind == "milestone":
        return f"Milestone · {labels.get(('milestone', target.milestone_code), target.milestone_code)}"
    return "The trial"


def _order(actions: list[review.Action], today: date) -> list[review.Action]:
    """Open ones first (overdue first, then by due date, notes last), then the closed, latest change first."""

    def key(a: review.Action):
        s = a.state
        if s.status != "open":
            return (2, 0, -a.history[-1].at.timestamp())
        return (0 if a.is_overdue(today) else 1, (s.due_date or date.max).toordinal(), a.action_id)

    return sorted(actions, key=key)


def _unavailable(ctx: Context, exc: BaseException) -> None:
    """The review database failed: say so where the actions would first be, log it with a reference; the page goes
    on without them."""
    if ctx.review_failed:
        return
    ctx.review_failed = True
    error = errors.review_error(exc)
    errors.report(error, exc, page=ctx.page, user=ctx.email)
    st.warning(error.message, icon="⚠️")


def actions_section(
    ctx: Context,
    targets: pd.DataFrame,
    owners: list[str],
    about: review.Target | None = None,
    kinds: tuple[str, ...] | None = None,
) -> None:
    """The review's actions and notes on the scope's trial (only those about `about`, or about things of `kinds`:
    "site", "milestone"), with forms to add, edit and close them when the view is today's; a past view shows them
    as they stood at its end, read-only. If the review database fails, a warning takes their place."""
    try:
        _section(ctx, targets, owners, about, kinds)
    except (SQLAlchemyError, OSError) as exc:
        _unavailable(ctx, exc)


def _key(r) -> str:
    """A target's natural key as a form value (not its position in a list that a reload may reorder)."""
    return f"{r.kind}|{'' if pd.isna(r.site_number) else r.site_number}|{'' if pd.isna(r.milestone_code) else r.milestone_code}"


def _section(
    ctx: Context, targets: pd.DataFrame, owners: list[str], about: review.Target | None, kinds: tuple[str, ...] | None
) -> None:
    settings = get_settings()
    if kinds is not None:
        targets = targets[targets["kind"].isin(kinds)].reset_index(drop=True)
    if about is not None:
        key = "site_number" if about.kind == "site" else "milestone_code"
        wanted = about.site_number if about.kind == "site" else about.milestone_code
        targets = targets[(targets["kind"] == about.kind) & (targets[key] == wanted)].reset_index(drop=True)
    if targets.empty:  # no trial in view, one the user may not see, or nothing of that kind
        return
    store = review.open_store(settings.review_database_url)
    protocol = str(targets["protocol_number"].iloc[0])
    sponsor_code = str(targets["sponsor_code"].iloc[0])
    today = ctx.today
    editable = ctx.scope.as_of >= today
    on = ctx.scope.as_of  # overdue as of the view's date: a past view shows what was overdue then
    author = ctx.email or review.DEMO_AUTHOR
    choices = responds_to()
    labels = _names(targets)
    allowed_owners = set(owners)

    flash = st.session_state.pop(_FLASH, None)
    if flash:
        st.success(flash)
    found = store.actions([protocol], until=review.visible_until(ctx.scope.as_of, today))
    if about is not None:
        found = [a for a in found if a.target == about]
    elif kinds is not None:
        found = [a for a in found if a.target.kind in kinds]
    found = _order(found, on)
    st.caption(
        (review.counts(found, on).text + "." if found else "None recorded yet.")
        + (
            ""
            if editable
            else f" As they stood at the end of {ctx.scope.as_of:%d %b %Y}; switch the as-of date to today "
            "to add or change one."
        )
    )

    def row(a: review.Action) -> dict:
        s = a.state
        late = a.is_overdue(on)
        status = (
            chip("red", "Overdue")
            if late
            else chip("green" if s.status == "open" else "grey", review.STATUS_LABEL[s.status])
        )
        return {
            "id": cell(f"#{a.action_id}"),
            "what": markup(
                '{}<br><span class="muted">{}{}</span>',
                s.text,
                _about(a.target, labels),
                f" · responds to {choices.get(s.responds_to, s.responds_to)}" if s.responds_to else "",
            ),
            "owner": cell(s.owner or "— (a note)"),
            "due": cell("—" if s.due_date is None else day(s.due_date)),
            "status": status,
            "changed": cell(f"{a.history[-1].at:%d %b %Y %H:%M} UTC by {a.history[-1].author}"),
        }

    columns = {
        "id": "#",
        "what": "Action or note",
        "owner": "Owner",
        "due": "Due",
        "status": "Status",
        "changed": "Last change",
    }
    if found:  # open ones first, then the done and dropped: one table, all of it on paper
        html_table([row(a) for a in found], columns, nowrap=("id", "due", "status"))
    if found:
        download_table(
            "⬇️ Download actions and notes (CSV)",
            lambda: _frame(found, labels, choices, on),
            f"actions_{protocol}_{ctx.scope.as_of}",
            sheet="Actions",
        )
        for a in found:
            short = a.state.text if len(a.state.text) <= 70 else a.state.text[:67] + "…"
            with st.expander(f"#{a.action_id} {md(short)} · {'history, edit' if editable else 'history'}"):
                html_table(
                    [
                        {
                            "at": cell(f"{e.at:%d %b %Y %H:%M} UTC"),
                            "who": cell(e.author),
                            "what": cell("; ".join(words) or "no change"),
                        }
                        for e, words in a.changes()
                    ],
                    {"at": "When", "who": "Who", "what": "What changed"},
                    nowrap=("at",),
                )
                if editable:
                    _edit_form(store, a, protocol, owners, allowed_owners, choices, today, author)
    if editable:
        _add_form(store, targets, sponsor_code, owners, allowed_owners, choices, today, author, about)


def _frame(found: list[review.Action], labels, choices, today: date) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "action_id": a.action_id,
                "about": _about(a.target, labels),
                "text": a.state.text,
                "owner": a.state.owner,
                "due_date": a.state.due_date,
                "status": "overdue" if a.is_overdue(today) else a.state.status,
                "responds_to": choices.get(a.state.responds_to) if a.state.responds_to else None,
                "created_at": a.created.at,
                "created_by": a.created.author,
                "changed_at": a.history[-1].at,
                "changed_by": a.history[-1].author,
            }
            for a in found
        ]
    )


def _state_inputs(
    prefix: str, owners: list[str], choices: dict[str, str], today: date, current: review.State | None = None
) -> dict:
    """The fields of an action as form widgets (inside a form), filled with `current` when editing."""
    text = st.text_area(
        "What was decided or noted",
        value=current.text if current else "",
        max_chars=review.MAX_TEXT,
        key=f"{prefix}_text",
    )
    owner_options = [NOTE, *owners]
    if current is not None and current.owner and current.owner not in owner_options:
        owner_options.append(current.owner)  # an owner who has since lost access stays visible (and is refused on save)
    left, middle, right = st.columns(3)
    owner = left.selectbox(
        "Owner",
        owner_options,
        key=f"{prefix}_owner",
        index=owner_options.index(current.owner) if current and current.owner else 0,
        format_func=lambda o: "Nobody: it is a note" if o == NOTE else o,
    )
    due = middle.date_input(
        "Due (actions only)",
        value=(current.due_date if current and current.due_date else today + timedelta(days=7)),
        min_value=review.model.EARLIEST_DUE,
        key=f"{prefix}_due",
    )
    status = current.status if current else "open"
    if current is not None:
        status = right.selectbox(
            "Status",
            review.STATUSES,
            index=review.STATUSES.index(current.status),
            format_func=review.STATUS_LABEL.get,
            key=f"{prefix}_status",
        )
    keys = [NOTE, *choices]
    respond = st.selectbox(
        "Responds to (optional)",
        keys,
        key=f"{prefix}_responds",
        index=keys.index(current.responds_to) if current and current.responds_to in keys else 0,
        format_func=lambda k: "—" if k == NOTE else choices[k],
    )
    return {"text": text, "owner": owner or None, "due_date": due, "status": status, "responds_to": respond or None}


def _add_form(store, targets, sponsor_code, owners, allowed_owners, choices, today, author, about) -> None:
    rows = {_key(r): r for r in targets.itertuples(index=False)}
    with st.form("review_add", clear_on_submit=False):
        st.markdown("**Add an action or note**")
        if about is None:
            names = _names(targets)
            labels = {k: _about(_target(r), names) for k, r in rows.items()}
            chosen = st.selectbox("About", list(rows), format_func=labels.get, key="review_add_about")
        values = _state_inputs("review_add", owners, choices, today)
        if not st.form_submit_button("Add"):
            return
    if about is None:
        r = rows.get(chosen)
        if r is None:
            st.error("Not added: that site or milestone is no longer part of the trial.")
            return
        target = _target(r)
    else:
        target = about
    try:
        state = review.check_state(**values, owners=allowed_owners, responds=choices, today=today)
    except review.Refused as refused:
        st.error(f"Not added: {refused}")
        return
    action_id = store.create(target, sponsor_code, state, author)
    st.session_state[_FLASH] = f"Added #{action_id}" + (
        " as a note." if state.is_note else f", owned by {md(state.owner)}."
    )
    for key in [k for k in st.session_state if str(k).startswith("review_add_")]:
        del st.session_state[key]  # an empty form for the next one (a refused entry keeps what was typed)
    st.rerun()


def _edit_form(store, action, protocol, owners, allowed_owners, choices, today, author) -> None:
    prefix = f"review_edit_{action.action_id}"
    with st.form(prefix):
        values = _state_inputs(prefix, owners, choices, today, action.state)
        if not st.form_submit_button("Save changes"):
            return
    # An owner who has since lost access may stay the owner (the action can still be closed); a new one may not.
    keep = {action.state.owner} if action.state.owner else set()
    try:
        state = review.check_state(**values, owners=allowed_owners | keep, responds=choices, today=today)
        changed = store.change(action.action_id, [protocol], state, author, seen=len(action.history))
    except review.Refused as refused:
        st.error(f"Not saved: {refused}")
        return
    st.session_state[_FLASH] = f"Saved #{action.action_id}." if changed else f"#{action.action_id} is unchanged."
    st.rerun()


def open_counts(ctx: Context, protocols: list[str]) -> dict[str, review.Counts]:
    """Each trial's Counts of actions as the view shows them (the Portfolio's "why" column); trials without any are
    left out."""
    try:
        store = review.open_store(get_settings().review_database_url)
        found = store.actions(protocols, until=review.visible_until(ctx.scope.as_of, ctx.today))
    except (SQLAlchemyError, OSError) as exc:
        _unavailable(ctx, exc)
        return {}
    by_trial: dict[str, list[review.Action]] = {}
    for a in found:
        by_trial.setdefault(a.target.protocol_number, []).append(a)
    return {p: review.counts(actions, ctx.scope.as_of) for p, actions in by_trial.items()}
