"""Each CSV file's specification, derived from the schema: its columns (natural keys for foreign keys), its
references and its place under the sponsor (the scope path)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import cache, cached_property
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, create_model
from sqlalchemy import (
    Column,
    Date,
    Table,
    UniqueConstraint,
)

from dashboard import schema
from dashboard.contract.rules import (
    EXTRA_RULES,
    FORMATS,
    GRANTS,
    NOT_FILES,
    REQUIRED_FILES,
    ROOT,
    ContractError,
    FirstOfMonth,
    _database_rules,
)
from dashboard.contract.values import _annotation, explain


@dataclass(frozen=True)
class Reference:
    """A foreign key as a file carries it: the parent's natural key, in columns of this file."""

    db_column: str  # e.g. site_id
    parent: str  # e.g. site
    columns: tuple[str, ...]  # this file's columns, in the order of the parent's natural key
    parent_columns: tuple[str, ...]  # the parent's natural-key columns
    required: bool

    @property
    def column(self) -> str:
        """The column a problem with this reference is reported on: its own, not the shared ones."""
        return self.columns[-1]

    @property
    def is_self(self) -> bool:
        return False


@dataclass(frozen=True)
class SelfReference(Reference):
    @property
    def is_self(self) -> bool:
        return True


@dataclass(frozen=True)
class CsvColumn:
    name: str
    source: Column  # the schema column that holds the value (this table's, or the parent's key column)
    required: bool
    description: str
    not_negative: bool = False
    allowed: tuple[str, ...] | None = None
    unit: str | None = None
    pattern: tuple[str, str] | None = None
    own: bool = True  # False: the column carries a reference


@dataclass(frozen=True)
class FileSpec:
    """One CSV file of the contract: its columns, key, references and row rules."""

    table: Table
    columns: tuple[CsvColumn, ...]
    key: tuple[str, ...]
    unique_keys: tuple[tuple[str, ...], ...]  # the key first, then other one-row-per rules
    references: tuple[Reference, ...]
    rules: tuple
    origin: dict  # column → None (own column) or the Reference that first brought it

    @property
    def name(self) -> str:
        return self.table.name

    @property
    def file_name(self) -> str:
        return f"{self.table.name}.csv"

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def required_in_upsert(self) -> bool:
        return self.name in REQUIRED_FILES

    def required_in(self, mode: str) -> bool:
        return self.required_in_upsert or (mode == "replace" and self.name != GRANTS)

    def column(self, name: str) -> CsvColumn:
        return next(c for c in self.columns if c.name == name)

    @cached_property
    def own_columns(self) -> tuple[str, ...]:
        """The columns stored as they are in the table's own columns of the same name."""
        return tuple(c.name for c in self.columns if c.own)

    @cached_property
    def date_columns(self) -> tuple[str, ...]:
        """The columns that hold dates."""
        return tuple(c.name for c in self.columns if isinstance(c.source.type, Date))

    @cached_property
    def model(self) -> type[BaseModel]:
        """A pydantic model of one row: types, required values, allowed values, formats, non-negative."""
        fields = {c.name: (_annotation(self.name, c), ...) for c in self.columns}
        return create_model(f"{self.name}_row", __config__=ConfigDict(extra="forbid"), **fields)

    def parse(self, raw: dict[str, str | None]) -> tuple[dict[str, Any] | None, list[tuple[str, str]]]:
        """A row of stripped strings (None for empty) → (typed values, or None if one is bad; [(column, problem)]).

        A row whose values are good but break a rule (enrolled before screened) comes back with its values.
        """
        try:
            values = dict(self.model.model_validate(raw).__dict__)
        except ValidationError as exc:
            return None, [(str(e["loc"][0]), explain(e)) for e in exc.errors()]
        return values, [found for rule in self.rules if (found := rule.check(values))]

    def parse_key(self, raw: dict[str, str | None], columns: Sequence[str]) -> tuple | None:
        """The typed values of some columns of a row that failed validation, or None if one of them is bad."""
        out = []
        for name in columns:
            try:
                out.append(_adapter(self.name, name).validate_python(raw.get(name)))
            except ValidationError:
                return None
        return tuple(out)


@cache
def _adapter(table: str, column: str):
    from pydantic import TypeAdapter

    return TypeAdapter(_annotation(table, file_spec(table).column(column)))


# A date more than this many years after the load is refused: a mistyped year (2999 for 2029), never a plan.
HORIZON_YEARS = 30


def _human(name: str) -> str:
    return name.replace("_", " ")


def _description(column: Column) -> str:
    return column.comment or column.name.replace("_", " ").capitalize()


def _build(table: Table, built: dict[str, FileSpec]) -> FileSpec:
    not_negative, rules = _database_rules(table)
    columns: dict[str, CsvColumn] = {}
    origin: dict[str, Reference | None] = {}
    references: list[Reference] = []
    for col in table.columns:
        if col.primary_key:
            continue
        if not col.foreign_keys:
            if col.name in columns:
                raise ContractError(f"{table.name}.{col.name} clashes with a reference's key column")
            columns[col.name] = CsvColumn(
                col.name,
                col,
                not col.nullable,
                _description(col),
                col.name in not_negative,
                col.info.get("allowed"),
                col.info.get("unit"),
                FORMATS.get((table.name, col.name)),
            )
            origin[col.name] = None
            continue
        (fk,) = col.foreign_keys
        parent = fk.column.table
        parent_key = tuple(parent.info["natural_key"])
        plain = f"{parent.name}_id"
        if col.name == plain:
            prefix = ""
        elif col.name.endswith("_" + plain):
            prefix = col.name[: -len(plain)]
        else:
            prefix = col.name.removesuffix("_id") + "_"
        names = []
        for key_column in parent_key:
            shared = key_column in columns and not columns[key_column].own
            name = key_column if (shared or not prefix) else prefix + key_column
            names.append(name)
            if name in columns:
                if columns[name].own:
                    raise ContractError(f"{table.name}: the key column {name} of {col.name} clashes with an own column")
                if not col.nullable and not columns[name].required:
                    columns[name] = replace(columns[name], required=True)
                continue
            source = (columns[key_column] if parent is table else built[parent.name].column(key_column)).source
            if key_column == parent_key[-1]:
                description = col.comment or f"The {_human(parent.name)}"
            else:
                description = f"{_human(key_column).capitalize()} of the {_human(parent.name)}"
            columns[name] = CsvColumn(
                name, source, not col.nullable, description, own=False, pattern=FORMATS.get((parent.name, key_column))
            )
        kind = SelfReference if parent is table else Reference
        reference = kind(col.name, parent.name, tuple(names), parent_key, not col.nullable)
        references.append(reference)
        for name in names:
            origin.setdefault(name, reference)
    key = tuple(table.info["natural_key"])
    missing = [k for k in key if k not in columns]
    if missing:
        raise ContractError(f"{table.name}: natural key column(s) {missing} are not columns of {table.name}.csv")

    def as_csv(db_columns) -> tuple[str, ...]:
        out: list[str] = []
        for c in db_columns:
            ref = next((r for r in references if r.db_column == c.name), None)
            for name in ref.columns if ref else (c.name,):
                if name not in out:
                    out.append(name)
        return tuple(out)

    unique = [key]
    constraints = [c for c in table.constraints if isinstance(c, UniqueConstraint)]
    for constraint in sorted(constraints, key=lambda c: [col.name for col in c.columns]):
        csv_columns = as_csv(constraint.columns)
        if set(csv_columns) != set(key) and csv_columns not in unique:
            unique.append(csv_columns)
    for col in table.columns:
        if col.unique and (col.name,) not in unique and {col.name} != set(key):
            unique.append((col.name,))
    month_rules = [FirstOfMonth(c) for c in columns if c == "month_date"]
    return FileSpec(
        table=table,
        columns=tuple(columns.values()),
        key=key,
        unique_keys=tuple(unique),
        references=tuple(references),
        rules=tuple(rules) + EXTRA_RULES.get(table.name, ()) + tuple(month_rules),
        origin=origin,
    )


@cache
def file_specs() -> dict[str, FileSpec]:
    """Every file of the contract, by table name, parents before the files that refer to them."""
    built: dict[str, FileSpec] = {}
    for table in schema.TABLES:
        if table.name not in NOT_FILES:
            built[table.name] = _build(table, built)
    return built


def file_spec(name: str) -> FileSpec:
    return file_specs()[name]


def scope_path(name: str) -> tuple[Reference, ...] | None:
    """The required references leading from a table to the sponsor that owns its rows (None: shared by sponsors)."""
    if name == ROOT:
        return ()
    for reference in file_spec(name).references:
        if reference.required and not reference.is_self:
            rest = scope_path(reference.parent)
            if rest is not None:
                return (reference, *rest)
    return None


def is_shared(name: str) -> bool:
    """A table whose rows no sponsor owns (country, vendor)."""
    return scope_path(name) is None


# Parsing values: our own messages for formats, pydantic's constraints for the rest.
