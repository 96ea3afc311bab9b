"""The benchmark harness runs end to end on the tiny portfolio, and its report is generated from its JSON.

Nothing here is timed: speed targets live in bench/report.md, not in assertions.
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import tiny_portfolio
from bench import browser, report, run
from bench.serverside import PAGES, VIEWS, Target
from dashboard import snapshot
from dashboard.settings import get_settings

REPO_DIR = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def tiny_target(tmp_path_factory) -> Target:
    """The hand-counted tiny portfolio as a benchmark target (its trial view: T-1)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('bench') / 'tiny.db'}"
    tiny_portfolio.build(url)
    snapshot.publish(url, snapshot.default_dates(tiny_portfolio.AS_OF), get_settings())  # as the demo does
    return Target(scale="tiny", database="sqlite", url=url, trial="T-1", as_of=tiny_portfolio.AS_OF)


@pytest.fixture(scope="module")
def results(tiny_target, tmp_path_factory) -> Path:
    """One server-side run of the benchmark on the tiny portfolio, written as JSON; yields the file."""
    results = run.run([tiny_target], repeat=1, browser=False, log=lambda *_: None)
    path = tmp_path_factory.mktemp("bench-results") / "results.json"
    run.write_json(results, path)
    return path


def test_every_page_and_view_has_a_record_with_its_queries(results):
    records = json.loads(results.read_text())["records"]
    assert sorted((r["page"], r["view"], r["snapshots"]) for r in records) == sorted(
        (p, v, m) for p in PAGES for v in VIEWS for m in (True, False)
    )
    for record in records:
        where = (record["page"], record["view"])
        assert record["errors"] == [], where
        assert record["n_queries"] > 0 and record["bytes"] > 0, where
        names = {q["function"] for q in record["queries"]}
        # The frame's queries are part of every page's run.
        assert {"queries.portfolio.trial_options", "queries.portfolio.freshness"} <= names, where
        trials = {q["trial"] for q in record["queries"]} - {None}
        assert trials == ({"T-1"} if record["view"] == "trial" else set()), where


def test_the_enrollment_portfolio_view_records_its_forecasting(results):
    records = {(r["page"], r["view"]): r for r in json.loads(results.read_text())["records"] if not r["snapshots"]}
    overview = records[("enrollment", "portfolio")]
    # The three trials are all short of their targets, so each is forecast.
    assert overview["n_forecasts"] == 3 and overview["forecast_s"] is not None
    assert records[("budget", "trial")]["forecast_s"] is None


def test_with_snapshots_the_pages_read_them_instead_of_forecasting(results):
    records = {(r["page"], r["view"]): r for r in json.loads(results.read_text())["records"] if r["snapshots"]}
    for (page, view), record in records.items():
        names = {q["function"] for q in record["queries"]}
        assert "queries.snapshots.published" in names, (page, view)
        if page in ("portfolio", "enrollment"):
            assert "queries.snapshots.trial_health_parts" in names and record["forecast_s"] is None, (page, view)
            assert "queries.enrollment.forecast_inputs" not in names, (page, view)


def test_the_report_is_what_the_generator_makes_of_the_json(results):
    shown = subprocess.run(
        [sys.executable, "-m", "bench.report", str(results)], cwd=REPO_DIR, capture_output=True, text=True, check=True
    ).stdout
    assert shown == report.render(json.loads(results.read_text()), report.read_notes())
    assert "### tiny · SQLite · trial view: T-1" in shown
    # Without a large-scale run, no target can be judged.
    assert "✅" not in shown and "❌" not in shown


def test_the_committed_report_is_generated_from_the_committed_results():
    committed_json, committed_report = REPO_DIR / "bench" / "results.json", REPO_DIR / "bench" / "report.md"
    if not committed_json.exists():
        pytest.skip("no benchmark results committed yet")
    assert committed_report.read_text() == report.render(json.loads(committed_json.read_text()), report.read_notes()), (
        "bench/report.md is not what bench/report.py makes of bench/results.json: "
        "run `python -m bench.report bench/results.json > bench/report.md`"
    )


@pytest.mark.browser
def _in_own_thread(function, *args, **kwargs):
    """Run a bench measurement (asyncio.run inside) on a thread of its own: in this process the session's Chromium
    (the `browser` fixture, Playwright's sync API) may already hold an event loop on the main thread."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(function, *args, **kwargs).result()


def test_the_browser_measurements_run_against_a_real_server(tiny_target, tmp_path):
    if not browser.CHROMIUM.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{browser.CHROMIUM} not found", pytrace=False)
        pytest.skip(f"{browser.CHROMIUM} not found")
    timings = _in_own_thread(
        browser.measure_pages,
        tiny_target,
        ["portfolio"],
        ["trial"],
        tmp_path,
        timeout_s=60,
        statement_timeout_s=30,
        warm_up=False,
    )
    portfolio = timings[("portfolio", "trial")]
    assert portfolio["errors"] == []
    assert portfolio["n_charts"] == 2 and portfolio["first_s"] > 0 and portfolio["repeat_s"] > 0
    assert portfolio["websocket_bytes"] > 0
    burst = _in_own_thread(
        browser.measure_burst, tiny_target, ["T-1", "X-9"], 2, tmp_path, timeout_s=60, statement_timeout_s=30
    )
    assert burst["n_errors"] == 0 and len(burst["times_s"]) == 2
    assert burst["links"] == [
        f"?as_of={tiny_portfolio.AS_OF}&trial=T-1",
        f"enrollment?as_of={tiny_portfolio.AS_OF}&trial=X-9",
    ]
    assert burst["rss_sessions_mb"] > burst["rss_idle_mb"] > 0 and burst["server_cpu_s"] > 0
