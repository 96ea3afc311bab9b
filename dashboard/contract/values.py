"""Reading a CSV value: dates, booleans, numbers and codes parsed and checked, and a validation error explained in
words a data team can act on."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Annotated, Any, Literal, Optional

from pydantic import BeforeValidator, Field
from pydantic_core import PydanticCustomError
from sqlalchemy import (
    Boolean,
    Date,
    Integer,
    Numeric,
    String,
)

from dashboard.contract.rules import ContractError

if TYPE_CHECKING:
    from dashboard.contract.files import CsvColumn


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
        _fail(
            f"contains a control character (U+{code:04X}{', NUL' if code == 0 else ''}) at position {found.start() + 1}: "
            "remove it"
        )
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
            annotation = Annotated[
                annotation,
                BeforeValidator(lambda v, f=NORMALISE[(table, column.name)]: f(v) if isinstance(v, str) else v),
            ]
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
