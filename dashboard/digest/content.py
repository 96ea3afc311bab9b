"""What the digest says, in words: the brief, the key figures, what changed, milestones (digest.milestones),
enrollment, budget, quality, the review's actions, every trial; each line with the link to its view."""

from __future__ import annotations

import pandas as pd

from dashboard import health, published, registry, review
from dashboard.digest.document import BREAK, Bullets, Cell, Chip, Link, Run, Section, Table, Tile
from dashboard.digest.milestones import milestone_blocks, milestones_due_soon, overdue_milestones, slipped_forecasts
from dashboard.digest.model import DIMENSIONS, DUE_SOON_DAYS, MAX_ROWS, Digest
from dashboard.digest.phrases import joined, num, period, plural_text, trial_link
from dashboard.formats import day as _day
from dashboard.metrics import (
    HEALTH_ORDER,
    HEALTH_WORD,
    ratio,
)
from dashboard.schema import TRIAL_STATUS_LABEL


def _dimension_detail(d: Digest, t, dimension: str) -> str:
    """Why a trial's dimension has its colour, in a few words with the figure behind it (the registry's)."""
    trial = d.now.of_trial(t.protocol_number)
    key = registry.drivers(trial)[dimension]
    value = d.figure(key, t.protocol_number)
    if value.value is None:
        return {
            "budget": "no budget figures yet",
            "enrollment": "not enrolling yet",
            "schedule": "no open milestone due",
        }[dimension]
    text = value.display if key == "schedule_slip" else f"{value.label} {value.display}"
    return text + (
        f", was {value.then_display}" if value.then is not None and value.then_display != value.display else ""
    )


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
    return [
        dim for dim in DIMENSIONS if getattr(t, f"{dim}_health") == "red" and getattr(t, f"{dim}_health_then") != "red"
    ]


def _brief(d: Digest) -> Bullets:
    """The first lines an executive reads: one bullet per subject, each naming the trials concerned."""
    t, items = d.trials, []
    changes = _health_changes(d)
    red = [r for r in changes.itertuples(index=False) if r.overall_health == "red" and r.overall_health_then != "red"]
    better = [
        r
        for r in changes.itertuples(index=False)
        if HEALTH_ORDER[r.overall_health] < HEALTH_ORDER.get(r.overall_health_then, 0)
    ]
    n_red = int((t["overall_health"] == "red").sum())
    line: list[Run] = []
    if red:
        line += [f"{plural_text(len(red), 'trial')} turned red: "]
        line += joined(
            [[trial_link(d, r.protocol_number), f" ({', '.join(_turned_red(r)) or 'overall'})"] for r in red]
        )
        line += [". "]
    else:
        line += [f"No trial turned red {period(d)}. "]
    if better:
        line += [f"{len(better)} improved: "]
        line += joined(
            [[trial_link(d, r.protocol_number), f" (now {HEALTH_WORD[r.overall_health].lower()})"] for r in better]
        )
        line += [". "]
    line += [f"{n_red:,} of {plural_text(len(t), 'trial')} {'is' if n_red == 1 else 'are'} at risk overall."]
    items.append(line)

    added, enrolled, target = (
        int(t["n_enrolled_since"].sum()),
        int(t["n_enrolled"].sum()),
        int(t["n_planned_subjects"].sum()),
    )
    top = (
        t[t["n_enrolled_since"] > 0]
        .sort_values(["n_enrolled_since", "protocol_number"], ascending=[False, True])
        .head(3)
    )
    line = [f"{plural_text(added, 'subject', zero='Nobody')} enrolled {period(d)}"]
    if not top.empty:
        line += [" ("] + joined(
            [[trial_link(d, r.protocol_number, "enrollment"), f" +{r.n_enrolled_since}"] for r in top.itertuples()]
        )
        line += [", …)" if (t["n_enrolled_since"] > 0).sum() > len(top) else ")"]
    pct = ratio(enrolled, target)
    line += [f"; {enrolled:,} of {target:,} enrolled in all" + (f" ({pct:.0%})." if pct is not None else ".")]
    items.append(line)

    slipped = slipped_forecasts(d)
    late = overdue_milestones(d)
    new_late = int((late["status_then"] != "late").sum())
    overdue = d.figure("milestones_overdue")
    line = [f"{plural_text(len(slipped), 'milestone forecast', zero='No milestone forecast')} slipped"]
    if not slipped.empty:
        worst = slipped.iloc[0]
        line += [
            " (largest: ",
            trial_link(d, worst.protocol_number, "vendors"),
            f" {worst.milestone_name}, {int(worst.days_moved):+d} days)",
        ]
    n_due = len(milestones_due_soon(d))
    line += [
        f"; {plural_text(overdue.value or 0, 'contract milestone', zero='no contract milestone')} overdue"
        + (f" ({new_late or 'none'} new)" if overdue.value else "")
        + f"; {n_due or 'none'} due in the next {DUE_SOON_DAYS} days"
    ]
    conflicts = d.supply[d.supply["risk"] == "conflict"]
    if not conflicts.empty:
        line += [f"; {plural_text(len(conflicts), 'supply conflict')}: "]
        line += joined([[trial_link(d, p, "vendors")] for p in conflicts["protocol_number"].unique()])
    line += ["."]
    items.append(line)

    alerts = _budget_alerts(d)
    if alerts.empty:
        items.append(
            [f"No budget alerts: every trial's CPI is at least {d.settings.index_green:.2f} (or has no budget yet)."]
        )
    else:
        line = [f"{plural_text(len(alerts), 'trial')} below CPI {d.settings.index_green:.2f}: "]
        line += joined([[trial_link(d, r.protocol_number, "budget"), f" {r.cpi:.2f}"] for r in alerts.itertuples()])
        line += ["."]
        items.append(line)
    return Bullets(items)


def _change_note(d: Digest, v: registry.Value) -> str:
    """A key figure's change over the period in words: "+23 this week", "no change this week", or nothing to compare."""
    if v.change_display is None:
        return "nothing to compare with" if v.then is None and v.value is not None else ""
    return f"{v.change_display} {period(d)}" if v.change_display != "no change" else f"no change {period(d)}"


KEY_FIGURES = (
    ("active_trials", "portfolio"),
    ("enrolled", "enrollment"),
    ("sites_active", "sites"),
    ("budget_spent", "budget"),
    ("milestones_overdue", "vendors"),
)


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
    for h, key in (
        ("red", "trials_at_risk"),
        ("amber", "trials_watch"),
        ("green", "trials_on_track"),
        ("grey", "trials_no_data"),
    ):
        v = d.figure(key)
        if v.value or v.then:
            runs += [Chip(h), f" {v.display}" + (f" ({v.change_display})" if v.change else "") + "   "]
    return runs


def _changes_table(d: Digest) -> Table | list[Run]:
    changes = _health_changes(d)
    if changes.empty:
        return [f"No trial's health changed {period(d)}."]
    rows = []
    for t in changes.itertuples(index=False):
        what: list[Run] = []
        for dim in DIMENSIONS:
            now, was = getattr(t, f"{dim}_health"), getattr(t, f"{dim}_health_then")
            if now == was:
                continue
            verb = (
                "turned red"
                if now == "red"
                else f"{HEALTH_WORD.get(was, 'no data').lower()} → {HEALTH_WORD[now].lower()}"
            )
            if what:
                what.append(BREAK)
            what.append(f"{dim.capitalize()} {verb}: {_dimension_detail(d, t, dim)}")
        if not what:
            what = [f"Overall {HEALTH_WORD[t.overall_health].lower()}"]
        was = t.overall_health_then if isinstance(t.overall_health_then, str) else "grey"
        rows.append(
            [
                Cell([trial_link(d, t.protocol_number)], note=t.indication),
                Cell([Chip(was), " → ", Chip(t.overall_health)]),
                Cell(what),
            ]
        )
    return Table(["Trial", "Overall health", "What changed"], rows)


def _enrollment_blocks(d: Digest) -> list:
    t = d.trials
    rows_of = t[(t["n_enrolled_since"] > 0) | (t["trial_status"] == "enrolling")]
    rows_of = rows_of.sort_values(["n_enrolled_since", "protocol_number"], ascending=[False, True])
    added = int(t["n_enrolled_since"].sum())
    blocks: list = [
        [
            f"{plural_text(added, 'subject', zero='Nobody')} enrolled {period(d)} (after {_day(d.since)}, up to {_day(d.as_of)})."
        ]
    ]
    if rows_of.empty:
        return blocks
    idle = rows_of[rows_of["n_enrolled_since"] == 0]
    blocks.append(
        Table(
            ["Trial", "Added", "Enrolled / target", "% of plan to date", "Enrollment"],
            [
                [
                    Cell([trial_link(d, r.protocol_number, "enrollment")], note=r.indication),
                    Cell([f"+{r.n_enrolled_since:,}" if r.n_enrolled_since else "none"]),
                    Cell([f"{r.n_enrolled:,} / {r.n_planned_subjects:,}"]),
                    Cell([num(r.pct_of_plan_to_date, "{:.0%}") if r.planned_to_date else "—"]),
                    Cell(
                        [Chip(r.enrollment_health)],
                        note=f"{registry.FIGURES['p_meet_lpi_plan'].label} {r.p_meet_plan:.0%}"
                        if not pd.isna(r.p_meet_plan)
                        else None,
                    ),
                ]
                for r in rows_of.itertuples(index=False)
            ],
            numeric=(1, 2, 3),
        )
    )
    if not idle.empty:
        blocks.append(
            [f"Enrolling but nobody enrolled {period(d)}: "]
            + joined([[trial_link(d, p, "enrollment")] for p in idle["protocol_number"]])
            + ["."]
        )
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
        rows.append(
            [
                Cell([trial_link(d, r.protocol_number, "budget")], note=r.indication),
                Cell(
                    [Chip(v["cpi"].health, v["cpi"].display)],
                    note=f"was {v['cpi'].then_display}" if v["cpi"].then is not None else None,
                ),
                Cell([v["ac"].display], note=f"{v['budget_spent'].display} of {v['bac'].display}"),
                Cell([v["eac"].display]),
                Cell([v["vac"].display], note="overrun" if (v["vac"].value or 0) < 0 else None),
            ]
        )
    return [
        [
            f"Trials whose cost performance index (CPI = earned value ÷ actual cost) is below {s.index_green:.2f} "
            f"(below {s.index_amber:.2f}: at risk)."
        ],
        Table(["Trial", "CPI", "Spent", "Forecast at completion", "Variance at completion"], rows, numeric=(2, 3, 4)),
    ]


def _quality_blocks(d: Digest) -> list:
    """Breached quality tolerance limits (each trial linked to its Overview) and SAE reporting timeliness."""
    blocks: list = []
    breaches = registry.qtl_breaches(d.now)
    if d.now.qtls is None or d.now.qtls.empty:
        blocks.append(["No quality tolerance limit is loaded for these trials."])
    elif d.figure("qtl_breaches").value is None:
        blocks.append([f"{plural_text(len(d.now.qtls), 'quality tolerance limit')} set; none has data yet."])
    elif breaches.empty:
        blocks.append([f"No quality tolerance limit is breached ({plural_text(len(d.now.qtls), 'limit')} set)."])
    else:
        blocks.append(
            [
                f"{plural_text(len(breaches), 'quality tolerance limit')} breached — report to management and in the "
                "clinical study report (ICH E6(R3)):"
            ]
        )
        blocks.append(
            Table(
                ["Trial", "QTL", "Trial value", "Limit"],
                [
                    [
                        Cell([trial_link(d, q["protocol_number"])]),
                        Cell([Chip("red", q["label"])]),
                        Cell([health.qtl_values(q)[0]]),
                        Cell([f"{q['direction']} {health.qtl_values(q)[1]}"]),
                    ]
                    for _, q in breaches.iterrows()
                ],
                numeric=(2, 3),
            )
        )
    v = d.figure("sae_on_time")
    if v.value is None:
        blocks.append([f"{v.label}: no serious adverse event due yet, or no adverse-event data."])
    else:
        late = []
        for protocol in d.now.protocols:
            t = d.figure("sae_on_time", protocol)
            if t.health in ("red", "amber"):
                late.append([trial_link(d, protocol, "sites"), f" {t.display}"])
        line: list[Run] = [
            f"{v.label} (by the day after the site became aware): ",
            Chip(v.health, v.display),
            " across the trials",
        ]
        line += ([" — below target in "] + joined(late) + ["."]) if late else ["."]
        blocks.append(line)
    return blocks


ACTION_TEXT_SHOWN = 140  # characters of an action's text in the e-mail; the link opens all of it


def _action_item(d: Digest, a: review.Action, chip: Chip) -> list[Run]:
    """One action: its chip, its trial (or site) linked to where it is recorded, its text, owner and due date."""
    t = a.target
    link = (
        Link(f"{t.protocol_number} · site {t.site_number}", d.link("sites", t.protocol_number, t.site_number))
        if t.site_number
        else trial_link(d, t.protocol_number, "vendors" if t.milestone_code else "overview")
    )
    text = a.state.text if len(a.state.text) <= ACTION_TEXT_SHOWN else a.state.text[: ACTION_TEXT_SHOWN - 1] + "…"
    about = f" (milestone {t.milestone_code})" if t.milestone_code else ""
    return [chip, " ", link, f"{about}: {' '.join(text.split())} — {a.state.owner}, due {_day(a.state.due_date)}"]


def _action_blocks(d: Digest) -> list:
    """The review's overdue actions and those due in the week ahead, each linked to the view it was recorded on."""
    if d.actions is None:
        return [["The review database could not be read: actions are not listed in this e-mail."]]
    overdue, soon = review.agenda(d.actions, d.as_of)
    blocks: list = []
    if overdue:
        blocks.append([f"{plural_text(len(overdue), 'overdue action')}:"])
        blocks.append(Bullets([_action_item(d, a, Chip("red", "Overdue")) for a in overdue[:MAX_ROWS]]))
    if soon:
        blocks.append([f"{plural_text(len(soon), 'action')} due in the week ahead:"])
        blocks.append(Bullets([_action_item(d, a, Chip("amber", "Due")) for a in soon[:MAX_ROWS]]))
    if len(overdue) > MAX_ROWS or len(soon) > MAX_ROWS:
        blocks.append([f"The first {MAX_ROWS} of each are listed; every trial's Overview has them all."])
    if not blocks:
        blocks.append([f"No action is overdue or due in the week ahead: {review.counts(d.actions, d.as_of).text}."])
    return blocks


def _all_trials(d: Digest) -> Table:
    """Every trial, worst first (the Portfolio page's order), with the figures of its row there."""
    t = d.trials.set_index("protocol_number")
    rows = []
    for protocol in registry.worst_first(d.now):
        r = t.loc[protocol]
        v = {
            k: d.figure(k, protocol)
            for k in ("overall_health", "enrolled", "enrollment_target", "cpi", "milestones_overdue", "schedule_slip")
        }
        why = registry.reasons(d.now.of_trial(protocol))
        rows.append(
            [
                Cell(
                    [trial_link(d, protocol)],
                    note=f"{r.indication} · phase {r.phase} · {TRIAL_STATUS_LABEL.get(r.trial_status, r.trial_status)}",
                ),
                Cell([Chip(v["overall_health"].health)], note="; ".join(x.text for x in why) or None),
                Cell(
                    [
                        Link(
                            f"{v['enrolled'].display} / {v['enrollment_target'].display}",
                            d.link("enrollment", protocol),
                        )
                    ],
                    note=f"{v['enrolled'].change_display} {period(d)}" if v["enrolled"].change else None,
                ),
                Cell([Link(v["cpi"].display, d.link("budget", protocol))]),
                Cell([Link(v["milestones_overdue"].display, d.link("vendors", protocol))]),
                Cell([v["schedule_slip"].display]),
            ]
        )
    return Table(
        [
            "Trial",
            "Overall",
            "Enrolled / target",
            "CPI",
            registry.FIGURES["milestones_overdue"].label,
            registry.FIGURES["schedule_slip"].label,
        ],
        rows,
        numeric=(2, 3, 4),
        break_words=True,
    )


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
        Section(f"Health changes {period(d)}", d.link("portfolio"), [_changes_table(d)]),
        Section("Milestones", d.link("vendors"), milestone_blocks(d)),
        Section("Actions of the weekly review", d.link("overview"), _action_blocks(d)),
        Section(f"Enrollment {period(d)}", d.link("enrollment"), _enrollment_blocks(d)),
        Section("Budget alerts", d.link("budget"), _budget_blocks(d)),
        Section("Quality and safety", d.link("overview"), _quality_blocks(d)),
        Section("Every trial", d.link("portfolio"), [_all_trials(d)]),
    ]


def stale_note(d: Digest) -> str | None:
    if d.loaded_at is None:
        return "No data load has been recorded: figures may be incomplete."
    hours = (d.built_at - d.loaded_at).total_seconds() / 3600
    if hours > d.settings.stale_after_hours:
        return f"The data was last loaded {d.loaded_at:%d %b %Y %H:%M} UTC, more than {d.settings.stale_after_hours:g} hours ago: figures may be out of date."
    return None


def footer_lines(d: Digest) -> list[list[Run]]:
    loaded = f"Data loaded {d.loaded_at:%d %b %Y %H:%M} UTC. " if d.loaded_at is not None else ""
    who = (
        f"Prepared for {d.user} (access: {sponsor_names(d)})."
        if d.user
        else f"Prepared for every sponsor ({sponsor_names(d)})."
    )
    now, then = d.published
    source = published.provenance(now).capitalize()
    if now is not None and then is not None:
        source += f", compared with those published for {_day(d.since)}"
    source += ". "
    return [
        [
            f"Figures as of {_day(d.as_of)}, changes since {_day(d.since)}. {loaded}{source}Computed with the dashboard's own "
            "definitions (",
            Link("Methods & definitions", d.link("methods")),
            "); every link opens the dashboard at these dates.",
        ],
        [f"{who} The dashboard shows each reader only the trials their own access allows."],
    ]
