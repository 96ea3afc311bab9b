"""Running the app in AppTest against a given database, and reading what a user would see."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from dashboard.settings import get_settings

APP = str(Path(__file__).resolve().parent.parent / "app.py")
PAGE_FILES = {
    "portfolio": "pages/portfolio.py",
    "enrollment": "pages/enrollment.py",
    "sites": "pages/sites.py",
    "budget": "pages/budget.py",
    "vendors": "pages/vendors.py",
    "methods": "pages/methods.py",
}


def open_page(monkeypatch, database_url: str, page: str = "portfolio", **params: str) -> AppTest:
    """Run the app on `database_url` showing `page` with the query string `params`, as a browser would."""
    monkeypatch.setenv("DASHBOARD_DATABASE_URL", database_url)
    get_settings.cache_clear()
    at = AppTest.from_file(APP, default_timeout=30)
    for key, value in params.items():
        at.query_params[key] = value
    at.run()
    if page != "portfolio":
        # AppTest starts every session on the default page; the bound filters carry the link to the next.
        at.switch_page(PAGE_FILES[page])
        at.run()
    return at


def visible_text(at: AppTest) -> str:
    """Everything a user can read on the page: titles, text, notices, tiles and table cells."""
    parts: list[str] = []
    for kind in ("title", "header", "subheader", "markdown", "caption", "warning", "info", "error", "success"):
        parts.extend(str(element.value) for element in at.get(kind))
    for metric in at.metric:
        parts.extend([metric.label, str(metric.value), str(metric.delta or "")])
    for table in at.dataframe:
        parts.append(table.value.to_csv(index=False))
    return "\n".join(parts)


def metrics(at: AppTest) -> dict[str, str]:
    """The headline tiles, label → value."""
    return {m.label: m.value for m in at.metric}
