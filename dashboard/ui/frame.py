"""The frame around every page: the sidebar filters bound to the address, the menu, the shareable link, notices,
the freshness line, and what a page that cannot be shown says."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import NoReturn

import pandas as pd
import streamlit as st
from streamlit.errors import StreamlitAPIException

from dashboard import access, errors, published
from dashboard.formats import day, md
from dashboard.links import (
    COMPARE_DAYS,
    EARLIEST_DATE,
    KEYS,
    LATEST_DATE,
    PAGES,
    ViewState,
    applies,
    page_url,
    parse_view,
    shareable,
    to_query,
)
from dashboard.metrics import HEALTH_LABEL
from dashboard.schema import PHASES
from dashboard.settings import get_settings
from dashboard.ui import cache
from dashboard.ui.auth import _stop_with, identify, sign_out_control
from dashboard.ui.context import _CONTEXT_KEY, Context
from dashboard.ui.widgets import render


def build_frame(list_trials: Callable[..., pd.DataFrame], page: str) -> Context:
    """Sign the user in, parse the URL, resolve the grants, draw the sidebar filters bound to the URL; returns the Context.

    `list_trials(conn, scope)` lists every trial of the scope's sponsors (the frame's trial choices);
    `page` is the page being opened.
    """
    today = get_settings().today or date.today()
    email = identify(page)
    view, notices = parse_view(st.query_params.to_dict())
    with cache.reading(get_settings().database_url) as conn:
        grants = access.granted_sponsors(conn, email)
    if not grants:
        _stop_with(
            f"You are signed in as {email}, but you have no access to any sponsor's trials. "
            "Ask your dashboard administrator to grant you access.",
            sign_out=True,
        )
    all_scope, scope_notices = access.make_scope(grants, view.model_copy(update={"sponsor": None}), today)
    trials = cache.cached(list_trials, all_scope)  # looked up when it runs: the benchmark traces it

    # Tell the user about a trial the link names that they cannot see (or that does not exist): same words for both.
    if view.trial is not None and view.trial not in set(trials["protocol_number"]):
        notices.append(f"Trial {view.trial!r} was not found among the trials you can see; showing the whole portfolio.")
        view = view.model_copy(update={"trial": None, "site": None})
    if view.ta is not None and view.ta not in set(trials["therapeutic_area"]):
        notices.append(f"No trials in therapeutic area {view.ta!r}; the area filter was dropped.")
        view = view.model_copy(update={"ta": None})

    with st.sidebar:
        st.markdown("### 📊 Trial portfolio")
        if email is None:
            st.caption("🧪 **Demo mode**: every sponsor is visible.")
        else:
            st.caption(f"Signed in as {md(email)}")
            sign_out_control(st)
        if len(grants) > 1:
            names = {g.sponsor_code: g.sponsor_name for g in grants}
            url_selectbox("Sponsor", list(names), "sponsor", names, view.sponsor, placeholder="All sponsors")
        sponsor_code = st.session_state.get("sponsor")
        choices = trials if not sponsor_code else trials[trials["sponsor_code"] == sponsor_code]
        st.selectbox(
            "Therapeutic area",
            sorted(choices["therapeutic_area"].unique()),
            index=None,
            key="ta",
            bind="query-params",
            placeholder="All areas",
        )
        st.selectbox("Phase", list(PHASES), index=None, key="phase", bind="query-params", placeholder="All phases")
        ta, phase = st.session_state.get("ta"), st.session_state.get("phase")
        if ta:
            choices = choices[choices["therapeutic_area"] == ta]
        if phase:
            choices = choices[choices["phase"] == phase]
        titles = dict(zip(trials["protocol_number"], trials["trial_title"]))
        trial_choices = list(choices["protocol_number"])
        if view.trial and view.trial not in trial_choices:
            trial_choices.append(view.trial)
        st.selectbox(
            "Trial", trial_choices, index=None, key="trial", bind="query-params", placeholder="All trials (portfolio)"
        )
        if st.session_state.get("trial") in titles:
            st.caption(md(titles[st.session_state["trial"]]))
        _sync_dates_with_url(view, today)
        st.date_input(
            "As of",
            min_value=EARLIEST_DATE,
            max_value=LATEST_DATE,
            key="as_of",
            format="YYYY-MM-DD",
            on_change=_as_of_changed,
            args=(today,),
            help="Empty: today.",
        )
        st.date_input(
            "Compare with",
            min_value=EARLIEST_DATE,
            max_value=LATEST_DATE,
            key="since",
            format="YYYY-MM-DD",
            on_change=_since_changed,
            help=f"Headline figures show their change since this date (empty: {COMPARE_DAYS} days before the as-of date).",
        )

    # The widgets now hold the view (they restored it from the URL, or the user changed it).
    as_of = st.session_state.get("as_of") or today
    since = st.session_state.get("since") or as_of - timedelta(days=COMPARE_DAYS)
    view = view.model_copy(
        update={
            "sponsor": st.session_state.get("sponsor"),
            "trial": st.session_state.get("trial"),
            "ta": st.session_state.get("ta"),
            "phase": st.session_state.get("phase"),
            "as_of": as_of,
            "since": since,
        }
    )
    _write_url(as_of, since, page)
    if view.trial is not None:
        # A chosen trial decides its own sponsor, phase and area; say so when the link's filters disagree.
        row = trials[trials["protocol_number"] == view.trial].iloc[0]
        clashes = [
            f"{label} {wanted}"
            for label, wanted, actual in (
                ("sponsor", view.sponsor, row["sponsor_code"]),
                ("area", view.ta, row["therapeutic_area"]),
                ("phase", view.phase, row["phase"]),
            )
            if wanted is not None and wanted != actual
        ]
        if clashes:
            notices.append(f"Trial {view.trial} is not in the filter ({', '.join(clashes)}); showing the trial.")
    scope, scope_notices = access.make_scope(
        grants, view.model_copy(update={"sponsor": None}) if view.trial else view, today
    )
    if scope.trial is not None:
        scope = scope.replace(phase=None, ta=None)
    if scope.as_of > today:
        notices.append(
            f"The as-of date {scope.as_of} is in the future: figures show the data as loaded, and forecasts count as not yet done."
        )
    notices.extend(n for n in scope_notices if n not in notices)
    ctx = Context(view=view, scope=scope, today=today, grants=grants, trials=trials, notices=notices, email=email)
    st.session_state[_CONTEXT_KEY] = ctx
    return ctx


# Sidebar widgets bound to the URL: Streamlit writes these keys into the address itself.
BOUND_KEYS = ("ta", "phase", "trial")

# The dates the frame last wrote into the address (session state): a URL that differs was changed from outside (a
# link, the browser's back button), and then the URL wins over the widgets.
_URL_DATES_KEY = "_dashboard_url_dates"


def _sync_dates_with_url(view: ViewState, today: date) -> None:
    """Before the date widgets are drawn: take the URL's dates when the URL changed since the frame last wrote it.

    The dates are not bound to the URL by Streamlit (a bound widget drops its value from the address when it equals
    the default, and "as of today" would then mean a different day tomorrow): the frame writes them itself, always
    explicit, so a copied address shows the same figures later.
    """
    url_dates = (view.as_of, view.since)
    if st.session_state.get(_URL_DATES_KEY) != url_dates or "as_of" not in st.session_state:
        as_of = view.as_of or today
        st.session_state["as_of"] = as_of
        st.session_state["since"] = view.since or as_of - timedelta(days=COMPARE_DAYS)


# The values url_selectbox last wrote into the address, by key.
_URL_VALUES_KEY = "_dashboard_url_values"


def url_selectbox(
    label: str,
    options: list[str],
    key: str,
    labels: dict[str, str],
    url_value: str | None,
    *,
    container=None,
    placeholder: str | None = None,
    **kwargs,
) -> str | None:
    """A selectbox that shows people's words (`labels`) while the address keeps the stable code under `key`.

    Streamlit's bind="query-params" would write the displayed words into the URL; this writes the code itself. The
    URL wins when it changed since this widget last wrote it (a pasted link, the back button); otherwise the widget.
    With a placeholder the box may be empty (None: the key leaves the address); without one, the first option is the
    default and the address always says the choice.
    """
    written = st.session_state.setdefault(_URL_VALUES_KEY, {})
    if written.get(key, "unset") != url_value or key not in st.session_state:
        st.session_state[key] = url_value if url_value in options else (None if placeholder else options[0])
    target = container or st
    # The value comes from the session state set above, so no index is passed (Streamlit would warn of two sources).
    value = target.selectbox(
        label, options, key=key, format_func=lambda code: labels.get(code, code), placeholder=placeholder, **kwargs
    )
    written[key] = value
    if value is None:
        if key in st.query_params:
            del st.query_params[key]
    elif st.query_params.get(key) != value:
        st.query_params[key] = value
    return value


def _as_of_changed(today: date) -> None:
    """The user moved the as-of date: a comparison date that followed it (a week before) follows it again."""
    old_as_of, old_since = st.session_state.get(_URL_DATES_KEY) or (None, None)
    as_of = st.session_state.get("as_of") or today
    st.session_state["as_of"] = as_of
    if old_as_of is None or old_since is None or old_since == old_as_of - timedelta(days=COMPARE_DAYS):
        st.session_state["since"] = as_of - timedelta(days=COMPARE_DAYS)


def _since_changed() -> None:
    """An emptied comparison date means the default again: a week before the as-of date."""
    if st.session_state.get("since") is None and st.session_state.get("as_of") is not None:
        st.session_state["since"] = st.session_state["as_of"] - timedelta(days=COMPARE_DAYS)


def _write_url(as_of: date, since: date, page: str) -> None:
    """Put the view's dates into the address, explicit, and take out the keys this page does not read."""
    st.session_state[_URL_DATES_KEY] = (as_of, since)
    wanted = {"as_of": as_of.isoformat(), "since": since.isoformat()}
    if any(st.query_params.get(k) != v for k, v in wanted.items()):
        st.query_params.update(wanted)
    # The table's page is put back by page_of when the page has a long table.
    for key in [k for k in st.query_params if k in KEYS and not applies(k, page)]:
        try:
            del st.query_params[key]
        except StreamlitAPIException:  # still bound to a widget of the page the user came from
            pass


def menu(ctx: Context, pages: dict[str, st.Page]) -> None:
    """The page menu in the sidebar, carrying the view state (the built-in menu would drop it).

    The bound widgets put their own keys back into the address on navigation, so the links carry
    only the other keys (the dates among them): passing a bound key too would repeat it with every click.
    """
    with st.sidebar:
        st.divider()
        for name, page in pages.items():
            query = {k: v for k, v in to_query(ctx.view, name).items() if k not in BOUND_KEYS}
            st.page_link(page, label=PAGES[name], query_params=query or None)


def canonical_link(ctx: Context, page: str) -> str:
    """The canonical link to this view: the public address, the page, every key, the dates made explicit."""
    return page_url(page, shareable(ctx.view, ctx.today), base_url=get_settings().public_base_url, table_page=True)


def share_link(ctx: Context, page: str):
    """Make room in the sidebar for the canonical link to this view; returns a function that fills it in once the page
    has drawn (the page of a long table is known only then; a page that ends early ends with end_page, not st.stop,
    after which Streamlit draws nothing more)."""
    with st.sidebar:
        st.caption("🔗 Link to this view (dates fixed, so it shows the same figures later)")
        slot = st.empty()

    def fill() -> str:
        url = canonical_link(ctx, page)
        # Text with a copy button (templates/share_link.html), not st.code: st.code loads and compiles Streamlit's
        # syntax highlighter, about 0.5 s of the browser's CPU on every page (the portfolio's renderer 2.4 s -> 1.9 s).
        slot.html(render("share_link.html", url=url), unsafe_allow_javascript=True)
        return url

    return fill


class PageEnd(Exception):
    """A page has said all it has to say (end_page): the frame still finishes it (its link), as st.stop would not let it."""


def end_page() -> NoReturn:
    """End the page here, as st.stop does, but let the frame draw what it draws after the page (app.py)."""
    raise PageEnd


def show_notices(ctx: Context) -> None:
    """Plain sentences about anything in the link that was dropped."""
    for notice in ctx.notices:
        st.warning(md(notice), icon="⚠️")


def freshness_line(ctx: Context, loads: pd.DataFrame, publication: pd.Series | None = None) -> None:
    """When the data was last loaded (`loads`: the latest load), whether the view's figures were published or computed
    now (`publication`: queries.overview.publication), with a warning when older than the staleness setting."""
    if loads.empty:
        st.warning("No data load has been recorded: figures may be incomplete.", icon="⚠️")
        return
    load = loads.iloc[0]
    loaded_at = pd.Timestamp(load["loaded_at"]).to_pydatetime()
    age_hours = (datetime.now(UTC).replace(tzinfo=None) - loaded_at).total_seconds() / 3600
    text = (
        f"Data loaded {day(loaded_at)} {loaded_at:%H:%M} UTC ({_age(age_hours)} ago) · showing as of "
        f"{day(ctx.scope.as_of)} · {published.provenance(publication)}"
    )
    stale_after = get_settings().stale_after_hours
    if age_hours > stale_after:
        st.warning(text + f" — older than {stale_after:g} hours: figures may be out of date.", icon="⏳")
    else:
        st.caption("🕒 " + text)


def _age(hours: float) -> str:
    if hours < 1:
        return f"{max(hours * 60, 0):.0f} min"
    if hours < 48:
        return f"{hours:.0f} h"
    return f"{hours / 24:.0f} days"


def health_label(health: str) -> str:
    """The icon and word for a health colour (never colour alone)."""
    return HEALTH_LABEL[health]


def show_error(exc: Exception, page: str | None, email: str | None) -> None:
    """What the user sees when a page cannot be shown: a sentence that fits the error (an outage: try again; a
    timeout: narrow the view; a bug: a reference to give the administrator), never a traceback; the log gets the
    traceback under the same reference."""
    error = errors.named(exc)
    errors.report(error, exc, page=page, user=email)
    st.error(error.message, icon="⏳" if isinstance(error, errors.StatementTimeout) else "🛑")
    if isinstance(error, errors.DatabaseUnreachable):
        # Failures are not cached, so running again asks the database again; the pool replaces dead connections.
        if st.button("Retry"):
            st.rerun()
