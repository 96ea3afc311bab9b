"""Evaluating figures for a view: a figure, a block of them, per currency, and what moved since the compare date."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd

from dashboard.registry.figures import _FIGURES, FIGURES, GROUPS
from dashboard.registry.model import Basis, Figure, Level, Value, _change, _missing, change_display, display

# --- Evaluating ----------------------------------------------------------------------------------


def evaluate(key: str, basis: Basis, then: Basis | None = None) -> Value:
    """The figure `key` for the view of `basis`, with its change since the view of `then` (the compare date)."""
    if then is None:  # a figure of one basis, alone: worked out once per basis (a portfolio asks for every trial's)
        return basis._once(("value", key), lambda: _evaluate(FIGURES[key], basis, None))
    return _evaluate(FIGURES[key], basis, then)


def _evaluate(figure: Figure, basis: Basis, then: Basis | None) -> Value:
    value = _compute(figure, basis)
    colour = None
    if figure.colour is not None and (figure.unit == "health" or not _missing(value)):
        colour = figure.colour(value, basis)
    out = Value(figure, value, display(figure, value, basis), colour)
    if then is None or not figure.compares:
        return out
    if then.trials.empty:  # not in view on the compare date: nothing to compare with
        return out
    before = _compute(figure, then)
    then_colour = None
    if figure.colour is not None and (figure.unit == "health" or not _missing(before)):
        then_colour = figure.colour(before, then)
    change = _change(figure, value, before)
    return replace(
        out,
        change=change,
        change_display=change_display(figure, change),
        then=before,
        then_display=display(figure, before, then),
        then_health=then_colour,
    )


def _compute(figure: Figure, basis: Basis):
    if not basis.has(figure.part) or basis.trials.empty:
        return None
    if "trial" in figure.levels and "portfolio" not in figure.levels and len(basis.trials) != 1:
        return None
    value = figure.compute(basis)
    if isinstance(value, pd.Timestamp):
        value = value.date()
    return None if _missing(value) else value


def block(basis: Basis, then: Basis | None, level: Level, *, costly: bool = False) -> list[Value]:
    """Every figure of `level` that the basis holds the parts for, in registry order (costly ones only if asked)."""
    return [
        evaluate(f.key, basis, then)
        for f in _FIGURES
        if level in f.levels and basis.has(f.part) and (costly or not f.costly)
    ]


def by_currency(basis: Basis, then: Basis | None) -> dict[str, list[Value]]:
    """When the trials in view report in several currencies (so no budget figure of the view adds up): each
    currency's earned-value figures, over the trials that report in it, with their change since `then`'s trials in
    that currency. Empty when there is one currency or none (the view's own figures are the totals)."""
    if len(basis.currencies) < 2:
        return {}
    return {
        currency: [
            evaluate(key, basis.in_currency(currency), None if then is None else then.in_currency(currency))
            for key in GROUPS["Budget: earned value"]
        ]
        for currency in basis.currencies
    }


def moved(values: list[Value]) -> list[Value]:
    """The values that moved beyond their tolerance since the compare date ("what changed")."""
    return [v for v in values if v.moved]
