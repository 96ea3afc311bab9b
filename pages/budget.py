"""Budget: how much is spent, how much work that bought, and where each trial will end (earned value)."""

import streamlit as st

from dashboard import charts, metrics, ui
from dashboard.settings import get_settings
from queries import budget, overview, portfolio

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
                "name": getattr(r, first),
                "bac": ui.money(ev.bac), "pv": ui.money(ev.pv), "ev": ui.money(ev.ev), "ac": ui.money(ev.ac),
                "cpi": f"{ui.cell(ev.cpi, '{:.2f}')} {ui.chip(health(ev.cpi))}",
                "spi": f"{ui.cell(ev.spi, '{:.2f}')} {ui.chip(health(ev.spi))}",
                "eac": ui.money(ev.eac), "vac": ui.money(ev.vac),
            }
        )
    return rows, {"name": first_header, "bac": "BAC", "pv": "PV", "ev": "EV", "ac": "AC", "cpi": "CPI", "spi": "SPI",
                  "eac": "EAC", "vac": "VAC"}


with st.spinner("Loading budgets…"):
    summary = ui.cached(portfolio.trial_summary, scope)
    by_trial = ui.cached(budget.evm_by_trial, scope)

title = f"Budget · {scope.trial}" if scope.trial else "Budget"
st.title(title)
st.caption(
    f"{'Every trial in view' if scope.trial is None else summary.iloc[0]['trial_title'] if not summary.empty else ''}"
    f" · as of {scope.as_of:%d %b %Y} · changes since {scope.since:%d %b %Y}"
)
if by_trial.empty:
    st.info("No signed contract in view yet: nothing to show for the budget.")
    st.stop()

currencies = summary.set_index("protocol_number")["reporting_currency"]
in_view = currencies[currencies.index.isin(by_trial["protocol_number"])].unique()
if len(in_view) > 1:
    st.warning(
        "The trials in view report in different currencies (" + ", ".join(sorted(in_view)) + "), which cannot be added up. "
        "Pick a sponsor in the sidebar to see totals.",
        icon="💱",
    )
else:
    currency = in_view[0] if len(in_view) else ""
    total = metrics.earned_value(by_trial["bac"].sum(), by_trial["pv"].sum(), by_trial["ev"].sum(), by_trial["ac"].sum())
    then_by_trial = ui.cached(budget.evm_by_trial, overview.then_scope(scope))
    then = (None if then_by_trial.empty else metrics.earned_value(
        then_by_trial["bac"].sum(), then_by_trial["pv"].sum(), then_by_trial["ev"].sum(), then_by_trial["ac"].sum()))

    def budget_tile(column, label: str, value: str, field: str, *, fmt="{:+,.0f}", better=None, help: str) -> None:
        """A tile with its change since the compare date; amounts' changes are written short like the amounts."""
        amount = fmt == "money"
        ui.tile(column, label, value, now=getattr(total, field), then=None if then is None else getattr(then, field),
                since=scope.since, fmt=(lambda change: ("+" if change > 0 else "") + ui.money(change)) if amount else fmt,
                better=better, help=help)

    tiles = st.columns(7)
    budget_tile(tiles[0], "BAC", ui.money(total.bac), "bac", fmt="money",
                help=f"Budget at completion ({currency}): contracts + approved change orders.")
    budget_tile(tiles[1], "AC", ui.money(total.ac), "ac", fmt="money", help="Actual cost: invoiced + accrued.")
    budget_tile(tiles[2], "EV", ui.money(total.ev), "ev", fmt="money",
                help="Earned value: units delivered × contracted prices, plus milestone fees achieved.")
    budget_tile(tiles[3], "CPI", ui.plain(total.cpi, "{:.2f}"), "cpi", fmt="{:+.2f}", better="up",
                help="Cost performance: EV ÷ AC (below 1: each unit of work costs more than planned).")
    budget_tile(tiles[4], "SPI", ui.plain(total.spi, "{:.2f}"), "spi", fmt="{:+.2f}", better="up",
                help="Schedule performance: EV ÷ PV (below 1: less work done than planned).")
    budget_tile(tiles[5], "EAC", ui.money(total.eac), "eac", fmt="money", better="down",
                help="Estimate at completion: BAC ÷ CPI.")
    budget_tile(tiles[6], "VAC", ui.money(total.vac), "vac", fmt="money", better="up",
                help="Variance at completion: BAC − EAC (negative: expected overrun).")
    st.caption(
        f"Spent {ui.plain(total.burn_pct, '{:.0%}')} of BAC · work {ui.plain(total.pct_complete, '{:.0%}')} complete · "
        f"{'expected overrun' if (total.vac or 0) < 0 else 'expected within budget'} · EAC if the overrun so far is a one-off "
        f"(AC + BAC − EV): {ui.money(total.eac_atypical)}."
    )
    st.html(
        f"<b>Cost</b> {ui.chip(health(total.cpi))} &nbsp; <b>Schedule</b> {ui.chip(health(total.spi))}"
        f" &nbsp; <span class='muted'>CPI/SPI ≥ {settings.index_green:.2f} on track, ≥ {settings.index_amber:.2f} watch. "
        f"Amounts in {currency}.</span>"
    )

if scope.trial is None:
    # ------------------------------------------------------------------ portfolio view
    st.subheader("Trials, worst cost performance first")
    rows = []
    for r in by_trial.itertuples(index=False):
        ev = metrics.earned_value(r.bac, r.pv, r.ev, r.ac)
        rows.append((ev.cpi if ev.cpi is not None else float("inf"), {
            "trial": ui.link(ctx.link("budget", trial=r.protocol_number), r.protocol_number),
            "currency": ui.cell(currencies.get(r.protocol_number)),
            "bac": ui.money(ev.bac), "ac": ui.money(ev.ac), "ev": ui.money(ev.ev),
            "burn": ui.bar(ev.burn_pct),
            "cpi": f"{ui.cell(ev.cpi, '{:.2f}')} {ui.chip(health(ev.cpi))}",
            "spi": f"{ui.cell(ev.spi, '{:.2f}')} {ui.chip(health(ev.spi))}",
            "eac": ui.money(ev.eac), "vac": ui.money(ev.vac),
        }))
    # A large portfolio is read a page at a time, the worst first (the CSV holds every trial).
    ui.html_table(
        ui.page_of([row for _, row in sorted(rows, key=lambda pair: pair[0])], "trials_page", "trials", rows=ui.TRIALS_PER_PAGE),
        {"trial": "Trial", "currency": "Currency", "bac": "BAC", "ac": "AC", "ev": "EV", "burn": "Spent (AC ÷ BAC)",
         "cpi": "CPI", "spi": "SPI", "eac": "EAC", "vac": "VAC"},
        numeric=("bac", "ac", "ev", "eac", "vac"),
        nowrap=("trial", "burn", "cpi", "spi"),
    )
    st.caption("Click a trial for its S-curves, vendors and change orders. Definitions on the Methods page.")
    ui.download_table("⬇️ Download table (CSV)", by_trial, f"budget_{scope.as_of}", sheet="Trials")
    st.stop()

# ---------------------------------------------------------------------- trial view
trial_row = by_trial.iloc[0]
total = metrics.earned_value(trial_row.bac, trial_row.pv, trial_row.ev, trial_row.ac)
months = ui.cached(budget.monthly, scope)
end = trial_row.planned_end_date
st.plotly_chart(
    charts.s_curve(months, as_of=scope.as_of, eac=total.eac, planned_end=None if end is None else end),
    width="stretch",
)

st.subheader("By vendor")
contracts = ui.cached(budget.evm_by_contract, scope)
contracts = contracts.assign(vendor=[f"{n} ({VENDOR_KIND.get(k, k)})" for n, k in zip(contracts["vendor_name"], contracts["vendor_kind"])])
rows, columns = evm_rows(contracts, "vendor", "Vendor")
ui.html_table(rows, columns, numeric=("bac", "pv", "ev", "ac", "eac", "vac"), nowrap=("cpi", "spi"))
ui.download_table("⬇️ Vendors (CSV)", contracts, f"budget_vendors_{scope.trial}_{scope.as_of}", sheet="Vendors")
left, right = st.columns([3, 2])
with left:
    st.subheader("By category")
    categories = ui.cached(budget.evm_by_category, scope)
    categories = categories.assign(category=categories["cost_category"].map(CATEGORY))
    rows, columns = evm_rows(categories, "category", "Category")
    ui.html_table(rows, {k: v for k, v in columns.items() if k in ("name", "bac", "ev", "ac", "cpi")}, numeric=("bac", "ev", "ac"))
    st.caption("Pass-through costs (investigator grants, lab fees) follow enrollment, not the vendor's performance. "
               "A category's budget is its share of the approved plan.")
with right:
    enrolled = int(summary.iloc[0]["n_enrolled"]) if not summary.empty else 0
    target = int(summary.iloc[0]["n_planned_subjects"]) if not summary.empty else 0
    actual_per_subject = metrics.ratio(total.ac, enrolled)
    planned_per_subject = metrics.ratio(total.bac, target)
    st.metric(
        "Cost per enrolled subject", ui.money(actual_per_subject),
        delta=f"planned {ui.money(planned_per_subject)}", delta_color="off", delta_arrow="off",
        help="Actual cost to date ÷ subjects enrolled, against BAC ÷ planned enrollment.",
    )

st.subheader("Change orders")
changes = ui.cached(budget.change_orders, scope)
left, right = st.columns([3, 2])
with left:
    if changes.empty:
        st.info("No change order on this trial's contracts.")
    else:
        st.dataframe(
            changes.drop(columns=["protocol_number"]),
            column_config={
                "vendor_name": "Vendor", "change_order_number": "Change order",
                "requested_date": st.column_config.DateColumn("Requested", format="YYYY-MM-DD"),
                "approved_date": st.column_config.DateColumn("Approved", format="YYYY-MM-DD"),
                "change_order_status": "Status",
                "change_amount": st.column_config.NumberColumn("Amount", format="%,.0f"),
                "reason": "Reason",
            },
            hide_index=True, width="stretch",
        )
        ui.download_table("⬇️ Change orders (CSV)", changes, f"change_orders_{scope.trial}_{scope.as_of}", sheet="Change orders")
approved = changes[changes["change_order_status"] == "approved"] if not changes.empty else changes
if not approved.empty:
    with right:
        base = float(trial_row.bac) - float(approved["change_amount"].sum())
        st.plotly_chart(charts.bac_over_time(changes, base=base, as_of=scope.as_of), width="stretch")

st.plotly_chart(charts.invoiced_vs_accrued(ui.cached(budget.invoiced_vs_accrued, scope)), width="stretch")
st.caption("Cost is recognised when the work is done (ASC 730): actual cost = invoiced + accrued.")
