"""Who may see what: a user's sponsor grants, and the Scope every query is called with."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from datetime import date

from sqlalchemy import Connection, func, select

from dashboard.links import ViewState
from dashboard.schema import sponsor, user_access

# A plausible e-mail address and nothing else (it comes from a header, an identity provider or a command line).
_EMAIL = re.compile(r"^[A-Za-z0-9._%+'-]{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")


def valid_email(value) -> str | None:
    """The address, lower-cased, if `value` is a plausible e-mail address; None otherwise."""
    if not isinstance(value, str):
        return None
    value = value.strip().lower()
    return value if _EMAIL.match(value) else None


@dataclass(frozen=True)
class Grant:
    """One sponsor a user may see."""

    sponsor_id: int
    sponsor_code: str
    sponsor_name: str


@dataclass(frozen=True)
class Scope:
    """The user's grants intersected with the validated view: the only way to call a query.

    `sponsor_ids` come from sign-in, never from the URL; the URL can only narrow them.
    """

    sponsor_ids: tuple[int, ...]
    as_of: date
    since: date
    trial: str | None = None
    site: str | None = None
    phase: str | None = None
    ta: str | None = None

    def replace(self, **changes) -> Scope:
        """A copy with some fields changed (e.g. the whole portfolio: trial=None)."""
        return dataclasses.replace(self, **changes)


def granted_sponsors(conn: Connection, email: str | None) -> list[Grant]:
    """The sponsors `email` may see, by name; `None` means every sponsor (demo mode only)."""
    query = select(sponsor.c.sponsor_id, sponsor.c.sponsor_code, sponsor.c.sponsor_name).order_by(
        sponsor.c.sponsor_name
    )
    if email is not None:
        # E-mail addresses are compared without case: a grant loaded as Ann@Acme.example still applies.
        query = query.join(user_access, user_access.c.sponsor_id == sponsor.c.sponsor_id).where(
            func.lower(user_access.c.user_email) == email.strip().lower()
        )
    return [Grant(*row) for row in conn.execute(query)]


def make_scope(grants: list[Grant], view: ViewState, today: date) -> tuple[Scope, list[str]]:
    """The Scope for a user's grants and a view; returns notices for parts of the view that were dropped."""
    notices: list[str] = []
    sponsor_ids = tuple(sorted(g.sponsor_id for g in grants))
    if view.sponsor is not None:
        chosen = [g.sponsor_id for g in grants if g.sponsor_code == view.sponsor]
        if chosen:
            sponsor_ids = tuple(chosen)
        else:
            notices.append(f"No sponsor {view.sponsor!r} among those you can see; showing all of yours.")
    as_of = view.effective_as_of(today)
    since = view.effective_since(today)
    if since >= as_of:
        notices.append(f"The compare date {since} is not before the as-of date {as_of}; comparing with a week earlier.")
        since = ViewState(as_of=as_of).effective_since(today)
    scope = Scope(
        sponsor_ids=sponsor_ids,
        as_of=as_of,
        since=since,
        trial=view.trial,
        site=view.site,
        phase=view.phase,
        ta=view.ta,
    )
    return scope, notices
