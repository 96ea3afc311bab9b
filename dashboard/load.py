"""Load a folder of CSV files written to the data contract (docs/data-contract.md) into the reporting database.

    python -m dashboard.load DIR [--url URL] [--mode upsert|replace] [--dry-run] [--source NAME]

Two passes over the files, each reading them row by row. The first checks every row — its values
with the pydantic model of its file (dashboard.contract), then keys, references and the rules
between rows — and writes nothing. Only when it found no problem does the second pass write
everything in the same transaction, parents first, in batches, and add a load_log row. What stays
in memory is the keys of the rows (to find duplicates and resolve references), never the rows.

Exit codes: 0 loaded, 1 problems in the files or a database error, 2 a usage error, 3 loaded but its snapshots not
published (the pages compute live until `python -m dashboard.snapshot` succeeds).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from alembic import command
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, bindparam, delete, func, inspect, select, text, update
from sqlalchemy.exc import SQLAlchemyError

from dashboard import rollups, schema, snapshot
from dashboard.contract import (
    GRANTS,
    HORIZON_YEARS,
    ROOT,
    SAME_PARENT,
    FileSpec,
    Reference,
    csv_select,
    file_spec,
    file_specs,
    is_shared,
    scope_path,
    suggest,
)
from dashboard.db import (
    SchemaStateError,
    UsageError,
    alembic_config,
    cli_database_url,
    head_revision,
    report_cli_error,
    writable_engine,
)
from dashboard.settings import get_settings

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
                self.report(1, None, f"the values are separated by {shown}: save the file with commas (in Excel: CSV UTF-8, "
                            "comma delimited)")
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
            optional = "" if self.spec.column(name).required else " (its values may be empty, but the column must be there)"
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
                    self.report(1, None, f"the file is empty: it needs at least the header line {','.join(self.spec.column_names)}")
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
                        self.report(line, None, f"the row has {len(fields)} values but the header has {width} columns"
                                    " (a value with a comma needs quotes)")
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


def _key_map(conn: Connection, name: str, extra: tuple[str, ...] = (), *, owner: bool = False) -> dict[tuple, tuple]:
    """natural key → (id, owner sponsor code or None, *extra columns) for every row of a table."""
    spec = file_spec(name)
    out: dict[tuple, tuple] = {}
    n_key = len(spec.key)
    for row in conn.execute(csv_select(name, spec.key + extra, owner=owner)):
        values = tuple(row)
        out[values[1:1 + n_key]] = (values[0], values[-1] if owner else None, *values[1 + n_key:1 + n_key + len(extra)])
    return out


# First pass: check everything, write nothing.


class Checker:
    """Checks the files of a folder against the contract and what the database holds."""

    def __init__(self, conn: Connection, directory: Path, mode: str, progress: Callable[[str], None], *,
                 reference: bool = False, horizon_years: int = HORIZON_YEARS, today: date | None = None):
        self.conn, self.progress = conn, progress
        self.plan = Plan(directory=directory, mode=mode, reference=reference)
        today = today or date.today()
        # No fact or plan of a trial lies this far ahead: such a date is a typing mistake (2999 for 2029).
        self.latest = date(today.year + horizon_years, today.month, min(today.day, 28))
        self.folded: dict[str, dict[tuple, tuple[tuple, int]]] = {}  # key without case → (key as written, line)
        self.folded_database: dict[str, dict[tuple, tuple]] = {}
        self.specs = file_specs()
        self.keys: dict[str, dict[tuple, int]] = {}  # natural keys of the files' rows → line
        self.owners: dict[str, dict[tuple, str]] = {}  # key → sponsor code, for tables whose key is theirs alone
        self.attrs: dict[str, dict[tuple, tuple]] = {}  # key → the key of a row it refers to (SAME_PARENT)
        self.unreadable: set[str] = set()  # files missing or broken: nothing is checked against them
        self.database: dict[tuple, dict[tuple, tuple]] = {}
        # Tables whose key is theirs alone (a protocol, contract or change-order number): unique across sponsors.
        self.owned = {n for n, s in self.specs.items() if n != ROOT and not is_shared(n) and all(s.origin[k] is None for k in s.key)}
        # Tables referred to by a SAME_PARENT rule → their reference the rule compares.
        self.same_parent: dict[str, Reference] = {}
        for name, pairs in SAME_PARENT.items():
            for ref_column, via_column in pairs:
                parent = next(r for r in file_spec(name).references if r.db_column == ref_column).parent
                self.same_parent[parent] = next(r for r in file_spec(parent).references if r.db_column == via_column)
        self.reverse: dict[tuple, dict[tuple, tuple]] = {}

    def in_database(self, name: str, *, extra: tuple[str, ...] = (), owner: bool = False) -> dict[tuple, tuple]:
        cache_key = (name, extra, owner)
        if cache_key not in self.database:
            self.database[cache_key] = _key_map(self.conn, name, extra, owner=owner)
        return self.database[cache_key]

    def may_use_database(self, parent: str) -> bool:
        """With --mode replace, rows a sponsor owns come from the files; shared ones (countries, vendors) may be in the database."""
        return self.plan.mode == "upsert" or is_shared(parent)

    def run(self) -> Plan:
        plan = self.plan
        names = {spec.file_name: name for name, spec in self.specs.items()}
        for path in sorted(plan.directory.iterdir()):
            if path.is_file() and path.suffix.lower() == ".csv" and path.name not in names:
                plan.problems.add(path.name, None, None, f"is not a file of the contract{suggest(path.name, list(names))}: "
                                  "rename it, or move it out of the folder")
        for name, spec in self.specs.items():
            path = plan.directory / spec.file_name
            if path.is_file():
                plan.files[name] = path
            elif spec.required_in(plan.mode):
                why = "required" if spec.required_in_upsert else "required with --mode replace, so that a forgotten file deletes nothing"
                plan.problems.add(spec.file_name, None, None, f"the file is missing: it is {why}; with no rows, write just "
                                  f"its header line: {','.join(spec.column_names)}")
                self.unreadable.add(name)
        for name, path in plan.files.items():
            self.check_file(self.specs[name], path)
        return plan

    def owner_of(self, spec: FileSpec, values: dict) -> str | None:
        path = scope_path(spec.name)
        if not path:
            return None
        reference = path[0]
        key = tuple(values.get(c, BAD) for c in reference.columns)
        if BAD in key or None in key:
            return None
        if reference.parent == ROOT:
            return key[0]
        found = self.owners.get(reference.parent, {}).get(key)
        if found is None and reference.parent in self.owned:
            found = (self.in_database(reference.parent, owner=True).get(key) or (None, None))[1]
        return found

    def check_file(self, spec: FileSpec, path: Path) -> None:
        plan, problems, name = self.plan, self.plan.problems, spec.name

        def report(line, column, message):
            problems.add(spec.file_name, line, column, message)

        rows = CsvRows(path, spec, report)
        keys = self.keys[name] = {}
        others: list[dict[tuple, int]] = [{} for _ in spec.unique_keys[1:]]
        owners = self.owners[name] = {} if name in self.owned else None
        attrs = self.attrs[name] = {} if name in self.same_parent else None
        self_refs: list[tuple[int, Reference, tuple]] = []
        n = 0
        for line, raw in rows:
            n += 1
            values, found = spec.parse(raw)
            for column, message in found:
                report(line, column, message)
            if values is None:
                # Check keys and references with the values that are good, so one bad value gives one problem.
                bad = {column for column, _ in found}
                values = {c: BAD for c in bad}
                values.update({c: parsed[0] for c in spec.column_names if c not in bad
                               if (parsed := spec.parse_key(raw, (c,))) is not None})
                for c in spec.column_names:
                    values.setdefault(c, BAD)
            self.check_row(spec, line, values, keys, others, owners, attrs, self_refs, report)
            if n % PROGRESS_ROWS == 0:
                self.progress(f"  {spec.file_name}: {n:,} rows checked…")
        plan.rows[name] = n
        if not rows.readable:
            self.unreadable.add(name)
        for line, reference, key in self_refs:
            if key not in keys and not (self.may_use_database(name) and key in self.in_database(name)):
                report(line, reference.column, f"no {name} {_describe(reference.columns, key)} in {spec.file_name}"
                       + (" or in the database" if self.may_use_database(name) else ""))
        if name == ROOT and plan.mode == "replace":
            plan.replaced = {key[0] for key in keys}
        if rows.readable:
            self.progress(f"  {spec.file_name}: {n:,} row{'s' if n != 1 else ''}")
        else:
            self.progress(f"  {spec.file_name}: not all rows could be checked")

    def check_row(self, spec, line, values, keys, others, owners, attrs, self_refs, report) -> None:
        name = spec.name
        key = tuple(values[c] for c in spec.key)
        if BAD not in key:
            if key in keys:
                report(line, spec.key[-1], f"duplicate key {_describe(spec.key, key)}: line {keys[key]} has the same")
            else:
                keys[key] = line
                self.check_case(spec, line, key, report)
        for column in spec.date_columns:
            value = values.get(column)
            if isinstance(value, date) and value > self.latest:
                report(line, column, f"{value.isoformat()} is more than {self.latest.year - date.today().year} years ahead: "
                       "check the year")
        if is_shared(name) and BAD not in key and not self.plan.reference:
            self.check_shared(spec, line, key, values, report)
        for columns, seen in zip(spec.unique_keys[1:], others):
            other = tuple(values[c] for c in columns)
            if BAD in other or None in other:
                continue
            if other in seen:
                report(line, columns[-1], f"line {seen[other]} has the same {_describe(columns, other)}: "
                       f"only one {name} per {', '.join(columns)}")
            else:
                seen[other] = line
                if self.plan.mode == "upsert" and BAD not in key:
                    # A row of the database with the same (protocol_number, vendor_code) under another key.
                    if (name, columns) not in self.reverse:
                        existing = self.in_database(name, extra=columns)
                        self.reverse[(name, columns)] = {tuple(v[2:]): k for k, v in existing.items()}
                    clash = self.reverse[(name, columns)].get(other)
                    if clash is not None and clash != key:
                        report(line, spec.key[-1], f"the database already has {name} {_describe(spec.key, clash)} for "
                               f"{_describe(columns, other)}, and there may be only one: use {_describe(spec.key, clash)} "
                               "here, or --mode replace")
        for reference in spec.references:
            target = tuple(values[c] for c in reference.columns)
            if BAD in target or None in target:
                continue
            if reference.is_self:
                self_refs.append((line, reference, target))
                continue
            self.check_reference(reference, target, line, report)
        if owners is not None and BAD not in key:
            owner = self.owner_of(spec, values)
            if owner is not None:
                owners[key] = owner
                known = self.in_database(name, owner=True).get(key)
                if known is not None and known[1] != owner and (self.plan.mode == "upsert" or known[1] not in self.plan.replaced):
                    report(line, spec.key[-1], f"{name} {_describe(spec.key, key)} belongs to sponsor {known[1]} in the "
                           f"database, not to {owner}: {', '.join(spec.key)} is unique across sponsors; use another one")
        if attrs is not None and BAD not in key:
            attrs[key] = tuple(values[c] for c in self.same_parent[name].columns)
        for ref_column, via_column in SAME_PARENT.get(name, ()):
            self.check_same_parent(spec, ref_column, via_column, values, line, report)

    def check_case(self, spec: FileSpec, line: int, key: tuple, report) -> None:
        """Codes are compared without regard to case: hel-301 beside HEL-301 would be a second trial in the files
        or beside the database's, and a link could name either."""
        name = spec.name
        folded = _folded(key)
        seen = self.folded.setdefault(name, {})
        if folded in seen:
            other, other_line = seen[folded]
            report(line, spec.key[-1], f"{_describe(spec.key, key)} differs only in case from {_describe(spec.key, other)} "
                   f"on line {other_line}: codes are compared without regard to case; write it the same way")
            return
        seen[folded] = (key, line)
        if name not in self.folded_database:
            self.folded_database[name] = {_folded(k): k for k in self.in_database(name)}
        stored = self.folded_database[name].get(folded)
        if stored is not None and stored != key:
            report(line, spec.key[-1], f"{_describe(spec.key, key)} differs only in case from {_describe(spec.key, stored)} "
                   "in the database: codes are compared without regard to case; write it as the database has it")

    def check_shared(self, spec: FileSpec, line: int, key: tuple, values: dict, report) -> None:
        """A shared reference row (a country, a vendor) that is already loaded stays as it is, unless the load says
        it changes the list for every sponsor (--reference): one sponsor's feed may not rename another's vendor."""
        columns = tuple(c for c in spec.own_columns if c not in spec.key)
        stored = self.in_database(spec.name, extra=columns).get(key)
        if stored is None:
            return
        for column, before in zip(columns, stored[2:]):
            if values.get(column) is not BAD and values.get(column) != before:
                report(line, column, f"{spec.name} {_describe(spec.key, key)} is shared by every sponsor and is loaded with "
                       f"{column} {_describe((column,), (before,))}, not {_describe((column,), (values.get(column),))}: "
                       "only a load with --reference changes shared reference data; write it as it is, or leave the row out")
                return

    def check_reference(self, reference: Reference, target: tuple, line: int, report) -> None:
        parent = reference.parent
        if parent in self.unreadable or target in self.keys.get(parent, {}):
            return
        file_name = file_spec(parent).file_name
        in_db = target in self.in_database(parent)
        if in_db and self.may_use_database(parent):
            return
        where = f"{file_name} or in the database" if self.may_use_database(parent) else file_name
        message = f"no {parent} {_describe(reference.columns, target)} in {where}"
        if in_db:
            message += f" (it is in the database, but --mode replace loads whole sponsors: add it to {file_name})"
        report(line, reference.column, message)

    def check_same_parent(self, spec: FileSpec, ref_column: str, via_column: str, values: dict, line: int, report) -> None:
        reference = next(r for r in spec.references if r.db_column == ref_column)
        via = next(r for r in spec.references if r.db_column == via_column)
        target = tuple(values[c] for c in reference.columns)
        mine = tuple(values[c] for c in via.columns)
        if BAD in target or None in target or BAD in mine:
            return
        parent_via = next(r for r in file_spec(reference.parent).references if r.db_column == via_column)
        theirs = self.attrs.get(reference.parent, {}).get(target)
        if theirs is None and self.may_use_database(reference.parent):
            found = self.in_database(reference.parent, extra=parent_via.columns).get(target)
            theirs = tuple(found[2:]) if found else None
        if theirs is not None and theirs != mine:
            report(line, reference.column, f"{reference.parent} {_describe(reference.columns, target)} belongs to "
                   f"{via.parent} {_describe(via.columns, theirs)}, not to {_describe(via.columns, mine)}")


# Second pass: write.


def _loader_defaulted(spec: FileSpec) -> list[str]:
    """The file's columns the loader fills with the load's day when empty (and keeps on later loads)."""
    return [c for c in spec.own_columns if spec.table.c[c].info.get("loader_default") == "load_date"]


class Writer:
    """Writes checked files into the database on one connection, inside the caller's transaction."""

    def __init__(self, conn: Connection, plan: Plan, progress: Callable[[str], None]):
        self.conn, self.plan, self.progress = conn, plan, progress
        self.ids: dict[str, dict[tuple, int]] = {}
        self.load_date = datetime.now(UTC).date()  # the day of this load, for columns the loader fills when empty
        self.kept: dict[str, dict[tuple, dict]] = {}  # replace mode: the filled values of the rows it deleted, by natural key
        self.counts = {name: Counts(rows=plan.rows.get(name, 0)) for name in file_specs() if name in plan.files}
        self.inserted_into: set[str] = set()
        order = list(file_specs())
        # The last table that refers to each table: its key map is dropped once that one is written.
        self.last_use = {name: max([order.index(name)] + [order.index(child) for child, s in file_specs().items()
                                                           for r in s.references if r.parent == name]) for name in order}

    def id_map(self, name: str) -> dict[tuple, int]:
        if name not in self.ids:
            self.ids[name] = {key: value[0] for key, value in _key_map(self.conn, name).items()}
        return self.ids[name]

    def run(self) -> dict[str, Counts]:
        if self.plan.mode == "replace":
            self.delete_replaced()
        for position, (name, spec) in enumerate(file_specs().items()):
            if name in self.plan.files:
                self.write_file(spec, self.plan.files[name])
            for done in [n for n in self.ids if self.last_use[n] <= position]:
                del self.ids[done]
        if self.conn.dialect.name == "postgresql":
            # Rows were inserted with explicit ids: move the serial sequences past them.
            for name in self.inserted_into:
                table = file_spec(name).table
                pk = table.primary_key.columns.values()[0].name
                self.conn.execute(text(
                    f"SELECT setval(pg_get_serial_sequence('{table.name}', '{pk}'), "
                    f"COALESCE((SELECT MAX({pk}) FROM {table.name}), 0) + 1, false)"
                ))
        return self.counts

    def in_scope(self, name: str, sponsor_ids):
        """A condition on `name`'s rows: they belong to one of the sponsors selected by `sponsor_ids`."""
        table = file_spec(name).table
        reference = scope_path(name)[0]
        if reference.parent == ROOT:
            return table.c[reference.db_column].in_(sponsor_ids)
        parent = file_spec(reference.parent).table
        parent_pk = parent.primary_key.columns.values()[0]
        return table.c[reference.db_column].in_(select(parent_pk).where(self.in_scope(reference.parent, sponsor_ids)))

    def delete_replaced(self) -> None:
        """Delete everything the replaced sponsors own, children first (the grants only when user_access.csv is given).

        Values the loader filled itself (a deviation's first load day) are kept by natural key first, so a replaced
        row that comes back keeps them: a replace load does not move an undated deviation to today."""
        for name, spec in file_specs().items():
            defaulted = _loader_defaulted(spec)
            if defaulted and name in self.plan.files:
                n = len(spec.key)  # csv_select's rows: the id, then the key, then the filled columns
                self.kept[name] = {tuple(row[1:n + 1]): dict(zip(defaulted, row[n + 1:]))
                                   for row in self.conn.execute(csv_select(name, [*spec.key, *defaulted]))}
        sponsor_ids = select(schema.sponsor.c.sponsor_id).where(schema.sponsor.c.sponsor_code.in_(sorted(self.plan.replaced)))
        for name, spec in reversed(file_specs().items()):
            if name == ROOT or is_shared(name) or (name == GRANTS and name not in self.plan.files):
                continue
            table = spec.table
            condition = self.in_scope(name, sponsor_ids)
            for reference in spec.references:
                if reference.is_self:
                    self.conn.execute(update(table).where(condition).values({reference.db_column: None}))
            deleted = self.conn.execute(delete(table).where(condition)).rowcount
            self.counts.setdefault(name, Counts()).deleted = deleted
            if deleted:
                self.progress(f"  {spec.file_name}: {deleted:,} rows of {', '.join(sorted(self.plan.replaced))} deleted")

    def write_file(self, spec: FileSpec, path: Path) -> None:
        table = spec.table
        pk = table.primary_key.columns.values()[0]
        references = [r for r in spec.references if not r.is_self]
        columns = list(spec.own_columns) + [r.db_column for r in references]
        keys = self.id_map(spec.name)
        next_id = (self.conn.execute(select(func.max(pk))).scalar() or 0) + 1
        counts = self.counts[spec.name]
        changed = update(table).where(pk == bindparam("_pk")).values({c: bindparam(f"_v_{c}") for c in columns})
        self_references = [r for r in spec.references if r.is_self]
        defaulted = _loader_defaulted(spec)
        kept = self.kept.get(spec.name, {})
        touched: set[int] = set()  # rows inserted or updated, when a second round sets self-references
        done = 0
        for batch in _batches(_typed_rows(path, spec), BATCH_ROWS):
            records = []
            for values in batch:
                record = {c: values[c] for c in spec.own_columns}
                for reference in references:
                    target = tuple(values[c] for c in reference.columns)
                    record[reference.db_column] = None if None in target else self.id_map(reference.parent)[target]
                records.append((tuple(values[c] for c in spec.key), record))
            existing = [keys[k] for k, _ in records if k in keys]
            current = self._current(table, pk, columns, existing)
            inserts, updates = [], []
            for key, record in records:
                row_id = keys.get(key)
                for column in defaulted:  # an empty value keeps what is (or was, before a replace) stored, else the load's day
                    if record[column] is None:
                        if row_id is not None:
                            record[column] = current[row_id][columns.index(column)]
                        else:
                            record[column] = kept.get(key, {}).get(column) or self.load_date
                if row_id is None:
                    row_id = keys[key] = next_id
                    next_id += 1
                    inserts.append({pk.name: row_id, **record})
                    if self_references:
                        touched.add(row_id)
                elif current[row_id] != tuple(record[c] for c in columns):
                    updates.append({"_pk": row_id, **{f"_v_{c}": record[c] for c in columns}})
                    if self_references:
                        touched.add(row_id)
            if inserts:
                self.conn.execute(table.insert(), inserts)
                self.inserted_into.add(spec.name)
            if updates:
                self.conn.execute(changed, updates)
            counts.inserted += len(inserts)
            counts.updated += len(updates)
            done += len(batch)
            if done % PROGRESS_ROWS == 0 or done == counts.rows:
                self.progress(f"  {spec.file_name}: {done:,} of {counts.rows:,} rows written")
        for reference in self_references:
            self.write_self_reference(spec, path, reference, touched)

    def write_self_reference(self, spec: FileSpec, path: Path, reference: Reference, touched: set[int]) -> None:
        """Set a reference to rows of the same file, once every row of it has an id."""
        table = spec.table
        pk = table.primary_key.columns.values()[0]
        keys = self.id_map(spec.name)
        changed = update(table).where(pk == bindparam("_pk")).values({reference.db_column: bindparam("_v")})
        for batch in _batches(_typed_rows(path, spec), BATCH_ROWS):
            wanted = {}
            for values in batch:
                target = tuple(values[c] for c in reference.columns)
                wanted[keys[tuple(values[c] for c in spec.key)]] = None if None in target else keys[target]
            current = self._current(table, pk, [reference.db_column], list(wanted))
            updates = [{"_pk": i, "_v": v} for i, v in wanted.items() if current[i] != (v,)]
            if updates:
                self.conn.execute(changed, updates)
            self.counts[spec.name].updated += sum(1 for u in updates if u["_pk"] not in touched)

    def _current(self, table, pk, columns: list[str], ids: list[int]) -> dict[int, tuple]:
        """The stored values of some rows, by id."""
        if not ids:
            return {}
        # The ids are rendered into the SQL: thousands of bound parameters cost PostgreSQL's driver more than the query.
        query = select(pk, *(table.c[c] for c in columns)).where(pk.in_(bindparam("ids", expanding=True, literal_execute=True)))
        return {row[0]: tuple(row[1:]) for row in self.conn.execute(query, {"ids": ids})}


# The load as a whole.


def _ensure_schema(conn: Connection, progress: Callable[[str], None], dry_run: bool) -> None:
    """Create the reporting schema in an empty database (inside the load's transaction); refuse one that is not at head."""
    tables = set(inspect(conn).get_table_names())
    if not tables:
        progress(f"The database is empty: {'a load would create' if dry_run else 'creating'} the reporting schema.")
        schema.metadata.create_all(conn, checkfirst=False)
        command.stamp(alembic_config(connection=conn), "head")
        return
    missing = {t.name for t in schema.TABLES} - tables
    if missing:
        raise SchemaStateError(
            f"the database has tables but not the reporting schema (no {', '.join(sorted(missing)[:3])}): "
            "load into an empty database or one made by `python -m dashboard.db init`"
        )
    revision = MigrationContext.configure(conn).get_current_revision()
    if revision != head_revision():
        raise SchemaStateError(
            f"the database schema is at revision {revision}, the loader writes revision {head_revision()}: "
            "run `python -m dashboard.db upgrade --url URL` first"
        )


@dataclass
class Result:
    plan: Plan
    counts: dict[str, Counts] = field(default_factory=dict)
    loaded_at: datetime | None = None
    source: str = ""
    published: list[date] = field(default_factory=list)  # the snapshots published after the load
    publish_error: str | None = None  # why publishing failed (the data is loaded; the pages compute live)

    @property
    def ok(self) -> bool:
        return not self.plan.problems


def load(url: str, directory: Path, *, mode: str = "upsert", dry_run: bool = False, source: str | None = None,
         progress: Callable[[str], None] = lambda _text: None, reference: bool = False, publish: bool = True) -> Result:
    """Check the folder and, if it has no problem, load it in one transaction (rolled back for a dry run); then, with
    `publish`, publish the snapshots of the load's day and a week before (dashboard/snapshot.py).

    The load's own transaction removes the snapshot of its day, which no longer matches the data: if publishing
    then fails, the data stays loaded and the pages compute that day live (result.publish_error says why)."""
    if mode not in MODES:
        raise UsageError(f"unknown mode {mode!r}: use upsert or replace")
    if not directory.is_dir():
        raise UsageError(f"{directory} is not a folder")
    source = source or directory.resolve().name
    engine = writable_engine(url, statement_timeout_s=STATEMENT_TIMEOUT_S)
    try:
        with engine.connect() as conn:
            transaction = conn.begin()
            try:
                if conn.dialect.name == "postgresql":
                    # One load at a time: the ids a load hands out are chosen from what it sees.
                    conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('dashboard.load'))"))
                _ensure_schema(conn, progress, dry_run)
                progress(f"Checking {directory} ({mode}):")
                plan = Checker(conn, directory, mode, progress, reference=reference).run()
                result = Result(plan=plan, source=source)
                if plan.problems:
                    transaction.rollback()
                    return result
                progress("Writing:")
                result.counts = Writer(conn, plan, progress).run()
                progress("Rebuilding the site × month roll-up …")
                rollups.refresh(conn)
                result.loaded_at = datetime.now(UTC).replace(tzinfo=None)
                details = {name: {"inserted": c.inserted, "updated": c.updated, "deleted": c.deleted}
                           for name, c in result.counts.items()}
                conn.execute(schema.load_log.insert().values(
                    source=source[:120],
                    loaded_at=result.loaded_at,
                    n_rows=sum(c.inserted + c.updated + c.deleted for c in result.counts.values()),
                    details=json.dumps({"mode": mode, "tables": details}),
                ))
                load_day = result.loaded_at.date()
                snapshot.delete_date(conn, load_day)
                if dry_run:
                    transaction.rollback()
                    return result
                transaction.commit()
            except BaseException:
                if transaction.is_active:
                    transaction.rollback()
                raise
    finally:
        engine.dispose()
    if publish:
        progress("Publishing the snapshots of the load's day and a week before:")
        try:
            dates = snapshot.default_dates(load_day)
            result.published = snapshot.publish(url, dates, get_settings(), keep=dates[1:], progress=progress)
        except BaseException as exc:  # even an interrupt: the data is committed, and the caller must hear that
            result.publish_error = "interrupted" if isinstance(exc, KeyboardInterrupt) else (str(exc).splitlines() or [type(exc).__name__])[0]
    return result


def _summary(result: Result, shown_url: str, dry_run: bool, elapsed: float) -> list[str]:
    plan = result.plan
    lines = []
    if dry_run:
        lines.append(f"Dry run: {plan.directory} has no problems. Loading it into {shown_url} ({plan.mode}) would change:")
    else:
        lines.append(f"Loaded {plan.directory} into {shown_url} ({plan.mode}) in {elapsed:.1f} s:")
    lines.append(f"  {'file':<24}{'rows':>10}{'inserted':>10}{'updated':>10}{'deleted':>10}")
    total = Counts()
    for name, c in result.counts.items():
        lines.append(f"  {file_spec(name).file_name:<24}{c.rows:>10,}{c.inserted:>10,}{c.updated:>10,}{c.deleted:>10,}")
        total.rows += c.rows
        total.inserted += c.inserted
        total.updated += c.updated
        total.deleted += c.deleted
    lines.append(f"  {'total':<24}{total.rows:>10,}{total.inserted:>10,}{total.updated:>10,}{total.deleted:>10,}")
    if dry_run:
        lines.append("Nothing was written.")
    else:
        lines.append(f"The dashboard now shows: data loaded {result.loaded_at:%Y-%m-%d %H:%M} UTC from {result.source}.")
        if result.published:
            lines.append(f"Published the snapshots of {' and '.join(d.isoformat() for d in result.published)}: the pages "
                         "open on them.")
    return lines


def main(argv: list[str] | None = None) -> int:
    """Command line; problems in the files exit 1 with one line each, usage errors exit 2."""
    parser = argparse.ArgumentParser(
        prog="python -m dashboard.load",
        description="Load a folder of CSV files written to docs/data-contract.md into the reporting database.",
    )
    parser.add_argument("directory", metavar="DIR", type=Path, help="the folder holding sponsor.csv, trial.csv, …")
    parser.add_argument("--url", help="SQLAlchemy database URL (default: the DASHBOARD_DATABASE_URL setting)")
    parser.add_argument("--mode", choices=MODES, default="upsert",
                        help="upsert (default): insert new rows, update changed ones; replace: swap the data of the sponsors in sponsor.csv")
    parser.add_argument("--dry-run", action="store_true", help="check the files and count the changes, write nothing")
    parser.add_argument("--source", help="name of the load on the dashboard's freshness line (default: the folder name)")
    parser.add_argument("--reference", action="store_true",
                        help="this load may change shared reference rows (countries, vendors) for every sponsor")
    parser.add_argument("--no-publish", action="store_true",
                        help="do not publish snapshots after the load (several loads in a row: publish after the last "
                        "with python -m dashboard.snapshot); the pages compute the load's day live until then")
    args = parser.parse_args(argv)

    def progress(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    started = time.perf_counter()
    try:
        url, shown = cli_database_url(args.url)
        result = load(url, args.directory, mode=args.mode, dry_run=args.dry_run, source=args.source, progress=progress,
                      reference=args.reference, publish=not args.no_publish)
    except (UsageError, SchemaStateError, ImportError, SQLAlchemyError) as exc:
        return report_cli_error(exc, "the load")
    except KeyboardInterrupt:
        print("interrupted: nothing was written", file=sys.stderr)
        return 130
    if result.ok and result.publish_error is not None:
        for line in _summary(result, shown, args.dry_run, time.perf_counter() - started):
            print(line)
        print(f"The data is loaded, but publishing its snapshots failed ({result.publish_error}): the pages compute "
              f"its figures live until `python -m dashboard.snapshot --url URL` succeeds.", file=sys.stderr)
        return 3
    if not result.ok:
        problems = result.plan.problems
        for line in problems.lines():
            print(line, file=sys.stderr)
        print(f"{problems.total:,} problem{'s' if problems.total != 1 else ''} in {args.directory}; nothing was written. "
              "Fix them and load again (docs/data-contract.md says what each file holds).", file=sys.stderr)
        return 1
    for line in _summary(result, shown, args.dry_run, time.perf_counter() - started):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
