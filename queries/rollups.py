"""Counts of visits and data queries up to a date, from the site × month roll-up plus that month's detail.

Whole months before the cutoff's month come from `site_month` (a few rows per site); the days of
the cutoff's own month come from the detail, read on its (trial, date) indexes. The sum equals the
same count over the detail alone (tests/test_rollups.py checks this at month ends, firsts and mid-month).
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import Integer, Select, and_, case, func, literal_column, select, union_all

from dashboard.rollups import MEASURES, by_day_column
from dashboard.schema import site_month
from dashboard.sql import as_date, month_start


def _first_of(day: date) -> date:
    return day.replace(day=1)


def _in_month_of(cutoff: date, day):
    """`day` falls between the first of `cutoff`'s month and `cutoff`: the part the roll-up does not hold yet."""
    return and_(day >= as_date(_first_of(cutoff)), day <= as_date(cutoff))


def upto(cutoffs: dict[str, date], trial_ids: Select, *, by: str = "site", name: str = "counts"):
    """Each measure in `cutoffs` (a `site_month` column) summed over the detail dated up to its own cutoff.

    by="site": one row per site with any counts (site_id, measures); by="month": one row per trial × month
    (trial_id, month_date, measures), each month's rows counted in it. Only the trials in `trial_ids`.
    """
    if by not in ("site", "month"):
        raise ValueError(f"by must be 'site' or 'month', not {by!r}")
    names = list(cutoffs)
    zero = literal_column("0", Integer)

    def keys(table, month, *, labelled=True):
        if by == "site":
            return [table.c.site_id]
        return [table.c.trial_id, month.label("month_date") if labelled else month]

    rolled = (
        select(
            *keys(site_month, site_month.c.month_date),
            *[
                func.sum(
                    case((site_month.c.month_date < as_date(_first_of(cutoffs[n])), site_month.c[n]), else_=zero)
                ).label(n)
                for n in names
            ],
        )
        .where(
            site_month.c.trial_id.in_(trial_ids),
            site_month.c.month_date < as_date(max(_first_of(c) for c in cutoffs.values())),
        )
        .group_by(*keys(site_month, site_month.c.month_date, labelled=False))
    )
    parts = [rolled]
    for measure, group in by_day_column(names):
        table, day = measure.table, measure.day
        month = month_start(day)

        parts.append(
            select(
                *keys(table, month),
                *[
                    (
                        func.sum(case((_in_month_of(cutoffs[n], day), MEASURES[n].value), else_=zero))
                        if n in group
                        else zero
                    ).label(n)
                    for n in names
                ],
            )
            .where(
                table.c.trial_id.in_(trial_ids),
                day >= as_date(min(_first_of(cutoffs[n]) for n in group)),
                day <= as_date(max(cutoffs[n] for n in group)),
            )
            .group_by(*keys(table, month, labelled=False))
        )
    rows = union_all(*parts).subquery(f"{name}_parts")
    key_columns = [rows.c.site_id] if by == "site" else [rows.c.trial_id, rows.c.month_date]
    return select(*key_columns, *[func.sum(rows.c[n]).label(n) for n in names]).group_by(*key_columns).subquery(name)
