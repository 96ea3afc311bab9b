"""Exports and printing: a page's tables as one Excel workbook within the user's scope, and a clean print to PDF."""

import io
from datetime import date, datetime
from decimal import Decimal

import openpyxl
import pandas as pd
import pytest

import tiny_portfolio
from apptest_helpers import open_page, page_tables
from dashboard import exports

AS_OF = tiny_portfolio.AS_OF.isoformat()
TRIALS = {"T-1", "T-2", "X-9"}
EXCEL_BUTTON = "⬇️ This page as Excel (.xlsx)"


# --- The workbook, from frames -------------------------------------------------------------------

VIEW = {
    "Page": "Budget",
    "Sponsor": "Acme Biotech",
    "Trial": "T-1",
    "As of": date(2026, 6, 30),
    "Compared with (since)": date(2026, 6, 23),
    "Link": "https://dash.example/budget?trial=T-1&as_of=2026-06-30&since=2026-06-23",
}


def small_frames() -> list[tuple[str, pd.DataFrame]]:
    trials = pd.DataFrame(
        {
            "protocol_number": ["T-1", "T-2", "T-3"],
            "n_enrolled": pd.array([3, 0, None], dtype="Int64"),
            "cpi": [1.2222, None, 0.5],
            "pct_to_target": [0.3, 0.0, 1.0],
            "bac": [1200.0, None, 1_500_000.0],
            "next_milestone_date": pd.to_datetime(["2027-01-15", "2026-07-15", None]),
            "is_active": [True, True, False],
        }
    )
    orders = pd.DataFrame(
        {
            "change_order_number": ["CO-1", "CO-2"],
            "change_amount": [Decimal("200.00"), Decimal("500.50")],
            "approved_date": [date(2026, 5, 1), None],
            "reason": ["Added a country", '=HYPERLINK("http://evil.example","click")'],
        }
    )
    return [("Trials", trials), ("Change orders", orders)]


@pytest.fixture(scope="module")
def book():
    return openpyxl.load_workbook(io.BytesIO(exports.workbook(small_frames(), VIEW)))


def test_the_workbook_has_the_view_sheet_then_one_sheet_per_table(book):
    assert book.sheetnames == ["View", "Trials", "Change orders"]
    trials, orders = book["Trials"], book["Change orders"]
    assert [c.value for c in trials[1]] == [
        "protocol_number",
        "n_enrolled",
        "cpi",
        "pct_to_target",
        "bac",
        "next_milestone_date",
        "is_active",
    ]
    assert all(c.font.b for c in trials[1]) and trials.freeze_panes == "A2"
    assert (trials.max_row, orders.max_row) == (4, 3)  # the header and one row per frame row
    assert [c.value for c in trials["A"][1:]] == ["T-1", "T-2", "T-3"]


def test_numbers_and_dates_keep_their_type_and_get_a_format(book):
    sheet = book["Trials"]
    header = {c.value: c.column_letter for c in sheet[1]}

    def cell(column, row=2):
        return sheet[f"{header[column]}{row}"]

    assert (cell("n_enrolled").value, cell("n_enrolled").number_format) == (3, "#,##0")
    assert cell("n_enrolled", 4).value is None  # empty is not zero
    assert (cell("cpi").value, cell("cpi").number_format) == (1.2222, "0.00")
    assert (cell("pct_to_target").value, cell("pct_to_target").number_format) == (0.3, "0%")
    assert (cell("bac", 4).value, cell("bac", 4).number_format) == (1_500_000, "#,##0")
    assert cell("next_milestone_date").value == datetime(2027, 1, 15)
    assert cell("next_milestone_date").number_format == "dd mmm yyyy"
    assert cell("is_active", 4).value is False
    amount = book["Change orders"]["B3"]  # a numeric from PostgreSQL stays a number
    assert (amount.value, amount.number_format) == (500.5, "#,##0")
    approved = book["Change orders"]["C2"]
    assert (approved.value, approved.number_format) == (datetime(2026, 5, 1), "dd mmm yyyy")


def test_text_from_the_data_is_never_a_formula(book):
    reason = book["Change orders"]["D3"]
    assert reason.data_type == "s" and reason.value == """'=HYPERLINK("http://evil.example","click")"""


@pytest.mark.parametrize(
    "text", ['=HYPERLINK("http://x","y")', "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A9)", "\tx", "\rx"]
)
def test_the_csv_and_the_workbook_neutralise_formulas_the_same_way(text):
    frame = pd.DataFrame({"name": [text, "plain"], "amount": [-440.0, 12.5]})
    csv = exports.neutralise(frame)
    book = openpyxl.load_workbook(io.BytesIO(exports.workbook([("T", frame)], VIEW)))
    assert csv["name"].tolist() == ["'" + text, "plain"]
    # The workbook holds the same text (XML stores a carriage return as a line break).
    assert [book["T"]["A2"].value, book["T"]["A3"].value] == ["'" + text.replace("\r", "\n"), "plain"]
    assert csv["amount"].tolist() == [-440.0, 12.5] == [book["T"]["B2"].value, book["T"]["B3"].value], (
        "numbers stay numbers"
    )


def test_columns_are_as_wide_as_their_content(book):
    widths = book["Change orders"].column_dimensions
    assert widths["D"].width > widths["A"].width  # the long reason against a short code
    assert all(d.width <= 60 for d in book["Trials"].column_dimensions.values())


def test_the_view_sheet_says_which_view_and_links_to_it(book):
    rows = {r[0].value: r[1] for r in book["View"].iter_rows()}
    assert rows["Page"].value == "Budget" and rows["Sponsor"].value == "Acme Biotech" and rows["Trial"].value == "T-1"
    assert (rows["As of"].value, rows["As of"].number_format) == (datetime(2026, 6, 30), "dd mmm yyyy")
    assert rows["Compared with (since)"].value == datetime(2026, 6, 23)
    assert rows["Link"].value == VIEW["Link"] and rows["Link"].hyperlink.target == VIEW["Link"]
    assert rows["Tables"].value == "Trials, Change orders"


def test_sheet_names_are_valid_and_unique():
    assert exports.sheet_name("Sites", []) == "Sites"
    assert exports.sheet_name("Sites", ["sites"]) == "Sites (2)"
    assert exports.sheet_name("Sites", ["Sites", "Sites (2)"]) == "Sites (3)"
    assert exports.sheet_name("View", []) == "View (2)"  # the first sheet's name is taken
    long = exports.sheet_name("Milestones: baseline/forecast [all] * trials?", [])
    assert len(long) <= 31 and not set("[]:*?/\\") & set(long)
    assert len(exports.sheet_name("x" * 40, ["x" * 31])) <= 31


# --- The page's registry: what the workbook would hold, in AppTest ------------------------------


def registry(at) -> dict[str, pd.DataFrame]:
    """The tables this run registered for the page's workbook (kept in the frame's Context in session state)."""
    return page_tables(at)


def excel_buttons(at) -> list:
    return [b for b in at.sidebar.get("download_button") if b.proto.label == EXCEL_BUTTON]


@pytest.mark.parametrize(
    ("page", "trial", "sheets"),
    [
        ("portfolio", "T-2", ["Trials"]),
        ("enrollment", "T-2", ["Countries", "Sites"]),
        ("sites", "T-2", ["Sites", "Countries"]),
        ("budget", "T-1", ["Vendors", "Categories", "Change orders"]),  # T-2 has no contract yet: no budget tables
        (
            "vendors",
            "T-2",
            ["Supply risks", "Forecast changes", "Vendor scorecard", "Upcoming milestones", "All milestones"],
        ),
    ],
)
def test_a_deep_linked_trial_exports_its_own_rows_only(monkeypatch, tiny_url, page, trial, sheets):
    at = open_page(monkeypatch, tiny_url, page, trial=trial, as_of=AS_OF)
    assert not at.exception
    tables = registry(at)
    assert list(tables) == sheets
    for name, frame in tables.items():
        assert not frame.empty, name
        if "protocol_number" in frame:
            assert set(frame["protocol_number"]) == {trial}, name
        others = TRIALS - {trial}
        assert not frame.astype(str).isin(others).any().any(), f"{name} has a row of another trial"
    assert len(excel_buttons(at)) == 1


def test_the_vendor_scorecard_counts_only_the_trial_in_view(monkeypatch, tiny_url):
    at = open_page(monkeypatch, tiny_url, "vendors", trial="T-1", as_of=AS_OF)
    card = registry(at)["Vendor scorecard"]
    assert list(card["vendor_name"]) == ["Global Clinical CRO"]  # CMO1 works on T-2 only
    assert list(card["n_trials"]) == [1] and list(card["n_milestones"]) == [2]


@pytest.mark.parametrize(
    ("user", "own"), [(tiny_portfolio.ACME_USER, {"T-1", "T-2"}), (tiny_portfolio.OTHER_USER, {"X-9"})]
)
def test_a_signed_in_users_export_holds_their_sponsors_trials_only(monkeypatch, tiny_url, user, own):
    at = open_page(monkeypatch, tiny_url, "portfolio", user=user, as_of=AS_OF)
    assert not at.exception
    assert set(registry(at)["Trials"]["protocol_number"]) == own
    at = open_page(monkeypatch, tiny_url, "vendors", user=user, as_of=AS_OF)
    assert set(registry(at)["All milestones"]["protocol_number"]) == own


def test_a_page_with_several_tables_keeps_the_csv_buttons_and_adds_one_excel_button(monkeypatch, tiny_url):
    at = open_page(monkeypatch, tiny_url, "budget", trial="T-1", as_of=AS_OF)
    assert [b.proto.label for b in at.main.get("download_button")] == [
        "⬇️ Vendors (CSV)",
        "⬇️ Download categories (CSV)",
        "⬇️ Change orders (CSV)",
    ]
    assert len(excel_buttons(at)) == 1


# --- In a real browser -------------------------------------------------------------------------

CHART = '[data-testid="stPlotlyChart"] .main-svg'


def download_workbook(page, tmp_path) -> tuple[str, openpyxl.Workbook]:
    """Click the page's Excel button in the sidebar; returns the file's name and the workbook."""
    with page.expect_download() as download:
        page.get_by_test_id("stSidebar").get_by_role("button", name="This page as Excel").click()
    path = tmp_path / download.value.suggested_filename
    download.value.save_as(path)
    return path.name, openpyxl.load_workbook(path)


class Deltas:
    """What the server sends the page, message by message, in order (Streamlit sends each element it draws as one
    websocket message), from the page's load on."""

    def __init__(self, page):
        self.page, self.messages = page, []
        page.on("websocket", self._opened)

    def _opened(self, socket) -> None:
        socket.on("framereceived", lambda payload: self.messages.append(payload))

    def first(self, text: str) -> int:
        """The position of the first message since the last clear() that holds `text` (−1: none)."""
        wanted = text.encode()
        return next(
            (i for i, m in enumerate(self.messages) if wanted in (m if isinstance(m, bytes) else m.encode())), -1
        )

    def close(self) -> None:
        self.page.remove_listener("websocket", self._opened)


def test_the_excel_button_downloads_the_pages_tables(page, shared_app_server, tiny_url, tmp_path):
    base = shared_app_server(tiny_url)
    deltas = Deltas(page)
    try:
        check_the_workbooks(page, base, tmp_path, deltas)
    finally:
        deltas.close()


def check_the_workbooks(page, base, tmp_path, deltas):
    page.goto(f"{base}/budget?trial=T-1&as_of={AS_OF}&since=2026-06-01")
    name, book = download_workbook(page, tmp_path)
    assert name == f"budget_T-1_{AS_OF}.xlsx"
    assert book.sheetnames == ["View", "Vendors", "Categories", "Change orders"]
    view = {r[0].value: r[1].value for r in book["View"].iter_rows()}
    assert view["Trial"] == "T-1" and view["Sponsor"] == "Acme Biotech"
    assert view["As of"] == datetime(2026, 6, 30) and view["Compared with (since)"] == datetime(2026, 6, 1)
    assert view["Link"].endswith(f"/budget?trial=T-1&as_of={AS_OF}&since=2026-06-01")
    vendors = list(book["Vendors"].values)
    header = vendors[0]
    assert len(vendors) == 2 and vendors[1][header.index("vendor_name")] == "Global Clinical CRO"
    assert vendors[1][header.index("ev")] == 550 and vendors[1][header.index("ac")] == 450
    orders = list(book["Change orders"].values)
    assert [row[orders[0].index("change_order_number")] for row in orders[1:]] == ["CO-1", "CO-2"]

    # A page without tables offers no workbook; the next page's workbook holds its own tables only.
    sidebar = page.get_by_test_id("stSidebar")
    sidebar.get_by_role("link", name="Methods & definitions").click()
    page.get_by_role("heading", name="Methods & definitions").wait_for()
    assert sidebar.get_by_role("button", name="This page as Excel").count() == 0
    deltas.messages.clear()
    sidebar.get_by_role("link", name="Vendors").click()
    page.get_by_role("heading", name="Vendors · T-1").wait_for()
    name, book = download_workbook(page, tmp_path)
    # The button comes after the page's last table: sent with its first, it could be clicked while the page was still
    # drawing, and the workbook lacked the tables to come (a CI run clicked between the two).
    assert -1 < deltas.first("Download scorecard (CSV)") < deltas.first("Download milestones (CSV)")
    assert deltas.first("Download milestones (CSV)") < deltas.first("This page as Excel")
    assert name == f"vendors_T-1_{AS_OF}.xlsx"
    # T-1 has no supply risk, no forecast moved in the period and nothing due within 90 days: those tables are not shown.
    assert book.sheetnames == ["View", "Vendor scorecard", "All milestones"]
    milestones = list(book["All milestones"].values)
    assert {row[milestones[0].index("protocol_number")] for row in milestones[1:]} == {"T-1"}


def test_a_page_prints_to_pdf_with_its_view_and_without_the_sidebar(page, shared_app_server, tiny_url):
    from pypdf import PdfReader

    base = shared_app_server(tiny_url)
    page.goto(f"{base}/?sponsor=ACME&as_of={AS_OF}&since=2026-06-01")
    page.get_by_test_id("stSidebar").get_by_role("button", name="This page as Excel").wait_for()
    page.wait_for_selector(CHART)
    # Every chart is ready to be scaled to the paper: its SVG layers carry a viewBox of their drawn size.
    page.wait_for_function(
        """() => [...document.querySelectorAll('.js-plotly-plot svg.main-svg')].every(
             s => s.getAttribute('viewBox') === `0 0 ${s.getAttribute('width')} ${s.getAttribute('height')}`)"""
    )
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(page.pdf())).pages)
    assert "Trial portfolio · Portfolio" in text  # the print-only header
    assert "as of 30 Jun 2026" in text and "compared with 01 Jun 2026" in text
    assert f"as_of={AS_OF}&since=2026-06-01" in text.replace("\n", "")  # the link to this view
    assert "T-1" in text and "T-2" in text
    # Nothing of the sidebar (its filters and menu) or of the buttons is printed.
    for absent in ("Therapeutic area", "Phase", "Methods & definitions", "Download table", "This page as Excel"):
        assert absent not in text, absent
    # On screen, the print header takes no room.
    page.emulate_media(media="screen")
    assert not page.locator(".dash-print-header").is_visible()


def test_a_grid_prints_every_row_as_a_table_and_hides_it_on_screen(page, app_server, small_demo_db):
    """The per-site grid scrolls inside itself on screen; on paper its twin lists every site of the trial."""
    from pypdf import PdfReader
    from sqlalchemy import create_engine
    from sqlalchemy import text as sql

    from conftest import SMALL_DEMO_TODAY
    from dashboard import demo

    engine = create_engine(small_demo_db)
    with engine.connect() as conn:
        names = [
            r[0]
            for r in conn.execute(
                sql(
                    "select s.site_name from site s join trial t on t.trial_id = s.trial_id where t.protocol_number = :p"
                ),
                {"p": demo.BIG_TRIAL},
            )
        ]
    engine.dispose()
    base = app_server(small_demo_db)
    page.goto(f"{base}/sites?trial={demo.BIG_TRIAL}&as_of={SMALL_DEMO_TODAY}")
    page.get_by_role("heading", name=f"Sites of {demo.BIG_TRIAL}").wait_for()
    page.wait_for_selector('[data-testid="stDataFrame"]')
    assert len(names) > 20, "more sites than the grid shows at once"
    # On screen the twin takes no room.
    assert not page.locator(".dash-print-only").first.is_visible()
    text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(page.pdf())).pages)
    flat = " ".join(text.split())
    missing = [n for n in names if n not in flat]
    assert missing == [], f"{len(missing)} of {len(names)} sites are not on paper"
