"""Plotly figure builders: data in, figure out; no Streamlit, no SQL. Every trace has a name tests can find.

By page: base (colours, layout, plain text), portfolio, enrollment, budget, vendors, sites.
"""

from dashboard.charts.base import (
    ACTUAL_COLOUR,
    FONT,
    FORECAST_COLOUR,
    HEALTH_COLOUR,
    LABEL_FONT,
    PLAN_COLOUR,
    ROW_PX,
    plain_text,
)
from dashboard.charts.budget import (
    bac_over_time,
    invoiced_vs_accrued,
    s_curve,
)
from dashboard.charts.enrollment import (
    activation_curve,
    by_country,
    cycle_times,
    enrollment_curve,
    forecast_history,
    lpi_forecasts,
    screening_funnel,
)
from dashboard.charts.portfolio import (
    SCATTER_LABELS,
    _spread,
    cost_vs_schedule,
    enrollment_vs_plan,
)
from dashboard.charts.sites import (
    FLAG_LABEL,
    funnel_plot,
    sites_by_country,
)
from dashboard.charts.vendors import (
    BASELINE_COLOUR,
    CLUSTER_DAYS,
    LANE_LABEL,
    MILESTONE_SHORT,
    MILESTONE_STATUS_COLOUR,
    milestone_timeline,
    portfolio_timeline,
)

__all__ = [
    "ACTUAL_COLOUR",
    "BASELINE_COLOUR",
    "CLUSTER_DAYS",
    "FLAG_LABEL",
    "FONT",
    "FORECAST_COLOUR",
    "HEALTH_COLOUR",
    "LABEL_FONT",
    "LANE_LABEL",
    "MILESTONE_SHORT",
    "MILESTONE_STATUS_COLOUR",
    "PLAN_COLOUR",
    "ROW_PX",
    "SCATTER_LABELS",
    "_spread",
    "activation_curve",
    "bac_over_time",
    "by_country",
    "cost_vs_schedule",
    "cycle_times",
    "enrollment_curve",
    "enrollment_vs_plan",
    "forecast_history",
    "funnel_plot",
    "invoiced_vs_accrued",
    "lpi_forecasts",
    "milestone_timeline",
    "plain_text",
    "portfolio_timeline",
    "s_curve",
    "screening_funnel",
    "sites_by_country",
]
