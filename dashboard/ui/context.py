"""What the frame worked out for a run (Context), kept in the session for the page and the widgets."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING

import pandas as pd
import streamlit as st

from dashboard import access
from dashboard.links import ViewState, page_url

if TYPE_CHECKING:
    from dashboard.ui.downloads import Table


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
    page: str | None = None  # the page's name (set by excel_export)
    email: str | None = None  # who is signed in (None in demo mode): the log tags it, never writes it
    review_failed: bool = False  # the review database failed in this run (said once, not in every part that reads it)

    def link(self, page: str, **changes) -> str:
        """A relative link to `page` showing this view with `changes` (e.g. trial="X")."""
        return page_url(page, self.view.model_copy(update=changes))


_CONTEXT_KEY = "_dashboard_context"


def context() -> Context:
    """The Context the frame built in this run (pages call this)."""
    if _CONTEXT_KEY not in st.session_state:
        # Streamlit treats an app with a pages/ folder as a legacy multipage app until st.navigation has been called
        # once in this process: until then, a link straight to a sub-page runs that page without the frame. Calling
        # st.navigation (with the app's own pages, so the address still names this one) leaves that mode; the rerun then
        # goes through app.py. tests/test_browser.py checks a fresh server's first deep link.
        from dashboard.ui.navigation import navigation

        navigation()
        st.rerun()
    return st.session_state[_CONTEXT_KEY]


# The table page page_of last wrote into the address (None: the first, which the address does not say).
_URL_PAGE_KEY = "_dashboard_url_page"
