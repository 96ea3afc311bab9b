"""What every formula shares: numbers that may be missing, ratios that are None on a zero denominator, and the
health colours with their words and order."""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Literal

import pandas as pd

Number = int | float | Decimal

Health = Literal["green", "amber", "red", "grey"]

# Rank of each colour when taking the worst; iterating gives the colours from best to worst.
HEALTH_ORDER: dict[Health, int] = {"grey": 0, "green": 1, "amber": 2, "red": 3}

# Colour is never shown alone (colour-blind readers, black-and-white printouts): domain.md §7.
HEALTH_WORD: dict[Health, str] = {"green": "On track", "amber": "Watch", "red": "At risk", "grey": "No data"}
HEALTH_ICON: dict[Health, str] = {"green": "🟢", "amber": "🟡", "red": "🔴", "grey": "⚪"}
HEALTH_LABEL: dict[Health, str] = {h: f"{HEALTH_ICON[h]} {HEALTH_WORD[h]}" for h in HEALTH_WORD}


def _value(x: Number | None) -> float | None:
    """Return x as a float, or None when it is missing (None, NaN or pandas' NA)."""
    if x is None or x is pd.NA:
        return None
    value = float(x)
    return None if math.isnan(value) else value


def _minus(a: float | None, b: float | None) -> float | None:
    """Return a − b, or None when either is missing."""
    return None if a is None or b is None else a - b


def _plus(a: float | None, b: float | None) -> float | None:
    """Return a + b, or None when either is missing."""
    return None if a is None or b is None else a + b


def ratio(numerator: Number | None, denominator: Number | None) -> float | None:
    """Return numerator ÷ denominator, or None when either is missing or the denominator is 0."""
    n, d = _value(numerator), _value(denominator)
    if n is None or d is None or d == 0:
        return None
    return n / d


def worst_health(*healths: Health) -> Health:
    """Return the worst colour given (red > amber > green); grey only if all are grey or none given."""
    for health in healths:
        if health not in HEALTH_ORDER:
            raise ValueError(f"unknown health colour: {health!r}")
    return max(healths, key=HEALTH_ORDER.__getitem__, default="grey")
