"""How figures are written for people, the same on pages and in the status e-mail."""

from __future__ import annotations

import pandas as pd


def money(amount: float | None) -> str:
    """An amount, short: 1.2M, 350k, 900; a dash when there is none (empty is not zero)."""
    if amount is None or pd.isna(amount):
        return "—"
    for size, suffix in ((1e9, "bn"), (1e6, "M"), (1e3, "k")):
        if abs(amount) >= size:
            return f"{amount / size:,.1f}{suffix}"
    return f"{amount:,.0f}"
