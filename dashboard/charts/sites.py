"""Site charts: an indicator's funnel plot against its peers, and sites by country."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from dashboard.charts.base import HEALTH_COLOUR, _layout, plain_text

# --- Sites -------------------------------------------------------------------------------------

FLAG_LABEL = {"green": "Within limits", "amber": "Beyond ±2", "red": "Beyond ±3", "grey": "Too few to flag"}


@plain_text
def funnel_plot(
    points: pd.DataFrame, limits: pd.DataFrame, *, pooled: float, title: str, x_title: str, y_title: str, y_format: str
) -> go.Figure:
    """A site indicator against its denominator, with the pooled value and the ±2 / ±3 limits; points coloured by flag.

    points: site_label, denominator, value, flag (a health colour), z. limits: denominator, lower2, upper2, lower3, upper3.
    Values are already scaled for display (e.g. percent); `y_format` is a d3 format for the hover.
    """
    fig = go.Figure()
    for k, dash in ((3, "dash"), (2, "dot")):
        x = list(limits["denominator"]) + [None] + list(limits["denominator"])
        y = list(limits[f"upper{k}"]) + [None] + list(limits[f"lower{k}"])
        fig.add_scatter(
            name=f"±{k} limits",
            x=x,
            y=y,
            mode="lines",
            line=dict(color="#78909c", dash=dash, width=1.5),
            hoverinfo="skip",
        )
    if not limits.empty:
        fig.add_scatter(
            name="Pooled",
            x=[limits["denominator"].min(), limits["denominator"].max()],
            y=[pooled, pooled],
            mode="lines",
            line=dict(color="#37474f", width=1.5),
            hovertemplate=f"Pooled: %{{y:{y_format}}}<extra></extra>",
        )
    fig.add_scatter(
        name="Sites",
        x=points["denominator"],
        y=points["value"],
        mode="markers",
        marker=dict(size=11, color=[HEALTH_COLOUR[f] for f in points["flag"]], line=dict(width=1, color="white")),
        customdata=list(
            zip(
                points["site_label"],
                [FLAG_LABEL[f] for f in points["flag"]],
                ["—" if pd.isna(z) else f"{z:+.2f}" for z in points["z"]],
            )
        ),
        hovertemplate=f"%{{customdata[0]}}<br>{y_title}: %{{y:{y_format}}} · {x_title}: %{{x:,.0f}}"
        "<br>z %{customdata[2]} · %{customdata[1]}<extra></extra>",
    )
    fig.update_xaxes(title_text=x_title, gridcolor="#eceff1", rangemode="tozero")
    fig.update_yaxes(title_text=y_title, gridcolor="#eceff1", rangemode="tozero")
    return _layout(fig, height=420, title=title)


@plain_text
def sites_by_country(countries: pd.DataFrame) -> go.Figure:
    """Per country: sites activated (bar) and subjects enrolled (bar)."""
    df = countries.sort_values("n_enrolled")
    fig = go.Figure()
    fig.add_bar(
        name="Enrolled",
        y=df["country_name"],
        x=df["n_enrolled"],
        orientation="h",
        marker_color="#0F5C6E",
        hovertemplate="%{y}: %{x:,} enrolled<extra></extra>",
    )
    fig.add_bar(
        name="Sites activated",
        y=df["country_name"],
        x=df["n_sites_activated"],
        orientation="h",
        marker_color="#90a4ae",
        hovertemplate="%{y}: %{x:,} sites activated<extra></extra>",
    )
    fig.update_layout(barmode="group")
    fig.update_xaxes(title_text="Count", gridcolor="#eceff1", rangemode="tozero")
    return _layout(fig, height=max(260, 40 * len(df) + 90), title="Sites and enrollment by country")
