"""What every query module shares: the scope's filters, dialect-neutral date arithmetic, typed frames."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Select, and_

from dashboard.access import Scope
from dashboard.schema import trial
from dashboard.sql import as_date, days_between, month_start  # noqa: F401 (the queries import them from here)


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
    return (
        trial.select()
        .with_only_columns(trial.c.trial_id)
        .where(and_(*trial_conditions(scope, whole_portfolio=whole_portfolio)))
    )


def frame(conn: Connection, query, dtypes: dict[str, str] | None = None) -> pd.DataFrame:
    """Run `query` and return a DataFrame whose declared columns have the same dtype on every engine.

    dtypes: column → "int" (nullable Int64), "float", "date" (datetime64, NaT for empty), "bool", "str".
    """
    result = conn.execute(query)
    columns, rows = list(result.keys()), result.fetchall()
    if rows and len(set(columns)) == len(columns):
        # Column by column: the same dtypes as from the rows (pandas infers each column alike), in half the time.
        df = pd.DataFrame(dict(zip(columns, map(list, zip(*rows)))))
    else:
        df = pd.DataFrame(rows, columns=columns)
    for column, kind in (dtypes or {}).items():
        values = df[column]
        # The vectorised paths take what SQLite gives (int64, float64 with NaN for NULL); objects, as PostgreSQL's
        # Decimal sums, go value by value.
        numeric = values.dtype.kind in "iuf"
        if kind == "int" and values.dtype.kind in "iu":
            df[column] = values.astype("Int64")
        elif kind == "int" and numeric:
            df[column] = pd.array(np.trunc(values.to_numpy()), dtype="Int64")  # NaN is NA; whole numbers as int(v)
        elif kind == "int":
            df[column] = pd.array([None if pd.isna(v) else int(v) for v in values], dtype="Int64")
        elif kind == "float" and numeric:
            df[column] = values.astype("float64")
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
