"""What every chart shares: colours, the font, the layout, text kept plain (no markup from data), small helpers."""

from __future__ import annotations

import functools

import pandas as pd
import plotly.graph_objects as go

from dashboard.formats import MARKER_COLOURS, plotly_text

# Health colours (always shown beside a label, never alone).
HEALTH_COLOUR = MARKER_COLOURS
# Actual, plan and forecast lines on every chart.
ACTUAL_COLOUR, PLAN_COLOUR, FORECAST_COLOUR = "#0F5C6E", "#90a4ae", "#e65100"
FONT = dict(family="Inter, Segoe UI, Helvetica, Arial, sans-serif", size=13)


def _literal(value):
    """A builder's argument with every text from the data made literal for Plotly (frames, rows and strings)."""
    if isinstance(value, pd.DataFrame):
        text = [c for c in value.columns if value[c].dtype == object or pd.api.types.is_string_dtype(value[c].dtype)]
        return value.assign(**{c: plotly_text(value[c]) for c in text}) if text else value
    if isinstance(value, pd.Series) and value.dtype == object:
        return pd.Series(
            [plotly_text(pd.Series([v]))[0] if isinstance(v, str) else v for v in value],
            index=value.index,
            dtype=object,
        )
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
