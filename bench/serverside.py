"""A page's server-side cost, measured in this process with Streamlit's AppTest, and its queries alone.

What a page queries is recorded from a real run, not listed by hand, so the floor cannot drift
from the page: during the cold run `dashboard.ui.cached` is wrapped to log every (query function,
Scope, keyword arguments) the frame and the page ask for, and `dashboard.health.enrollment_outlooks`
to time the forecasting. The logged calls are then run again directly against the database, each
on a connection of its own as the cache helper does: that is the page's floor.

- cold: `st.cache_data` cleared, a new session (AppTest) runs the page;
- warm: another new session runs the same link with the caches filled (a second reader of a
  link; AppTest's own second run of a session loses the bound widgets' query string);
- bytes: the serialized size of every element the run produced (the protobuf messages Streamlit
  sends, with their dataframes and Plotly figure specs; not the websocket framing).
"""

from __future__ import annotations

import os
import re
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

REPO_DIR = Path(__file__).resolve().parent.parent
APP = str(REPO_DIR / "app.py")
PAGES = ("portfolio", "enrollment", "sites", "budget", "vendors")
VIEWS = ("portfolio", "trial")
FLOOR_APP = Path(__file__).resolve().parent / "floor_app.py"
# What the frame shows for a page it cannot draw (dashboard.errors: an outage, a timeout, a bug): each names a reference.
PAGE_ERROR = re.compile(r"reference [0-9a-f]{8}")
# A new AppTest scans every installed package's metadata for Streamlit components on its first run (0.1 s here, a third
# of a warm page's run), where a server does it once at start: AppTests share the first one's registry instead, as a
# server's sessions do (the tests too: tests/apptest_helpers.py). Streamlit's attribute (1.67): if it goes, this fails
# instead of scanning again.
COMPONENTS_ATTRIBUTE = "_bidi_component_manager"
_components = None


@dataclass(frozen=True)
class Target:
    """One database to measure: its scale's name, engine, URL, the trial of the trial view, and the as-of date."""

    scale: str
    database: str
    url: str
    trial: str
    as_of: date


@dataclass
class _Call:
    function: Callable
    scope: object
    kwargs: dict
    seconds: float
    rows: int

    @property
    def key(self) -> tuple:
        return (
            self.function.__module__,
            self.function.__qualname__,
            repr(self.scope),
            tuple(sorted(self.kwargs.items())),
        )

    @property
    def name(self) -> str:
        return f"{self.function.__module__}.{self.function.__qualname__}"


@dataclass
class _Trace:
    calls: list[_Call] = field(default_factory=list)
    forecast_s: float = 0.0
    n_outlook_calls: int = 0
    n_forecasts: int = 0


def query_params(target: Target, view: str) -> dict[str, str]:
    """The link's query string for a view: the trial view names the target's trial; both fix the as-of date."""
    params = {"as_of": target.as_of.isoformat()}
    if view == "trial":
        params["trial"] = target.trial
    return params


@contextmanager
def app_environment(target: Target, statement_timeout_s: float, *, snapshots: bool = True) -> Iterator[None]:
    """The settings the app reads for `target` (restored afterwards); `snapshots`: whether it reads the published
    snapshots (the demo publishes its data cut and a week before) or computes every view live."""
    from dashboard.settings import get_settings

    wanted = {
        "DASHBOARD_DATABASE_URL": target.url,
        # The bench runs without sign-in on databases of its own (the app refuses that unless told).
        "DASHBOARD_ALLOW_ANONYMOUS": "true",
        "DASHBOARD_STATEMENT_TIMEOUT_S": str(statement_timeout_s),
        "DASHBOARD_READ_SNAPSHOTS": str(snapshots).lower(),
    }
    saved = {key: os.environ.get(key) for key in wanted}
    os.environ.update(wanted)
    get_settings.cache_clear()
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        get_settings.cache_clear()


@contextmanager
def _traced(trace: _Trace) -> Iterator[None]:
    """Log the page's cached queries and time its forecasting while a run is in progress."""
    from dashboard import health, ui

    original_cached, original_outlooks, original_predict = ui.cached, health.enrollment_outlooks, ui.predict

    def cached(function, scope, **kwargs):
        started = time.perf_counter()
        result = original_cached(function, scope, **kwargs)
        trace.calls.append(_Call(function, scope, kwargs, time.perf_counter() - started, len(result)))
        return result

    def enrollment_outlooks(*args, **kwargs):
        started = time.perf_counter()
        try:
            return original_outlooks(*args, **kwargs)
        finally:
            trace.forecast_s += time.perf_counter() - started
            trace.n_outlook_calls += 1

    def predict(*args, **kwargs):
        trace.n_forecasts += 1
        return original_predict(*args, **kwargs)

    # Pages call ui.cached; the frame and the composed health call them in dashboard.ui.cache: trace both.
    ui.cached, health.enrollment_outlooks, ui.predict = cached, enrollment_outlooks, predict
    ui.cache.cached, ui.cache.predict = cached, predict
    try:
        yield
    finally:
        ui.cached, health.enrollment_outlooks, ui.predict = original_cached, original_outlooks, original_predict
        ui.cache.cached, ui.cache.predict = original_cached, original_predict


def _app_test(page: str | None, params: dict[str, str], timeout_s: float, script: str = APP):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(script, default_timeout=timeout_s)
    share_components(at)
    for key, value in params.items():
        at.query_params[key] = value
    if page not in (None, "portfolio"):
        at.switch_page(f"pages/{page}.py")
    return at


def share_components(at) -> None:
    """Give a new AppTest the component registry of the first one that ran (none yet: it scans, once)."""
    if not hasattr(at, COMPONENTS_ATTRIBUTE):
        raise AssertionError(
            f"Streamlit's AppTest has no {COMPONENTS_ATTRIBUTE} any more: update share_components (bench/serverside.py)"
        )
    if _components is not None:
        setattr(at, COMPONENTS_ATTRIBUTE, _components)


def keep_components(at) -> None:
    """Keep the registry an AppTest's first run made, for the next ones."""
    global _components
    if _components is None:
        _components = getattr(at, COMPONENTS_ATTRIBUTE)


def _elements(node) -> Iterator:
    children = getattr(node, "children", None)
    if children is not None and not hasattr(node, "value"):
        if getattr(node, "proto", None) is not None:
            yield node
        for child in children.values():
            yield from _elements(child)
    else:
        yield node


def sent_bytes(at) -> tuple[int, dict[str, int], int]:
    """Serialized size of everything the run drew: total, by element type, and the number of Plotly charts."""
    by_kind: dict[str, int] = {}
    charts = 0
    for element in _elements(at._tree):
        proto = getattr(element, "proto", None)
        if proto is None:
            continue
        kind = element.type
        by_kind[kind] = by_kind.get(kind, 0) + proto.ByteSize()
        charts += kind == "plotly_chart"
    return sum(by_kind.values()), dict(sorted(by_kind.items(), key=lambda kv: -kv[1])), charts


def _problems(at) -> list[str]:
    """Exceptions, and the frame's error message (other st.error boxes are the page's content)."""
    problems = [f"exception: {str(e.message)[:300]}" for e in at.exception]
    problems += [f"error: {str(e.value)[:300]}" for e in at.error if PAGE_ERROR.search(str(e.value))]
    return problems


def warm_up(target: Target, pages=PAGES, timeout_s: float = 600) -> None:
    """Run each page once (trial view), so imports and first-use costs are not charged to the first page measured."""
    import streamlit.logger
    from streamlit import config

    # "No runtime found" and "missing ScriptRunContext" are what AppTest in a plain process looks like;
    # AppTest re-applies the configured level on each run, so set both.
    config.set_option("logger.level", "error")
    streamlit.logger.set_log_level("error")
    for page in pages:
        at = _app_test(page, query_params(target, "trial"), timeout_s)
        at.run()
        keep_components(at)


def measure_floor(repeat: int, timeout_s: float = 120) -> float:
    """The median AppTest run of bench/floor_app.py (a title and one chart): what a run costs the harness itself."""
    seconds = []
    for _ in range(max(repeat, 3)):
        at = _app_test(None, {}, timeout_s, script=str(FLOOR_APP))
        started = time.perf_counter()
        at.run()
        seconds.append(time.perf_counter() - started)
        keep_components(at)
    return statistics.median(seconds)


def _queries_alone(
    target: Target, calls: list[_Call], repeat: int, statement_timeout_s: float
) -> tuple[list[float], list[dict]]:
    """Run each distinct logged call directly, `repeat` times; returns the total per repetition and each call's times."""
    from dashboard.db import make_engine

    distinct: dict[tuple, _Call] = {}
    for call in calls:
        distinct.setdefault(call.key, call)
    engine = make_engine(target.url, statement_timeout_s=statement_timeout_s)
    try:
        with engine.connect():
            pass  # the pool's first connection is not part of any query
        seconds: dict[tuple, list[float]] = {key: [] for key in distinct}
        totals = []
        for _ in range(repeat):
            total = 0.0
            for key, call in distinct.items():
                started = time.perf_counter()
                with engine.connect() as conn:
                    call.function(conn, call.scope, **call.kwargs)
                elapsed = time.perf_counter() - started
                seconds[key].append(elapsed)
                total += elapsed
            totals.append(total)
    finally:
        engine.dispose()
    in_page: dict[tuple, float] = {}
    for call in calls:
        in_page[call.key] = in_page.get(call.key, 0.0) + call.seconds
    details = [
        {
            "function": call.name,
            "kwargs": {
                k: v if isinstance(v, (int, float, str, bool, type(None))) else repr(v) for k, v in call.kwargs.items()
            },
            "trial": getattr(call.scope, "trial", None),
            "as_of": str(getattr(call.scope, "as_of", "")) or None,
            "rows": call.rows,
            "alone_s": statistics.median(seconds[key]),
            "in_page_s": in_page[key],
        }
        for key, call in distinct.items()
    ]
    return totals, details


def measure_page(
    target: Target,
    page: str,
    view: str,
    *,
    repeat: int,
    timeout_s: float,
    statement_timeout_s: float,
    snapshots: bool = True,
) -> dict:
    """One page × view on one database: cold and warm server-side runs, bytes sent, and its queries alone; `snapshots`
    says whether the app read the published snapshots (app_environment) or computed live."""
    import streamlit as st

    params = query_params(target, view)
    cold, warm = [], []
    trace = _Trace()
    problems: list[str] = []
    sent = (0, {}, 0)
    from dashboard import ui

    for attempt in range(repeat):
        # Cold: no cached query results, forecasts or composed health (resource caches, which cache_data.clear() keeps).
        st.cache_data.clear()
        ui._predict.clear()
        ui._compose.clear()
        ui._basis.clear()
        at = _app_test(page, params, timeout_s)
        this = _Trace()
        with _traced(this):
            started = time.perf_counter()
            at.run()
            cold.append(time.perf_counter() - started)
        if attempt == 0:
            trace, problems, sent = this, _problems(at), sent_bytes(at)
        again = _app_test(page, params, timeout_s)
        started = time.perf_counter()
        again.run()
        warm.append(time.perf_counter() - started)
        problems += [p for p in _problems(again) if p not in problems]
    totals, queries = _queries_alone(target, trace.calls, repeat, statement_timeout_s)
    st.cache_data.clear()
    total_bytes, by_kind, charts = sent
    return {
        "scale": target.scale,
        "database": target.database,
        "page": page,
        "view": view,
        "snapshots": snapshots,
        "query_string": params,
        "cold_s": statistics.median(cold),
        "cold_runs_s": cold,
        "warm_s": statistics.median(warm),
        "warm_runs_s": warm,
        "queries_alone_s": statistics.median(totals),
        "queries_alone_runs_s": totals,
        "queries_in_page_s": sum(q["in_page_s"] for q in queries),
        "n_queries": len(queries),
        "queries": sorted(queries, key=lambda q: -q["alone_s"]),
        "forecast_s": trace.forecast_s if trace.n_outlook_calls else None,
        "n_forecasts": trace.n_forecasts,
        "bytes": total_bytes,
        "bytes_by_kind": by_kind,
        "n_charts": charts,
        "errors": problems,
    }
