"""Vendor milestone charts: one trial's timeline by lane, and the key milestones across the portfolio."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from dashboard.charts.base import HEALTH_COLOUR, _layout, plain_text

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


def _mark_as_of(fig: go.Figure, as_of) -> None:
    """A dotted line at the as-of date, labelled with it at the top (the milestone timelines)."""
    fig.add_vline(x=pd.Timestamp(as_of), line=dict(color="#37474f", width=1, dash="dot"))
    fig.add_annotation(
        x=pd.Timestamp(as_of),
        y=1,
        yref="paper",
        text=f"As of {pd.Timestamp(as_of):%d %b %Y}",
        showarrow=False,
        xanchor="left",
        yanchor="bottom",
        font=dict(size=12, color="#37474f"),
    )


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
        name="Baseline (contracted)",
        x=df["baseline_date"],
        y=y,
        mode="markers",
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
                name=f"{label} (slip)",
                legendgroup=status,
                showlegend=False,
                x=[r.baseline_date, r.due_date],
                y=[[r.lane_label] * 2, [r.milestone_name] * 2],
                mode="lines",
                line=dict(color=colour, width=7),
                opacity=0.45,
                hoverinfo="skip",
            )
        is_done = rows["is_done"].astype(bool)
        fig.add_scatter(
            name=label,
            legendgroup=status,
            x=rows["due_date"],
            y=[list(rows["lane_label"]), list(rows["milestone_name"])],
            mode="markers+text",
            marker=dict(
                symbol=["circle" if d else "diamond" for d in is_done],
                size=12,
                color=colour,
                line=dict(width=1, color="white"),
            ),
            text=[f"{s:+d} d" if s else "" for s in rows["slip_days"]],
            textposition="middle right",
            textfont=dict(size=12, color=colour),
            cliponaxis=False,
            customdata=list(
                zip(["Actual" if d else "Forecast" for d in is_done], rows["vendor_name"], rows["slip_days"])
            ),
            hovertemplate="%{y}<br>%{customdata[0]} %{x|%d %b %Y} · slip %{customdata[2]:+d} days<br>%{customdata[1]}"
            f"<br>{label}<extra></extra>",
        )
    for i, r in enumerate((links if links is not None else pd.DataFrame()).itertuples(index=False)):
        colour = {"conflict": HEALTH_COLOUR["red"], "near_miss": HEALTH_COLOUR["amber"]}.get(r.risk, BASELINE_COLOUR)
        # The latest date the supply may land on: the clinical milestone's date less the lead time.
        needed_by = pd.Timestamp(r.clinical_date) - pd.Timedelta(days=int(r.lead_time_days))
        fig.add_scatter(
            name="Supply must precede",
            legendgroup="supply",
            showlegend=i == 0,
            x=[needed_by, r.clinical_date],
            y=[[LANE_LABEL["CMO"], LANE_LABEL["CRO"]], [r.supply_name, r.clinical_name]],
            mode="lines",
            line=dict(color=colour, width=2, dash="dot"),
            hovertemplate=f"{r.supply_name} must precede {r.clinical_name} by {int(r.lead_time_days)} days<extra></extra>",
        )
        fig.add_scatter(
            name="Supply needed by",
            legendgroup="supply_needed",
            showlegend=i == 0,
            x=[needed_by],
            y=[[LANE_LABEL["CMO"]], [r.supply_name]],
            mode="markers",
            marker=dict(symbol="x-thin", size=14, line=dict(width=3, color=colour)),
            hovertemplate=f"{r.supply_name} needed by %{{x|%d %b %Y}} ({int(r.lead_time_days)} days before {r.clinical_name})<extra></extra>",
        )
    _mark_as_of(fig, as_of)
    dates = pd.concat([df["baseline_date"], df["due_date"], pd.Series([pd.Timestamp(as_of)])])
    pad = max((dates.max() - dates.min()) * 0.06, pd.Timedelta(days=20))
    fig.update_xaxes(gridcolor="#eceff1", range=[dates.min() - pad, dates.max() + pad * 1.5])
    fig.update_yaxes(type="multicategory", gridcolor="#f5f5f5", dividercolor="#90a4ae", showdividers=True)
    fig = _layout(fig, height=max(340, 26 * len(df) + 170), title=title)
    fig.update_layout(legend=dict(y=-0.04, yanchor="top", x=0, xanchor="left"), margin=dict(t=70, b=40))
    return fig


# Short names of the key milestones on the portfolio timeline.
MILESTONE_SHORT = {
    "FIRST_SITE_ACTIVATED": "FSA",
    "FPI": "FPI",
    "LPI": "LPI",
    "DB_LOCK": "DBL",
    "TOPLINE": "TL",
    "DP_RELEASED": "DPR",
    "SITE_SUPPLY_READY": "SSR",
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
    for i, (protocol, due, short, done) in enumerate(
        zip(df["protocol_number"], df["due_date"], df["short"], df["is_done"])
    ):
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
        name="Slip (baseline → forecast/actual)",
        x=np.column_stack([baseline, due, np.full(len(df), None)]).ravel(),
        y=np.repeat(protocols, 3),
        mode="lines",
        line=dict(color="#b0bec5", width=5),
        hoverinfo="skip",
    )
    fig.add_scatter(
        name="Baseline (contracted)",
        x=baseline,
        y=protocols,
        mode="markers",
        marker=dict(symbol="line-ns", size=14, line=dict(width=2, color=BASELINE_COLOUR)),
        customdata=df["milestone_name"].to_numpy(dtype=object),
        hovertemplate="%{y} · %{customdata}<br>Baseline %{x|%d %b %Y}<extra></extra>",
    )
    for status, label in status_labels.items():
        rows = df[df["status"] == status]
        if rows.empty:
            continue
        is_done = rows["is_done"].to_numpy(dtype=bool)
        fig.add_scatter(
            name=label,
            x=_days(rows["due_date"]),
            y=rows["protocol_number"].to_numpy(dtype=object),
            mode="markers+text",
            # One symbol for the trace when it can (done statuses are actuals, open ones forecasts): Plotly checks an array's one by one.
            marker=dict(
                symbol=(
                    "circle"
                    if is_done.all()
                    else "diamond"
                    if not is_done.any()
                    else np.where(is_done, "circle", "diamond").astype(object)
                ),
                size=12,
                color=MILESTONE_STATUS_COLOUR[status],
                line=dict(width=1, color="white"),
            ),
            text=rows["label"].to_numpy(dtype=object),
            textposition="top center",
            textfont=dict(size=11, color="#37474f"),
            customdata=np.column_stack(
                [
                    rows["milestone_name"].to_numpy(dtype=object),
                    np.where(is_done, "Actual", "Forecast").astype(object),
                    rows["slip_days"].to_numpy(dtype=object, na_value=None),
                    rows["vendor_name"].to_numpy(dtype=object),
                ]
            ),
            hovertemplate="%{y} · %{customdata[0]}<br>%{customdata[1]} %{x|%d %b %Y} · slip %{customdata[2]:+d} days"
            f"<br>%{{customdata[3]}}<br>{label}<extra></extra>",
        )
    _mark_as_of(fig, as_of)
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
