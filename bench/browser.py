"""What a person waits for in real Chromium against a real `streamlit run` server, and what the server spends.

- time to charts: from the start of navigation until the script run is over (the app's
  `data-test-script-state` is notRunning), the page's title is there, no element is still a
  loading skeleton and every Plotly chart has drawn its SVG, and that has held for SETTLE_MS; the same for bench/floor_app.py, a bare
  one-chart page (the floor); with the bytes the server sent over the websocket meanwhile;
- first visit (server caches empty for that page's own queries) and repeat visit (a new browser
  context, so nothing cached in the browser either);
- a burst: N pages of one Chromium open different deep links at once against a fresh server;
  time to charts of each (p50, p95), errors, the server's RSS with the N sessions open, its peak,
  and the CPU time it spent (/proc/<pid>/stat), since on two cores the browser competes with it.
"""

from __future__ import annotations

import asyncio
import math
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from bench.serverside import FLOOR_APP, PAGE_ERROR, PAGES, REPO_DIR, Target, query_params

CHROMIUM = Path("/usr/bin/chromium")
# The system Chromium on this locked-down machine (also used by the tests): no sandbox as root, and no
# background connections, which the closed network refuses many at a time.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
SERVER_START_TIMEOUT_S = 120
SETTLE_MS = 300
VIEWPORT = {"width": 1400, "height": 1000}

# Once the run is over and every chart is drawn: performance.now() of the moment that became (and
# stayed, for settleMs) so, with the number of charts; null on timeout.
_WAIT_FOR_CHARTS = """
async ({timeoutMs, settleMs}) => {
  const ready = () => {
    const app = document.querySelector('[data-testid="stApp"]');
    if (!app || app.getAttribute('data-test-script-state') !== 'notRunning') return null;
    const main = document.querySelector('[data-testid="stMain"]');
    if (!main || !main.querySelector('h1')) return null;
    // Elements whose code is still loading (Plotly, dataframes) stand as skeletons until it arrives.
    if (document.querySelector('[data-testid="stSkeleton"]')) return null;
    const charts = [...document.querySelectorAll('[data-testid="stPlotlyChart"]')];
    if (!charts.every(c => c.querySelector('.main-svg'))) return null;
    return charts.length;
  };
  let since = null, count = null;
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    const n = ready();
    if (n === null || n !== count) { since = n === null ? null : performance.now(); count = n; }
    else if (performance.now() - since >= settleMs) return {ms: since, charts: n};
    await new Promise(r => setTimeout(r, 50));
  }
  return null;
}
"""


class BrowserUnavailable(Exception):
    """Chromium or Playwright is missing."""


@dataclass
class Server:
    base_url: str
    pid: int


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# What the bench adds to a server's command line: no file watcher, no usage statistics.
BENCH_OPTIONS = {"server.fileWatcherType": "none", "browser.gatherUsageStats": "false"}


def start_streamlit(
    script: Path | str,
    env: dict[str, str],
    log_dir: Path,
    *,
    port: int | None = None,
    options: dict[str, str] | None = None,
    timeout_s: float = SERVER_START_TIMEOUT_S,
) -> tuple[subprocess.Popen, str]:
    """Start a real `streamlit run` server of the repository on 127.0.0.1 (a free port unless given; `env` on top of
    this process's, `options` as --section.name value) with its output in log_dir, and wait until it is healthy:
    (process, base URL). If it exits or is not healthy in time, it is stopped and RuntimeError says why, with the end
    of its stderr. The tests start theirs with this too (tests/conftest.py)."""
    port = port or _free_port()
    base_url = f"http://127.0.0.1:{port}"
    log_dir.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "streamlit", "run", str(script), "--server.port", str(port)]
    command += ["--server.address", "127.0.0.1", "--server.headless", "true"]
    for name, value in (options or {}).items():
        command += [f"--{name}", str(value)]
    stderr_path = log_dir / f"streamlit-{port}.err"
    with open(log_dir / f"streamlit-{port}.out", "wb") as out, open(stderr_path, "wb") as err:
        # The server writes to its own copies of these files: the ones here can close once it has started.
        process = subprocess.Popen(
            command,
            cwd=REPO_DIR,
            env={**os.environ, **env, "PYTHONUNBUFFERED": "1"},
            stdout=out,
            stderr=err,
            stdin=subprocess.DEVNULL,
        )
    deadline = time.monotonic() + timeout_s
    while process.poll() is None and time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{base_url}/_stcore/health", timeout=2) as response:
                if response.read().decode().strip() == "ok":
                    return process, base_url
        except OSError:
            pass
        time.sleep(0.2)
    state = (
        f"exited with code {process.returncode}" if process.poll() is not None else f"not healthy after {timeout_s:g} s"
    )
    stop_streamlit(process)
    raise RuntimeError(
        f"streamlit at {base_url} {state}; its stderr:\n{stderr_path.read_text(errors='replace')[-4000:]}"
    )


def stop_streamlit(process: subprocess.Popen, timeout_s: float = 20) -> None:
    """Stop a server start_streamlit started (this process only), killing it if it does not stop in time."""
    process.terminate()
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def streamlit_server(script: Path | str, env: dict[str, str], log_dir: Path) -> Iterator[Server]:
    """A real `streamlit run` server on a free port, stopped (this process only) afterwards."""
    process, base_url = start_streamlit(script, env, log_dir, options=BENCH_OPTIONS)
    try:
        yield Server(base_url, process.pid)
    finally:
        stop_streamlit(process)


def memory_mb(pid: int) -> dict[str, float]:
    """Resident memory of a process now (VmRSS) and at its peak (VmHWM), in MB."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) / 1024
    return {"rss_mb": values["VmRSS"], "peak_rss_mb": values["VmHWM"]}


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def browser_cpu_seconds() -> float:
    """CPU time used so far by the Chromium processes this process started (through Playwright), alive now."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    mine, frontier = set(), {os.getpid()}
    while frontier:
        frontier = {pid for pid, parent in parents.items() if parent in frontier} - mine
        mine |= frontier
    total = 0.0
    for pid in mine:
        try:
            if "chrom" in os.readlink(f"/proc/{pid}/exe"):
                total += cpu_seconds(pid)
        except OSError:
            continue
    return total


def page_url(base_url: str, page: str, params: dict[str, str]) -> str:
    from urllib.parse import urlencode

    path = "" if page == "portfolio" else page
    return f"{base_url}/{path}?{urlencode(params)}"


async def _open(browser, url: str, timeout_s: float):
    """Open `url` in a new context; returns (measurement, context) — the caller closes the context."""
    from playwright.async_api import Error as PlaywrightError

    context = await browser.new_context(viewport=VIEWPORT)
    page = await context.new_page()
    page_errors: list[str] = []
    page.on("pageerror", lambda error: page_errors.append(f"page error: {str(error)[:200]}"))
    received = [0]

    def count_frames(websocket) -> None:
        websocket.on("framereceived", lambda payload: received.__setitem__(0, received[0] + len(payload)))

    page.on("websocket", count_frames)
    errors: list[str] = []
    seconds = charts = None
    try:
        await page.goto(url, wait_until="commit", timeout=timeout_s * 1000)
        result = await page.evaluate(_WAIT_FOR_CHARTS, {"timeoutMs": timeout_s * 1000, "settleMs": SETTLE_MS})
        if result is None:
            errors.append(f"charts not drawn within {timeout_s:g} s")
        else:
            seconds, charts = result["ms"] / 1000, result["charts"]
        exceptions = await page.locator('[data-testid="stException"]').count()
        if exceptions:
            errors.append(f"{exceptions} exception(s) shown on the page")
        main = page.locator('[data-testid="stMain"]')
        if await main.count() and PAGE_ERROR.search(await main.first.inner_text()):
            errors.append("the page could not be shown (an error with a reference)")
    except PlaywrightError as exc:
        errors.append(f"browser: {str(exc).splitlines()[0][:200]}")
    errors += page_errors
    return {
        "url": url,
        "seconds": seconds,
        "n_charts": charts,
        "websocket_bytes": received[0],
        "errors": errors,
    }, context


async def _visit(browser, url: str, timeout_s: float) -> dict:
    result, context = await _open(browser, url, timeout_s)
    await context.close()
    return result


@contextmanager
def _chromium() -> Iterator[None]:
    if not CHROMIUM.exists():
        raise BrowserUnavailable(f"{CHROMIUM} not found: apt-get install -y chromium")
    try:
        import playwright.async_api  # noqa: F401
    except ImportError as exc:
        raise BrowserUnavailable(f"playwright is not installed: {exc}") from None
    yield


async def _with_browser(work):
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            return await work(browser)
        finally:
            await browser.close()


def app_env(target: Target, statement_timeout_s: float) -> dict[str, str]:
    """The app server's settings for `target`."""
    return {
        "DASHBOARD_DATABASE_URL": target.url,
        "DASHBOARD_ALLOW_ANONYMOUS": "true",
        "DASHBOARD_STATEMENT_TIMEOUT_S": str(statement_timeout_s),
    }


def measure_floor(log_dir: Path, *, timeout_s: float = 120) -> dict:
    """Time to the chart of the bare one-chart page: first visit and repeat visit."""
    with _chromium(), streamlit_server(FLOOR_APP, {}, log_dir) as server:

        async def work(browser):
            url = f"{server.base_url}/"
            return await _visit(browser, url, timeout_s), await _visit(browser, url, timeout_s)

        first, repeat = asyncio.run(_with_browser(work))
    return {"first_s": first["seconds"], "repeat_s": repeat["seconds"], "errors": first["errors"] + repeat["errors"]}


def measure_pages(
    target: Target, pages, views, log_dir: Path, *, timeout_s: float, statement_timeout_s: float, warm_up: bool = True
) -> dict[tuple[str, str], dict]:
    """Time to charts of each page × view on a fresh server: the first visit, then a repeat visit."""
    with _chromium(), streamlit_server(REPO_DIR / "app.py", app_env(target, statement_timeout_s), log_dir) as server:

        async def work(browser):
            if warm_up:
                # The server's first-use costs (imports of plotly and scipy, the engine) go to a view that is not
                # measured: the day before's, whose queries are cached under another Scope.
                day_before = {**query_params(target, "trial"), "as_of": (target.as_of - timedelta(days=1)).isoformat()}
                await _visit(browser, page_url(server.base_url, "enrollment", day_before), timeout_s)
            out = {}
            for page in pages:
                for view in views:
                    url = page_url(server.base_url, page, query_params(target, view))
                    first = await _visit(browser, url, timeout_s)
                    repeat = await _visit(browser, url, timeout_s)
                    out[(page, view)] = {
                        "first_s": first["seconds"],
                        "repeat_s": repeat["seconds"],
                        "n_charts": repeat["n_charts"],
                        "websocket_bytes": repeat["websocket_bytes"],
                        "errors": first["errors"] + repeat["errors"],
                    }
            return out

        return asyncio.run(_with_browser(work))


def burst_links(target: Target, trials: list[str], sessions: int) -> list[tuple[str, dict[str, str]]]:
    """The deep links of a burst, as from a status e-mail: the portfolio and enrollment overviews, then trials' pages."""
    links: list[tuple[str, dict[str, str]]] = []
    if sessions >= 5:
        links += [("portfolio", query_params(target, "portfolio")), ("enrollment", query_params(target, "portfolio"))]
    for i in range(sessions - len(links)):
        params = {"as_of": target.as_of.isoformat(), "trial": trials[i % len(trials)]}
        links.append((PAGES[i % len(PAGES)], params))
    return links


def _percentile(values: list[float], share: float) -> float | None:
    """Nearest-rank percentile (p95 of 10 values is the 10th)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(math.ceil(share * len(ordered) - 1e-9), 1) - 1]


def measure_burst(
    target: Target, trials: list[str], sessions: int, log_dir: Path, *, timeout_s: float, statement_timeout_s: float
) -> dict:
    """`sessions` pages of one Chromium open different deep links at once against a fresh server."""
    links = burst_links(target, trials, sessions)
    with _chromium(), streamlit_server(REPO_DIR / "app.py", app_env(target, statement_timeout_s), log_dir) as server:
        idle = memory_mb(server.pid)

        async def work(browser):
            cpu_before, browser_before = cpu_seconds(server.pid), browser_cpu_seconds()
            started = time.perf_counter()
            opened = await asyncio.gather(
                *(_open(browser, page_url(server.base_url, page, params), timeout_s) for page, params in links)
            )
            wall = time.perf_counter() - started
            cpu, browser_cpu = cpu_seconds(server.pid) - cpu_before, browser_cpu_seconds() - browser_before
            await asyncio.sleep(1)  # let the sessions settle before reading the memory they hold
            held = memory_mb(server.pid)
            for _, context in opened:
                await context.close()
            return [result for result, _ in opened], wall, cpu, browser_cpu, held

        results, wall, cpu, browser_cpu, held = asyncio.run(_with_browser(work))
    times = [r["seconds"] for r in results if r["seconds"] is not None]
    errors = [f"{r['url']}: {e}" for r in results for e in r["errors"]]
    return {
        "scale": target.scale,
        "database": target.database,
        "sessions": sessions,
        "links": [r["url"].split("/", 3)[-1] for r in results],
        "times_s": [r["seconds"] for r in results],
        "p50_s": statistics.median(times) if times else None,
        "p95_s": _percentile(times, 0.95),
        "n_errors": sum(1 for r in results if r["errors"]),
        "errors": errors,
        "wall_s": wall,
        "server_cpu_s": cpu,
        "browser_cpu_s": browser_cpu,
        "rss_idle_mb": idle["rss_mb"],
        "rss_sessions_mb": held["rss_mb"],
        "peak_rss_mb": held["peak_rss_mb"],
    }
