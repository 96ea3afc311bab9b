"""CSV downloads of the tables a page shows and the page's Excel workbook, with a summary of the view."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime

import pandas as pd
import streamlit as st

from dashboard import exports
from dashboard.links import PAGES
from dashboard.ui.context import _CONTEXT_KEY, Context
from dashboard.ui.frame import canonical_link


def view_summary(ctx: Context, page: str) -> dict[str, object]:
    """What the page shows, label → value: the page, sponsors, filters, dates and the canonical link (for exports and print)."""
    scope = ctx.scope
    if scope.trial is not None:
        codes = set(ctx.trials.loc[ctx.trials["protocol_number"] == scope.trial, "sponsor_code"])
        sponsors = [g.sponsor_name for g in ctx.grants if g.sponsor_code in codes]
    else:
        sponsors = [g.sponsor_name for g in ctx.grants if g.sponsor_id in scope.sponsor_ids]
    summary: dict[str, object] = {
        "Page": PAGES.get(page, page),
        "Sponsor": ", ".join(sponsors),
        "Trial": scope.trial or "All trials in view",
    }
    if scope.site is not None:
        summary["Site"] = scope.site
    if scope.ta is not None:
        summary["Therapeutic area"] = scope.ta
    if scope.phase is not None:
        summary["Phase"] = scope.phase
    summary["As of"] = scope.as_of
    summary["Compared with (since)"] = scope.since
    summary["Link"] = canonical_link(ctx, page)
    return summary


_WORKBOOK_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def excel_export(ctx: Context, page: str) -> Callable[[], None]:
    """Keep a place in the sidebar for the page's Excel button; returns a function that draws it there once the page
    has drawn, if the page showed a table (download_table lists them).

    The place is kept before the page runs, under the link to the view, whatever the page draws or wherever it ends.
    The button comes only after the page's last table: drawn at the first one, it could be clicked while the page was
    still drawing, and the workbook then lacked the tables still to come.
    """
    ctx.page = page
    slot = st.sidebar.empty()

    def fill() -> None:
        if ctx.tables:
            _excel_button(ctx, slot)

    return fill


def _excel_button(ctx: Context, slot) -> None:
    view = view_summary(ctx, ctx.page)
    # This run's own list, complete when the button is drawn: the workbook holds exactly the tables this page showed
    # to this user, and all of them.
    tables = list(ctx.tables)

    def build() -> bytes:
        return exports.workbook(
            [(name, table.frame()) for name, table in tables],
            {**view, "Exported at (UTC)": datetime.now(UTC).replace(microsecond=0)},
        )

    trial = f"{ctx.scope.trial}_" if ctx.scope.trial else ""
    slot.download_button(
        "⬇️ This page as Excel (.xlsx)",
        build,
        f"{ctx.page}_{trial}{ctx.scope.as_of:%Y-%m-%d}.xlsx",
        _WORKBOOK_MIME,
        on_click="ignore",
    )


def _sheet_from_label(label: str) -> str:
    """The sheet name a CSV button's label suggests: "⬇️ Download sites (CSV)" → "Sites"."""
    words = re.sub(r"^\W*(Download\s+)?", "", label.replace("(CSV)", "")).strip()
    return words[:1].upper() + words[1:]


def download_label(what: str, n_rows: int, n_shown: int | None = None) -> str:
    """A CSV button's label: "⬇️ Download sites (CSV)", or "⬇️ Download all 1,234 sites (CSV)" when the page shows
    fewer rows than the file holds (an export holds exactly the rows shown, or says it holds them all)."""
    if n_shown is not None and n_shown < n_rows:
        return f"⬇️ Download all {n_rows:,} {what} (CSV)"
    return f"⬇️ Download {what} (CSV)"


class Table:
    """A table of the page for its CSV and its workbook sheet: a frame as shown, or the function that makes it, called
    once, when a file is first asked for (a Portfolio of 250 trials spent a second on its export at every cold run)."""

    def __init__(self, source: pd.DataFrame | Callable[[], pd.DataFrame]):
        # A frame is copied as shown now, whatever the page does to it afterwards.
        self._made = source.copy() if isinstance(source, pd.DataFrame) else None
        self._make = None if isinstance(source, pd.DataFrame) else source

    def frame(self) -> pd.DataFrame:
        if self._made is None:
            self._made = self._make()
        return self._made


def download_table(
    label: str, frame: pd.DataFrame | Callable[[], pd.DataFrame], file_name_stem: str, sheet: str | None = None
) -> None:
    """A CSV download of a table the page shows (or of the function that makes it, for a table worked out only for
    the file); the table also becomes sheet `sheet` (default: from the label) of the page's workbook.

    The button does not rerun the page (a rerun would replace the file while it downloads). The CSV is written
    when the button is clicked, not on every run: for thousands of rows that was most of a warm run.
    """
    table = Table(frame)

    def build() -> bytes:
        return exports.neutralise(table.frame()).to_csv(index=False).encode("utf-8")

    st.download_button(label, build, f"{file_name_stem}.csv", "text/csv", on_click="ignore")
    ctx = st.session_state.get(_CONTEXT_KEY)
    if ctx is None:  # outside the frame (app.py): no workbook to add the table to
        return
    name = exports.sheet_name(sheet or _sheet_from_label(label), [taken for taken, _ in ctx.tables])
    ctx.tables.append((name, table))  # the workbook only reads it: one frame serves both files
