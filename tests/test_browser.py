"""What a person sees in real Chromium against a real `streamlit run` server: deep links and navigation. The tests share
the module's servers (shared_app_server) but for the one that needs a fresh server's first request."""

import re

from playwright.sync_api import expect

import tiny_portfolio
from browser_helpers import settle

CHART = '[data-testid="stPlotlyChart"] .main-svg'
AS_OF = tiny_portfolio.AS_OF.isoformat()


def test_a_deep_link_to_the_portfolio_shows_the_table_and_charts(page, shared_app_server, tiny_url):
    base = shared_app_server(tiny_url)
    page.goto(f"{base}/?sponsor=ACME&as_of={AS_OF}")
    page.wait_for_selector(CHART)
    table = page.locator("table.dash-table")
    assert table.locator("tbody tr").count() == 2
    assert table.get_by_role("link", name="T-1", exact=True).is_visible()
    assert "X-9" not in page.locator("section.main, [data-testid='stMain']").first.inner_text()
    assert page.locator(CHART).count() >= 2


def test_a_trial_link_lands_on_its_overview_with_the_filters_kept(page, shared_app_server, tiny_url):
    base = shared_app_server(tiny_url)
    page.goto(f"{base}/?sponsor=ACME&as_of={AS_OF}")
    page.wait_for_selector("table.dash-table")
    page.get_by_role("link", name="T-1", exact=True).click()
    page.wait_for_url("**/overview?*")
    page.get_by_role("heading", name="Trial overview · T-1").wait_for()
    assert "sponsor=ACME" in page.url and "trial=T-1" in page.url and f"as_of={AS_OF}" in page.url
    # The sidebar still holds the sponsor, and the page shows the link's date.
    expect(page.get_by_test_id("stSidebar").get_by_role("combobox").first).to_have_value("Acme Biotech")
    page.get_by_test_id("stMain").get_by_text("showing as of 30 Jun 2026").wait_for()
    # The tiles are the hand-counted ones for T-1, and each part opens its full page for the same view.
    # Waited for, not read once: the bound sidebar widgets write the URL back and rerun the page, which redraws its tiles.
    expect(page.get_by_test_id("stMetricValue").first).to_have_text("3")
    page.get_by_role("link", name="Enrollment: funnel, countries, activation →").click()
    page.get_by_role("heading", name="Enrollment · T-1").wait_for()
    assert "trial=T-1" in page.url and f"as_of={AS_OF}" in page.url


def test_the_page_menu_keeps_the_view_with_each_key_once(page, shared_app_server, tiny_url):
    from urllib.parse import parse_qs, urlparse

    def query() -> dict[str, list[str]]:
        # The bound widgets write their keys back into the address a moment after the page link's own: wait for them.
        for _ in range(50):
            if len(parse_qs(urlparse(page.url).query)) >= 3:
                break
            page.wait_for_timeout(200)
        return parse_qs(urlparse(page.url).query)

    base = shared_app_server(tiny_url)
    page.goto(f"{base}/enrollment?trial=T-2&as_of={AS_OF}&since=2026-06-01")
    page.get_by_role("heading", name="Enrollment · T-2").wait_for()
    sidebar = page.get_by_test_id("stSidebar")
    for name, heading in (("Budget", "Budget · T-2"), ("Vendors", "Vendors · T-2"), ("Enrollment", "Enrollment · T-2")):
        sidebar.get_by_role("link", name=name).click()
        page.get_by_role("heading", name=heading).wait_for()
        page.wait_for_url(f"**/{name.lower()}?*")
        # Every key of the view, once each: a link copied from the address bar reproduces the view.
        assert query() == {"trial": ["T-2"], "as_of": [AS_OF], "since": ["2026-06-01"]}
    sidebar.get_by_role("link", name="Portfolio").click()
    page.get_by_role("heading", name="Portfolio", exact=True).wait_for()
    page.wait_for_selector("table.dash-table")
    assert page.locator("table.dash-table tbody tr").count() == 1
    assert query() == {"trial": ["T-2"], "as_of": [AS_OF], "since": ["2026-06-01"]}


def test_the_first_link_a_fresh_server_gets_opens_its_page_inside_the_frame(page, app_server, tiny_url):
    """A sub-page's link is a new server's first request (a status e-mail clicked after a deploy). Streamlit treats an
    app with a pages/ folder as a legacy multipage app until st.navigation has run once; ui.context() calls it and runs
    the page again through app.py. If Streamlit changes that, this page shows without its frame, or not at all."""
    base = app_server(tiny_url)
    page.goto(f"{base}/enrollment?trial=T-1&as_of={AS_OF}")
    page.get_by_role("heading", name="Enrollment · T-1").wait_for()
    settle(page)
    sidebar = page.get_by_test_id("stSidebar")
    expect(sidebar.get_by_role("link", name=re.compile("Portfolio"))).to_be_visible()
    expect(sidebar.get_by_text("As of", exact=True)).to_be_visible()
    page.get_by_test_id("stMain").get_by_text("showing as of 30 Jun 2026").wait_for()


def test_a_link_to_an_unknown_trial_on_a_subpage_says_not_found(page, shared_app_server, tiny_url):
    base = shared_app_server(tiny_url)
    page.goto(f"{base}/enrollment?trial=NOPE-1&as_of=2026-02-30")
    page.get_by_role("heading", name="Enrollment").wait_for()
    main = page.get_by_test_id("stMain")
    main.get_by_text("'NOPE-1' was not found").wait_for()
    main.get_by_text("not a date").wait_for()
    assert "Traceback" not in main.inner_text()


def test_the_enrollment_forecast_fan_renders(page, shared_app_server, tiny_url):
    base = shared_app_server(tiny_url)
    page.goto(f"{base}/enrollment?trial=T-1&as_of={AS_OF}")
    page.wait_for_selector(CHART)
    chart = page.locator('[data-testid="stPlotlyChart"]').first
    legend = chart.locator(".legendtext").evaluate_all("nodes => nodes.map(n => n.textContent)")
    assert legend == ["Plan", "Actual", "P10–P90 of simulated paths", "Median path"]
    # The fan is drawn: a filled path for the band.
    assert chart.locator(".scatterlayer .trace .fills path").count() >= 1


def test_the_budget_s_curves_render(page, shared_app_server, tiny_url):
    base = shared_app_server(tiny_url)
    page.goto(f"{base}/budget?trial=T-1&as_of={AS_OF}")
    page.wait_for_selector(CHART)
    chart = page.locator('[data-testid="stPlotlyChart"]').first
    # Plotly draws the legend after the plot area: wait for it rather than read a half-drawn chart.
    expect(chart.locator(".legendtext")).to_have_count(4)
    legend = chart.locator(".legendtext").evaluate_all("nodes => nodes.map(n => n.textContent)")
    assert legend == ["Planned value (PV)", "Earned value (EV)", "Actual cost (AC)", "Forecast cost (EAC)"]
    assert chart.locator(".scatterlayer .trace").count() == 4


def test_the_sites_funnel_plot_renders_and_a_site_link_opens_its_drill_down(page, shared_app_server, tiny_url):
    base = shared_app_server(tiny_url)
    page.goto(f"{base}/sites?trial=T-1&as_of={AS_OF}")
    page.get_by_role("heading", name="Sites · T-1").wait_for()
    page.wait_for_selector(CHART)
    chart = page.locator('[data-testid="stPlotlyChart"]').first
    expect(chart.locator(".legendtext")).to_have_count(4)
    legend = chart.locator(".legendtext").evaluate_all("nodes => nodes.map(n => n.textContent)")
    assert legend == ["±3 limits", "±2 limits", "Pooled", "Sites"]
    page.goto(f"{base}/sites?trial=T-1&site=S1&as_of={AS_OF}")
    page.get_by_role("heading", name="Site S1 · Boston General").wait_for()
    main = page.get_by_test_id("stMain")
    main.locator("table.dash-table").get_by_text("Trial median").wait_for()
    assert "Traceback" not in main.inner_text()


def _query(page, *keys: str) -> dict[str, list[str]]:
    """The address bar's query once it carries `keys` (the frame writes the dates a moment after the page draws)."""
    from urllib.parse import parse_qs, urlparse

    for _ in range(50):
        query = parse_qs(urlparse(page.url).query)
        if all(k in query for k in keys):
            return query
        page.wait_for_timeout(200)
    return parse_qs(urlparse(page.url).query)


def test_the_address_after_load_shows_the_same_figures_on_a_later_day(page, shared_app_server, tiny_url):
    from datetime import timedelta

    base = shared_app_server(tiny_url, DASHBOARD_TODAY=AS_OF)
    page.goto(f"{base}/overview?trial=T-1")
    page.get_by_role("heading", name="Trial overview · T-1").wait_for()
    query = _query(page, "as_of", "since")
    # The dates the view used are in the address, explicit, though the link did not say them.
    assert query["as_of"] == [AS_OF] and query["since"] == [(tiny_portfolio.AS_OF - timedelta(days=7)).isoformat()]
    copied = page.url
    settle(page)
    tiles = page.get_by_test_id("stMetricValue").all_inner_texts()
    assert len(tiles) >= 6

    later = shared_app_server(tiny_url, DASHBOARD_TODAY=(tiny_portfolio.AS_OF + timedelta(days=45)).isoformat())
    page.goto(copied.replace(base, later))
    page.get_by_role("heading", name="Trial overview · T-1").wait_for()
    page.get_by_test_id("stMain").get_by_text("showing as of 30 Jun 2026").wait_for()
    page.wait_for_selector(CHART)
    expect(page.get_by_test_id("stMetricValue")).to_have_text(tiles, timeout=20_000)
    # Without the dates, the same link on the later day is a different view: that is what the explicit dates prevent.
    page.goto(f"{later}/overview?trial=T-1")
    page.get_by_test_id("stMain").get_by_text("showing as of 14 Aug 2026").wait_for()


def test_moving_the_as_of_date_moves_a_default_comparison_date_and_a_site_stays_on_sites(
    page, shared_app_server, tiny_url
):
    base = shared_app_server(tiny_url, DASHBOARD_TODAY=AS_OF)
    page.goto(f"{base}/budget?trial=T-1&site=S1&indicator=enrollment_rate")
    page.get_by_role("heading", name="Budget · T-1").wait_for()
    query = _query(page, "as_of", "since")
    # The Budget page reads no site or indicator: the address drops them.
    assert "site" not in query and "indicator" not in query
    day = page.get_by_test_id("stSidebar").get_by_role("spinbutton", name="day, As of")
    day.click()
    day.press("ArrowDown")
    page.keyboard.press("Escape")  # closes the calendar, which commits the date
    for _ in range(50):
        if "as_of=2026-06-29" in page.url:
            break
        page.wait_for_timeout(200)
    assert _query(page, "as_of", "since") == {"trial": ["T-1"], "as_of": ["2026-06-29"], "since": ["2026-06-22"]}
    page.get_by_test_id("stMain").get_by_text("showing as of 29 Jun 2026").wait_for()


def test_the_sponsor_picker_shows_names_and_the_address_keeps_the_code(page, shared_app_server, tiny_url):
    base = shared_app_server(tiny_url, DASHBOARD_TODAY=AS_OF)
    page.goto(f"{base}/")
    page.get_by_role("heading", name="Portfolio", exact=True).wait_for()
    sidebar = page.get_by_test_id("stSidebar")
    sidebar.get_by_role("combobox").first.click()
    options = page.get_by_role("option").all_inner_texts()
    assert "Acme Biotech" in options and "ACME" not in options
    page.get_by_role("option", name="Acme Biotech").click()
    assert _query(page, "sponsor")["sponsor"] == ["ACME"]
    settle(page)  # the run the choice started has drawn the menu anew (a person clicks what they see)
    # The menu carries the code to the next page, and the box there still shows the name.
    sidebar.get_by_role("link", name="Budget").click()
    page.get_by_role("heading", name="Budget", exact=True).wait_for()
    assert _query(page, "sponsor", "as_of")["sponsor"] == ["ACME"]
    expect(sidebar.get_by_role("combobox").first).to_have_value("Acme Biotech")


def test_every_page_shows_the_link_to_its_view_and_its_button_copies_it(page, shared_app_server, tiny_url):
    """Also the views that end early (each trial page's portfolio view): after st.stop Streamlit draws nothing more,
    which left them without their link."""
    from urllib.parse import parse_qs, urlsplit

    from dashboard.links import PAGES

    base = shared_app_server(tiny_url)
    link = page.get_by_test_id("stSidebar").locator(".dash-share-url")
    for name in PAGES:
        path = "" if name == "portfolio" else name
        page.goto(f"{base}/{path}?sponsor=ACME&as_of={AS_OF}")
        settle(page)
        expect(link).to_have_count(1)
        shown = urlsplit(link.inner_text())
        assert shown.path == f"/{path}", name
        assert parse_qs(shown.query) == {"sponsor": ["ACME"], "as_of": [AS_OF], "since": ["2026-06-23"]}, name
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)
    try:
        page.get_by_test_id("stSidebar").get_by_role("button", name="Copy link").click()
        expect(page.get_by_test_id("stSidebar").get_by_role("button", name="Copied")).to_be_visible()
        assert page.evaluate("() => navigator.clipboard.readText()") == link.inner_text()
    finally:
        page.context.clear_permissions()
