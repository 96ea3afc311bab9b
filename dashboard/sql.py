"""Dialect-neutral SQL pieces shared by the queries and the roll-ups: date parameters and date arithmetic."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Date, Float, literal
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement


def as_date(value: date):
    """A bound date parameter typed as a date, for comparisons that are not against a Date column."""
    return literal(value, Date)


class days_between(FunctionElement):
    """Whole days from `start` to `end` (end − start), on SQLite and PostgreSQL alike."""

    type = Float()
    inherit_cache = True


@compiles(days_between, "sqlite")
def _days_between_sqlite(element, compiler, **kw):
    end, start = list(element.clauses)
    return f"(julianday({compiler.process(end, **kw)}) - julianday({compiler.process(start, **kw)}))"


@compiles(days_between, "postgresql")
def _days_between_postgresql(element, compiler, **kw):
    end, start = list(element.clauses)
    return f"(CAST({compiler.process(end, **kw)} AS DATE) - CAST({compiler.process(start, **kw)} AS DATE))"


class month_start(FunctionElement):
    """The first day of the month of a date, on SQLite and PostgreSQL alike."""

    type = Date()
    inherit_cache = True


@compiles(month_start, "sqlite")
def _month_start_sqlite(element, compiler, **kw):
    (day,) = list(element.clauses)
    return f"date({compiler.process(day, **kw)}, 'start of month')"


@compiles(month_start, "postgresql")
def _month_start_postgresql(element, compiler, **kw):
    (day,) = list(element.clauses)
    return f"CAST(date_trunc('month', {compiler.process(day, **kw)}) AS DATE)"
