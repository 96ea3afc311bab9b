"""Budget: earned value from delivered units, as of a date, on the hand-counted tiny portfolio; the page's tiles and curves."""

import json
from datetime import date, timedelta

import pandas as pd
import pytest
from sqlalchemy import func, update

import tiny_portfolio
from apptest_helpers import html_tables, metrics, open_page, visible_text
from dashboard import schema
from dashboard.access import Scope
from dashboard.db import make_engine
from queries import budget

AS_OF = tiny_portfolio.AS_OF.isoformat()


@pytest.fixture(scope="module")
def conn(tiny_url):
    engine = make_engine(tiny_url)
    with engine.connect() as connection:
        yield connection
    engine.dispose()


def scope_on(day: date) -> Scope:
    return Scope(sponsor_ids=(1, 2), as_of=day, since=day)


@pytest.mark.parametrize(
    "day, bac, pv, ev, ac",
    [
        # 30 June: 2 sites × 100 + 3 enrolled × (50 + 20) + 4 visits × 10 + FPI fee 100; AC 300 + 150.
        (date(2026, 6, 30), 1200, 250, 550, 450),
        # 31 March: S1 and S2 (200), 001 and 003 enrolled (140), 3 visits (30), FPI fee (100); CO-1 not yet approved.
        (date(2026, 3, 31), 1000, 100, 470, 300),
        # 31 January: S1 activated (100), nothing else delivered, nothing invoiced.
        (date(2026, 1, 31), 1000, 100, 100, 0),
        # 15 June: half of June's 50 (CO-1) has accrued: PV 100 + 100 + 25. S1, S2, 3 enrolled, 4 visits, FPI fee.
        (date(2026, 6, 15), 1200, 225, 550, 450),
        # 1 April: a thirtieth of April's 100 (3.33, to the cent) has accrued on top of January's 100.
        (date(2026, 4, 1), 1000, 103.33, 470, 300),
    ],
)
def test_earned_value_counts_units_delivered_by_the_date(conn, day, bac, pv, ev, ac):
    row = budget.evm_by_contract(conn, scope_on(day)).iloc[0]
    assert (row.bac, row.pv, row.ev, row.ac) == (bac, pv, ev, ac)


def test_planned_value_and_cost_accrue_by_day_across_every_month_boundary_of_the_demo(demo_url):
    """On the 1st, PV and AC grow by exactly a day's share of that month's planned spend and cost, never by the whole
    month, so CPI and SPI hold across month boundaries (issue 16)."""
    import calendar

    from sqlalchemy import select

    engine = make_engine(demo_url)
    with engine.connect() as c:
        first, last = c.execute(
            select(func.min(schema.planned_spend.c.month_date), func.max(schema.planned_spend.c.month_date))
        ).one()
        approvals = set(
            c.execute(
                select(schema.change_order.c.approved_date).where(schema.change_order.c.approved_date.is_not(None))
            ).scalars()
        )
        signed_on = dict(c.execute(select(schema.contract.c.contract_number, schema.contract.c.signed_date)).all())
        month, checked = first.replace(day=1), 0
        while month <= last:
            start = (
                month.replace(year=month.year + 1, month=1)
                if month.month == 12
                else month.replace(month=month.month + 1)
            )
            before, on = start - timedelta(days=1), start
            # A change order approved that day adds its whole plan at once, as does a contract signed that day: as they should.
            if on not in approvals:
                days = calendar.monthrange(start.year, start.month)[1]
                was = budget.evm_by_contract(c, scope_on(before)).set_index("contract_number")
                now = budget.evm_by_contract(c, scope_on(on)).set_index("contract_number")
                now = now[[signed_on[n] != on for n in now.index]]
                for column, in_month in (("pv", _planned_in_month(c, start, on)), ("ac", _cost_in_month(c, start))):
                    daily = in_month.reindex(now.index, fill_value=0) / days
                    growth = now[column] - was[column].reindex(now.index, fill_value=0)
                    # Each row accrues to the cent: a contract with several rows may differ by a few cents.
                    assert growth.to_numpy() == pytest.approx(daily.to_numpy(), abs=0.05), (column, start)
                checked += 1
            month = start
    engine.dispose()
    assert checked > 40


def _planned_in_month(c, month: date, as_of: date) -> pd.Series:
    """Per contract signed by as_of: the spend planned for `month` under the plan approved by as_of."""
    from sqlalchemy import and_, or_, select

    ps, co, ct = schema.planned_spend, schema.change_order, schema.contract
    rows = c.execute(
        select(ct.c.contract_number, func.sum(ps.c.planned_amount))
        .select_from(
            ps.join(ct, ct.c.contract_id == ps.c.contract_id).outerjoin(
                co, co.c.change_order_id == ps.c.change_order_id
            )
        )
        .where(
            ps.c.month_date == month,
            ct.c.signed_date <= as_of,
            or_(ps.c.change_order_id.is_(None), and_(co.c.approved_date.is_not(None), co.c.approved_date <= as_of)),
        )
        .group_by(ct.c.contract_number)
    ).all()
    return pd.Series({number: float(amount) for number, amount in rows}, dtype="float64")


def _cost_in_month(c, month: date) -> pd.Series:
    """Per contract: the cost (invoiced + accrued) of `month`."""
    from sqlalchemy import select

    ac, ct = schema.actual_cost, schema.contract
    rows = c.execute(
        select(ct.c.contract_number, func.sum(ac.c.invoiced_amount + ac.c.accrued_amount))
        .join(ct, ct.c.contract_id == ac.c.contract_id)
        .where(ac.c.month_date == month)
        .group_by(ct.c.contract_number)
    ).all()
    return pd.Series({number: float(amount) for number, amount in rows}, dtype="float64")


def test_the_monthly_curve_ends_where_the_totals_are(conn):
    months = budget.monthly(conn, scope_on(date(2026, 6, 30)))
    done = months[months["month_date"] <= "2026-06-30"].iloc[-1]
    assert (done.pv_cumulative, done.ev_cumulative, done.ac_cumulative) == (250, 550, 450)
    assert months["ev"].sum() == 550  # nothing earned after as_of


def test_a_contract_signed_after_the_date_earns_nothing_yet(tmp_path):
    """Units delivered before signing count once the contract is signed, and not before (curves and categories too)."""
    url = f"sqlite:///{tmp_path / 'tiny.db'}"
    tiny_portfolio.build(url)
    engine = make_engine(url, read_only=False)
    with engine.begin() as connection:
        connection.execute(update(schema.contract).values(signed_date=date(2026, 4, 1)))
    with engine.connect() as connection:
        march = scope_on(date(2026, 3, 31))
        assert budget.monthly(connection, march)["ev"].sum() == 0
        assert budget.evm_by_category(connection, march)["ev"].sum() == 0
        assert budget.monthly(connection, scope_on(date(2026, 6, 30)))["ev"].sum() == 550
    engine.dispose()


def test_change_orders_have_their_status_on_the_date(conn):
    june = budget.change_orders(conn, scope_on(date(2026, 6, 30)))
    assert list(zip(june["change_order_number"], june["change_order_status"])) == [
        ("CO-1", "approved"),
        ("CO-2", "proposed"),
    ]
    april = budget.change_orders(conn, scope_on(date(2026, 4, 15)))
    assert list(zip(april["change_order_number"], april["change_order_status"])) == [("CO-1", "proposed")]


def test_trial_tiles_and_s_curve(monkeypatch, tiny_url):
    at = open_page(monkeypatch, tiny_url, "budget", trial="T-1", as_of=AS_OF)
    assert not at.exception
    tiles = metrics(at)
    assert (tiles["Budget (BAC)"], tiles["Actual cost (AC)"], tiles["Earned value (EV)"]) == ("$1.2k", "$450", "$550")
    assert (tiles["CPI"], tiles["SPI"]) == ("1.22", "2.20")  # 550 ÷ 450, 550 ÷ 250
    assert (tiles["Forecast cost (EAC)"], tiles["Left at end (VAC)"]) == ("$982", "$218")  # 1200 ÷ 1.22, 1200 − 982
    assert tiles["Cost per enrolled subject"] == "$150"  # 450 ÷ 3
    html = " ".join(h.proto.body for h in at.get("html"))
    assert "<b>SPI</b>" in html and "Schedule" not in html, (
        "the SPI chip is labelled SPI: Schedule means milestone health"
    )
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert [trace["name"] for trace in spec["data"]] == [
        "Planned value (PV)",
        "Earned value (EV)",
        "Actual cost (AC)",
        "Forecast cost (EAC)",
    ]
    text = visible_text(at)
    assert "CO-2" in text and "Extra interim analysis" in text


def test_the_portfolio_view_lists_trials_worst_cpi_first_with_links(monkeypatch, tiny_url):
    at = open_page(monkeypatch, tiny_url, "budget", sponsor="ACME", as_of=AS_OF)
    assert not at.exception
    (table,) = html_tables(at)
    assert [row["Trial"] for row in table] == ["T-1"]  # T-2 has no contract yet
    assert table[0]["Trial href"] == "./budget?sponsor=ACME&trial=T-1&as_of=2026-06-30&since=2026-06-23"
    assert table[0]["CPI"] == "1.22 On track"
    assert "X-9" not in visible_text(at)


@pytest.fixture(scope="module")
def demo_url(tmp_path_factory):
    """A small demo portfolio, which plants an overrunning trial."""
    from dashboard import demo

    url = f"sqlite:///{tmp_path_factory.mktemp('budget_demo') / 'demo.db'}"
    demo.build(url, seed=7, n_trials=7, today=date(2026, 11, 20))
    return url


def _amount(text: str) -> float:
    scale = {"k": 1e3, "M": 1e6, "bn": 1e9}
    text = text.split(" ")[-1].lstrip("€$£¥")  # "€1.2M", "CHF 1.2M": the currency first
    for suffix, factor in scale.items():
        if text.endswith(suffix):
            return float(text[: -len(suffix)].replace(",", "")) * factor
    return float(text.replace(",", ""))


def test_the_demo_overrunning_trial_shows_cpi_below_085_and_eac_above_bac(monkeypatch, demo_url):
    from dashboard import demo

    at = open_page(monkeypatch, demo_url, "budget", trial=demo.OVERRUN_TRIAL, as_of="2026-11-20")
    assert not at.exception
    tiles = metrics(at)
    assert float(tiles["CPI"]) < 0.85
    assert _amount(tiles["Forecast cost (EAC)"]) > _amount(tiles["Budget (BAC)"])
    assert any("At risk" in html.proto.body and "<b>CPI</b>" in html.proto.body for html in at.get("html"))


def test_earned_value_by_cost_category_is_the_hand_count(conn):
    rows = budget.evm_by_category(conn, scope_on(date(2026, 6, 30)))
    assert rows["ev"].sum() == 550 and rows["ac"].sum() == 450
    # Pass-through: 3 enrolled × 20 + 4 visits × 10; service fees: sites, enrolment fees and the FPI fee.
    assert dict(zip(rows["cost_category"], rows["ev"])) == {"pass_through": 100, "service_fee": 450}
