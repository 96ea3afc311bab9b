"""Plotly figure builders: data in, figure out; no Streamlit, no SQL. Every trace has a name tests can find."""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from dashboard.formats import MARKER_COLOURS, plotly_text

# Health colours (always shown beside a label, never alone).
HEALTH_COLOUR = MARKER_COLOURS
FONT = dict(family="Inter, Segoe UI, Helvetica, Arial, sans-serif", size=13)


def _literal(value):
    """A builder's argument with every text from the data made literal for Plotly (frames, rows and strings)."""
    if isinstance(value, pd.DataFrame):
        text = [c for c in value.columns if value[c].dtype == object or pd.api.types.is_string_dtype(value[c].dtype)]
        return value.assign(**{c: plotly_text(value[c]) for c in text}) if text else value
    if isinstance(value, pd.Series) and value.dtype == object:
        return pd.Series([plotly_text(pd.Series([v]))[0] if isinstance(v, str) else v for v in value], index=value.index, dtype=object)
    if isinstance(value, str):
        return plotly_text(pd.Series([value]))[0]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(plotly_text(pd.Series(value, dtype=object)))
    return value


def plain_text(builder):
    """Every figure builder takes its text from the data: names, titles and labels are shown as written, never read
    as Plotly's markup (<a href>, <b>, entities), whatever a loaded file holds."""

    @functools.wraps(builder)
    def wrapped(*args, **kwargs):
        return builder(*(_literal(a) for a in args), **{k: _literal(v) for k, v in kwargs.items()})

    return wrapped


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


# Health colours of a legend, worst first, with their words (metrics.HEALTH_WORD).
_HEALTH_LEGEND = (("red", "At risk"), ("amber", "Watch"), ("green", "On track"), ("grey", "No data"))
# Pixels per trial row of a horizontal bar chart, and the font of the labels in a chart's margin.
ROW_PX = 34
LABEL_FONT = dict(size=12, color="#37474f")


def _in(title: str, currency: str | None) -> str:
    """An amount axis's title with its unit: "Actual cost (EUR)"."""
    return f"{title} ({currency})" if currency else title


def _by_health(df: pd.DataFrame, column: str):
    """(colour, word, rows) for each health colour present in `column`, worst first: one legend entry each."""
    for health, word in _HEALTH_LEGEND:
        rows = df[df[column] == health]
        if not rows.empty:
            yield health, word, rows


def _margin_for(labels, *, at_least: int = 40) -> int:
    """Room in a margin for a column of labels (about 7.5 px a character at 12 px, and a little air)."""
    return max(at_least, min(220, int(7.5 * max((len(t) for t in labels), default=0)) + 16))


@plain_text
def enrollment_vs_plan(trials: pd.DataFrame, health_labels: dict[str, str]) -> go.Figure:
    """Per trial: enrolled (bar, coloured by enrollment health, one legend entry per colour with its word), planned
    to date and target (markers), and "enrolled / target" as a column in the right margin, one per row: no value label
    sits on a bar, a tick or a marker, whatever their lengths. Trials top to bottom in the order given (the table's,
    worst first)."""
    df = trials.iloc[::-1]  # Plotly draws categories bottom-up
    protocols = df["protocol_number"].to_numpy(dtype=object)  # plain arrays: Plotly checks pandas columns value by value
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
        fig.add_annotation(x=1, xref="paper", xanchor="left", xshift=6, y=protocol, yref="y", text=text,
                           showarrow=False, font=LABEL_FONT)
    fig.update_xaxes(title_text="Subjects", gridcolor="#eceff1", rangemode="tozero")
    fig.update_yaxes(title_text=None, type="category", categoryorder="array", categoryarray=protocols)
    # The legend under the axis (up to three rows in a narrow column), never over the title or the bars.
    top, bottom = 50, 150
    height = max(320, ROW_PX * len(df) + top + bottom)
    fig = _layout(fig, height=height, title="Enrollment against plan")
    fig.update_layout(barmode="overlay", margin=dict(r=_margin_for(values), t=top, b=bottom),
                      legend=dict(orientation="h", yanchor="top", y=-62 / (height - top - bottom), xanchor="left", x=0,
                                  font=dict(size=12)))
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
def cost_vs_schedule(trials: pd.DataFrame, health_labels: dict[str, str], *, green: float = 0.95, amber: float = 0.85) -> go.Figure:
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
        fig.add_annotation(x=r.spi, y=r.cpi, ax=column_x, ay=y, axref="x", ayref="y", text=r.protocol_number,
                           xanchor="left", showarrow=True, arrowhead=0, arrowwidth=1, arrowcolor="#b0bec5",
                           standoff=7, font=LABEL_FONT)
    fig.update_xaxes(title_text="SPI (earned ÷ planned value)", gridcolor="#eceff1", range=[low, high])
    fig.update_yaxes(title_text="CPI (earned value ÷ actual cost)", gridcolor="#eceff1", range=[low, high])
    fig = _layout(fig, height=height, title="Cost and schedule performance")
    fig.update_layout(margin=dict(r=_margin_for(worst["protocol_number"], at_least=60) + 20, b=110),
                      legend=dict(orientation="h", yanchor="top", y=-62 / plot_px, xanchor="left", x=0, font=dict(size=12)))
    return fig


ACTUAL_COLOUR, PLAN_COLOUR, FORECAST_COLOUR = "#0F5C6E", "#90a4ae", "#e65100"


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
        fig.add_scatter(name="P10–P90 of simulated paths", x=list(days) + list(days[::-1]),
                        y=list(fan["q10"]) + list(fan["q90"][::-1]), fill="toself", fillcolor="rgba(230, 81, 0, 0.15)",
                        line=dict(width=0), hoverinfo="skip")
        reached = fan["q50"].to_numpy() >= target  # the median path ends where it reaches the target
        end = int(reached.argmax()) + 1 if reached.any() else len(fan)
        fig.add_scatter(name="Median path", x=days[:end], y=fan["q50"][:end], mode="lines",
                        line=dict(color=FORECAST_COLOUR, width=2, dash="dot"),
                        hovertemplate="Median path %{x|%d %b %Y}: %{y:,.0f}<extra></extra>")
        if completion and completion.get(0.5) is not None:
            fig.add_scatter(name="Median last patient in", x=[pd.Timestamp(completion[0.5])], y=[target], mode="markers",
                            marker=dict(size=9, color=FORECAST_COLOUR), showlegend=False,
                            hovertemplate="Median last patient in: %{x|%d %b %Y}<extra></extra>")
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
    fig.add_hline(y=target, line=dict(color="#546e7a", width=1), annotation_text=f"Target {target:,}", annotation_position="top left")
    if planned_lpi is not None:
        fig.add_vline(x=pd.Timestamp(planned_lpi), line=dict(color="#37474f", width=1, dash="dash"))
        fig.add_annotation(x=pd.Timestamp(planned_lpi), y=1, yref="paper", text="Planned LPI", showarrow=False, xanchor="left", yanchor="top")
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
    fig.add_bar(name="Enrolled", y=df["country_name"], x=df["n_enrolled"], orientation="h", marker_color=ACTUAL_COLOUR,
                hovertemplate="%{y}: %{x:,} enrolled<extra></extra>")
    fig.add_scatter(name="Site targets", y=df["country_name"], x=df["n_planned_subjects"], mode="markers",
                    marker=dict(symbol="diamond-open", size=11, color="#546e7a", line=dict(width=2)),
                    hovertemplate="%{y}: target %{x:,}<extra></extra>")
    fig.update_xaxes(title_text="Subjects", gridcolor="#eceff1", rangemode="tozero")
    return _layout(fig, height=max(260, 30 * len(df) + 90), title="Enrollment by country")


@plain_text
def activation_curve(activation_by_month: pd.DataFrame, *, as_of) -> go.Figure:
    """Cumulative sites activated against the baseline activation plan."""
    df = activation_by_month.sort_values("month_date")
    months = _month_end(df["month_date"])
    fig = go.Figure()
    if df["n_planned"].fillna(0).sum() > 0:  # no plan loaded: no plan line (a line at 0 would read as "plan: none")
        fig.add_scatter(name="Planned sites", x=months, y=df["n_planned"].cumsum(), mode="lines",
                        line=dict(color=PLAN_COLOUR, dash="dash", width=2), line_shape="hv")
    done = df[pd.to_datetime(df["month_date"]) <= pd.Timestamp(as_of)]
    # Carry the actual count on to as_of: no activation since the last one is itself news.
    x = [*_month_end(done["month_date"]).clip(upper=pd.Timestamp(as_of)), pd.Timestamp(as_of)]
    y = [*done["n_activated"].cumsum(), int(done["n_activated"].sum())]
    fig.add_scatter(name="Activated sites", x=x, y=y, mode="lines", line=dict(color=ACTUAL_COLOUR, width=3), line_shape="hv")
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
        fig.add_box(name=name, x=values, marker_color=colour, boxpoints="all", jitter=0.4, pointpos=0,
                    hovertemplate="%{x:.0f} days<extra></extra>")
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
            name="P10–P90", legendgroup="range", showlegend=i == 0, x=[r.p10, r.p90], y=[r.protocol_number] * 2,
            mode="lines", line=dict(color="rgba(230, 81, 0, 0.35)", width=10),
            hovertemplate=f"{r.protocol_number}: P10 %{{x|%d %b %Y}}<extra></extra>",
        )
    fig.add_scatter(
        name="Median forecast", x=df["p50"], y=df["protocol_number"], mode="markers",
        marker=dict(size=12, color=[HEALTH_COLOUR[h] for h in df["health"]], line=dict(width=1, color="white")),
        hovertemplate="%{y}: median last patient in %{x|%d %b %Y}<extra></extra>",
    )
    fig.add_scatter(
        name="Planned LPI", x=df["planned_lpi"], y=df["protocol_number"], mode="markers",
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
    fig.add_scatter(name="P90", x=df["as_of_date"], y=df["lpi_p90_date"], mode="lines", line=dict(width=0),
                    showlegend=False, hovertemplate="Published %{x|%d %b %Y}: P90 %{y|%d %b %Y}<extra></extra>")
    fig.add_scatter(name="P10–P90", x=df["as_of_date"], y=df["lpi_p10_date"], mode="lines", line=dict(width=0),
                    fill="tonexty", fillcolor="rgba(230, 81, 0, 0.18)",
                    hovertemplate="Published %{x|%d %b %Y}: P10 %{y|%d %b %Y}<extra></extra>")
    fig.add_scatter(name="Median forecast (P50)", x=df["as_of_date"], y=df["lpi_p50_date"], mode="lines+markers",
                    line=dict(color="#e65100", width=2), marker=dict(size=8),
                    hovertemplate="Published %{x|%d %b %Y}: median %{y|%d %b %Y}<extra></extra>")
    if planned_lpi is not None and len(df):
        fig.add_scatter(name="Planned LPI", x=[df["as_of_date"].min(), df["as_of_date"].max()], y=[planned_lpi] * 2,
                        mode="lines", line=dict(color="#263238", width=2, dash="dash"),
                        hovertemplate="Planned %{y|%d %b %Y}<extra></extra>")
    fig.update_xaxes(title="Published as of", gridcolor="#eceff1")
    fig.update_yaxes(title="Last patient in", gridcolor="#eceff1")
    return _layout(fig, height=320, title="Last patient in as published over time")


# --- Budget ------------------------------------------------------------------------------------


@plain_text
def s_curve(months: pd.DataFrame, *, as_of, eac: float | None, planned_end=None, currency: str | None = None) -> go.Figure:
    """Cumulative planned (PV), earned (EV) and actual (AC) value by month, with the EAC projection to the planned end."""
    df = months.sort_values("month_date")
    ends = _month_end(df["month_date"])
    done = pd.to_datetime(df["month_date"]) <= pd.Timestamp(as_of)
    fig = go.Figure()
    fig.add_scatter(name="Planned value (PV)", x=ends, y=df["pv_cumulative"], mode="lines", line=dict(color=PLAN_COLOUR, dash="dash", width=2),
                    hovertemplate="Planned value %{x|%b %Y}: %{y:,.0f}<extra></extra>")
    fig.add_scatter(name="Earned value (EV)", x=ends[done].clip(upper=pd.Timestamp(as_of)), y=df.loc[done, "ev_cumulative"], mode="lines",
                    line=dict(color="#2e7d32", width=5), hovertemplate="Earned value %{x|%b %Y}: %{y:,.0f}<extra></extra>")
    fig.add_scatter(name="Actual cost (AC)", x=ends[done].clip(upper=pd.Timestamp(as_of)), y=df.loc[done, "ac_cumulative"], mode="lines",
                    line=dict(color="#c62828", width=2), hovertemplate="Actual cost %{x|%b %Y}: %{y:,.0f}<extra></extra>")
    ac_now = float(df.loc[done, "ac_cumulative"].iloc[-1]) if done.any() else 0.0
    if eac is not None and planned_end is not None and pd.Timestamp(planned_end) > pd.Timestamp(as_of):
        fig.add_scatter(name="Forecast cost (EAC)", x=[pd.Timestamp(as_of), pd.Timestamp(planned_end)], y=[ac_now, eac],
                        mode="lines+markers", line=dict(color="#c62828", width=2, dash="dot"), marker=dict(size=[0, 9]),
                        hovertemplate="Estimate at completion: %{y:,.0f}<extra></extra>")
    fig.add_vline(x=pd.Timestamp(as_of), line=dict(color="#b0bec5", width=1))
    fig.update_yaxes(title_text=_in("Cumulative amount", currency), gridcolor="#eceff1", rangemode="tozero")
    fig.update_xaxes(gridcolor="#eceff1")
    return _layout(fig, height=420, title="Planned, earned and actual value")


@plain_text
def bac_over_time(changes: pd.DataFrame, *, bac: float, as_of, currency: str | None = None) -> go.Figure:
    """Budget at completion as approved change orders (`changes`, by as_of) moved it from the contracted value to `bac`."""
    approved = changes.dropna(subset=["approved_date"]).sort_values("approved_date")
    base = float(bac) - float(approved["change_amount"].sum())
    x = [pd.Timestamp(approved["approved_date"].min()) - pd.Timedelta(days=30)] if not approved.empty else [pd.Timestamp(as_of)]
    y = [base]
    for day, amount in zip(approved["approved_date"], approved["change_amount"]):
        x.append(pd.Timestamp(day))
        y.append(y[-1] + amount)
    x.append(pd.Timestamp(as_of))
    y.append(y[-1])
    fig = go.Figure()
    fig.add_scatter(name="BAC", x=x, y=y, mode="lines+markers", line_shape="hv", line=dict(color=ACTUAL_COLOUR, width=3),
                    hovertemplate="BAC %{x|%d %b %Y}: %{y:,.0f}<extra></extra>")
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


# --- Vendor milestones -------------------------------------------------------------------------

# Colours of milestone statuses (domain.md §6); the legend always names the status.
MILESTONE_STATUS_COLOUR = {
    "done_on_time": "#2e7d32",
    "done_late": "#8d6e63",
    "late": "#c62828",
    "at_risk": "#f2a900",
    "on_track": "#0F5C6E",
}
LANE_LABEL = {"CRO": "Clinical (CRO)", "CMO": "Supply (CMO)"}
BASELINE_COLOUR = "#607d8b"


def _days(values: pd.Series) -> np.ndarray:
    """Dates as "YYYY-MM-DD" (None where missing): what Plotly reads as dates, in the fewest bytes and no per-value work."""
    days = values.to_numpy(dtype="datetime64[D]")
    out = np.datetime_as_string(days, unit="D").astype(object)
    out[np.isnat(days)] = None
    return out


@plain_text
def milestone_timeline(
    statuses: pd.DataFrame, *, as_of, status_labels: dict[str, str], title: str, links: pd.DataFrame | None = None
) -> go.Figure:
    """One trial's milestones in two swimlanes (CRO, CMO): baseline markers, slip bars and forecast/actual markers by status.

    statuses: health.milestone_statuses rows (lane, sequence, milestone_name, baseline_date, due_date, is_done, status,
    slip_days, vendor_name). links: supply → clinical dependencies to draw (supply_name, supply_date, clinical_name,
    clinical_date, risk: a key of metrics.SUPPLY_RISK_LABEL).
    """
    df = statuses.assign(lane_label=statuses["lane"].map(LANE_LABEL)).sort_values(["lane", "sequence"])
    # Plotly draws the first category at the bottom; read top-down like a plan.
    df = df.iloc[::-1].reset_index(drop=True)
    y = [list(df["lane_label"]), list(df["milestone_name"])]
    fig = go.Figure()
    fig.add_scatter(
        name="Baseline (contracted)", x=df["baseline_date"], y=y, mode="markers",
        marker=dict(symbol="line-ns", size=16, line=dict(width=3, color=BASELINE_COLOUR)),
        customdata=df["vendor_name"],
        hovertemplate="%{y}<br>Baseline %{x|%d %b %Y}<br>%{customdata}<extra></extra>",
    )
    for status, label in status_labels.items():
        rows = df[df["status"] == status]
        if rows.empty:
            continue
        colour = MILESTONE_STATUS_COLOUR[status]
        slipped = rows[rows["due_date"] != rows["baseline_date"]]
        for r in slipped.itertuples(index=False):
            fig.add_scatter(
                name=f"{label} (slip)", legendgroup=status, showlegend=False, x=[r.baseline_date, r.due_date],
                y=[[r.lane_label] * 2, [r.milestone_name] * 2], mode="lines", line=dict(color=colour, width=7),
                opacity=0.45, hoverinfo="skip",
            )
        is_done = rows["is_done"].astype(bool)
        fig.add_scatter(
            name=label, legendgroup=status, x=rows["due_date"], y=[list(rows["lane_label"]), list(rows["milestone_name"])],
            mode="markers+text",
            marker=dict(symbol=["circle" if d else "diamond" for d in is_done], size=12, color=colour, line=dict(width=1, color="white")),
            text=[f"{s:+d} d" if s else "" for s in rows["slip_days"]],
            textposition="middle right", textfont=dict(size=12, color=colour), cliponaxis=False,
            customdata=list(zip(["Actual" if d else "Forecast" for d in is_done], rows["vendor_name"], rows["slip_days"])),
            hovertemplate="%{y}<br>%{customdata[0]} %{x|%d %b %Y} · slip %{customdata[2]:+d} days<br>%{customdata[1]}"
            f"<br>{label}<extra></extra>",
        )
    for i, r in enumerate((links if links is not None else pd.DataFrame()).itertuples(index=False)):
        colour = {"conflict": HEALTH_COLOUR["red"], "near_miss": HEALTH_COLOUR["amber"]}.get(r.risk, BASELINE_COLOUR)
        # The latest date the supply may land on: the clinical milestone's date less the lead time.
        needed_by = pd.Timestamp(r.clinical_date) - pd.Timedelta(days=int(r.lead_time_days))
        fig.add_scatter(
            name="Supply must precede", legendgroup="supply", showlegend=i == 0, x=[needed_by, r.clinical_date],
            y=[[LANE_LABEL["CMO"], LANE_LABEL["CRO"]], [r.supply_name, r.clinical_name]], mode="lines",
            line=dict(color=colour, width=2, dash="dot"),
            hovertemplate=f"{r.supply_name} must precede {r.clinical_name} by {int(r.lead_time_days)} days<extra></extra>",
        )
        fig.add_scatter(
            name="Supply needed by", legendgroup="supply_needed", showlegend=i == 0, x=[needed_by],
            y=[[LANE_LABEL["CMO"]], [r.supply_name]], mode="markers",
            marker=dict(symbol="x-thin", size=14, line=dict(width=3, color=colour)),
            hovertemplate=f"{r.supply_name} needed by %{{x|%d %b %Y}} ({int(r.lead_time_days)} days before {r.clinical_name})<extra></extra>",
        )
    fig.add_vline(x=pd.Timestamp(as_of), line=dict(color="#37474f", width=1, dash="dot"))
    fig.add_annotation(x=pd.Timestamp(as_of), y=1, yref="paper", text=f"As of {pd.Timestamp(as_of):%d %b %Y}",
                       showarrow=False, xanchor="left", yanchor="bottom", font=dict(size=12, color="#37474f"))
    dates = pd.concat([df["baseline_date"], df["due_date"], pd.Series([pd.Timestamp(as_of)])])
    pad = max((dates.max() - dates.min()) * 0.06, pd.Timedelta(days=20))
    fig.update_xaxes(gridcolor="#eceff1", range=[dates.min() - pad, dates.max() + pad * 1.5])
    fig.update_yaxes(type="multicategory", gridcolor="#f5f5f5", dividercolor="#90a4ae", showdividers=True)
    fig = _layout(fig, height=max(340, 26 * len(df) + 170), title=title)
    fig.update_layout(legend=dict(y=-0.04, yanchor="top", x=0, xanchor="left"), margin=dict(t=70, b=40))
    return fig


# Short names of the key milestones on the portfolio timeline.
MILESTONE_SHORT = {
    "FIRST_SITE_ACTIVATED": "FSA", "FPI": "FPI", "LPI": "LPI", "DB_LOCK": "DBL", "TOPLINE": "TL",
    "DP_RELEASED": "DPR", "SITE_SUPPLY_READY": "SSR",
}


CLUSTER_DAYS = 120


@plain_text
def portfolio_timeline(
    statuses: pd.DataFrame, *, as_of, status_labels: dict[str, str], order: list[str] | None = None
) -> go.Figure:
    """One row per trial, key milestones only: baseline ticks, slip bars and forecast/actual markers coloured by status.

    Trials top to bottom in `order` (default: by protocol number)."""
    df = statuses.sort_values(["protocol_number", "due_date"]).copy()
    df["short"] = [MILESTONE_SHORT.get(c, c) for c in df["milestone_code"]]
    # Label open milestones only (done ones are history: hover shows them); milestones within
    # CLUSTER_DAYS of each other share one label ("FSA · SSR · FPI"), so labels never overlap.
    labels, cluster = [""] * len(df), None
    for i, (protocol, due, short, done) in enumerate(zip(df["protocol_number"], df["due_date"], df["short"], df["is_done"])):
        if done:
            continue
        if cluster is not None and cluster[0] == protocol and (due - cluster[1]).days < CLUSTER_DAYS:
            labels[cluster[2]] += f" · {short}"
        else:
            labels[i], cluster = short, (protocol, due, i)
    df["label"] = labels
    present = set(df["protocol_number"])
    # Plotly draws the first category at the bottom.
    trials = [p for p in (order or sorted(present)) if p in present][::-1]
    # Plain numpy columns: Plotly validates pandas (Arrow) columns and lists value by value, a few thousand points at a time.
    protocols = df["protocol_number"].to_numpy(dtype=object)
    baseline, due = _days(df["baseline_date"]), _days(df["due_date"])
    fig = go.Figure()
    fig.add_scatter(
        name="Slip (baseline → forecast/actual)", x=np.column_stack([baseline, due, np.full(len(df), None)]).ravel(),
        y=np.repeat(protocols, 3), mode="lines", line=dict(color="#b0bec5", width=5), hoverinfo="skip",
    )
    fig.add_scatter(
        name="Baseline (contracted)", x=baseline, y=protocols, mode="markers",
        marker=dict(symbol="line-ns", size=14, line=dict(width=2, color=BASELINE_COLOUR)),
        customdata=df["milestone_name"].to_numpy(dtype=object), hovertemplate="%{y} · %{customdata}<br>Baseline %{x|%d %b %Y}<extra></extra>",
    )
    for status, label in status_labels.items():
        rows = df[df["status"] == status]
        if rows.empty:
            continue
        is_done = rows["is_done"].to_numpy(dtype=bool)
        fig.add_scatter(
            name=label, x=_days(rows["due_date"]), y=rows["protocol_number"].to_numpy(dtype=object),
            mode="markers+text",
            # One symbol for the trace when it can (done statuses are actuals, open ones forecasts): Plotly checks an array's one by one.
            marker=dict(symbol=("circle" if is_done.all() else "diamond" if not is_done.any()
                                else np.where(is_done, "circle", "diamond").astype(object)), size=12,
                        color=MILESTONE_STATUS_COLOUR[status], line=dict(width=1, color="white")),
            text=rows["label"].to_numpy(dtype=object), textposition="top center", textfont=dict(size=11, color="#37474f"),
            customdata=np.column_stack([
                rows["milestone_name"].to_numpy(dtype=object), np.where(is_done, "Actual", "Forecast").astype(object),
                rows["slip_days"].to_numpy(dtype=object, na_value=None), rows["vendor_name"].to_numpy(dtype=object),
            ]),
            hovertemplate="%{y} · %{customdata[0]}<br>%{customdata[1]} %{x|%d %b %Y} · slip %{customdata[2]:+d} days"
            f"<br>%{{customdata[3]}}<br>{label}<extra></extra>",
        )
    fig.add_vline(x=pd.Timestamp(as_of), line=dict(color="#37474f", width=1, dash="dot"))
    fig.add_annotation(x=pd.Timestamp(as_of), y=1, yref="paper", text=f"As of {pd.Timestamp(as_of):%d %b %Y}",
                       showarrow=False, xanchor="left", yanchor="bottom", font=dict(size=12, color="#37474f"))
    fig.update_xaxes(gridcolor="#eceff1")
    fig.update_yaxes(type="category", categoryorder="array", categoryarray=trials)
    height = max(300, 56 * len(trials) + 140)
    fig = _layout(fig, height=height, title="Key milestones across the portfolio")
    # Title, then legend, then the as-of label, placed in pixels from the top: as fractions of the plot they drift
    # into each other as the chart grows with the number of trials.
    fig.update_layout(
        title=dict(yref="container", y=1 - 8 / height, yanchor="top"),
        legend=dict(yref="container", y=1 - 40 / height, yanchor="top", x=0, xanchor="left"),
        margin=dict(t=100),
    )
    return fig


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
        fig.add_scatter(name=f"±{k} limits", x=x, y=y, mode="lines", line=dict(color="#78909c", dash=dash, width=1.5),
                        hoverinfo="skip")
    if not limits.empty:
        fig.add_scatter(name="Pooled", x=[limits["denominator"].min(), limits["denominator"].max()], y=[pooled, pooled],
                        mode="lines", line=dict(color="#37474f", width=1.5), hovertemplate=f"Pooled: %{{y:{y_format}}}<extra></extra>")
    fig.add_scatter(
        name="Sites", x=points["denominator"], y=points["value"], mode="markers",
        marker=dict(size=11, color=[HEALTH_COLOUR[f] for f in points["flag"]], line=dict(width=1, color="white")),
        customdata=list(zip(points["site_label"], [FLAG_LABEL[f] for f in points["flag"]],
                            ["—" if pd.isna(z) else f"{z:+.2f}" for z in points["z"]])),
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
    fig.add_bar(name="Enrolled", y=df["country_name"], x=df["n_enrolled"], orientation="h", marker_color="#0F5C6E",
                hovertemplate="%{y}: %{x:,} enrolled<extra></extra>")
    fig.add_bar(name="Sites activated", y=df["country_name"], x=df["n_sites_activated"], orientation="h", marker_color="#90a4ae",
                hovertemplate="%{y}: %{x:,} sites activated<extra></extra>")
    fig.update_layout(barmode="group")
    fig.update_xaxes(title_text="Count", gridcolor="#eceff1", rangemode="tozero")
    return _layout(fig, height=max(260, 40 * len(df) + 90), title="Sites and enrollment by country")
