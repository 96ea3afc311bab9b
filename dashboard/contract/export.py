"""Writing the reporting tables back as the contract's CSV files (the demo export, a sponsor's own data)."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Connection,
    Select,
    select,
)

from dashboard.contract.files import FileSpec, Reference, file_spec, file_specs, scope_path


def csv_select(name: str, columns: Sequence[str] | None = None, *, owner: bool = False) -> Select:
    """SELECT the table's id (as `_id`) and CSV columns (default: all), keys of references joined in; `owner` adds sponsor_code as `_owner`."""
    spec = file_spec(name)
    table = spec.table
    from_clause = table
    joined: dict[tuple[str, ...], Any] = {}

    def parent_alias(path: tuple[str, ...], alias, reference: Reference):
        nonlocal from_clause
        key = (*path, reference.db_column)
        if key not in joined:
            parent = file_spec(reference.parent).table
            aliased = parent.alias(f"{'_'.join(key)}_{parent.name}")
            pk = parent.primary_key.columns.values()[0]
            from_clause = from_clause.outerjoin(aliased, alias.c[reference.db_column] == aliased.c[pk.name])
            joined[key] = aliased
        return key, joined[key]

    def expression(spec_: FileSpec, alias, column: str, path: tuple[str, ...]):
        reference = spec_.origin[column]
        if reference is None:
            return alias.c[column]
        key, aliased = parent_alias(path, alias, reference)
        parent_column = reference.parent_columns[reference.columns.index(column)]
        return expression(file_spec(reference.parent), aliased, parent_column, key)

    selected = [table.primary_key.columns.values()[0].label("_id")]
    selected += [expression(spec, table, c, ()).label(c) for c in (columns or spec.column_names)]
    if owner:
        path: tuple[str, ...] = ()
        alias = table
        for reference in scope_path(name) or ():
            path, alias = parent_alias(path, alias, reference)
        selected.append(alias.c.sponsor_code.label("_owner"))
    return select(*selected).select_from(from_clause)


def format_value(value: Any) -> str:
    """A value as the contract writes it: ISO dates, true/false, plain decimals, empty for none."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, float):
        return format(Decimal(repr(value)), "f")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def export_csv(conn: Connection, directory: Path) -> dict[str, int]:
    """Write every table of the database at `conn` as contract CSV files into `directory`; returns rows per file."""
    directory.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    for spec in file_specs().values():
        query = csv_select(spec.name).order_by("_id")
        n = 0
        with open(directory / spec.file_name, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(spec.column_names)
            result = conn.execution_options(yield_per=5000).execute(query)
            for row in result:
                writer.writerow([format_value(v) for v in row[1:]])
                n += 1
        counts[spec.file_name] = n
    return counts


# The document.
