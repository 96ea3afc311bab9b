"""What an executive sees in Chromium at 1440 and 1280 px wide: nothing wider than the page, no chart label on another
or cut off, on every page, in the portfolio and a trial view, on the demo (15 trials) and a 50-trial portfolio."""

import pytest

from browser_helpers import settle
from conftest import SMALL_DEMO_TODAY
from dashboard import demo

WIDTHS = (1440, 1280)
PAGES = ("portfolio", "overview", "enrollment", "sites", "budget", "vendors", "methods")
TRIAL_PAGES = ("overview", "enrollment", "sites", "budget", "vendors")

# Every element of the main area whose right edge passes the main block's content edge (Streamlit's dataframe grids
# scroll inside their own frame, by design: their frame is checked, not their cells).
OVERFLOW_JS = """() => {
  const main = document.querySelector('[data-testid="stMainBlockContainer"]');
  const style = getComputedStyle(main);
  const edge = main.getBoundingClientRect().right - parseFloat(style.paddingRight) + 1;
  const out = [];
  for (const e of main.querySelectorAll('*')) {
    if (e.closest('[data-testid="stDataFrame"]') && e.getAttribute('data-testid') !== 'stDataFrame') continue;
    if (e.closest('.draglayer')) continue;  // Plotly's invisible drag handles reach past the plot's corners
    const r = e.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) continue;
    const scrolls = e.scrollWidth > e.clientWidth + 1 && ['auto', 'scroll'].includes(getComputedStyle(e).overflowX)
      && e.getAttribute('data-testid') !== 'stDataFrame' && !e.closest('.js-plotly-plot');
    if (r.right > edge || scrolls) {
      out.push(`${e.tagName.toLowerCase()}.${e.className && e.className.baseVal === undefined ? e.className : ''} `
               + `[${e.getAttribute('data-testid') || ''}] right ${Math.round(r.right)} > ${Math.round(edge)}`
               + `${scrolls ? ' (scrolls sideways)' : ''}: ${(e.innerText || e.textContent || '').slice(0, 50)}`);
    }
  }
  return out.slice(0, 8);
}"""

# The text of every chart: each label's box, its chart's title and the chart's own box.
LABELS_JS = """() => [...document.querySelectorAll('.js-plotly-plot')].map(plot => {
  const svg = plot.querySelector('svg.main-svg').getBoundingClientRect();
  const title = (plot.querySelector('.gtitle') || {}).textContent || '';
  const texts = [...plot.querySelectorAll(
      '.annotation-text, .xtick text, .ytick text, g.textpoint text, .legendtext, .gtitle, .xtitle, .ytitle, text.bartext')]
    .map(t => { const r = t.getBoundingClientRect(); return {text: t.textContent, l: r.left, r: r.right, t: r.top, b: r.bottom}; })
    .filter(b => b.r > b.l && b.b > b.t && b.text.trim());
  return {title, svg: {l: svg.left, r: svg.right, t: svg.top, b: svg.bottom}, texts};
})"""


@pytest.fixture(scope="module")
def portfolios(tmp_path_factory):
    """The demo at 15 trials and a 50-trial portfolio (two sponsors), built as of the small demo's day."""
    urls = {}
    for n in (15, 50):
        url = f"sqlite:///{tmp_path_factory.mktemp('presentation') / f'demo{n}.db'}"
        demo.build(url, seed=11, n_trials=n, today=SMALL_DEMO_TODAY)
        urls[n] = url
    return urls


def measured(page, script: str, check, seconds: float = 6.0):
    """What `script` finds once the layout has settled: a grid or chart that has just been resized measures itself
    a moment later, so the reading is repeated until `check` of it is empty or the time is up (a real problem stays)."""
    found = check(page.evaluate(script))
    for _ in range(int(seconds / 0.5)):
        if not found:
            break
        page.wait_for_timeout(500)
        found = check(page.evaluate(script))
    return found


def overlaps(a: dict, b: dict) -> bool:
    return min(a["r"], b["r"]) - max(a["l"], b["l"]) > 0.5 and min(a["b"], b["b"]) - max(a["t"], b["t"]) > 0.5


def label_problems(charts: list[dict]) -> list[str]:
    """Pairs of a chart's labels that overlap, and labels cut by the edge of the chart."""
    found = []
    for chart in charts:
        boxes, svg = chart["texts"], chart["svg"]
        for i, a in enumerate(boxes):
            if a["l"] < svg["l"] - 0.5 or a["r"] > svg["r"] + 0.5 or a["t"] < svg["t"] - 0.5 or a["b"] > svg["b"] + 0.5:
                found.append(f"{chart['title']}: {a['text']!r} is cut by the edge of the chart")
            found += [
                f"{chart['title']}: {a['text']!r} overlaps {b['text']!r}" for b in boxes[i + 1 :] if overlaps(a, b)
            ]
    return found


def biggest_trial(url: str) -> str:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as conn:
        protocol = conn.execute(
            text("select protocol_number from trial order by n_planned_sites desc, protocol_number limit 1")
        ).scalar_one()
    engine.dispose()
    return protocol


@pytest.mark.parametrize("n_trials", [15, 50])
def test_the_portfolio_charts_have_no_label_on_another_and_none_cut(browser, shared_app_server, portfolios, n_trials):
    base = shared_app_server(portfolios[n_trials], DASHBOARD_TODAY=SMALL_DEMO_TODAY.isoformat())
    context = browser.new_context(viewport={"width": WIDTHS[0], "height": 1000})
    try:
        page = context.new_page()
        page.goto(f"{base}/")
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 1000})
            settle(page)
            page.wait_for_selector(".js-plotly-plot .annotation-text")
            charts = page.evaluate(LABELS_JS)
            assert len(charts) >= 2 and all(c["texts"] for c in charts)
            assert measured(page, LABELS_JS, label_problems) == [], f"at {width} px, {n_trials} trials"
    finally:
        context.close()


@pytest.mark.parametrize("n_trials", [15, 50])
def test_no_page_is_wider_than_the_window(browser, shared_app_server, portfolios, n_trials):
    url = portfolios[n_trials]
    base = shared_app_server(url, DASHBOARD_TODAY=SMALL_DEMO_TODAY.isoformat())
    views = [f"{base}/{'' if p == 'portfolio' else p}" for p in PAGES]
    if n_trials == 15:
        trial = biggest_trial(url)
        views += [f"{base}/{p}?trial={trial}" for p in TRIAL_PAGES]
    context = browser.new_context(viewport={"width": WIDTHS[0], "height": 1000})
    problems = []
    try:
        page = context.new_page()
        for view in views:
            for width in WIDTHS:
                # Opened at each width (as a reader would): a grid drawn at one width keeps it after a resize.
                page.set_viewport_size({"width": width, "height": 1000})
                page.goto(view)
                settle(page)
                found = measured(page, OVERFLOW_JS, lambda found: found)
                problems += [f"{view.removeprefix(base)} at {width} px: {p}" for p in found]
    finally:
        context.close()
    assert problems == []
