"""Site × month roll-ups of the visit and data query detail, so portfolio views read thousands of rows, not millions.

`site_month` holds, per site and month, counts of visits and data queries by the month of one of
their dates (visit, entry, opening, closing). `refresh` rebuilds it from the detail inside the
caller's transaction: the loader, the demo, migration 0002 and test fixtures call it after writing
the detail, so the two never disagree. A query reads whole months before a cutoff date's month from
the roll-up and the detail from that month's first day to the cutoff (`queries/rollups.py`), so its
answer is the same as from the detail alone, for any date.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import (
    Column,
    ColumnElement,
    Connection,
    Integer,
    Table,
    case,
    delete,
    func,
    insert,
    literal_column,
    or_,
    select,
    union_all,
)

from dashboard.schema import data_query, site_month, visit
from dashboard.sql import days_between, month_start

LATE_ENTRY_DAYS = 10  # a visit entered more than this many days after it (or still not entered) is late
LAG_CAP_DAYS = 60  # each visit's entry lag counts at most this much in the mean


@dataclass(frozen=True)
class Measure:
    """A roll-up column: `value` summed over the rows of `table`, each counted in the month of its `day`."""

    table: Table
    day: Column
    value: ColumnElement


_ONE = literal_column("1", Integer)
_lag = days_between(visit.c.entered_date, visit.c.visit_date)


def late_prone(entered_date, visit_date):
    """Whether data of a visit (or one of its eCRF pages) entered on `entered_date` is late once LATE_ENTRY_DAYS have
    passed since the visit: entered later than that, or never (count it only for visits up to late_cutoff)."""
    return or_(entered_date.is_(None), days_between(entered_date, visit_date) > LATE_ENTRY_DAYS)


MEASURES: dict[str, Measure] = {
    "n_visits": Measure(visit, visit.c.visit_date, _ONE),
    # Late once LATE_ENTRY_DAYS have passed since the visit (see late_cutoff): entered later than that, or never.
    "n_visits_late_prone": Measure(
        visit,
        visit.c.visit_date,
        case((late_prone(visit.c.entered_date, visit.c.visit_date), _ONE), else_=literal_column("0", Integer)),
    ),
    "n_visits_entered": Measure(visit, visit.c.entered_date, _ONE),
    "entry_lag_days": Measure(
        visit, visit.c.entered_date, case((_lag > LAG_CAP_DAYS, literal_column(f"{float(LAG_CAP_DAYS)}")), else_=_lag)
    ),
    "n_queries_opened": Measure(data_query, data_query.c.opened_date, _ONE),
    "n_queries_closed": Measure(data_query, data_query.c.closed_date, _ONE),
}


def late_cutoff(as_of: date) -> date:
    """The last visit date whose visit counts as late on `as_of` if it is late-prone (more than LATE_ENTRY_DAYS before)."""
    return as_of - timedelta(days=LATE_ENTRY_DAYS + 1)


def by_day_column(names) -> list[tuple[Measure, list[str]]]:
    """The measures `names`, grouped by the detail table and date they count by (one scan of the detail each)."""
    groups: dict[tuple[str, str], list[str]] = {}
    for name in names:
        groups.setdefault((MEASURES[name].table.name, MEASURES[name].day.name), []).append(name)
    return [(MEASURES[group[0]], group) for group in groups.values()]


def refresh(conn: Connection) -> int:
    """Rebuild `site_month` from `visit` and `data_query` in the caller's transaction; returns its rows."""
    conn.execute(delete(site_month))
    parts = []
    for measure, names in by_day_column(MEASURES):
        table, month = measure.table, month_start(measure.day)
        parts.append(
            select(
                table.c.site_id,
                table.c.trial_id,
                month.label("month_date"),
                *[
                    (func.sum(MEASURES[name].value) if name in names else literal_column("0", Integer)).label(name)
                    for name in MEASURES
                ],
            )
            .where(measure.day.is_not(None))
            .group_by(table.c.site_id, table.c.trial_id, month)
        )
    rows = union_all(*parts).subquery("detail_months")
    summed = select(
        rows.c.site_id, rows.c.month_date, rows.c.trial_id, *[func.sum(rows.c[name]).label(name) for name in MEASURES]
    ).group_by(rows.c.site_id, rows.c.month_date, rows.c.trial_id)
    conn.execute(insert(site_month).from_select(["site_id", "month_date", "trial_id", *MEASURES], summed))
    return conn.execute(select(func.count()).select_from(site_month)).scalar_one()
