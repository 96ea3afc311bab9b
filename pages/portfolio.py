"""Portfolio: every trial the user may see, with its health, at a glance, worst first."""

import pandas as pd
import streamlit as st

from dashboard import charts, registry, review, ui
from dashboard.metrics import HEALTH_LABEL
from dashboard.schema import TRIAL_STATUS_LABEL
from dashboard.settings import get_settings
from queries import overview

ctx = ui.context()
scope = ctx.scope
settings = get_settings()
TILES = ("active_trials", "enrolled", "sites_active", "budget_spent", "milestones_overdue")
COUNTS = {"red": "trials_at_risk", "amber": "trials_watch", "green": "trials_on_track", "grey": "trials_no_data"}
# What the table's "since" column reports per trial; the trial overview lists every figure that moved.
CHANGES = ("overall_health", "enrolled", "p_meet_lpi_plan", "cpi", "spi", "milestones_overdue", "lpi_model")
SHOWN_CHANGES = 3  # changes listed per trial in the table; the trial's overview lists them all
# The registry's figures in the CSV: one column each (a health figure's column holds its colour).
EXPORTED = (
    "overall_health",
    "enrollment_health",
    "budget_health",
    "schedule_health",
    "sites_active",
    "enrolled",
    "enrollment_target",
    "pct_to_target",
    "pct_of_plan_to_date",
    "p_meet_lpi_plan",
    "lpi_model",
    "lpi_cro",
    "bac",
    "ac",
    "ev",
    "pv",
    "cpi",
    "spi",
    "eac",
    "milestones_overdue",
    "stability_pulls_overdue",
    "schedule_slip",
)

with st.spinner("Loading the portfolio…"):
    now = ui.basis(overview.view_basis, scope)
    then = ui.basis(overview.view_basis, overview.then_scope(scope))
trials = now.trials

st.title("Portfolio")
sponsors = ", ".join(sorted(trials["sponsor_name"].unique())) if not trials.empty else ""
st.caption(f"{ui.md(sponsors)} · as of {scope.as_of:%d %b %Y} · changes since {scope.since:%d %b %Y}")

if trials.empty:
    st.info("No trials match these filters. Clear the therapeutic area or phase filter in the sidebar to see more.")
    ui.end_page()

# --- Headline tiles -------------------------------------------------------------------------
mixed = now.currency is None and not now.budgeted.empty
for column, key in zip(st.columns(len(TILES)), TILES):
    note = (
        "Trials in several currencies cannot be added up: see the lines per currency below."
        if key == "budget_spent" and mixed
        else None
    )
    currencies = " · ".join(now.currencies)
    ui.figure(
        column,
        registry.evaluate(key, now, then),
        scope.since,
        note=note,
        instead=f"{currencies}: not added up" if key == "budget_spent" and mixed else None,
    )

counts = {h: registry.evaluate(key, now, then) for h, key in COUNTS.items()}
st.html(
    ui.markup(
        "<b>Overall health of the trials:</b> {}",
        ui.joined(
            " ", (ui.markup("{} <b>{}</b>&nbsp;&nbsp;", ui.chip(h), v.display) for h, v in counts.items() if v.value)
        ),
    )
)
enrolled, target, share = (registry.evaluate(k, now) for k in ("enrolled", "enrollment_target", "pct_to_target"))
if target.value:
    st.caption(
        f"{ui.md(enrolled.display)} of {ui.md(target.display)} planned subjects enrolled ({ui.md(share.display)})."
    )
for currency in now.currencies:
    part = now.in_currency(currency)
    spent, ac, bac, ev = (registry.evaluate(k, part) for k in ("budget_spent", "ac", "bac", "ev"))
    st.caption(
        f"Budget in {ui.md(currency)}: spent {ui.md(ac.display)} of {ui.md(bac.display)} ({ui.md(spent.display)}) "
        f"at completion; work delivered is worth {ui.md(ev.display)} (earned value)."
    )

# The charts come first (the first screen holds the tiles and their start), drawn once the table has picked its page.
charts_area = st.container()

# --- The trial table ------------------------------------------------------------------------
st.subheader(
    "Trials, worst first", help=registry.SEVERITY_TEXT + " Click a protocol number to open the trial's overview."
)
order = registry.worst_first(now)
active = registry.evaluate("active_trials", now)
if active.value != len(order):
    # The table lists every trial in view; the tile counts the active ones: say why the two numbers differ.
    inactive = len(order) - (active.value or 0)
    st.caption(
        f"{len(order):,} trials: the {ui.md(active.display)} active ones and {inactive:,} closed or not yet started."
    )
# A large portfolio is read a page at a time (the worst first); the charts below show the same trials.
shown = ui.page_of(order, "trials_page", "trials", rows=ui.TRIALS_PER_PAGE, in_url=True)
then_shown = then.restrict(shown)  # the compare date is read for this page's trials only, not split for all of them
actions = ui.open_counts(ctx, order)  # the weekly review's open actions per trial


def row(protocol: str) -> dict[str, str]:
    b, was = now.of_trial(protocol), then_shown.of_trial(protocol)
    t = b.trial_row()
    v = {key: registry.evaluate(key, b, was) for key in ("overall_health", "cpi", "schedule_slip", *CHANGES)}
    why = registry.reasons(b)
    changed = [x for x in (v[k] for k in CHANGES) if x.moved]
    slip = v["schedule_slip"]
    return {
        "trial": ui.link(ctx.link("overview", trial=protocol), protocol),
        "title": ui.markup(
            '<span title="{}">{}</span><br><span class="muted">{} · phase {} · {}</span>',
            ui.cell(t.trial_title),
            ui.cell(t.indication),
            ui.cell(t.therapeutic_area),
            ui.cell(t.phase),
            TRIAL_STATUS_LABEL.get(t.trial_status, t.trial_status),
        ),
        "overall": ui.chip(v["overall_health"].health),
        "why": ui.joined(
            "<br>",
            [
                *(ui.markup("{} {}", ui.reason_chip(r), r.text) for r in why),
                *(
                    [ui.link(ctx.link("overview", trial=protocol), actions[protocol].open_text)]
                    if protocol in actions and (actions[protocol].open or actions[protocol].notes)
                    else []
                ),
            ],
        )
        or ui.cell(None),
        "enrolled": ui.markup(
            "{} / {}<br>{}", f"{t.n_enrolled:,}", f"{t.n_planned_subjects:,}", ui.bar(t.pct_to_target)
        ),
        "cpi": ui.cell(v["cpi"].display),
        "slip": ui.cell(None)
        if slip.value is None
        else ui.markup('{}<br><span class="muted">{} d</span>', ui.cell(t.schedule_milestone), f"{int(slip.value):+,}"),
        "changed": ui.joined(
            "<br>",
            [
                *(x.change_text for x in changed[:SHOWN_CHANGES]),
                *(
                    [ui.markup('<span class="muted">+{} more on the overview</span>', len(changed) - SHOWN_CHANGES)]
                    if len(changed) > SHOWN_CHANGES
                    else []
                ),
            ],
        )
        or ui.cell(None),
    }


ui.html_table(
    [row(p) for p in shown],
    {
        "trial": "Trial",
        "title": "Indication",
        "overall": "Overall",
        "why": "Why (red and amber)",
        "enrolled": "Enrolled / target",
        "cpi": "CPI",
        "slip": "Worst milestone slip",
        "changed": f"Since {scope.since:%d %b %Y}",
    },
    numeric=("enrolled", "cpi"),
    nowrap=("trial", "overall"),
)
st.caption(
    f"{registry.SEVERITY_TEXT} Why: the figure behind each red or amber dimension. "
    f"Enrollment: {registry.FIGURES['enrollment_health'].definition_text(settings)} "
    f"Budget: {registry.FIGURES['budget_health'].definition_text(settings)} "
    f"Schedule: {registry.FIGURES['schedule_health'].definition_text(settings)} "
    "The weekly review's open actions (and notes) follow, linked to the trial's overview. "
    f"Worst milestone slip: the milestone that sets the schedule colour. Since {scope.since:%d %b %Y}: the headline figures "
    "of the trial that moved since the compare date. Each dimension's colour is in the CSV and on the trial's overview; "
    "definitions and colour rules on the Methods page."
)


def export_row(protocol: str) -> dict[str, object]:
    b = now.of_trial(protocol)
    t = b.trial_row()
    out: dict[str, object] = {
        "protocol_number": protocol,
        "trial_title": t.trial_title,
        "sponsor_code": t.sponsor_code,
        "phase": t.phase,
        "therapeutic_area": t.therapeutic_area,
        "trial_status": t.trial_status,
        "reporting_currency": t.reporting_currency,
    }
    for key in EXPORTED:
        v = registry.evaluate(key, b)
        if v.figure.unit == "health":
            out[key] = v.health
            continue
        out[key] = v.value
        if v.figure.colour is not None:
            out[f"{key}_health"] = v.health
    out["why"] = "; ".join(r.text for r in registry.reasons(b))
    counted = actions.get(protocol, review.Counts(0, 0, 0, 0))
    out["open_actions"], out["overdue_actions"] = counted.open, counted.overdue
    return out


ui.download_table(  # every trial's every figure: worked out when the file is asked for, not at every cold run
    ui.download_label("trials", len(order), len(shown)),
    lambda: pd.DataFrame([export_row(p) for p in order]),
    f"portfolio_{scope.as_of:%Y-%m-%d}",
    sheet="Trials",
)

# --- Charts ---------------------------------------------------------------------------------
drawn = trials.set_index("protocol_number").loc[shown].reset_index()
left, right = charts_area.columns([3, 2])
left.plotly_chart(charts.enrollment_vs_plan(drawn, HEALTH_LABEL), width="stretch", config={"displaylogo": False})
costed = drawn.dropna(subset=["cpi", "spi"])
if costed.empty:
    right.info(
        "No trial here has a budget with earned value loaded yet, so cost and schedule performance (CPI, SPI) "
        "cannot be drawn. The Budget page lists what each trial has.",
        icon="ℹ️",
    )
else:
    right.plotly_chart(
        charts.cost_vs_schedule(drawn, HEALTH_LABEL, green=settings.index_green, amber=settings.index_amber),
        width="stretch",
        config={"displaylogo": False},
    )
    if len(costed) < len(drawn):
        right.caption(
            f"{len(drawn) - len(costed)} of these trials have no budget with earned value yet and are not drawn."
        )
if len(shown) < len(trials):
    charts_area.caption(f"The charts show the {len(shown)} trials of this page of the table, of {len(trials):,}.")
