"""Enrollment: subjects in against plan, for one trial or every trial."""

import streamlit as st

from dashboard import health, ui
from dashboard.metrics import HEALTH_LABEL
from dashboard.settings import get_settings
from queries import budget, portfolio, vendors

ctx = ui.context()
scope = ctx.scope

trials = health.trial_health(
    ui.cached(portfolio.trial_summary, scope),
    ui.cached(budget.evm_by_trial, scope),
    ui.cached(vendors.milestones, scope),
    scope.as_of,
    get_settings(),
)

if scope.trial is None:
    st.title("Enrollment")
    st.caption(f"Every trial in view · as of {scope.as_of:%d %b %Y}")
    if trials.empty:
        st.info("No trials match these filters.")
        st.stop()
    table = trials.assign(
        link=[ctx.link("enrollment", trial=p) for p in trials["protocol_number"]],
        health=trials["enrollment_health"].map(HEALTH_LABEL),
        pct_plan=trials["pct_of_plan_to_date"] * 100,
    ).sort_values("pct_of_plan_to_date")
    columns = {
        "link": st.column_config.LinkColumn("Trial", display_text=r"trial=([^&]+)"),
        "trial_title": st.column_config.TextColumn("Title"),
        "n_enrolled": st.column_config.NumberColumn("Enrolled", format="%d"),
        "n_planned_subjects": st.column_config.NumberColumn("Target", format="%d"),
        "planned_to_date": st.column_config.NumberColumn("Planned to date", format="%.0f"),
        "pct_plan": st.column_config.ProgressColumn("% of plan to date", format="%.0f%%", min_value=0, max_value=150),
        "health": st.column_config.TextColumn("Enrollment health"),
    }
    st.dataframe(table[list(columns)], column_config=columns, hide_index=True, width="stretch")
else:
    row = trials.iloc[0]
    st.title(f"Enrollment · {row['protocol_number']}")
    st.caption(f"{row['trial_title']} · phase {row['phase']} · {row['therapeutic_area']} · as of {scope.as_of:%d %b %Y}")
    tiles = st.columns(4)
    tiles[0].metric("Enrolled", f"{row['n_enrolled']:,}", delta=f"of {row['n_planned_subjects']:,} target", delta_color="off", delta_arrow="off")
    tiles[1].metric(
        "% of plan to date",
        f"{row['pct_of_plan_to_date']:.0%}" if row["pct_of_plan_to_date"] is not None else "—",
        help="Enrolled ÷ the baseline plan's cumulative enrollment on the as-of date.",
    )
    tiles[2].metric("Sites active", f"{row['n_sites_active']:,}", delta=f"of {row['n_planned_sites']:,} planned", delta_color="off", delta_arrow="off")
    tiles[3].metric("Enrollment health", HEALTH_LABEL[row["enrollment_health"]])
st.info("The enrollment curves, screening funnel, site activation and the last-patient-in forecast are coming next.", icon="🚧")
