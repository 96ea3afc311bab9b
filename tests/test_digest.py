"""The status digest: e-mail-safe HTML, links that reproduce their view, the pages' figures, one user's access, SMTP."""

import email
import email.policy
import re
from datetime import date
from html import unescape
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

import pytest
from aiosmtpd.controller import Controller

import tiny_portfolio
from apptest_helpers import metrics, notices, open_page, visible_text
from conftest import free_port
from dashboard import digest
from dashboard.links import PAGES
from dashboard.settings import get_settings

AS_OF = tiny_portfolio.AS_OF.isoformat()
SINCE = "2026-06-23"  # the default: a week before AS_OF
BASE_URL = "https://trials.pharma.example/dashboard"
SUBJECT = "Trial portfolio status — as of 30 Jun 2026 (since 23 Jun 2026)"
FORBIDDEN_TAGS = {
    "script",
    "link",
    "img",
    "iframe",
    "object",
    "embed",
    "style",
    "form",
    "base",
    "video",
    "audio",
    "source",
    "svg",
}


@pytest.fixture(scope="module")
def module_env():
    """Environment changes for a whole module (monkeypatch is per test); settings re-read before and after."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DASHBOARD_PUBLIC_BASE_URL", BASE_URL)
        get_settings.cache_clear()
        yield mp
    get_settings.cache_clear()


class Document(HTMLParser):
    """What a mail client would see in the digest: tags, attributes, links, text, and the data tables (those with headers)."""

    def __init__(self, html: str):
        super().__init__()
        self.tags: set[str] = set()
        self.attributes: list[tuple[str, str, str]] = []
        self.links: list[str] = []
        self.tables: list[list[dict[str, str]]] = []
        self._stack: list[dict] = []
        self._cell: list[str] | None = None
        self._href: str | None = None
        self._text: list[str] = []
        self.html = html
        self.feed(html)
        self.text = " ".join("".join(self._text).split())

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        self.attributes.extend((tag, name, value or "") for name, value in attrs)
        if tag == "table":
            self._stack.append({"headers": [], "rows": []})
        elif tag == "tr" and self._stack:
            self._stack[-1]["rows"].append([])
        elif tag in ("td", "th"):
            self._cell, self._href = [], None
        elif tag == "a":
            self._href = dict(attrs).get("href")
            self.links.append(self._href)
        elif tag == "br":
            self.handle_data(" ")

    def handle_endtag(self, tag):
        if tag == "table":
            table = self._stack.pop()
            if table["headers"]:
                rows = [r for r in table["rows"] if r]
                self.tables.append([self._row(table["headers"], r) for r in rows])
        elif tag in ("td", "th") and self._cell is not None and self._stack:
            text = " ".join("".join(self._cell).split())
            if tag == "th":
                self._stack[-1]["headers"].append(text)
            else:
                self._stack[-1]["rows"][-1].append((text, self._href))
            self._cell = None

    @staticmethod
    def _row(headers, cells):
        row = {}
        for header, (text, href) in zip(headers, cells):
            row[header] = text
            if href:
                row[f"{header} href"] = href
        return row

    def handle_data(self, data):
        self._text.append(data)
        if self._cell is not None:
            self._cell.append(data)

    def key_figures(self) -> dict[str, tuple[str, str]]:
        """The key-figure tiles: label → (value, the link the value opens)."""
        found = re.findall(
            r'text-transform:uppercase[^>]*>([^<]*)</div><div[^>]*><a href="([^"]*)"[^>]*>([^<]*)</a>', self.html
        )
        return {unescape(label): (unescape(value), unescape(href)) for label, href, value in found}

    def table(self, *headers: str) -> list[dict[str, str]]:
        """The one data table that has these headers."""
        (found,) = [t for t in self.tables if t and all(h in t[0] for h in headers)]
        return found


def write_digest(tiny_url, tmp_path, *args: str) -> Document:
    out = tmp_path / "digest.html"
    assert digest.main(["--as-of", AS_OF, *args, "--out", str(out), "--url", tiny_url]) == 0
    return Document(out.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def ann(module_env, tiny_url, tmp_path_factory):
    """ann@acme.example's digest as of the fixture's date, compared with a week before."""
    return write_digest(tiny_url, tmp_path_factory.mktemp("ann"), "--user", tiny_portfolio.ACME_USER)


def page_and_params(url: str) -> tuple[str, dict[str, str]]:
    """The page a dashboard link opens and its query parameters."""
    parts = urlsplit(url)
    page = parts.path.removeprefix(urlsplit(BASE_URL).path).strip("/") or "portfolio"
    return page, {key: values[-1] for key, values in parse_qs(parts.query).items()}


@pytest.fixture(scope="module")
def opened(module_env, tiny_url):
    """Open a digest link in AppTest as a browser would (each link once per module): url -> AppTest."""
    runs = {}

    def open_link(url: str):
        if url not in runs:
            page, params = page_and_params(url)
            runs[url] = open_page(module_env, tiny_url, page, **params)
        return runs[url]

    return open_link


def test_the_html_is_safe_for_mail_clients(ann):
    """No scripts, style sheets, images or frames; nothing loaded from anywhere; every URL is the dashboard's."""
    assert not ann.tags & FORBIDDEN_TAGS
    assert not [
        (t, n)
        for t, n, _ in ann.attributes
        if n in ("src", "srcset", "background", "class", "id") or n.startswith("on")
    ]
    assert not [
        v
        for t, n, v in ann.attributes
        if n == "style" and ("url(" in v or "@import" in v or "display:flex" in v or "grid" in v)
    ]
    urls = re.findall(r"(?:https?:)?//[^\s\"'<>)]+", " ".join(v for _, _, v in ann.attributes) + " " + ann.text)
    assert urls and all(u.startswith(BASE_URL + "/") for u in urls), [u for u in urls if not u.startswith(BASE_URL)]
    assert all(href.startswith(BASE_URL + "/") for href in ann.links)


def test_every_link_carries_its_dates_and_opens_that_view(ann, opened):
    """Each distinct link, opened in the app, shows the trial, as_of and since its query string names."""
    hrefs = sorted(set(ann.links))
    assert {page_and_params(h)[0] for h in hrefs} == set(PAGES), "the digest links to every page"
    assert any("trial=T-1" in h for h in hrefs) and any("trial=T-2" in h for h in hrefs)
    for href in hrefs:
        page, params = page_and_params(href)
        assert params["as_of"] == AS_OF and params["since"] == SINCE, href
        at = opened(href)
        assert not at.exception and at.title, href
        if page == "methods":
            # The definitions page reads no view, so AppTest runs it without the frame: check the frame on the same query.
            at = opened(href.replace("/methods?", "/?"))
        assert not [w for w in notices(at) if "Ignored" in w or "not found" in w], href
        scope = at.session_state["_dashboard_context"].scope
        assert (scope.trial, scope.as_of, scope.since) == (
            params.get("trial"),
            date.fromisoformat(AS_OF),
            date.fromisoformat(SINCE),
        ), href
        if "trial" in params:
            assert params["trial"] in visible_text(at), href


def test_a_trials_figures_are_those_its_pages_show(ann, opened):
    """T-1's enrolled and CPI, and each trial's overdue milestones, as the pages its links open show them."""
    trials = {
        row["Trial"].split()[0]: row for row in ann.table("Trial", "Enrolled / target", "CPI", "Milestones overdue")
    }
    assert set(trials) == {"T-1", "T-2"}
    t1 = trials["T-1"]
    assert t1["Enrolled / target"] == "3 / 10" and t1["CPI"] == "1.22"  # hand-counted (tiny_portfolio)
    assert metrics(opened(t1["Enrolled / target href"]))["Enrolled"] == t1["Enrolled / target"].split(" / ")[0]
    assert metrics(opened(t1["CPI href"]))["CPI"] == t1["CPI"]
    for row in trials.values():
        # The count links to the trial's Vendors page, whose tile of the same label says the same number.
        assert "/vendors?" in row["Milestones overdue href"]
        assert metrics(opened(row["Milestones overdue href"]))["Milestones overdue"] == row["Milestones overdue"]
    assert trials["T-2"]["Milestones overdue"] == "1"  # the drug product release, due 06-01
    assert trials["T-1"]["Worst milestone slip"] == "Last patient in +45 d"


def test_the_key_figures_are_the_tiles_their_links_open(ann, module_env, tiny_url):
    """Each key figure of ann's e-mail, opened by ann, lands on a page with a tile of the same label and number."""
    tiles = ann.key_figures()
    assert tiles["Milestones overdue"][0] == "1" and tiles["Enrolled"][0] == "3" and tiles["Budget spent"][0] == "38%"
    for label, (value, href) in tiles.items():
        page, params = page_and_params(href)
        at = open_page(module_env, tiny_url, page, user=tiny_portfolio.ACME_USER, **params)
        assert metrics(at)[label] == value, label


def test_the_digest_reports_what_changed_in_the_week(ann):
    """T-2 turned red on schedule (drug product release overdue); its two supply forecasts slipped; the supply conflict."""
    (changed,) = ann.table("Trial", "Overall health", "What changed")
    assert changed["Trial"].startswith("T-2") and changed["Overall health"] == "● Watch → ● At risk"
    assert changed["What changed"].startswith("Schedule turned red: Drug product released +44 d")
    slipped = ann.table("Trial", "Milestone", "Forecast", "Moved")
    assert [(r["Trial"], r["Moved"]) for r in slipped] == [("T-2", "+44 d"), ("T-2", "+19 d")]
    (supply,) = ann.table("Supply milestone", "Needed for", "Margin")
    assert supply["Margin"] == "● Supply conflict -2 d"
    assert "Nobody enrolled this week" in ann.text and "No trial's CPI is below 0.95" in ann.text


def test_a_users_digest_holds_only_their_sponsors_trials(module_env, tiny_url, tmp_path, ann):
    olga = write_digest(tiny_url, tmp_path, "--user", tiny_portfolio.OTHER_USER)
    assert "X-9" in olga.text and "Other Pharma" in olga.text
    assert not re.search(r"T-[12]\b", olga.text + " ".join(olga.links)) and "Acme" not in olga.text
    assert "T-1" in ann.text and "T-2" in ann.text
    assert "X-9" not in ann.text + " ".join(ann.links) and "Other Pharma" not in ann.text
    everyone = write_digest(tiny_url, tmp_path, "--all-sponsors", "--sponsor", "OTHER")
    assert "X-9" in everyone.text and "T-1" not in everyone.text


@pytest.mark.parametrize(
    "args, message",
    [
        (["--user", "stranger@example.com"], "stranger@example.com has no access to any sponsor's trials"),
        (
            ["--user", tiny_portfolio.ACME_USER, "--sponsor", "OTHER"],
            "no sponsor 'OTHER' among those ann@acme.example may see",
        ),
        ([], "say whose access the digest is for"),
        (["--all-sponsors", "--since", AS_OF], f"--since {AS_OF} is not before --as-of {AS_OF}"),
        (["--all-sponsors", "--url", "sqlite:////nowhere/at/all.db"], "no database file at /nowhere/at/all.db"),
        # A malformed address is refused before any mail library sees it (issue 22: it printed a traceback).
        (["--send", "--user", tiny_portfolio.ACME_USER, "--to", "boss@x.example\nBcc: all@x.example"], "--to "),
        (
            ["--send", "--user", tiny_portfolio.ACME_USER, "--to", "not-an-address"],
            "--to 'not-an-address' is not an e-mail address",
        ),
    ],
)
def test_a_user_error_gets_one_plain_line_and_exit_code_2(module_env, tiny_url, tmp_path, capsys, args, message):
    out = tmp_path / "digest.html"
    argv = ["--as-of", AS_OF, *args, "--out", str(out)]
    assert digest.main(argv if "--url" in args else [*argv, "--url", tiny_url]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1, err
    assert not out.exists()


# --- SMTP ----------------------------------------------------------------------------------------


class Inbox:
    """An aiosmtpd handler that keeps every message it is given."""

    def __init__(self):
        self.envelopes = []

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return "250 Message accepted"

    def messages(self):
        return {
            tuple(e.rcpt_tos): email.message_from_bytes(e.content, policy=email.policy.default) for e in self.envelopes
        }


@pytest.fixture
def smtp(monkeypatch):
    """A real SMTP server on loopback for one test, and the settings that point the digest at it."""
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    monkeypatch.setenv("DASHBOARD_PUBLIC_BASE_URL", BASE_URL)
    monkeypatch.setenv("DASHBOARD_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("DASHBOARD_SMTP_PORT", str(port))
    monkeypatch.setenv("DASHBOARD_MAIL_FROM", "portfolio-digest@pharma.example")
    get_settings.cache_clear()
    try:
        yield inbox
    finally:
        controller.stop()
        get_settings.cache_clear()


def _parts(message):
    assert message.get_content_type() == "multipart/alternative"
    return message.get_body(("plain",)).get_content(), message.get_body(("html",)).get_content()


def test_send_mails_each_user_their_own_digest(smtp, tiny_url, capsys):
    assert digest.main(["--as-of", AS_OF, "--send", "--url", tiny_url]) == 0
    messages = smtp.messages()
    assert set(messages) == {(tiny_portfolio.ACME_USER,), (tiny_portfolio.OTHER_USER,)}
    for (to,), message in messages.items():
        assert message["Subject"] == SUBJECT
        assert message["From"] == "portfolio-digest@pharma.example" and message["To"] == to
        text, html = _parts(message)
        assert "TRIAL PORTFOLIO STATUS" in text and f"<{BASE_URL}/?" in text
        assert "<table" in html and "<script" not in html
    ann_text, ann_html = _parts(messages[(tiny_portfolio.ACME_USER,)])
    olga_text, olga_html = _parts(messages[(tiny_portfolio.OTHER_USER,)])
    assert "trial=T-1" in ann_html and "trial=T-2" in ann_html and "X-9" not in ann_html + ann_text
    assert "trial=X-9" in olga_html and not re.search(r"T-[12]\b", olga_html + olga_text)
    assert "Sent the digest to ann@acme.example" in capsys.readouterr().out


def test_send_to_an_address_with_a_users_access(smtp, tiny_url):
    argv = [
        "--as-of",
        AS_OF,
        "--send",
        "--user",
        tiny_portfolio.OTHER_USER,
        "--to",
        "board@other.example",
        "--url",
        tiny_url,
    ]
    assert digest.main(argv) == 0
    ((to, message),) = smtp.messages().items()
    assert to == ("board@other.example",) and message["To"] == "board@other.example"
    _, html = _parts(message)
    assert "trial=X-9" in html and "T-1" not in html


def test_a_mail_server_that_refuses_the_connection_is_a_plain_error(monkeypatch, tiny_url, capsys):
    monkeypatch.setenv("DASHBOARD_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("DASHBOARD_SMTP_PORT", str(free_port()))
    get_settings.cache_clear()
    try:
        assert digest.main(["--as-of", AS_OF, "--send", "--user", tiny_portfolio.ACME_USER, "--url", tiny_url]) == 1
    finally:
        get_settings.cache_clear()
    err = capsys.readouterr().err
    assert err.startswith("error: cannot reach the mail server 127.0.0.1:") and err.count("\n") == 1, err


@pytest.mark.parametrize("width", [390, 1440])
def test_the_email_reads_on_a_phone_without_scrolling_sideways(browser, small_demo_db, tmp_path, width):
    """At 390 px (a phone) nothing is wider than the screen; on a wide screen the card is 720 px, centred."""
    from conftest import SMALL_DEMO_TODAY

    out = tmp_path / "digest.html"
    assert (
        digest.main(
            ["--as-of", SMALL_DEMO_TODAY.isoformat(), "--all-sponsors", "--out", str(out), "--url", small_demo_db]
        )
        == 0
    )
    context = browser.new_context(viewport={"width": width, "height": 900})
    try:
        page = context.new_page()
        page.goto(out.as_uri())
        scroll_width, client_width = page.evaluate(
            "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
        )
        assert scroll_width <= client_width, (
            f"the e-mail scrolls sideways at {width} px ({scroll_width} > {client_width})"
        )
        widest = page.evaluate(
            "Math.max(...[...document.querySelectorAll('body *')].map(e => e.getBoundingClientRect().right))"
        )
        assert widest <= client_width + 0.5
        card = page.evaluate("document.querySelector('body > table table').getBoundingClientRect().width")
        assert card == pytest.approx(min(width, 720), abs=1)
        # Every table's rows are there to read: the digest's data tables (with a header row) are all visible.
        assert page.locator("th").count() > 10 and page.locator("th").first.is_visible()
    finally:
        context.close()
