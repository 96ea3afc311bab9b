"""Actions and notes of the weekly review (issue 23): the store keeps every change, a past view shows them as they
stood, the Overview adds, edits and closes them, and a user reaches only their own sponsors' trials."""

import hashlib
import re
from datetime import date, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

import tiny_portfolio
from apptest_helpers import html_tables, open_page, page_tables, read, visible_text
from browser_helpers import settle
from dashboard import digest, exports, review
from dashboard.db import make_engine
from dashboard.settings import get_settings
from test_digest import Document

AS_OF = tiny_portfolio.AS_OF
OWNERS = {tiny_portfolio.ACME_USER}
RESPONDS = {"cpi": "Figure: CPI"}


def state(
    text="Call the site about screening",
    owner=tiny_portfolio.ACME_USER,
    due=date(2026, 7, 7),
    status="open",
    responds_to=None,
) -> review.State:
    return review.check_state(
        text=text,
        owner=owner,
        due_date=due,
        status=status,
        responds_to=responds_to,
        owners=OWNERS,
        responds=RESPONDS,
        today=AS_OF,
    )


# --- the store, on SQLite and PostgreSQL ---------------------------------------------------------------------------


def test_every_change_is_kept_and_a_past_moment_shows_the_action_as_it_stood(empty_db_url):
    store = review.Store(make_engine(empty_db_url, read_only=False))
    assert review.migrate(store.engine) == review.migrate(store.engine) == 1  # created once, then left alone
    t0 = datetime(2026, 6, 29, 9, 0)
    trial = review.Target("T-1")
    first = store.create(trial, "ACME", state(), "ann@acme.example", at=t0)
    site = store.create(
        review.Target("T-1", site_number="101"),
        "ACME",
        state("Note on 101", owner=None),
        "pm@acme.example",
        at=t0 + timedelta(hours=1),
    )
    store.create(review.Target("T-2"), "ACME", state("Another trial"), "ann@acme.example", at=t0)
    assert store.change(first, ["T-1"], state(due=date(2026, 7, 14)), "pm@acme.example", at=t0 + timedelta(days=1))
    assert not store.change(first, ["T-1"], state(due=date(2026, 7, 14)), "pm@acme.example", at=t0 + timedelta(days=1))
    assert store.change(
        first, ["T-1"], state(due=date(2026, 7, 14), status="done"), "ann@acme.example", at=t0 + timedelta(days=2)
    )

    now = {a.action_id: a for a in store.actions(["T-1"])}
    assert set(now) == {first, site}  # T-2's is not T-1's
    done = now[first]
    assert done.state.status == "done" and done.state.due_date == date(2026, 7, 14)
    assert [(e.author, e.at, words) for e, words in done.changes()] == [
        ("ann@acme.example", t0, ["created"]),
        ("pm@acme.example", t0 + timedelta(days=1), ["due date: 2026-07-07 → 2026-07-14"]),
        ("ann@acme.example", t0 + timedelta(days=2), ["status: Open → Done"]),
    ]
    assert now[site].state.is_note and now[site].target.kind == "site"

    # As of 29 June (the end of that day): created, open, due 7 July; the note is there, nothing later.
    then = {a.action_id: a for a in store.actions(["T-1"], until=review.end_of(date(2026, 6, 29)))}
    assert set(then) == {first, site}
    assert then[first].state.status == "open" and then[first].state.due_date == date(2026, 7, 7)
    assert then[first].is_overdue(date(2026, 7, 8))
    assert store.actions(["T-1"], until=review.end_of(date(2026, 6, 28))) == []  # a date before any action


def test_an_edit_made_on_a_stale_form_is_refused_rather_than_undoing_another(tmp_path):
    store = review.Store(make_engine(f"sqlite:///{tmp_path / 'r.db'}", read_only=False))
    review.migrate(store.engine)
    action = store.create(review.Target("T-1"), "ACME", state(), "ann@acme.example")
    # Both open the form (one change seen); pm moves the due date; ann, still on the old form, closes it.
    assert store.change(action, ["T-1"], state(due=date(2026, 7, 14)), "pm@acme.example", seen=1)
    with pytest.raises(review.Refused, match=r"pm@acme.example changed #1 .* after you opened it"):
        store.change(action, ["T-1"], state(status="done"), "ann@acme.example", seen=1)
    (kept,) = store.actions(["T-1"])
    assert kept.state.due_date == date(2026, 7, 14) and kept.state.status == "open"


def test_a_migration_that_fails_leaves_the_schema_as_it_was(empty_db_url, monkeypatch):
    from dashboard.db import writable_engine
    from dashboard.review import store as store_module

    def broken(conn):
        store_module._v1(conn)
        raise RuntimeError("the disk filled up")

    engine = writable_engine(empty_db_url, statement_timeout_s=30)
    monkeypatch.setattr(store_module, "MIGRATIONS", (broken,))
    with pytest.raises(RuntimeError):
        review.migrate(engine)
    monkeypatch.undo()
    assert review.migrate(engine) == 1  # the tables were not left half made
    store = review.Store(engine)
    store.create(review.Target("T-1"), "ACME", state(), "ann@acme.example")
    assert len(store.actions(["T-1"])) == 1
    engine.dispose()


def test_the_database_refuses_to_overwrite_or_delete_the_history(empty_db_url):
    store = review.Store(make_engine(empty_db_url, read_only=False))
    review.migrate(store.engine)
    store.create(review.Target("T-1"), "ACME", state(), "ann@acme.example")
    for statement in (
        "UPDATE review_event SET status = 'done'",
        "DELETE FROM review_event",
        "UPDATE review_action SET protocol_number = 'T-2'",
        "DELETE FROM review_action",
    ):
        with pytest.raises(DBAPIError, match="append-only"), store.engine.begin() as conn:
            conn.execute(text(statement))
    assert store.actions(["T-1"])[0].state.status == "open"


def test_an_action_on_a_trial_the_user_cannot_see_cannot_be_changed_and_says_nothing_of_itself(tmp_path):
    store = review.Store(make_engine(f"sqlite:///{tmp_path / 'r.db'}", read_only=False))
    review.migrate(store.engine)
    theirs = store.create(review.Target("X-9"), "OTHER", state(), "olga@other.example")
    with pytest.raises(review.Refused, match="no such action") as refused:
        store.change(theirs, ["T-1", "T-2"], state(status="done"), "ann@acme.example")
    with pytest.raises(review.Refused) as missing:
        store.change(theirs + 100, ["T-1", "T-2"], state(status="done"), "ann@acme.example")
    assert str(refused.value) == str(missing.value)
    assert store.actions(["X-9"])[0].state.status == "open"


# --- what a form may send -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "change, says",
    [
        ({"text": "   "}, "text is empty"),
        ({"text": "x" * 100_000}, "100,000 characters"),
        ({"text": "bell\x07"}, "control characters"),
        ({"owner": "olga@other.example"}, "olga@other.example has no access"),
        ({"owner": "not an address"}, "must be an e-mail"),
        ({"due": None}, "needs a due date"),
        ({"due": date(1999, 12, 31)}, "out of range"),
        ({"due": date(2040, 1, 1)}, "out of range"),
        ({"status": "closed"}, "status must be one of"),
        ({"responds_to": "drop table"}, "figure or a site indicator"),
    ],
)
def test_a_refused_entry_says_why(change, says):
    with pytest.raises(review.Refused, match=says):
        state(**change)


def test_hostile_text_is_kept_as_typed_and_a_note_has_nothing_due():
    hostile = '<script>alert(1)</script> =HYPERLINK("http://evil.example","x") "><img src=x onerror=alert(1)>'
    kept = state(hostile, owner=None, due=date(2026, 7, 7))
    assert kept.text == hostile and kept.owner is None and kept.due_date is None and kept.is_note
    assert state(owner="Ann@ACME.example").owner == "ann@acme.example"


# --- on the Overview ------------------------------------------------------------------------------------------------


@pytest.fixture
def review_url(monkeypatch, tmp_path):
    """A review database of this test's own, and the tiny portfolio's as-of date as today (views of today are editable)."""
    url = f"sqlite:///{tmp_path / 'review.db'}"
    monkeypatch.setenv("DASHBOARD_REVIEW_DATABASE_URL", url)
    monkeypatch.setenv("DASHBOARD_TODAY", AS_OF.isoformat())
    get_settings.cache_clear()
    return url


def _digest(url: str) -> str:
    return hashlib.sha256(Path(url.removeprefix("sqlite:///")).read_bytes()).hexdigest()


def _actions_table(at) -> list[dict]:
    return next(t for t in html_tables(at) if t and "Action or note" in t[0])


def test_the_overview_adds_edits_and_closes_an_action_and_leaves_the_reporting_database_untouched(
    monkeypatch, tiny_url, review_url
):
    before = _digest(tiny_url)
    at = open_page(monkeypatch, tiny_url, "overview", trial="T-1")
    assert not at.exception
    assert "None recorded yet." in visible_text(at)
    about = at.selectbox(key="review_add_about")
    assert about.options[:2] == ["The trial", "Site S1 · Boston General"]
    assert at.selectbox(key="review_add_owner").options[1:] == [tiny_portfolio.ACME_USER]  # only ACME's people

    about.set_value("site|S1|")
    at.text_area(key="review_add_text").input("Ask site S1 why screening stalled <b>now</b>")
    at.selectbox(key="review_add_owner").set_value(tiny_portfolio.ACME_USER)
    at.date_input(key="review_add_due").set_value(date(2026, 7, 3))
    at.selectbox(key="review_add_responds").set_value("site:screen_failure")
    next(b for b in at.button if b.label == "Add").click()
    at.run()
    assert not at.exception
    assert any("Added #1, owned by ann@acme.example." in read(s.value) for s in at.success)
    assert at.text_area(key="review_add_text").value == ""  # the form is empty for the next one
    (row,) = _actions_table(at)
    assert row["Action or note"].startswith("Ask site S1 why screening stalled <b>now</b>")  # text, not markup
    assert "Site S1" in row["Action or note"] and "responds to Site indicator" in row["Action or note"]
    assert row["Owner"] == tiny_portfolio.ACME_USER and row["Status"] == "Open" and "03 Jul 2026" in row["Due"]
    assert "by demo user" in row["Last change"]

    at.selectbox(key="review_edit_1_status").set_value("done")
    next(b for b in at.button if b.label == "Save changes").click()
    at.run()
    assert not at.exception
    assert any("Saved #1." in s.value for s in at.success)
    text = visible_text(at)
    assert "0 open actions (0 overdue) · 1 done or dropped" in text
    assert "status: Open → Done" in text and "created" in text
    assert _digest(tiny_url) == before


def test_a_past_view_shows_the_actions_as_they_stood_and_cannot_change_them(monkeypatch, tiny_url, review_url):
    store = review.open_store(review_url)
    action = store.create(
        review.Target("T-1"), "ACME", state(due=date(2026, 6, 20)), "ann@acme.example", at=datetime(2026, 6, 10, 12, 0)
    )
    store.change(
        action,
        ["T-1"],
        state(due=date(2026, 6, 20), status="done"),
        "ann@acme.example",
        at=datetime(2026, 6, 25, 12, 0),
    )
    then = open_page(monkeypatch, tiny_url, "overview", trial="T-1", as_of="2026-06-21")
    assert not then.exception
    (row,) = _actions_table(then)
    assert row["Status"] == "Overdue"  # open then, and due the day before
    assert "switch the as-of date to today" in visible_text(then)
    assert not [b for b in then.button if b.label in ("Add", "Save changes")]
    now = open_page(monkeypatch, tiny_url, "overview", trial="T-1")
    assert "0 open actions (0 overdue) · 1 done or dropped" in visible_text(now)
    before_any = open_page(monkeypatch, tiny_url, "overview", trial="T-1", as_of="2026-06-01")
    assert "None recorded yet." in visible_text(before_any)


def test_a_user_sees_and_owns_actions_only_on_their_own_sponsors_trials(monkeypatch, tiny_url, review_url):
    store = review.open_store(review_url)
    store.create(review.Target("X-9"), "OTHER", state("Other sponsor's secret"), "olga@other.example")
    store.create(review.Target("T-1"), "ACME", state("ACME's own"), "ann@acme.example")
    mine = open_page(monkeypatch, tiny_url, "overview", user=tiny_portfolio.ACME_USER, trial="T-1")
    assert not mine.exception
    shown = [r["Action or note"] for r in _actions_table(mine)]
    assert len(shown) == 1 and shown[0].startswith("ACME's own")
    assert mine.selectbox(key="review_add_owner").options[1:] == [tiny_portfolio.ACME_USER]
    # Another sponsor's trial by URL: no trial, no actions, no form.
    theirs = open_page(monkeypatch, tiny_url, "overview", user=tiny_portfolio.ACME_USER, trial="X-9")
    assert "secret" not in visible_text(theirs) and not any("secret" in str(t) for t in html_tables(theirs))
    assert not [b for b in theirs.button if b.label == "Add"]


# --- in a real browser ----------------------------------------------------------------------------------------------


def test_in_a_browser_an_action_is_added_edited_and_closed_and_survives_a_restart(page, app_server, tiny_url, tmp_path):
    url = f"sqlite:///{tmp_path / 'review.db'}"
    env = {"DASHBOARD_TODAY": AS_OF.isoformat(), "DASHBOARD_REVIEW_DATABASE_URL": url}
    base = app_server(tiny_url, **env)
    page.goto(f"{base}/overview?trial=T-1")
    settle(page)
    main = page.get_by_test_id("stMain")
    add = main.get_by_test_id("stForm").last
    add.get_by_label("What was decided or noted").fill("Chase the LPI plan <script>alert(1)</script>")
    add.get_by_test_id("stSelectbox").nth(1).click()  # About, Owner, Responds to
    page.get_by_role("option", name=tiny_portfolio.ACME_USER).click()
    due_day = add.get_by_role("spinbutton", name="day, Due (actions only)")  # a week ahead by default: the 7th
    due_day.click()
    page.keyboard.type("03")
    expect(due_day).to_have_text("03")
    add.get_by_role("button", name="Add").click()
    main.get_by_text("Added #1, owned by ann@acme.example.").wait_for()
    settle(page)
    table = main.locator("table", has_text="Action or note")
    expect(table).to_contain_text("Chase the LPI plan <script>alert(1)</script>")  # shown as text
    expect(table).to_contain_text("03 Jul 2026")

    box = main.get_by_test_id("stExpander").filter(has_text="#1 Chase the LPI plan")  # its history and edit form
    box.get_by_text("#1 Chase the LPI plan").click()
    edit = box.get_by_test_id("stForm")
    edit.get_by_role("button", name="Save changes").wait_for()
    settle(page)
    status = edit.get_by_test_id("stSelectbox").nth(1)  # Owner, Status, Responds to
    option = page.get_by_role("option", name="Done")
    for _ in range(3):  # a click while the opened expander still settles may not open the list: click again
        status.click()
        try:
            option.wait_for(timeout=5000)
            break
        except PlaywrightTimeout:
            continue
    option.click()
    edit.get_by_role("button", name="Save changes").click()
    main.get_by_text("Saved #1.").wait_for()
    settle(page)
    expect(main).to_contain_text("0 open actions (0 overdue) · 1 done or dropped")

    restarted = app_server(tiny_url, **env)
    page.goto(f"{restarted}/overview?trial=T-1")
    settle(page)
    expect(main).to_contain_text("0 open actions (0 overdue) · 1 done or dropped")
    main.get_by_text("#1 Chase the LPI plan").click()
    expect(main).to_contain_text("status: Open → Done")
    expect(main).to_contain_text("by demo user")


# --- in the status e-mail -------------------------------------------------------------------------------------------


@pytest.fixture
def seeded(monkeypatch, tmp_path):
    """A review database with actions on T-1 as of 30 June: two overdue (one closed only on 2 July), one due in the
    week ahead at site S1, one due later, one done, a note, and another sponsor's on X-9."""
    url = f"sqlite:///{tmp_path / 'review.db'}"
    monkeypatch.setenv("DASHBOARD_REVIEW_DATABASE_URL", url)
    monkeypatch.setenv("DASHBOARD_PUBLIC_BASE_URL", "https://dash.example")
    get_settings.cache_clear()
    store = review.open_store(url)
    day = lambda d: datetime(2026, 6, d, 9, 0)  # noqa: E731

    def add(target, text, due, at, sponsor="ACME", owner=tiny_portfolio.ACME_USER):
        return store.create(target, sponsor, state(text, owner=owner, due=due), "ann@acme.example", at=at)

    add(review.Target("T-1"), "Overdue <script>x</script> plan", date(2026, 6, 25), day(20))
    add(review.Target("T-1", site_number="S1"), "Due at S1 this week", date(2026, 7, 3), day(21))
    add(review.Target("T-1"), "Due later", date(2026, 7, 20), day(21))
    done = add(review.Target("T-1"), "Done already", date(2026, 6, 26), day(21))
    store.change(
        done, ["T-1"], state("Done already", due=date(2026, 6, 26), status="done"), "ann@acme.example", at=day(28)
    )
    closed_later = add(review.Target("T-1"), "Closed after the view's date", date(2026, 6, 29), day(22))
    store.change(
        closed_later,
        ["T-1"],
        state("Closed after the view's date", due=date(2026, 6, 29), status="done"),
        "ann@acme.example",
        at=datetime(2026, 7, 2, 9, 0),
    )
    add(
        review.Target("X-9"), "Other sponsor's overdue", date(2026, 6, 1), day(1), sponsor="OTHER", owner=None
    )  # a note on another sponsor's trial
    add(review.Target("T-1"), "A note", None, day(23), owner=None)
    return url


def test_the_email_lists_the_overdue_and_due_actions_the_overview_shows_with_links_to_them(
    monkeypatch, tiny_url, tmp_path, seeded
):
    out = tmp_path / "digest.html"
    assert (
        digest.main(
            ["--as-of", AS_OF.isoformat(), "--user", tiny_portfolio.ACME_USER, "--out", str(out), "--url", tiny_url]
        )
        == 0
    )
    mail = Document(out.read_text(encoding="utf-8"))
    text = mail.text
    assert "2 overdue actions:" in text and "1 action due in the week ahead:" in text
    assert "Overdue <script>x</script> plan" in text and "script" not in mail.tags  # text, not markup
    assert "Closed after the view's date" in text  # still open at the end of 30 June
    for absent in ("Due later", "Done already", "Other sponsor", "A note"):
        assert absent not in text
    (site_link,) = [link for link in mail.links if link.startswith("https://dash.example/sites?") and "site=S1" in link]
    params = {key: values[-1] for key, values in parse_qs(urlsplit(site_link).query).items()}
    assert params["trial"] == "T-1" and params["as_of"] == AS_OF.isoformat()
    opened = open_page(monkeypatch, tiny_url, "sites", **params)  # the link opens the site with its action
    assert not opened.exception
    assert [r["Action or note"].split(" Site S1")[0] for r in _actions_table(opened)] == ["Due at S1 this week"]

    page = open_page(monkeypatch, tiny_url, "overview", trial="T-1", as_of=AS_OF.isoformat())
    rows = _actions_table(page)
    overdue_on_page = sorted(r["Action or note"] for r in rows if r["Status"] == "Overdue")
    assert len(overdue_on_page) == 2
    assert overdue_on_page[0].startswith("Closed after the view's date")
    assert overdue_on_page[1].startswith("Overdue <script>x</script> plan")


def test_the_portfolio_counts_the_open_actions_the_overview_and_the_email_count(
    monkeypatch, tiny_url, tmp_path, seeded
):
    portfolio = open_page(monkeypatch, tiny_url, "portfolio", sponsor="ACME", as_of=AS_OF.isoformat())
    assert not portfolio.exception
    rows = {r["Trial"]: r for r in next(t for t in html_tables(portfolio) if t and "Why (red and amber)" in t[0])}
    # Open on 30 June: the two overdue, the one due at S1 and the one due later; and the note.
    assert "4 open actions (2 overdue) · 1 note" in rows["T-1"]["Why (red and amber)"]
    assert "done or dropped" not in rows["T-1"]["Why (red and amber)"]  # what is still to do, not what is closed
    assert "open action" not in rows["T-2"]["Why (red and amber)"]
    overview = open_page(monkeypatch, tiny_url, "overview", trial="T-1", as_of=AS_OF.isoformat())
    assert "4 open actions (2 overdue) · 1 note · 1 done or dropped." in visible_text(overview)
    assert "Weekly review: 4 open actions (2 overdue) · 1 note, listed under" in visible_text(overview)  # at the top
    out = tmp_path / "digest.html"
    assert (
        digest.main(
            ["--as-of", AS_OF.isoformat(), "--user", tiny_portfolio.ACME_USER, "--out", str(out), "--url", tiny_url]
        )
        == 0
    )
    assert "2 overdue actions:" in Document(out.read_text(encoding="utf-8")).text


def test_a_formula_typed_into_an_action_is_exported_as_text(monkeypatch, tiny_url, review_url):
    formula = '=HYPERLINK("http://evil.example","click")'
    review.open_store(review_url).create(review.Target("T-1"), "ACME", state(formula), "ann@acme.example")
    at = open_page(monkeypatch, tiny_url, "overview", trial="T-1")
    actions = page_tables(at)["Actions"]  # the CSV's rows and the workbook's sheet
    assert list(actions["text"]) == [formula] and list(actions["owner"]) == [tiny_portfolio.ACME_USER]
    assert exports.neutralise(actions)["text"].iloc[0] == "'" + formula  # shown as typed, never run


def test_a_sites_drill_down_and_the_vendors_page_record_actions_about_a_site_and_a_milestone(
    monkeypatch, tiny_url, review_url
):
    site = open_page(monkeypatch, tiny_url, "sites", trial="T-1", site="S1")
    assert not site.exception
    assert "review_add_about" not in [w.key for w in site.selectbox]  # about this site, nothing to choose
    site.text_area(key="review_add_text").input("Monitor visit at S1")
    site.selectbox(key="review_add_owner").set_value(tiny_portfolio.ACME_USER)
    next(b for b in site.button if b.label == "Add").click()
    site.run()
    assert not site.exception and any("Added #1" in read(s.value) for s in site.success)

    vendors = open_page(monkeypatch, tiny_url, "vendors", trial="T-1")
    assert not vendors.exception
    about = vendors.selectbox(key="review_add_about")
    assert about.options and all(o.startswith("Milestone · ") for o in about.options)  # milestones only
    assert "Monitor visit at S1" not in str(html_tables(vendors))
    about.set_value("milestone||LPI")
    vendors.text_area(key="review_add_text").input("Agree an LPI recovery plan with the CRO")
    vendors.selectbox(key="review_add_owner").set_value("")  # nobody: a note
    next(b for b in vendors.button if b.label == "Add").click()
    vendors.run()
    assert not vendors.exception and any("Added #2 as a note." in read(s.value) for s in vendors.success)
    (row,) = _actions_table(vendors)
    assert (
        row["Action or note"].startswith("Agree an LPI recovery plan")
        and "Milestone · Last patient in" in row["Action or note"]
    )
    assert row["Owner"] == "— (a note)"

    other_site = open_page(monkeypatch, tiny_url, "sites", trial="T-1", site="S2")
    assert "Monitor visit" not in str(html_tables(other_site))
    overview = open_page(monkeypatch, tiny_url, "overview", trial="T-1")
    about_column = {r["Action or note"] for r in _actions_table(overview)}
    assert any("Monitor visit at S1" in r and "Site S1 · Boston General" in r for r in about_column)
    assert any("Agree an LPI recovery plan" in r and "Milestone · Last patient in" in r for r in about_column)


def test_when_the_review_database_fails_the_pages_and_the_email_go_on_without_actions(
    monkeypatch, tiny_url, tmp_path, caplog
):
    monkeypatch.setenv("DASHBOARD_REVIEW_DATABASE_URL", "sqlite:////proc/no-such-place/review.db")  # cannot be made
    get_settings.cache_clear()
    for page, params in (
        ("overview", {"trial": "T-1"}),
        ("portfolio", {}),
        ("sites", {"trial": "T-1", "site": "S1"}),
        ("vendors", {"trial": "T-1"}),
    ):
        at = open_page(monkeypatch, tiny_url, page, as_of=AS_OF.isoformat(), **params)
        assert not at.exception, page
        (warning,) = [w.value for w in at.warning if "review database is not answering" in w.value]
        assert "the figures are not affected" in warning and re.search(r"reference [0-9a-f]{8}", warning)
        assert at.metric or html_tables(at), page  # the page's figures are still there
    out = tmp_path / "digest.html"
    assert (
        digest.main(
            ["--as-of", AS_OF.isoformat(), "--user", tiny_portfolio.ACME_USER, "--out", str(out), "--url", tiny_url]
        )
        == 0
    )
    assert "The review database could not be read" in Document(out.read_text(encoding="utf-8")).text
