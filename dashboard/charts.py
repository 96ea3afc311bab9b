"""Plotly figure builders: data in, figure out; no Streamlit, no SQL. Every trace has a name tests can find."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

# Health colours (always shown beside a label, never alone).
HEALTH_COLOUR = {"green": "#2e7d32", "amber": "#f2a900", "red": "#c62828", "grey": "#9e9e9e"}
FONT = dict(family="Inter, Segoe UI, Helvetica, Arial, sans-serif", size=13)


def _layout(fig: go.Figure, *, height: int, title: str | None = None) -> go.Figure:
    fig.update_layout(
        title=dict(text=title, x=0, font=dict(size=16)) if title else None,
        height=height,
        margin=dict(l=10, r=10, t=50 if title else 10, b=10),
        font=FONT,
        plot_bgcolor="white",
        paper_bgcolor="white",
        legend=dict(orientation="h", yanchor="bottom", y=1.0, xanchor="right", x=1),
        hoverlabel=dict(font_size=13),
    )
    return fig


def enrollment_vs_plan(trials: pd.DataFrame, health_labels: dict[str, str]) -> go.Figure:
    """Per trial: enrolled (bar, coloured by enrollment health), planned to date and target (markers)."""
    df = trials.sort_values("protocol_number", ascending=False)
    labels = [f"{p}  {health_labels[h]}" for p, h in zip(df["protocol_number"], df["enrollment_health"])]
    fig = go.Figure()
    fig.add_bar(
        name="Enrolled",
        y=df["protocol_number"],
        x=df["n_enrolled"],
        orientation="h",
        marker_color=[HEALTH_COLOUR[h] for h in df["enrollment_health"]],
        customdata=list(zip(labels, df["trial_title"])),
        hovertemplate="%{customdata[0]}<br>%{customdata[1]}<br>Enrolled: %{x:,}<extra></extra>",
        text=[f"{n:,}" for n in df["n_enrolled"]],
        textposition="outside",
        cliponaxis=False,
    )
    fig.add_scatter(
        name="Planned to date",
        y=df["protocol_number"],
        x=df["planned_to_date"].round(0),
        mode="markers",
        marker=dict(symbol="line-ns", size=22, line=dict(width=3, color="#263238")),
        hovertemplate="Planned to date: %{x:,.0f}<extra></extra>",
    )
    fig.add_scatter(
        name="Target",
        y=df["protocol_number"],
        x=df["n_planned_subjects"],
        mode="markers",
        marker=dict(symbol="diamond-open", size=11, color="#546e7a", line=dict(width=2)),
        hovertemplate="Target: %{x:,}<extra></extra>",
    )
    fig.update_xaxes(title_text="Subjects", gridcolor="#eceff1", rangemode="tozero")
    fig.update_yaxes(title_text=None, type="category")
    return _layout(fig, height=max(260, 34 * len(df) + 90), title="Enrollment against plan")


def cost_vs_schedule(trials: pd.DataFrame, health_labels: dict[str, str]) -> go.Figure:
    """Per trial: CPI against SPI, with the 0.85 and 0.95 thresholds; below-left is over budget and late."""
    df = trials.dropna(subset=["cpi", "spi"])
    fig = go.Figure()
    fig.add_scatter(
        name="Trials",
        x=df["spi"],
        y=df["cpi"],
        mode="markers+text",
        text=df["protocol_number"],
        textposition="top center",
        marker=dict(size=14, color=[HEALTH_COLOUR[h] for h in df["budget_health"]], line=dict(width=1, color="white")),
        customdata=[health_labels[h] for h in df["budget_health"]],
        hovertemplate="%{text}<br>CPI %{y:.2f} · SPI %{x:.2f}<br>Budget: %{customdata}<extra></extra>",
    )
    for value, dash in ((0.85, "dot"), (0.95, "dash")):
        fig.add_hline(y=value, line=dict(color="#90a4ae", dash=dash, width=1))
        fig.add_vline(x=value, line=dict(color="#90a4ae", dash=dash, width=1))
    # Always show the thresholds, however well or badly the trials do.
    low = min([0.75, *df["spi"], *df["cpi"]]) - 0.05
    high = max([1.15, *df["spi"], *df["cpi"]]) + 0.05
    fig.update_xaxes(title_text="SPI (earned ÷ planned)", gridcolor="#eceff1", range=[low, high])
    fig.update_yaxes(title_text="CPI (earned ÷ actual cost)", gridcolor="#eceff1", range=[low, high])
    return _layout(fig, height=420, title="Cost and schedule performance")
