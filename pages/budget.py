"""Budget: how much is spent, how much work that bought, and where each trial will end (earned value)."""

import pandas as pd
import streamlit as st

from dashboard import charts, metrics, registry, ui
from dashboard.settings import get_settings
from queries import budget, overview

ctx = ui.context()
scope = ctx.scope
settings = get_settings()

VENDOR_KIND = {"CRO": "CRO", "CMO": "CMO", "CDMO": "CDMO", "central_lab": "Central lab", "IRT": "IRT", "other": "Other"}
CATEGORY = {"service_fee": "Service fees", "pass_through": "Pass-through costs"}


def health(index) -> str:
    return metrics.index_health(index, green=settings.index_green, amber=settings.index_amber)


def evm_rows(df, first: str, first_header: str):
    """EVM table rows: the formulas come from metrics.earned_value."""
    rows = []
    for r in df.itertuples(index=False):
        ev = metrics.earned_value(r.bac, r.pv, r.ev, r.ac)
        rows.append(
            {
                "name": ui.cell(getattr(r, first)),
                "bac": ui.money(ev.bac),
                "pv": ui.money(ev.pv),
                "ev": ui.money(ev.ev),
                "ac": ui.money(ev.ac),
                "cpi": ui.markup("{} {}", ui.cell(ev.cpi, "{:.2f}"), ui.chip(health(ev.cpi))),
                "spi": ui.markup("{} {}", ui.cell(ev.spi, "{:.2f}"), ui.chip(health(ev.spi))),
                "eac": ui.money(ev.eac),
                "vac": ui.money(ev.vac),
            }
        )
    return rows, {
        "name": first_header,
        **{key: registry.FIGURES[key].label for key in ("bac", "pv", "ev", "ac", "cpi", "spi", "eac", "vac")},
    }


TILES = (("bac", "ac", "ev", "eac", "vac"), ("budget_spent", "pct_complete", "cpi", "spi", "tcpi"))
EXPORTED = (
    "bac",
    "pv",
    "ev",
    "ac",
    "budget_spent",
    "pct_complete",
    "cpi",
    "spi",
    "eac",
    "eac_atypical",
    "etc",
    "vac",
    "tcpi",
)

with st.spinner("Loading budgets…"):
    # Budget figures need no forecast: the page does not pay for forecasting every trial.
    now = ui.basis(overview.view_basis, scope, forecast=False)
    then = ui.basis(overview.view_basis, overview.then_scope(scope), forecast=False)

title = f"Budget · {ui.md(scope.trial)}" if scope.trial else "Budget"
st.title(title)
st.caption(
    f"{'Every trial in view' if scope.trial is None else ui.md(now.trials.iloc[0]['trial_title']) if not now.trials.empty else ''}"
    f" · as of {scope.as_of:%d %b %Y} · changes since {scope.since:%d %b %Y}"
)
if now.budgeted.empty:
    st.info("No signed contract in view yet: nothing to show for the budget.")
    ui.end_page()


def figure(key: str, basis=now, was=then) -> registry.Value:
    return registry.evaluate(key, basis, was)


def tiles(value_of) -> None:
    for keys in TILES:
        for column, key in zip(st.columns(len(keys)), keys):
            ui.figure(column, value_of(key), scope.since)


if now.currency is None:
    # Amounts in different currencies cannot be added up: the same tiles once per currency, over its trials.
    st.info(
        "The trials in view report in "
        + " and ".join(ui.md(c) for c in now.currencies)
        + ", which cannot be added up: the figures below are per currency. Pick a sponsor in the sidebar for one set.",
        icon="💱",
    )
    for currency, values in registry.by_currency(now, then).items():
        of = {v.key: v for v in values}
        n = len(now.in_currency(currency).budgeted)
        st.markdown(f"**In {ui.md(currency)}** · {n:,} trial{'s' if n != 1 else ''}")
        tiles(of.__getitem__)
else:
    tiles(figure)
    vac = figure("vac")
    st.caption(
        f"{'Expected overrun' if (vac.value or 0) < 0 else 'Expected within budget'} · EAC if the overrun so far is a "
        f"one-off (AC + BAC − EV): {ui.md(figure('eac_atypical').display)} · ETC {ui.md(figure('etc').display)} · "
        f"CV {ui.md(figure('cv').display)} · SV {ui.md(figure('sv').display)}."
    )
    st.html(
        ui.markup(
            "<b>CPI</b> {} &nbsp; <b>SPI</b> {} &nbsp; <span class='muted'>{}. Amounts in {}.</span>",
            ui.chip(figure("cpi").health),
            ui.chip(figure("spi").health),
            registry.FIGURES["cpi"].threshold_text(settings).capitalize(),
            now.currency,
        )
    )

if scope.trial is None:
    # ------------------------------------------------------------------ portfolio view
    st.subheader("Trials, worst cost performance first")
    budgeted = list(now.budgeted["protocol_number"])

    def trial_figure(protocol: str, key: str) -> registry.Value:
        return registry.evaluate(key, now.of_trial(protocol))  # the table shows no change: no compare date

    order = sorted(budgeted, key=lambda p: (trial_figure(p, "cpi").value is None, trial_figure(p, "cpi").value or 0, p))
    currencies = now.trials.set_index("protocol_number")["reporting_currency"]
    # A large portfolio is read a page at a time, the worst first (the CSV holds every trial).
    shown = ui.page_of(order, "trials_page", "trials", rows=ui.TRIALS_PER_PAGE, in_url=True)

    def row(p: str) -> dict[str, str]:
        v = {k: trial_figure(p, k) for k in ("bac", "ac", "ev", "budget_spent", "cpi", "spi", "eac", "vac")}
        return {
            "trial": ui.link(ctx.link("budget", trial=p), p),
            "currency": ui.cell(currencies.get(p)),
            "bac": ui.cell(v["bac"].display),
            "ac": ui.cell(v["ac"].display),
            "ev": ui.cell(v["ev"].display),
            "burn": ui.bar(v["budget_spent"].value),
            "cpi": ui.markup("{} {}", ui.cell(v["cpi"].display), ui.chip(v["cpi"].health or "grey")),
            "spi": ui.markup("{} {}", ui.cell(v["spi"].display), ui.chip(v["spi"].health or "grey")),
            "eac": ui.cell(v["eac"].display),
            "vac": ui.cell(v["vac"].display),
        }

    ui.html_table(
        [row(p) for p in shown],
        {
            "trial": "Trial",
            "currency": "Currency",
            **{key: registry.FIGURES[key].label for key in ("bac", "ac", "ev")},
            "burn": registry.FIGURES["budget_spent"].label,
            **{key: registry.FIGURES[key].label for key in ("cpi", "spi", "eac", "vac")},
        },
        numeric=("bac", "ac", "ev", "eac", "vac"),
        nowrap=("trial", "bac", "ac", "ev", "eac", "vac", "burn"),
    )
    st.caption("Click a trial for its S-curves, vendors and change orders. Definitions on the Methods page.")
    ui.download_table(  # every trial's every figure: worked out when the file is asked for, not at every cold run
        ui.download_label("trials", len(order), len(shown)),
        lambda: pd.DataFrame(
            [
                {
                    "protocol_number": p,
                    "reporting_currency": currencies.get(p),
                    **{k: trial_figure(p, k).value for k in EXPORTED},
                }
                for p in order
            ]
        ),
        f"budget_{scope.as_of}",
        sheet="Trials",
    )
    ui.end_page()

# ---------------------------------------------------------------------- trial view
trial_row = now.trial_row()
months = ui.cached(budget.monthly, scope)
end = ui.cached(budget.evm_by_trial, scope).iloc[0].planned_end_date
st.plotly_chart(
    charts.s_curve(
        months,
        as_of=scope.as_of,
        eac=figure("eac").value,
        planned_end=None if pd.isna(end) else end,
        currency=trial_row.reporting_currency,
    ),
    width="stretch",
)

st.subheader("By vendor")
contracts = ui.cached(budget.evm_by_contract, scope)
contracts = contracts.assign(
    vendor=[f"{n} ({VENDOR_KIND.get(k, k)})" for n, k in zip(contracts["vendor_name"], contracts["vendor_kind"])]
)
rows, columns = evm_rows(contracts, "vendor", "Vendor")
ui.html_table(rows, columns, numeric=("bac", "pv", "ev", "ac", "eac", "vac"), nowrap=("cpi", "spi"))
ui.download_table("⬇️ Vendors (CSV)", contracts, f"budget_vendors_{scope.trial}_{scope.as_of}", sheet="Vendors")
left, right = st.columns([3, 2])
with left:
    st.subheader("By category")
    categories = ui.cached(budget.evm_by_category, scope)
    categories = categories.assign(category=categories["cost_category"].map(CATEGORY))
    rows, columns = evm_rows(categories, "category", "Category")
    ui.html_table(
        rows, {k: v for k, v in columns.items() if k in ("name", "bac", "ev", "ac", "cpi")}, numeric=("bac", "ev", "ac")
    )
    ui.download_table(
        ui.download_label("categories", len(categories)),
        categories,
        f"budget_categories_{scope.trial}_{scope.as_of}",
        sheet="Categories",
    )
    st.caption(
        "Pass-through costs (investigator grants, lab fees) follow enrollment, not the vendor's performance. "
        "A category's budget is its share of the approved plan."
    )
with right:
    ui.figure(
        st,
        figure("cost_per_subject"),
        scope.since,
        note=f"Planned: {figure('planned_cost_per_subject').display} (BAC ÷ enrollment target).",
    )
    st.caption(f"Planned: {ui.md(figure('planned_cost_per_subject').display)} per subject (BAC ÷ enrollment target).")

st.subheader("Change orders")
changes = ui.cached(budget.change_orders, scope)
# The table takes the page's width (a reason is a sentence; amounts stay whole), the BAC chart comes under it.
if changes.empty:
    st.info("No change order on this trial's contracts.")
else:
    ui.dataframe(
        changes.drop(columns=["protocol_number"]),
        column_config={
            "vendor_name": "Vendor",
            "change_order_number": "Change order",
            "requested_date": st.column_config.DateColumn("Requested", format="DD MMM YYYY"),
            "approved_date": st.column_config.DateColumn("Approved", format="DD MMM YYYY"),
            "change_order_status": "Status",
            "change_amount": st.column_config.NumberColumn(f"Amount ({trial_row.reporting_currency})", format="%,.0f"),
            "reason": st.column_config.TextColumn("Reason", width="large"),
        },
        hide_index=True,
        width="stretch",
    )
    ui.download_table(
        "⬇️ Change orders (CSV)", changes, f"change_orders_{scope.trial}_{scope.as_of}", sheet="Change orders"
    )
approved = changes[changes["change_order_status"] == "approved"] if not changes.empty else changes
if not approved.empty:
    st.plotly_chart(
        charts.bac_over_time(changes, bac=trial_row.bac, as_of=scope.as_of, currency=trial_row.reporting_currency),
        width="stretch",
    )

st.plotly_chart(
    charts.invoiced_vs_accrued(ui.cached(budget.invoiced_vs_accrued, scope), currency=trial_row.reporting_currency),
    width="stretch",
)
st.caption("Cost is recognised when the work is done (ASC 730): actual cost = invoiced + accrued.")
