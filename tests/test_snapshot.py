"""Published snapshots: the figures read from a snapshot are the figures computed live, on every surface; the loader
and the demo publish them; a failed or missing snapshot leaves the pages computing live and saying so."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
import streamlit as st
from sqlalchemy import func, insert, select, update

import tiny_portfolio
from apptest_helpers import open_page, visible_text
from browser_helpers import settle
from conftest import REPO_DIR, SMALL_DEMO_TODAY, copy_sqlite
from dashboard import access, contract, demo, digest, figures, load, published, schema, snapshot
from dashboard.db import make_engine
from dashboard.forecast import Forecasts
from dashboard.links import ViewState
from dashboard.settings import Settings, get_settings
from queries import overview, snapshots

# Month end, month start, the fixture's own date, and a date before any data.
TINY_DATES = (date(2026, 5, 31), date(2026, 6, 1), tiny_portfolio.AS_OF, date(2025, 1, 1))
DEMO_DATES = (date(2026, 10, 31), date(2026, 11, 1), SMALL_DEMO_TODAY, date(2021, 6, 1))


def publish_with_compare_dates(url: str, dates) -> None:
    """Publish each date and its compare date (a view's changes read both)."""
    wanted = sorted({d for as_of in dates for d in snapshot.default_dates(as_of)})
    assert snapshot.publish(url, wanted, get_settings()) == wanted


@pytest.fixture(scope="module")
def tiny_pair(tmp_path_factory, tiny_db) -> tuple[str, str]:
    """The tiny portfolio twice: as built (everything computed live) and with snapshots published at TINY_DATES."""
    url = copy_sqlite(tiny_db, tmp_path_factory.mktemp("tiny-published") / "tiny.db")
    publish_with_compare_dates(url, TINY_DATES)
    return tiny_db, url


@pytest.fixture(scope="module")
def demo_pair(tmp_path_factory, small_demo_db) -> tuple[str, str]:
    """The small demo twice: as built and with snapshots published at DEMO_DATES."""
    url = copy_sqlite(small_demo_db, tmp_path_factory.mktemp("demo-published") / "demo.db")
    publish_with_compare_dates(url, DEMO_DATES)
    return small_demo_db, url


def view_figures(url: str, view: ViewState, user: str | None = None) -> tuple[dict, bool]:
    """The figures command's document for `view` (every sponsor, or `user`'s), and whether a snapshot was read."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            grants = access.granted_sponsors(conn, user)
            document = figures.view_figures(conn, grants, view, get_settings())
            scope, _ = access.make_scope(grants, view, view.as_of)
            read = overview.publication(lambda q, s: q(conn, s), scope, get_settings()) is not None
        return document, read
    finally:
        engine.dispose()


def views(as_of: date, trial: str) -> list[tuple[ViewState, str | None]]:
    since = as_of - timedelta(days=7)
    return [
        (ViewState(as_of=as_of, since=since), None),
        (ViewState(as_of=as_of, since=since, trial=trial), None),
        (ViewState(as_of=as_of, since=since, phase="III"), None),
    ]


@pytest.mark.parametrize("as_of", TINY_DATES, ids=str)
def test_published_figures_are_the_live_ones_on_the_tiny_portfolio(tiny_pair, as_of):
    live_url, published_url = tiny_pair
    for view, user in [
        *views(as_of, "T-1"),
        (ViewState(as_of=as_of, since=as_of - timedelta(days=7)), tiny_portfolio.ACME_USER),
    ]:
        live, read_live = view_figures(live_url, view, user)
        shown, read = view_figures(published_url, view, user)
        assert read and not read_live, "one side reads the snapshot, the other computes"
        assert shown == live, f"{view}: the published figures differ from the live ones"


@pytest.mark.parametrize("as_of", DEMO_DATES, ids=str)
def test_published_figures_are_the_live_ones_on_the_demo(demo_pair, as_of):
    live_url, published_url = demo_pair
    for view, user in views(as_of, demo.BIG_TRIAL):
        live, _ = view_figures(live_url, view, user)
        shown, read = view_figures(published_url, view, user)
        assert read
        assert shown == live, f"{view}: the published figures differ from the live ones"
        assert shown["trials"], "the view has trials, so the comparison compares something"


def test_every_published_frame_comes_back_with_its_rows_order_and_types(demo_pair):
    live_url, published_url = demo_pair
    settings = get_settings()
    engine = make_engine(published_url)
    try:
        with engine.connect() as conn:
            ids = tuple(g.sponsor_id for g in access.granted_sponsors(conn, None))
            run = lambda q, s: q(conn, s)  # noqa: E731
            for scope in (
                access.Scope(ids, SMALL_DEMO_TODAY, SMALL_DEMO_TODAY - timedelta(days=7)),
                access.Scope(ids[:1], SMALL_DEMO_TODAY, SMALL_DEMO_TODAY - timedelta(days=7), trial=demo.BIG_TRIAL),
            ):
                for function in (
                    overview.trial_health,
                    overview.trial_facts,
                    overview.flagged_sites,
                    overview.vendor_risks,
                ):
                    live = function(run, scope, settings, Forecasts(), live=True)
                    read = function(run, scope, settings, Forecasts())
                    for name, frame in published.frames_of(live).items():
                        pd.testing.assert_frame_equal(
                            published.frames_of(read)[name],
                            frame.reset_index(drop=True),
                            obj=f"{function.__name__}.{name}",
                        )
    finally:
        engine.dispose()


def test_a_date_without_a_snapshot_is_computed_live_and_says_so(monkeypatch, demo_pair):
    _, url = demo_pair
    at = open_page(monkeypatch, url, "portfolio", as_of="2026-09-15")
    assert not at.exception
    assert "figures computed now" in visible_text(at)
    at = open_page(monkeypatch, url, "portfolio", as_of=SMALL_DEMO_TODAY.isoformat())
    assert not at.exception
    assert "figures published" in visible_text(at) and "figures computed now" not in visible_text(at)


def test_a_view_with_another_compare_date_is_computed_live(demo_pair):
    _, url = demo_pair
    view = ViewState(as_of=SMALL_DEMO_TODAY, since=SMALL_DEMO_TODAY - timedelta(days=30))
    _, read = view_figures(url, view)
    assert not read, "the snapshot's changes are over a week: another period is computed"


def test_a_snapshot_published_under_other_thresholds_is_not_read(demo_pair):
    _, url = demo_pair
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            ids = tuple(g.sponsor_id for g in access.granted_sponsors(conn, None))
            scope = access.Scope(ids, SMALL_DEMO_TODAY, SMALL_DEMO_TODAY - timedelta(days=7))
            run = lambda q, s: q(conn, s)  # noqa: E731
            assert overview.publication(run, scope, Settings()) is not None
            assert overview.publication(run, scope, Settings(index_green=0.99)) is None
            assert overview.publication(run, scope, Settings(public_base_url="https://elsewhere.example")) is not None
    finally:
        engine.dispose()


def test_a_user_reads_only_their_sponsors_published_trials(tiny_pair):
    _, url = tiny_pair
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            grants = access.granted_sponsors(conn, tiny_portfolio.ACME_USER)
            scope, _ = access.make_scope(grants, ViewState(as_of=tiny_portfolio.AS_OF), tiny_portfolio.AS_OF)
            for query in (
                snapshots.trial_health_parts,
                snapshots.flagged_sites_parts,
                snapshots.vendor_risks_parts,
                snapshots.forecast_history,
            ):
                assert set(query(conn, scope)["protocol_number"]) == {"T-1", "T-2"}, query.__name__
    finally:
        engine.dispose()


# --- Publishing -----------------------------------------------------------------------------------


def count(url: str, table, **where) -> int:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            query = select(func.count()).select_from(table)
            for column, value in where.items():
                query = query.where(table.c[column] == value)
            return conn.execute(query).scalar_one()
    finally:
        engine.dispose()


def test_both_engines_publish_and_read_the_same_figures(empty_db_url, tiny_db):
    url = empty_db_url
    tiny_portfolio.build(url)
    view = ViewState(as_of=tiny_portfolio.AS_OF, since=tiny_portfolio.AS_OF - timedelta(days=7))
    live, _ = view_figures(url, view)
    publish_with_compare_dates(url, [tiny_portfolio.AS_OF])
    shown, read = view_figures(url, view)
    reference, _ = view_figures(tiny_db, view)
    assert read and shown == live == reference
    assert count(url, schema.snapshot_figure, as_of_date=tiny_portfolio.AS_OF) > 0


def test_the_snapshot_holds_every_trial_figure_and_forecast_as_the_figures_command_shows_them(tiny_pair):
    live_url, url = tiny_pair
    document, _ = view_figures(
        live_url, ViewState(as_of=tiny_portfolio.AS_OF, since=tiny_portfolio.AS_OF - timedelta(days=7))
    )
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                select(schema.snapshot_figure).where(schema.snapshot_figure.c.as_of_date == tiny_portfolio.AS_OF)
            ).all()
            forecast = conn.execute(
                select(schema.snapshot_forecast).where(
                    schema.snapshot_forecast.c.as_of_date == tiny_portfolio.AS_OF,
                    schema.snapshot_forecast.c.protocol_number == "T-1",
                )
            ).one()
    finally:
        engine.dispose()
    stored = {(r.protocol_number, r.figure_key): r for r in rows}
    for protocol, block in document["trials"].items():
        for f in block:
            row = stored[protocol, f["key"]]
            assert row.display == f["display"] and row.health == f["health"], f"{protocol} {f['key']}"
    t1 = {f["key"]: f for f in document["trials"]["T-1"]}
    assert forecast.lpi_p50_date.isoformat() == t1["lpi_model"]["value"]
    assert forecast.lpi_p10_date.isoformat() == t1["lpi_model_p10"]["value"]
    assert forecast.sites_needed == t1["sites_needed"]["value"]


@pytest.fixture
def tiny_folder(tmp_path) -> Path:
    url = f"sqlite:///{tmp_path / 'source.db'}"
    tiny_portfolio.build(url)
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            contract.export_csv(conn, tmp_path / "csv")
    finally:
        engine.dispose()
    return tmp_path / "csv"


def published_times(url: str) -> dict[date, datetime]:
    """When each snapshot was published: as-of date -> published_at."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return dict(conn.execute(select(schema.snapshot.c.as_of_date, schema.snapshot.c.published_at)).all())
    finally:
        engine.dispose()


def test_the_loader_publishes_its_day_and_keeps_what_was_published_a_week_before(tiny_folder, tmp_path):
    url = f"sqlite:///{tmp_path / 'loaded.db'}"
    first = load.load(url, tiny_folder)
    day = datetime.now(UTC).date()
    assert first.ok and first.publish_error is None
    assert first.published == [day, day - timedelta(days=7)]
    before = published_times(url)
    second = load.load(url, tiny_folder)
    assert second.published == [day], "the week-before snapshot is what people read then: kept"
    after = published_times(url)
    assert after[day - timedelta(days=7)] == before[day - timedelta(days=7)]
    assert after[day] > before[day]


def test_a_killed_snapshot_leaves_the_load_in_place_and_the_pages_computing_live(tmp_path, monkeypatch):
    """The demo's 7 trials take seconds to publish: kill the loader once it says it is publishing."""
    url = f"sqlite:///{tmp_path / 'loaded.db'}"
    folder = tmp_path / "csv"
    assert demo.main(["--csv", str(folder), "--trials", "7", "--today", SMALL_DEMO_TODAY.isoformat()]) == 0
    process = subprocess.Popen(
        [sys.executable, "-m", "dashboard.load", str(folder), "--url", url],
        cwd=REPO_DIR,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    for line in process.stderr:
        if line.startswith("Publishing"):
            process.send_signal(signal.SIGKILL)
            break
    process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL, "the loader was killed while publishing"
    day = datetime.now(UTC).date()
    n_trials = len((folder / "trial.csv").read_text().splitlines()) - 1
    assert count(url, schema.trial) == n_trials and count(url, schema.load_log) == 1, "the load itself is committed"
    assert count(url, schema.snapshot, as_of_date=day) == 0 and count(url, schema.snapshot_part, as_of_date=day) == 0
    at = open_page(monkeypatch, url, "portfolio")
    assert not at.exception
    assert "figures computed now" in visible_text(at)
    # Publishing again afterwards is all it takes (once the servers' caches expire, as for any new data).
    assert snapshot.main(["--url", url, "--as-of", day.isoformat()]) == 0
    st.cache_data.clear()
    st.cache_resource.clear()
    at = open_page(monkeypatch, url, "portfolio")
    assert "figures published" in visible_text(at)


def test_a_load_removes_the_snapshot_of_its_day_even_when_it_does_not_publish(tiny_folder, tmp_path):
    url = f"sqlite:///{tmp_path / 'loaded.db'}"
    day = datetime.now(UTC).date()
    assert load.load(url, tiny_folder).published
    assert count(url, schema.snapshot, as_of_date=day) == 1
    result = load.load(url, tiny_folder, publish=False)
    assert result.ok and result.published == []
    assert count(url, schema.snapshot, as_of_date=day) == 0, "the day's snapshot no longer matches the data"
    assert count(url, schema.snapshot, as_of_date=day - timedelta(days=7)) == 1


def test_the_command_refuses_a_database_without_the_snapshot_tables(tmp_path, capsys):
    path = tmp_path / "other.db"
    sqlite3.connect(path).execute("CREATE TABLE x (y)").connection.close()
    assert snapshot.main(["--url", f"sqlite:///{path}"]) == 2
    assert "python -m dashboard.db upgrade" in capsys.readouterr().err


def test_a_load_during_the_computation_stops_the_write(tiny_pair, tmp_path):
    url = copy_sqlite(tiny_pair[0], tmp_path / "tiny.db")
    engine = make_engine(url)
    with engine.connect() as conn:
        computed = snapshot.compute(conn, tiny_portfolio.AS_OF, get_settings())
    engine.dispose()
    writer = make_engine(url, read_only=False)
    try:
        with writer.begin() as conn:
            conn.execute(insert(schema.load_log).values(source="later", loaded_at=datetime(2026, 7, 1), n_rows=1))
        with pytest.raises(snapshot.DataChanged), writer.begin() as conn:
            snapshot.write(conn, computed, get_settings())
    finally:
        writer.dispose()
    assert count(url, schema.snapshot) == 0


# --- History ----------------------------------------------------------------------------------------


def test_the_emails_changes_compare_with_what_was_published_not_a_recomputation(tiny_pair, tmp_path):
    """A subject enrolled on 20 June is loaded late, after the snapshot of 23 June was published: the e-mail of
    30 June compares with the published 23 June (without them), as people read it then."""
    url = copy_sqlite(tiny_pair[0], tmp_path / "tiny.db")
    since = tiny_portfolio.AS_OF - timedelta(days=7)
    assert snapshot.publish(url, [since], get_settings()) == [since]
    writer = make_engine(url, read_only=False)
    try:
        with writer.begin() as conn:
            subject = schema.subject
            row = conn.execute(select(subject).where(subject.c.enrolled_date.is_not(None)).limit(1)).mappings().one()
            late = {k: v for k, v in row.items() if k != "subject_id"}
            late.update(subject_number="LATE-1", screened_date=date(2026, 6, 18), enrolled_date=date(2026, 6, 20))
            for column in ("discontinued_date", "completed_date", "treatment_discontinued_date"):
                if column in late:
                    late[column] = None
            conn.execute(insert(subject).values(**late))
            conn.execute(update(schema.load_log).values(loaded_at=datetime(2026, 7, 1, 6, 0)))
    finally:
        writer.dispose()
    assert snapshot.publish(url, [tiny_portfolio.AS_OF], get_settings()) == [tiny_portfolio.AS_OF]
    view = ViewState(as_of=tiny_portfolio.AS_OF, since=since)
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            d = digest.build_digest(conn, access.granted_sponsors(conn, None), view, get_settings())
            history = snapshots.forecast_history(
                conn, access.make_scope(access.granted_sponsors(conn, None), view, tiny_portfolio.AS_OF)[0]
            )
    finally:
        engine.dispose()
    enrolled = d.figure("enrolled")
    live, _ = view_figures(tiny_pair[0], ViewState(as_of=since, since=since - timedelta(days=7)))
    assert enrolled.then == {f["key"]: f for f in live["portfolio"]}["enrolled"]["value"], (
        "the published count, without the late subject"
    )
    recomputed = {
        f["key"]: f for f in view_figures(url, ViewState(as_of=since, since=since - timedelta(days=30)))[0]["portfolio"]
    }
    assert recomputed["enrolled"]["value"] == enrolled.then + 1, "a recomputation would count the late subject"
    t1 = history[history["protocol_number"] == "T-1"]
    then_p50 = d.then.of_trial("T-1").outlook.p50
    assert then_p50 == t1.loc[t1["as_of_date"] == pd.Timestamp(since), "lpi_p50_date"].iloc[0].date(), (
        "the published forecast"
    )
    assert "compared with those published for" in digest.render_text(d)


# --- Several servers, one truth ---------------------------------------------------------------------


def _shown(browser, url: str) -> dict:
    """What a reader sees of a view in a new browser session: the tiles, the table and where the figures come from."""
    context = browser.new_context(viewport={"width": 1400, "height": 2000})
    context.set_default_timeout(60_000)
    try:
        page = context.new_page()
        page.goto(url)
        page.wait_for_selector("table.dash-table")
        main = page.get_by_test_id("stMain")
        main.get_by_text("figures published").wait_for()
        settle(page)  # the address is rewritten once the page has loaded, which reruns it: read it after that
        labels = page.get_by_test_id("stMetricLabel").all_inner_texts()
        values = page.get_by_test_id("stMetricValue").all_inner_texts()
        return {
            "tiles": dict(zip([label.strip() for label in labels], values)),
            "table": page.locator("table.dash-table").first.inner_text(),
            "source": main.get_by_text("figures published").first.inner_text(),
        }
    finally:
        context.close()


def test_two_servers_on_one_postgresql_show_the_same_figures_for_one_link(browser, app_server, pg_url):
    """Two servers behind one address (deploy/: sticky sessions) read the same published snapshot: a link opened on
    either shows the same figures, which are the figures command's."""
    tiny_portfolio.build(pg_url)
    publish_with_compare_dates(pg_url, [tiny_portfolio.AS_OF])
    link = f"/?as_of={tiny_portfolio.AS_OF.isoformat()}"
    first, second = (_shown(browser, app_server(pg_url) + link) for _ in range(2))
    assert first == second
    document, read = view_figures(pg_url, ViewState(as_of=tiny_portfolio.AS_OF))
    assert read
    expected = {f["label"]: f["display"] for f in document["portfolio"]}
    assert first["tiles"] and all(expected[label] == value for label, value in first["tiles"].items()), first["tiles"]
    assert "T-1" in first["table"] and "X-9" in first["table"]


def test_the_forecast_history_has_one_point_per_published_date(monkeypatch, demo_pair):
    _, url = demo_pair
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            f = schema.snapshot_forecast
            published_dates = [
                d
                for (d,) in conn.execute(
                    select(f.c.as_of_date)
                    .where(
                        f.c.protocol_number == demo.BIG_TRIAL,
                        f.c.as_of_date <= SMALL_DEMO_TODAY,
                        f.c.lpi_p50_date.is_not(None),
                    )
                    .order_by(f.c.as_of_date)
                )
            ]
    finally:
        engine.dispose()
    assert len(published_dates) >= 4, "the fixture publishes several dates with a forecast"
    at = open_page(monkeypatch, url, "enrollment", trial=demo.BIG_TRIAL, as_of=SMALL_DEMO_TODAY.isoformat())
    assert not at.exception
    specs = [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]
    history = next(s for s in specs if any(t.get("name") == "Median forecast (P50)" for t in s["data"]))
    median = next(t for t in history["data"] if t.get("name") == "Median forecast (P50)")
    assert [pd.Timestamp(x).date() for x in median["x"]] == published_dates
    assert f"{len(published_dates)} published forecasts" in visible_text(at)
    # Before any snapshot, the page says there is no history yet rather than drawing an empty chart.
    at = open_page(monkeypatch, url, "enrollment", trial=demo.BIG_TRIAL, as_of="2021-05-01")
    assert not at.exception and "No forecast of this trial has been published up to this date" in visible_text(at)


@pytest.mark.parametrize("as_of", DEMO_DATES, ids=str)
def test_the_pages_tiles_read_from_a_snapshot_are_the_live_figures(monkeypatch, demo_pair, as_of):
    """Every headline tile of the portfolio views, read from the snapshot, is the figures command's live value."""
    from test_figures import _check_tiles

    live_url, url = demo_pair
    document, _ = view_figures(live_url, ViewState(as_of=as_of, since=as_of - timedelta(days=7)))
    for page in ("portfolio", "enrollment", "sites", "vendors"):
        at = open_page(monkeypatch, url, page, as_of=as_of.isoformat())
        assert not at.exception, page
        assert "figures published" in visible_text(at), page
        _check_tiles(at, page, document, None)
