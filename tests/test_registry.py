"""The figure registry: hand-counted figures on the tiny portfolio, one definition of overdue, the LPI the enrollment
data complete, worst-first order and its reasons, and definitions that follow the settings."""

from datetime import date

import pandas as pd
import pytest
from sqlalchemy import insert

import tiny_portfolio
from apptest_helpers import open_page, visible_text
from dashboard import health, registry
from dashboard import schema as s
from dashboard.access import Scope
from dashboard.db import make_engine
from dashboard.forecast import Forecasts
from dashboard.settings import Settings, get_settings
from queries import overview

AS_OF = tiny_portfolio.AS_OF
ACME = (1,)


def basis(
    url: str, as_of: date, sponsors=ACME, trial: str | None = None, **parts
) -> tuple[registry.Basis, registry.Basis]:
    """The view's basis and its compare date's, as the pages compose them."""
    settings = get_settings()
    engine = make_engine(url)
    with engine.connect() as conn:
        compose = overview.direct(lambda query, scope: query(conn, scope), settings, Forecasts())
        scope = Scope(sponsors, as_of=as_of, since=date.fromordinal(as_of.toordinal() - 7), trial=trial)
        found = (
            overview.view_basis(compose, scope, settings, **parts),
            overview.view_basis(compose, overview.then_scope(scope), settings, **parts),
        )
    engine.dispose()
    return found


def values(
    b: registry.Basis, then: registry.Basis | None = None, level: str = "portfolio"
) -> dict[str, registry.Value]:
    return {v.key: v for v in registry.block(b, then, level)}


def test_the_portfolio_figures_of_acme_are_those_counted_by_hand(tiny_db):
    now, then = basis(tiny_db, AS_OF, vendor=True)
    v = values(now, then)
    assert {k: v[k].value for k in ("active_trials", "enrolled", "enrollment_target", "sites_active")} == {
        "active_trials": 2,
        "enrolled": 3,
        "enrollment_target": 18,
        "sites_active": 2,
    }
    # T-1's contract only: BAC 1000 + CO-1 200; PV 100 + 100 + 50; EV 550; AC 450 (tiny_portfolio's docstring).
    assert {k: v[k].value for k in ("bac", "pv", "ev", "ac")} == {"bac": 1200, "pv": 250, "ev": 550, "ac": 450}
    assert (v["budget_spent"].display, v["cpi"].display, v["spi"].display) == ("38%", "1.22", "2.20")
    assert (v["bac"].display, v["ac"].display) == ("$1.2k", "$450")
    assert v["cpi"].health == "green" and v["spi"].health == "green"
    # Contract milestones: T-2's drug product release is overdue (baseline 1 Jun); T-1's LPI and T-2's site supply are
    # forecast after their baselines; 5 in all (stability pulls are none of these).
    assert (v["milestones_overdue"].value, v["milestones_forecast_late"].value, v["milestones_contracted"].value) == (
        1,
        2,
        5,
    )
    assert v["stability_pulls_overdue"].value == 0
    assert (v["supply_conflicts"].value, v["supply_near_misses"].value) == (1, 0)  # T-2's site supply: margin −2
    assert v["trials_at_risk"].value == 2 and v["trials_on_track"].value == 0


def test_a_trials_figures_come_from_the_same_functions_narrowed_to_it(tiny_db):
    now, then = basis(tiny_db, AS_OF)
    portfolio = values(now.of_trial("T-1"), then.of_trial("T-1"), "portfolio")
    trial = values(now.of_trial("T-1"), then.of_trial("T-1"), "trial")
    shared = set(portfolio) & set(trial)
    assert {"enrolled", "cpi", "milestones_overdue"} <= shared
    assert all(portfolio[k].display == trial[k].display for k in shared)
    assert (
        trial["enrolled"].display == "3" and trial["pct_of_plan_to_date"].display == "43%"
    )  # 3 of 7 planned by 30 June
    assert trial["schedule_slip"].display == "Last patient in +45 d" and trial["schedule_slip"].health == "red"
    assert trial["lpi_cro"].display == "15 Jan 2027" and trial["lpi_planned"].display == "01 Dec 2026"
    assert trial["lpi_gap"].value == (trial["lpi_model"].value - date(2027, 1, 15)).days


def test_no_data_is_no_figure_not_zero(tiny_db):
    now, _ = basis(tiny_db, AS_OF)
    t2 = values(now.of_trial("T-2"), level="trial")
    assert t2["cpi"].value is None and t2["cpi"].display == "—"  # no contract
    assert t2["pct_of_plan_to_date"].display == "—"  # the plan starts in August
    assert t2["p_meet_lpi_plan"].display == "—" and t2["enrollment_health"].display == "No data"


def test_before_any_data_every_figure_is_empty_or_zero_and_nothing_fails(tiny_db):
    now, then = basis(tiny_db, date(2020, 1, 1), vendor=True, flags=True)
    v = values(now, then)
    assert v["enrolled"].value == 0 and v["sites_active"].value == 0 and v["active_trials"].value == 2
    assert v["cpi"].display == "—" and v["bac"].display == "—"  # no contract signed yet
    assert v["milestones_overdue"].value == 0


def test_amounts_in_several_currencies_are_not_added_up(tmp_path):
    url = f"sqlite:///{tmp_path / 'two.db'}"
    tiny_portfolio.build(url)
    engine = make_engine(url, read_only=False)
    with engine.begin() as conn:
        conn.execute(
            insert(s.contract),
            [
                dict(
                    contract_id=2,
                    trial_id=3,
                    vendor_id=1,
                    contract_number="C-9",
                    signed_date=date(2026, 1, 1),
                    contracted_amount=500,
                    planned_end_date=date(2027, 1, 1),
                )
            ],
        )
    engine.dispose()
    now, _ = basis(url, AS_OF, sponsors=(1, 2))
    v = values(now)
    assert now.currency is None
    assert v["bac"].value is None and v["budget_spent"].display == "—" and v["cpi"].display == "—"
    assert values(now.of_trial("X-9"), level="trial")["bac"].display == "€500"


def test_when_enrollment_reaches_its_target_the_lpi_is_done_that_day_by_the_enrollment_data(tmp_path):
    """X-9 (target 4) gets its 3rd and 4th subjects on 10 May and 12 Jun, and an LPI milestone due 1 Jun with no actual."""
    url = f"sqlite:///{tmp_path / 'lpi.db'}"
    tiny_portfolio.build(url)
    engine = make_engine(url, read_only=False)
    with engine.begin() as conn:
        conn.execute(
            insert(s.subject),
            [
                dict(
                    subject_id=9,
                    trial_id=3,
                    site_id=5,
                    subject_number="103",
                    screened_date=date(2026, 5, 1),
                    enrolled_date=date(2026, 5, 10),
                ),
                dict(
                    subject_id=10,
                    trial_id=3,
                    site_id=5,
                    subject_number="104",
                    screened_date=date(2026, 6, 1),
                    enrolled_date=date(2026, 6, 12),
                ),
            ],
        )
        conn.execute(
            insert(s.milestone),
            [
                dict(
                    milestone_id=7,
                    trial_id=3,
                    vendor_id=1,
                    lane="CRO",
                    milestone_code="LPI",
                    milestone_name="Last patient in",
                    milestone_kind="contract",
                    sequence=8,
                    is_key=True,
                    baseline_date=date(2026, 6, 1),
                    payment_amount=0,
                    payment_status="not_due",
                    lead_time_days=0,
                )
            ],
        )
    engine.dispose()
    other = (2,)
    done, _ = basis(url, AS_OF, sponsors=other)
    lpi = done.milestones[done.milestones["milestone_code"] == "LPI"].iloc[0]
    assert (lpi["status"], lpi["slip_days"], lpi["actual_source"]) == ("done_late", 11, "enrollment")
    v = values(done.of_trial("X-9"), level="trial")
    assert v["lpi_model"].display == "done on 12 Jun 2026"
    assert v["lpi_cro"].display == "done on 12 Jun 2026 by the enrollment data"
    assert v["milestones_overdue"].value == 0
    # Before the 4th subject the LPI is overdue since its baseline, and the model forecasts it.
    early, _ = basis(url, date(2026, 6, 5), sponsors=other)
    v = values(early.of_trial("X-9"), level="trial")
    assert v["milestones_overdue"].value == 1 and v["lpi_cro"].display == "overdue since 01 Jun 2026"
    assert v["lpi_model"].value is not None and not v["lpi_model"].display.startswith("done")


@pytest.mark.parametrize(
    "status, forecast, actual, source, expected",
    [
        ("late", None, None, None, "overdue since 01 Jun 2026"),
        (
            "late",
            date(2026, 6, 20),
            None,
            None,
            "overdue since 01 Jun 2026",
        ),  # a forecast already past is no expectation
        ("late", date(2026, 7, 15), None, None, "15 Jul 2026 (overdue since 01 Jun 2026)"),
        ("at_risk", date(2026, 7, 15), None, None, "15 Jul 2026"),
        ("on_track", None, None, None, "01 Jun 2026"),
        ("done_late", None, date(2026, 6, 3), "recorded", "done on 03 Jun 2026"),
        ("done_late", None, date(2026, 6, 3), "enrollment", "done on 03 Jun 2026 by the enrollment data"),
    ],
)
def test_an_overdue_milestone_is_never_expected_on_a_past_date(status, forecast, actual, source, expected):
    row = pd.DataFrame(
        {
            "status": [status],
            "baseline_date": pd.to_datetime([date(2026, 6, 1)]),
            "forecast_date": pd.to_datetime([forecast]),
            "actual_date": pd.to_datetime([actual]),
            "actual_source": pd.Series([source], dtype=object),
        }
    )
    assert health.expected_column(row, date(2026, 6, 30)).iloc[0] == expected


def _synthetic(rows: list[dict]) -> registry.Basis:
    """A basis of hand-made trial rows (no forecast: the enrollment colour follows % of plan to date)."""
    trials = pd.DataFrame(
        [
            {
                "reporting_currency": "USD",
                "n_planned_subjects": 100,
                "bac": 100.0,
                "pv": 100.0,
                "ev": 100.0,
                "ac": 100.0,
                "n_enrolled": 90,
                "planned_to_date": 100.0,
                "schedule_slip_days": 0,
                "schedule_milestone": "LPI",
                "enrollment_health": "green",
                "budget_health": "green",
                "schedule_health": "green",
                **row,
            }
            for row in rows
        ]
    )
    empty = pd.DataFrame({"protocol_number": pd.Series(dtype="object")})
    return registry.Basis(date(2026, 6, 30), Settings(), trials, empty, {}, empty, forecast=False)


def test_worst_first_orders_by_red_dimensions_then_how_far_past_the_thresholds():
    b = _synthetic(
        [
            # Red on budget only: CPI 0.80 is 1.5 amber widths (0.95 − 0.85) past green.
            {"protocol_number": "A", "overall_health": "red", "budget_health": "red", "ev": 80.0},
            # Red on budget only, further: CPI 0.60 is 3.5 widths past.
            {"protocol_number": "B", "overall_health": "red", "budget_health": "red", "ev": 60.0},
            # Red on schedule and amber on enrollment: one red and one amber dimension beats one red.
            {
                "protocol_number": "C",
                "overall_health": "red",
                "schedule_health": "red",
                "schedule_slip_days": 45,
                "enrollment_health": "amber",
                "n_enrolled": 80,
            },
            {"protocol_number": "D", "overall_health": "amber", "budget_health": "amber", "ev": 90.0},
            {"protocol_number": "E", "overall_health": "green"},
        ]
    )
    assert registry.worst_first(b) == ["C", "B", "A", "D", "E"]
    assert [(r.health, r.text) for r in registry.reasons(b.of_trial("C"))] == [
        ("red", "LPI +45 d"),
        ("amber", "% of plan to date 80%"),
    ]
    assert [r.text for r in registry.reasons(b.of_trial("B"))] == ["CPI 0.60"]
    assert registry.reasons(b.of_trial("E")) == []


def test_labels_are_unique_and_every_figure_is_defined_on_methods():
    labels = [f.label for f in registry.FIGURES.values()]
    assert len(labels) == len(set(labels))
    grouped = [k for keys in registry.GROUPS.values() for k in keys]
    assert sorted(grouped) == sorted(registry.FIGURES)
    settings = Settings()
    for f in registry.FIGURES.values():
        assert f.definition_text(settings).endswith(".") and "{" not in f.definition_text(settings), f.key
        assert f.pages, f.key


@pytest.fixture
def settings_restored():
    """Settings read again after the test, so the values it set do not leak into later tests."""
    yield
    get_settings.cache_clear()


def test_definitions_follow_the_settings(monkeypatch, tiny_db, settings_restored):
    """Change a threshold and the Methods page states the new rule (issue 16: captions that hard-coded 80 %)."""
    monkeypatch.setenv("DASHBOARD_PROBABILITY_GREEN", "0.7")
    monkeypatch.setenv("DASHBOARD_SCHEDULE_HORIZON_DAYS", "120")
    at = open_page(monkeypatch, tiny_db, "methods")
    assert not at.exception
    text = visible_text(at)
    assert "green at 70% or above" in text and "due within 120 days" in text
    assert "80%" not in registry.FIGURES["p_meet_lpi_plan"].threshold_text(get_settings())
    for key in ("tcpi", "etc", "cv", "sv", "milestones_overdue", "stability_pulls_overdue", "lpi_cro", "lpi_gap"):
        assert registry.FIGURES[key].label in text, key
