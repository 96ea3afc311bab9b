"""A tiny portfolio whose figures were counted by hand; tests assert these numbers on the pages.

As of 2026-06-30 (AS_OF), for sponsor ACME:
- T-1 (phase II, Oncology, enrolling): sites S1 and S2 active (S3 activates 07-15, after as_of).
  Screened 5 (006 screens after as_of), enrolled 3 (001, 003, 004; 002 failed screening; 005 enrolls 07-05).
  Plan: 5 by end of May, 7 by end of June → planned to date 7 on 06-30; 3 ÷ 7 = 43 % → enrollment red.
  Budget (contract C-1, CRO1): BAC 1000 + CO-1 200 = 1200 (CO-2 is not approved).
  PV 100 (Jan) + 100 (Apr) + 50 (CO-1, Jun) = 250. EV = 2 sites × 100 + 3 enrolled × (50 + 20)
  + 4 visits × 10 + FPI fee 100 = 550. AC = 300 + (100 + 50) = 450 (the July invoice is after as_of).
  CPI 550 ÷ 450 = 1.22 → budget green; budget spent 450 ÷ 1200 = 38 %.
  Milestones: FPI done (02-10, baseline 02-01); LPI baseline 12-01, forecast 2027-01-15 (recorded 06-01;
  the 07-10 re-forecast is after as_of) → slip 45, red → schedule red. Next milestone: LPI.
- T-2 (phase III, Cardiology, start-up): no site active, nothing enrolled, plan starts in August → grey.
  CMO1's DP_RELEASED baseline 06-01, forecast 07-15 → late, slip 44, red: the one late milestone.
  SITE_SUPPLY_READY forecast 07-20 precedes FIRST_SITE_ACTIVATED 08-01 with 14 days lead: margin −2.
So ACME: 2 active trials, 3 enrolled of 18 planned, 2 sites active, 38 % spent, 1 milestone late.

Sponsor OTHER: X-9 (phase I, Neurology, enrolling): 1 site, 2 enrolled, plan 2 → green.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import insert

from dashboard import rollups
from dashboard import schema as s
from dashboard.db import create_schema, make_engine

AS_OF = date(2026, 6, 30)
ACME_USER = "ann@acme.example"
OTHER_USER = "olga@other.example"
D = date.fromisoformat


def build(url: str) -> None:
    """Create the schema at `url` and fill it with the tiny portfolio."""
    engine = make_engine(url, read_only=False)
    create_schema(engine)
    rows = {
        s.sponsor: [
            dict(sponsor_id=1, sponsor_code="ACME", sponsor_name="Acme Biotech", reporting_currency="USD"),
            dict(sponsor_id=2, sponsor_code="OTHER", sponsor_name="Other Pharma", reporting_currency="EUR"),
        ],
        s.trial: [
            dict(
                trial_id=1,
                sponsor_id=1,
                protocol_number="T-1",
                trial_title="Tiny oncology study",
                phase="II",
                therapeutic_area="Oncology",
                indication="NSCLC",
                trial_status="enrolling",
                n_planned_sites=3,
                n_planned_subjects=10,
            ),
            dict(
                trial_id=2,
                sponsor_id=1,
                protocol_number="T-2",
                trial_title="Tiny cardiology study",
                phase="III",
                therapeutic_area="Cardiology",
                indication="Heart failure",
                trial_status="startup",
                n_planned_sites=2,
                n_planned_subjects=8,
            ),
            dict(
                trial_id=3,
                sponsor_id=2,
                protocol_number="X-9",
                trial_title="Other neurology study",
                phase="I",
                therapeutic_area="Neurology",
                indication="Migraine",
                trial_status="enrolling",
                n_planned_sites=1,
                n_planned_subjects=4,
            ),
        ],
        s.country: [
            dict(country_id=1, country_code="US", country_name="United States", region="North America"),
            dict(country_id=2, country_code="DE", country_name="Germany", region="Europe"),
        ],
        s.site: [
            dict(
                site_id=1,
                trial_id=1,
                country_id=1,
                site_number="S1",
                site_name="Boston General",
                site_status="active",
                selected_date=D("2025-11-01"),
                planned_activation_date=D("2026-01-01"),
                activated_date=D("2026-01-15"),
                n_planned_subjects=4,
            ),
            dict(
                site_id=2,
                trial_id=1,
                country_id=2,
                site_number="S2",
                site_name="Charité Berlin",
                site_status="active",
                selected_date=D("2025-12-01"),
                planned_activation_date=D("2026-02-01"),
                activated_date=D("2026-03-01"),
                n_planned_subjects=3,
            ),
            dict(
                site_id=3,
                trial_id=1,
                country_id=1,
                site_number="S3",
                site_name="Denver Health",
                site_status="active",
                selected_date=D("2026-03-01"),
                planned_activation_date=D("2026-05-01"),
                activated_date=D("2026-07-15"),
                n_planned_subjects=3,
            ),
            dict(
                site_id=4,
                trial_id=2,
                country_id=1,
                site_number="S1",
                site_name="Mayo Rochester",
                site_status="selected",
                selected_date=D("2026-05-01"),
                planned_activation_date=D("2026-08-01"),
                n_planned_subjects=8,
            ),
            dict(
                site_id=5,
                trial_id=3,
                country_id=2,
                site_number="S1",
                site_name="Uniklinik Köln",
                site_status="active",
                selected_date=D("2026-01-01"),
                planned_activation_date=D("2026-02-01"),
                activated_date=D("2026-02-01"),
                n_planned_subjects=4,
            ),
        ],
        s.subject: [
            dict(
                subject_id=1,
                trial_id=1,
                site_id=1,
                subject_number="001",
                screened_date=D("2026-02-01"),
                enrolled_date=D("2026-02-10"),
            ),
            dict(
                subject_id=2,
                trial_id=1,
                site_id=1,
                subject_number="002",
                screened_date=D("2026-02-15"),
                screen_failed_date=D("2026-02-20"),
            ),
            dict(
                subject_id=3,
                trial_id=1,
                site_id=1,
                subject_number="003",
                screened_date=D("2026-03-01"),
                enrolled_date=D("2026-03-10"),
                discontinued_date=D("2026-05-01"),
            ),
            dict(
                subject_id=4,
                trial_id=1,
                site_id=2,
                subject_number="004",
                screened_date=D("2026-04-01"),
                enrolled_date=D("2026-04-12"),
            ),
            dict(
                subject_id=5,
                trial_id=1,
                site_id=2,
                subject_number="005",
                screened_date=D("2026-06-20"),
                enrolled_date=D("2026-07-05"),
            ),
            dict(subject_id=6, trial_id=1, site_id=2, subject_number="006", screened_date=D("2026-07-10")),
            dict(
                subject_id=7,
                trial_id=3,
                site_id=5,
                subject_number="101",
                screened_date=D("2026-03-01"),
                enrolled_date=D("2026-03-05"),
            ),
            dict(
                subject_id=8,
                trial_id=3,
                site_id=5,
                subject_number="102",
                screened_date=D("2026-04-01"),
                enrolled_date=D("2026-04-03"),
            ),
        ],
        s.enrollment_plan: [
            dict(trial_id=1, country_id=1, month_date=D(m), n_planned_cumulative=n)
            for m, n in [
                ("2026-01-01", 0),
                ("2026-02-01", 1),
                ("2026-03-01", 2),
                ("2026-04-01", 3),
                ("2026-05-01", 4),
                ("2026-06-01", 5),
                ("2026-07-01", 6),
            ]
        ]
        + [
            dict(trial_id=1, country_id=2, month_date=D(m), n_planned_cumulative=n)
            for m, n in [("2026-03-01", 0), ("2026-04-01", 1), ("2026-05-01", 1), ("2026-06-01", 2), ("2026-07-01", 3)]
        ]
        + [
            dict(trial_id=2, country_id=1, month_date=D(m), n_planned_cumulative=n)
            for m, n in [("2026-08-01", 2), ("2026-09-01", 5), ("2026-10-01", 8)]
        ]
        + [
            dict(trial_id=3, country_id=2, month_date=D(m), n_planned_cumulative=n)
            for m, n in [
                ("2026-02-01", 0),
                ("2026-03-01", 1),
                ("2026-04-01", 2),
                ("2026-05-01", 2),
                ("2026-06-01", 2),
                ("2026-07-01", 4),
            ]
        ],
        s.visit: [
            dict(
                trial_id=1,
                site_id=1,
                subject_id=1,
                visit_number=1,
                visit_date=D("2026-02-10"),
                entered_date=D("2026-02-12"),
            ),
            dict(
                trial_id=1,
                site_id=1,
                subject_id=1,
                visit_number=2,
                visit_date=D("2026-03-10"),
                entered_date=D("2026-03-30"),
            ),
            dict(trial_id=1, site_id=1, subject_id=1, visit_number=3, visit_date=D("2026-07-10")),
            dict(
                trial_id=1,
                site_id=1,
                subject_id=3,
                visit_number=1,
                visit_date=D("2026-03-10"),
                entered_date=D("2026-03-11"),
            ),
            dict(trial_id=1, site_id=2, subject_id=4, visit_number=1, visit_date=D("2026-04-12")),
        ],
        s.vendor: [
            dict(vendor_id=1, vendor_code="CRO1", vendor_name="Global Clinical CRO", vendor_kind="CRO"),
            dict(vendor_id=2, vendor_code="CMO1", vendor_name="Fill & Finish CMO", vendor_kind="CMO"),
        ],
        s.contract: [
            dict(
                contract_id=1,
                trial_id=1,
                vendor_id=1,
                contract_number="C-1",
                signed_date=D("2025-12-01"),
                contracted_amount=1000,
                planned_end_date=D("2027-12-31"),
            ),
        ],
        s.unit_price: [
            dict(contract_id=1, unit_type="site_activated", cost_category="service_fee", unit_price_amount=100),
            dict(contract_id=1, unit_type="subject_enrolled", cost_category="service_fee", unit_price_amount=50),
            dict(contract_id=1, unit_type="subject_enrolled", cost_category="pass_through", unit_price_amount=20),
            dict(contract_id=1, unit_type="visit_done", cost_category="pass_through", unit_price_amount=10),
        ],
        s.change_order: [
            dict(
                change_order_id=1,
                contract_id=1,
                change_order_number="CO-1",
                requested_date=D("2026-04-01"),
                approved_date=D("2026-05-01"),
                change_order_status="approved",
                change_amount=200,
                reason="Added a country",
            ),
            dict(
                change_order_id=2,
                contract_id=1,
                change_order_number="CO-2",
                requested_date=D("2026-06-01"),
                approved_date=None,
                change_order_status="proposed",
                change_amount=500,
                reason="Extra interim analysis",
            ),
        ],
        s.planned_spend: [
            dict(
                contract_id=1,
                change_order_id=None,
                month_date=D("2026-01-01"),
                cost_category="service_fee",
                planned_amount=100,
            ),
            dict(
                contract_id=1,
                change_order_id=None,
                month_date=D("2026-04-01"),
                cost_category="service_fee",
                planned_amount=100,
            ),
            dict(
                contract_id=1,
                change_order_id=None,
                month_date=D("2026-07-01"),
                cost_category="service_fee",
                planned_amount=100,
            ),
            dict(
                contract_id=1,
                change_order_id=1,
                month_date=D("2026-06-01"),
                cost_category="service_fee",
                planned_amount=50,
            ),
            dict(
                contract_id=1,
                change_order_id=2,
                month_date=D("2026-06-01"),
                cost_category="service_fee",
                planned_amount=999,
            ),
        ],
        s.actual_cost: [
            dict(
                contract_id=1,
                month_date=D("2026-02-01"),
                cost_category="service_fee",
                invoiced_amount=300,
                accrued_amount=0,
            ),
            dict(
                contract_id=1,
                month_date=D("2026-05-01"),
                cost_category="pass_through",
                invoiced_amount=100,
                accrued_amount=50,
            ),
            dict(
                contract_id=1,
                month_date=D("2026-07-01"),
                cost_category="service_fee",
                invoiced_amount=999,
                accrued_amount=0,
            ),
        ],
        s.milestone: [
            dict(
                milestone_id=1,
                trial_id=1,
                vendor_id=1,
                lane="CRO",
                milestone_code="FPI",
                milestone_name="First patient in",
                milestone_kind="contract",
                sequence=3,
                is_key=True,
                baseline_date=D("2026-02-01"),
                actual_date=D("2026-02-10"),
                payment_amount=100,
                payment_status="paid",
                lead_time_days=0,
            ),
            dict(
                milestone_id=2,
                trial_id=1,
                vendor_id=1,
                lane="CRO",
                milestone_code="LPI",
                milestone_name="Last patient in",
                milestone_kind="contract",
                sequence=8,
                is_key=True,
                baseline_date=D("2026-12-01"),
                payment_amount=100,
                payment_status="not_due",
                lead_time_days=0,
            ),
            dict(
                milestone_id=3,
                trial_id=2,
                vendor_id=1,
                lane="CRO",
                milestone_code="FIRST_SITE_ACTIVATED",
                milestone_name="First site activated",
                milestone_kind="contract",
                sequence=2,
                is_key=True,
                baseline_date=D("2026-08-01"),
                payment_amount=0,
                payment_status="not_due",
                lead_time_days=0,
            ),
            dict(
                milestone_id=4,
                trial_id=2,
                vendor_id=2,
                lane="CMO",
                milestone_code="DP_RELEASED",
                milestone_name="Drug product released",
                milestone_kind="contract",
                sequence=4,
                is_key=True,
                baseline_date=D("2026-06-01"),
                payment_amount=300,
                payment_status="not_due",
                lead_time_days=0,
            ),
            dict(
                milestone_id=5,
                trial_id=2,
                vendor_id=2,
                lane="CMO",
                milestone_code="SITE_SUPPLY_READY",
                milestone_name="Site supply ready",
                milestone_kind="contract",
                sequence=8,
                is_key=True,
                baseline_date=D("2026-07-01"),
                precedes_milestone_id=3,
                payment_amount=0,
                payment_status="not_due",
                lead_time_days=14,
            ),
            dict(
                milestone_id=6,
                trial_id=3,
                vendor_id=1,
                lane="CRO",
                milestone_code="FPI",
                milestone_name="First patient in",
                milestone_kind="contract",
                sequence=3,
                is_key=True,
                baseline_date=D("2026-03-01"),
                actual_date=D("2026-03-05"),
                payment_amount=50,
                payment_status="paid",
                lead_time_days=0,
            ),
        ],
        s.milestone_forecast: [
            dict(milestone_id=2, recorded_date=D("2025-12-01"), forecast_date=D("2026-12-01")),
            dict(milestone_id=2, recorded_date=D("2026-06-01"), forecast_date=D("2027-01-15")),
            dict(milestone_id=2, recorded_date=D("2026-07-10"), forecast_date=D("2027-03-01")),
            dict(milestone_id=3, recorded_date=D("2026-05-01"), forecast_date=D("2026-08-01")),
            dict(milestone_id=4, recorded_date=D("2026-05-01"), forecast_date=D("2026-06-01")),
            dict(milestone_id=4, recorded_date=D("2026-06-25"), forecast_date=D("2026-07-15")),
            dict(milestone_id=5, recorded_date=D("2026-06-25"), forecast_date=D("2026-07-20")),
        ],
        s.user_access: [
            dict(user_email=ACME_USER, sponsor_id=1),
            dict(user_email=OTHER_USER, sponsor_id=2),
        ],
        s.load_log: [dict(source="tiny fixture", loaded_at=datetime(2026, 6, 30, 10, 0), n_rows=60)],
    }
    with engine.begin() as conn:
        for table in s.TABLES:
            if table in rows:
                # executemany needs every row to name the same columns: unnamed ones are empty.
                full = [
                    {c.name: row.get(c.name) for c in table.columns if c.name in row or not c.primary_key}
                    for row in rows[table]
                ]
                conn.execute(insert(table), full)
        rollups.refresh(conn)
    engine.dispose()
