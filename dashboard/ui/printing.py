"""The printed page: a stylesheet for paper, charts fitted to it, and a header saying which view it is."""

from __future__ import annotations

import streamlit as st

from dashboard.formats import day
from dashboard.ui.context import Context
from dashboard.ui.downloads import view_summary
from dashboard.ui.widgets import render

_PRINT_CSS = """
<style>
/* The first screen holds the title, the headline figures and the start of the first chart: less empty space above
   the first line (Streamlit leaves 6rem), and tighter headings. */
[data-testid="stMainBlockContainer"] {padding-top: 3rem;}
[data-testid="stMain"] h1 {padding-top: 0.25rem; padding-bottom: 0.5rem;}
/* A tile's value is never cut short ("done 05 N…"): a long one wraps onto a second line. */
[data-testid="stMetricValue"], [data-testid="stMetricValue"] * {white-space: normal !important; overflow-wrap: anywhere;
  text-overflow: clip !important; line-height: 1.15;}
/* Nor is its label ("Forecast final c…"): it wraps too. */
[data-testid="stMetricLabel"] p {white-space: normal !important; text-overflow: clip !important;}
.dash-print-header {display: none;}
.dash-print-only {display: none;}
[data-testid="stElementContainer"]:has(.dash-print-only),
[data-testid="stElementContainer"]:has(.dash-print-header),
[data-testid="stElementContainer"]:has(.dash-print-charts) {display: none;}
@media print {
  @page {size: landscape; margin: 12mm 10mm;}
  [data-testid="stSidebar"], [data-testid="stHeader"], [data-testid="stToolbar"], [data-testid="stStatusWidget"],
  [data-testid="stExpandSidebarButton"],
  [data-testid="stElementToolbar"], [data-testid="stBottom"], [data-testid="stTooltipIcon"], .modebar-container,
  [data-testid="stElementContainer"]:has([data-testid="stDownloadButton"]),
  [data-testid="stElementContainer"]:has([data-testid="stButton"]),
  [data-testid="stElementContainer"]:has([data-testid="stLinkButton"]),
  /* Forms are for the screen; a collapsed section prints as an empty bar. */
  [data-testid="stForm"], [data-testid="stExpander"]:has(details:not([open])) {display: none !important;}
  [data-testid="stMain"] {margin-left: 0 !important; width: 100% !important; max-width: 100% !important;}
  [data-testid="stMainBlockContainer"] {max-width: 100% !important; padding: 0 !important;}
  [data-testid="stElementContainer"]:has(.dash-print-header) {display: block;}
  /* A grid prints as its twin: every row and column it holds, not the part it shows on screen. */
  [data-testid="stElementContainer"]:has([data-testid="stDataFrame"]) {display: none !important;}
  [data-testid="stElementContainer"]:has(.dash-print-only) {display: block !important;}
  .dash-print-only {display: table !important; font-size: 11px;}
  .dash-print-header {display: block; border-bottom: 2px solid #0F5C6E; padding-bottom: 6px; margin-bottom: 4px;
    font-size: 12px; color: #37474f;}
  .dash-print-header .title {font-size: 15px; font-weight: 700; color: #0F5C6E;}
  .dash-print-header .link {word-break: break-all;}
  /* A chart keeps the size it had on screen; one wider than the paper shrinks to fit, by its viewBox (set below). */
  [data-testid="stElementContainer"]:has([data-testid="stPlotlyChart"]), [data-testid="stFullScreenFrame"]:has(> [data-testid="stPlotlyChart"]),
  [data-testid="stPlotlyChart"], .js-plotly-plot, .js-plotly-plot .plot-container {height: auto !important; flex: 0 0 auto !important;}
  .js-plotly-plot .svg-container[style*="--dash-print-ratio"]
    {width: min(100%, var(--dash-print-width)) !important; height: auto !important; aspect-ratio: var(--dash-print-ratio);}
  .js-plotly-plot .svg-container[style*="--dash-print-ratio"] > svg.main-svg {width: 100% !important; height: 100% !important;}
  [data-testid="stPlotlyChart"], [data-testid="stMetric"], [data-testid="stDataFrame"], .dash-table tr,
  [data-testid="stAlert"] {break-inside: avoid; page-break-inside: avoid;}
  .dash-table thead {display: table-header-group;}
  h1, h2, h3, [data-testid="stHeading"] {break-after: avoid; page-break-after: avoid;}
  [data-testid="stElementContainer"]:has([data-testid="stCaptionContainer"]) {break-before: avoid; page-break-before: avoid;}
}
</style>
"""

# Plotly draws each chart at its on-screen pixel size, and a browser does not redraw it for the paper. Give every
# chart's SVG layers a viewBox of that size, so the print stylesheet can scale the chart to the page width.
_PRINT_CHARTS_JS = """
<span class="dash-print-charts"></span>
<script>
(() => {
  if (window.dashPrintCharts) return;
  window.dashPrintCharts = true;
  const fit = () => {
    for (const box of document.querySelectorAll(".js-plotly-plot .svg-container")) {
      const svg = box.querySelector("svg.main-svg");
      const width = parseFloat(svg && svg.getAttribute("width")), height = parseFloat(svg && svg.getAttribute("height"));
      if (!(width > 0 && height > 0)) continue;
      box.style.setProperty("--dash-print-width", `${width}px`);
      box.style.setProperty("--dash-print-ratio", `${width} / ${height}`);
      for (const layer of box.querySelectorAll("svg.main-svg")) layer.setAttribute("viewBox", `0 0 ${width} ${height}`);
    }
  };
  let pending = false;
  new MutationObserver(() => {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => { pending = false; fit(); });
  }).observe(document.body, {subtree: true, childList: true, attributes: true, attributeFilter: ["width", "height"]});
  window.addEventListener("beforeprint", fit);
  fit();
})();
</script>
"""


def print_layout(ctx: Context, page: str) -> None:
    """The print stylesheet (no sidebar, toolbars or buttons; full width; charts fit the paper) and a header, printed only, saying which view this is."""
    st.html(_PRINT_CSS)
    st.html(_PRINT_CHARTS_JS, unsafe_allow_javascript=True)
    summary = view_summary(ctx, page)
    link_url = summary.pop("Link")
    title = " · ".join(str(part) for part in ("Trial portfolio", summary.pop("Page"), ctx.scope.trial) if part)
    as_of, since = summary.pop("As of"), summary.pop("Compared with (since)")
    details = [f"{label}: {value}" for label, value in summary.items() if label != "Trial" or ctx.scope.trial is None]
    details += [f"as of {day(as_of)}", f"compared with {day(since)}"]
    st.html(render("print_header.html", title=title, details=details, link=link_url))
