"""What the contract holds files to: the files it names, formats of coded columns, and the rules between columns
(dates in order, one of two, required when) that the schema's CHECK constraints and EXTRA_RULES state."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import (
    CheckConstraint,
    Table,
)

REPO_DIR = Path(__file__).resolve().parent.parent.parent
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
_CODE = (
    r"[A-Za-z0-9][A-Za-z0-9._-]*",
    "letters, digits, '.', '_' or '-', starting with a letter or digit (it is used in links)",
)
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
    "change_order": (
        DateOrder("approved_date", "requested_date"),
        SetWhen("approved_date", "change_order_status", "approved"),
    ),
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
            raise ContractError(
                f"{table.name}: dashboard/contract/rules.py does not understand CHECK {text!r}; teach it"
            )
    return not_negative, rules


# The CSV layout of a table.
