"""Budget charts: planned, earned and actual value; the budget at completion over time; invoiced and accrued."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

# --- Budget ------------------------------------------------------------------------------------
from dashboard.charts.base import ACTUAL_COLOUR, PLAN_COLOUR, _in, _layout, plain_text
from dashboard.charts.enrollment import _month_end


@plain_text
def s_curve(
    months: pd.DataFrame, *, as_of, eac: float | None, planned_end=None, currency: str | None = None
) -> go.Figure:
    """Cumulative planned (PV), earned (EV) and actual (AC) value by month, with the EAC projection to the planned end."""
    df = months.sort_values("month_date")
    ends = _month_end(df["month_date"])
    done = pd.to_datetime(df["month_date"]) <= pd.Timestamp(as_of)
    fig = go.Figure()
    fig.add_scatter(
        name="Planned value (PV)",
        x=ends,
        y=df["pv_cumulative"],
        mode="lines",
        line=dict(color=PLAN_COLOUR, dash="dash", width=2),
        hovertemplate="Planned value %{x|%b %Y}: %{y:,.0f}<extra></extra>",
    )
    fig.add_scatter(
        name="Earned value (EV)",
        x=ends[done].clip(upper=pd.Timestamp(as_of)),
        y=df.loc[done, "ev_cumulative"],
        mode="lines",
        line=dict(color="#2e7d32", width=5),
        hovertemplate="Earned value %{x|%b %Y}: %{y:,.0f}<extra></extra>",
    )
    fig.add_scatter(
        name="Actual cost (AC)",
        x=ends[done].clip(upper=pd.Timestamp(as_of)),
        y=df.loc[done, "ac_cumulative"],
        mode="lines",
        line=dict(color="#c62828", width=2),
        hovertemplate="Actual cost %{x|%b %Y}: %{y:,.0f}<extra></extra>",
    )
    ac_now = float(df.loc[done, "ac_cumulative"].iloc[-1]) if done.any() else 0.0
    if eac is not None and planned_end is not None and pd.Timestamp(planned_end) > pd.Timestamp(as_of):
        fig.add_scatter(
            name="Forecast cost (EAC)",
            x=[pd.Timestamp(as_of), pd.Timestamp(planned_end)],
            y=[ac_now, eac],
            mode="lines+markers",
            line=dict(color="#c62828", width=2, dash="dot"),
            marker=dict(size=[0, 9]),
            hovertemplate="Estimate at completion: %{y:,.0f}<extra></extra>",
        )
    fig.add_vline(x=pd.Timestamp(as_of), line=dict(color="#b0bec5", width=1))
    fig.update_yaxes(title_text=_in("Cumulative amount", currency), gridcolor="#eceff1", rangemode="tozero")
    fig.update_xaxes(gridcolor="#eceff1")
    return _layout(fig, height=420, title="Planned, earned and actual value")


@plain_text
def bac_over_time(changes: pd.DataFrame, *, bac: float, as_of, currency: str | None = None) -> go.Figure:
    """Budget at completion as approved change orders (`changes`, by as_of) moved it from the contracted value to `bac`."""
    approved = changes.dropna(subset=["approved_date"]).sort_values("approved_date")
    base = float(bac) - float(approved["change_amount"].sum())
    x = (
        [pd.Timestamp(approved["approved_date"].min()) - pd.Timedelta(days=30)]
        if not approved.empty
        else [pd.Timestamp(as_of)]
    )
    y = [base]
    for day, amount in zip(approved["approved_date"], approved["change_amount"]):
        x.append(pd.Timestamp(day))
        y.append(y[-1] + amount)
    x.append(pd.Timestamp(as_of))
    y.append(y[-1])
    fig = go.Figure()
    fig.add_scatter(
        name="BAC",
        x=x,
        y=y,
        mode="lines+markers",
        line_shape="hv",
        line=dict(color=ACTUAL_COLOUR, width=3),
        hovertemplate="BAC %{x|%d %b %Y}: %{y:,.0f}<extra></extra>",
    )
    fig.update_yaxes(title_text=_in("Budget at completion", currency), gridcolor="#eceff1")
    return _layout(fig, height=300, title="Budget at completion over time")


@plain_text
def invoiced_vs_accrued(months: pd.DataFrame, *, currency: str | None = None) -> go.Figure:
    """Actual cost by month: invoiced, and accrued but not yet invoiced."""
    df = months.sort_values("month_date")
    fig = go.Figure()
    fig.add_bar(name="Invoiced", x=df["month_date"], y=df["invoiced"], marker_color=ACTUAL_COLOUR)
    fig.add_bar(name="Accrued", x=df["month_date"], y=df["accrued"], marker_color="#f2a900")
    fig.update_layout(barmode="stack")
    fig.update_yaxes(title_text=_in("Actual cost", currency), gridcolor="#eceff1")
    return _layout(fig, height=300, title="Actual cost: invoiced and accrued")
