"""What the browser tests share: how to know a Streamlit page has finished drawing."""

from __future__ import annotations

import time

CHART = '[data-testid="stPlotlyChart"]'
# Streamlit streams a page in as it runs, shows this widget while a run is going, a skeleton where an element is
# still coming, and draws a chart's SVG only once Plotly has its data.
_STATE_JS = """() => ({
  running: document.querySelectorAll('[data-testid="stStatusWidget"]').length > 0,
  skeletons: document.querySelectorAll('[data-testid="stSkeleton"]').length,
  charts: document.querySelectorAll('[data-testid="stPlotlyChart"]').length,
  drawn: [...document.querySelectorAll('[data-testid="stPlotlyChart"]')].filter(c => c.querySelector('.main-svg')).length,
  elements: document.querySelectorAll('*').length,
})"""


def settle(page, quiet: float = 1.0, seconds: float = 120.0) -> None:
    """Wait until the page has drawn: its title, no run going, no placeholder, every chart drawn, and no element
    added or removed for `quiet` seconds (a bound widget or a rewritten address can rerun a page once after it
    first looked finished: reading it then reads a half-drawn page)."""
    page.get_by_test_id("stMain").locator("h1").first.wait_for(timeout=seconds * 1000)
    deadline = time.monotonic() + seconds
    before, quiet_since = None, None
    while time.monotonic() < deadline:
        state = page.evaluate(_STATE_JS)
        done = not state["running"] and not state["skeletons"] and state["charts"] == state["drawn"]
        if done and state == before:
            quiet_since = quiet_since or time.monotonic()
            if time.monotonic() - quiet_since >= quiet:
                return
        else:
            quiet_since = None
        before = state
        time.sleep(0.2)
    raise AssertionError(f"the page did not finish drawing within {seconds:.0f} s: {before}")
