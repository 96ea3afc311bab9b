"""Enrollment charts: the curve against plan with the forecast fan, screening, countries, activation, cycle
times, and the last-patient-in forecasts and their history."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from dashboard.charts.base import ACTUAL_COLOUR, FORECAST_COLOUR, HEALTH_COLOUR, PLAN_COLOUR, _layout, plain_text


def _month_end(months: pd.Series) -> pd.Series:
    return pd.to_datetime(months) + pd.offsets.MonthEnd(0)


@plain_text
def enrollment_curve(
    enrolled_by_month: pd.DataFrame,
    plan_by_month: pd.DataFrame,
    *,
    as_of,
    n_enrolled: int,
    target: int,
    completion: dict[float, object] | None,
    planned_lpi=None,
    fan_start=None,
    fan: pd.DataFrame | None = None,
) -> go.Figure:
    """Cumulative enrolled against the baseline plan, with the forecast fan (P10–P90, median) out to the target.

    `fan` (forecast.Forecast.fan_table: days after as_of and the 10th, 50th and 90th percentiles of the simulated
    enrolled count) draws the fan from the simulated paths; without it, straight lines from today's count to the
    target at the completion quantiles. The straight fan starts at `fan_start` (the first site's opening, when none
    is open yet), else at as_of.
    """
    fig = go.Figure()
    plan = plan_by_month.sort_values("month_date")
    fig.add_scatter(
        name="Plan",
        x=_month_end(plan["month_date"]),
        y=plan["n_planned_cumulative"],
        mode="lines",
        line=dict(color=PLAN_COLOUR, width=2, dash="dash"),
        hovertemplate="Plan %{x|%b %Y}: %{y:,}<extra></extra>",
    )
    actual = enrolled_by_month.sort_values("month_date")
    x = list(_month_end(actual["month_date"]).clip(upper=pd.Timestamp(as_of)))
    y = list(actual["n_enrolled"].cumsum())
    if not x or x[-1] < pd.Timestamp(as_of):
        x.append(pd.Timestamp(as_of))
        y.append(n_enrolled)
    fig.add_scatter(
        name="Actual",
        x=x,
        y=y,
        mode="lines",
        line=dict(color=ACTUAL_COLOUR, width=3),
        hovertemplate="Enrolled by %{x|%d %b %Y}: %{y:,}<extra></extra>",
    )
    if fan is not None and not fan.empty and n_enrolled < target:
        days = pd.Timestamp(as_of) + pd.to_timedelta(fan["day"].round(), unit="D")
        fig.add_scatter(
            name="P10–P90 of simulated paths",
            x=list(days) + list(days[::-1]),
            y=list(fan["q10"]) + list(fan["q90"][::-1]),
            fill="toself",
            fillcolor="rgba(230, 81, 0, 0.15)",
            line=dict(width=0),
            hoverinfo="skip",
        )
        reached = fan["q50"].to_numpy() >= target  # the median path ends where it reaches the target
        end = int(reached.argmax()) + 1 if reached.any() else len(fan)
        fig.add_scatter(
            name="Median path",
            x=days[:end],
            y=fan["q50"][:end],
            mode="lines",
            line=dict(color=FORECAST_COLOUR, width=2, dash="dot"),
            hovertemplate="Median path %{x|%d %b %Y}: %{y:,.0f}<extra></extra>",
        )
        if completion and completion.get(0.5) is not None:
            fig.add_scatter(
                name="Median last patient in",
                x=[pd.Timestamp(completion[0.5])],
                y=[target],
                mode="markers",
                marker=dict(size=9, color=FORECAST_COLOUR),
                showlegend=False,
                hovertemplate="Median last patient in: %{x|%d %b %Y}<extra></extra>",
            )
    elif completion and all(completion.get(q) is not None for q in (0.1, 0.5, 0.9)) and n_enrolled < target:
        start = pd.Timestamp(fan_start or as_of)
        p10, p50, p90 = (pd.Timestamp(completion[q]) for q in (0.1, 0.5, 0.9))
        # The band: from today's count to the target, reached at P10 (early edge) and P90 (late edge).
        fig.add_scatter(
            name="P10–P90",
            x=[start, p10, p90, start],
            y=[n_enrolled, target, target, n_enrolled],
            fill="toself",
            fillcolor="rgba(230, 81, 0, 0.15)",
            line=dict(width=0),
            hoverinfo="skip",
        )
        fig.add_scatter(
            name="Median forecast",
            x=[start, p50],
            y=[n_enrolled, target],
            mode="lines+markers",
            line=dict(color=FORECAST_COLOUR, width=2, dash="dot"),
            marker=dict(size=[0, 9]),
            hovertemplate="Median last patient in: %{x|%d %b %Y}<extra></extra>",
        )
    fig.add_hline(
        y=target,
        line=dict(color="#546e7a", width=1),
        annotation_text=f"Target {target:,}",
        annotation_position="top left",
    )
    if planned_lpi is not None:
        fig.add_vline(x=pd.Timestamp(planned_lpi), line=dict(color="#37474f", width=1, dash="dash"))
        fig.add_annotation(
            x=pd.Timestamp(planned_lpi),
            y=1,
            yref="paper",
            text="Planned LPI",
            showarrow=False,
            xanchor="left",
            yanchor="top",
        )
    fig.add_vline(x=pd.Timestamp(as_of), line=dict(color="#b0bec5", width=1))
    fig.update_xaxes(gridcolor="#eceff1")
    fig.update_yaxes(title_text="Subjects enrolled (cumulative)", gridcolor="#eceff1", rangemode="tozero")
    return _layout(fig, height=420, title="Enrollment against plan, and the last-patient-in forecast")


@plain_text
def screening_funnel(row: pd.Series) -> go.Figure:
    """Screened → screen-failed → enrolled → discontinued → completed, as a funnel of counts."""
    stages = ["Screened", "Screen failed", "Enrolled", "Discontinued", "Completed"]
    values = [int(row[c]) for c in ("n_screened", "n_screen_failed", "n_enrolled", "n_discontinued", "n_completed")]
    fig = go.Figure(
        go.Funnel(
            name="Subjects",
            y=stages,
            x=values,
            textinfo="value",
            marker=dict(color=[ACTUAL_COLOUR, "#c62828", ACTUAL_COLOUR, "#f2a900", "#2e7d32"]),
        )
    )
    return _layout(fig, height=320, title="Screening funnel")


@plain_text
def by_country(countries: pd.DataFrame) -> go.Figure:
    """Per country: enrolled (bar) and the sites' enrollment targets (marker)."""
    df = countries.sort_values("n_enrolled")
    fig = go.Figure()
    fig.add_bar(
        name="Enrolled",
        y=df["country_name"],
        x=df["n_enrolled"],
        orientation="h",
        marker_color=ACTUAL_COLOUR,
        hovertemplate="%{y}: %{x:,} enrolled<extra></extra>",
    )
    fig.add_scatter(
        name="Site targets",
        y=df["country_name"],
        x=df["n_planned_subjects"],
        mode="markers",
        marker=dict(symbol="diamond-open", size=11, color="#546e7a", line=dict(width=2)),
        hovertemplate="%{y}: target %{x:,}<extra></extra>",
    )
    fig.update_xaxes(title_text="Subjects", gridcolor="#eceff1", rangemode="tozero")
    return _layout(fig, height=max(260, 30 * len(df) + 90), title="Enrollment by country")


@plain_text
def activation_curve(activation_by_month: pd.DataFrame, *, as_of) -> go.Figure:
    """Cumulative sites activated against the baseline activation plan."""
    df = activation_by_month.sort_values("month_date")
    months = _month_end(df["month_date"])
    fig = go.Figure()
    if df["n_planned"].fillna(0).sum() > 0:  # no plan loaded: no plan line (a line at 0 would read as "plan: none")
        fig.add_scatter(
            name="Planned sites",
            x=months,
            y=df["n_planned"].cumsum(),
            mode="lines",
            line=dict(color=PLAN_COLOUR, dash="dash", width=2),
            line_shape="hv",
        )
    done = df[pd.to_datetime(df["month_date"]) <= pd.Timestamp(as_of)]
    # Carry the actual count on to as_of: no activation since the last one is itself news.
    x = [*_month_end(done["month_date"]).clip(upper=pd.Timestamp(as_of)), pd.Timestamp(as_of)]
    y = [*done["n_activated"].cumsum(), int(done["n_activated"].sum())]
    fig.add_scatter(
        name="Activated sites", x=x, y=y, mode="lines", line=dict(color=ACTUAL_COLOUR, width=3), line_shape="hv"
    )
    fig.add_vline(x=pd.Timestamp(as_of), line=dict(color="#b0bec5", width=1))
    fig.update_yaxes(title_text="Sites (cumulative)", gridcolor="#eceff1", rangemode="tozero")
    return _layout(fig, height=320, title="Site activation against plan")


@plain_text
def cycle_times(sites: pd.DataFrame) -> go.Figure:
    """Distribution of site start-up cycle times: selected → activated and activated → first subject (days)."""
    fig = go.Figure()
    for column, name, colour in (
        ("days_selected_to_activated", "Selected → activated", PLAN_COLOUR),
        ("days_activated_to_first_subject", "Activated → first subject", ACTUAL_COLOUR),
    ):
        values = sites[column].dropna()
        fig.add_box(
            name=name,
            x=values,
            marker_color=colour,
            boxpoints="all",
            jitter=0.4,
            pointpos=0,
            hovertemplate="%{x:.0f} days<extra></extra>",
        )
    fig.update_xaxes(title_text="Days", gridcolor="#eceff1", rangemode="tozero")
    fig.update_layout(showlegend=False)
    return _layout(fig, height=260, title="Site start-up cycle times")


@plain_text
def lpi_forecasts(rows: pd.DataFrame) -> go.Figure:
    """Per trial still enrolling: the P10–P90 range and median of the last-patient-in date against the planned LPI.

    rows: protocol_number, p10, p50, p90, planned_lpi (dates), health (colour of P(meet plan)).
    """
    df = rows.sort_values("protocol_number", ascending=False)
    fig = go.Figure()
    for i, r in enumerate(df.itertuples(index=False)):
        fig.add_scatter(
            name="P10–P90",
            legendgroup="range",
            showlegend=i == 0,
            x=[r.p10, r.p90],
            y=[r.protocol_number] * 2,
            mode="lines",
            line=dict(color="rgba(230, 81, 0, 0.35)", width=10),
            hovertemplate=f"{r.protocol_number}: P10 %{{x|%d %b %Y}}<extra></extra>",
        )
    fig.add_scatter(
        name="Median forecast",
        x=df["p50"],
        y=df["protocol_number"],
        mode="markers",
        marker=dict(size=12, color=[HEALTH_COLOUR[h] for h in df["health"]], line=dict(width=1, color="white")),
        hovertemplate="%{y}: median last patient in %{x|%d %b %Y}<extra></extra>",
    )
    fig.add_scatter(
        name="Planned LPI",
        x=df["planned_lpi"],
        y=df["protocol_number"],
        mode="markers",
        marker=dict(symbol="line-ns", size=22, line=dict(width=3, color="#263238")),
        hovertemplate="%{y}: planned %{x|%d %b %Y}<extra></extra>",
    )
    fig.update_xaxes(gridcolor="#eceff1")
    fig.update_yaxes(type="category")
    return _layout(fig, height=max(240, 36 * len(df) + 100), title="Last patient in: forecast against plan")


def forecast_history(history: pd.DataFrame, *, planned_lpi=None) -> go.Figure:
    """One trial's published last-patient-in forecasts over time: the median and the P10–P90 band, one point per
    published date, against the planned LPI (a drifting forecast shows as a rising line).

    history: as_of_date, lpi_p10_date, lpi_p50_date, lpi_p90_date (snapshots.forecast_history rows of one trial).
    """
    df = history.dropna(subset=["lpi_p50_date"]).sort_values("as_of_date")
    fig = go.Figure()
    fig.add_scatter(
        name="P90",
        x=df["as_of_date"],
        y=df["lpi_p90_date"],
        mode="lines",
        line=dict(width=0),
        showlegend=False,
        hovertemplate="Published %{x|%d %b %Y}: P90 %{y|%d %b %Y}<extra></extra>",
    )
    fig.add_scatter(
        name="P10–P90",
        x=df["as_of_date"],
        y=df["lpi_p10_date"],
        mode="lines",
        line=dict(width=0),
        fill="tonexty",
        fillcolor="rgba(230, 81, 0, 0.18)",
        hovertemplate="Published %{x|%d %b %Y}: P10 %{y|%d %b %Y}<extra></extra>",
    )
    fig.add_scatter(
        name="Median forecast (P50)",
        x=df["as_of_date"],
        y=df["lpi_p50_date"],
        mode="lines+markers",
        line=dict(color="#e65100", width=2),
        marker=dict(size=8),
        hovertemplate="Published %{x|%d %b %Y}: median %{y|%d %b %Y}<extra></extra>",
    )
    if planned_lpi is not None and len(df):
        fig.add_scatter(
            name="Planned LPI",
            x=[df["as_of_date"].min(), df["as_of_date"].max()],
            y=[planned_lpi] * 2,
            mode="lines",
            line=dict(color="#263238", width=2, dash="dash"),
            hovertemplate="Planned %{y|%d %b %Y}<extra></extra>",
        )
    fig.update_xaxes(title="Published as of", gridcolor="#eceff1")
    fig.update_yaxes(title="Last patient in", gridcolor="#eceff1")
    return _layout(fig, height=320, title="Last patient in as published over time")
