"""Shared widgets: HTML tables and chips (data escaped), long tables a page at a time, grids with their printed
twin, and the headline tiles of registry figures."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

import jinja2
import pandas as pd
import streamlit as st
from markupsafe import Markup, escape

from dashboard import registry
from dashboard.formats import CHIP_COLOURS, grid_cell
from dashboard.links import TABLE_PAGE_KEY
from dashboard.metrics import HEALTH_WORD
from dashboard.settings import get_settings
from dashboard.ui.context import _CONTEXT_KEY, _URL_PAGE_KEY

_TABLE_CSS = (
    """
<style>
.dash-table {border-collapse: collapse; width: 100%; font-size: 14px; font-family: inherit;}
.dash-table th {text-align: left; font-weight: 600; color: #37474f; border-bottom: 2px solid #cfd8dc;
  padding: 6px 8px; vertical-align: bottom;}
.dash-table td {padding: 6px 8px; border-bottom: 1px solid #eceff1; vertical-align: middle;}
.dash-table td.num, .dash-table th.num {text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap;}
.dash-table th.num, .dash-table th.nowrap {white-space: normal;}  /* a long header wraps; the values under it stay whole */
.dash-table td.nowrap, .dash-table .nowrap {white-space: nowrap;}
.dash-table a {color: #0F5C6E; font-weight: 600; text-decoration: none;}
.dash-table a:hover {text-decoration: underline;}
.dash-table .muted {color: #78909c; font-size: 13px;}
.chip {display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 13px; white-space: nowrap;}
.chip::before {content: "●"; margin-right: 4px;}
"""
    + "".join(f".chip.{h} {{background: {bg}; color: {fg};}}\n" for h, (bg, fg) in CHIP_COLOURS.items())
    + """.bar {background: #eceff1; border-radius: 3px; height: 8px; width: 72px; display: inline-block; vertical-align: middle;}
.bar span {display: block; height: 8px; border-radius: 3px; background: #0F5C6E;}
</style>
"""
)


# HTML from data is written two ways, both escaping every value that is not already HTML (Markup): small pieces with
# `markup(template, *values)`, tables and the print header from Jinja2 templates (templates/) with autoescape on.
_TEMPLATES = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).resolve().parent / "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)


def markup(template: str, *values, **named) -> Markup:
    """HTML from a template written in the code and values from the data: `markup("<b>{}</b>", name)`. Each value is
    escaped unless it is already HTML (what cell, chip, link, bar and markup return), so data is always text."""
    return Markup(template).format(*values, **named)


def joined(separator: str, pieces) -> Markup:
    """Pieces of HTML (or text, escaped) joined by `separator` (written in the code: "<br>", ", ")."""
    return Markup(separator).join(escape(p) for p in pieces)


def render(template: str, **values) -> Markup:
    """A template of templates/ rendered with autoescape."""
    return Markup(_TEMPLATES.get_template(template).render(**values))


def chip(health: str, word: str | None = None) -> Markup:
    """A health colour as an HTML chip: a coloured dot and the word (never colour alone); `word` replaces the colour's."""
    text = word if word is not None else HEALTH_WORD[health]
    return markup('<span class="chip {}" title="{}">{}</span>', health, text, text)


def reason_chip(reason) -> Markup:
    """The chip of a registry.Reason: its colour with the health word, except a breached QTL, which is reported
    whatever the trial's colours say and so is named for its dimension ("Quality"), not "At risk" beside an amber trial."""
    return chip(reason.health, "Quality" if reason.dimension == "quality" else None)


def bar(fraction: float | None) -> Markup:
    """A small progress bar with its percentage beside it."""
    if fraction is None or pd.isna(fraction):
        return Markup('<span class="muted">—</span>')
    width = max(0.0, min(float(fraction), 1.0)) * 100
    return markup(
        '<span class="bar"><span style="width:{}%"></span></span> {}', f"{width:.0f}", f"{float(fraction):.0%}"
    )


def link(href: str, text: str, *, style: bool = False) -> Markup:
    """An HTML link opening in the same tab (a full reload that keeps the view in the URL); `style` gives it the
    tables' link colour where it stands outside a table."""
    if style:
        return markup('<a href="{}" target="_self" style="color:#0F5C6E;text-decoration:none">{}</a>', href, text)
    return markup('<a href="{}" target="_self">{}</a>', href, text)


PAGE_ROWS = 500  # rows of a long table sent to the browser at once (issue 10: ≤ 2 MB a page)
TRIALS_PER_PAGE = 50  # rows of a table of trials read as an overview: beyond this it is a scroll


def page_of(frame, key: str, what: str = "rows", rows: int | None = None, *, in_url: bool = False):
    """The rows of `frame` (a DataFrame or a list) to show now: all of them up to `rows` (PAGE_ROWS), else one page,
    picked with a selector drawn here. With `in_url` (the page's main table), the address says which page is shown
    (`page=3`), so a copied link or a printout shows the same rows.

    A long table is sent a page at a time; its CSV download (download_table with the whole frame) still holds every row.
    """
    n, size = len(frame), rows or PAGE_ROWS
    if n <= size:
        return frame
    starts = list(range(0, n, size))
    # Keyed by the view too: other filters or dates are another list, which starts again at its first page.
    ctx = st.session_state.get(_CONTEXT_KEY)
    widget_key = key if ctx is None else f"{key} {ctx.scope}"
    if in_url and ctx is not None:
        # The URL wins when it changed since this selector last wrote it (a pasted link, the back button).
        wanted = min(ctx.view.page or 1, len(starts))
        if st.session_state.get(_URL_PAGE_KEY) != ctx.view.page or widget_key not in st.session_state:
            st.session_state[widget_key] = starts[wanted - 1]
    start = st.selectbox(
        f"Showing {what}",
        starts,
        key=widget_key,
        format_func=lambda s: f"{s + 1:,}–{min(s + size, n):,} of {n:,}",
        help=f"{size:,} {what} at a time; the CSV download holds all {n:,}.",
        width=280,
    )
    if in_url and ctx is not None:
        number = start // size + 1
        st.session_state[_URL_PAGE_KEY] = number if number > 1 else None
        if number > 1:
            st.query_params[TABLE_PAGE_KEY] = str(number)
        ctx.view = ctx.view.model_copy(update={"page": number if number > 1 else None})
    return frame.iloc[start : start + size] if isinstance(frame, pd.DataFrame) else frame[start : start + size]


def html_table(
    rows: list[dict[str, object]], columns: dict[str, str], numeric: tuple[str, ...] = (), nowrap: tuple[str, ...] = ()
) -> None:
    """Draw a table (templates/table.html); column key → header. A cell is text (escaped) or HTML made by cell,
    chip, link, bar or markup."""
    css = {k: "num" if k in numeric else "nowrap" if k in nowrap else "" for k in columns}
    rows_out = [[(css[k], row.get(k, "")) for k in columns] for row in rows]
    st.html(Markup(_TABLE_CSS) + render("table.html", headers=[(css[k], h) for k, h in columns.items()], rows=rows_out))


def dataframe(
    data: pd.DataFrame, *, column_config: dict | None = None, column_order: list[str] | None = None, **kwargs
) -> None:
    """st.dataframe, and its printed twin: a grid prints only the rows and columns it shows on screen (it scrolls
    inside), so the same rows and columns are written once more as a plain table that only paper shows."""
    st.dataframe(data, column_config=column_config, column_order=column_order, **kwargs)
    config = column_config or {}
    columns = [
        c for c in (column_order or list(data.columns)) if c in data.columns and not (c in config and config[c] is None)
    ]

    def header(c: str) -> str:
        spec = config.get(c)
        return spec if isinstance(spec, str) else (spec or {}).get("label") or str(c)

    def kind(c: str) -> dict | None:
        spec = config.get(c)
        return None if spec is None or isinstance(spec, str) else spec.get("type_config")

    numeric = {c for c in columns if pd.api.types.is_numeric_dtype(data[c].dtype)}
    css = ["num" if c in numeric else "" for c in columns]
    rows = [
        [(css[i], grid_cell(v, kind(c))) for i, (c, v) in enumerate(zip(columns, values))]
        for values in data[columns].itertuples(index=False, name=None)
    ]
    headers = [(css[i], header(c)) for i, c in enumerate(columns)]
    st.html(Markup(_TABLE_CSS) + render("table.html", headers=headers, rows=rows, extra_class="dash-print-only"))


def plain(value, fmt: str = "{}") -> str:
    """A value as plain text for captions and tiles; empty values as a dash (empty is not zero)."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return "—"
    return fmt.format(value)


def cell(value, fmt: str = "{}") -> Markup:
    """A value as escaped HTML text; empty values as a muted dash (empty is not zero)."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return Markup('<span class="muted">—</span>')
    return escape(fmt.format(value))


def figure(
    container, value: registry.Value, since: date, *, note: str | None = None, instead: str | None = None
) -> None:
    """A headline tile of a registry figure: its label, its display, its change since the compare date as the delta
    (green when it moved the good way), and its definition and colour rule as the tooltip. `instead`: the words under
    the value, in place of the change, when there is no figure to show (why the tile is empty)."""
    settings = get_settings()
    f = value.figure
    parts = [f.definition_text(settings)]
    if f.threshold_text(settings):
        parts.append(f"Colour: {f.threshold_text(settings)}.")
    if note:
        parts.append(note)
    delta, colour = value.change_display, "off"
    if instead is not None and value.value is None:
        delta = instead
    elif not f.compares:
        delta = f"since {since:%d %b %Y}" if f.period else None
    elif delta is not None:
        parts.append(f"The change is since {since:%d %b %Y} (Compare with, in the sidebar).")
        if delta != "no change":
            colour = {"up": "normal", "down": "inverse"}.get(f.better, "off")
    container.metric(
        f.label,
        value.display,
        delta=delta,
        delta_color=colour,
        delta_arrow="auto" if colour != "off" or not delta else "off",
        help=" ".join(parts),
    )


def lpi_tiles(value_of: Callable[[str], registry.Value], since: date, *, complete: bool) -> None:
    """The last-patient-in tiles of a trial: the model and the CRO side by side while it enrolls; once enrollment is
    complete, the day it happened beside the day it was planned (nothing is left to forecast)."""
    if complete:
        st.markdown("**Last patient in: enrollment is complete**")
        keys, columns = ("lpi_model", "lpi_planned"), st.columns(2)
    else:
        st.markdown("**Last patient in: the model and the CRO side by side**")
        keys, columns = ("lpi_model", "lpi_cro", "lpi_gap"), st.columns(4)
    for column, key in zip(columns, keys):
        figure(column, value_of(key), since)
