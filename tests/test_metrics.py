"""Formulas of domain.md §5–§7, checked against its worked examples and at every threshold."""

from dataclasses import fields
from datetime import date, timedelta
from decimal import Decimal

import pandas as pd
import pytest

from dashboard.metrics import (
    DAYS_PER_MONTH,
    HEALTH_LABEL,
    HEALTH_ORDER,
    MILESTONE_STATUS_LABEL,
    EarnedValue,
    MilestoneStatus,
    earned_value,
    enrollment_health,
    index_health,
    is_non_enrolling,
    milestone_status,
    on_time_activation,
    planned_rate_per_site_day,
    planned_to_date,
    probability_health,
    rate_per_site_month,
    ratio,
    worst_health,
)

D = date(2026, 6, 1)


def approx(x):
    return pytest.approx(x, abs=1e-3)


# --- ratio ------------------------------------------------------------------------------------


def test_ratio_divides():
    assert ratio(3, 4) == 0.75
    assert ratio(Decimal("1"), Decimal("8")) == 0.125
    assert isinstance(ratio(Decimal("1"), 2), float)


@pytest.mark.parametrize(
    ("numerator", "denominator"),
    [
        (1, 0),
        (0, 0),
        (1, 0.0),
        (1, Decimal("0")),
        (None, 2),
        (2, None),
        (None, None),
        (float("nan"), 2),
        (2, float("nan")),
    ],
)
def test_ratio_is_none_when_undefined(numerator, denominator):
    assert ratio(numerator, denominator) is None


# --- §5 earned value --------------------------------------------------------------------------


def test_worked_example_of_domain_section_5():
    ev = earned_value(bac=200, pv=100, ev=80, ac=90)
    assert (ev.bac, ev.pv, ev.ev, ev.ac) == (200, 100, 80, 90)
    assert ev.cv == approx(-10)
    assert ev.sv == approx(-20)
    assert ev.cpi == approx(0.889)
    assert ev.spi == approx(0.800)
    assert ev.eac == approx(225.0)
    assert ev.eac_atypical == approx(210.0)
    assert ev.etc == approx(135.0)
    assert ev.vac == approx(-25.0)
    assert ev.tcpi == approx(1.091)
    assert ev.burn_pct == approx(0.45)
    assert ev.pct_complete == approx(0.40)


def test_worked_example_with_decimal_amounts():
    ev = earned_value(Decimal("200.00"), Decimal("100.00"), Decimal("80.00"), Decimal("90.00"))
    assert ev.eac == approx(225.0)
    assert ev.tcpi == approx(1.091)
    assert all(isinstance(getattr(ev, f.name), float) for f in fields(EarnedValue))


def test_nothing_spent_yet_leaves_cost_ratios_undefined():
    ev = earned_value(bac=200, pv=0, ev=0, ac=0)
    assert ev.cpi is None
    assert ev.spi is None
    assert ev.eac is None
    assert ev.etc is None
    assert ev.vac is None
    assert ev.eac_atypical == approx(200.0)
    assert ev.tcpi == approx(1.0)
    assert ev.burn_pct == 0
    assert ev.pct_complete == 0


def test_zero_actual_cost_with_work_earned():
    ev = earned_value(bac=200, pv=50, ev=20, ac=0)
    assert ev.cv == approx(20)
    assert ev.cpi is None
    assert ev.eac is None
    assert ev.etc is None
    assert ev.vac is None
    assert ev.spi == approx(0.4)


def test_zero_planned_value_leaves_spi_undefined():
    ev = earned_value(bac=200, pv=0, ev=10, ac=10)
    assert ev.sv == approx(10)
    assert ev.spi is None
    assert ev.cpi == approx(1.0)
    assert ev.eac == approx(200.0)


def test_zero_earned_value_leaves_eac_undefined():
    """CPI is 0, so BAC ÷ CPI has no value; the atypical estimate still has one."""
    ev = earned_value(bac=200, pv=50, ev=0, ac=30)
    assert ev.cpi == 0
    assert ev.eac is None
    assert ev.etc is None
    assert ev.vac is None
    assert ev.eac_atypical == approx(230.0)


def test_zero_budget_leaves_percentages_and_tcpi_undefined():
    ev = earned_value(bac=0, pv=0, ev=0, ac=5)
    assert ev.burn_pct is None
    assert ev.pct_complete is None
    assert ev.tcpi is None
    assert ev.cpi == 0
    assert ev.eac is None
    assert ev.eac_atypical == approx(5.0)


@pytest.mark.parametrize("ac", [200, 250])
def test_tcpi_is_undefined_once_actual_cost_reaches_budget(ac):
    ev = earned_value(bac=200, pv=150, ev=150, ac=ac)
    assert ev.tcpi is None
    assert ev.burn_pct == approx(ac / 200)


def test_tcpi_just_below_budget_is_defined():
    ev = earned_value(bac=200, pv=150, ev=150, ac=199)
    assert ev.tcpi == approx(50.0)


def test_missing_amount_makes_derived_figures_none():
    ev = earned_value(bac=None, pv=100, ev=80, ac=90)
    assert ev.bac is None
    assert ev.cpi == approx(0.889)
    assert ev.spi == approx(0.8)
    for name in ("eac", "eac_atypical", "etc", "vac", "tcpi", "burn_pct", "pct_complete"):
        assert getattr(ev, name) is None, name


def test_missing_actual_cost():
    ev = earned_value(bac=200, pv=100, ev=80, ac=None)
    for name in ("ac", "cv", "cpi", "eac", "eac_atypical", "etc", "vac", "tcpi", "burn_pct"):
        assert getattr(ev, name) is None, name
    assert ev.sv == approx(-20)
    assert ev.pct_complete == approx(0.4)


def test_nan_amount_is_missing_not_a_number():
    ev = earned_value(bac=200, pv=float("nan"), ev=80, ac=90)
    assert ev.pv is None
    assert ev.sv is None
    assert ev.spi is None
    assert ev.cpi == approx(0.889)


def test_all_missing_is_all_none():
    ev = earned_value(None, None, None, None)
    assert all(getattr(ev, f.name) is None for f in fields(EarnedValue))


def test_earned_value_is_frozen():
    ev = earned_value(200, 100, 80, 90)
    with pytest.raises(AttributeError):
        ev.cpi = 1.0  # type: ignore[misc]


# --- health thresholds ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("index", "expected"),
    [
        (1.2, "green"),
        (0.95, "green"),
        (0.9499, "amber"),
        (0.85, "amber"),
        (0.8499, "red"),
        (0.0, "red"),
        (None, "grey"),
        (float("nan"), "grey"),
        (Decimal("0.95"), "green"),
    ],
)
def test_index_health_thresholds(index, expected):
    assert index_health(index) == expected


def test_index_health_of_worked_example_cpi_and_spi():
    ev = earned_value(200, 100, 80, 90)
    assert index_health(ev.cpi) == "amber"  # 0.889
    assert index_health(ev.spi) == "red"  # 0.800


def test_index_health_thresholds_are_settings():
    assert index_health(0.9, green=0.9, amber=0.8) == "green"
    assert index_health(0.85, green=0.9, amber=0.8) == "amber"
    assert index_health(0.79, green=0.9, amber=0.8) == "red"


@pytest.mark.parametrize(
    ("enrolled", "planned", "expected"),
    [
        (90, 100, "green"),
        (89, 100, "amber"),
        (75, 100, "amber"),
        (74, 100, "red"),
        (0, 100, "red"),
        (120, 100, "green"),
        (9, 10, "green"),
        (3, 4, "amber"),
        (0, 0, "grey"),
        (5, 0, "grey"),
        (0, None, "grey"),
        (None, 10, "grey"),
    ],
)
def test_enrollment_health_thresholds(enrolled, planned, expected):
    assert enrollment_health(enrolled, planned) == expected


def test_enrollment_health_thresholds_are_settings():
    assert enrollment_health(8, 10, green=0.8, amber=0.6) == "green"
    assert enrollment_health(6, 10, green=0.8, amber=0.6) == "amber"
    assert enrollment_health(5, 10, green=0.8, amber=0.6) == "red"


@pytest.mark.parametrize(
    ("p", "expected"),
    [
        (1.0, "green"),
        (0.8, "green"),
        (0.7999, "amber"),
        (0.5, "amber"),
        (0.4999, "red"),
        (0.0, "red"),
        (None, "grey"),
    ],
)
def test_probability_health_thresholds(p, expected):
    assert probability_health(p) == expected


def test_probability_health_thresholds_are_settings():
    assert probability_health(0.7, green=0.7, amber=0.4) == "green"
    assert probability_health(0.4, green=0.7, amber=0.4) == "amber"
    assert probability_health(0.39, green=0.7, amber=0.4) == "red"


# --- worst_health and labels ------------------------------------------------------------------


def test_health_order_runs_from_grey_to_red():
    assert list(HEALTH_ORDER) == ["grey", "green", "amber", "red"]
    assert sorted(["red", "grey", "amber", "green"], key=HEALTH_ORDER.__getitem__) == [
        "grey",
        "green",
        "amber",
        "red",
    ]


@pytest.mark.parametrize(
    ("healths", "expected"),
    [
        ((), "grey"),
        (("grey",), "grey"),
        (("grey", "grey"), "grey"),
        (("green",), "green"),
        (("grey", "green"), "green"),
        (("green", "grey", "amber"), "amber"),
        (("amber", "green"), "amber"),
        (("red", "amber", "green"), "red"),
        (("grey", "red"), "red"),
        (("green", "red", "grey", "amber"), "red"),
    ],
)
def test_worst_health(healths, expected):
    assert worst_health(*healths) == expected


def test_worst_health_rejects_unknown_colour():
    with pytest.raises(ValueError, match="purple"):
        worst_health("green", "purple")  # type: ignore[arg-type]


def test_every_colour_has_an_icon_and_a_word():
    assert set(HEALTH_LABEL) == set(HEALTH_ORDER)
    for label in HEALTH_LABEL.values():
        icon, _, word = label.partition(" ")
        assert icon and not icon.isalnum()
        assert word.strip()
    assert len(set(HEALTH_LABEL.values())) == 4


# --- §6 milestones ----------------------------------------------------------------------------


def test_domain_example_done_late():
    result = milestone_status(date(2026, 3, 1), None, date(2026, 3, 20), D)
    assert result == MilestoneStatus(19, "done_late", "amber")


def test_domain_example_at_risk():
    result = milestone_status(date(2026, 9, 1), date(2026, 10, 15), None, D)
    assert result == MilestoneStatus(44, "at_risk", "red")


def test_domain_example_late():
    result = milestone_status(date(2026, 5, 1), date(2026, 7, 1), None, D)
    assert result == MilestoneStatus(61, "late", "red")


def test_domain_example_actual_after_as_of_is_not_done():
    result = milestone_status(date(2026, 3, 1), None, date(2026, 7, 1), D)
    assert result == MilestoneStatus(92, "late", "red")


def _d(days_from_as_of: int | None) -> date | None:
    return None if days_from_as_of is None else D + timedelta(days=days_from_as_of)


# Dates as offsets in days from D: (baseline, forecast, actual, amber_days, red_days) → (slip, status, rag).
MILESTONE_CASES = [
    # done: slip = actual − baseline
    ("done early", (-30, None, -40, 0, 30), (-10, "done_on_time", "green")),
    ("done on the day", (-30, None, -30, 0, 30), (0, "done_on_time", "green")),
    ("done one day late", (-30, None, -29, 0, 30), (1, "done_late", "amber")),
    ("done exactly red_days late", (-60, None, -30, 0, 30), (30, "done_late", "amber")),
    ("done red_days + 1 late", (-61, None, -30, 0, 30), (31, "done_late", "red")),
    ("done on as_of counts as done", (-5, None, 0, 0, 30), (5, "done_late", "amber")),
    ("done with a stale forecast ignores it", (-30, 40, -30, 0, 30), (0, "done_on_time", "green")),
    ("done late within amber tolerance", (-30, None, -25, 5, 30), (5, "done_on_time", "green")),
    ("done amber_days + 1 late", (-30, None, -24, 5, 30), (6, "done_late", "amber")),
    ("done before its baseline date (future)", (10, None, -1, 0, 30), (-11, "done_on_time", "green")),
    # not done, baseline ≥ D: slip = forecast − baseline
    ("future without forecast", (10, None, None, 0, 30), (0, "on_track", "green")),
    ("future forecast on baseline", (10, 10, None, 0, 30), (0, "on_track", "green")),
    ("future forecast early", (10, 5, None, 0, 30), (-5, "on_track", "green")),
    ("future forecast one day late", (10, 11, None, 0, 30), (1, "at_risk", "amber")),
    ("future forecast exactly red_days late", (10, 40, None, 0, 30), (30, "at_risk", "amber")),
    ("future forecast red_days + 1 late", (10, 41, None, 0, 30), (31, "at_risk", "red")),
    ("due today is not yet late", (0, None, None, 0, 30), (0, "on_track", "green")),
    ("due today with a later forecast", (0, 3, None, 0, 30), (3, "at_risk", "amber")),
    ("future within amber tolerance", (10, 17, None, 7, 30), (7, "on_track", "green")),
    ("future amber_days + 1 late", (10, 18, None, 7, 30), (8, "at_risk", "amber")),
    ("future with a tighter red_days", (10, 21, None, 0, 10), (11, "at_risk", "red")),
    ("future exactly a tighter red_days", (10, 20, None, 0, 10), (10, "at_risk", "amber")),
    ("future actual after as_of is ignored", (10, 12, 20, 0, 30), (2, "at_risk", "amber")),
    # not done, baseline < D: slip = max(forecast, D) − baseline
    ("overdue one day without forecast", (-1, None, None, 0, 30), (1, "late", "amber")),
    ("overdue without forecast", (-30, None, None, 0, 30), (30, "late", "amber")),
    ("overdue red_days + 1 without forecast", (-31, None, None, 0, 30), (31, "late", "red")),
    ("overdue with a forecast already past", (-10, -5, None, 0, 30), (10, "late", "amber")),
    ("overdue with a forecast later", (-10, 25, None, 0, 30), (35, "late", "red")),
    ("overdue within amber tolerance is still amber", (-3, None, None, 5, 30), (3, "late", "amber")),
    ("overdue with a larger red_days", (-40, None, None, 0, 45), (40, "late", "amber")),
    ("overdue actual after as_of", (-10, None, 5, 0, 30), (10, "late", "amber")),
]


@pytest.mark.parametrize(("case", "given", "expected"), MILESTONE_CASES, ids=[c[0] for c in MILESTONE_CASES])
def test_milestone_status(case, given, expected):
    baseline, forecast, actual, amber_days, red_days = given
    result = milestone_status(_d(baseline), _d(forecast), _d(actual), D, amber_days=amber_days, red_days=red_days)
    assert result == MilestoneStatus(*expected)


@pytest.mark.parametrize("amber_red", sorted({given[3:] for _, given, _ in MILESTONE_CASES}))
def test_milestone_status_columns_match_the_table_as_query_columns(amber_red):
    """The pages pass whole datetime columns (NaT where missing): every case of the table, in one call."""
    from dashboard.metrics import milestone_status_columns

    cases = [(given, expected) for _, given, expected in MILESTONE_CASES if given[3:] == amber_red]
    column = lambda i: pd.to_datetime(pd.Series([_d(given[i]) for given, _ in cases], dtype="object"))  # noqa: E731
    slip, status, rag = milestone_status_columns(
        column(0), column(1), column(2), D, amber_days=amber_red[0], red_days=amber_red[1]
    )
    assert list(zip(slip.tolist(), status, rag)) == [expected for _, expected in cases]


def test_a_milestone_without_a_baseline_is_refused_not_dated_1970():
    from dashboard.metrics import milestone_status_columns

    with pytest.raises(ValueError, match="baseline"):
        milestone_status_columns(pd.Series([pd.NaT]), pd.Series([pd.NaT]), pd.Series([pd.NaT]), D)


def test_milestone_table_covers_every_status_and_rag():
    statuses = {expected[1] for _, _, expected in MILESTONE_CASES}
    rags = {expected[2] for _, _, expected in MILESTONE_CASES}
    assert statuses == set(MILESTONE_STATUS_LABEL)
    assert rags == {"green", "amber", "red"}


def test_milestone_defaults_are_0_and_30_days():
    assert milestone_status(_d(10), _d(40), None, D).rag == "amber"
    assert milestone_status(_d(10), _d(41), None, D).rag == "red"
    assert milestone_status(_d(10), _d(11), None, D).status == "at_risk"


def test_every_status_has_a_readable_label():
    assert set(MILESTONE_STATUS_LABEL) == {"done_on_time", "done_late", "late", "at_risk", "on_track"}
    assert all(label and "_" not in label for label in MILESTONE_STATUS_LABEL.values())


# --- §2 Enrollment ----------------------------------------------------------------------------


def test_planned_to_date_interpolates_within_the_month():
    assert planned_to_date(5, 7, date(2026, 6, 30)) == 7
    assert planned_to_date(5, 7, date(2026, 6, 15)) == 6
    assert planned_to_date(0, 31, date(2026, 1, 1)) == 1


def test_rate_per_site_month_and_empty_exposure():
    assert rate_per_site_month(3, 2 * DAYS_PER_MONTH) == pytest.approx(1.5)
    assert rate_per_site_month(0, 0) is None
    assert rate_per_site_month(2, None) is None


def test_non_enrolling_needs_enough_days_open_and_nobody_enrolled():
    assert is_non_enrolling(60, 0)
    assert not is_non_enrolling(59, 0)
    assert not is_non_enrolling(300, 1)
    assert not is_non_enrolling(None, 0)
    assert is_non_enrolling(30, 0, min_days=30)


def test_on_time_activation_counts_actual_against_plan_at_each_share():
    # 8 planned sites: 25 % = the 2nd planned date, 50 % = the 4th, 75 % = the 6th (after as_of here).
    planned = [date(2026, m, 1) for m in (1, 2, 3, 4, 5, 6, 7, 8)]
    actual = [date(2026, 1, 15), date(2026, 3, 20), date(2026, 4, 1), None, None, None, None, None]
    checks = on_time_activation(planned, actual, 8, as_of=date(2026, 5, 15))
    assert [(c.share, c.plan_date, c.n_planned, c.n_activated) for c in checks] == [
        (0.25, date(2026, 2, 1), 2, 1),
        (0.5, date(2026, 4, 1), 4, 3),
    ]
    assert checks[0].on_time == pytest.approx(0.5) and checks[1].on_time == pytest.approx(0.75)


def test_planned_rate_is_target_over_planned_site_days():
    planned = [date(2026, 1, 1), date(2026, 1, 11), None]
    assert planned_rate_per_site_day(30, planned, date(2026, 1, 31)) == pytest.approx(30 / (30 + 20))
    assert planned_rate_per_site_day(30, planned, None) is None
    assert planned_rate_per_site_day(30, [date(2026, 2, 1)], date(2026, 1, 31)) is None


# --- Vendor milestones: supply margin and on-time rate (domain.md §6) --------------------------

from dashboard.metrics import on_time_rate, supply_margin  # noqa: E402  (appended section)


@pytest.mark.parametrize(
    ("supply", "clinical", "lead", "margin", "kind", "conflict"),
    [
        (date(2026, 7, 20), date(2026, 8, 1), 14, -2, "conflict", 2),  # the tiny portfolio's T-2
        (date(2027, 1, 24), date(2027, 1, 20), 14, -18, "conflict", 18),  # the demo's supply-risk trial
        (date(2026, 7, 25), date(2026, 8, 15), 14, 7, "near_miss", 0),
        (date(2026, 7, 1), date(2026, 8, 1), 17, 14, "clear", 0),  # exactly the near-miss window: clear
        (date(2026, 7, 1), date(2026, 7, 1), 0, 0, "near_miss", 0),
    ],
)
def test_supply_margin(supply, clinical, lead, margin, kind, conflict):
    result = supply_margin(supply, clinical, lead)
    assert (result.margin_days, result.kind, result.conflict_days) == (margin, kind, conflict)


def test_the_near_miss_window_is_a_setting():
    assert supply_margin(date(2026, 7, 1), date(2026, 7, 21), 0, near_miss_days=30).kind == "near_miss"
    assert supply_margin(date(2026, 7, 1), date(2026, 7, 21), 0, near_miss_days=0).kind == "clear"


def test_on_time_rate_is_done_on_time_over_done():
    assert on_time_rate(3, 4) == 0.75
    assert on_time_rate(0, 0) is None


# --- §4 Site flags: over-dispersion-adjusted z-scores (Zink et al. 2018) -----------------------

from dashboard.metrics import funnel_limits, max_abs_z  # noqa: E402  (appended section)
from one_trial import SiteFlag, flag_sites, peer_baseline  # noqa: E402


def test_flags_on_a_hand_computed_example():
    # Four sites of 20 visits, 2, 2, 2 and 10 late: pooled p = 16 / 80 = 0.2, variance 0.2 × 0.8 / 20 = 0.008.
    # Unadjusted z: −0.1 / 0.0894 = −1.118 (three times) and 0.3 / 0.0894 = 3.354; φ = (3 × 1.25 + 11.25) / 4 = 3.75.
    # Adjusted: −1.118 / √3.75 = −0.577 and 3.354 / √3.75 = 1.732 = √3: under 2, and no site of 4 can exceed √4 = 2.
    baseline = peer_baseline([2, 2, 2, 10], [20, 20, 20, 20], kind="proportion", min_denominator=10)
    assert baseline.pooled == pytest.approx(0.2) and baseline.phi == pytest.approx(3.75) and baseline.n_eligible == 4
    flags = flag_sites([2, 2, 2, 10], [20, 20, 20, 20], kind="proportion", bad_side="high", min_denominator=10)
    assert [f.z for f in flags] == pytest.approx([-0.57735, -0.57735, -0.57735, 1.73205], abs=1e-5)
    assert {f.flag for f in flags} == {"green"}
    assert max_abs_z(4) == 2.0 and max_abs_z(10) == pytest.approx(3.1623, abs=1e-4)


def test_thresholds_and_the_bad_side():
    # One outlier among N sites of equal size, the others alike: the others' z are each −1/(N−1) of the outlier's,
    # so φ = z_o² / (N − 1) and the outlier's adjusted z is exactly √(N − 1); the others' is −1/√(N − 1).
    ten = flag_sites([5] * 9 + [50], [100] * 10, kind="proportion", bad_side="high", min_denominator=10)
    assert ten[-1].z == pytest.approx(3.0) and ten[0].z == pytest.approx(-1 / 3)
    assert ten[-1].flag == "amber"  # |z| must be above 3, not equal to it, to be red
    twelve = flag_sites([5] * 11 + [50], [100] * 12, kind="proportion", bad_side="high", min_denominator=10)
    assert twelve[-1].z == pytest.approx(11**0.5) and twelve[-1].flag == "red" and twelve[0].flag == "green"
    # The same numbers where high is the good side: nobody is flagged.
    low = flag_sites([5] * 11 + [50], [100] * 12, kind="proportion", bad_side="low", min_denominator=10)
    assert {f.flag for f in low} == {"green"}
    # Thresholds are arguments (settings).
    assert (
        flag_sites([5] * 11 + [50], [100] * 12, kind="proportion", bad_side="high", min_denominator=10, red=3.5)[
            -1
        ].flag
        == "amber"
    )


def test_a_rate_metric_flags_the_low_side():
    # Enrollment rate: twelve sites of 100 site-days, eleven with 10 enrolled and one with none. Pooled r = 110 / 1200;
    # the empty site's unadjusted z = −r / √(r / 100) = −3.028; φ = mean z² = 0.83 is floored at 1, so z stays −3.028.
    r = 110 / 1200
    flags = flag_sites([10] * 11 + [0], [100] * 12, kind="rate", bad_side="low", min_denominator=30)
    assert flags[-1].z == pytest.approx(-r / (r / 100) ** 0.5) == pytest.approx(-3.0277, abs=1e-4)
    assert flags[-1].flag == "red"
    assert flag_sites([10] * 11 + [0], [100] * 12, kind="rate", bad_side="high", min_denominator=30)[-1].flag == "green"


def test_sites_below_the_minimum_are_grey_and_not_peers():
    flags = flag_sites([1, 2, 2, 9], [5, 20, 20, None], kind="proportion", bad_side="high", min_denominator=10)
    assert flags[0] == SiteFlag(z=None, flag="grey") and flags[3] == SiteFlag(z=None, flag="grey")
    # The two eligible sites are alike: pooled 0.1, nobody differs, φ floored at 1.
    assert [f.z for f in flags[1:3]] == [0.0, 0.0]
    baseline = peer_baseline([1, 2, 2, 9], [5, 20, 20, None], kind="proportion", min_denominator=10)
    assert (baseline.pooled, baseline.phi, baseline.n_eligible) == (0.1, 1.0, 2)


def test_phi_is_floored_at_one():
    # Under-dispersed sites (all close to the pool): mean z² < 1, so z is not inflated.
    baseline = peer_baseline([10, 11, 9], [100, 100, 100], kind="proportion", min_denominator=10)
    assert baseline.phi == 1.0
    flags = flag_sites([10, 11, 9], [100, 100, 100], kind="proportion", bad_side="high", min_denominator=10)
    assert flags[1].z == pytest.approx(0.01 / (0.1 * 0.9 / 100) ** 0.5)


def test_every_site_at_zero_is_green_and_no_site_is_eligible_is_grey():
    assert {
        f.flag for f in flag_sites([0, 0, 0], [20, 30, 40], kind="proportion", bad_side="high", min_denominator=10)
    } == {"green"}
    assert peer_baseline([1], [2], kind="rate", min_denominator=30).pooled is None
    assert flag_sites([1], [2], kind="rate", bad_side="high", min_denominator=30) == [SiteFlag(z=None, flag="grey")]


def test_funnel_limits_are_pooled_plus_minus_k_sigma_with_phi():
    baseline = peer_baseline([2, 2, 2, 10], [20, 20, 20, 20], kind="proportion", min_denominator=10)
    ((lower, upper),) = funnel_limits(baseline, [20], 2, kind="proportion")
    spread = 2 * (3.75 * 0.2 * 0.8 / 20) ** 0.5
    assert (lower, upper) == pytest.approx((max(0.2 - spread, 0), 0.2 + spread))
    rate = peer_baseline([10, 20], [100, 100], kind="rate", min_denominator=30)
    ((low, high),) = funnel_limits(rate, [100], 3, kind="rate")
    assert high == pytest.approx(0.15 + 3 * (rate.phi * 0.15 / 100) ** 0.5) and low >= 0


def test_an_expiry_date_moved_later_is_good_news_and_one_moved_earlier_is_not():
    from dashboard.metrics import expiry_status_columns

    as_of = date(2026, 6, 30)
    base = date(2027, 6, 30)
    change, status, rag = expiry_status_columns(
        [base, base, base, base, base, date(2026, 6, 1)],
        [date(2028, 6, 30), None, date(2027, 6, 20), date(2027, 4, 1), None, None],
        [None, None, None, None, date(2027, 7, 10), None],
        as_of,
        amber_days=0,
        red_days=30,
    )
    assert list(change) == [366, 0, -10, -90, 10, 0]
    assert list(status) == ["extended", "as_planned", "shortened", "shortened", "extended", "expired"]
    assert list(rag) == ["green", "green", "amber", "red", "green", "red"]


def test_milestone_statuses_read_expiry_dates_the_other_way_round():
    import pandas as pd

    from dashboard.health import milestone_statuses
    from dashboard.settings import Settings

    frame = pd.DataFrame(
        {
            "milestone_kind": ["contract", "expiry"],
            "baseline_date": pd.to_datetime(["2027-01-01", "2027-01-01"]),
            "forecast_date": pd.to_datetime(["2028-01-01", "2028-01-01"]),
            "actual_date": pd.to_datetime([None, None]),
        }
    )
    out = milestone_statuses(frame, date(2026, 6, 30), Settings())
    assert list(out["status"]) == ["at_risk", "extended"]
    assert list(out["rag"]) == ["red", "green"]
    assert list(out["slip_days"]) == [365, 365]
