"""The demo's vendor side as DataFrames: contracts, unit prices, change orders, the planned spend and the milestones
(contract and CMC), from the simulated trials. `tables.generate` calls `vendor_tables` after the clinical tables, with
the same random stream, so the portfolio stays the same for the same seed."""

from __future__ import annotations

import numpy as np
import pandas as pd

from dashboard.demo.simulation import _dates, _ids, _month_index, _month_start, _phase_amounts, _upto
from dashboard.demo.specs import (
    CHANGE_ORDER_REASONS,
    CMO_MILESTONES,
    CRO_MILESTONES,
    LAB,
    NA,
    PHASES,
    STABILITY_MONTHS,
    SUPPLY_LEAD_TIME_DAYS,
    VISIT_INTERVAL_DAYS,
)


class _Rows:
    """What the trial-by-trial pass collects: one list per table, and the planned spend's monthly parts."""

    def __init__(self):
        self.contracts: list[dict] = []
        self.prices: list[dict] = []
        self.milestones: list[dict] = []
        self.plan_parts: list[pd.DataFrame] = []


def vendor_tables(
    rng: np.random.Generator, sims: list[dict], T: int, vendor_id: dict[str, int]
) -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    """The contract, unit_price, change_order, planned_spend and milestone tables, and the milestones as simulated
    (with their true dates, for the forecasts)."""
    rows = _Rows()
    for i, sim in enumerate(sims):
        _trial_contracts(rng, i, sim, vendor_id, rows)
    frames: dict[str, pd.DataFrame] = {}
    contracts = pd.DataFrame(rows.contracts)
    frames["contract"] = pd.DataFrame(
        {
            "contract_id": contracts["contract_id"].to_numpy(),
            "trial_id": contracts["trial_id"].to_numpy(),
            "vendor_id": contracts["vendor_id"].to_numpy(),
            "contract_number": contracts["contract_number"].to_numpy(),
            "signed_date": _dates(contracts["signed_date"]),
            "contracted_amount": contracts["contracted_amount"].to_numpy(),
            "planned_end_date": _dates(contracts["planned_end_date"]),
        }
    )
    prices = pd.DataFrame(rows.prices)
    frames["unit_price"] = pd.DataFrame(
        {"unit_price_id": _ids(len(prices)), **{c: prices[c].to_numpy() for c in prices.columns}}
    )
    frames["change_order"] = _change_orders(rng, sims, T, contracts, rows.plan_parts)
    spend = pd.concat(rows.plan_parts, ignore_index=True)
    frames["planned_spend"] = pd.DataFrame(
        {
            "planned_spend_id": _ids(len(spend)),
            "contract_id": spend["contract_id"].to_numpy(),
            "change_order_id": spend["change_order_id"].astype("Int64").array,
            "month_date": _dates(_month_start(spend["month"].to_numpy())),
            "cost_category": spend["cost_category"].to_numpy(),
            "planned_amount": spend["planned_amount"].to_numpy(dtype=float),
        }
    )
    frames["milestone"], ms_df = _milestones(rows.milestones, T, vendor_id)
    return frames, ms_df


def _planned_units(sim: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, np.ndarray]:
    """Planned units by day: sites at planned activation, subjects evenly per site, visits following enrollment.
    Returns the days, subjects enrolled, visits done and sites activated by day, and the planned visits in all."""
    pl_act, lpi_base = sim["plan_frac"]
    days = np.arange(int(pl_act.min()) - 30, int(lpi_base) + sim["treat_days"] + 1)
    frac = np.clip((days[:, None] - pl_act[None, :]) / (lpi_base - pl_act)[None, :], 0, 1)
    enrol_by_day = np.diff(np.r_[0.0, frac @ sim["site_target"]])
    kernel = np.zeros(sim["treat_days"] + 1)
    kernel[::VISIT_INTERVAL_DAYS] = 1 - 0.1 * np.arange(sim["n_treat"] + 1) / sim["n_treat"]
    screening = np.r_[enrol_by_day[10:], np.zeros(10)] / (1 - sim["sf_plan"])
    visits_by_day = screening + np.convolve(enrol_by_day, kernel)[: days.size]
    planned_visits = int(round(visits_by_day.sum()))
    site_by_day = np.bincount((pl_act - days[0]).astype(int), minlength=days.size)[: days.size]
    return days, enrol_by_day, visits_by_day, planned_visits, site_by_day


def _phased(parts: list[tuple[np.ndarray, np.ndarray]]) -> pd.Series:
    """Monthly sums of (day, amount) pieces."""
    d = np.concatenate([p[0] for p in parts])
    a = np.concatenate([p[1] for p in parts])
    return pd.Series(a).groupby(_month_index(d)).sum()


def _trial_contracts(rng: np.random.Generator, i: int, sim: dict, vendor_id: dict[str, int], rows: _Rows) -> None:
    """One trial's contracts (CRO, CMO unless a full-service CDMO does both, a central lab if it has one), their unit
    prices, milestones and baseline spend plan."""
    spec = sim["spec"]
    scale = PHASES[spec.phase]["scale"]
    target, n_planned = sim["target"], sim["n_sites"]
    days, enrol_by_day, visits_by_day, planned_visits, site_by_day = _planned_units(sim)
    ms = sim["milestones"]
    clinical_vendor = spec.cro
    supply_vendor = spec.supplier
    # A full-service CDMO signs one contract, early enough for its supply work.
    cro_signed = sim["cro_signed"] if supply_vendor != clinical_vendor else min(sim["cro_signed"], sim["cmo_signed"])
    contracts = [("CRO", clinical_vendor, cro_signed, ms["CSR_FINAL"][0])]
    if supply_vendor != clinical_vendor:
        contracts.append(("CMO", supply_vendor, sim["cmo_signed"], ms["SITE_SUPPLY_READY"][0]))
    if spec.lab:
        contracts.append(("LAB", LAB, sim["lab_signed"], ms["LPLV"][0] + 30))
    for suffix, vcode, signed, end_day in contracts:
        contract_id = len(rows.contracts) + 1
        prices = []
        service, passthrough = [], []
        if suffix == "CRO":
            site_fee = round(float(rng.uniform(12_000, 25_000)), -2)
            subject_fee = round(float(rng.uniform(2_500, 6_000)) * (0.6 + scale / 2), -1)
            grant = round(float(rng.uniform(6_000, 20_000)) * (0.5 + scale / 2), -1)
            visit_fee = round(float(rng.uniform(600, 1_500)), -1)
            prices = [
                ("site_activated", "service_fee", site_fee),
                ("subject_enrolled", "service_fee", subject_fee),
                ("subject_enrolled", "pass_through", grant),
                ("visit_done", "pass_through", visit_fee),
            ]
            service += [(days, site_by_day * site_fee), (days, enrol_by_day * subject_fee)]
            passthrough += [(days, enrol_by_day * grant), (days, visits_by_day * visit_fee)]
            service_total = site_fee * n_planned + subject_fee * target
            pass_total = grant * target + visit_fee * planned_visits
        elif suffix == "LAB":
            lab_fee = round(float(rng.uniform(150, 450)), -1)
            prices = [("visit_done", "service_fee", lab_fee)]
            service += [(days, visits_by_day * lab_fee)]
            service_total, pass_total = lab_fee * planned_visits, 0.0
        else:
            service_total, pass_total = 0.0, 0.0
        lanes = []
        if vcode == clinical_vendor and suffix == "CRO":
            lanes.append("CRO")
        if vcode == supply_vendor:
            lanes.append("CMO")
        for lane in lanes:
            for seq, (code, name, is_key, fee) in enumerate(
                CRO_MILESTONES if lane == "CRO" else CMO_MILESTONES, start=1
            ):
                b, t = ms[code]
                payment = round(fee * scale * float(rng.uniform(0.85, 1.15)), -2)
                service.append((np.array([b]), np.array([payment])))
                service_total += payment
                rows.milestones.append(
                    dict(
                        trial=i,
                        vendor=vcode,
                        lane=lane,
                        code=code,
                        name=name,
                        kind="contract",
                        seq=seq,
                        is_key=is_key,
                        baseline=b,
                        truth=t,
                        payment=payment,
                        signed=signed,
                        role=spec.role,
                    )
                )
            if lane == "CMO":
                stab = [(f"STAB_{m:02d}M", f"Stability pull {m} months", "stability_pull") for m in STABILITY_MONTHS]
                for seq, (code, name, kind) in enumerate(
                    stab + [("EXPIRY", "Expiry / re-test date", "expiry")], start=len(CMO_MILESTONES) + 1
                ):
                    b, t = ms[code]
                    rows.milestones.append(
                        dict(
                            trial=i,
                            vendor=vcode,
                            lane="CMO",
                            code=code,
                            name=name,
                            kind=kind,
                            seq=seq,
                            is_key=False,
                            baseline=b,
                            truth=t,
                            payment=0.0,
                            signed=signed,
                            role=spec.role,
                        )
                    )
        rows.contracts.append(
            dict(
                contract_id=contract_id,
                trial_id=i + 1,
                vendor_id=vendor_id[vcode],
                contract_number=f"{spec.protocol}-{suffix}",
                signed_date=signed,
                contracted_amount=round(service_total + pass_total, 2),
                planned_end_date=end_day,
            )
        )
        for unit_type, category, amount in prices:
            rows.prices.append(
                dict(contract_id=contract_id, unit_type=unit_type, cost_category=category, unit_price_amount=amount)
            )
        # The baseline plan: month by month from signature to the planned end, per cost category.
        months = np.arange(_month_index([signed])[0], _month_index([end_day])[0] + 1)
        for category, parts, total in (
            ("service_fee", service, service_total),
            ("pass_through", passthrough, pass_total),
        ):
            if total <= 0:
                continue
            monthly = _phased(parts).reindex(months, fill_value=0.0).to_numpy()
            rows.plan_parts.append(
                pd.DataFrame(
                    {
                        "contract_id": contract_id,
                        "change_order_id": pd.NA,
                        "month": months,
                        "cost_category": category,
                        "planned_amount": _phase_amounts(np.clip(monthly, 0, None), total),
                    }
                )
            )


def _change_orders(
    rng: np.random.Generator, sims: list[dict], T: int, contracts: pd.DataFrame, plan_parts: list[pd.DataFrame]
) -> pd.DataFrame:
    """Change orders on CRO contracts of trials under way: most approved, one still proposed, one a descope. Each adds
    its amount to the planned spend (plan_parts), spread over the months from its approval to the contract's end."""
    cro_contracts = contracts[contracts["contract_number"].str.endswith("-CRO")]
    running = [
        cid
        for cid, tid in zip(cro_contracts["contract_id"], cro_contracts["trial_id"])
        if sims[tid - 1]["spec"].status in ("enrolling", "follow_up", "closed")
    ]
    n_co = min(len(running), max(3, len(sims) // 4))
    chosen = sorted(rng.choice(running, size=n_co, replace=False).tolist())
    proposed_at = int(rng.integers(0, n_co))
    co_rows, per_contract = [], {}
    for j, cid in enumerate(chosen):
        row = contracts.iloc[cid - 1]
        per_contract[cid] = per_contract.get(cid, 0) + 1
        reason, category = CHANGE_ORDER_REASONS[int(rng.integers(len(CHANGE_ORDER_REASONS)))]
        share = float(rng.uniform(0.04, 0.14))
        if j == proposed_at:
            requested = T - int(rng.integers(3, 25))
            approved = NA
        else:
            requested = float(rng.integers(int(row["signed_date"]) + 60, max(int(row["signed_date"]) + 61, T - 50)))
            approved = requested + int(rng.integers(10, max(11, min(46, T - int(requested)))))
            if j == (proposed_at + 1) % n_co:
                reason, category, share = (
                    "Descoped country after feasibility",
                    "service_fee",
                    -float(rng.uniform(0.02, 0.05)),
                )
        amount = round(row["contracted_amount"] * share, -3)
        co_id = len(co_rows) + 1
        co_rows.append(
            dict(
                change_order_id=co_id,
                contract_id=cid,
                change_order_number=f"{row['contract_number']}-CO{per_contract[cid]}",
                requested_date=requested,
                approved_date=approved,
                change_order_status="proposed" if np.isnan(approved) else "approved",
                change_amount=amount,
                reason=reason,
            )
        )
        start = _month_index([approved if not np.isnan(approved) else requested])[0]
        months = np.arange(start, max(start, _month_index([row["planned_end_date"]])[0]) + 1)
        spread = np.full(months.size, amount / months.size)
        cents = np.round(spread * 100)
        cents[-1] += round(amount * 100) - cents.sum()
        plan_parts.append(
            pd.DataFrame(
                {
                    "contract_id": cid,
                    "change_order_id": co_id,
                    "month": months,
                    "cost_category": category,
                    "planned_amount": cents / 100,
                }
            )
        )
    co = pd.DataFrame(co_rows)
    return pd.DataFrame(
        {
            "change_order_id": co["change_order_id"].to_numpy(),
            "contract_id": co["contract_id"].to_numpy(),
            "change_order_number": co["change_order_number"].to_numpy(),
            "requested_date": _dates(co["requested_date"]),
            "approved_date": _dates(co["approved_date"]),
            "change_order_status": co["change_order_status"].to_numpy(),
            "change_amount": co["change_amount"].to_numpy(dtype=float),
            "reason": co["reason"].to_numpy(),
        }
    )


def _milestones(milestone_rows: list[dict], T: int, vendor_id: dict[str, int]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The milestone table (CRO lane first in each trial, so a supply milestone refers back to a lower id), and the
    simulated milestones in that order."""
    ms_df = pd.DataFrame(milestone_rows)
    ms_df["order"] = ms_df["lane"].map({"CRO": 0, "CMO": 1})
    ms_df = ms_df.sort_values(["trial", "order", "seq"], kind="stable").reset_index(drop=True)
    ms_df["milestone_id"] = _ids(len(ms_df))
    truth = ms_df["truth"].to_numpy(dtype=float)
    actual = _upto(truth, T)
    fsa_id = ms_df[ms_df["code"] == "FIRST_SITE_ACTIVATED"].set_index("trial")["milestone_id"]
    is_ssr = ms_df["code"] == "SITE_SUPPLY_READY"
    precedes = pd.array([fsa_id[t] if s else pd.NA for t, s in zip(ms_df["trial"], is_ssr)], dtype="Int64")
    age = T - actual
    pay_status = np.select(
        [np.isnan(actual) | (ms_df["payment"].to_numpy() <= 0), age > 60, age > 20],
        ["not_due", "paid", "invoiced"],
        "due",
    )
    table = pd.DataFrame(
        {
            "milestone_id": ms_df["milestone_id"].to_numpy(),
            "trial_id": ms_df["trial"].to_numpy() + 1,
            "vendor_id": ms_df["vendor"].map(vendor_id).to_numpy(),
            "lane": ms_df["lane"].to_numpy(),
            "milestone_code": ms_df["code"].to_numpy(),
            "milestone_name": ms_df["name"].to_numpy(),
            "milestone_kind": ms_df["kind"].to_numpy(),
            "sequence": ms_df["seq"].to_numpy(),
            "is_key": ms_df["is_key"].to_numpy(dtype=bool),
            "baseline_date": _dates(ms_df["baseline"]),
            "actual_date": _dates(actual),
            "payment_amount": ms_df["payment"].to_numpy(dtype=float),
            "payment_status": pay_status,
            "precedes_milestone_id": precedes,
            "lead_time_days": np.where(is_ssr, SUPPLY_LEAD_TIME_DAYS, 0),
        }
    )
    return table, ms_df
