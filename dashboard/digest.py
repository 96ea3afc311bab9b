"""The status digest: key figures, what changed and what slipped, as an e-mail in which every line links into the dashboard.

    python -m dashboard.digest --as-of DATE [--since DATE] [--sponsor CODE] (--user EMAIL | --all-sponsors) --out FILE.html
    python -m dashboard.digest --as-of DATE [--since DATE] [--sponsor CODE] [--user EMAIL [--to ADDR]] --send [--out FILE.html]

A digest is built for one user's access (their grants in the access table; --sponsor narrows
them), as of a date and compared with an earlier one (--since, default a week before). Its
figures come from the pages' own query functions (queries/) and health and metric functions
(dashboard.health, dashboard.metrics), so a number in the e-mail is the number its link opens
on. The HTML is for mail clients: tables for layout, inline styles, no scripts, and nothing
loaded from anywhere (no images, fonts or style sheets).

--send mails one digest per recipient, each built for that recipient's own access: every user of
the access table (only --user, with --user), or --to ADDR with --user saying whose access applies.
It sends through the DASHBOARD_SMTP_* settings. With --out as well, each recipient's HTML is kept
beside FILE (FILE's name with the address added).

Exit codes: 0 done, 1 a database or mail server error, 2 a usage error.
"""

from __future__ import annotations

import argparse
import smtplib
import ssl
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from html import escape
from pathlib import Path

import pandas as pd
from sqlalchemy import Connection, select
from sqlalchemy.exc import SQLAlchemyError

from dashboard import access, cli, health, published, registry
from dashboard.db import UsageError, report_cli_error
from dashboard.forecast import Forecasts
from dashboard.formats import CHIP_COLOURS
from dashboard.formats import day as _day
from dashboard.links import COMPARE_DAYS, ViewState, page_url
from dashboard.metrics import (
    HEALTH_ORDER,
    HEALTH_WORD,
    MILESTONE_STATUS_LABEL,
    SUPPLY_RISK_LABEL,
    ratio,
)
from dashboard.schema import TRIAL_STATUS_LABEL, sponsor, user_access
from dashboard.settings import Settings
from queries import overview, portfolio

# Open milestones expected within this many days after as_of are listed as due soon.
DUE_SOON_DAYS = 30
# A longer list is cut here, with a link to the page that has all of it.
MAX_ROWS = 10
DIMENSIONS = ("enrollment", "budget", "schedule")


# --- What the digest says, computed ------------------------------------------------------------


@dataclass
class Digest:
    """One digest's figures: every trial in the scope as of `as_of` and as of `since`, the milestones, the load time."""

    scope: access.Scope
    view: ViewState  # the link state: sponsor filter (if any), as_of and since, always explicit
    sponsors: list[access.Grant]
    user: str | None
    now: registry.Basis  # what the figures are computed from, as of as_of (the pages' own basis)
    then: registry.Basis  # the same, as of since
    trials: pd.DataFrame  # health.trial_health as of as_of, with `<column>_then` as of since
    milestones: pd.DataFrame  # health.milestone_statuses as of as_of, with status_then
    changes: pd.DataFrame  # vendors.forecast_changes between since and as_of, with each milestone's kind and status
    supply: pd.DataFrame  # supply risks (conflicts and near misses) whose clinical milestone is open, worst first
    loaded_at: datetime | None
    settings: Settings
    published: tuple[pd.Series | None, pd.Series | None] = (None, None)  # the snapshots read for as_of and since
    built_at: datetime = field(default_factory=lambda: datetime.now(UTC).replace(tzinfo=None))

    @property
    def as_of(self) -> date:
        return self.scope.as_of

    @property
    def since(self) -> date:
        return self.scope.since

    def link(self, page: str, trial: str | None = None) -> str:
        """The absolute address of `page` showing this digest's view (and `trial`), dates explicit."""
        return page_url(page, self.view.model_copy(update={"trial": trial}), base_url=self.settings.public_base_url)

    def figure(self, key: str, trial: str | None = None) -> registry.Value:
        """A registry figure of the digest's view (or of one trial), with its change over the period."""
        if trial is None:
            return registry.evaluate(key, self.now, self.then)
        return registry.evaluate(key, self.now.of_trial(trial), self.then.of_trial(trial))


# What the health-change sections compare between since and as_of.
COMPARED = ("overall_health", "enrollment_health", "budget_health", "schedule_health", "n_enrolled", "cpi", "p_meet_plan")


def _with_then(now: pd.DataFrame, then: pd.DataFrame) -> pd.DataFrame:
    """`now` with each compared column as of the compare date beside it, as `<column>_then` (empty for a new trial)."""
    for frame in (now, then):
        if "p_meet_plan" not in frame:
            frame["p_meet_plan"] = pd.Series(dtype="float64")
    return now.merge(
        then[["protocol_number", *COMPARED]].rename(columns={c: f"{c}_then" for c in COMPARED}), on="protocol_number", how="left"
    )


def build_digest(
    conn: Connection, grants: list[access.Grant], view: ViewState, settings: Settings, *, user: str | None = None,
    predict: Callable | None = None,
) -> Digest:
    """The digest for `grants` (a user's access) and `view` (as_of, required; since; an optional sponsor among the grants)."""
    scope, notices = access.make_scope(grants, view, view.as_of)
    if notices:
        raise UsageError(notices[0])
    run = lambda query, s: query(conn, s)  # noqa: E731
    compose = overview.direct(run, settings, predict or Forecasts())
    now = overview.view_basis(compose, scope, settings, vendor=True)
    then = overview.view_basis(compose, overview.then_scope(scope), settings, vendor=True)
    trials = _with_then(now.trials.copy(), then.trials.copy())
    statuses = now.milestones.merge(
        then.milestones[["protocol_number", "milestone_code", "status"]].rename(columns={"status": "status_then"}),
        on=["protocol_number", "milestone_code"], how="left",
    )
    loads = portfolio.freshness(conn, scope)
    loaded_at = None if loads.empty else pd.Timestamp(loads.iloc[0]["loaded_at"]).to_pydatetime()
    in_scope = [g for g in grants if g.sponsor_id in scope.sponsor_ids]
    link_view = ViewState(sponsor=view.sponsor, as_of=scope.as_of, since=scope.since)
    return Digest(scope, link_view, in_scope, user, now, then, trials, statuses, now.moved,
                  health.open_supply_risks(now.supply), loaded_at, settings,
                  (overview.publication(run, scope, settings), overview.publication(run, overview.then_scope(scope), settings)))


# --- The document: sections of paragraphs, tiles and tables, rendered as HTML and as text -------


@dataclass(frozen=True)
class Link:
    text: str
    href: str


@dataclass(frozen=True)
class Chip:
    """A health colour: always drawn with its word (never colour alone)."""

    health: str
    text: str | None = None

    @property
    def word(self) -> str:
        return self.text or HEALTH_WORD[self.health]


BREAK = "\n"
Run = str | Link | Chip


@dataclass
class Cell:
    runs: list[Run]
    note: str | None = None  # a second, muted line


@dataclass
class Table:
    headers: list[str]
    rows: list[list[Cell]]
    numeric: tuple[int, ...] = ()  # right-aligned columns
    # Notes may break inside a word on a phone: a table too wide for 390 px otherwise ("discontinuation" in a note).
    break_words: bool = False


@dataclass
class Tile:
    label: str
    value: str
    note: str
    href: str


@dataclass
class Section:
    title: str
    href: str | None
    blocks: list  # of list[Run] (a paragraph), list[list[Run]] wrapped in Bullets, Table, or list[Tile]


@dataclass
class Bullets:
    items: list[list[Run]]



def _num(value, fmt: str = "{:,}") -> str:
    return "—" if value is None or pd.isna(value) else fmt.format(value)


def _plural(n: int, word: str, plural: str | None = None, *, zero: str | None = None) -> str:
    if n == 0 and zero is not None:
        return zero
    return f"{n:,} {word if n == 1 else plural or word + 's'}"


def _period(d: Digest) -> str:
    return "this week" if (d.as_of - d.since).days == COMPARE_DAYS else f"since {_day(d.since)}"


def _trial_link(d: Digest, protocol: str, page: str = "overview") -> Link:
    return Link(protocol, d.link(page, protocol))


def _is_open(m: pd.DataFrame) -> pd.Series:
    return ~m["is_done"] & (m["milestone_kind"] != "expiry")


def _dimension_detail(d: Digest, t, dimension: str) -> str:
    """Why a trial's dimension has its colour, in a few words with the figure behind it (the registry's)."""
    trial = d.now.of_trial(t.protocol_number)
    key = registry.drivers(trial)[dimension]
    value = d.figure(key, t.protocol_number)
    if value.value is None:
        return {"budget": "no budget figures yet", "enrollment": "not enrolling yet", "schedule": "no open milestone due"}[dimension]
    text = value.display if key == "schedule_slip" else f"{value.label} {value.display}"
    return text + (f", was {value.then_display}" if value.then is not None and value.then_display != value.display else "")


def _rank(healths: pd.Series) -> pd.Series:
    """Each health colour's rank (grey 0 … red 3); missing counts as grey."""
    return pd.Series([HEALTH_ORDER.get(h, 0) for h in healths], index=healths.index, dtype="int64")


def _health_changes(d: Digest) -> pd.DataFrame:
    """Trials whose overall health changed, or one of whose dimensions turned red, worst first."""
    t = d.trials
    turned_red = pd.Series(False, index=t.index)
    for dim in DIMENSIONS:
        turned_red |= (t[f"{dim}_health"] == "red") & (t[f"{dim}_health_then"] != "red")
    changed = t[(t["overall_health"] != t["overall_health_then"]) | turned_red]
    now, was = _rank(changed["overall_health"]), _rank(changed["overall_health_then"])
    return changed.assign(_worse=was - now, _now=-now).sort_values(["_worse", "_now", "protocol_number"])


def _turned_red(t) -> list[str]:
    return [dim for dim in DIMENSIONS if getattr(t, f"{dim}_health") == "red" and getattr(t, f"{dim}_health_then") != "red"]


def _joined(items: list[list[Run]], separator: str = ", ") -> list[Run]:
    out: list[Run] = []
    for i, item in enumerate(items):
        if i:
            out.append(separator)
        out.extend(item)
    return out


def _brief(d: Digest) -> Bullets:
    """The first lines an executive reads: one bullet per subject, each naming the trials concerned."""
    t, items = d.trials, []
    changes = _health_changes(d)
    red = [r for r in changes.itertuples(index=False) if r.overall_health == "red" and r.overall_health_then != "red"]
    better = [r for r in changes.itertuples(index=False) if HEALTH_ORDER[r.overall_health] < HEALTH_ORDER.get(r.overall_health_then, 0)]
    n_red = int((t["overall_health"] == "red").sum())
    line: list[Run] = []
    if red:
        line += [f"{_plural(len(red), 'trial')} turned red: "]
        line += _joined([[_trial_link(d, r.protocol_number), f" ({', '.join(_turned_red(r)) or 'overall'})"] for r in red])
        line += [". "]
    else:
        line += [f"No trial turned red {_period(d)}. "]
    if better:
        line += [f"{len(better)} improved: "]
        line += _joined([[_trial_link(d, r.protocol_number), f" (now {HEALTH_WORD[r.overall_health].lower()})"] for r in better])
        line += [". "]
    line += [f"{n_red:,} of {_plural(len(t), 'trial')} {'is' if n_red == 1 else 'are'} at risk overall."]
    items.append(line)

    added, enrolled, target = int(t["n_enrolled_since"].sum()), int(t["n_enrolled"].sum()), int(t["n_planned_subjects"].sum())
    top = t[t["n_enrolled_since"] > 0].sort_values(["n_enrolled_since", "protocol_number"], ascending=[False, True]).head(3)
    line = [f"{_plural(added, 'subject', zero='Nobody')} enrolled {_period(d)}"]
    if not top.empty:
        line += [" ("] + _joined([[_trial_link(d, r.protocol_number, "enrollment"), f" +{r.n_enrolled_since}"] for r in top.itertuples()])
        line += [", …)" if (t["n_enrolled_since"] > 0).sum() > len(top) else ")"]
    pct = ratio(enrolled, target)
    line += [f"; {enrolled:,} of {target:,} enrolled in all" + (f" ({pct:.0%})." if pct is not None else ".")]
    items.append(line)

    slipped = _slipped(d)
    late = _overdue(d)
    new_late = int((late["status_then"] != "late").sum())
    overdue = d.figure("milestones_overdue")
    line = [f"{_plural(len(slipped), 'milestone forecast', zero='No milestone forecast')} slipped"]
    if not slipped.empty:
        worst = slipped.iloc[0]
        line += [" (largest: ", _trial_link(d, worst.protocol_number, "vendors"), f" {worst.milestone_name}, {int(worst.days_moved):+d} days)"]
    n_due = len(_due_soon(d))
    line += [f"; {_plural(overdue.value or 0, 'contract milestone', zero='no contract milestone')} overdue"
             + (f" ({new_late or 'none'} new)" if overdue.value else "")
             + f"; {n_due or 'none'} due in the next {DUE_SOON_DAYS} days"]
    conflicts = d.supply[d.supply["risk"] == "conflict"]
    if not conflicts.empty:
        line += [f"; {_plural(len(conflicts), 'supply conflict')}: "]
        line += _joined([[_trial_link(d, p, "vendors")] for p in conflicts["protocol_number"].unique()])
    line += ["."]
    items.append(line)

    alerts = _budget_alerts(d)
    if alerts.empty:
        items.append([f"No budget alerts: every trial's CPI is at least {d.settings.index_green:.2f} (or has no budget yet)."])
    else:
        line = [f"{_plural(len(alerts), 'trial')} below CPI {d.settings.index_green:.2f}: "]
        line += _joined([[_trial_link(d, r.protocol_number, "budget"), f" {r.cpi:.2f}"] for r in alerts.itertuples()])
        line += ["."]
        items.append(line)
    return Bullets(items)


def _change_note(d: Digest, v: registry.Value) -> str:
    """A key figure's change over the period in words: "+23 this week", "no change this week", or nothing to compare."""
    if v.change_display is None:
        return "nothing to compare with" if v.then is None and v.value is not None else ""
    return f"{v.change_display} {_period(d)}" if v.change_display != "no change" else f"no change {_period(d)}"


KEY_FIGURES = (("active_trials", "portfolio"), ("enrolled", "enrollment"), ("sites_active", "sites"),
               ("budget_spent", "budget"), ("milestones_overdue", "vendors"))


def _key_figures(d: Digest) -> list[Tile]:
    """The Portfolio page's headline tiles (the registry's figures), each with its change over the period."""
    tiles = []
    for key, page in KEY_FIGURES:
        v = d.figure(key)
        note = _change_note(d, v)
        if key == "budget_spent" and v.value is None and not d.now.budgeted.empty:
            note = "in " + " · ".join(sorted(d.now.budgeted["reporting_currency"].unique())) + ": not added up"
        tiles.append(Tile(v.label, v.display, note, d.link(page)))
    pulls = d.figure("stability_pulls_overdue")
    if pulls.value:
        tiles.append(Tile(pulls.label, pulls.display, _change_note(d, pulls), d.link("vendors")))
    return tiles


def _health_counts(d: Digest) -> list[Run]:
    runs: list[Run] = ["Overall health: "]
    for h, key in (("red", "trials_at_risk"), ("amber", "trials_watch"), ("green", "trials_on_track"), ("grey", "trials_no_data")):
        v = d.figure(key)
        if v.value or v.then:
            runs += [Chip(h), f" {v.display}" + (f" ({v.change_display})" if v.change else "") + "   "]
    return runs


def _changes_table(d: Digest) -> Table | list[Run]:
    changes = _health_changes(d)
    if changes.empty:
        return [f"No trial's health changed {_period(d)}."]
    rows = []
    for t in changes.itertuples(index=False):
        what: list[Run] = []
        for dim in DIMENSIONS:
            now, was = getattr(t, f"{dim}_health"), getattr(t, f"{dim}_health_then")
            if now == was:
                continue
            verb = "turned red" if now == "red" else f"{HEALTH_WORD.get(was, 'no data').lower()} → {HEALTH_WORD[now].lower()}"
            if what:
                what.append(BREAK)
            what.append(f"{dim.capitalize()} {verb}: {_dimension_detail(d, t, dim)}")
        if not what:
            what = [f"Overall {HEALTH_WORD[t.overall_health].lower()}"]
        was = t.overall_health_then if isinstance(t.overall_health_then, str) else "grey"
        rows.append([
            Cell([_trial_link(d, t.protocol_number)], note=t.indication),
            Cell([Chip(was), " → ", Chip(t.overall_health)]),
            Cell(what),
        ])
    return Table(["Trial", "Overall health", "What changed"], rows)


def _slipped(d: Digest) -> pd.DataFrame:
    c = d.changes
    return c[(c["days_moved"] > 0) & (c["milestone_kind"] == "contract")]


def _overdue(d: Digest, kind: str = "contract") -> pd.DataFrame:
    """Open milestones of `kind` past their baseline (the registry's milestones_overdue, or stability pulls), new first."""
    m = d.milestones
    late = m[_is_open(m) & (m["status"] == "late") & (m["milestone_kind"] == kind)]
    return late.assign(_new=late["status_then"] == "late").sort_values(["_new", "slip_days", "protocol_number"], ascending=[True, False, True])


def _due_soon(d: Digest) -> pd.DataFrame:
    m = d.milestones
    horizon = pd.Timestamp(d.as_of + timedelta(days=DUE_SOON_DAYS))
    due = m[_is_open(m) & (m["milestone_kind"] == "contract") & (m["status"] != "late")]
    return due[due["due_date"] <= horizon].sort_values(["due_date", "protocol_number"])


def _achieved(d: Digest) -> pd.DataFrame:
    m = d.milestones
    done = m[m["is_done"] & (m["actual_date"] > pd.Timestamp(d.since)) & (m["milestone_kind"] == "contract")]
    return done.sort_values(["actual_date", "protocol_number"])


def _milestone_cell(r) -> Cell:
    return Cell([r.milestone_name], note=r.vendor_name)


def _capped(d: Digest, title: str, table: Table, page: str) -> list:
    """A titled table of at most MAX_ROWS rows; a longer one ends with a link to the page that lists it all."""
    blocks: list = [[title], Table(table.headers, table.rows[:MAX_ROWS], table.numeric, table.break_words)]
    if len(table.rows) > MAX_ROWS:
        blocks.append([f"… and {len(table.rows) - MAX_ROWS:,} more: ", Link("see them all", d.link(page)), "."])
    return blocks


def _slip_chip(r) -> Chip:
    return Chip(r.rag, f"{int(r.slip_days):+d} d")


def _milestone_blocks(d: Digest) -> list:
    blocks: list = []
    if not d.supply.empty:
        blocks += _capped(d, "Supply risk: investigational product needed before a clinical milestone can happen:", Table(
            ["Trial", "Supply milestone", "Expected", "Needed for", "Margin"],
            [
                [
                    Cell([_trial_link(d, r.protocol_number, "vendors")]),
                    Cell([r.supply_name], note=r.supply_vendor_name),
                    Cell([_day(r.supply_date)], note="done" if r.is_supply_done else "forecast"),
                    Cell([r.clinical_name], note=f"{_day(r.clinical_date)} · {r.lead_time_days} d lead time"),
                    Cell([Chip("red" if r.risk == "conflict" else "amber", f"{SUPPLY_RISK_LABEL[r.risk]} {r.margin_days:+d} d")]),
                ]
                for r in d.supply.itertuples(index=False)
            ],
        ), "vendors")
    slipped = _slipped(d)
    if slipped.empty:
        blocks.append([f"No contracted milestone's forecast slipped {_period(d)}."])
    else:
        blocks += _capped(d, f"Forecasts that slipped {_period(d)}:", Table(
            ["Trial", "Milestone", "Forecast", "Moved", "Slip"],
            [
                [
                    Cell([_trial_link(d, r.protocol_number, "vendors")]),
                    _milestone_cell(r),
                    Cell([_day(r.new_forecast_date)], note=f"was {_day(r.old_forecast_date)}"),
                    Cell([f"{int(r.days_moved):+d} d"]),
                    Cell([_slip_chip(r)], note=f"baseline {_day(r.baseline_date)}"),
                ]
                for r in slipped.itertuples(index=False)
            ],
            numeric=(3,),
        ), "vendors")
    other_moves = d.changes[(d.changes["days_moved"] > 0) & (d.changes["milestone_kind"] == "stability_pull")]
    if not other_moves.empty:
        blocks.append([f"Also moved later: {_plural(len(other_moves), 'stability pull')}."])
    late = _overdue(d)
    if late.empty:
        blocks.append(["No contract milestone is overdue."])
    else:
        new = int((late["status_then"] != "late").sum())
        blocks += _capped(d, f"{registry.FIGURES['milestones_overdue'].label}: {len(late):,} ({new or 'none'} new {_period(d)}):", Table(
            ["Trial", "Milestone", "Baseline", "Expected", "Slip"],
            [
                [
                    Cell([_trial_link(d, r.protocol_number, "vendors")], note="new" if r.status_then != "late" else None),
                    _milestone_cell(r),
                    Cell([_day(r.baseline_date)]),
                    Cell([text]),
                    Cell([_slip_chip(r)]),
                ]
                for r, text in zip(late.itertuples(index=False), late["expected"])
            ],
        ), "vendors")
    pulls = _overdue(d, "stability_pull")
    if not pulls.empty:
        blocks.append([f"Also overdue: {_plural(len(pulls), 'stability pull')} (", Link("see the Vendors page", d.link("vendors")),
                       f", {registry.FIGURES['stability_pulls_overdue'].label.lower()})."])
    due = _due_soon(d)
    if due.empty:
        blocks.append([f"No contracted milestone is due in the next {DUE_SOON_DAYS} days."])
    else:
        blocks += _capped(d, f"Due in the next {DUE_SOON_DAYS} days:", Table(
            ["Trial", "Milestone", "Baseline", "Expected", "Status"],
            [
                [
                    Cell([_trial_link(d, r.protocol_number, "vendors")]),
                    _milestone_cell(r),
                    Cell([_day(r.baseline_date)]),
                    Cell([_day(r.due_date)]),
                    Cell([Chip(r.rag, MILESTONE_STATUS_LABEL[r.status] + (f" {int(r.slip_days):+d} d" if r.slip_days else ""))]),
                ]
                for r in due.itertuples(index=False)
            ],
        ), "vendors")
    done = _achieved(d)
    if not done.empty:
        blocks.append(
            [f"Achieved {_period(d)}: "]
            + _joined([
                [_trial_link(d, r.protocol_number, "vendors"),
                 f" {r.milestone_name} on {_day(r.actual_date)} ({MILESTONE_STATUS_LABEL[r.status].lower()})"]
                for r in done.itertuples(index=False)
            ], "; ")
            + ["."]
        )
    return blocks


def _enrollment_blocks(d: Digest) -> list:
    t = d.trials
    rows_of = t[(t["n_enrolled_since"] > 0) | (t["trial_status"] == "enrolling")]
    rows_of = rows_of.sort_values(["n_enrolled_since", "protocol_number"], ascending=[False, True])
    added = int(t["n_enrolled_since"].sum())
    blocks: list = [[f"{_plural(added, 'subject', zero='Nobody')} enrolled {_period(d)} (after {_day(d.since)}, up to {_day(d.as_of)})."]]
    if rows_of.empty:
        return blocks
    idle = rows_of[rows_of["n_enrolled_since"] == 0]
    blocks.append(Table(
        ["Trial", "Added", "Enrolled / target", "% of plan to date", "Enrollment"],
        [
            [
                Cell([_trial_link(d, r.protocol_number, "enrollment")], note=r.indication),
                Cell([f"+{r.n_enrolled_since:,}" if r.n_enrolled_since else "none"]),
                Cell([f"{r.n_enrolled:,} / {r.n_planned_subjects:,}"]),
                Cell([_num(r.pct_of_plan_to_date, "{:.0%}") if r.planned_to_date else "—"]),
                Cell([Chip(r.enrollment_health)],
                     note=f"{registry.FIGURES['p_meet_lpi_plan'].label} {r.p_meet_plan:.0%}" if not pd.isna(r.p_meet_plan) else None),
            ]
            for r in rows_of.itertuples(index=False)
        ],
        numeric=(1, 2, 3),
    ))
    if not idle.empty:
        blocks.append([f"Enrolling but nobody enrolled {_period(d)}: "] + _joined(
            [[_trial_link(d, p, "enrollment")] for p in idle["protocol_number"]]) + ["."])
    return blocks


def _budget_alerts(d: Digest) -> pd.DataFrame:
    t = d.trials
    alerts = t[t["budget_health"].isin(["red", "amber"])]
    return alerts.sort_values(["cpi", "protocol_number"])


def _budget_blocks(d: Digest) -> list:
    alerts = _budget_alerts(d)
    s = d.settings
    if alerts.empty:
        return [[f"No trial's CPI is below {s.index_green:.2f}."]]
    rows = []
    for r in alerts.itertuples(index=False):
        v = {k: d.figure(k, r.protocol_number) for k in ("cpi", "ac", "budget_spent", "bac", "eac", "vac")}
        rows.append([
            Cell([_trial_link(d, r.protocol_number, "budget")], note=r.indication),
            Cell([Chip(v["cpi"].health, v["cpi"].display)], note=f"was {v['cpi'].then_display}" if v["cpi"].then is not None else None),
            Cell([v["ac"].display], note=f"{v['budget_spent'].display} of {v['bac'].display}"),
            Cell([v["eac"].display]),
            Cell([v["vac"].display], note="overrun" if (v["vac"].value or 0) < 0 else None),
        ])
    return [
        [f"Trials whose cost performance index (CPI = earned value ÷ actual cost) is below {s.index_green:.2f} "
         f"(below {s.index_amber:.2f}: at risk)."],
        Table(["Trial", "CPI", "Spent", "Forecast at completion", "Variance at completion"], rows, numeric=(2, 3, 4)),
    ]


def _quality_blocks(d: Digest) -> list:
    """Breached quality tolerance limits (each trial linked to its Overview) and SAE reporting timeliness."""
    blocks: list = []
    breaches = registry.qtl_breaches(d.now)
    if d.now.qtls is None or d.now.qtls.empty:
        blocks.append(["No quality tolerance limit is loaded for these trials."])
    elif d.figure("qtl_breaches").value is None:
        blocks.append([f"{_plural(len(d.now.qtls), 'quality tolerance limit')} set; none has data yet."])
    elif breaches.empty:
        blocks.append([f"No quality tolerance limit is breached ({_plural(len(d.now.qtls), 'limit')} set)."])
    else:
        blocks.append([f"{_plural(len(breaches), 'quality tolerance limit')} breached — report to management and in the "
                       "clinical study report (ICH E6(R3)):"])
        blocks.append(Table(["Trial", "QTL", "Trial value", "Limit"], [
            [Cell([_trial_link(d, q["protocol_number"])]), Cell([Chip("red", q["label"])]),
             Cell([health.qtl_values(q)[0]]), Cell([f"{q['direction']} {health.qtl_values(q)[1]}"])]
            for _, q in breaches.iterrows()
        ], numeric=(2, 3)))
    v = d.figure("sae_on_time")
    if v.value is None:
        blocks.append([f"{v.label}: no serious adverse event due yet, or no adverse-event data."])
    else:
        late = []
        for protocol in d.now.protocols:
            t = d.figure("sae_on_time", protocol)
            if t.health in ("red", "amber"):
                late.append([_trial_link(d, protocol, "sites"), f" {t.display}"])
        line: list[Run] = [f"{v.label} (by the day after the site became aware): ", Chip(v.health, v.display), " across the trials"]
        line += ([" — below target in "] + _joined(late) + ["."]) if late else ["."]
        blocks.append(line)
    return blocks


def _all_trials(d: Digest) -> Table:
    """Every trial, worst first (the Portfolio page's order), with the figures of its row there."""
    t = d.trials.set_index("protocol_number")
    rows = []
    for protocol in registry.worst_first(d.now):
        r = t.loc[protocol]
        v = {k: d.figure(k, protocol) for k in ("overall_health", "enrolled", "enrollment_target", "cpi", "milestones_overdue",
                                                 "schedule_slip")}
        why = registry.reasons(d.now.of_trial(protocol))
        rows.append([
            Cell([_trial_link(d, protocol)],
                 note=f"{r.indication} · phase {r.phase} · {TRIAL_STATUS_LABEL.get(r.trial_status, r.trial_status)}"),
            Cell([Chip(v["overall_health"].health)], note="; ".join(x.text for x in why) or None),
            Cell([Link(f"{v['enrolled'].display} / {v['enrollment_target'].display}", d.link("enrollment", protocol))],
                 note=f"{v['enrolled'].change_display} {_period(d)}" if v["enrolled"].change else None),
            Cell([Link(v["cpi"].display, d.link("budget", protocol))]),
            Cell([Link(v["milestones_overdue"].display, d.link("vendors", protocol))]),
            Cell([v["schedule_slip"].display]),
        ])
    return Table(["Trial", "Overall", "Enrolled / target", "CPI", registry.FIGURES["milestones_overdue"].label,
                  registry.FIGURES["schedule_slip"].label], rows, numeric=(2, 3, 4), break_words=True)


def sponsor_names(d: Digest) -> str:
    return ", ".join(g.sponsor_name for g in d.sponsors)


def subject(d: Digest) -> str:
    return f"Trial portfolio status — as of {_day(d.as_of)} (since {_day(d.since)})"


def sections(d: Digest) -> list[Section]:
    """The digest's content, in reading order."""
    if d.trials.empty:
        return [Section("No trials", d.link("portfolio"), [["No trials are in view for these sponsors."]])]
    return [
        Section("In brief", None, [_brief(d)]),
        Section("Key figures", d.link("portfolio"), [_key_figures(d), _health_counts(d)]),
        Section(f"Health changes {_period(d)}", d.link("portfolio"), [_changes_table(d)]),
        Section("Milestones", d.link("vendors"), _milestone_blocks(d)),
        Section(f"Enrollment {_period(d)}", d.link("enrollment"), _enrollment_blocks(d)),
        Section("Budget alerts", d.link("budget"), _budget_blocks(d)),
        Section("Quality and safety", d.link("overview"), _quality_blocks(d)),
        Section("Every trial", d.link("portfolio"), [_all_trials(d)]),
    ]


def _stale_note(d: Digest) -> str | None:
    if d.loaded_at is None:
        return "No data load has been recorded: figures may be incomplete."
    hours = (d.built_at - d.loaded_at).total_seconds() / 3600
    if hours > d.settings.stale_after_hours:
        return f"The data was last loaded {d.loaded_at:%d %b %Y %H:%M} UTC, more than {d.settings.stale_after_hours:g} hours ago: figures may be out of date."
    return None


def _footer(d: Digest) -> list[list[Run]]:
    loaded = f"Data loaded {d.loaded_at:%d %b %Y %H:%M} UTC. " if d.loaded_at is not None else ""
    who = f"Prepared for {d.user} (access: {sponsor_names(d)})." if d.user else f"Prepared for every sponsor ({sponsor_names(d)})."
    now, then = d.published
    source = published.provenance(now).capitalize()
    if now is not None and then is not None:
        source += f", compared with those published for {_day(d.since)}"
    source += ". "
    return [
        [f"Figures as of {_day(d.as_of)}, changes since {_day(d.since)}. {loaded}{source}Computed with the dashboard's own "
         "definitions (", Link("Methods & definitions", d.link("methods")), "); every link opens the dashboard at these dates."],
        [f"{who} The dashboard shows each reader only the trials their own access allows."],
    ]


# --- HTML for mail clients ----------------------------------------------------------------------

FONT = "font-family:Arial,Helvetica,sans-serif;"
INK, MUTED, RULE, BRAND = "#263238", "#607d8b", "#e0e6e8", "#0f5c6e"


def _html_runs(runs: list[Run]) -> str:
    out = []
    for run in runs:
        if isinstance(run, Link):
            out.append(f'<a href="{escape(run.href, quote=True)}" style="color:{BRAND};font-weight:bold;text-decoration:none;">{escape(run.text)}</a>')
        elif isinstance(run, Chip):
            bg, fg = CHIP_COLOURS[run.health]
            out.append(
                f'<span style="background-color:{bg};color:{fg};padding:1px 7px;border-radius:9px;font-size:12px;'
                f'{"white-space:nowrap;" if len(run.word) <= 12 else ""}">'
                f"&#9679;&nbsp;{escape(run.word)}</span>"
            )
        elif run == BREAK:
            out.append("<br>")
        else:
            out.append(escape(run))
    return "".join(out)


def _html_table(table: Table) -> str:
    def align(i: int) -> str:
        return "right" if i in table.numeric else "left"

    head = "".join(
        f'<th align="{align(i)}" style="{FONT}font-size:12px;color:{MUTED};font-weight:bold;text-align:{align(i)};'
        f'padding:6px 3px;border-bottom:2px solid {RULE};">{escape(h)}</th>'
        for i, h in enumerate(table.headers)
    )
    body = []
    for row in table.rows:
        cells = []
        for i, cell in enumerate(row):
            wrap = "overflow-wrap:anywhere;" if table.break_words else ""
            note = f'<br><span style="color:{MUTED};font-size:12px;{wrap}">{escape(cell.note)}</span>' if cell.note else ""
            runs = _html_runs(cell.runs)
            # Only the first column's code (a trial's) never breaks: everything else wraps when the screen is narrow
            # (a phone), and the table layout keeps it on one line where there is room.
            if i == 0:
                runs = f'<span style="white-space:nowrap;">{runs}</span>'
            cells.append(
                f'<td align="{align(i)}" valign="top" style="{FONT}font-size:13px;color:{INK};text-align:{align(i)};'
                f'padding:6px 3px;border-bottom:1px solid {RULE};">{runs}{note}</td>'
            )
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (
        '<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" '
        f'style="border-collapse:collapse;width:100%;margin:4px 0 12px 0;"><tr>{head}</tr>{"".join(body)}</table>'
    )


def _html_tiles(tiles: list[Tile]) -> str:
    # Fluid tiles: three to a row in a wide window, two on a phone (each at least 140 px), with no media query (mail
    # clients drop style sheets): inline blocks that wrap like words.
    cells = "".join(
        f'<div style="display:inline-block;vertical-align:top;box-sizing:border-box;width:32%;min-width:140px;'
        f'margin:0 1% 6px 0;{FONT}padding:10px 8px;border:1px solid {RULE};background-color:#f8fafb;">'
        f'<div style="font-size:11px;color:{MUTED};text-transform:uppercase;letter-spacing:0.5px;">{escape(t.label)}</div>'
        f'<div style="font-size:22px;font-weight:bold;margin:4px 0 2px 0;">'
        f'<a href="{escape(t.href, quote=True)}" style="color:{INK};text-decoration:none;">{escape(t.value)}</a></div>'
        f'<div style="font-size:12px;color:{MUTED};">{escape(t.note)}</div></div>'
        for t in tiles
    )
    return f'<div style="margin:4px 0 6px 0;">{cells}</div>'


def _html_block(block) -> str:
    if isinstance(block, Table):
        return _html_table(block)
    if isinstance(block, Bullets):
        items = "".join(f'<li style="margin:0 0 6px 0;">{_html_runs(item)}</li>' for item in block.items)
        return f'<ul style="{FONT}font-size:14px;line-height:1.45;color:{INK};margin:0 0 4px 0;padding-left:20px;">{items}</ul>'
    if block and isinstance(block[0], Tile):
        return _html_tiles(block)
    return f'<p style="{FONT}font-size:14px;line-height:1.45;color:{INK};margin:6px 0 6px 0;">{_html_runs(block)}</p>'


def render_html(d: Digest) -> str:
    """The digest as an e-mail-ready HTML document."""
    title = subject(d)
    parts = []
    stale = _stale_note(d)
    if stale:
        parts.append(
            f'<tr><td style="{FONT}font-size:13px;color:#7a5c00;background-color:#fff4d6;padding:10px 18px;">&#9888; {escape(stale)}</td></tr>'
        )
    for section in sections(d):
        more = (
            f'<td align="right" style="{FONT}font-size:12px;white-space:nowrap;"><a href="{escape(section.href, quote=True)}" '
            f'style="color:{BRAND};text-decoration:none;">Open in the dashboard &#8250;</a></td>'
            if section.href else "<td></td>"
        )
        heading = (
            '<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" style="width:100%;"><tr>'
            f'<td style="{FONT}font-size:17px;font-weight:bold;color:{BRAND};padding:0 0 4px 0;">{escape(section.title)}</td>'
            f"{more}</tr></table>"
        )
        body = "".join(_html_block(b) for b in section.blocks)
        parts.append(f'<tr><td style="padding:18px 16px 6px 16px;border-top:1px solid {RULE};">{heading}{body}</td></tr>')
    footer = "".join(
        f'<p style="{FONT}font-size:12px;line-height:1.45;color:{MUTED};margin:0 0 6px 0;">{_html_runs(p)}</p>' for p in _footer(d)
    )
    header = (
        f'<tr><td style="{FONT}background-color:{BRAND};color:#ffffff;padding:20px 18px;">'
        f'<div style="font-size:12px;letter-spacing:1px;text-transform:uppercase;color:#cfe3e8;">Trial portfolio status</div>'
        f'<div style="font-size:22px;font-weight:bold;margin:4px 0;color:#ffffff;">{escape(sponsor_names(d) or "No sponsor")}</div>'
        f'<div style="font-size:14px;color:#e6f0f2;">As of {escape(_day(d.as_of))} &middot; changes since {escape(_day(d.since))} &middot; '
        f'<a href="{escape(d.link("portfolio"), quote=True)}" style="color:#ffffff;font-weight:bold;">Open the dashboard</a></div>'
        "</td></tr>"
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title></head>"
        f'<body style="margin:0;padding:0;background-color:#eef2f3;">'
        '<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" style="background-color:#eef2f3;">'
        '<tr><td align="center" style="padding:16px 0;">'
        '<table role="presentation" width="720" cellpadding="0" cellspacing="0" border="0" '
        'style="width:100%;max-width:720px;background-color:#ffffff;border:1px solid #dfe5e8;">'
        f"{header}{''.join(parts)}"
        f'<tr><td style="padding:14px 18px 18px 18px;border-top:1px solid {RULE};background-color:#f8fafb;">{footer}</td></tr>'
        "</table></td></tr></table></body></html>\n"
    )


# --- Plain text, the other half of the e-mail ----------------------------------------------------


def _text_runs(runs: list[Run]) -> str:
    out = []
    for run in runs:
        if isinstance(run, Link):
            out.append(f"{run.text} <{run.href}>")
        elif isinstance(run, Chip):
            out.append(f"[{run.word}]")
        elif run == BREAK:
            out.append("; ")
        else:
            out.append(run)
    return "".join(out).strip()


def render_text(d: Digest) -> str:
    """The digest as plain text (the e-mail's text part), links written out."""
    lines = [f"TRIAL PORTFOLIO STATUS — {sponsor_names(d)}", f"As of {_day(d.as_of)} · changes since {_day(d.since)}",
             f"Dashboard: {d.link('portfolio')}", ""]
    stale = _stale_note(d)
    if stale:
        lines += [f"! {stale}", ""]
    for section in sections(d):
        lines.append(section.title.upper() + (f"  <{section.href}>" if section.href else ""))
        for block in section.blocks:
            if isinstance(block, Table):
                for row in block.rows:
                    cells = [_text_runs(c.runs) + (f" — {c.note}" if c.note else "") for c in row]
                    lines.append("- " + " · ".join(f"{h}: {v}" if i else v for i, (h, v) in enumerate(zip(block.headers, cells))))
            elif isinstance(block, Bullets):
                lines += ["- " + _text_runs(item) for item in block.items]
            elif block and isinstance(block[0], Tile):
                lines += [f"- {t.label}: {t.value} ({t.note})" for t in block]
            else:
                lines.append(_text_runs(block))
        lines.append("")
    lines += [_text_runs(p) for p in _footer(d)]
    return "\n".join(lines) + "\n"


# --- Recipients and mail ----------------------------------------------------------------------


@dataclass(frozen=True)
class Recipient:
    """Who gets a digest (`address`) and whose access it is built for (`user`; None = every sponsor)."""

    address: str | None
    user: str | None
    grants: tuple[access.Grant, ...]


class MailError(Exception):
    """The mail server could not be reached or refused the messages (exit code 1)."""


def recipients(conn: Connection, args: argparse.Namespace, sponsor_code: str | None) -> list[Recipient]:
    """Who gets a digest, each with the grants it is built for."""
    if not args.send:
        user = None if args.all_sponsors else args.user
        return [Recipient(None, user, tuple(cli.grants_of(conn, user, sponsor_code)))]
    if args.user is not None:
        return [Recipient(args.to or args.user.strip().lower(), args.user, tuple(cli.grants_of(conn, args.user, sponsor_code)))]
    query = select(user_access.c.user_email).distinct().order_by(user_access.c.user_email)
    if sponsor_code is not None:
        query = query.join(sponsor, sponsor.c.sponsor_id == user_access.c.sponsor_id).where(sponsor.c.sponsor_code == sponsor_code)
    emails = list(conn.execute(query).scalars())
    if not emails:
        raise UsageError("no user in the access table is granted " + (f"sponsor {sponsor_code!r}" if sponsor_code else "any sponsor"))
    return [Recipient(email, email, tuple(access.granted_sponsors(conn, email))) for email in emails]


def message(d: Digest, to: str, settings: Settings) -> EmailMessage:
    """The digest as one e-mail: a text part and an HTML part (multipart/alternative)."""
    msg = EmailMessage()
    msg["Subject"] = subject(d)
    msg["From"] = settings.mail_from
    msg["To"] = to
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = make_msgid(domain=settings.mail_from.rpartition("@")[2] or None)
    msg.set_content(render_text(d))
    msg.add_alternative(render_html(d), subtype="html")
    return msg


def send(messages: list[EmailMessage], settings: Settings) -> None:
    """Send the messages through the SMTP settings, in one session."""
    where = f"{settings.smtp_host}:{settings.smtp_port}"
    try:
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=60) as smtp:
            if settings.smtp_starttls:
                smtp.starttls(context=ssl.create_default_context())
            if settings.smtp_user:
                password = settings.smtp_password.get_secret_value() if settings.smtp_password else ""
                smtp.login(settings.smtp_user, password)
            for msg in messages:
                smtp.send_message(msg)
    except smtplib.SMTPAuthenticationError as exc:
        raise MailError(f"the mail server {where} refused the login of {settings.smtp_user!r}: {exc.smtp_code}") from None
    except smtplib.SMTPRecipientsRefused as exc:
        raise MailError(f"the mail server {where} refused the recipient(s) {', '.join(exc.recipients)}") from None
    except smtplib.SMTPException as exc:
        raise MailError(f"the mail server {where} failed: {str(exc).strip() or type(exc).__name__}") from None
    except (OSError, ssl.SSLError) as exc:
        raise MailError(f"cannot reach the mail server {where}: {exc.strerror or exc}") from None


# --- Command line ---------------------------------------------------------------------------------


def _check_arguments(args: argparse.Namespace) -> None:
    for flag, value in (("--to", args.to), ("--user", args.user)):
        if value is not None and access.valid_email(value) is None:
            raise UsageError(f"{flag} {value[:80]!r} is not an e-mail address")
    if args.to and not (args.send and args.user):
        raise UsageError("--to needs --send and --user (whose access the digest is built for)")
    if args.all_sponsors and (args.user or args.send):
        raise UsageError("--all-sponsors builds one digest of every sponsor: leave out --user and --send")
    if not args.send:
        if not args.out:
            raise UsageError("say where the digest goes: --out FILE.html, or --send")
        if not (args.user or args.all_sponsors):
            raise UsageError("say whose access the digest is for: --user EMAIL, or --all-sponsors for every sponsor")


def _out_path(out: Path, address: str | None) -> Path:
    """Where a digest's HTML goes: FILE itself, or beside it with the recipient's address in the name."""
    return out if address is None else out.with_name(f"{out.stem}.{address}{out.suffix or '.html'}")


def main(argv: list[str] | None = None) -> int:
    """Command line: write the digest to a file and/or mail it; plain one-line errors."""
    parser = argparse.ArgumentParser(
        prog="python -m dashboard.digest",
        description="Write or send the status digest: key figures, what changed and what slipped, each line linking into the dashboard.",
    )
    parser.add_argument("--user", metavar="EMAIL", help="build the digest for this user's access (the access table)")
    parser.add_argument("--all-sponsors", action="store_true", help="without --user: every sponsor (demo mode); not with --send")
    parser.add_argument("--out", metavar="FILE.html", type=Path, help="write the HTML here (with --send: one file per recipient beside it)")
    parser.add_argument("--send", action="store_true", help="mail one digest per recipient (every user of the access table, or --user)")
    parser.add_argument("--to", metavar="ADDR", help="with --send and --user: mail that user's digest to this address instead")
    cli.add_view_arguments(parser)
    args = parser.parse_args(argv)

    try:
        _check_arguments(args)
        view, settings, engine = cli.open_view(args)
        try:
            with engine.connect() as conn:
                forecasts = Forecasts()
                built = [
                    (r, build_digest(conn, list(r.grants), view, settings, user=r.user, predict=forecasts))
                    for r in recipients(conn, args, view.sponsor)
                ]
        finally:
            engine.dispose()
    except (UsageError, ImportError, SQLAlchemyError) as exc:
        return report_cli_error(exc, "the digest")

    if args.out:
        try:
            for r, d in built:
                path = _out_path(args.out, r.address)
                path.write_text(render_html(d), encoding="utf-8")
                print(f"Wrote the digest {('for ' + r.address + ' ') if r.address else ''}to {path}")
        except OSError as exc:
            print(f"error: cannot write the digest: {exc.strerror or exc}: {exc.filename or args.out}", file=sys.stderr)
            return 2
    if args.send:
        try:
            send([message(d, r.address, settings) for r, d in built], settings)
        except MailError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        for r, d in built:
            print(f"Sent the digest to {r.address} ({sponsor_names(d)}; {_plural(len(d.trials), 'trial')})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
