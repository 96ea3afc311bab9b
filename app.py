"""The frame: page config, who the user is, the global filters bound to the URL, freshness, navigation."""

import streamlit as st

from dashboard import ui
from dashboard.settings import get_settings
from queries import overview, portfolio

st.set_page_config(page_title="Trial portfolio", page_icon="📊", layout="wide", initial_sidebar_state="expanded")

# Every page, served at its name; `page` is the one the address asks for.
PAGES, page = ui.navigation()
page_name = next((name for name, p in PAGES.items() if p.url_path == page.url_path), "portfolio")
ctx = None
try:
    ctx = ui.build_frame(list_trials=portfolio.trial_options, page=page_name)
    ui.menu(ctx, PAGES)
    show_link = ui.share_link(ctx, page_name)
    offer_workbook = ui.excel_export(ctx, page_name)
    ui.print_layout(ctx, page_name)
    ui.show_notices(ctx)
    ui.freshness_line(
        ctx, ui.cached(portfolio.freshness, ctx.scope), overview.publication(ui.cached, ctx.scope, get_settings())
    )
    try:
        page.run()
    except ui.PageEnd:  # the page ended early (an empty state, a portfolio-level view): the frame still finishes it
        pass
    finally:  # also when the page fails
        show_link()
        offer_workbook()
except Exception as error:  # Streamlit's st.stop and st.rerun are not Exceptions: they pass
    # A database error or a bug: a sentence that fits it and a reference, never a traceback; the log has the rest.
    ui.show_error(error, page_name, ctx.email if ctx is not None else None)
