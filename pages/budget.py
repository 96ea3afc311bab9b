"""Budget: Budget burn: planned, earned and actual spend per trial and vendor, and where it will end."""

import streamlit as st

from dashboard import ui

ctx = ui.context()
scope = ctx.scope

st.title("Budget" + (f" · {scope.trial}" if scope.trial else ""))
st.caption(f"{'Trial ' + scope.trial if scope.trial else 'Every trial in view'} · as of {scope.as_of:%d %b %Y}")
st.info("Budget burn: planned, earned and actual spend per trial and vendor, and where it will end: this page is being built.", icon="🚧")
