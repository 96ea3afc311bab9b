"""The data contract: derived from the schema, committed as docs/data-contract.md, and strict about values."""

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import CheckConstraint, Column, Integer, MetaData, Table

from dashboard import contract
from dashboard.contract import CONTRACT_PATH, ContractError, DateOrder, file_spec, file_specs, render
from dashboard.schema import TABLES


def test_the_committed_document_is_current():
    assert CONTRACT_PATH.read_text(encoding="utf-8") == render(), (
        "docs/data-contract.md is stale: run `python -m dashboard.contract`"
    )


def test_check_fails_on_a_stale_document_and_passes_once_written(tmp_path, monkeypatch, capsys):
    document = tmp_path / "data-contract.md"
    document.write_text("an older contract\n")
    monkeypatch.setattr(contract.cli, "CONTRACT_PATH", document)  # where the command reads it
    assert contract.main(["--check"]) == 1
    assert "stale" in capsys.readouterr().err
    assert contract.main([]) == 0
    assert contract.main(["--check"]) == 0


def test_every_table_but_the_load_log_and_the_roll_up_is_a_file():
    assert set(file_specs()) == {t.name for t in TABLES} - {"load_log", "site_month"}
    assert "### load_log" in render() and "### site_month" in render()  # documented as not files


def test_files_carry_natural_keys_never_database_ids():
    for spec in file_specs().values():
        assert not [c for c in spec.column_names if c.endswith("_id")], spec.name
        assert set(spec.key) <= set(spec.column_names), spec.name
    assert file_spec("visit").column_names == (
        "protocol_number",
        "site_number",
        "subject_number",
        "visit_number",
        "visit_date",
        "entered_date",
    )
    assert file_spec("visit").key == ("protocol_number", "subject_number", "visit_number")
    assert file_spec("site").column_names[:3] == ("protocol_number", "country_code", "site_number")


def test_a_reference_with_a_role_shares_the_trial_and_prefixes_the_rest():
    spec = file_spec("milestone")
    (precedes,) = [r for r in spec.references if r.db_column == "precedes_milestone_id"]
    assert precedes.columns == ("protocol_number", "precedes_milestone_code")
    assert precedes.is_self and not precedes.required
    assert not spec.column("precedes_milestone_code").required
    assert spec.column("protocol_number").required  # the trial reference needs it


def test_optional_references_are_optional_columns():
    assert not file_spec("planned_spend").column("change_order_number").required  # empty = the baseline plan
    assert not file_spec("data_query").column("subject_number").required
    assert file_spec("data_query").column("site_number").required


def test_one_contract_per_vendor_and_trial_is_a_second_unique_key():
    assert file_spec("contract").unique_keys == (("contract_number",), ("protocol_number", "vendor_code"))


def test_database_checks_become_row_rules():
    assert DateOrder("closed_date", "activated_date", in_database=True) in file_spec("site").rules
    assert DateOrder("enrolled_date", "screened_date", in_database=True) in file_spec("subject").rules
    assert DateOrder("entered_date", "visit_date", in_database=True) in file_spec("visit").rules
    assert DateOrder("closed_date", "opened_date", in_database=True) in file_spec("data_query").rules
    assert file_spec("contract").column("contracted_amount").not_negative
    assert not file_spec("change_order").column("change_amount").not_negative  # a descope is negative


def test_a_check_constraint_the_contract_does_not_understand_is_refused():
    table = Table(
        "odd",
        MetaData(),
        Column("odd_id", Integer, primary_key=True),
        Column("n", Integer),
        CheckConstraint("n % 2 = 0", name="even"),
    )
    with pytest.raises(ContractError, match="does not understand"):
        contract._database_rules(table)


TRIAL_ROW = {
    "sponsor_code": "ACME",
    "protocol_number": "T-1",
    "trial_title": "A study",
    "phase": "II",
    "therapeutic_area": "Oncology",
    "indication": "NSCLC",
    "trial_status": "enrolling",
    "n_planned_sites": "3",
    "n_planned_subjects": "30",
}


def test_a_good_row_is_typed():
    values, problems = file_spec("trial").parse(TRIAL_ROW)
    assert problems == []
    assert values["n_planned_sites"] == 3 and values["phase"] == "II"


@pytest.mark.parametrize(
    ("table", "column", "value", "expected"),
    [
        ("trial", "phase", "Phase 2", "must be one of 'I', 'II', 'III', 'IV'; got 'Phase 2'"),
        ("trial", "n_planned_sites", "3.0", "must be a whole number, digits only; got '3.0'"),
        ("trial", "n_planned_subjects", "-1", "must not be negative; got '-1'"),
        ("trial", "trial_title", None, "is required: the value may not be empty"),
        ("trial", "protocol_number", "P" * 40, "is too long: at most 32 characters, got 40"),
        ("contract", "contracted_amount", "1,000.00", "must be a number with '.' for decimals"),
        ("contract", "contracted_amount", "10.005", "may have at most 2 decimal places"),
        ("contract", "signed_date", "03/01/2026", "must be a date written YYYY-MM-DD"),
        ("contract", "signed_date", "2026-02-30", "is not a date of the calendar"),
        ("deviation", "is_important", "yes", "must be true or false"),
        ("country", "country_code", "de", "must be two capital letters"),
        ("user_access", "user_email", "ann.acme.example", "must be an e-mail address"),
    ],
)
def test_a_bad_value_says_what_to_write(table, column, value, expected):
    spec = file_spec(table)
    good = {
        "trial": TRIAL_ROW,
        "contract": {
            "protocol_number": "T-1",
            "vendor_code": "V",
            "contract_number": "C-1",
            "signed_date": "2026-01-01",
            "contracted_amount": "10.50",
            "planned_end_date": "2027-01-01",
        },
        "deviation": {
            "protocol_number": "T-1",
            "site_number": "S1",
            "subject_number": None,
            "deviation_number": "D1",
            "deviation_date": "2026-01-01",
            "identified_date": None,
            "first_loaded_date": None,
            "is_important": "TRUE",
            "description": None,
        },
        "country": {"country_code": "DE", "country_name": "Germany", "region": "Europe"},
        "user_access": {"user_email": "ann@acme.example", "sponsor_code": "ACME"},
    }[table]
    assert spec.parse(good)[1] == []
    values, problems = spec.parse({**good, column: value})
    assert values is None
    assert len(problems) == 1 and problems[0][0] == column
    assert expected in problems[0][1]


def test_rules_across_columns_name_the_later_column():
    spec = file_spec("subject")
    row = {
        "protocol_number": "T-1",
        "site_number": "S1",
        "subject_number": "001",
        "screened_date": "2026-02-01",
        "screen_failed_date": None,
        "enrolled_date": "2026-01-15",
        "discontinued_date": None,
        "completed_date": None,
        "treatment_discontinued_date": None,
    }
    values, problems = spec.parse(row)
    assert values["enrolled_date"] == date(2026, 1, 15)
    assert problems == [("enrolled_date", "2026-01-15 is before screened_date 2026-02-01")]
    _, problems = spec.parse({**row, "enrolled_date": "2026-02-10", "screen_failed_date": "2026-02-05"})
    assert [c for c, _ in problems] == ["enrolled_date"]
    assert "never enrolled" in problems[0][1]
    _, problems = file_spec("enrollment_plan").parse(
        {"protocol_number": "T-1", "country_code": "DE", "month_date": "2026-03-15", "n_planned_cumulative": "4"}
    )
    assert problems == [("month_date", "must be the first day of a month (2026-03-01), not 2026-03-15")]


def test_values_are_written_as_the_contract_reads_them():
    assert [contract.format_value(v) for v in (None, True, False, Decimal("1250.50"), date(2026, 3, 1), 7, "S1")] == [
        "",
        "true",
        "false",
        "1250.50",
        "2026-03-01",
        "7",
        "S1",
    ]
