"""One number for one figure on every surface: `python -m dashboard.figures`, every page's tiles, the Portfolio table's
CSV and the status e-mail's key figures, for the same view, at month ends and starts and before any data."""

import csv
import io
import json
import re
from datetime import date, timedelta

import pandas as pd
import pytest

import tiny_portfolio
from apptest_helpers import notices, open_page, page_tables
from conftest import SMALL_DEMO_TODAY
from dashboard import demo, digest, figures, registry
from dashboard.access import granted_sponsors
from dashboard.db import make_engine
from dashboard.links import ViewState
from dashboard.settings import get_settings

FIELDS = {"key", "label", "value", "display", "unit", "health", "change"}


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = figures.main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


# --- The command ------------------------------------------------------------------------------------


def test_the_json_has_one_portfolio_block_and_one_block_per_trial(capsys, tiny_db):
    code, out, _ = run(capsys, "--url", tiny_db, "--as-of", "2026-06-30", "--user", tiny_portfolio.ACME_USER)
    assert code == 0
    document = json.loads(out)
    assert (document["as_of"], document["since"]) == ("2026-06-30", "2026-06-23")
    assert set(document["trials"]) == {"T-1", "T-2"}, "only the user's sponsor"
    assert all(set(f) == FIELDS for block in [document["portfolio"], *document["trials"].values()] for f in block)
    portfolio = {f["key"]: f for f in document["portfolio"]}
    assert portfolio["enrolled"] == {
        "key": "enrolled",
        "label": "Enrolled",
        "value": 3,
        "display": "3",
        "unit": "count",
        "health": None,
        "change": 0,
    }
    assert (
        portfolio["budget_spent"]["value"] == pytest.approx(450 / 1200)
        and portfolio["budget_spent"]["display"] == "38%"
    )
    t1 = {f["key"]: f for f in document["trials"]["T-1"]}
    assert t1["lpi_cro"]["value"] == "2027-01-15" and t1["lpi_cro"]["unit"] == "date"
    assert (
        t1["cpi"]["health"] == "green"
        and t1["schedule_health"]["health"] == "red"
        and t1["schedule_health"]["value"] is None
    )
    assert t1["sites_needed"]["value"] is not None, "a trial block holds the figures only its own page shows"


def test_a_trial_and_a_compare_date_narrow_the_view(capsys, tiny_db):
    code, out, _ = run(
        capsys, "--url", tiny_db, "--as-of", "2026-07-10", "--since", "2026-06-30", "--trial", "T-1", "--all-sponsors"
    )
    assert code == 0
    document = json.loads(out)
    assert list(document["trials"]) == ["T-1"] and document["since"] == "2026-06-30"
    enrolled = {f["key"]: f for f in document["portfolio"]}["enrolled"]
    assert (enrolled["value"], enrolled["change"]) == (4, 1)  # 005 enrolled on 5 July


def test_csv_has_a_row_per_figure_with_its_block(capsys, tiny_db, tmp_path):
    out_file = tmp_path / "figures.csv"
    code, _, err = run(
        capsys,
        "--url",
        tiny_db,
        "--as-of",
        "2026-06-30",
        "--user",
        tiny_portfolio.ACME_USER,
        "--format",
        "csv",
        "--out",
        str(out_file),
    )
    assert code == 0 and "Wrote the figures" in err
    rows = list(csv.DictReader(io.StringIO(out_file.read_text(encoding="utf-8"))))
    assert set(rows[0]) == {"block", *FIELDS}
    assert {r["block"] for r in rows} == {"portfolio", "T-1", "T-2"}
    assert next(r for r in rows if r["block"] == "T-1" and r["key"] == "cpi")["display"] == "1.22"


@pytest.mark.parametrize(
    "args, message",
    [
        (["--as-of", "2026-13-01", "--all-sponsors"], "--as-of '2026-13-01' is not a date"),
        (["--as-of", "2026-06-30", "--since", "2026-07-01", "--all-sponsors"], "is not before --as-of"),
        (["--as-of", "2026-06-30", "--user", "stranger@example.com"], "stranger@example.com has no access"),
        (["--as-of", "2026-06-30", "--user", tiny_portfolio.ACME_USER, "--trial", "X-9"], "no trial 'X-9'"),
        (["--as-of", "2026-06-30", "--user", tiny_portfolio.ACME_USER, "--sponsor", "OTHER"], "no sponsor 'OTHER'"),
    ],
)
def test_a_user_error_is_one_plain_line_and_exit_code_2(capsys, tiny_db, args, message):
    code, out, err = run(capsys, "--url", tiny_db, *args)
    assert code == 2 and out == ""
    assert err.startswith("error: ") and message in err and len(err.strip().splitlines()) == 1


def test_a_missing_database_file_is_a_usage_error(capsys, tmp_path):
    code, _, err = run(capsys, "--url", f"sqlite:///{tmp_path / 'nope.db'}", "--as-of", "2026-06-30", "--all-sponsors")
    assert code == 2 and "no database file" in err


# --- Every surface shows the registry's number -----------------------------------------------------

# Month end, month start, mid-month (the data cut), and a date before any data.
DATES = (date(2026, 10, 31), date(2026, 11, 1), SMALL_DEMO_TODAY, date(2021, 6, 1))
PORTFOLIO_PAGES = ("portfolio", "enrollment", "sites", "budget", "vendors")
TRIAL_PAGES = ("overview", "enrollment", "sites", "budget", "vendors")


@pytest.fixture(scope="module")
def expected(small_demo_db):
    """The figures command's document for a view (every sponsor, as in demo mode): (as_of, trial) -> document."""
    settings = get_settings()
    engine = make_engine(small_demo_db)
    found = {}

    def view(as_of: date, trial: str | None = None, sponsor: str | None = None) -> dict:
        if (as_of, trial, sponsor) not in found:
            with engine.connect() as conn:
                grants = granted_sponsors(conn, None)
                state = ViewState(as_of=as_of, since=as_of - timedelta(days=7), trial=trial, sponsor=sponsor)
                found[as_of, trial, sponsor] = figures.view_figures(conn, grants, state, settings)
        return found[as_of, trial, sponsor]

    yield view
    engine.dispose()


def _by_label(document: dict, trial: str | None) -> dict[str, dict]:
    """The figures a view's tiles may show, by label: the portfolio block, and a trial view's own block too."""
    shown = {f["label"]: f for f in document["portfolio"]}
    if trial is not None:
        for f in document["trials"][trial]:
            if f["label"] in shown:
                assert shown[f["label"]]["display"] == f["display"], (
                    f"{f['key']}: the trial's block and the view's agree"
                )
            shown[f["label"]] = f
    return shown


def _check_tiles(at, page: str, document: dict, trial: str | None) -> int:
    tiles = {m.label: m for m in at.metric}
    assert tiles, f"{page} shows headline tiles"
    return _check(tiles, page, _by_label(document, trial), trial)


def _check(tiles: dict, page: str, shown: dict[str, dict], trial: str | None) -> int:
    """Each tile (label → metric) shows its figure of `shown` (label → the figures command's figure) and its change."""
    for label, tile in tiles.items():
        figure = next((f for f in registry.FIGURES.values() if f.label == label), None)
        assert figure is not None, f"{page}: the tile {label!r} is a registry figure"
        assert page in figure.pages, f"{page}: Methods says where {figure.key} is shown"
        assert tile.value == shown[label]["display"], f"{page} {trial or 'portfolio'}: {label}"
        if figure.compares:
            change = shown[label]["change"]
            expected = registry.change_display(figure, change)
            if shown[label]["value"] is None and expected is None and tile.delta:
                # No figure, so no change: the tile may say why it is empty instead ("EUR · USD: not added up"),
                # in words, never as a number that could pass for a change.
                assert not re.search(r"\d", tile.delta), f"{page}: {label}: {tile.delta!r}"
                continue
            assert (tile.delta or None) == expected, f"{page}: the change of {label}"
    return len(tiles)


@pytest.mark.parametrize("as_of", DATES, ids=str)
def test_every_portfolio_tile_is_the_registrys_figure(monkeypatch, small_demo_db, expected, as_of):
    document = expected(as_of)
    for page in PORTFOLIO_PAGES:
        at = open_page(monkeypatch, small_demo_db, page, as_of=as_of.isoformat())
        assert not at.exception, page
        if page == "budget" and document["by_currency"]:
            # Two sponsors in two currencies: no totals, in the registry or on the page, but the tiles once per
            # currency, in the currencies' order, each set the figures command's for that currency.
            assert _by_label(document, None)["Budget (BAC)"]["value"] is None
            assert any("cannot be added up" in i for i in notices(at, "info"))
            currencies = sorted(document["by_currency"])
            headings = [re.fullmatch(r"\*\*In (\w+)\*\* · (\d+) trials?", str(e.value)) for e in at.markdown]
            headings = [(h.group(1), int(h.group(2))) for h in headings if h]
            assert [c for c, _ in headings] == currencies
            budgeted = sum(
                1
                for block in document["trials"].values()
                for f in block
                if f["key"] == "bac" and f["value"] is not None
            )
            assert sum(n for _, n in headings) == budgeted, "every trial with a budget is counted once"
            per = len(at.metric) // len(currencies)
            assert per == 10 and len(at.metric) == per * len(currencies)
            for i, currency in enumerate(currencies):
                tiles = {m.label: m for m in at.metric[i * per : (i + 1) * per]}
                _check(tiles, page, {f["label"]: f for f in document["by_currency"][currency]}, None)
            continue
        if page == "budget" and not at.metric:
            assert any("No signed contract" in i for i in at.info.values)
            continue
        _check_tiles(at, page, document, None)


@pytest.mark.parametrize("as_of", DATES[:2], ids=str)
def test_a_sponsors_budget_tiles_are_the_registrys(monkeypatch, small_demo_db, expected, as_of):
    document = expected(as_of, sponsor=demo.MAIN_SPONSOR)
    at = open_page(monkeypatch, small_demo_db, "budget", as_of=as_of.isoformat(), sponsor=demo.MAIN_SPONSOR)
    assert not at.exception
    assert _check_tiles(at, "budget", document, None) == 10


@pytest.mark.parametrize("as_of", [DATES[0], DATES[1], DATES[3]], ids=str)
@pytest.mark.parametrize("trial", [demo.OVERRUN_TRIAL, demo.SUPPLY_RISK_TRIAL])
def test_every_trial_tile_is_the_registrys_figure(monkeypatch, small_demo_db, expected, as_of, trial):
    document = expected(as_of, trial)
    for page in TRIAL_PAGES:
        at = open_page(monkeypatch, small_demo_db, page, trial=trial, as_of=as_of.isoformat())
        assert not at.exception, page
        if page == "budget" and not at.metric:
            continue  # a trial without a signed contract yet has no budget tiles
        _check_tiles(at, page, document, trial)


@pytest.mark.parametrize("as_of", DATES, ids=str)
def test_the_portfolio_tables_csv_holds_the_registrys_values(monkeypatch, small_demo_db, expected, as_of):
    document = expected(as_of)
    at = open_page(monkeypatch, small_demo_db, "portfolio", as_of=as_of.isoformat())
    table = page_tables(at)["Trials"]
    assert set(table["protocol_number"]) == set(document["trials"])
    compared = 0
    for row in table.itertuples(index=False):
        block = {f["key"]: f for f in document["trials"][row.protocol_number]}
        for key, f in block.items():
            if key not in table.columns:
                continue
            cell = getattr(row, key)
            want = f["health"] if f["unit"] == "health" else f["value"]
            if want is None:
                assert cell is None or pd.isna(cell), (row.protocol_number, key)
            elif f["unit"] == "date":
                assert pd.Timestamp(cell) == pd.Timestamp(want), (row.protocol_number, key)
            elif isinstance(want, str):
                assert cell == want, (row.protocol_number, key)
            else:
                assert float(cell) == pytest.approx(want), (row.protocol_number, key)
            compared += 1
    assert compared >= 10 * len(table)


@pytest.mark.parametrize("as_of", DATES, ids=str)
def test_the_emails_key_figures_are_the_registrys(small_demo_db, expected, tmp_path, as_of):
    document = expected(as_of)
    out = tmp_path / "digest.html"
    assert digest.main(["--url", small_demo_db, "--as-of", as_of.isoformat(), "--all-sponsors", "--out", str(out)]) == 0
    from test_digest import Document

    tiles = Document(out.read_text(encoding="utf-8")).key_figures()
    shown = _by_label(document, None)
    assert {"Enrolled", "Milestones overdue", "Budget spent"} <= set(tiles)
    for label, (value, _) in tiles.items():
        assert value == shown[label]["display"], label


@pytest.mark.parametrize("as_of", DATES, ids=str)
def test_the_vendor_scorecards_overdue_add_up_to_the_registrys(small_demo_db, expected, as_of):
    """The scorecard counts slips and overdue milestones in SQL: held to the registry's one definition of overdue."""
    from dashboard.access import Scope
    from queries import vendors

    engine = make_engine(small_demo_db)
    with engine.connect() as conn:
        ids = tuple(sorted(g.sponsor_id for g in granted_sponsors(conn, None)))
        card = vendors.vendor_scorecard(conn, Scope(ids, as_of=as_of, since=as_of - timedelta(days=7)))
    engine.dispose()
    overdue = _by_label(expected(as_of), None)["Milestones overdue"]["value"]
    assert int(card["n_overdue"].sum()) == overdue


@pytest.mark.parametrize("as_of", DATES, ids=str)
def test_sae_timeliness_and_qtl_breaches_agree_in_email_export_and_figures_command(
    monkeypatch, small_demo_db, expected, tmp_path, as_of
):
    shown = {f["key"]: f for f in expected(as_of)["portfolio"]}
    sae, qtl, safety = shown["sae_on_time"], shown["qtl_breaches"], shown["sites_safety_flag"]
    # The Sites page's export (its CSV / Excel table): every site's SAE counts and safety flags.
    at = open_page(monkeypatch, small_demo_db, "sites", as_of=as_of.isoformat())
    assert not at.exception
    table = page_tables(at)["Sites"]
    if table.empty:  # before any data: nothing anywhere
        assert sae["value"] is None and qtl["value"] is None
    else:
        due, on_time = pd.to_numeric(table["n_sae_due"]).sum(), pd.to_numeric(table["n_sae_on_time"]).sum()
        assert (None if not due else on_time / due) == (None if sae["value"] is None else pytest.approx(sae["value"]))
        assert int((table["n_safety"] > 0).sum()) == safety["value"]
    # The e-mail's Quality and safety section.
    out = tmp_path / "digest.html"
    assert digest.main(["--url", small_demo_db, "--as-of", as_of.isoformat(), "--all-sponsors", "--out", str(out)]) == 0
    mail = out.read_text(encoding="utf-8")
    if sae["value"] is not None:
        assert f"{sae['label']} (by the day after the site became aware): " in mail and f">{sae['display']}<" in mail
    if qtl["value"]:
        assert f"{qtl['value']} quality tolerance limit{'s' if qtl['value'] != 1 else ''} breached" in mail
    elif qtl["value"] == 0:
        assert "No quality tolerance limit is breached" in mail
