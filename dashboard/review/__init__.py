"""Review actions and notes (issue 23): decisions of the weekly review on a trial, a site or a milestone, with an owner
and a due date, kept in a writable database of their own with every change appended (store), and checked as
untrusted input (model)."""

from dashboard.review.model import (
    DEMO_AUTHOR,
    FIELD_LABEL,
    MAX_TEXT,
    STATUS_LABEL,
    STATUSES,
    Action,
    Counts,
    Event,
    Refused,
    State,
    Target,
    agenda,
    check_state,
    counts,
)
from dashboard.review.store import Store, end_of, migrate, open_store, visible_until

__all__ = [
    "DEMO_AUTHOR",
    "FIELD_LABEL",
    "MAX_TEXT",
    "STATUSES",
    "STATUS_LABEL",
    "Action",
    "Counts",
    "Event",
    "Refused",
    "State",
    "Store",
    "Target",
    "agenda",
    "check_state",
    "counts",
    "end_of",
    "migrate",
    "open_store",
    "visible_until",
]
