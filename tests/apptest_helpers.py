"""Running the app in AppTest against a given database, and reading what a user would see."""

from __future__ import annotations

import re
from html import unescape
from html.parser import HTMLParser
from pathlib import Path

from streamlit.testing.v1 import AppTest

from bench.serverside import keep_components, share_components  # AppTests share one component registry
from dashboard.links import PAGES
from dashboard.settings import get_settings

APP = str(Path(__file__).resolve().parent.parent / "app.py")
PAGE_FILES = {name: f"pages/{name}.py" for name in PAGES}
# What the app's frame shows for a bug it caught (errors.QueryError, UnexpectedError), instead of a traceback.
BUG_SHOWN = re.compile(r"Something went wrong while preparing this page\. .* reference [0-9a-f]{8}\.")


class CheckedAppTest(AppTest):
    """An AppTest whose `exception` also holds the bugs the app's frame caught and showed as a sentence with a
    reference: a page that breaks fails `assert not at.exception` as it did before the frame caught errors."""

    @property
    def exception(self):
        return [*super().exception, *(e for e in self.error if BUG_SHOWN.search(str(e.value)))]


def open_page(
    monkeypatch,
    database_url: str,
    page: str = "portfolio",
    *,
    user: str | None = None,
    query: dict | None = None,
    claims: dict | None = None,
    **params: str,
) -> AppTest:
    """Run the app on `database_url` showing `page` with the query string `params` (or `query`), as a browser would.

    With `user`, the app runs in OIDC mode signed in as that e-mail, verified (`claims` change or add ID-token
    claims): AppTest's own `user` stands in for the identity provider's signed cookie (no seam of ours: a real
    browser cannot set st.user).
    """
    monkeypatch.setenv("DASHBOARD_DATABASE_URL", database_url)
    if user is not None:
        monkeypatch.setenv("DASHBOARD_AUTH_MODE", "oidc")
    get_settings.cache_clear()
    at = AppTest.from_file(APP, default_timeout=30)
    at.__class__ = CheckedAppTest  # from_file makes a plain AppTest
    share_components(at)
    if user is not None:
        at.user = {"is_logged_in": True, "email": user, "email_verified": True, **(claims or {})}
    for key, value in {**(query or {}), **params}.items():
        at.query_params[key] = value
    if page != "portfolio":
        at.switch_page(PAGE_FILES[page])
    at.run()
    keep_components(at)
    return at


def read(markdown: str) -> str:
    """Markdown source as a reader sees it: a backslash-escaped character (data is escaped so) is the character."""
    return re.sub(r"\\(.)", r"\1", markdown)


def notices(at: AppTest, kind: str = "warning") -> list[str]:
    """The page's notices of `kind` (warning, info, error) as read."""
    return [read(str(e.value)) for e in at.get(kind)]


def visible_text(at: AppTest) -> str:
    """Everything a user can read on the page: titles, text, notices, tiles and table cells."""
    parts: list[str] = []
    for kind in ("title", "header", "subheader", "markdown", "caption", "warning", "info", "error", "success"):
        parts.extend(read(str(element.value)) for element in at.get(kind))
    for metric in at.metric:
        parts.extend([metric.label, str(metric.value), str(metric.delta or "")])
    for table in at.dataframe:
        parts.append(table.value.to_csv(index=False))
    for html in at.get("html"):
        parts.append(re.sub(r"<[^>]+>", " ", html.proto.body))
    return "\n".join(parts)


def share_link(at: AppTest) -> str:
    """The link to the view that the sidebar shows, as a reader copies it (the text of its one link box)."""
    found = [
        unescape(text)
        for html in at.sidebar.get("html")
        for text in re.findall(r'<code class="dash-share-url">(.*?)</code>', html.proto.body, re.S)
    ]
    assert len(found) == 1, f"the sidebar shows {len(found)} links to the view"
    return found[0]


class _TableParser(HTMLParser):
    def __init__(self):
        super().__init__()
        self.headers: list[str] = []
        self.rows: list[list[tuple[str, str | None]]] = []
        self._cell: list[str] | None = None
        self._href: str | None = None
        self._in_style = False

    def handle_starttag(self, tag, attrs):
        if tag == "style":
            self._in_style = True
        elif tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell, self._href = [], None
        elif tag == "a" and self._cell is not None:
            self._href = dict(attrs).get("href")
        elif tag == "br" and self._cell is not None:
            self._cell.append(" ")

    def handle_endtag(self, tag):
        if tag == "style":
            self._in_style = False
        elif tag in ("td", "th") and self._cell is not None:
            text = " ".join("".join(self._cell).split())
            if tag == "th":
                self.headers.append(text)
            else:
                self.rows[-1].append((text, self._href))
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None and not self._in_style:
            self._cell.append(data)


def html_tables(at: AppTest) -> list[list[dict[str, str]]]:
    """The HTML tables on the screen, each as rows of header → cell text; a link's target is under "<header> href"."""
    return _tables(at, printed=False)


def print_twins(at: AppTest) -> list[list[dict[str, str]]]:
    """The tables only paper shows (each grid's printed twin, ui.dataframe), read as html_tables reads the screen's."""
    return _tables(at, printed=True)


def _tables(at: AppTest, *, printed: bool) -> list[list[dict[str, str]]]:
    tables = []
    for html in at.get("html"):
        if "<table" not in html.proto.body or ("dash-print-only" in html.proto.body) != printed:
            continue
        parser = _TableParser()
        parser.feed(html.proto.body)
        rows = []
        for cells in parser.rows:
            if not cells:
                continue
            row = {}
            for header, (value, href) in zip(parser.headers, cells):
                row[header] = value
                if href:
                    row[f"{header} href"] = href
            rows.append(row)
        tables.append(rows)
    return tables


def metrics(at: AppTest) -> dict[str, str]:
    """The headline tiles, label → value."""
    return {m.label: m.value for m in at.metric}


def page_tables(at: AppTest) -> dict:
    """The tables the run offered as files (its CSVs and the workbook's sheets), by sheet name, as they download."""
    return {name: table.frame() for name, table in at.session_state["_dashboard_context"].tables}
