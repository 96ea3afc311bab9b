"""Reading a contract CSV file: UTF-8 rows by header, each value parsed and checked by its file's model."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from dashboard.contract import (
    FileSpec,
    suggest,
)


def _folded(key: tuple) -> tuple:
    """A key as codes compare: text without regard to case."""
    return tuple(v.casefold() if isinstance(v, str) else v for v in key)


def _describe(columns: tuple[str, ...], values: tuple) -> str:
    if len(columns) == 1:
        return repr(str(values[0]))
    return "(" + ", ".join(f"{c} {str(v)!r}" for c, v in zip(columns, values)) + ")"


# Reading a file.


class _NotUtf8(Exception):
    def __init__(self, line: int):
        super().__init__(line)
        self.line = line


class CsvRows:
    """The rows of one contract file as (line, {column: stripped text or None}); problems go to `report`."""

    def __init__(self, path: Path, spec: FileSpec, report: Callable[[int | None, str | None, str], None]):
        self.path, self.spec, self.report = path, spec, report
        self.readable = True  # False: the header or the text is broken, so its rows could not all be checked

    def _positions(self, header: list[str]) -> dict[str, int] | None:
        names = [h.strip() for h in header]
        expected = self.spec.column_names
        if len(names) == 1 and len(expected) > 1:
            separator = next((s for s in (";", "\t", "|") if s in names[0]), None)
            if separator is not None:
                shown = "tabs" if separator == "\t" else f"'{separator}'"
                self.report(
                    1,
                    None,
                    f"the values are separated by {shown}: save the file with commas (in Excel: CSV UTF-8, "
                    "comma delimited)",
                )
                return None
        good = True
        for position, name in enumerate(names):
            if not name:
                if any(names[position:]):
                    self.report(1, None, f"column {position + 1} of the header has no name")
                continue
            if names.index(name) != position:
                self.report(1, name, "appears twice in the header")
                good = False
            elif name not in expected:
                hint = suggest(name, expected) or f"; the columns of {self.spec.file_name} are: {', '.join(expected)}"
                self.report(1, name, f"unknown column{hint}")
        missing = [c for c in expected if c not in names]
        for name in missing:
            optional = (
                "" if self.spec.column(name).required else " (its values may be empty, but the column must be there)"
            )
            self.report(1, name, f"is missing from the header{optional}")
        if missing or not good:
            self.report(1, None, "the rows of this file were not checked: fix its header first")
            return None
        return {name: names.index(name) for name in expected}

    def _text(self, handle) -> Iterator[str]:
        """The file's lines as text, decoded one by one so a bad byte is reported on its own line."""
        for number, raw in enumerate(handle, start=1):
            if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            try:
                yield raw.decode("utf-8")
            except UnicodeDecodeError:
                raise _NotUtf8(number) from None

    def __iter__(self) -> Iterator[tuple[int, dict[str, str | None]]]:
        previous_end = 0  # the last line of the record read last
        try:
            with open(self.path, "rb") as handle:
                reader = csv.reader(self._text(handle))
                header = next(reader, None)
                if header is None or not any(h.strip() for h in header):
                    self.report(
                        1,
                        None,
                        f"the file is empty: it needs at least the header line {','.join(self.spec.column_names)}",
                    )
                    self.readable = False
                    return
                positions = self._positions(header)
                if positions is None:
                    self.readable = False
                    return
                previous_end = reader.line_num
                width = len(header)
                for fields in reader:
                    # A record may span lines (a quoted value with line breaks): name the line it starts on.
                    line, previous_end = previous_end + 1, reader.line_num
                    if not any(f.strip() for f in fields):
                        continue
                    if len(fields) != width:
                        self.report(
                            line,
                            None,
                            f"the row has {len(fields)} values but the header has {width} columns"
                            " (a value with a comma needs quotes)",
                        )
                        continue
                    yield line, {name: (fields[i].strip() or None) for name, i in positions.items()}
        except _NotUtf8 as exc:
            self.report(exc.line, None, "is not UTF-8 text: save the file as UTF-8 (in Excel: CSV UTF-8)")
            self.readable = False
        except csv.Error as exc:
            self.report(previous_end + 1, None, f"cannot be read as CSV: {exc}")
            self.readable = False
        except OSError as exc:
            self.report(None, None, f"cannot be read: {exc.strerror or exc}")
            self.readable = False


def _typed_rows(path: Path, spec: FileSpec) -> Iterator[dict[str, Any]]:
    """The typed rows of a file already checked (second pass)."""

    def unexpected(line, column, message):
        raise RuntimeError(f"{spec.file_name}:{line}: {message}: the file changed during the load")

    for line, raw in CsvRows(path, spec, unexpected):
        values, problems = spec.parse(raw)
        if values is None or problems:
            unexpected(line, None, problems)
        yield values


def _batches(rows: Iterator, size: int) -> Iterator[list]:
    batch = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


# What the database already holds, by natural key.
