"""Sign-in and sponsor scope as seen in real Chromium against a real server: header and OIDC modes, outages."""

from __future__ import annotations

import io
import json
import re
import urllib.request

import openpyxl
import pytest
from sqlalchemy import text

import tiny_portfolio
from auth_proxy import SESSION_COOKIE, AuthProxy
from browser_helpers import CHART, settle
from conftest import AppServers, free_port
from dashboard import demo
from dashboard.db import make_engine
from oidc_provider import Provider

HEADER = "X-Forwarded-Email"
# The cookie in which Streamlit keeps who signed in with st.login (a test signs in and checks the name, so the
# forgery test below forges the real thing, and fails loudly rather than passing vacuously if Streamlit renames it).
IDENTITY_COOKIE = "_streamlit_user"
AS_OF = tiny_portfolio.AS_OF.isoformat()
PAGES = ("", "overview", "enrollment", "sites", "budget", "vendors", "methods")
# What identifies each demo sponsor's trials: its name and its protocol-number prefix.
HELIOS = ("Helios", "HEL-")
BOREALIS = ("Borealis", "BOR-")


@pytest.fixture(scope="module")
def demo_url(tmp_path_factory):
    """The demo portfolio: exec@helios.example sees Helios, pm@borealis.example Borealis, nobody@… nothing."""
    url = f"sqlite:///{tmp_path_factory.mktemp('access') / 'demo.db'}"
    demo.build(url)
    return url


def everything_sent(page) -> str:
    """What a user of this page can get at: text, table cells, chart specs, link targets, and every download."""
    for summary in page.locator("[data-testid='stExpander'] details:not([open]) > summary").all():
        summary.click()
    parts = [page.get_by_test_id("stApp").inner_text()]
    parts.append(
        page.evaluate("""() => Array.from(document.querySelectorAll('.js-plotly-plot'))
        .map(el => JSON.stringify({data: el.data, layout: el.layout})).join('\\n')""")
    )
    parts.append("\n".join(page.evaluate("() => Array.from(document.querySelectorAll('a[href]')).map(a => a.href)")))
    for button in page.get_by_test_id("stDownloadButton").locator("button").all():
        with page.expect_download() as download:
            button.click()
        if download.value.suggested_filename.endswith(".xlsx"):
            # The page's workbook is zipped XML: read its cells.
            book = openpyxl.load_workbook(io.BytesIO(open(download.value.path(), "rb").read()))
            parts.extend(str(value) for sheet in book for row in sheet.values for value in row if value is not None)
        else:
            parts.append(open(download.value.path(), encoding="utf-8", errors="replace").read())
    return "\n".join(parts)


@pytest.fixture(scope="module")
def proxy(tmp_path_factory, demo_url):
    """The demo app in header mode behind an authenticating proxy, one for the module (its tests only read, each user
    in a browser context of their own, so they also show one server's caches serving several users); yields the proxy
    (browse its URL)."""
    servers = AppServers(tmp_path_factory.mktemp("proxied-streamlit"))
    app_port = free_port()
    servers.start(demo_url, port=app_port, DASHBOARD_AUTH_MODE="header", DASHBOARD_AUTH_HEADER=HEADER)
    try:
        with AuthProxy(free_port(), app_port, HEADER) as running:
            yield running
    finally:
        servers.stop()


def open_as(browser, proxy: AuthProxy, email: str | None, *, claimed: str | None = None):
    """A browser signed in to the proxy as `email` (None: not signed in); `claimed` is a header the client sends itself."""
    context = browser.new_context(
        viewport={"width": 1400, "height": 2000},
        accept_downloads=True,
        extra_http_headers={HEADER: claimed} if claimed else None,
    )
    context.set_default_timeout(60_000)
    if email:
        context.add_cookies([{"name": SESSION_COOKIE, "value": email, "url": proxy.url}])
    return context


def test_with_a_proxy_secret_only_the_proxy_that_sends_it_is_believed(browser, app_server, demo_url):
    """Defence in depth (issue 22): an identity header counts only beside the secret the real proxy adds."""
    app_port = free_port()
    app_server(
        demo_url,
        port=app_port,
        DASHBOARD_AUTH_MODE="header",
        DASHBOARD_AUTH_HEADER=HEADER,
        DASHBOARD_PROXY_SECRET="s3cret-shared-with-the-proxy",
    )
    outcomes = {}
    for name, secret in (("right", "s3cret-shared-with-the-proxy"), ("wrong", "guessed"), ("none", None)):
        with AuthProxy(free_port(), app_port, HEADER, secret=("X-Proxy-Secret", secret) if secret else None) as proxy:
            context = open_as(browser, proxy, demo.MAIN_USER)
            page = context.new_page()
            try:
                page.goto(proxy.url)
                settle(page)
                outcomes[name] = page.locator("body").inner_text()
            finally:
                context.close()
    assert f"Signed in as {demo.MAIN_USER}" in outcomes["right"] and HELIOS[1] in outcomes["right"]
    for name in ("wrong", "none"):
        assert "only answers through your organisation's sign-in" in outcomes[name], name
        assert HELIOS[1] not in outcomes[name] and "Signed in" not in outcomes[name], name


@pytest.mark.parametrize(
    ("email", "own", "others"), [(demo.MAIN_USER, HELIOS, BOREALIS), (demo.OTHER_USER, BOREALIS, HELIOS)]
)
def test_behind_the_proxy_each_user_sees_only_their_sponsor_on_every_page(browser, proxy, email, own, others):
    base = proxy.url
    context = open_as(browser, proxy, email)
    page = context.new_page()
    try:
        for path in PAGES:
            page.goto(f"{base}/{path}")
            settle(page)
            sent = everything_sent(page)
            assert f"Signed in as {email}" in sent
            assert [word for word in others if word in sent] == [], f"/{path} shows another sponsor's data"
            if path in ("", "enrollment", "budget", "vendors"):
                assert own[1] in sent, f"/{path} shows the user's own trials"
    finally:
        context.close()


def test_behind_the_proxy_a_link_to_the_other_sponsors_trial_says_not_found(browser, proxy):
    base = proxy.url
    context = open_as(browser, proxy, demo.OTHER_USER)
    page = context.new_page()
    try:
        page.goto(f"{base}/enrollment?trial={demo.BIG_TRIAL}")
        settle(page)
        page.get_by_text(f"Trial '{demo.BIG_TRIAL}' was not found among the trials you can see").wait_for()
        sent = everything_sent(page).replace(f"'{demo.BIG_TRIAL}'", "").replace(f"trial={demo.BIG_TRIAL}", "")
        assert [word for word in HELIOS if word in sent] == []
    finally:
        context.close()


def test_behind_the_proxy_a_user_without_a_grant_sees_only_no_access(browser, proxy):
    base = proxy.url
    context = open_as(browser, proxy, "nobody@helios.example")
    page = context.new_page()
    try:
        page.goto(f"{base}/budget?trial={demo.BIG_TRIAL}")
        page.get_by_text("you have no access to any sponsor's trials").wait_for()
        shown = page.get_by_test_id("stApp").inner_text()
        assert [w for w in HELIOS + BOREALIS if w in shown.replace(demo.BIG_TRIAL, "")] == []
        assert page.locator(CHART).count() == 0 and page.get_by_test_id("stSidebar").get_by_role("link").count() == 0
    finally:
        context.close()


def test_without_the_proxys_sign_in_nobody_is_signed_in_whatever_the_client_says(browser, proxy):
    base = proxy.url
    # The client claims an identity in the header itself and in the link: the proxy strips the one, the app ignores the other.
    context = open_as(browser, proxy, None, claimed=demo.MAIN_USER)
    page = context.new_page()
    try:
        page.goto(f"{base}/?email={demo.MAIN_USER}&user={demo.MAIN_USER}&{HEADER}={demo.MAIN_USER}")
        page.get_by_text("You are not signed in").wait_for()
        shown = page.get_by_test_id("stApp").inner_text()
        assert [w for w in HELIOS + BOREALIS if w in shown] == []
    finally:
        context.close()


@pytest.fixture
def oidc_app(app_server, tiny_url, tmp_path):
    """The app in OIDC mode against a provider on loopback; yields (base URL, provider)."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with Provider(free_port()) as provider:
        secrets = tmp_path / "secrets.toml"
        secrets.write_text(provider.secrets_toml(base))
        app_server(
            tiny_url,
            port=port,
            options={"secrets.files": str(secrets)},
            DASHBOARD_AUTH_MODE="oidc",
            DASHBOARD_PUBLIC_BASE_URL=base,
        )
        yield base, provider


def test_a_link_opened_signed_out_lands_on_its_view_after_signing_in(page, oidc_app):
    base, provider = oidc_app
    provider.email = tiny_portfolio.ACME_USER
    page.goto(f"{base}/enrollment?trial=T-1&as_of={AS_OF}&since=2026-06-01")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Enrollment · T-1").wait_for()
    assert re.search(r"/enrollment\?trial=T-1&as_of=2026-06-30&since=2026-06-01$", page.url), page.url
    assert IDENTITY_COOKIE in {c["name"] for c in page.context.cookies()}, "the cookie the forgery test forges"
    settle(page)
    assert len(provider.authorize_requests) == 1
    page.get_by_text(f"Signed in as {tiny_portfolio.ACME_USER}").wait_for()
    assert "X-9" not in page.get_by_test_id("stApp").inner_text()
    # Signing out ends the session: the next visit asks to sign in again.
    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("button", name="Sign in").wait_for()
    page.goto(f"{base}/?as_of={AS_OF}")
    page.get_by_role("button", name="Sign in").wait_for()
    assert "T-1" not in page.get_by_test_id("stApp").inner_text()


def test_an_identity_cannot_be_forged_by_cookie_or_link(page, oidc_app):
    base, provider = oidc_app
    forged = json.dumps({"email": tiny_portfolio.ACME_USER, "is_logged_in": True, "origin": base})
    page.context.add_cookies([{"name": IDENTITY_COOKIE, "value": forged, "url": base}])
    page.goto(f"{base}/?email={tiny_portfolio.ACME_USER}&as_of={AS_OF}")
    page.get_by_role("button", name="Sign in").wait_for()
    shown = page.get_by_test_id("stApp").inner_text()
    assert "T-1" not in shown and "Acme" not in shown
    assert provider.authorize_requests == []


def test_the_page_recovers_by_itself_when_postgresql_comes_back(page, app_server, pg_cluster):
    url = pg_cluster.url + "/postgres"
    tiny_portfolio.build(url)
    base = app_server(url)
    page.goto(f"{base}/?as_of={AS_OF}")
    page.locator("table.dash-table").wait_for()

    pg_cluster.stop()
    page.goto(f"{base}/budget?as_of={AS_OF}")
    page.get_by_text("The reporting database is not answering right now").wait_for()
    assert "Traceback" not in page.get_by_test_id("stApp").inner_text()
    with urllib.request.urlopen(f"{base}/_stcore/health", timeout=5) as response:
        assert response.read() == b"ok", "the server stays up"

    pg_cluster.start()
    page.get_by_role("button", name="Retry").click()
    page.get_by_role("heading", name="Budget").wait_for(timeout=90_000)
    page.get_by_test_id("stMetricValue").first.wait_for()
    assert "not answering" not in page.get_by_test_id("stApp").inner_text()
    engine = make_engine(url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM trial")).scalar() == 3
    engine.dispose()
