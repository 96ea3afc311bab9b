"""The Portfolio's charts: enrollment against plan per trial, and cost against schedule performance."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from dashboard.charts.base import HEALTH_COLOUR, LABEL_FONT, ROW_PX, _by_health, _layout, _margin_for, plain_text


@plain_text
def enrollment_vs_plan(trials: pd.DataFrame, health_labels: dict[str, str]) -> go.Figure:
    """Per trial: enrolled (bar, coloured by enrollment health, one legend entry per colour with its word), planned
    to date and target (markers), and "enrolled / target" as a column in the right margin, one per row: no value label
    sits on a bar, a tick or a marker, whatever their lengths. Trials top to bottom in the order given (the table's,
    worst first)."""
    df = trials.iloc[::-1]  # Plotly draws categories bottom-up
    protocols = df["protocol_number"].to_numpy(
        dtype=object
    )  # plain arrays: Plotly checks pandas columns value by value
    fig = go.Figure()
    for health, word, rows in _by_health(df, "enrollment_health"):
        fig.add_bar(
            name=f"Enrolled · {word}",
            y=rows["protocol_number"].to_numpy(dtype=object),
            x=rows["n_enrolled"].to_numpy(dtype="float64"),
            orientation="h",
            marker_color=HEALTH_COLOUR[health],
            customdata=list(zip([health_labels[health]] * len(rows), rows["trial_title"])),
            hovertemplate="%{y} · %{customdata[0]}<br>%{customdata[1]}<br>Enrolled: %{x:,}<extra></extra>",
        )
    fig.add_scatter(
        name="Planned to date",
        y=protocols,
        x=df["planned_to_date"].round(0).to_numpy(dtype="float64"),
        mode="markers",
        marker=dict(symbol="line-ns", size=22, line=dict(width=3, color="#263238")),
        hovertemplate="Planned to date: %{x:,.0f}<extra></extra>",
    )
    fig.add_scatter(
        name="Target",
        y=protocols,
        x=df["n_planned_subjects"].to_numpy(dtype="float64"),
        mode="markers",
        marker=dict(symbol="diamond-open", size=11, color="#546e7a", line=dict(width=2)),
        hovertemplate="Target: %{x:,}<extra></extra>",
    )
    values = [f"{n:,} / {t:,}" for n, t in zip(df["n_enrolled"], df["n_planned_subjects"])]
    for protocol, text in zip(protocols, values):
        fig.add_annotation(
            x=1,
            xref="paper",
            xanchor="left",
            xshift=6,
            y=protocol,
            yref="y",
            text=text,
            showarrow=False,
            font=LABEL_FONT,
        )
    fig.update_xaxes(title_text="Subjects", gridcolor="#eceff1", rangemode="tozero")
    fig.update_yaxes(title_text=None, type="category", categoryorder="array", categoryarray=protocols)
    # The legend under the axis (up to three rows in a narrow column), never over the title or the bars.
    top, bottom = 50, 150
    height = max(320, ROW_PX * len(df) + top + bottom)
    fig = _layout(fig, height=height, title="Enrollment against plan")
    fig.update_layout(
        barmode="overlay",
        margin=dict(r=_margin_for(values), t=top, b=bottom),
        legend=dict(
            orientation="h", yanchor="top", y=-62 / (height - top - bottom), xanchor="left", x=0, font=dict(size=12)
        ),
    )
    return fig


# The Portfolio scatter names the trials outside the green zone (CPI or SPI below green), at most this many (the
# worst); every point names itself on hover.
SCATTER_LABELS = 8


def _spread(wanted: list[float], low: float, high: float, gap: float) -> list[float]:
    """Positions as near `wanted` (sorted high to low) as they can be, at least `gap` apart, within [low, high]."""
    out: list[float] = []
    for y in wanted:  # down the column, each at most gap below the one above
        out.append(min(y, high, out[-1] - gap) if out else min(y, high))
    for i in range(len(out) - 1, -1, -1):  # then up from the bottom, if the column ran out of room
        floor = low if i == len(out) - 1 else out[i + 1] + gap
        out[i] = max(out[i], floor)
    return out


@plain_text
def cost_vs_schedule(
    trials: pd.DataFrame, health_labels: dict[str, str], *, green: float = 0.95, amber: float = 0.85
) -> go.Figure:
    """Per trial: CPI against SPI, with the amber and green thresholds (settings); below-left is over budget and late.

    The trials outside the green zone on either axis (at most SCATTER_LABELS, the lowest of CPI and SPI first) are named in a
    column in the right margin, each joined to its point by a thin line, spaced so no two names touch; every point names
    itself on hover. One legend entry per colour.
    """
    df = trials.dropna(subset=["cpi", "spi"])
    fig = go.Figure()
    for health, word, rows in _by_health(df, "budget_health"):
        fig.add_scatter(
            name=f"Budget · {word}",
            x=rows["spi"].to_numpy(dtype="float64"),
            y=rows["cpi"].to_numpy(dtype="float64"),
            mode="markers",
            marker=dict(size=13, color=HEALTH_COLOUR[health], line=dict(width=1, color="white")),
            customdata=rows["protocol_number"].to_numpy(dtype=object),
            hovertemplate=f"%{{customdata}}<br>CPI %{{y:.2f}} · SPI %{{x:.2f}}<br>Budget: {health_labels[health]}<extra></extra>",
        )
    for value, dash in ((amber, "dot"), (green, "dash")):
        fig.add_hline(y=value, line=dict(color="#90a4ae", dash=dash, width=1))
        fig.add_vline(x=value, line=dict(color="#90a4ae", dash=dash, width=1))
    # Always show the thresholds, however well or badly the trials do.
    low = min([amber - 0.1, *df["spi"], *df["cpi"]]) - 0.05
    high = max([green + 0.2, *df["spi"], *df["cpi"]]) + 0.05
    height = 420
    off_track = df[(df["cpi"] < green) | (df["spi"] < green)]  # outside the green zone on either axis
    worst = off_track.assign(_worst=np.minimum(off_track["cpi"], off_track["spi"]))
    worst = worst.sort_values(["_worst", "protocol_number"]).head(SCATTER_LABELS)
    worst = worst.sort_values("cpi", ascending=False)
    plot_px = height - 50 - 110  # the title above; the axis title and the legend below
    ys = _spread(list(worst["cpi"]), low, high, gap=(high - low) * 18 / plot_px)
    column_x = high + (high - low) * 0.04
    for r, y in zip(worst.itertuples(index=False), ys):
        fig.add_annotation(
            x=r.spi,
            y=r.cpi,
            ax=column_x,
            ay=y,
            axref="x",
            ayref="y",
            text=r.protocol_number,
            xanchor="left",
            showarrow=True,
            arrowhead=0,
            arrowwidth=1,
            arrowcolor="#b0bec5",
            standoff=7,
            font=LABEL_FONT,
        )
    fig.update_xaxes(title_text="SPI (earned ÷ planned value)", gridcolor="#eceff1", range=[low, high])
    fig.update_yaxes(title_text="CPI (earned value ÷ actual cost)", gridcolor="#eceff1", range=[low, high])
    fig = _layout(fig, height=height, title="Cost and schedule performance")
    fig.update_layout(
        margin=dict(r=_margin_for(worst["protocol_number"], at_least=60) + 20, b=110),
        legend=dict(orientation="h", yanchor="top", y=-62 / plot_px, xanchor="left", x=0, font=dict(size=12)),
    )
    return fig
