"""The app's pages: one per name of links.PAGES (the one list of pages), served at that name, registered with
st.navigation. app.py calls it on every run; ui.context() calls it when a page runs without the frame."""

from __future__ import annotations

import streamlit as st

from dashboard.links import DEFAULT_PAGE, PAGES

ICONS = {
    "portfolio": "🗂️",
    "overview": "🧭",
    "enrollment": "📈",
    "sites": "🏥",
    "budget": "💶",
    "vendors": "🏭",
    "methods": "📖",
}


def navigation() -> tuple[dict[str, st.Page], st.Page]:
    """The pages by name, and the one the address asks for. Streamlit's own sidebar menu is hidden: it drops the query
    string and resets bound widgets, so ui.menu draws ours."""
    pages = {
        name: st.Page(f"pages/{name}.py", title=title, icon=ICONS[name], url_path=name, default=name == DEFAULT_PAGE)
        for name, title in PAGES.items()
    }
    return pages, st.navigation(list(pages.values()), position="hidden")
