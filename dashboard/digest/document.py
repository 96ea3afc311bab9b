"""The digest as a document: sections of paragraphs, tiles and tables whose runs are text, links and chips,
rendered as HTML and as text (dashboard.digest.render)."""

from __future__ import annotations

from dataclasses import dataclass

from dashboard.metrics import (
    HEALTH_WORD,
)

# --- The document: sections of paragraphs, tiles and tables, rendered as HTML and as text -------


@dataclass(frozen=True)
class Link:
    text: str
    href: str


@dataclass(frozen=True)
class Chip:
    """A health colour: always drawn with its word (never colour alone)."""

    health: str
    text: str | None = None

    @property
    def word(self) -> str:
        return self.text or HEALTH_WORD[self.health]


BREAK = "\n"
Run = str | Link | Chip


@dataclass
class Cell:
    runs: list[Run]
    note: str | None = None  # a second, muted line


@dataclass
class Table:
    headers: list[str]
    rows: list[list[Cell]]
    numeric: tuple[int, ...] = ()  # right-aligned columns
    # Notes may break inside a word on a phone: a table too wide for 390 px otherwise ("discontinuation" in a note).
    break_words: bool = False


@dataclass
class Tile:
    label: str
    value: str
    note: str
    href: str


@dataclass
class Section:
    title: str
    href: str | None
    blocks: list  # of list[Run] (a paragraph), list[list[Run]] wrapped in Bullets, Table, or list[Tile]


@dataclass
class Bullets:
    items: list[list[Run]]
