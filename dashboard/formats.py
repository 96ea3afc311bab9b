"""How figures are written for people, the same on pages, in exports' displays and in the status e-mail."""

from __future__ import annotations

import re
from datetime import date

import pandas as pd


def money(amount: float | None) -> str:
    """An amount, short: 1.2M, 350k, 900; a dash when there is none (empty is not zero)."""
    if amount is None or pd.isna(amount):
        return "—"
    for size, suffix in ((1e9, "bn"), (1e6, "M"), (1e3, "k")):
        if abs(amount) >= size:
            return f"{amount / size:,.1f}{suffix}"
    return f"{amount:,.0f}"


# Health colours, one palette for every surface: (background, text) of a chip (pages and e-mail), and the
# marker colour of a chart. The words beside them are metrics.HEALTH_WORD (colour is never shown alone).
CHIP_COLOURS = {
    "green": ("#e8f5e9", "#1b5e20"),
    "amber": ("#fff4d6", "#7a5c00"),
    "red": ("#ffebee", "#b71c1c"),
    "grey": ("#eeeeee", "#555555"),
}
MARKER_COLOURS = {"green": "#2e7d32", "amber": "#f2a900", "red": "#c62828", "grey": "#9e9e9e"}

# The symbols readers know at a glance; any other currency is written with its ISO code.
CURRENCY_SYMBOL = {"EUR": "€", "USD": "$", "GBP": "£", "JPY": "¥"}


def money_in(amount: float | None, currency: str | None) -> str:
    """An amount, short, with its currency: €33.6M, $1.2k, CHF 350k; a dash when there is none."""
    short = money(amount)
    if short == "—" or not currency:
        return short
    symbol = CURRENCY_SYMBOL.get(currency)
    if symbol is None:
        return f"{currency} {short}"
    return f"-{symbol}{short[1:]}" if short.startswith("-") else f"{symbol}{short}"


def grid_cell(value, type_config: dict | None) -> str:
    """A grid cell as text, the way st.dataframe's column config shows it (its printf or date format, a link's
    display text): what the printed twin of a grid writes. Empty is empty, not zero."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    config = type_config or {}
    fmt, kind = config.get("format"), config.get("type")
    if kind == "link" and config.get("display_text"):
        found = re.search(config["display_text"], str(value))
        return found.group(1) if found and found.groups() else str(value)
    if kind == "date" or isinstance(value, (date, pd.Timestamp)):
        return day(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if fmt == "localized" or fmt is None:
            return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"
        if fmt.startswith("%,"):  # "%,.0f": Python's own spec ",.0f"
            return format(value, fmt[1:])
        try:
            return fmt % (int(value) if "d" in fmt and float(value).is_integer() else value)
        except (TypeError, ValueError):
            return str(value)
    return str(value)


def natural_key(values: pd.Series) -> pd.Series:
    """Sort key that reads the numbers in codes as numbers: site 9, 10, 100 rather than 10, 100, 9 (S-2 before S-10)."""
    return values.astype(str).str.replace(r"\d+", lambda m: m.group().zfill(12), regex=True)


def signed_money(amount: float | None) -> str:
    """A change of an amount, short, with its sign: +1.2M, −350k."""
    if amount is None or pd.isna(amount):
        return "—"
    return ("+" if amount > 0 else "") + money(amount)


def day(value: date | pd.Timestamp | None) -> str:
    """A date as people read it in a report: 08 Jul 2027; a dash when there is none."""
    if value is None or pd.isna(value):
        return "—"
    return f"{pd.Timestamp(value):%d %b %Y}"


# Markdown (as Streamlit renders it: CommonMark, GFM, LaTeX between $, :colour[…] and :emoji: directives) gives these
# characters a meaning; a backslash before any ASCII punctuation shows it as itself.
_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:&=\"'^%@,;?/])")


def md(value) -> str:
    """A value from the data as literal text inside Markdown (titles, captions, notices): never a link, an image,
    emphasis, a formula or a directive. Line breaks become spaces."""
    text = " ".join(str(value).split())
    return _MARKDOWN.sub(r"\\\1", text)


def plotly_text(values: pd.Series) -> pd.Series:
    """Text from the data as Plotly shows it literally: Plotly reads <b>, <a href=…>, <br> and entities in labels,
    hovers and ticks, so the characters that start them are written as entities."""
    return (
        values.astype("string")
        .str.replace("&", "&amp;", regex=False)
        .str.replace("<", "&lt;", regex=False)
        .str.replace(">", "&gt;", regex=False)
        .astype(object)
        .where(values.notna(), None)
    )
