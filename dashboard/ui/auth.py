"""Who the user is: sign-in (header or OIDC), the return to the linked view after it, sign-out."""

from __future__ import annotations

import hmac
from urllib.parse import quote, unquote

import streamlit as st
from streamlit.errors import StreamlitAuthError

from dashboard import access
from dashboard.links import DEFAULT_PAGE, parse_return, parse_view, return_token, to_query
from dashboard.settings import get_settings
from dashboard.ui.widgets import render

# Where the page and view of a link opened while signed out wait during the sign-in round trip.
RETURN_COOKIE = "dashboard_return"
RETURN_COOKIE_MAX_AGE_S = 900  # long enough to sign in, short enough not to send a later visit somewhere old
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
        render("return_cookie.html", name=RETURN_COOKIE, value=quote(token, safe=""), max_age=RETURN_COOKIE_MAX_AGE_S),
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
            st.html(render("return_cookie.html", name=RETURN_COOKIE, value="", max_age=0), unsafe_allow_javascript=True)
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
