"""The frame: page config, who the user is, the global filters bound to the URL, freshness, navigation."""

import streamlit as st

from dashboard import ui
from queries import portfolio

st.set_page_config(page_title="Trial portfolio", page_icon="📊", layout="wide", initial_sidebar_state="expanded")

PAGES = {
    "portfolio": st.Page("pages/portfolio.py", title="Portfolio", icon="🗂️", url_path="portfolio", default=True),
    "overview": st.Page("pages/overview.py", title="Trial overview", icon="🧭", url_path="overview"),
    "enrollment": st.Page("pages/enrollment.py", title="Enrollment", icon="📈", url_path="enrollment"),
    "sites": st.Page("pages/sites.py", title="Sites", icon="🏥", url_path="sites"),
    "budget": st.Page("pages/budget.py", title="Budget", icon="💶", url_path="budget"),
    "vendors": st.Page("pages/vendors.py", title="Vendors", icon="🏭", url_path="vendors"),
    "methods": st.Page("pages/methods.py", title="Methods & definitions", icon="📖", url_path="methods"),
}

# The built-in sidebar menu drops the query string and resets bound widgets: hide it and draw our own.
page = st.navigation(list(PAGES.values()), position="hidden")
page_name = next((name for name, p in PAGES.items() if p.url_path == page.url_path), "portfolio")
try:
    ctx = ui.build_frame(list_trials=portfolio.trial_options, page=page_name)
    ui.menu(ctx, PAGES)
    ui.share_link(ctx, page_name)
    ui.excel_export(ctx, page_name)
    ui.print_layout(ctx, page_name)
    ui.show_notices(ctx)
    ui.freshness_line(ctx, ui.cached(portfolio.freshness, ctx.scope))
    page.run()
except ui.DATABASE_ERRORS as error:
    ui.database_error(error)
