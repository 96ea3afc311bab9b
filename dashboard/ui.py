"""The one Streamlit helper module: cached queries, the frame (user, filters, menu, freshness), shared widgets."""

from __future__ import annotations

import dataclasses
import hmac
import importlib
import json
import re
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from html import escape
from urllib.parse import quote, unquote

import pandas as pd
import streamlit as st
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from streamlit.errors import StreamlitAPIException, StreamlitAuthError

from dashboard import access, errors, exports, published, registry
from dashboard.db import make_engine
from dashboard.formats import CHIP_COLOURS, day, grid_cell, md, money  # noqa: F401  (pages write amounts as ui.money, data in Markdown as ui.md)
from dashboard.links import (
    COMPARE_DAYS,
    DEFAULT_PAGE,
    EARLIEST_DATE,
    KEYS,
    LATEST_DATE,
    PAGES,
    TABLE_PAGE_KEY,
    ViewState,
    applies,
    page_url,
    parse_return,
    parse_view,
    return_token,
    shareable,
    to_query,
)
from dashboard.metrics import HEALTH_LABEL, HEALTH_WORD
from dashboard.schema import PHASES
from dashboard.settings import get_settings

# Read once for the cache decorators; everything else reads get_settings() when it runs.
_settings = get_settings()

errors.configure_logging(_settings.log_level)


@st.cache_resource(show_spinner=False)
def engine(url: str, statement_timeout_s: float) -> Engine:
    """The dashboard's read-only engine for `url`, one per process (and per statement timeout)."""
    return make_engine(url, read_only=True, statement_timeout_s=statement_timeout_s)


@contextmanager
def reading(url: str):
    """A read-only connection to `url`: the one place the dashboard's pages reach the database. A driver's error
    leaves it named (errors.DatabaseUnreachable, StatementTimeout or QueryError), the driver's error as its cause."""
    try:
        with engine(url, get_settings().statement_timeout_s).connect() as conn:
            yield conn
    except SQLAlchemyError as exc:
        raise errors.from_database(exc) from exc


@st.cache_data(ttl=_settings.cache_ttl_s, max_entries=_settings.cache_max_entries, show_spinner=False)
def _run_query(module: str, name: str, scope: access.Scope, url: str, kwargs: tuple) -> pd.DataFrame:
    function = getattr(importlib.import_module(module), name)
    with reading(url) as conn:
        return function(conn, scope, **dict(kwargs))


def cached(function: Callable[..., pd.DataFrame], scope: access.Scope, **kwargs) -> pd.DataFrame:
    """Run a query function with a Scope, reusing a result cached for exactly that function, scope and database."""
    url = get_settings().database_url
    return _run_query(function.__module__, function.__name__, scope, url, tuple(sorted(kwargs.items())))


# A resource, not data: every run gets the same Forecast object back (not a copy), so what it has
# worked out since (the extra sites needed) is kept. It holds no sponsor's names, only its inputs' figures.
@st.cache_resource(ttl=_settings.cache_ttl_s, max_entries=_settings.cache_max_entries, show_spinner=False)
def _predict(inputs: tuple, target: int, as_of: date, prior_rate: float | None):
    from dashboard.forecast import predict_trial

    return predict_trial(inputs, target, as_of, prior_rate)


# Composing every trial's health from its queries (forecasts, flags, pandas) costs seconds in a large
# portfolio even when every query is cached: keep the composition itself, keyed like the queries.
@st.cache_resource(ttl=_settings.cache_ttl_s, max_entries=_settings.cache_max_entries, show_spinner=False)
def _compose(module: str, name: str, scope: access.Scope, url: str):
    function = getattr(importlib.import_module(module), name)
    return function(cached, scope, get_settings(), predict)


def composed(function: Callable, scope: access.Scope):
    """`function(run, scope, settings, predict)` over cached queries, itself cached by function, scope and database.

    Its frames are copied for each run, so a page may change them; its other parts are shared.
    """
    result = _compose(function.__module__, function.__name__, scope, get_settings().database_url)
    if dataclasses.is_dataclass(result):
        return dataclasses.replace(result, **{
            f.name: getattr(result, f.name).copy()
            for f in dataclasses.fields(result) if isinstance(getattr(result, f.name), pd.DataFrame)
        })
    return result


# The registry's Basis of a view, kept like the composed health it is made of: a portfolio of hundreds of trials
# splits it by trial and sums each trial's budget once, then every warm run reuses that work. Shared by the runs of a
# scope (a scope holds the user's sponsors: never another tenant's), so pages only read it, never change its frames.
@st.cache_resource(ttl=_settings.cache_ttl_s, max_entries=_settings.cache_max_entries, show_spinner=False)
def _basis(module: str, name: str, scope: access.Scope, url: str, options: tuple) -> registry.Basis:
    view_basis = getattr(importlib.import_module(module), name)

    def shared(function: Callable, part_scope: access.Scope):
        return _compose(function.__module__, function.__name__, part_scope, url)

    return view_basis(shared, scope, get_settings(), **dict(options))


def basis(view_basis: Callable, scope: access.Scope, **options) -> registry.Basis:
    """`view_basis(compose, scope, settings, **options)` (queries.overview.view_basis) composed from the cached parts,
    itself cached by scope, database and options. Read-only: the pages of every run of this scope share it."""
    return _basis(view_basis.__module__, view_basis.__name__, scope, get_settings().database_url, tuple(sorted(options.items())))


def predict(sites: pd.DataFrame, target: int, as_of: date, prior_rate: float | None, history: pd.DataFrame | None = None):
    """The enrollment forecast for one trial's sites and enrollment history, cached on its inputs (the same inputs give
    the same forecast)."""
    from dashboard.forecast import trial_inputs

    return _predict(trial_inputs(sites, history), target, as_of, prior_rate)


@dataclass
class Context:
    """What the frame worked out for this run: the view, the scope, and what the page should tell the user."""

    view: ViewState
    scope: access.Scope
    today: date
    grants: list[access.Grant]
    trials: pd.DataFrame
    notices: list[str] = field(default_factory=list)
    # The tables this run showed, as (sheet name, Table), for the page's workbook (filled by download_table).
    tables: list[tuple[str, Table]] = field(default_factory=list)
    # Where the page's Excel button goes once it shows a table, and the page's name (set by excel_export).
    excel_slot: object | None = None
    page: str | None = None
    email: str | None = None  # who is signed in (None in demo mode): the log tags it, never writes it

    def link(self, page: str, **changes) -> str:
        """A relative link to `page` showing this view with `changes` (e.g. trial="X")."""
        return page_url(page, self.view.model_copy(update=changes))


_CONTEXT_KEY = "_dashboard_context"


def context() -> Context:
    """The Context the frame built in this run (pages call this)."""
    if _CONTEXT_KEY not in st.session_state:
        # Streamlit treats an app with a pages/ folder as a legacy multipage app until app.py has
        # called st.navigation once in this process; until then, a link straight to a sub-page runs
        # that page without the frame. Leave legacy mode and run again, this time through app.py.
        from streamlit.runtime.pages_manager import PagesManager

        PagesManager.uses_pages_directory = False
        st.rerun()
    return st.session_state[_CONTEXT_KEY]


# Where the page and view of a link opened while signed out wait during the sign-in round trip.
RETURN_COOKIE = "dashboard_return"
_RETURNED_KEY = "_dashboard_returned"


def _stop_with(message: str, *, sign_out: bool = False) -> None:
    st.title("Trial portfolio")
    st.error(message, icon="🔒")
    if sign_out:
        sign_out_control(st)
    st.stop()


def identify(page: str) -> str | None:
    """The signed-in user's e-mail, or None in demo mode (every sponsor); stops the run if nobody may be shown anything.

    `page` is the page being opened: a signed-out user comes back to it (and its view) after signing in.
    """
    settings = get_settings()
    if settings.auth_mode == "none":
        if not (settings.allow_anonymous or settings.is_demo_database()):
            _stop_with(
                "This dashboard is configured without sign-in (DASHBOARD_AUTH_MODE=none) but its database is not "
                "the demo database, so it shows nothing. Set DASHBOARD_AUTH_MODE to header or oidc "
                "(see the README, “Deploying for your organisation”), or DASHBOARD_ALLOW_ANONYMOUS=true if "
                "everyone who can reach it may see every sponsor."
            )
        return None
    if settings.auth_mode == "header":
        # Defence in depth: with a shared secret set, only requests the proxy forwarded (it adds the secret) count.
        if settings.proxy_secret is not None:
            given = (st.context.headers.get(settings.proxy_secret_header) or "").encode()
            if not hmac.compare_digest(given, settings.proxy_secret.get_secret_value().encode()):
                _stop_with(
                    "This dashboard only answers through your organisation's sign-in. Open it from the address your "
                    "administrator gave you."
                )
        # The proxy in front of us authenticates and sets this header; it must strip it from client requests.
        email = access.valid_email(st.context.headers.get(settings.auth_header))
        if email is None:
            _stop_with(
                "You are not signed in. This dashboard is opened through your organisation's sign-in; "
                "open it from the address your administrator gave you."
            )
        return email
    # st.user comes from a cookie signed with the server's secret: a browser cannot make one up.
    if not st.user.get("is_logged_in"):
        _sign_in(page)
    email = access.valid_email(st.user.get("email"))
    if email is None:
        _stop_with("Your sign-in did not give an e-mail address, so your access cannot be looked up.", sign_out=True)
    # An e-mail the provider has not verified may be anyone's (some providers let users type it in).
    verified = st.user.get("email_verified")
    if verified is None and not settings.trusts_unverified_email(st.user.get("iss")):
        _stop_with(
            "Your sign-in did not say whether your e-mail address is verified, so it cannot be used to look up your "
            "access. Ask your dashboard administrator (DASHBOARD_OIDC_ISSUERS_WITHOUT_EMAIL_VERIFIED).",
            sign_out=True,
        )
    if verified is not None and verified is not True and str(verified).lower() != "true":
        _stop_with(
            "Your identity provider says your e-mail address is not verified, so it cannot be used to look up your "
            "access. Verify it with your provider and sign in again.",
            sign_out=True,
        )
    _return_after_sign_in(page)
    return email


def _sign_in(page: str) -> None:
    """The sign-in page (OIDC mode): remembers the page and view of the link for after the round trip."""
    view, _ = parse_view(st.query_params.to_dict())
    token = return_token(page, view)
    # st.login comes back to the app's root, dropping the path and query: keep them in a short-lived cookie.
    st.html(
        f"<script>document.cookie = {json.dumps(RETURN_COOKIE + '=' + quote(token, safe=''))} "
        "+ '; path=/; max-age=900; samesite=lax';</script>",
        unsafe_allow_javascript=True,
    )
    st.title("Trial portfolio")
    st.info("Sign in with your organisation account to see the trials you have access to.", icon="🔒")
    if st.button("Sign in", type="primary"):
        try:
            st.login(get_settings().oidc_provider) if get_settings().oidc_provider else st.login()
        except StreamlitAuthError:
            st.error("Sign-in is not configured on this server (the [auth] section of .streamlit/secrets.toml).")
    st.stop()


def _return_after_sign_in(page: str) -> None:
    """Back from the identity provider at the root: open the page and view the user asked for before signing in."""
    if st.session_state.get(_RETURNED_KEY):
        if RETURN_COOKIE in st.context.cookies and st.session_state[_RETURNED_KEY] == "pending":
            st.html(f"<script>document.cookie = '{RETURN_COOKIE}=; path=/; max-age=0';</script>", unsafe_allow_javascript=True)
            st.session_state[_RETURNED_KEY] = "cleared"
        return
    st.session_state[_RETURNED_KEY] = "pending"
    target = parse_return(unquote(st.context.cookies.get(RETURN_COOKIE) or ""))
    # Only a bare landing on the root is the identity provider sending the user back; a link names its own view.
    if target is None or page != DEFAULT_PAGE or st.query_params.to_dict():
        return
    wanted_page, view = target
    st.switch_page(f"pages/{wanted_page}.py", query_params=to_query(view))


def sign_out_control(container) -> None:
    """A sign-out button or link, where the sign-in mode allows one."""
    settings = get_settings()
    if settings.auth_mode == "oidc":
        if container.button("Sign out"):
            st.logout()
    elif settings.auth_mode == "header" and settings.sign_out_url:
        container.link_button("Sign out", settings.sign_out_url)


def build_frame(list_trials: Callable[..., pd.DataFrame], page: str) -> Context:
    """Sign the user in, parse the URL, resolve the grants, draw the sidebar filters bound to the URL; returns the Context.

    `list_trials(conn, scope)` lists every trial of the scope's sponsors (the frame's trial choices);
    `page` is the page being opened.
    """
    today = get_settings().today or date.today()
    email = identify(page)
    view, notices = parse_view(st.query_params.to_dict())
    with reading(get_settings().database_url) as conn:
        grants = access.granted_sponsors(conn, email)
    if not grants:
        _stop_with(
            f"You are signed in as {email}, but you have no access to any sponsor's trials. "
            "Ask your dashboard administrator to grant you access.",
            sign_out=True,
        )
    all_scope, scope_notices = access.make_scope(grants, view.model_copy(update={"sponsor": None}), today)
    trials = cached(list_trials, all_scope)

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
            "Therapeutic area", sorted(choices["therapeutic_area"].unique()), index=None, key="ta",
            bind="query-params", placeholder="All areas",
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
        st.selectbox("Trial", trial_choices, index=None, key="trial", bind="query-params", placeholder="All trials (portfolio)")
        if st.session_state.get("trial") in titles:
            st.caption(md(titles[st.session_state["trial"]]))
        _sync_dates_with_url(view, today)
        st.date_input(
            "As of", min_value=EARLIEST_DATE, max_value=LATEST_DATE, key="as_of", format="YYYY-MM-DD",
            on_change=_as_of_changed, args=(today,), help="Empty: today.",
        )
        st.date_input(
            "Compare with", min_value=EARLIEST_DATE, max_value=LATEST_DATE, key="since", format="YYYY-MM-DD",
            on_change=_since_changed, help=f"Headline figures show their change since this date (empty: {COMPARE_DAYS} days before the as-of date).",
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
    scope, scope_notices = access.make_scope(grants, view.model_copy(update={"sponsor": None}) if view.trial else view, today)
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
# The table page page_of last wrote into the address (None: the first, which the address does not say).
_URL_PAGE_KEY = "_dashboard_url_page"


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


def url_selectbox(label: str, options: list[str], key: str, labels: dict[str, str], url_value: str | None, *,
                  container=None, placeholder: str | None = None, **kwargs) -> str | None:
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
    value = target.selectbox(label, options, key=key, format_func=lambda code: labels.get(code, code),
                             placeholder=placeholder, **kwargs)
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
    has drawn (the page of a long table is known only then)."""
    with st.sidebar:
        st.caption("🔗 Link to this view (dates fixed, so it shows the same figures later)")
        slot = st.empty()

    def fill() -> str:
        url = canonical_link(ctx, page)
        slot.code(url, language=None, wrap_lines=True)
        return url

    return fill


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
    text = (f"Data loaded {day(loaded_at)} {loaded_at:%H:%M} UTC ({_age(age_hours)} ago) · showing as of "
            f"{day(ctx.scope.as_of)} · {published.provenance(publication)}")
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


_TABLE_CSS = """
<style>
.dash-table {border-collapse: collapse; width: 100%; font-size: 14px; font-family: inherit;}
.dash-table th {text-align: left; font-weight: 600; color: #37474f; border-bottom: 2px solid #cfd8dc;
  padding: 6px 8px; vertical-align: bottom;}
.dash-table td {padding: 6px 8px; border-bottom: 1px solid #eceff1; vertical-align: middle;}
.dash-table td.num, .dash-table th.num {text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap;}
.dash-table th.num, .dash-table th.nowrap {white-space: normal;}  /* a long header wraps; the values under it stay whole */
.dash-table td.nowrap, .dash-table .nowrap {white-space: nowrap;}
.dash-table a {color: #0F5C6E; font-weight: 600; text-decoration: none;}
.dash-table a:hover {text-decoration: underline;}
.dash-table .muted {color: #78909c; font-size: 13px;}
.chip {display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 13px; white-space: nowrap;}
.chip::before {content: "●"; margin-right: 4px;}
""" + "".join(f".chip.{h} {{background: {bg}; color: {fg};}}\n" for h, (bg, fg) in CHIP_COLOURS.items()) + """.bar {background: #eceff1; border-radius: 3px; height: 8px; width: 72px; display: inline-block; vertical-align: middle;}
.bar span {display: block; height: 8px; border-radius: 3px; background: #0F5C6E;}
</style>
"""


def chip(health: str, word: str | None = None) -> str:
    """A health colour as an HTML chip: a coloured dot and the word (never colour alone); `word` replaces the colour's."""
    text = escape(word) if word is not None else HEALTH_WORD[health]
    return f'<span class="chip {health}" title="{text}">{text}</span>'


def reason_chip(reason) -> str:
    """The chip of a registry.Reason: its colour with the health word, except a breached QTL, which is reported
    whatever the trial's colours say and so is named for its dimension ("Quality"), not "At risk" beside an amber trial."""
    return chip(reason.health, "Quality" if reason.dimension == "quality" else None)


def bar(fraction: float | None) -> str:
    """A small progress bar with its percentage beside it."""
    if fraction is None or pd.isna(fraction):
        return '<span class="muted">—</span>'
    width = max(0.0, min(float(fraction), 1.0)) * 100
    return f'<span class="bar"><span style="width:{width:.0f}%"></span></span> {float(fraction):.0%}'


def link(href: str, text: str, *, style: bool = False) -> str:
    """An HTML link opening in the same tab (a full reload that keeps the view in the URL); `style` gives it the
    tables' link colour where it stands outside a table."""
    look = ' style="color:#0F5C6E;text-decoration:none"' if style else ""
    return f'<a href="{escape(href, quote=True)}" target="_self"{look}>{escape(text)}</a>'


PAGE_ROWS = 500  # rows of a long table sent to the browser at once (issue 10: ≤ 2 MB a page)
TRIALS_PER_PAGE = 50  # rows of a table of trials read as an overview: beyond this it is a scroll


def page_of(frame, key: str, what: str = "rows", rows: int | None = None, *, in_url: bool = False):
    """The rows of `frame` (a DataFrame or a list) to show now: all of them up to `rows` (PAGE_ROWS), else one page,
    picked with a selector drawn here. With `in_url` (the page's main table), the address says which page is shown
    (`page=3`), so a copied link or a printout shows the same rows.

    A long table is sent a page at a time; its CSV download (download_table with the whole frame) still holds every row.
    """
    n, size = len(frame), rows or PAGE_ROWS
    if n <= size:
        return frame
    starts = list(range(0, n, size))
    # Keyed by the view too: other filters or dates are another list, which starts again at its first page.
    ctx = st.session_state.get(_CONTEXT_KEY)
    widget_key = key if ctx is None else f"{key} {ctx.scope}"
    if in_url and ctx is not None:
        # The URL wins when it changed since this selector last wrote it (a pasted link, the back button).
        wanted = min(ctx.view.page or 1, len(starts))
        if st.session_state.get(_URL_PAGE_KEY) != ctx.view.page or widget_key not in st.session_state:
            st.session_state[widget_key] = starts[wanted - 1]
    start = st.selectbox(
        f"Showing {what}", starts, key=widget_key,
        format_func=lambda s: f"{s + 1:,}–{min(s + size, n):,} of {n:,}",
        help=f"{size:,} {what} at a time; the CSV download holds all {n:,}.", width=280,
    )
    if in_url and ctx is not None:
        number = start // size + 1
        st.session_state[_URL_PAGE_KEY] = number if number > 1 else None
        if number > 1:
            st.query_params[TABLE_PAGE_KEY] = str(number)
        ctx.view = ctx.view.model_copy(update={"page": number if number > 1 else None})
    return frame.iloc[start:start + size] if isinstance(frame, pd.DataFrame) else frame[start:start + size]


def html_table(
    rows: list[dict[str, str]], columns: dict[str, str], numeric: tuple[str, ...] = (), nowrap: tuple[str, ...] = ()
) -> None:
    """Draw a table of ready-made HTML cells (escape values with `cell()`); column key → header."""

    def css(key: str) -> str:
        return "num" if key in numeric else "nowrap" if key in nowrap else ""

    head = "".join(f'<th class="{css(k)}">{escape(h)}</th>' for k, h in columns.items())
    body = "".join(
        "<tr>" + "".join(f'<td class="{css(k)}">{row.get(k, "")}</td>' for k in columns) + "</tr>" for row in rows
    )
    st.html(f'{_TABLE_CSS}<table class="dash-table"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>')


def dataframe(data: pd.DataFrame, *, column_config: dict | None = None, column_order: list[str] | None = None,
              **kwargs) -> None:
    """st.dataframe, and its printed twin: a grid prints only the rows and columns it shows on screen (it scrolls
    inside), so the same rows and columns are written once more as a plain table that only paper shows."""
    st.dataframe(data, column_config=column_config, column_order=column_order, **kwargs)
    config = column_config or {}
    columns = [c for c in (column_order or list(data.columns)) if c in data.columns and not (c in config and config[c] is None)]

    def header(c: str) -> str:
        spec = config.get(c)
        return spec if isinstance(spec, str) else (spec or {}).get("label") or str(c)

    def kind(c: str) -> dict | None:
        spec = config.get(c)
        return None if spec is None or isinstance(spec, str) else spec.get("type_config")

    numeric = {c for c in columns if pd.api.types.is_numeric_dtype(data[c].dtype)}
    head = "".join(f'<th class="{"num" if c in numeric else ""}">{escape(header(c))}</th>' for c in columns)
    body = "".join(
        "<tr>" + "".join(f'<td class="{"num" if c in numeric else ""}">{escape(grid_cell(v, kind(c)))}</td>'
                         for c, v in zip(columns, values)) + "</tr>"
        for values in data[columns].itertuples(index=False, name=None)
    )
    st.html(f'{_TABLE_CSS}<table class="dash-table dash-print-only"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>')


def plain(value, fmt: str = "{}") -> str:
    """A value as plain text for captions and tiles; empty values as a dash (empty is not zero)."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return "—"
    return fmt.format(value)


def cell(value, fmt: str = "{}") -> str:
    """A value as escaped HTML text; empty values as a muted dash (empty is not zero)."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return '<span class="muted">—</span>'
    return escape(fmt.format(value))


def view_summary(ctx: Context, page: str) -> dict[str, object]:
    """What the page shows, label → value: the page, sponsors, filters, dates and the canonical link (for exports and print)."""
    scope = ctx.scope
    if scope.trial is not None:
        codes = set(ctx.trials.loc[ctx.trials["protocol_number"] == scope.trial, "sponsor_code"])
        sponsors = [g.sponsor_name for g in ctx.grants if g.sponsor_code in codes]
    else:
        sponsors = [g.sponsor_name for g in ctx.grants if g.sponsor_id in scope.sponsor_ids]
    summary: dict[str, object] = {
        "Page": PAGES.get(page, page),
        "Sponsor": ", ".join(sponsors),
        "Trial": scope.trial or "All trials in view",
    }
    if scope.site is not None:
        summary["Site"] = scope.site
    if scope.ta is not None:
        summary["Therapeutic area"] = scope.ta
    if scope.phase is not None:
        summary["Phase"] = scope.phase
    summary["As of"] = scope.as_of
    summary["Compared with (since)"] = scope.since
    summary["Link"] = canonical_link(ctx, page)
    return summary


_WORKBOOK_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def excel_export(ctx: Context, page: str) -> None:
    """Keep a place in the sidebar for the page's Excel button, which the page's first table fills (download_table).

    Pages may stop early (st.stop), so the frame cannot add the button after the page has run.
    """
    ctx.page = page
    ctx.excel_slot = st.sidebar.empty()


def _excel_button(ctx: Context) -> None:
    view = view_summary(ctx, ctx.page)
    # This run's own list: the workbook holds exactly the tables this page showed to this user, and all of them,
    # since the file is built when the button is clicked (after the run), not when it is drawn.
    tables = ctx.tables

    def build() -> bytes:
        return exports.workbook([(name, table.frame()) for name, table in tables],
                                {**view, "Exported at (UTC)": datetime.now(UTC).replace(microsecond=0)})

    trial = f"{ctx.scope.trial}_" if ctx.scope.trial else ""
    ctx.excel_slot.download_button(
        "⬇️ This page as Excel (.xlsx)", build, f"{ctx.page}_{trial}{ctx.scope.as_of:%Y-%m-%d}.xlsx", _WORKBOOK_MIME,
        on_click="ignore",
    )


def _sheet_from_label(label: str) -> str:
    """The sheet name a CSV button's label suggests: "⬇️ Download sites (CSV)" → "Sites"."""
    words = re.sub(r"^\W*(Download\s+)?", "", label.replace("(CSV)", "")).strip()
    return words[:1].upper() + words[1:]


def download_label(what: str, n_rows: int, n_shown: int | None = None) -> str:
    """A CSV button's label: "⬇️ Download sites (CSV)", or "⬇️ Download all 1,234 sites (CSV)" when the page shows
    fewer rows than the file holds (an export holds exactly the rows shown, or says it holds them all)."""
    if n_shown is not None and n_shown < n_rows:
        return f"⬇️ Download all {n_rows:,} {what} (CSV)"
    return f"⬇️ Download {what} (CSV)"


class Table:
    """A table of the page for its CSV and its workbook sheet: a frame as shown, or the function that makes it, called
    once, when a file is first asked for (a Portfolio of 250 trials spent a second on its export at every cold run)."""

    def __init__(self, source: pd.DataFrame | Callable[[], pd.DataFrame]):
        # A frame is copied as shown now, whatever the page does to it afterwards.
        self._made = source.copy() if isinstance(source, pd.DataFrame) else None
        self._make = None if isinstance(source, pd.DataFrame) else source

    def frame(self) -> pd.DataFrame:
        if self._made is None:
            self._made = self._make()
        return self._made


def download_table(label: str, frame: pd.DataFrame | Callable[[], pd.DataFrame], file_name_stem: str,
                   sheet: str | None = None) -> None:
    """A CSV download of a table the page shows (or of the function that makes it, for a table worked out only for
    the file); the table also becomes sheet `sheet` (default: from the label) of the page's workbook.

    The button does not rerun the page (a rerun would replace the file while it downloads). The CSV is written
    when the button is clicked, not on every run: for thousands of rows that was most of a warm run.
    """
    table = Table(frame)

    def build() -> bytes:
        return exports.neutralise(table.frame()).to_csv(index=False).encode("utf-8")

    st.download_button(label, build, f"{file_name_stem}.csv", "text/csv", on_click="ignore")
    ctx = st.session_state.get(_CONTEXT_KEY)
    if ctx is None or ctx.excel_slot is None:
        return
    name = exports.sheet_name(sheet or _sheet_from_label(label), [taken for taken, _ in ctx.tables])
    ctx.tables.append((name, table))  # the workbook only reads it: one frame serves both files
    if len(ctx.tables) == 1:
        _excel_button(ctx)


_PRINT_CSS = """
<style>
/* The first screen holds the title, the headline figures and the start of the first chart: less empty space above
   the first line (Streamlit leaves 6rem), and tighter headings. */
[data-testid="stMainBlockContainer"] {padding-top: 3rem;}
[data-testid="stMain"] h1 {padding-top: 0.25rem; padding-bottom: 0.5rem;}
/* A tile's value is never cut short ("done 05 N…"): a long one wraps onto a second line. */
[data-testid="stMetricValue"], [data-testid="stMetricValue"] * {white-space: normal !important; overflow-wrap: anywhere;
  text-overflow: clip !important; line-height: 1.15;}
/* Nor is its label ("Forecast final c…"): it wraps too. */
[data-testid="stMetricLabel"] p {white-space: normal !important; text-overflow: clip !important;}
.dash-print-header {display: none;}
.dash-print-only {display: none;}
[data-testid="stElementContainer"]:has(.dash-print-only),
[data-testid="stElementContainer"]:has(.dash-print-header),
[data-testid="stElementContainer"]:has(.dash-print-charts) {display: none;}
@media print {
  @page {size: landscape; margin: 12mm 10mm;}
  [data-testid="stSidebar"], [data-testid="stHeader"], [data-testid="stToolbar"], [data-testid="stStatusWidget"],
  [data-testid="stExpandSidebarButton"],
  [data-testid="stElementToolbar"], [data-testid="stBottom"], [data-testid="stTooltipIcon"], .modebar-container,
  [data-testid="stElementContainer"]:has([data-testid="stDownloadButton"]),
  [data-testid="stElementContainer"]:has([data-testid="stButton"]),
  [data-testid="stElementContainer"]:has([data-testid="stLinkButton"]) {display: none !important;}
  [data-testid="stMain"] {margin-left: 0 !important; width: 100% !important; max-width: 100% !important;}
  [data-testid="stMainBlockContainer"] {max-width: 100% !important; padding: 0 !important;}
  [data-testid="stElementContainer"]:has(.dash-print-header) {display: block;}
  /* A grid prints as its twin: every row and column it holds, not the part it shows on screen. */
  [data-testid="stElementContainer"]:has([data-testid="stDataFrame"]) {display: none !important;}
  [data-testid="stElementContainer"]:has(.dash-print-only) {display: block !important;}
  .dash-print-only {display: table !important; font-size: 11px;}
  .dash-print-header {display: block; border-bottom: 2px solid #0F5C6E; padding-bottom: 6px; margin-bottom: 4px;
    font-size: 12px; color: #37474f;}
  .dash-print-header .title {font-size: 15px; font-weight: 700; color: #0F5C6E;}
  .dash-print-header .link {word-break: break-all;}
  /* A chart keeps the size it had on screen; one wider than the paper shrinks to fit, by its viewBox (set below). */
  [data-testid="stElementContainer"]:has([data-testid="stPlotlyChart"]), [data-testid="stFullScreenFrame"]:has(> [data-testid="stPlotlyChart"]),
  [data-testid="stPlotlyChart"], .js-plotly-plot, .js-plotly-plot .plot-container {height: auto !important; flex: 0 0 auto !important;}
  .js-plotly-plot .svg-container[style*="--dash-print-ratio"]
    {width: min(100%, var(--dash-print-width)) !important; height: auto !important; aspect-ratio: var(--dash-print-ratio);}
  .js-plotly-plot .svg-container[style*="--dash-print-ratio"] > svg.main-svg {width: 100% !important; height: 100% !important;}
  [data-testid="stPlotlyChart"], [data-testid="stMetric"], [data-testid="stDataFrame"], .dash-table tr,
  [data-testid="stAlert"] {break-inside: avoid; page-break-inside: avoid;}
  .dash-table thead {display: table-header-group;}
  h1, h2, h3, [data-testid="stHeading"] {break-after: avoid; page-break-after: avoid;}
  [data-testid="stElementContainer"]:has([data-testid="stCaptionContainer"]) {break-before: avoid; page-break-before: avoid;}
}
</style>
"""

# Plotly draws each chart at its on-screen pixel size, and a browser does not redraw it for the paper. Give every
# chart's SVG layers a viewBox of that size, so the print stylesheet can scale the chart to the page width.
_PRINT_CHARTS_JS = """
<span class="dash-print-charts"></span>
<script>
(() => {
  if (window.dashPrintCharts) return;
  window.dashPrintCharts = true;
  const fit = () => {
    for (const box of document.querySelectorAll(".js-plotly-plot .svg-container")) {
      const svg = box.querySelector("svg.main-svg");
      const width = parseFloat(svg && svg.getAttribute("width")), height = parseFloat(svg && svg.getAttribute("height"));
      if (!(width > 0 && height > 0)) continue;
      box.style.setProperty("--dash-print-width", `${width}px`);
      box.style.setProperty("--dash-print-ratio", `${width} / ${height}`);
      for (const layer of box.querySelectorAll("svg.main-svg")) layer.setAttribute("viewBox", `0 0 ${width} ${height}`);
    }
  };
  let pending = false;
  new MutationObserver(() => {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => { pending = false; fit(); });
  }).observe(document.body, {subtree: true, childList: true, attributes: true, attributeFilter: ["width", "height"]});
  window.addEventListener("beforeprint", fit);
  fit();
})();
</script>
"""


def print_layout(ctx: Context, page: str) -> None:
    """The print stylesheet (no sidebar, toolbars or buttons; full width; charts fit the paper) and a header, printed only, saying which view this is."""
    st.html(_PRINT_CSS)
    st.html(_PRINT_CHARTS_JS, unsafe_allow_javascript=True)
    summary = view_summary(ctx, page)
    link_url = summary.pop("Link")
    title = " · ".join(str(part) for part in ("Trial portfolio", summary.pop("Page"), ctx.scope.trial) if part)
    as_of, since = summary.pop("As of"), summary.pop("Compared with (since)")
    details = [f"{label}: {value}" for label, value in summary.items() if label != "Trial" or ctx.scope.trial is None]
    details += [f"as of {day(as_of)}", f"compared with {day(since)}"]
    st.html(
        f'<div class="dash-print-header"><div class="title">{escape(title)}</div><div>{escape(" · ".join(details))}</div>'
        f'<div class="link">Link to this view: {escape(link_url)}</div></div>'
    )


def figure(container, value: registry.Value, since: date, *, note: str | None = None, instead: str | None = None) -> None:
    """A headline tile of a registry figure: its label, its display, its change since the compare date as the delta
    (green when it moved the good way), and its definition and colour rule as the tooltip. `instead`: the words under
    the value, in place of the change, when there is no figure to show (why the tile is empty)."""
    settings = get_settings()
    f = value.figure
    parts = [f.definition_text(settings)]
    if f.threshold_text(settings):
        parts.append(f"Colour: {f.threshold_text(settings)}.")
    if note:
        parts.append(note)
    delta, colour = value.change_display, "off"
    if instead is not None and value.value is None:
        delta = instead
    elif not f.compares:
        delta = f"since {since:%d %b %Y}" if f.period else None
    elif delta is not None:
        parts.append(f"The change is since {since:%d %b %Y} (Compare with, in the sidebar).")
        if delta != "no change":
            colour = {"up": "normal", "down": "inverse"}.get(f.better, "off")
    container.metric(
        f.label, value.display, delta=delta, delta_color=colour,
        delta_arrow="auto" if colour != "off" or not delta else "off", help=" ".join(parts),
    )



def lpi_tiles(value_of: Callable[[str], registry.Value], since: date, *, complete: bool) -> None:
    """The last-patient-in tiles of a trial: the model and the CRO side by side while it enrolls; once enrollment is
    complete, the day it happened beside the day it was planned (nothing is left to forecast)."""
    if complete:
        st.markdown("**Last patient in: enrollment is complete**")
        keys, columns = ("lpi_model", "lpi_planned"), st.columns(2)
    else:
        st.markdown("**Last patient in: the model and the CRO side by side**")
        keys, columns = ("lpi_model", "lpi_cro", "lpi_gap"), st.columns(4)
    for column, key in zip(columns, keys):
        figure(column, value_of(key), since)
