"""Vendors: CRO and CMO milestones side by side: baseline, forecast and actual, slips and supply risk."""

import streamlit as st

from dashboard import ui

ctx = ui.context()
scope = ctx.scope

st.title("Vendors" + (f" · {scope.trial}" if scope.trial else ""))
st.caption(f"{'Trial ' + scope.trial if scope.trial else 'Every trial in view'} · as of {scope.as_of:%d %b %Y}")
st.info("CRO and CMO milestones side by side: baseline, forecast and actual, slips and supply risk: this page is being built.", icon="🚧")
