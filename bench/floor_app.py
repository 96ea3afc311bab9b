"""The floor for time-to-charts: a bare Streamlit page with a title and one small Plotly chart, no data."""

import plotly.graph_objects as go
import streamlit as st

st.set_page_config(page_title="Floor", layout="wide")

st.title("One chart")
st.plotly_chart(go.Figure(go.Scatter(x=list(range(12)), y=[3, 5, 4, 6, 8, 7, 9, 11, 10, 12, 14, 13], name="series")))
