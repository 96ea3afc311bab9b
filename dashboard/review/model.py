"""What a review action is (issue 23): a decision recorded on a trial, a site or a milestone, and its checks.

An action has an owner (someone with access to its sponsor) and a due date; a note is an action without an owner.
Everything here comes from a form, so everything is checked: a refusal is a `Refused` with the sentence to show.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Literal

from dashboard.access import valid_email

Status = Literal["open", "done", "dropped"]
STATUSES: tuple[Status, ...] = ("open", "done", "dropped")
STATUS_LABEL = {"open": "Open", "done": "Done", "dropped": "Dropped"}
MAX_TEXT = 2000  # characters: a decision and its reason, not a document
# Far enough for any plan, near enough to catch a mistyped year.
EARLIEST_DUE = date(2000, 1, 1)
DUE_YEARS_AHEAD = 5
DEMO_AUTHOR = "demo user"
# Control characters other than tab and newline: nothing a person types, and some break a spreadsheet or a log line.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
FIELDS = ("text", "owner", "due_date", "status", "responds_to")
FIELD_LABEL = {
    "text": "text",
    "owner": "owner",
    "due_date": "due date",
    "status": "status",
    "responds_to": "responds to",
}


class Refused(ValueError):
    """An entry the store does not accept; its message is the sentence the user reads."""


@dataclass(frozen=True)
class Target:
    """What an action is about: a trial, one of its sites, or one of its milestones (natural keys, as in links)."""

    protocol_number: str
    site_number: str | None = None
    milestone_code: str | None = None

    @property
    def kind(self) -> str:
        return "site" if self.site_number else "milestone" if self.milestone_code else "trial"


@dataclass(frozen=True)
class State:
    """The fields of an action that change, as they stand after one event."""

    text: str
    owner: str | None
    due_date: date | None
    status: Status
    responds_to: str | None

    @property
    def is_note(self) -> bool:
        return self.owner is None


@dataclass(frozen=True)
class Event:
    """One change, appended: who made it, when (UTC), and the state it left."""

    at: datetime
    author: str
    state: State


@dataclass(frozen=True)
class Action:
    """An action (or note) as it stood at some moment: its target, its state then, and every change up to then."""

    action_id: int
    sponsor_code: str
    target: Target
    history: tuple[Event, ...] = field(default_factory=tuple)

    @property
    def state(self) -> State:
        return self.history[-1].state

    @property
    def created(self) -> Event:
        return self.history[0]

    def is_overdue(self, today: date) -> bool:
        return self.state.status == "open" and self.state.due_date is not None and self.state.due_date < today

    def changes(self) -> list[tuple[Event, list[str]]]:
        """Each event with what it changed, in words ("status: Open → Done"); the first says "created"."""
        out: list[tuple[Event, list[str]]] = []
        before: State | None = None
        for e in self.history:
            if before is None:
                out.append((e, ["created as a note" if e.state.is_note else "created"]))
            else:
                out.append(
                    (
                        e,
                        [
                            f"{FIELD_LABEL[name]}: {_word(getattr(before, name))} → {_word(getattr(e.state, name))}"
                            for name in FIELDS
                            if getattr(before, name) != getattr(e.state, name)
                        ],
                    )
                )
            before = e.state
        return out


def _word(value) -> str:
    if value is None:
        return "none"
    if isinstance(value, date):
        return value.isoformat()
    if value in STATUS_LABEL:
        return STATUS_LABEL[value]
    text = str(value)
    return text if len(text) <= 60 else text[:57] + "…"


def check_state(
    *,
    text,
    owner,
    due_date,
    status,
    responds_to,
    owners: set[str],
    responds: dict[str, str],
    today: date,
) -> State:
    """The State for a form's values, or Refused saying what is wrong. `owners` are the e-mails with access to the
    action's sponsor; `responds` the figure and indicator keys it may respond to."""
    if not isinstance(text, str) or not text.strip():
        raise Refused("Write what was decided or noted: the text is empty.")
    text = text.strip().replace("\r\n", "\n")
    if len(text) > MAX_TEXT:
        raise Refused(f"The text is {len(text):,} characters long; at most {MAX_TEXT:,} are kept. Shorten it.")
    if _CONTROL.search(text):
        raise Refused("The text holds control characters; type or paste plain text.")
    if owner in (None, ""):
        owner = None
    else:
        email = valid_email(owner)
        if email is None:
            raise Refused("The owner must be an e-mail address.")
        if email not in owners:
            raise Refused(f"{email} has no access to this trial's sponsor, so cannot own an action on it.")
        owner = email
    if status not in STATUSES:
        raise Refused(f"The status must be one of {', '.join(STATUS_LABEL.values())}.")
    if owner is None:
        due_date = None  # a note has no owner and nothing due
    else:
        if not isinstance(due_date, date) or isinstance(due_date, datetime):
            raise Refused("An action needs a due date.")
        latest = today + timedelta(days=365 * DUE_YEARS_AHEAD)
        if not EARLIEST_DUE <= due_date <= latest:
            raise Refused(
                f"The due date {due_date.isoformat()} is out of range ({EARLIEST_DUE.isoformat()} to "
                f"{latest.isoformat()})."
            )
    if responds_to in (None, ""):
        responds_to = None
    elif responds_to not in responds:
        raise Refused("It can respond only to a figure or a site indicator of the dashboard.")
    return State(text=text, owner=owner, due_date=due_date, status=status, responds_to=responds_to)


def agenda(actions: list[Action], today: date, days: int = 7) -> tuple[list[Action], list[Action]]:
    """The open actions overdue on `today` (longest overdue first) and those due in the `days` days from it, today
    included (soonest first); notes and closed actions are on neither."""
    open_ = [a for a in actions if a.state.status == "open" and a.state.due_date is not None]
    overdue = sorted((a for a in open_ if a.state.due_date < today), key=lambda a: (a.state.due_date, a.action_id))
    soon = sorted(
        (a for a in open_ if today <= a.state.due_date < today + timedelta(days=days)),
        key=lambda a: (a.state.due_date, a.action_id),
    )
    return overdue, soon


@dataclass(frozen=True)
class Counts:
    """How many of some actions are open (with an owner), overdue among those, open notes, and done or dropped."""

    open: int
    overdue: int
    notes: int
    closed: int

    @property
    def open_text(self) -> str:
        """The open ones in words, as the Portfolio writes them: "2 open actions (1 overdue) · 1 note"."""
        parts = [f"{self.open} open action{'s' if self.open != 1 else ''} ({self.overdue} overdue)"]
        if self.notes:
            parts.append(f"{self.notes} note{'s' if self.notes != 1 else ''}")
        return " · ".join(parts)

    @property
    def text(self) -> str:
        """All of them in words, as the Overview and the e-mail write them (the open ones, then the closed)."""
        return self.open_text + (f" · {self.closed} done or dropped" if self.closed else "")


def counts(actions: list[Action], on: date) -> Counts:
    """The Counts of `actions` on the day `on` (overdue: due before it)."""
    open_ = [a for a in actions if a.state.status == "open"]
    owned = [a for a in open_ if not a.state.is_note]
    return Counts(len(owned), sum(a.is_overdue(on) for a in owned), len(open_) - len(owned), len(actions) - len(open_))
