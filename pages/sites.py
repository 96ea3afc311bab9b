"""Sites: Site performance: enrollment, screen failures, data entry, queries and deviations, flagged against peers."""

import streamlit as st

from dashboard import ui

ctx = ui.context()
scope = ctx.scope

st.title("Sites" + (f" · {scope.trial}" if scope.trial else ""))
st.caption(f"{'Trial ' + scope.trial if scope.trial else 'Every trial in view'} · as of {scope.as_of:%d %b %Y}")
st.info("Site performance: enrollment, screen failures, data entry, queries and deviations, flagged against peers: this page is being built.", icon="🚧")
