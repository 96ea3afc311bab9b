"""What every query module shares: the scope's filters, dialect-neutral date arithmetic, typed frames."""

from __future__ import annotations

from datetime import date

import pandas as pd
from sqlalchemy import Connection, Date, Float, Select, and_, literal
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from dashboard.access import Scope
from dashboard.schema import trial


def trial_conditions(scope: Scope, *, whole_portfolio: bool = False) -> list:
    """WHERE clauses on `trial` for the scope: granted sponsors, filters, and the trial unless `whole_portfolio`."""
    conditions = [trial.c.sponsor_id.in_(scope.sponsor_ids)]
    if scope.phase is not None:
        conditions.append(trial.c.phase == scope.phase)
    if scope.ta is not None:
        conditions.append(trial.c.therapeutic_area == scope.ta)
    if scope.trial is not None and not whole_portfolio:
        conditions.append(trial.c.protocol_number == scope.trial)
    return conditions


def scoped_trial_ids(scope: Scope, *, whole_portfolio: bool = False) -> Select:
    """The ids of the trials the scope covers, as a subquery to filter facts by."""
    return trial.select().with_only_columns(trial.c.trial_id).where(and_(*trial_conditions(scope, whole_portfolio=whole_portfolio)))


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


def frame(conn: Connection, query, dtypes: dict[str, str] | None = None) -> pd.DataFrame:
    """Run `query` and return a DataFrame whose declared columns have the same dtype on every engine.

    dtypes: column → "int" (nullable Int64), "float", "date" (datetime64, NaT for empty), "bool", "str".
    """
    result = conn.execute(query)
    df = pd.DataFrame(result.fetchall(), columns=list(result.keys()))
    for column, kind in (dtypes or {}).items():
        values = df[column]
        if kind == "int":
            df[column] = pd.array([None if pd.isna(v) else int(v) for v in values], dtype="Int64")
        elif kind == "float":
            df[column] = pd.array([None if v is None or pd.isna(v) else float(v) for v in values], dtype="float64")
        elif kind == "date":
            df[column] = pd.to_datetime(pd.Series(values, dtype="object"), errors="coerce").astype("datetime64[ns]")
        elif kind == "bool":
            df[column] = pd.array([None if v is None else bool(v) for v in values], dtype="boolean")
        elif kind == "str":
            df[column] = values.astype("string")
        else:
            raise ValueError(f"Unknown dtype {kind!r} for column {column!r}")
    return df


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
