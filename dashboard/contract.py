"""The data contract: which CSV file feeds each reporting table, with which columns, types, keys and rules.

Everything here is derived from dashboard/schema.py, so the document a data team reads
(docs/data-contract.md), the demo export and the loader (dashboard/load.py) share one definition:

    python -m dashboard.contract            write docs/data-contract.md
    python -m dashboard.contract --check    exit 1 if the committed document is stale

A CSV file carries natural keys, never database ids: each foreign-key column is replaced by the
referenced row's natural key (`info["natural_key"]` of the parent table), so `site_id` becomes
(protocol_number, site_number). Key columns that several references share (protocol_number) appear
once. A reference with a role name (milestone.precedes_milestone_id) prefixes the columns it does not
share: precedes_milestone_code, within the same trial.
"""

from __future__ import annotations

import argparse
import csv
import difflib
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal, InvalidOperation
from functools import cache, cached_property
from pathlib import Path
from typing import Annotated, Any, Literal, Optional

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, create_model
from pydantic_core import PydanticCustomError
from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Connection,
    Date,
    Integer,
    Numeric,
    Select,
    String,
    Table,
    UniqueConstraint,
    select,
)

from dashboard import schema

REPO_DIR = Path(__file__).resolve().parent.parent
CONTRACT_PATH = REPO_DIR / "docs" / "data-contract.md"

# Written by the loader itself, one row per load: not a file.
NOT_FILES = ("load_log", "site_month")
# Files an upsert needs even when they hold only the header: the skeleton every other file hangs on.
REQUIRED_FILES = ("sponsor", "trial", "country", "site", "vendor")
# Who may see which sponsor: optional in every mode, and when absent the grants stay as they are,
# so a data load never locks anyone out by omission.
GRANTS = "user_access"
ROOT = "sponsor"

# Formats the column types cannot say, as (pattern, what to write).
_CODE = (r"[A-Za-z0-9][A-Za-z0-9._-]*", "letters, digits, '.', '_' or '-', starting with a letter or digit (it is used in links)")
FORMATS: dict[tuple[str, str], tuple[str, str]] = {
    ("country", "country_code"): (r"[A-Z]{2}", "two capital letters (ISO 3166-1 alpha-2, e.g. DE)"),
    ("sponsor", "reporting_currency"): (r"[A-Z]{3}", "three capital letters (ISO 4217, e.g. EUR)"),
    ("user_access", "user_email"): (r"[^@\s]+@[^@\s]+\.[^@\s]+", "an e-mail address"),
    ("sponsor", "sponsor_code"): _CODE,
    ("trial", "protocol_number"): _CODE,
    ("site", "site_number"): _CODE,
    ("vendor", "vendor_code"): _CODE,
}


class ContractError(Exception):
    """The schema declares something the contract cannot express (a developer's mistake)."""


# Rules on the values of one row. Those the database enforces (CHECK constraints) are read from the
# schema; the others say what the schema's comments say, so the pages never meet such rows.


@dataclass(frozen=True)
class DateOrder:
    """`later` may not be before `earlier` (either may be empty)."""

    later: str
    earlier: str
    in_database: bool = False

    def check(self, row: dict) -> tuple[str, str] | None:
        later, earlier = row.get(self.later), row.get(self.earlier)
        if later is not None and earlier is not None and later < earlier:
            return self.later, f"{later} is {'less than' if self.counts else 'before'} {self.earlier} {earlier}"
        return None

    @property
    def counts(self) -> bool:
        """Whether the rule orders two counts (n_*), not two dates."""
        return self.later.startswith("n_")

    def describe(self) -> str:
        return f"`{self.later}` is {'at least' if self.counts else 'not before'} `{self.earlier}`"


@dataclass(frozen=True)
class NotBoth:
    """`first` and `second` may not both have a value."""

    first: str
    second: str
    why: str

    def check(self, row: dict) -> tuple[str, str] | None:
        if row.get(self.first) is not None and row.get(self.second) is not None:
            return self.second, f"{self.why}: {self.first} and {self.second} may not both be set"
        return None

    def describe(self) -> str:
        return f"`{self.first}` and `{self.second}` are not both set ({self.why})"


@dataclass(frozen=True)
class Needs:
    """`column` may only have a value when `needed` has one."""

    column: str
    needed: str

    def check(self, row: dict) -> tuple[str, str] | None:
        if row.get(self.column) is not None and row.get(self.needed) is None:
            return self.column, f"is set but {self.needed} is empty"
        return None

    def describe(self) -> str:
        return f"`{self.column}` only with `{self.needed}`"


@dataclass(frozen=True)
class SetWhen:
    """`column` has a value exactly when `when` equals `value`."""

    column: str
    when: str
    value: str

    def check(self, row: dict) -> tuple[str, str] | None:
        has, should = row.get(self.column) is not None, row.get(self.when) == self.value
        if should and not has:
            return self.column, f"is required when {self.when} is {self.value}"
        if has and not should and row.get(self.when) is not None:
            return self.column, f"must be empty unless {self.when} is {self.value} (it is {row.get(self.when)})"
        return None

    def describe(self) -> str:
        return f"`{self.column}` is set exactly when `{self.when}` is `{self.value}`"


@dataclass(frozen=True)
class NeedsWhen:
    """`needed` has a value when `when` equals `value`."""

    needed: str
    when: str
    value: str

    def check(self, row: dict) -> tuple[str, str] | None:
        if row.get(self.when) == self.value and row.get(self.needed) is None:
            return self.needed, f"is required when {self.when} is {self.value}"
        return None

    def describe(self) -> str:
        return f"`{self.needed}` is set when `{self.when}` is `{self.value}`"


@dataclass(frozen=True)
class Between:
    """A whole number from `low` to `high`, when given."""

    column: str
    low: int
    high: int

    def check(self, row: dict) -> tuple[str, str] | None:
        value = row.get(self.column)
        if value is not None and not self.low <= value <= self.high:
            return self.column, f"{value} is not from {self.low} to {self.high}"
        return None

    def describe(self) -> str:
        return f"`{self.column}` is from {self.low} to {self.high}"


@dataclass(frozen=True)
class FirstOfMonth:
    column: str

    def check(self, row: dict) -> tuple[str, str] | None:
        value = row.get(self.column)
        if value is not None and value.day != 1:
            return self.column, f"must be the first day of a month ({value.replace(day=1)}), not {value}"
        return None

    def describe(self) -> str:
        return f"`{self.column}` is the first day of a month"


EXTRA_RULES: dict[str, tuple] = {
    "site": (DateOrder("activated_date", "selected_date"),),
    "subject": (
        DateOrder("screen_failed_date", "screened_date"),
        DateOrder("discontinued_date", "enrolled_date"),
        DateOrder("completed_date", "enrolled_date"),
        Needs("discontinued_date", "enrolled_date"),
        Needs("completed_date", "enrolled_date"),
        NotBoth("discontinued_date", "completed_date", "a subject either completes the study or leaves it early"),
        DateOrder("treatment_discontinued_date", "enrolled_date"),
        Needs("treatment_discontinued_date", "enrolled_date"),
    ),
    "data_query": (
        DateOrder("answered_date", "opened_date"),
        DateOrder("closed_date", "answered_date"),
        SetWhen("closed_date", "query_status", "closed"),
        NeedsWhen("answered_date", "query_status", "answered"),
    ),
    "deviation": (DateOrder("identified_date", "deviation_date"),),
    "adverse_event": (DateOrder("reported_date", "aware_date"), Between("grade", 1, 5)),
    "contract": (DateOrder("planned_end_date", "signed_date"),),
    "change_order": (DateOrder("approved_date", "requested_date"), SetWhen("approved_date", "change_order_status", "approved")),
}

# Why a CHECK constraint holds, by its name, for the problem message.
REASONS = {"ck_subject_failed_or_enrolled": "a subject who failed screening is never enrolled"}

# Cross-row consistency that references alone do not give: (table, reference column, via column) —
# the row referred to by `reference` must itself refer to the same row as this row's `via`.
SAME_PARENT: dict[str, tuple[tuple[str, str], ...]] = {
    "planned_spend": (("change_order_id", "contract_id"),),  # a change order's spend is on its own contract
}


_IN = re.compile(r"^(\w+) IN \((.*)\)$")
_NOT_NEGATIVE = re.compile(r"^(\w+) >= 0$")
_ORDER = re.compile(r"^(?:\w+ IS NULL OR )*(\w+) >= (\w+)$")
_NOT_BOTH = re.compile(r"^NOT \((\w+) IS NOT NULL AND (\w+) IS NOT NULL\)$")


def _checks(table: Table) -> list[CheckConstraint]:
    """The table's CHECK constraints, in a stable order (Table.constraints is a set)."""
    found = [c for c in table.constraints if isinstance(c, CheckConstraint)]
    for column in table.columns:
        found += [c for c in column.constraints if isinstance(c, CheckConstraint)]
    return sorted(found, key=lambda c: str(c.sqltext))


def _database_rules(table: Table) -> tuple[set[str], list]:
    """The table's CHECK constraints as (non-negative columns, row rules); refuses one it does not understand."""
    not_negative: set[str] = set()
    rules: list = []
    for check in _checks(table):
        text = str(check.sqltext).strip()
        if m := _IN.match(text):
            if not table.c[m[1]].info.get("allowed"):
                raise ContractError(f"{table.name}.{m[1]}: CHECK {text!r} without info['allowed']")
        elif m := _NOT_NEGATIVE.match(text):
            not_negative.add(m[1])
        elif m := _ORDER.match(text):
            rules.append(DateOrder(m[1], m[2], in_database=True))
        elif m := _NOT_BOTH.match(text):
            rules.append(NotBoth(m[2], m[1], REASONS.get(str(check.name), "only one of the two may have a value")))
        else:
            raise ContractError(f"{table.name}: dashboard/contract.py does not understand CHECK {text!r}; teach it")
    return not_negative, rules


# The CSV layout of a table.


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
                col.name, col, not col.nullable, _description(col), col.name in not_negative,
                col.info.get("allowed"), col.info.get("unit"), FORMATS.get((table.name, col.name)),
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
            columns[name] = CsvColumn(name, source, not col.nullable, description, own=False,
                                      pattern=FORMATS.get((parent.name, key_column)))
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


def _fail(message: str):
    raise PydanticCustomError("csv_value", message)


_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_INT = re.compile(r"^[+-]?\d+$")
_DECIMAL = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")


def _parse_date(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    if not _DATE.match(value):
        _fail("must be a date written YYYY-MM-DD, e.g. 2026-03-31")
    try:
        return date.fromisoformat(value)
    except ValueError:
        _fail("is not a date of the calendar")


def _parse_bool(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    lowered = value.lower()
    if lowered not in ("true", "false"):
        _fail("must be true or false")
    return lowered == "true"


def _parse_int(value: Any) -> Any:
    if isinstance(value, str) and not _INT.match(value):
        _fail("must be a whole number, digits only")
    return value


def _parse_decimal(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    if not _DECIMAL.match(value):
        _fail("must be a number with '.' for decimals and no thousands separators or currency, e.g. 1250000.50")
    try:
        return Decimal(value)
    except InvalidOperation:
        _fail("is not a number")


# Written as loaded, but kept in one form: grants match e-mails without regard to case (README).
NORMALISE: dict[tuple[str, str], Any] = {("user_access", "user_email"): str.lower}
# Characters a text may not hold: the C0 controls (NUL first) but tab and line breaks, and DEL. PostgreSQL refuses NUL
# at write time with a message that names no file or line; the others would reach the pages and exports.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _no_control(value: Any) -> Any:
    if isinstance(value, str) and (found := _CONTROL.search(value)):
        code = ord(found.group())
        _fail(f"contains a control character (U+{code:04X}{', NUL' if code == 0 else ''}) at position {found.start() + 1}: "
              "remove it")
    return value


def _pattern(pattern: str, what: str):
    compiled = re.compile(f"^(?:{pattern})$")

    def check(value: Any) -> Any:
        if isinstance(value, str) and not compiled.match(value):
            _fail(f"must be {what}")
        return value

    return check


def _annotation(table: str, column: CsvColumn) -> Any:
    kind = column.source.type
    ge = {"ge": 0} if column.not_negative else {}
    if column.allowed:
        annotation: Any = Literal[column.allowed]
    elif isinstance(kind, Boolean):
        annotation = Annotated[bool, BeforeValidator(_parse_bool)]
    elif isinstance(kind, Date):
        annotation = Annotated[date, BeforeValidator(_parse_date)]
    elif isinstance(kind, Integer):
        annotation = Annotated[int, BeforeValidator(_parse_int), Field(**ge)]
    elif isinstance(kind, Numeric):
        annotation = Annotated[
            Decimal, BeforeValidator(_parse_decimal), Field(max_digits=kind.precision, decimal_places=kind.scale, **ge)
        ]
    elif isinstance(kind, String):
        annotation = Annotated[str, Field(max_length=kind.length)] if kind.length else str
        if column.pattern:
            annotation = Annotated[annotation, BeforeValidator(_pattern(*column.pattern))]
        if (table, column.name) in NORMALISE:
            annotation = Annotated[annotation, BeforeValidator(lambda v, f=NORMALISE[(table, column.name)]: f(v) if isinstance(v, str) else v)]
        annotation = Annotated[annotation, BeforeValidator(_no_control)]
    else:
        raise ContractError(f"{table}.{column.name}: no CSV type for {kind!r}")
    return Optional[annotation] if not column.required else annotation  # noqa: UP045 (a runtime type)


def _shown(value: Any) -> str:
    text = str(value)
    return repr(text if len(text) <= 40 else text[:37] + "…")


def explain(error: dict) -> str:
    """A pydantic error as a sentence that says what to write instead."""
    value, kind, ctx = error.get("input"), error["type"], error.get("ctx") or {}
    if value is None:
        return "is required: the value may not be empty"
    if kind == "csv_value":
        message = error["msg"]
    elif kind == "literal_error":
        message = f"must be one of {ctx['expected'].replace(' or ', ', ')}"
    elif kind == "greater_than_equal":
        message = "must not be negative"
    elif kind == "string_too_long":
        return f"is too long: at most {ctx['max_length']} characters, got {len(value)}"
    elif kind == "decimal_max_places":
        message = f"may have at most {ctx['decimal_places']} decimal places"
    elif kind in ("decimal_max_digits", "decimal_whole_digits"):
        message = "is too large for an amount"
    else:
        message = error["msg"]
    return f"{message}; got {_shown(value)}"


# The CSV shape of a table in the database: for the export, and for the loader's key look-ups.


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


def _type_name(column: CsvColumn) -> str:
    kind = column.source.type
    if isinstance(kind, Boolean):
        return "true/false"
    if isinstance(kind, Date):
        return "date"
    if isinstance(kind, Integer):
        return "whole number"
    if isinstance(kind, Numeric):
        return f"decimal, ≤ {kind.scale} places"
    if isinstance(kind, String):
        return f"text ≤ {kind.length}" if kind.length and not column.allowed else "text"
    return str(kind)


def _values(column: CsvColumn) -> str:
    parts = []
    if column.allowed:
        parts.append("one of " + ", ".join(f"`{v}`" for v in column.allowed))
    if column.pattern:
        parts.append(column.pattern[1])
    if column.unit:
        parts.append(column.unit)
    if column.not_negative:
        parts.append("≥ 0")
    return ", ".join(parts)


def _refers(spec: FileSpec, column: CsvColumn) -> str:
    for reference in spec.references:
        if reference.column == column.name:
            others = [c for c in reference.columns if c != column.name]
            within = f" (with {', '.join(f'`{c}`' for c in others)})" if others else ""
            if reference.is_self:
                parent_column = reference.parent_columns[reference.columns.index(column.name)]
                return f"→ `{parent_column}` of another row of this file, same {', '.join(f'`{c}`' for c in others)}"
            return f"→ `{reference.parent}.csv`{within}"
    return ""


def _md(text: str) -> str:
    return text.replace("|", "\\|")


def render() -> str:
    """The contract document, docs/data-contract.md."""
    # In the schema's reading order (sponsor, trial, …), not the loading order.
    specs = {t.name: file_spec(t.name) for t in schema.metadata.tables.values()
             if t.name not in NOT_FILES and not t.info.get("snapshot")}
    out: list[str] = []
    w = out.append
    w("# Data contract: the CSV files the dashboard loads")
    w("")
    w("<!-- Generated from dashboard/schema.py by `python -m dashboard.contract`; edit the schema or")
    w("     dashboard/contract.py, not this file. A test fails when it is stale. -->")
    w("")
    w("Feed the dashboard from your own systems (CTMS, EDC, ERP exports) by writing one CSV file per")
    w("table below into one folder, then loading the folder:")
    w("")
    w("```bash")
    w(".venv/bin/python -m dashboard.load FOLDER --url URL [--mode upsert|replace] [--dry-run] [--source NAME]")
    w("```")
    w("")
    w("Either everything is loaded, or nothing is and you get the list of what to fix, one line per")
    w("problem: `file:line: column: what is wrong` (line 1 is the header). A complete example to copy:")
    w("`.venv/bin/python -m dashboard.demo --csv FOLDER` writes the demo portfolio as these files.")
    w("")
    w("## Writing the files")
    w("")
    w("- **Names**: one file per table, named exactly as below (`site.csv`), all in one folder. Another")
    w("  `.csv` file in the folder is refused (it is probably a misspelt name); other files are ignored.")
    w("- **Format**: UTF-8 text (a byte-order mark is fine), comma-separated, the first line a header with")
    w("  the column names below. Every column must be in the header, in any order; a column you have no")
    w("  values for stays in the header with empty values. Quote values holding a comma, a quote or a line")
    w("  break, as every CSV writer does.")
    w("- **Empty** means no value. A required column may not be empty. Spaces around a value are ignored.")
    w("- **Text** may hold any character but control characters (NUL and the others below U+0020, except tab")
    w("  and line breaks): those are refused with their position. Text is shown as written, never as markup.")
    w("- **Dates**: `YYYY-MM-DD` (2026-03-31). A `month_date` is the first day of its month (2026-03-01).")
    w(f"  A date more than {HORIZON_YEARS} years after the load is refused (a mistyped year: 2999 for 2029).")
    w("- **true/false**: `true` or `false`.")
    w("- **Whole numbers**: digits only (`12`). **Decimals**: `.` for decimals, no thousands separators,")
    w("  no currency sign, at most two decimals (`1250000.50`).")
    w("- **Amounts** (`*_amount`) are in the sponsor's reporting currency (`sponsor.csv`).")
    w("- **Keys are text**: subject `001` is not subject `1` (spreadsheets drop leading zeros: check your")
    w("  numbers before you export). Letter case does not make another key: `s1` beside `S1`, or `hel-301`")
    w("  beside a loaded `HEL-301`, is refused; write a key the same way every time. Codes used in links")
    w("  (sponsor, protocol, site and vendor codes) hold letters, digits, `.`, `_` and `-` only.")
    w("- **E-mails** (`user_access.csv`) are stored in lower case; sign-ins match them without regard to case.")
    w("- **No database ids**: rows refer to each other by their keys. A site is named by")
    w("  (`protocol_number`, `site_number`), a subject by (`protocol_number`, `subject_number`); a file")
    w("  names each row it refers to by the columns marked → below. Rows may refer to rows of the same")
    w("  load or to rows already in the database (with `--mode replace`, only countries and vendors may")
    w("  come from the database: see below).")
    w("")
    w("## The files")
    w("")
    w("| file | needed | one row per | key |")
    w("|---|---|---|---|")
    for spec in specs.values():
        needed = "required" if spec.required_in_upsert else ("optional" if spec.name == GRANTS else "optional (required by replace)")
        w(f"| [`{spec.file_name}`](#{spec.name}csv) | {needed} | {_md(spec.table.info['grain'])} | "
          f"{', '.join(f'`{k}`' for k in spec.key)} |")
    w("")
    w(f"- **Required** files ({', '.join(f'`{n}.csv`' for n in REQUIRED_FILES)}) must be in the folder, if need be with")
    w("  only their header.")
    w("- **Optional** files may be left out of an upsert: a missing file changes nothing in its table.")
    w("  `--mode replace` needs every file except `user_access.csv` (header-only for a table you have no")
    w("  rows for), so a forgotten file never deletes data.")
    w("- **Not a file**: `load_log`. The loader writes one row per load (source, time, rows written),")
    w("  which the dashboard's \"Data loaded … from SOURCE\" line shows.")
    w("- **Not a file**: `site_month`. Counts of visits and data queries per site and month, which the")
    w("  loader (and the demo) rebuild from `visit.csv` and `data_query.csv` in the same transaction, so")
    w("  portfolio views need not read millions of rows. Never load or edit it by hand.")
    w("- **Not files**: the snapshot tables (`" + "`, `".join(t.name for t in schema.SNAPSHOT_TABLES) + "`). The")
    w("  loader publishes each trial's figures, forecast and flags there after every load")
    w("  (`python -m dashboard.snapshot`), so pages open without computing them.")
    w("")
    w("## Loading")
    w("")
    w("- **Everything is checked before anything is written**: types, required values, allowed values,")
    w("  unknown or missing columns, missing files, duplicate keys, references to rows that exist neither")
    w("  in the files nor in the database, impossible dates, negative amounts and counts. The first 50")
    w("  problems are listed, then the number of the others and a count per file and column; the exit")
    w("  code is 1 and the database is exactly as it was.")
    w("- **One transaction**: the load writes everything or nothing; an interrupted load leaves the")
    w("  database as it was.")
    w("- **`--mode upsert`** (default): a row whose key is already in the database is updated when a value")
    w("  differs, otherwise it is inserted; rows that are not in the files stay. Loading the same folder")
    w("  twice changes nothing the second time.")
    w("- **`--mode replace`**: for each sponsor in `sponsor.csv`, everything under it in the database (its")
    w("  trials, their sites, subjects, visits, queries, deviations, plans, contracts, costs, milestones;")
    w("  its grants when `user_access.csv` is given) is deleted and the files are loaded in its place.")
    w("  Countries and vendors are shared by sponsors: they are upserted, never deleted. Other sponsors")
    w("  are untouched. Every row must belong to a sponsor in `sponsor.csv`.")
    w("- **Shared reference rows** (countries, vendors) belong to no sponsor: a load may add new ones, but a")
    w("  row already loaded must come as it is (one sponsor's feed may not rename another sponsor's vendor).")
    w("  Only a load run with **`--reference`**, by whoever keeps the shared lists, changes them.")
    w("- A protocol, contract or change-order number is unique across sponsors: a row that would move")
    w("  one from another sponsor is refused.")
    w("- **`--dry-run`** checks the files and counts what would be inserted, updated and deleted,")
    w("  writing nothing. **`--source NAME`** names the load on the dashboard (default: the folder name).")
    w("- A database without the reporting schema gets it created by the first load.")
    w("- Exit codes: 0 loaded, 1 problems in the files (or a database error), 2 a usage error.")
    w("")
    w("## Files and columns")
    for spec in specs.values():
        w("")
        w(f"### {spec.file_name}")
        w("")
        if spec.required_in_upsert:
            needed = "Required."
        elif spec.name == GRANTS:
            needed = ("Optional in every mode. When absent, grants stay as they are, so a load never locks")
            needed += (" anyone out by omission. With `--mode replace` the file replaces the grants of the sponsors in")
            needed += " `sponsor.csv`; an upsert adds grants (to take a grant away, replace)."
        else:
            needed = "Optional (required by `--mode replace`)."
        scope = "Shared by sponsors." if is_shared(spec.name) and spec.name != ROOT else ""
        w(f"{_md(spec.table.info['grain'])} {needed} {scope}".rstrip())
        w("")
        w(f"Key: {', '.join(f'`{k}`' for k in spec.key)} (no two rows with the same key).")
        for extra in spec.unique_keys[1:]:
            w(f"Also unique: {', '.join(f'`{k}`' for k in extra)}.")
        w("")
        w("| column | type | required | values | description |")
        w("|---|---|---|---|---|")
        for column in spec.columns:
            description = _md(column.description)
            refers = _refers(spec, column)
            if refers:
                description = f"{description} {refers}"
            w(f"| `{column.name}` | {_type_name(column)} | {'yes' if column.required else ''} | {_md(_values(column))} | {description} |")
        rules = [rule.describe() for rule in spec.rules]
        rules += [
            f"the `{next(r.parent for r in spec.references if r.db_column == ref)}` referred to belongs to the same "
            f"`{next(r.parent for r in spec.references if r.db_column == via)}` as this row"
            for ref, via in SAME_PARENT.get(spec.name, ())
        ]
        for reference in spec.references:
            if not reference.required:
                empty = "the baseline plan" if reference.parent == "change_order" else f"no {_human(reference.parent)}"
                rules.append(f"empty `{reference.column}` means {empty}")
        if rules:
            w("")
            w("Rules: " + "; ".join(rules) + ".")
    w("")
    w("### load_log")
    w("")
    w("Not a file: one row per load, written by the loader.")
    w("")
    w("### site_month")
    w("")
    w("Not a file: " + _md(schema.site_month.info["grain"]) + " Rebuilt by every load.")
    return "\n".join(out) + "\n"


def suggest(name: str, choices: Sequence[str]) -> str:
    """' (did you mean X?)' for a close match, else ''."""
    close = difflib.get_close_matches(name.lower(), list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]}?)" if close else ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dashboard.contract", description="Write the data contract document.")
    shown = CONTRACT_PATH.relative_to(REPO_DIR) if CONTRACT_PATH.is_relative_to(REPO_DIR) else CONTRACT_PATH
    parser.add_argument("--check", action="store_true", help=f"exit 1 if {shown} is stale (for CI and tests)")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = CONTRACT_PATH.read_text(encoding="utf-8") if CONTRACT_PATH.exists() else None
        if current != text:
            print(f"error: {shown} is stale: run `python -m dashboard.contract` and commit it", file=sys.stderr)
            return 1
        print(f"{shown} is up to date.")
        return 0
    CONTRACT_PATH.parent.mkdir(parents=True, exist_ok=True)
    CONTRACT_PATH.write_text(text, encoding="utf-8")
    print(f"Wrote {shown}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
