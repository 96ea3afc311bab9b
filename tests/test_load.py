"""Loading a folder of contract CSV files: round trip, every kind of mistake, idempotence, replace, interruption.

Sources: the hand-counted tiny portfolio and the demo portfolio, each exported as contract CSVs.
A failed load must leave the database exactly as it was: checked by row counts and a checksum.
"""

from __future__ import annotations

import csv
import hashlib
import re
import shutil
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import create_engine, func, inspect, select, text
from sqlalchemy.pool import NullPool

import queries
import tiny_portfolio
from dashboard import contract, demo, load, schema
from dashboard.access import Scope
from dashboard.db import make_engine
from test_rollups import assert_roll_up_is_current

REPO_DIR = Path(__file__).resolve().parent.parent
TODAY = date(2026, 11, 20)


def export(url: str, folder: Path) -> Path:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            contract.export_csv(conn, folder)
    finally:
        engine.dispose()
    return folder


def snapshot(url: str) -> dict[str, tuple[int, str]]:
    """Rows and a checksum of every table (load_log too): equal snapshots mean an unchanged database."""
    engine = create_engine(url, poolclass=NullPool)
    out = {}
    try:
        with engine.connect() as conn:
            existing = set(inspect(conn).get_table_names())
            for table in schema.TABLES:
                if table.name not in existing:
                    continue
                rows = conn.execute(select(table).order_by(*table.primary_key.columns)).all()
                out[table.name] = (len(rows), hashlib.sha256(repr([tuple(r) for r in rows]).encode()).hexdigest())
    finally:
        engine.dispose()
    return out


def data_only(shot: dict) -> dict:
    return {name: value for name, value in shot.items() if name != "load_log"}


def count(url: str, sql: str) -> int:
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return conn.execute(text(sql)).scalar()
    finally:
        engine.dispose()


def run(capsys, folder: Path, url: str, *options: str) -> tuple[int, str, str]:
    """The command line, in process: (exit code, stdout, stderr)."""
    code = load.main([str(folder), "--url", url, *options])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def problem_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if re.match(r"^\S+\.csv(:\d+)?: ", line)]


def rows_of(path: Path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def write_rows(path: Path, rows: list[list[str]]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle, lineterminator="\n").writerows(rows)


def set_value(folder: Path, file: str, line: int, column: str, value: str) -> None:
    """Set one value; `line` counts as the loader does (1 = the header)."""
    rows = rows_of(folder / file)
    rows[line - 1][rows[0].index(column)] = value
    write_rows(folder / file, rows)


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory) -> Path:
    """The tiny portfolio as contract CSVs (export of tests/tiny_portfolio.py)."""
    workdir = tmp_path_factory.mktemp("tiny")
    url = f"sqlite:///{workdir / 'tiny.db'}"
    tiny_portfolio.build(url)
    return export(url, workdir / "csv")


@pytest.fixture(scope="module")
def tiny_db_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("tiny-db") / "tiny.db"
    tiny_portfolio.build(f"sqlite:///{path}")
    return path


@pytest.fixture
def tiny_db(tiny_db_file, tmp_path) -> str:
    """A SQLite database holding the tiny portfolio, for a load to change (or not)."""
    target = tmp_path / "target.db"
    shutil.copyfile(tiny_db_file, target)
    return f"sqlite:///{target}"


@pytest.fixture
def folder(tiny_folder, tmp_path) -> Path:
    """A copy of the tiny portfolio's CSVs for one test to edit."""
    return Path(shutil.copytree(tiny_folder, tmp_path / "csv"))


@pytest.fixture(scope="module")
def demo_source(tmp_path_factory) -> tuple[str, Path]:
    """The demo portfolio (7 trials) in SQLite, and the same portfolio written by `python -m dashboard.demo --csv`."""
    workdir = tmp_path_factory.mktemp("demo")
    url = f"sqlite:///{workdir / 'demo.db'}"
    demo.build(url, seed=3, n_trials=7, today=TODAY)
    folder = workdir / "csv"
    assert demo.main(["--csv", str(folder), "--seed", "3", "--trials", "7", "--today", TODAY.isoformat()]) == 0
    return url, folder


# Round trip


def scopes(conn) -> list[Scope]:
    """The scopes of test_queries, by sponsor code (ids may differ between the databases)."""
    ids = dict(conn.execute(select(schema.sponsor.c.sponsor_code, schema.sponsor.c.sponsor_id)).all())
    everything = Scope(sponsor_ids=tuple(sorted(ids.values())), as_of=TODAY, since=date(2026, 11, 13))
    return [
        everything,
        everything.replace(as_of=date(2025, 11, 20), since=date(2025, 11, 13)),
        everything.replace(trial=demo.BIG_TRIAL),
        everything.replace(sponsor_ids=(ids[demo.MAIN_SPONSOR],), phase="III"),
    ]


def test_demo_to_csv_to_an_empty_database_gives_the_same_frames_for_every_query(demo_source, empty_db_url, capsys):
    source_url, folder = demo_source
    code, out, err = run(capsys, folder, empty_db_url, "--source", "round trip")
    assert code == 0, err
    assert "from round trip" in out
    original, loaded = make_engine(source_url), make_engine(empty_db_url)
    functions = [q for module in queries.MODULES for q in module.QUERIES]
    assert len(functions) >= 6
    try:
        with original.connect() as left_conn, loaded.connect() as right_conn:
            for query in functions:
                sizes = []
                for left_scope, right_scope in zip(scopes(left_conn), scopes(right_conn)):
                    left, right = query(left_conn, left_scope), query(right_conn, right_scope)
                    if query is queries.portfolio.freshness:
                        assert len(right) == 1, "the load was not recorded"
                        continue
                    pd.testing.assert_frame_equal(left, right, check_exact=False, rtol=1e-9, obj=query.__name__)
                    sizes.append(len(left))
                # The whole portfolio today has rows for every query (a narrower view may rightly be empty); a query
                # about one trial has them for the big trial's scope.
                if query is not queries.portfolio.freshness:
                    size = sizes[2] if query in queries.review.ONE_TRIAL else sizes[0]
                    assert size > 0, f"{query.__name__} compared nothing"
    finally:
        original.dispose()
        loaded.dispose()


# Each kind of mistake: the message names the file, line and column; nothing is written.


def _drop_file(name):
    return lambda folder: (folder / name).unlink()


def _append_copy_of(file, line):
    def edit(folder):
        rows = rows_of(folder / file)
        write_rows(folder / file, rows + [rows[line - 1]])

    return edit


def _append_lowercase_copy(file, line, column):
    def edit(folder):
        rows = rows_of(folder / file)
        copy = list(rows[line - 1])
        copy[rows[0].index(column)] = copy[rows[0].index(column)].lower()
        write_rows(folder / file, rows + [copy])

    return edit


def _add_column(file, name):
    def edit(folder):
        rows = rows_of(folder / file)
        write_rows(folder / file, [rows[0] + [name]] + [r + ["x"] for r in rows[1:]])

    return edit


def _drop_column(file, name):
    def edit(folder):
        rows = rows_of(folder / file)
        i = rows[0].index(name)
        write_rows(folder / file, [r[:i] + r[i + 1 :] for r in rows])

    return edit


def _set(file, line, column, value):
    return lambda folder: set_value(folder, file, line, column, value)


def _both(*edits):
    def edit(folder):
        for e in edits:
            e(folder)

    return edit


def _latin1_site_name(folder):
    rows = rows_of(folder / "site.csv")
    with open(folder / "site.csv", "w", newline="", encoding="latin-1") as handle:
        csv.writer(handle, lineterminator="\n").writerows(rows)  # Charité, as Excel's plain CSV writes it


def _extra_value(folder):
    with open(folder / "country.csv", "a", encoding="utf-8") as handle:
        handle.write("FR,France,Europe,Paris\n")


def _new_contract_and_spend_from_another_contracts_change_order(folder):
    with open(folder / "contract.csv", "a", encoding="utf-8") as handle:
        handle.write("T-2,CMO1,C-2,2026-01-01,500.00,2027-01-01\n")
    with open(folder / "planned_spend.csv", "a", encoding="utf-8") as handle:
        handle.write("C-2,CO-1,2026-06-01,service_fee,10.00\n")


BAD_INPUTS = [
    # (what, edit, the problem line expected on stderr)
    (
        "not a whole number",
        _set("trial.csv", 2, "n_planned_sites", "ten"),
        "trial.csv:2: n_planned_sites: must be a whole number, digits only; got 'ten'",
    ),
    (
        "not an ISO date",
        _set("subject.csv", 3, "screened_date", "15/02/2026"),
        "subject.csv:3: screened_date: must be a date written YYYY-MM-DD",
    ),
    (
        "required value empty",
        _set("site.csv", 3, "site_name", ""),
        "site.csv:3: site_name: is required: the value may not be empty",
    ),
    (
        "value not allowed",
        _set("trial.csv", 3, "phase", "3"),
        "trial.csv:3: phase: must be one of 'I', 'II', 'III', 'IV'; got '3'",
    ),
    (
        "unknown column",
        _add_column("site.csv", "site_nmae"),
        "site.csv:1: site_nmae: unknown column (did you mean site_name?)",
    ),
    ("column missing", _drop_column("country.csv", "region"), "country.csv:1: region: is missing from the header"),
    ("required file missing", _drop_file("trial.csv"), "trial.csv: the file is missing: it is required"),
    (
        "misspelt file name",
        lambda f: (f / "site.csv").rename(f / "sites.csv"),
        "sites.csv: is not a file of the contract (did you mean site.csv?)",
    ),
    (
        "duplicate key",
        _append_copy_of("subject.csv", 2),
        "subject.csv:10: subject_number: duplicate key (protocol_number 'T-1', subject_number '001'): line 2 has the same",
    ),
    (
        "reference to a row in neither the files nor the database",
        _set("visit.csv", 2, "subject_number", "999"),
        "visit.csv:2: subject_number: no subject (protocol_number 'T-1', subject_number '999') in subject.csv or in the database",
    ),
    (
        "reference to an unknown country",
        _set("site.csv", 2, "country_code", "FR"),
        "site.csv:2: country_code: no country 'FR' in country.csv or in the database",
    ),
    (
        "reference to a milestone of the same file",
        _set("milestone.csv", 6, "precedes_milestone_code", "FIRST_SITE"),
        "milestone.csv:6: precedes_milestone_code: no milestone (protocol_number 'T-2', precedes_milestone_code 'FIRST_SITE')",
    ),
    (
        "enrolled before screened",
        _set("subject.csv", 2, "enrolled_date", "2026-01-20"),
        "subject.csv:2: enrolled_date: 2026-01-20 is before screened_date 2026-02-01",
    ),
    (
        "screen-failed and enrolled",
        _set("subject.csv", 3, "enrolled_date", "2026-02-25"),
        "subject.csv:3: enrolled_date: a subject who failed screening is never enrolled",
    ),
    (
        "closed before activated",
        _set("site.csv", 2, "closed_date", "2026-01-01"),
        "site.csv:2: closed_date: 2026-01-01 is before activated_date 2026-01-15",
    ),
    (
        "entered before the visit",
        _set("visit.csv", 2, "entered_date", "2026-02-01"),
        "visit.csv:2: entered_date: 2026-02-01 is before visit_date 2026-02-10",
    ),
    (
        "negative amount",
        _set("contract.csv", 2, "contracted_amount", "-1000.00"),
        "contract.csv:2: contracted_amount: must not be negative; got '-1000.00'",
    ),
    (
        "negative count",
        _set("trial.csv", 2, "n_planned_subjects", "-5"),
        "trial.csv:2: n_planned_subjects: must not be negative; got '-5'",
    ),
    (
        "amount with a thousands separator",
        _set("unit_price.csv", 2, "unit_price_amount", "1,000.00"),
        "unit_price.csv:2: unit_price_amount: must be a number with '.' for decimals",
    ),
    (
        "month not on its first day",
        _set("enrollment_plan.csv", 2, "month_date", "2026-01-31"),
        "enrollment_plan.csv:2: month_date: must be the first day of a month (2026-01-01), not 2026-01-31",
    ),
    (
        "approved change order without a date",
        _set("change_order.csv", 2, "approved_date", ""),
        "change_order.csv:2: approved_date: is required when change_order_status is approved",
    ),
    ("a row with a value too many", _extra_value, "country.csv:4: the row has 4 values but the header has 3 columns"),
    ("not UTF-8", _latin1_site_name, "site.csv:"),
    (
        "a trial moved from another sponsor",
        _set("trial.csv", 4, "sponsor_code", "ACME"),
        "trial.csv:4: protocol_number: trial 'X-9' belongs to sponsor OTHER in the database, not to ACME",
    ),
    (
        "a second contract for a trial and vendor",
        _set("contract.csv", 2, "contract_number", "C-9"),
        "contract.csv:2: contract_number: the database already has contract 'C-1' for (protocol_number 'T-1', vendor_code 'CRO1')",
    ),
    (
        "spend of a change order of another contract",
        _new_contract_and_spend_from_another_contracts_change_order,
        "planned_spend.csv:7: change_order_number: change_order 'CO-1' belongs to contract 'C-1', not to 'C-2'",
    ),
    # Issue 22: what the database could not store, or would store wrongly, is refused before anything is written.
    (
        "a NUL byte",
        _set("site.csv", 2, "site_name", "Boston\x00General"),
        "site.csv:2: site_name: contains a control character (U+0000, NUL) at position 7: remove it",
    ),
    (
        "a control character",
        _set("vendor.csv", 3, "vendor_name", "Fill\x1bFinish"),
        "vendor.csv:3: vendor_name: contains a control character (U+001B) at position 5",
    ),
    (
        "a record over two lines is named by its first",
        _both(
            _set("trial.csv", 2, "trial_title", "Tiny\noncology study"), _set("trial.csv", 2, "n_planned_sites", "ten")
        ),
        "trial.csv:2: n_planned_sites: must be a whole number",
    ),
    (
        "the next record's line after a two-line one",
        _both(_set("trial.csv", 2, "trial_title", "Tiny\noncology study"), _set("trial.csv", 3, "phase", "3")),
        "trial.csv:4: phase: must be one of",
    ),
    (
        "a key that differs only in case in the files",
        _append_lowercase_copy("site.csv", 2, "site_number"),
        "site.csv:7: site_number: (protocol_number 'T-1', site_number 's1') differs only in case from "
        "(protocol_number 'T-1', site_number 'S1') on line 2",
    ),
    (
        "a key that differs only in case from the database's",
        _set("vendor.csv", 2, "vendor_code", "cro1"),
        "vendor.csv:2: vendor_code: 'cro1' differs only in case from 'CRO1' in the database",
    ),
    (
        "a code no link can carry",
        _set("sponsor.csv", 3, "sponsor_code", "OTHER CO"),
        "sponsor.csv:3: sponsor_code: must be letters, digits, '.', '_' or '-'",
    ),
    (
        "a year mistyped",
        _set("visit.csv", 2, "visit_date", "2999-02-10"),
        "visit.csv:2: visit_date: 2999-02-10 is more than 30 years ahead: check the year",
    ),
    (
        "a shared vendor renamed by a sponsor's feed",
        _set("vendor.csv", 2, "vendor_name", "Renamed by ACME"),
        "vendor.csv:2: vendor_name: vendor 'CRO1' is shared by every sponsor and is loaded with vendor_name "
        "'Global Clinical CRO', not 'Renamed by ACME': only a load with --reference changes shared reference data",
    ),
]


@pytest.mark.parametrize(("edit", "expected"), [case[1:] for case in BAD_INPUTS], ids=[case[0] for case in BAD_INPUTS])
def test_a_mistake_is_reported_with_file_line_and_column_and_nothing_is_written(
    folder, tiny_db, capsys, edit, expected
):
    edit(folder)
    before = snapshot(tiny_db)
    code, out, err = run(capsys, folder, tiny_db)
    assert code == 1
    assert expected in err, err
    assert "nothing was written" in err
    assert "Traceback" not in err and out == ""
    assert snapshot(tiny_db) == before


def test_the_tiny_folder_itself_loads_cleanly_into_the_tiny_database(folder, tiny_db, capsys):
    """The cases above fail only by their edit: the unedited folder changes nothing."""
    before = snapshot(tiny_db)
    code, out, err = run(capsys, folder, tiny_db)
    assert code == 0, err
    assert "total" in out and out.split("total")[1].split()[1:4] == ["0", "0", "0"]
    assert data_only(snapshot(tiny_db)) == data_only(before)


def test_not_utf8_says_how_to_save_the_file(folder, tiny_db, capsys):
    _latin1_site_name(folder)
    code, _, err = run(capsys, folder, tiny_db)
    assert code == 1
    assert "site.csv:3: is not UTF-8 text: save the file as UTF-8" in err


def test_every_problem_of_every_file_in_one_run(folder, tiny_db, capsys):
    set_value(folder, "trial.csv", 2, "phase", "2")
    set_value(folder, "visit.csv", 3, "visit_date", "2026-13-01")
    (folder / "deviation.csv").write_text("protocol_number,site_number\n")
    code, _, err = run(capsys, folder, tiny_db)
    assert code == 1
    assert "trial.csv:2: phase:" in err
    assert "visit.csv:3: visit_date: is not a date of the calendar; got '2026-13-01'" in err
    assert "deviation.csv:1: deviation_number: is missing from the header" in err
    assert "problems in" in err


def test_one_bad_value_gives_one_problem_not_a_cascade(folder, tiny_db, capsys):
    """A trial row with a bad phase still counts as the trial its sites and subjects refer to."""
    set_value(folder, "trial.csv", 2, "phase", "2")
    code, _, err = run(capsys, folder, tiny_db, "--mode", "replace")
    assert code == 1
    assert problem_lines(err) == ["trial.csv:2: phase: must be one of 'I', 'II', 'III', 'IV'; got '2'"]


def test_problems_are_capped_with_a_count_of_the_rest(folder, tiny_db, capsys):
    n = load.MAX_SHOWN + 12
    with open(folder / "deviation.csv", "a", encoding="utf-8") as handle:
        for i in range(n):
            handle.write(f"T-1,S1,,PD-{i},2026-02-30,,,true,\n")  # no 30 February
    code, _, err = run(capsys, folder, tiny_db)
    assert code == 1
    shown = [line for line in err.splitlines() if line.startswith("deviation.csv:")]
    assert len(shown) == load.MAX_SHOWN
    assert shown[0].endswith("deviation_date: is not a date of the calendar; got '2026-02-30'")
    assert "… and 12 more problems" in err
    assert f"deviation.csv: deviation_date: {n}" in err
    assert f"{n} problems in" in err


def test_usage_errors_exit_2_with_one_line(tmp_path, capsys):
    code, _, err = run(capsys, tmp_path / "nowhere", f"sqlite:///{tmp_path / 'x.db'}")
    assert code == 2 and "is not a folder" in err and "Traceback" not in err
    code, _, err = run(capsys, tmp_path, "mysql://localhost/x")
    assert code == 2 and "unsupported database" in err


# Idempotence, updates, dry run


def test_loading_the_same_folder_twice_changes_nothing_the_second_time(tiny_folder, empty_db_url):
    first = load.load(empty_db_url, tiny_folder)
    assert first.ok
    assert sum(c.inserted for c in first.counts.values()) == sum(first.plan.rows.values()) > 50
    after_first = snapshot(empty_db_url)
    second = load.load(empty_db_url, tiny_folder)
    assert second.ok
    assert [(c.inserted, c.updated, c.deleted) for c in second.counts.values()] == [(0, 0, 0)] * len(second.counts)
    after_second = snapshot(empty_db_url)
    assert data_only(after_second) == data_only(after_first)
    assert after_second["load_log"][0] == after_first["load_log"][0] + 1  # the load itself is logged


def test_a_changed_value_updates_that_row_only(folder, tiny_db):
    set_value(folder, "site.csv", 3, "investigator_name", "Dr. New")
    set_value(folder, "milestone.csv", 6, "precedes_milestone_code", "")  # SITE_SUPPLY_READY precedes nothing now
    result = load.load(tiny_db, folder)
    assert result.ok
    changed = {name: (c.inserted, c.updated) for name, c in result.counts.items() if c.inserted or c.updated}
    assert changed == {"site": (0, 1), "milestone": (0, 1)}
    assert count(tiny_db, "SELECT COUNT(*) FROM milestone WHERE precedes_milestone_id IS NOT NULL") == 0


def test_the_load_log_feeds_the_freshness_line(folder, tiny_db):
    result = load.load(tiny_db, folder, source="CTMS nightly")
    engine = make_engine(tiny_db)
    with engine.connect() as conn:
        latest = queries.portfolio.freshness(conn, Scope(sponsor_ids=(1,), as_of=TODAY, since=TODAY))
    engine.dispose()
    assert list(latest.columns) == ["loaded_at"], "a load's source may name sponsors: the line shows only the time"
    assert latest["loaded_at"].iloc[0].to_pydatetime().replace(microsecond=0) == result.loaded_at.replace(microsecond=0)


def test_a_dry_run_counts_but_writes_nothing_not_even_the_schema(tiny_folder, tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'new.db'}"
    code, out, err = run(capsys, tiny_folder, url, "--dry-run")
    assert code == 0, err
    assert "Dry run" in out and "Nothing was written." in out
    assert count(url, "SELECT COUNT(*) FROM sqlite_master") == 0


# Replace


def sponsor_folder(source: Path, target: Path, sponsor_code: str) -> Path:
    """The files of one sponsor only (countries and vendors whole)."""
    target.mkdir()
    trials = {r[1] for r in rows_of(source / "trial.csv")[1:] if r[0] == sponsor_code}
    contracts = {r[2] for r in rows_of(source / "contract.csv")[1:] if r[0] in trials}
    for path in source.iterdir():
        rows = rows_of(path)
        header, kept = rows[0], rows[1:]
        for column, allowed in (
            ("sponsor_code", {sponsor_code}),
            ("protocol_number", trials),
            ("contract_number", contracts),
        ):
            if column in header:
                at = header.index(column)
                kept = [r for r in kept if r[at] in allowed]
                break
        write_rows(target / path.name, [header] + kept)
    return target


def drop_rows(path: Path, column: str, value: str) -> None:
    rows = rows_of(path)
    i = rows[0].index(column)
    write_rows(path, [rows[0]] + [r for r in rows[1:] if r[i] != value])


def test_replace_swaps_one_sponsors_data_and_leaves_the_others_and_shared_vendors(tiny_folder, tiny_db, tmp_path):
    acme = sponsor_folder(tiny_folder, tmp_path / "acme", "ACME")
    for file in ("trial.csv", "site.csv", "enrollment_plan.csv", "milestone.csv", "milestone_forecast.csv"):
        drop_rows(acme / file, "protocol_number", "T-2")  # ACME drops its trial T-2
    set_value(acme, "site.csv", 2, "site_name", "Boston General (renamed)")
    other_before = snapshot_of_trial(tiny_db, "X-9")
    result = load.load(tiny_db, acme, mode="replace")
    assert result.ok, result.plan.problems.lines()
    assert result.counts["trial"].deleted == 2 and result.counts["trial"].inserted == 1
    assert count(tiny_db, "SELECT COUNT(*) FROM trial WHERE protocol_number = 'T-2'") == 0
    assert count(tiny_db, "SELECT COUNT(*) FROM site WHERE site_name = 'Boston General (renamed)'") == 1
    assert snapshot_of_trial(tiny_db, "X-9") == other_before
    # CMO1 worked only on T-2, CRO1 works for the other sponsor too: vendors are shared, both stay.
    assert count(tiny_db, "SELECT COUNT(*) FROM vendor") == 2
    assert count(tiny_db, "SELECT COUNT(*) FROM user_access") == 2  # the grants of both sponsors
    assert_roll_up_is_current(tiny_db)  # the replaced trial's visit and query counts went with it
    first = export(tiny_db, tmp_path / "after-first")
    again = load.load(tiny_db, acme, mode="replace")
    assert again.ok and again.counts["trial"].deleted == again.counts["trial"].inserted == 1
    second = export(tiny_db, tmp_path / "after-second")
    assert {p.name: p.read_text() for p in first.iterdir()} == {p.name: p.read_text() for p in second.iterdir()}


def snapshot_of_trial(url: str, protocol: str) -> list:
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return [
                conn.execute(
                    text(
                        f"SELECT * FROM {name} WHERE trial_id = (SELECT trial_id FROM trial WHERE protocol_number = :p) "
                        f"ORDER BY 1"
                    ),
                    {"p": protocol},
                ).all()
                for name in ("site", "subject", "visit", "milestone", "enrollment_plan")
            ]
    finally:
        engine.dispose()


def test_replace_refuses_rows_of_trials_that_are_only_in_the_database(tiny_folder, tiny_db, tmp_path, capsys):
    acme = sponsor_folder(tiny_folder, tmp_path / "acme", "ACME")
    with open(acme / "site.csv", "a", encoding="utf-8") as handle:
        handle.write("X-9,DE,S7,Köln Süd,,active,2026-01-01,2026-02-01,2026-02-01,,2\n")
    before = snapshot(tiny_db)
    code, _, err = run(capsys, acme, tiny_db, "--mode", "replace")
    assert code == 1
    assert (
        "site.csv:6: protocol_number: no trial 'X-9' in trial.csv (it is in the database, but --mode replace loads "
        "whole sponsors: add it to trial.csv)" in err
    )
    assert snapshot(tiny_db) == before


def test_replace_needs_every_file_so_a_forgotten_one_deletes_nothing(folder, tiny_db, capsys):
    (folder / "visit.csv").unlink()
    (folder / "user_access.csv").unlink()  # grants are optional in every mode
    code, _, err = run(capsys, folder, tiny_db, "--mode", "replace")
    assert code == 1
    assert "visit.csv: the file is missing: it is required with --mode replace" in err
    assert "user_access.csv" not in err


# Interruption and PostgreSQL


def _other_backends_gone(url: str, seconds: float = 30.0) -> bool:
    """Whether PostgreSQL has ended every other session on the database within `seconds`: it notices a killed client's
    closed connection a moment after the kill, and only then rolls its transaction back and releases its locks."""
    engine = create_engine(url, poolclass=NullPool)
    deadline = time.monotonic() + seconds
    try:
        while True:
            with engine.connect() as conn:
                others = conn.execute(
                    text(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                        " AND backend_type = 'client backend' AND pid <> pg_backend_pid()"
                    )
                ).scalar()
            if others == 0:
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
    finally:
        engine.dispose()


def test_a_load_killed_midway_leaves_the_database_as_it_was(demo_source, tiny_folder, empty_db_url):
    tiny_portfolio.build(empty_db_url)
    before = snapshot(empty_db_url)
    _, folder = demo_source
    process = subprocess.Popen(
        [sys.executable, "-m", "dashboard.load", str(folder), "--url", empty_db_url],
        cwd=REPO_DIR,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    seen = []
    try:
        for line in process.stderr:
            seen.append(line)
            if "subject.csv:" in line and "written" in line:  # well into writing; visits are still to come
                process.send_signal(signal.SIGKILL)
                break
    finally:
        process.kill()
        process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL, "".join(seen)
    assert any(re.search(r"visit\.csv: [\d,]+ rows$", line) for line in seen)  # it had checked everything
    if empty_db_url.startswith("postgresql"):
        assert _other_backends_gone(empty_db_url), "PostgreSQL ended the killed load's session and released its locks"
    assert snapshot(empty_db_url) == before
    # And the database still loads afterwards (a SQLite hot journal is rolled back, PostgreSQL's lock released).
    assert load.load(empty_db_url, tiny_folder).ok


def test_postgresql_ids_continue_after_a_load(tiny_folder, pg_url):
    """Rows are inserted with explicit ids: the sequences must move past them, or the next insert collides."""
    assert load.load(pg_url, tiny_folder).ok
    engine = create_engine(pg_url, poolclass=NullPool)
    try:
        with engine.begin() as conn:
            new_id = conn.execute(
                schema.country.insert()
                .values(country_code="FR", country_name="France", region="Europe")
                .returning(schema.country.c.country_id)
            ).scalar()
            assert new_id == conn.execute(select(func.max(schema.country.c.country_id))).scalar()
            assert new_id > 2
    finally:
        engine.dispose()


def test_a_page_answers_from_the_last_committed_data_while_a_load_writes(monkeypatch, tmp_path):
    """SQLite readers are not blocked by a load (issue 22: a page waited 31.8 s, then said the database was down)."""
    from apptest_helpers import metrics, open_page
    from dashboard.db import make_engine

    url = f"sqlite:///{tmp_path / 'tiny.db'}"
    tiny_portfolio.build(url)
    writer = make_engine(url, read_only=False).raw_connection()
    try:
        cursor = writer.cursor()
        # A load well under way: a write transaction whose changes no longer fit the page cache (in the old
        # rollback-journal mode, the moment SQLite locks every reader out until the load commits).
        cursor.execute("PRAGMA cache_size=1")
        cursor.execute("BEGIN IMMEDIATE")
        cursor.executemany(
            "INSERT INTO subject (trial_id, site_id, subject_number, screened_date, enrolled_date) VALUES (1, 1, ?, '2026-06-01', '2026-06-02')",
            [(f"L{i:05d}",) for i in range(5_000)],
        )
        monkeypatch.setenv("DASHBOARD_STATEMENT_TIMEOUT_S", "5")
        started = time.monotonic()
        at = open_page(monkeypatch, url, "portfolio", sponsor="ACME", as_of=tiny_portfolio.AS_OF.isoformat())
        took = time.monotonic() - started
        assert not at.exception and not at.error, [e.value for e in at.error]
        assert metrics(at)["Enrolled"] == "3", "the committed data, not the load's"
        assert took < 5, f"the page waited {took:.1f} s for the load"
    finally:
        writer.rollback()
        writer.close()


def test_a_shared_vendor_changes_only_with_reference_and_then_for_everyone(folder, tiny_db, capsys):
    """Sponsor A's feed cannot rename the vendor sponsor B also uses; the keeper of the shared list can, with --reference."""
    set_value(folder, "vendor.csv", 2, "vendor_name", "Global Clinical Research")
    code, _, err = run(capsys, folder, tiny_db)
    assert code == 1 and "--reference" in err
    code, out, err = run(capsys, folder, tiny_db, "--reference")
    assert code == 0, err
    assert count(tiny_db, "SELECT count(*) FROM vendor WHERE vendor_name = 'Global Clinical Research'") == 1


def test_an_upper_case_e_mail_loads_in_lower_case(folder, tiny_db, capsys):
    rows = rows_of(folder / "user_access.csv")
    email = rows[1][rows[0].index("user_email")]
    set_value(folder, "user_access.csv", 2, "user_email", email.upper())
    code, _, err = run(capsys, folder, tiny_db)
    assert code == 0, err
    assert count(tiny_db, f"SELECT count(*) FROM user_access WHERE user_email = '{email}'") == 1
    assert count(tiny_db, f"SELECT count(*) FROM user_access WHERE user_email = '{email.upper()}'") == 0


@pytest.mark.parametrize(
    ("file", "header", "row", "expected"),
    [
        (
            "adverse_event",
            "protocol_number,subject_number,ae_number,onset_date,is_serious,aware_date,reported_date,term,grade",
            "T-1,001,AE-1,2026-03-01,true,2026-03-02,2026-03-01,,2",
            "adverse_event.csv:2: reported_date: 2026-03-01 is before aware_date 2026-03-02",
        ),
        (
            "adverse_event",
            "protocol_number,subject_number,ae_number,onset_date,is_serious,aware_date,reported_date,term,grade",
            "T-1,001,AE-1,2026-03-01,true,,,Nausea,9",
            "adverse_event.csv:2: grade: 9 is not from 1 to 5",
        ),
        (
            "adverse_event",
            "protocol_number,subject_number,ae_number,onset_date,is_serious,aware_date,reported_date,term,grade",
            "T-1,999,AE-1,2026-03-01,false,,,,",
            "adverse_event.csv:2: subject_number",
        ),
        (
            "crf_page",
            "protocol_number,subject_number,visit_number,page_name,entered_date",
            "T-1,001,7,VS,2026-03-01",
            "crf_page.csv:2: visit_number",
        ),
        (
            "data_point",
            "protocol_number,subject_number,visit_number,n_data_points,n_data_points_changed",
            "T-1,001,1,10,12",
            "data_point.csv:2: n_data_points: 10 is less than n_data_points_changed 12",
        ),
        (
            "lab_result",
            "protocol_number,subject_number,visit_number,n_lab_results,n_lab_abnormal",
            "T-1,001,1,-1,0",
            "lab_result.csv:2: n_lab_results: must not be negative",
        ),
        (
            "qtl",
            "protocol_number,qtl_figure,limit_value,direction",
            "T-1,vibes,10,above",
            "qtl.csv:2: qtl_figure: must be one of",
        ),
        (
            "data_query",
            "protocol_number,site_number,subject_number,query_number,opened_date,answered_date,closed_date,query_status",
            "T-1,S1,,Q-9,2026-03-01,,,answered",
            "data_query.csv:2: answered_date: is required when query_status is answered",
        ),
    ],
)
def test_the_new_files_name_the_line_column_and_problem_and_load_nothing(
    folder, tiny_db, capsys, file, header, row, expected
):
    (folder / f"{file}.csv").write_text(f"{header}\n{row}\n", encoding="utf-8")
    code, _, err = run(capsys, folder, tiny_db)
    assert code == 1
    lines = problem_lines(err)
    assert len(lines) == 1 and lines[0].startswith(expected), lines
