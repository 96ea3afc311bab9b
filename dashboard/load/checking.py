"""Checking a file's rows before anything is written: natural keys, references to parents (in the files or the
database), the sponsor's ownership, and the rules between rows."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

from sqlalchemy import Connection

from dashboard.contract import (
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
from dashboard.load.model import BAD, PROGRESS_ROWS, Plan
from dashboard.load.reading import CsvRows, _describe, _folded


def _key_map(conn: Connection, name: str, extra: tuple[str, ...] = (), *, owner: bool = False) -> dict[tuple, tuple]:
    """natural key → (id, owner sponsor code or None, *extra columns) for every row of a table."""
    spec = file_spec(name)
    out: dict[tuple, tuple] = {}
    n_key = len(spec.key)
    for row in conn.execute(csv_select(name, spec.key + extra, owner=owner)):
        values = tuple(row)
        out[values[1 : 1 + n_key]] = (
            values[0],
            values[-1] if owner else None,
            *values[1 + n_key : 1 + n_key + len(extra)],
        )
    return out


# First pass: check everything, write nothing.


class Checker:
    """Checks the files of a folder against the contract and what the database holds."""

    def __init__(
        self,
        conn: Connection,
        directory: Path,
        mode: str,
        progress: Callable[[str], None],
        *,
        reference: bool = False,
        horizon_years: int = HORIZON_YEARS,
        today: date | None = None,
    ):
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
        self.owned = {
            n
            for n, s in self.specs.items()
            if n != ROOT and not is_shared(n) and all(s.origin[k] is None for k in s.key)
        }
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
                plan.problems.add(
                    path.name,
                    None,
                    None,
                    f"is not a file of the contract{suggest(path.name, list(names))}: "
                    "rename it, or move it out of the folder",
                )
        for name, spec in self.specs.items():
            path = plan.directory / spec.file_name
            if path.is_file():
                plan.files[name] = path
            elif spec.required_in(plan.mode):
                why = (
                    "required"
                    if spec.required_in_upsert
                    else "required with --mode replace, so that a forgotten file deletes nothing"
                )
                plan.problems.add(
                    spec.file_name,
                    None,
                    None,
                    f"the file is missing: it is {why}; with no rows, write just "
                    f"its header line: {','.join(spec.column_names)}",
                )
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
                values.update(
                    {
                        c: parsed[0]
                        for c in spec.column_names
                        if c not in bad
                        if (parsed := spec.parse_key(raw, (c,))) is not None
                    }
                )
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
                report(
                    line,
                    reference.column,
                    f"no {name} {_describe(reference.columns, key)} in {spec.file_name}"
                    + (" or in the database" if self.may_use_database(name) else ""),
                )
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
                report(
                    line,
                    column,
                    f"{value.isoformat()} is more than {self.latest.year - date.today().year} years ahead: "
                    "check the year",
                )
        if is_shared(name) and BAD not in key and not self.plan.reference:
            self.check_shared(spec, line, key, values, report)
        for columns, seen in zip(spec.unique_keys[1:], others):
            other = tuple(values[c] for c in columns)
            if BAD in other or None in other:
                continue
            if other in seen:
                report(
                    line,
                    columns[-1],
                    f"line {seen[other]} has the same {_describe(columns, other)}: "
                    f"only one {name} per {', '.join(columns)}",
                )
            else:
                seen[other] = line
                if self.plan.mode == "upsert" and BAD not in key:
                    # A row of the database with the same (protocol_number, vendor_code) under another key.
                    if (name, columns) not in self.reverse:
                        existing = self.in_database(name, extra=columns)
                        self.reverse[(name, columns)] = {tuple(v[2:]): k for k, v in existing.items()}
                    clash = self.reverse[(name, columns)].get(other)
                    if clash is not None and clash != key:
                        report(
                            line,
                            spec.key[-1],
                            f"the database already has {name} {_describe(spec.key, clash)} for "
                            f"{_describe(columns, other)}, and there may be only one: use {_describe(spec.key, clash)} "
                            "here, or --mode replace",
                        )
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
                if (
                    known is not None
                    and known[1] != owner
                    and (self.plan.mode == "upsert" or known[1] not in self.plan.replaced)
                ):
                    report(
                        line,
                        spec.key[-1],
                        f"{name} {_describe(spec.key, key)} belongs to sponsor {known[1]} in the "
                        f"database, not to {owner}: {', '.join(spec.key)} is unique across sponsors; use another one",
                    )
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
            report(
                line,
                spec.key[-1],
                f"{_describe(spec.key, key)} differs only in case from {_describe(spec.key, other)} "
                f"on line {other_line}: codes are compared without regard to case; write it the same way",
            )
            return
        seen[folded] = (key, line)
        if name not in self.folded_database:
            self.folded_database[name] = {_folded(k): k for k in self.in_database(name)}
        stored = self.folded_database[name].get(folded)
        if stored is not None and stored != key:
            report(
                line,
                spec.key[-1],
                f"{_describe(spec.key, key)} differs only in case from {_describe(spec.key, stored)} "
                "in the database: codes are compared without regard to case; write it as the database has it",
            )

    def check_shared(self, spec: FileSpec, line: int, key: tuple, values: dict, report) -> None:
        """A shared reference row (a country, a vendor) that is already loaded stays as it is, unless the load says
        it changes the list for every sponsor (--reference): one sponsor's feed may not rename another's vendor."""
        columns = tuple(c for c in spec.own_columns if c not in spec.key)
        stored = self.in_database(spec.name, extra=columns).get(key)
        if stored is None:
            return
        for column, before in zip(columns, stored[2:]):
            if values.get(column) is not BAD and values.get(column) != before:
                report(
                    line,
                    column,
                    f"{spec.name} {_describe(spec.key, key)} is shared by every sponsor and is loaded with "
                    f"{column} {_describe((column,), (before,))}, not {_describe((column,), (values.get(column),))}: "
                    "only a load with --reference changes shared reference data; write it as it is, or leave the row out",
                )
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

    def check_same_parent(
        self, spec: FileSpec, ref_column: str, via_column: str, values: dict, line: int, report
    ) -> None:
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
            report(
                line,
                reference.column,
                f"{reference.parent} {_describe(reference.columns, target)} belongs to "
                f"{via.parent} {_describe(via.columns, theirs)}, not to {_describe(via.columns, mine)}",
            )


# Second pass: write.
