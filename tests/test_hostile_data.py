"""Data that arrives hostile: names holding HTML, Markdown images and links, javascript: URLs and spreadsheet formulas
are shown as their literal text on every page, in every chart, export and e-mail, never as markup or formulas."""

import json
import re
from html import unescape

import pytest
from sqlalchemy import update

import tiny_portfolio
from apptest_helpers import open_page, page_tables
from browser_helpers import settle
from dashboard import digest, exports
from dashboard import schema as s
from dashboard.db import make_engine

AS_OF = tiny_portfolio.AS_OF.isoformat()
BEACON = "http://127.0.0.1:9"


def payload(beacon: str) -> str:
    """Text that would fetch from `beacon`, run script, or render emphasis or a formula if it were shown as markup."""
    return (
        f'<img src="{beacon}/h.png"> ![i]({beacon}/m.png) [s](javascript:alert(1)) **b** $x$ :red[r] '
        f'<a href="{beacon}">a</a> <style>*{{background:url({beacon}/css.png)}}</style> '
        f'<script>fetch("{beacon}/s")</script> "><img src=x onerror=fetch("{beacon}/e")>'
    )


PAYLOAD = payload(BEACON)
FORMULA = f'=HYPERLINK("{BEACON}","click")'
# Raw sequences that mean markup; escaped text never contains them.
MARKUP = ("<img", "![i](", "](javascript", "**b**", "$x$", ":red[", "<a href", "<script", "onerror=fetch")

VIEWS = [
    ("portfolio", {}),
    ("overview", {"trial": "T-1"}),
    ("overview", {"trial": "T-2"}),
    ("enrollment", {"trial": "T-1"}),
    ("enrollment", {}),
    ("sites", {"trial": "T-1"}),
    ("sites", {"trial": "T-1", "site": "S1"}),
    ("sites", {}),
    ("budget", {"trial": "T-1"}),
    ("budget", {"sponsor": "ACME"}),
    ("vendors", {"trial": "T-2"}),
    ("vendors", {}),
]


def build_hostile(url: str, text: str) -> None:
    """The tiny portfolio with `text` in every name and title, and a formula in a reason and a site name."""
    tiny_portfolio.build(url)
    engine = make_engine(url, read_only=False)
    with engine.begin() as conn:
        conn.execute(update(s.sponsor).values(sponsor_name="Acme " + text))
        conn.execute(
            update(s.trial).values(
                trial_title="Title " + text, indication="Ind " + text, therapeutic_area="Area " + text
            )
        )
        conn.execute(update(s.country).values(country_name="Land " + text))
        conn.execute(update(s.site).values(site_name="Site " + text))
        conn.execute(update(s.site).where(s.site.c.site_id == 2).values(site_name=FORMULA))
        conn.execute(update(s.vendor).values(vendor_name="Vendor " + text))
        conn.execute(update(s.milestone).values(milestone_name="Milestone " + text))
        conn.execute(update(s.change_order).values(reason=FORMULA))
    engine.dispose()


@pytest.fixture(scope="module")
def hostile_url(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('hostile') / 'hostile.db'}"
    build_hostile(url, PAYLOAD)
    return url


def _strings(value):
    """Every string inside a decoded JSON value."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


@pytest.mark.parametrize("page, params", VIEWS, ids=lambda v: str(v))
def test_every_page_shows_hostile_names_as_text(monkeypatch, hostile_url, page, params):
    at = open_page(monkeypatch, hostile_url, page, as_of=AS_OF, **params)
    assert not at.exception
    shown = 0
    for kind in ("title", "header", "subheader", "markdown", "caption", "info", "warning", "error", "success"):
        for element in at.get(kind):
            text = str(element.value)
            # Markdown shows a character after a backslash as itself: what is left unescaped must hold no markup.
            assert not [m for m in MARKUP if m in re.sub(r"\\.", "", text)], f"{kind}: {text[:200]}"
            shown += "Acme" in text or "Title" in text or "Site" in text or "Vendor" in text or "Milestone" in text
    for html in at.get("html"):
        body = html.proto.body
        assert "<img" not in body and 'href="javascript' not in body and f'href="{BEACON}' not in body, body[:300]
        shown += "&lt;img" in body
    for chart in at.get("plotly_chart"):
        for text in _strings(json.loads(chart.proto.spec)):
            assert "<img" not in text and "<a href" not in text, text[:200]
    for table in page_tables(at).values():
        for column in table.columns:
            for value in exports.neutralise(table)[column]:
                assert not (isinstance(value, str) and value.startswith(exports.FORMULA_START)), (column, value)
    assert shown, "the payload is on the page, as text"


def test_the_e_mail_shows_hostile_names_as_text(monkeypatch, hostile_url, tmp_path):
    monkeypatch.setenv("DASHBOARD_PUBLIC_BASE_URL", "https://dash.example")
    out = tmp_path / "digest.html"
    assert (
        digest.main(
            [
                "--url",
                hostile_url,
                "--as-of",
                "2026-07-10",
                "--since",
                "2026-06-30",
                "--all-sponsors",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    html = out.read_text(encoding="utf-8")
    assert "<img" not in html and f'href="{BEACON}' not in html and 'href="javascript' not in html
    assert "<script" not in html and "<style" not in html
    # Shown as text: escaped in the source, the very characters once read.
    assert "&lt;img src=" in html and "&lt;script&gt;" in html
    assert f'<script>fetch("{BEACON}/s")</script> "><img src=x onerror=' in unescape(html)


@pytest.fixture
def beacon():
    """A local web server that counts every request made to it: a page that shows data as text makes none."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    hits: list[str] = []

    class Count(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (the name http.server calls)
            hits.append(self.path)
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Count)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", hits
    finally:
        server.shutdown()


CHART = '[data-testid="stPlotlyChart"] .main-svg'


def test_a_browser_shows_hostile_names_as_text_and_fetches_nothing(page, app_server, beacon, tmp_path):
    address, hits = beacon
    url = f"sqlite:///{tmp_path / 'hostile.db'}"
    build_hostile(url, payload(address))
    base = app_server(url)
    # Every request the browser issues to the beacon, seen as it leaves (the server's count below sees it arrive).
    issued: list[str] = []

    def watch(request) -> None:
        if request.url.startswith(address):
            issued.append(request.url)

    page.on("request", watch)
    try:
        for path in ("/", "/overview?trial=T-1", "/vendors?trial=T-2", "/sites?trial=T-1&site=S1", "/budget?trial=T-1"):
            page.goto(f"{base}{path}{'&' if '?' in path else '?'}as_of={AS_OF}")
            main = page.get_by_test_id("stMain")
            main.get_by_text("<img src=", exact=False).filter(visible=True).first.wait_for()
            page.wait_for_selector(CHART)
            settle(page)  # drawn in full: an element the data made is in the page, and a fetch of it would have left
            assert issued == [], f"{path}: the browser asked the beacon for {issued}"
            assert "Traceback" not in main.inner_text()
            assert main.locator("img").count() == 0 or all(
                not (src or "").startswith(address)
                for src in main.locator("img").evaluate_all("els => els.map(e => e.src)")
            ), path
    finally:
        page.remove_listener("request", watch)  # the tab is the session's: the next test's requests are its own
    assert hits == [], f"the browser fetched {hits} from the beacon"
