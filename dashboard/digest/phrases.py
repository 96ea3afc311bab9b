"""The digest's small words: numbers, plurals, the period a digest covers, a trial's link, joined runs, and a table
capped at MAX_ROWS rows with a link to the rest."""

from __future__ import annotations

import pandas as pd

from dashboard.digest.document import Link, Run, Table
from dashboard.digest.model import MAX_ROWS, Digest
from dashboard.formats import day as _day
from dashboard.links import COMPARE_DAYS


def num(value, fmt: str = "{:,}") -> str:
    return "—" if value is None or pd.isna(value) else fmt.format(value)


def plural_text(n: int, word: str, plural: str | None = None, *, zero: str | None = None) -> str:
    if n == 0 and zero is not None:
        return zero
    return f"{n:,} {word if n == 1 else plural or word + 's'}"


def period(d: Digest) -> str:
    return "this week" if (d.as_of - d.since).days == COMPARE_DAYS else f"since {_day(d.since)}"


def trial_link(d: Digest, protocol: str, page: str = "overview") -> Link:
    return Link(protocol, d.link(page, protocol))


def joined(items: list[list[Run]], separator: str = ", ") -> list[Run]:
    out: list[Run] = []
    for i, item in enumerate(items):
        if i:
            out.append(separator)
        out.extend(item)
    return out


def capped(d: Digest, title: str, table: Table, page: str) -> list:
    """A titled table of at most MAX_ROWS rows; a longer one ends with a link to the page that lists it all."""
    blocks: list = [[title], Table(table.headers, table.rows[:MAX_ROWS], table.numeric, table.break_words)]
    if len(table.rows) > MAX_ROWS:
        blocks.append([f"… and {len(table.rows) - MAX_ROWS:,} more: ", Link("see them all", d.link(page)), "."])
    return blocks
