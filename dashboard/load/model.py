"""What a load counts and reports: its modes and limits, the problems found (with where), the counts per file, the plan."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

MODES = ("upsert", "replace")
BATCH_ROWS = 5_000
PROGRESS_ROWS = 20_000
MAX_SHOWN = 50
# Also how long SQLite waits for another writer's lock.
STATEMENT_TIMEOUT_S = 600
BAD = object()  # a value that failed its check: no key, reference or rule is checked with it


class Problems:
    """Every problem found, as `file:line: column: message`; the first MAX_SHOWN are kept, the rest counted."""

    def __init__(self, limit: int = MAX_SHOWN):
        self.limit = limit
        self.shown: list[str] = []
        self.total = 0
        self.per_place: Counter[str] = Counter()

    def add(self, file: str, line: int | None, column: str | None, message: str) -> None:
        self.total += 1
        place = f"{file}:{line}" if line is not None else file
        self.per_place[f"{file}: {column}" if column else file] += 1
        if len(self.shown) < self.limit:
            self.shown.append(f"{place}: {column}: {message}" if column else f"{place}: {message}")

    def __bool__(self) -> bool:
        return self.total > 0

    def lines(self) -> list[str]:
        out = list(self.shown)
        if self.total > len(self.shown):
            out.append(f"… and {self.total - len(self.shown):,} more problems. All problems, per file and column:")
            out += [f"  {place}: {n:,}" for place, n in sorted(self.per_place.items())]
        return out


@dataclass
class Counts:
    rows: int = 0
    inserted: int = 0
    updated: int = 0
    deleted: int = 0


@dataclass
class Plan:
    """What the check found: the files to load, their row counts, the sponsors a replace swaps."""

    directory: Path
    mode: str
    reference: bool = False  # the load may change shared reference rows (countries, vendors) for every sponsor
    files: dict[str, Path] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)
    replaced: set[str] = field(default_factory=set)
    problems: Problems = field(default_factory=Problems)
