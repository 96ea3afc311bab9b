"""Shared fixtures: a throwaway PostgreSQL, empty databases on both engines, Chromium, and real Streamlit servers.

Anything the machine lacks (PostgreSQL binaries, Chromium) skips the tests that need it, except
under CI=true, where it fails them: CI must run everything.
"""

from __future__ import annotations

import os

# One BLAS thread, as `make test` sets it (see the Makefile), for a bare `pytest` too: set before NumPy loads, and
# inherited by the workers and the Streamlit servers the tests start. OpenBLAS otherwise starts a thread per core that
# spin-waits for work: the calibration takes the same time with one thread as with two, and twice the CPU with two.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import itertools
import shutil
import socket
import sqlite3
import subprocess
import tempfile
import uuid
from datetime import date
from pathlib import Path

import hypothesis
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from bench import pg  # one PostgreSQL recipe for the tests and the benchmark
from bench.browser import (  # one launch recipe for the tests and the benchmark
    CHROMIUM,
    CHROMIUM_ARGS,
    start_streamlit,
    stop_streamlit,
)

REPO_DIR = Path(__file__).resolve().parent.parent

# Property tests draw the same examples on every run (a failure found once is found again, on any machine), and keep
# no example database between runs (CI starts from a clean clone anyway).
hypothesis.settings.register_profile("repeatable", derandomize=True, database=None)
hypothesis.settings.load_profile("repeatable")
APP_START_TIMEOUT_S = 60

# The tests run the app without sign-in on fixture databases of their own, which the app refuses
# unless told this is intended; the tests of that refusal and of sign-in set their own values.
os.environ.setdefault("DASHBOARD_ALLOW_ANONYMOUS", "true")
# Actions and notes are written to a review database: never the repository's data/review.db from a test. A test
# that writes actions points DASHBOARD_REVIEW_DATABASE_URL at a file of its own (tests/test_review.py).
os.environ.setdefault(
    "DASHBOARD_REVIEW_DATABASE_URL", f"sqlite:///{Path(tempfile.mkdtemp(prefix='dashboard-review-')) / 'review.db'}"
)


def _unavailable(reason: str):
    """Fail under CI (everything must run there), skip elsewhere."""
    if os.environ.get("CI") == "true":
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


# Each pytest process (an xdist worker, or the one process) takes ports from a block of its own, below the kernel's
# ephemeral range (32768 and up here), so no other worker and no outgoing connection can be handed the same port
# between the moment it is found free and the moment a server binds it.
PORT_BLOCK = 500
_WORKER = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
_ports = itertools.cycle(range(20_000 + _WORKER * PORT_BLOCK, 20_000 + (_WORKER + 1) * PORT_BLOCK))


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now, from this process's own block, never the same twice in a row."""
    for _ in range(PORT_BLOCK):
        port = next(_ports)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in this worker's block of {PORT_BLOCK}")


# The files that take longest (wall seconds under `make test`, measured 2026-12-04), run first: the workers take whole
# files in collection order (`--no-loadscope-reorder`; xdist's own order is by number of tests, which put the few long
# browser tests last, one worker running them alone at the end). Only the suite's speed depends on this list.
LONGEST_FIRST = (
    "test_snapshot.py",  # 273 s
    "test_browser_access.py",  # 193 s
    "test_presentation.py",  # 179 s
    "test_drift.py",  # 157 s
    "test_load.py",  # 123 s
    "test_browser.py",  # 121 s
    "test_figures.py",  # 102 s
    "test_bench.py",  # 65 s
    "test_review.py",  # 54 s
    "test_demo.py",  # 52 s
    "test_hostile_data.py",  # 44 s
    "test_exports.py",  # 41 s
)


def pytest_collection_modifyitems(items):
    """Mark tests by what they need, so `-m "not postgres"` and `-m "not browser"` work without hand-marking; put the
    longest files first (LONGEST_FIRST), the others after them in their own order."""
    for item in items:
        fixtures = getattr(item, "fixturenames", ())
        if "pg_server" in fixtures or "pg_cluster" in fixtures:
            item.add_marker(pytest.mark.postgres)
        if "browser" in fixtures:
            item.add_marker(pytest.mark.browser)
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))


# PostgreSQL


class PostgresCluster(pg.Cluster):
    """A throwaway PostgreSQL cluster in a temp dir on 127.0.0.1 (bench/pg.py's Cluster), which a test can stop and
    start again; `remove` deletes it. What cannot run here skips or, under CI, fails (_unavailable)."""

    def __init__(self):
        workdir = Path(tempfile.mkdtemp(prefix="dashboard-pg-"))
        try:
            super().__init__(workdir, free_port())
        except pg.PostgresUnavailable as error:
            shutil.rmtree(workdir, ignore_errors=True)
            _unavailable(f"a throwaway PostgreSQL: {error}")

    def start(self) -> None:
        try:
            super().start()
        except pg.PostgresUnavailable as error:
            self.remove()
            _unavailable(f"a throwaway PostgreSQL: {error}")

    def remove(self) -> None:
        if self.directory.exists():  # a failed start has removed it already
            self.stop("immediate")
            shutil.rmtree(self.directory, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_server():
    """A PostgreSQL server for the session: DASHBOARD_TEST_PG_URL, else a throwaway cluster in a temp dir; yields its base URL."""
    given = os.environ.get("DASHBOARD_TEST_PG_URL")
    if given:
        yield given
        return
    cluster = PostgresCluster()
    cluster.start()
    try:
        yield cluster.url
    finally:
        cluster.remove()


@pytest.fixture
def pg_cluster():
    """A PostgreSQL cluster of this test's own, started, which the test may stop and start (outages)."""
    cluster = PostgresCluster()
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.remove()


@pytest.fixture
def pg_url(pg_server):
    """A fresh, empty PostgreSQL database for one test, dropped afterwards; yields its URL."""
    server = make_url(pg_server)
    name = f"test_{uuid.uuid4().hex[:16]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        yield server.set(database=name).render_as_string(hide_password=False)
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_db_url(request, tmp_path):
    """An empty database on each engine the dashboard supports (SQLite file, PostgreSQL), so one test covers both."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'test.db'}"
    return request.getfixturevalue("pg_url")


# Shared fixture databases (read-only for the tests that use them)


def copy_sqlite(url: str, target: Path) -> str:
    """A copy of a SQLite database (through SQLite's backup, so nothing in its write-ahead log is lost)."""
    source = sqlite3.connect(url.removeprefix("sqlite:///"))
    copy = sqlite3.connect(target)
    try:
        source.backup(copy)
    finally:
        source.close()
        copy.close()
    return f"sqlite:///{target}"


@pytest.fixture(scope="module")
def tiny_url(tmp_path_factory):
    """The hand-counted tiny portfolio (tests/tiny_portfolio.py has the counts), a file of each test module's own, so a
    module that writes to it changes no other module's (tiny_db is the one of the whole session, read only)."""
    import tiny_portfolio

    url = f"sqlite:///{tmp_path_factory.mktemp('tiny') / 'tiny.db'}"
    tiny_portfolio.build(url)
    return url


@pytest.fixture(scope="session")
def tiny_db(tmp_path_factory):
    """The hand-counted tiny portfolio (tests/tiny_portfolio.py has the counts) in a SQLite file, shared by the session."""
    import tiny_portfolio

    url = f"sqlite:///{tmp_path_factory.mktemp('tiny_db') / 'tiny.db'}"
    tiny_portfolio.build(url)
    return url


SMALL_DEMO_TODAY = date(2026, 11, 20)


@pytest.fixture(scope="session")
def small_demo_db(tmp_path_factory):
    """The demo with its planted trials only (seed 7, 7 trials of the main sponsor), data cut 20 Nov 2026, in SQLite."""
    from dashboard import demo

    url = f"sqlite:///{tmp_path_factory.mktemp('small_demo_db') / 'demo.db'}"
    demo.build(url, seed=7, n_trials=7, today=SMALL_DEMO_TODAY)
    return url


# Browser and app server


@pytest.fixture(scope="session")
def browser():
    """The system Chromium driven by Playwright (it cannot download its own browser here), shared by the session."""
    chromium = CHROMIUM if CHROMIUM.exists() else (Path(found) if (found := shutil.which("chromium")) else None)
    if chromium is None:
        _unavailable(f"{CHROMIUM} not found: apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS, headless=True)
    except Exception as exc:
        playwright.stop()
        _unavailable(f"could not launch {chromium}: {exc}")
    try:
        yield browser
    finally:
        browser.close()
        playwright.stop()


PAGE_VIEWPORT = {"width": 1400, "height": 2000}


@pytest.fixture(scope="session")
def _browser_tab(browser):
    """One tab for the session's `page` tests (see `page`)."""
    context = browser.new_context(viewport=PAGE_VIEWPORT)
    context.set_default_timeout(30_000)
    try:
        yield context
    finally:
        context.close()


@pytest.fixture
def page(_browser_tab):
    """A browser page with a tall viewport (Streamlit scrolls inside its own container, so screenshots stop at the
    viewport), with no cookie, stored item or emulated media of an earlier test, on a blank document.

    It is the same tab from test to test: a new tab starts a new renderer, which compiles Streamlit's scripts again,
    about 1.3 s of Chromium's CPU per test (measured: 2.6 s a load in a new context, 1.3–1.4 s in a reused tab on
    another server)."""
    context = _browser_tab
    tab = next((p for p in context.pages if not p.is_closed()), None) or context.new_page()
    for other in context.pages:
        if other is not tab:
            other.close()
    context.clear_cookies()
    tab.set_viewport_size(PAGE_VIEWPORT)
    tab.emulate_media(media="null")  # none: page.pdf() prints with print media, as a browser does
    tab.goto("about:blank")
    try:
        yield tab
    finally:
        if not tab.is_closed():
            try:  # what the page stored in its origin stays there: the next test may open the same server
                tab.evaluate("() => { localStorage.clear(); sessionStorage.clear(); }")
            except Exception:  # a blank, crashed or closing page has no storage to clear
                pass
            tab.goto("about:blank")  # leaves the app: its session ends, as when a tab closes


class AppServers:
    """Real `streamlit run` servers started from the repository (bench.browser.start_streamlit), stopped together."""

    def __init__(self, log_root: Path):
        self.log_root = log_root
        self.started: list[subprocess.Popen] = []

    def start(
        self,
        database_url: str,
        *,
        script: str | os.PathLike = "app.py",
        port: int | None = None,
        options: dict[str, str] | None = None,
        **extra_env: str,
    ) -> str:
        env = {"DASHBOARD_DATABASE_URL": database_url, **{key: str(value) for key, value in extra_env.items()}}
        log_dir = self.log_root / f"streamlit-{len(self.started)}"
        try:
            process, base_url = start_streamlit(
                REPO_DIR / script,
                env,
                log_dir,
                port=port or free_port(),
                options=options,
                timeout_s=APP_START_TIMEOUT_S,
            )
        except RuntimeError as error:
            pytest.fail(str(error), pytrace=False)
        self.started.append(process)
        return base_url

    def stop(self) -> None:
        for process in self.started:
            stop_streamlit(process, timeout_s=10)


@pytest.fixture
def app_server(tmp_path):
    """Start real `streamlit run` servers of this test's own: app_server(database_url, script=, port=,
    options={"section.name": value}, **env) -> base URL. For a test that needs a fresh server (its first request, a
    cold cache, a restart) or writes to its database; the others share one (shared_app_server)."""
    servers = AppServers(tmp_path)
    yield servers.start
    servers.stop()


@pytest.fixture(scope="module")
def shared_app_server(tmp_path_factory):
    """One real `streamlit run` server per database and settings for a whole test module: shared_app_server(database_url,
    **env) -> base URL, started on first use. Starting a server and its first run take seconds; tests that only read
    pages share it (each opens its own browser context, so no session state is shared, only Streamlit's caches)."""
    servers = AppServers(tmp_path_factory.mktemp("shared-streamlit"))
    running: dict[tuple, str] = {}

    def start(database_url: str, **extra_env: str) -> str:
        key = (database_url, tuple(sorted(extra_env.items())))
        if key not in running:
            running[key] = servers.start(database_url, **extra_env)
        return running[key]

    yield start
    servers.stop()
