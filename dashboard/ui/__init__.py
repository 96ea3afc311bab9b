"""The one Streamlit package of the product: pages call `ui.<name>` and never import Streamlit's internals or SQL.

cache      query results, forecasts and composed health, cached per function, Scope and database; `reading`,
           the one place pages reach the database, names driver errors
context    what the frame worked out for a run (Context), kept in the session
auth       who the user is: sign-in, the return to the linked view, sign-out
frame      the sidebar filters bound to the address, the menu, the shareable link, notices, freshness, errors
widgets    HTML tables and chips, long tables a page at a time, grids with their printed twin, headline tiles
downloads  CSV downloads and the page's Excel workbook
printing   the printed page
review     the weekly review's actions and notes: list, history, add, edit, close
sites      the Sites page's words and table layout (imported as a module: `from dashboard.ui import sites`)
"""

from dashboard.formats import day, md, money  # pages write dates as ui.day, amounts as ui.money, Markdown as ui.md
from dashboard.ui import cache
from dashboard.ui.auth import identify, sign_out_control
from dashboard.ui.cache import _basis, _compose, _predict, basis, cached, composed, engine, predict, reading
from dashboard.ui.context import Context, context
from dashboard.ui.downloads import Table, download_label, download_table, excel_export, view_summary
from dashboard.ui.frame import (
    BOUND_KEYS,
    PageEnd,
    build_frame,
    canonical_link,
    end_page,
    freshness_line,
    health_label,
    menu,
    share_link,
    show_error,
    show_notices,
    url_selectbox,
)
from dashboard.ui.navigation import navigation
from dashboard.ui.printing import print_layout
from dashboard.ui.review import actions_section, open_counts
from dashboard.ui.widgets import (
    PAGE_ROWS,
    TRIALS_PER_PAGE,
    bar,
    cell,
    chip,
    dataframe,
    figure,
    html_table,
    joined,
    link,
    lpi_tiles,
    markup,
    page_of,
    plain,
    reason_chip,
)

__all__ = [
    "BOUND_KEYS",
    "PAGE_ROWS",
    "PageEnd",
    "TRIALS_PER_PAGE",
    "Context",
    "Table",
    "_basis",
    "actions_section",
    "open_counts",
    "_compose",
    "_predict",
    "bar",
    "basis",
    "build_frame",
    "cache",
    "cached",
    "canonical_link",
    "cell",
    "chip",
    "composed",
    "context",
    "dataframe",
    "day",
    "download_label",
    "download_table",
    "end_page",
    "engine",
    "excel_export",
    "figure",
    "freshness_line",
    "health_label",
    "html_table",
    "identify",
    "joined",
    "link",
    "lpi_tiles",
    "markup",
    "md",
    "menu",
    "navigation",
    "money",
    "page_of",
    "plain",
    "predict",
    "print_layout",
    "reading",
    "reason_chip",
    "share_link",
    "show_error",
    "show_notices",
    "sign_out_control",
    "url_selectbox",
    "view_summary",
]
