"""A page's tables as one Excel workbook: a "View" sheet saying what was shown, then one sheet per table."""

from __future__ import annotations

import io
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal

import pandas as pd
from openpyxl import Workbook
from openpyxl.cell.cell import Cell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

VIEW_SHEET = "View"
SHEET_NAME_MAX = 31  # Excel's limit
INTEGER = "#,##0"
DECIMAL = "0.00"
PERCENT = "0%"
MONEY = "#,##0"
# Dates as every page and the e-mail write them (formats.day): 08 Jul 2027.
DATE = "dd mmm yyyy"
TIMESTAMP = "dd mmm yyyy hh:mm"

# Earned-value amounts are named by their abbreviation; every other amount ends in _amount (the schema's convention).
_MONEY_COLUMNS = {"bac", "pv", "ev", "ac", "eac", "vac", "eac_atypical", "etc"}
# Fractions of 1 written as percentages: pct_* and *_pct, probabilities p_*, and shares named *_share or on_time_rate.
_PERCENT = re.compile(r"^(pct_|p_)|(_pct|_share|^on_time_rate)$")
# Counts (n_*) and day counts (days_*, *_days) are whole numbers even when a missing value made them floats;
# means and medians of days are not.
_WHOLE = re.compile(r"^(n_|days_)|_days$")
_AVERAGE = re.compile(r"^(mean|median|avg)_")
_FORBIDDEN_IN_SHEET_NAME = re.compile(r"[\[\]:*?/\\]")
_WIDTH_MIN, _WIDTH_MAX = 6, 60


def sheet_name(wanted: str, taken: Iterable[str]) -> str:
    """A valid Excel sheet name for `wanted`, unlike any in `taken`: at most 31 characters, none of []:*?/\\, unique."""
    base = _FORBIDDEN_IN_SHEET_NAME.sub(" ", wanted).strip(" '") or "Table"
    base = " ".join(base.split())[:SHEET_NAME_MAX].rstrip()
    used = {name.lower() for name in taken} | {VIEW_SHEET.lower(), "history"}  # History is reserved by Excel
    name, n = base, 1
    while name.lower() in used:
        n += 1
        suffix = f" ({n})"
        name = base[: SHEET_NAME_MAX - len(suffix)].rstrip() + suffix
    return name


def number_format(column: str, values: pd.Series) -> str | None:
    """The Excel number format for a column, from its name (the schema's conventions) and its type; None for text."""
    name = str(column).lower()
    if pd.api.types.is_bool_dtype(values):
        return None
    if pd.api.types.is_datetime64_any_dtype(values):
        stamps = values.dropna()
        has_time = not stamps.empty and bool((stamps.dt.normalize() != stamps).any())
        return TIMESTAMP if has_time or name.endswith("_at") else DATE
    if values.dtype == object:
        sample = values.dropna()
        if not sample.empty and all(isinstance(v, date) for v in sample):
            return TIMESTAMP if any(isinstance(v, datetime) for v in sample) else DATE
        if sample.empty or not all(isinstance(v, (int, float, Decimal)) and not isinstance(v, bool) for v in sample):
            return None
        values = pd.to_numeric(sample.map(float))
    if not pd.api.types.is_numeric_dtype(values):
        return None
    if _PERCENT.search(name):
        return PERCENT
    if name in _MONEY_COLUMNS or name.endswith("_amount"):
        return MONEY
    if pd.api.types.is_integer_dtype(values) or (_WHOLE.search(name) and not _AVERAGE.search(name)):
        return INTEGER
    return DECIMAL


def _cell_value(value):
    """A pandas/numpy value as something openpyxl writes: None for empty, plain Python numbers, naive datetimes."""
    if value is None:
        return None
    if isinstance(value, (list, tuple, dict, set)):
        return str(value)
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        return str(value)
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)
    if isinstance(value, date) or isinstance(value, str):
        return value
    if hasattr(value, "item"):  # numpy scalars
        value = value.item()
    if isinstance(value, Decimal):  # PostgreSQL numeric
        value = int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, float) and math.isinf(value):
        return None
    if isinstance(value, (bool, int, float)):
        return value
    return str(value)


# Text a spreadsheet would run as a formula or command (OWASP, CSV injection): = + - @, tab and carriage return.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralised(value):
    """A text value from the data made inert for a spreadsheet: one that starts like a formula gets a leading
    apostrophe, shown as typed; numbers, dates and other text are unchanged. The same in the CSV and the workbook."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def neutralise(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with its text neutralised (see neutralised); numbers stay numbers."""
    text = [c for c in frame.columns if frame[c].dtype == object or pd.api.types.is_string_dtype(frame[c].dtype)]
    return frame.assign(**{c: frame[c].map(neutralised) for c in text}) if text else frame


def _text(cell: Cell, value) -> None:
    """Write a value, text as text: never read as a formula (a value from a data file may start with "=")."""
    value = neutralised(value)
    cell.value = value
    if isinstance(value, str):
        cell.data_type = "s"


def _shown_width(value, fmt: str | None) -> int:
    if value is None:
        return 1
    if isinstance(value, datetime):
        return 16 if fmt == TIMESTAMP else 10
    if isinstance(value, date):
        return 10
    if isinstance(value, float) and fmt == PERCENT:
        return len(f"{value:.0%}")
    if isinstance(value, (int, float)) and not isinstance(value, bool) and fmt in (INTEGER, MONEY):
        return len(f"{value:,.0f}")
    if isinstance(value, float):
        return len(f"{value:.2f}")
    return max((len(line) for line in str(value).splitlines()), default=1)


def _write_table(sheet, frame: pd.DataFrame) -> None:
    frame = frame.reset_index(drop=True)
    formats = [number_format(column, frame[column]) for column in frame.columns]
    widths = [len(str(column)) for column in frame.columns]
    for j, column in enumerate(frame.columns, start=1):
        header = sheet.cell(row=1, column=j)
        _text(header, str(column))
        header.font = Font(bold=True)
    for i, row in enumerate(frame.itertuples(index=False, name=None), start=2):
        for j, (raw, fmt) in enumerate(zip(row, formats), start=1):
            value = _cell_value(raw)
            cell = sheet.cell(row=i, column=j)
            _text(cell, value)
            if fmt is not None and value is not None and not isinstance(value, str):
                cell.number_format = fmt
            widths[j - 1] = max(widths[j - 1], _shown_width(value, fmt))
    for j, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(j)].width = min(max(width + 2, _WIDTH_MIN), _WIDTH_MAX)
    sheet.freeze_panes = "A2"


def _write_view(sheet, view: Mapping[str, object], sheets: Sequence[str]) -> None:
    rows = [*view.items(), ("Tables", ", ".join(sheets) if sheets else "none")]
    for i, (label, value) in enumerate(rows, start=1):
        _text(sheet.cell(row=i, column=1), label)
        sheet.cell(row=i, column=1).font = Font(bold=True)
        cell = sheet.cell(row=i, column=2)
        value = _cell_value(value)
        _text(cell, value)
        if isinstance(value, datetime):
            cell.number_format = TIMESTAMP
        elif isinstance(value, date):
            cell.number_format = DATE
        elif isinstance(value, str) and value.startswith(("http://", "https://")):
            cell.hyperlink = value
            cell.style = "Hyperlink"
    sheet.column_dimensions["A"].width = max(len(str(label)) for label, _ in rows) + 2
    sheet.column_dimensions["B"].width = min(max(_shown_width(_cell_value(v), None) for _, v in rows) + 2, 100)


def workbook(tables: Sequence[tuple[str, pd.DataFrame]], view: Mapping[str, object]) -> bytes:
    """The .xlsx file: a "View" sheet (each `view` label beside its value, then the sheet names), then one sheet per table.

    `tables` are (sheet name, frame) pairs whose names `sheet_name` made valid and unique.
    """
    book = Workbook()
    view_sheet = book.active
    view_sheet.title = VIEW_SHEET
    _write_view(view_sheet, view, [name for name, _ in tables])
    for name, frame in tables:
        _write_table(book.create_sheet(name), frame)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
