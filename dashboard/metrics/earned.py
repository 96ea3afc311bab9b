"""Budget burn, domain.md §5: earned value (BAC, PV, EV, AC and what follows from them) and the index colour."""

from __future__ import annotations

from dataclasses import dataclass

from dashboard.metrics.core import Health, Number, _minus, _plus, _value, ratio

# --- §5 Budget burn: earned value -------------------------------------------------------------


@dataclass(frozen=True)
class EarnedValue:
    """Earned-value figures of one budget (domain.md §5); None where a figure is undefined."""

    bac: float | None
    pv: float | None
    ev: float | None
    ac: float | None
    cv: float | None
    sv: float | None
    cpi: float | None
    spi: float | None
    eac: float | None
    eac_atypical: float | None
    etc: float | None
    vac: float | None
    tcpi: float | None
    burn_pct: float | None
    pct_complete: float | None


def earned_value(bac: Number | None, pv: Number | None, ev: Number | None, ac: Number | None) -> EarnedValue:
    """Return the earned-value figures for BAC, PV, EV and AC; burn_pct and pct_complete are fractions."""
    bac_, pv_, ev_, ac_ = _value(bac), _value(pv), _value(ev), _value(ac)
    cpi = ratio(ev_, ac_)
    eac = ratio(bac_, cpi)
    remaining_budget = _minus(bac_, ac_)
    return EarnedValue(
        bac=bac_,
        pv=pv_,
        ev=ev_,
        ac=ac_,
        cv=_minus(ev_, ac_),
        sv=_minus(ev_, pv_),
        cpi=cpi,
        spi=ratio(ev_, pv_),
        eac=eac,
        eac_atypical=_plus(ac_, _minus(bac_, ev_)),
        etc=_minus(eac, ac_),
        vac=_minus(bac_, eac),
        # Once AC ≥ BAC no efficiency can finish within budget: TCPI is undefined, not negative.
        tcpi=ratio(_minus(bac_, ev_), remaining_budget)
        if remaining_budget is not None and remaining_budget > 0
        else None,
        burn_pct=ratio(ac_, bac_),
        pct_complete=ratio(ev_, bac_),
    )


def index_health(index: Number | None, *, green: float = 0.95, amber: float = 0.85) -> Health:
    """Return the colour of a performance index such as CPI or SPI: grey when it is undefined."""
    value = _value(index)
    if value is None:
        return "grey"
    if value >= green:
        return "green"
    if value >= amber:
        return "amber"
    return "red"
