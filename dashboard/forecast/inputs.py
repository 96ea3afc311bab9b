"""Checking a forecast's inputs: dates, the target, quantiles, the prior rate, and the sites' columns."""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd

from dashboard.forecast.limits import MAX_DAYS, MAX_RATE, MAX_SUBJECTS, MIN_DAYS_OPEN_WITH_ENROLLED

# --- input --------------------------------------------------------------------------------------


def _as_date(value: Any, name: str) -> date:
    """Return value as a date; ValueError when it is not one."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if not isinstance(value, (str, np.datetime64)):
        raise ValueError(f"{name} must be a date, not {value!r}")
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"{name} must be a date, not {value!r}") from None
    if pd.isna(stamp):
        raise ValueError(f"{name} must be a date, not {value!r}")
    return stamp.date()


def _target(target: Any) -> int:
    """Return the target as an int; ValueError unless it is a whole number ≥ 1."""
    if isinstance(target, (bool, str, bytes)):
        raise ValueError(f"target must be a whole number of subjects, not {target!r}")
    try:
        value = float(target)
    except (TypeError, ValueError):
        raise ValueError(f"target must be a whole number of subjects, not {target!r}") from None
    if not math.isfinite(value) or value != round(value):
        raise ValueError(f"target must be a whole number of subjects, not {target!r}")
    if value < 1:
        raise ValueError(f"target must be at least 1 subject, not {target!r}")
    if value > MAX_SUBJECTS:
        raise ValueError(f"target of {target!r} subjects is implausibly large")
    return int(value)


def _quantiles(quantiles: Iterable[float]) -> list[float]:
    """Return the quantiles as floats; ValueError unless each lies strictly between 0 and 1."""
    try:
        qs = [float(q) for q in quantiles]
    except (TypeError, ValueError):
        raise ValueError(f"quantiles must be numbers between 0 and 1, not {quantiles!r}") from None
    if not all(0 < q < 1 for q in qs):
        raise ValueError(f"quantiles must be between 0 and 1 (exclusive), not {qs}")
    return qs


def _prior_rate(prior_rate: Any) -> float | None:
    """Return the planned rate per site-day, or None when there is none (None, NaN or 0)."""
    if prior_rate is None:
        return None
    try:
        value = float(prior_rate)
    except (TypeError, ValueError):
        raise ValueError(f"prior_rate must be subjects per site per day, not {prior_rate!r}") from None
    if math.isnan(value) or value == 0:
        return None
    if not 0 < value <= MAX_RATE:
        raise ValueError(f"prior_rate must be a positive rate per site per day, not {prior_rate!r}")
    return value


def _column(sites: pd.DataFrame, name: str) -> np.ndarray:
    """Return a column as floats (NaN where missing); ValueError when it holds something else."""
    try:
        values = pd.to_numeric(sites[name], errors="raise")
        return np.asarray(values.to_numpy(dtype=float, na_value=np.nan), dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"sites.{name} must be numbers") from None


def _site_arrays(sites: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Check the sites frame; return enrolled, days open, day each site opens (0 if open) and can-still-enroll."""
    if not isinstance(sites, pd.DataFrame):
        raise ValueError(f"sites must be a DataFrame with one row per site, not {type(sites).__name__}")
    missing = [c for c in ("enrolled", "days_open") if c not in sites.columns]
    if missing:
        raise ValueError(f"sites is missing the column{'s' if len(missing) > 1 else ''} {', '.join(missing)}")
    n = len(sites)
    k = _column(sites, "enrolled")
    tau = _column(sites, "days_open")
    opens_in = _column(sites, "opens_in_days") if "opens_in_days" in sites.columns else np.full(n, np.nan)
    pending = ~np.isnan(opens_in)
    if "is_closed" in sites.columns:
        closed = _closed_flags(sites["is_closed"])
    else:
        closed = np.zeros(n, dtype=bool)

    # A site not yet active may have no counts at all; an active one must have them.
    k = np.where(pending & np.isnan(k), 0.0, k)
    tau = np.where(pending & np.isnan(tau), 0.0, tau)
    for name, values in (("enrolled", k), ("days_open", tau)):
        if np.isnan(values).any():
            raise ValueError(f"sites.{name} is missing for {int(np.isnan(values).sum())} active site(s)")
        if np.isinf(values).any():
            raise ValueError(f"sites.{name} must be finite")
        if (values < 0).any():
            raise ValueError(f"sites.{name} cannot be negative")
        if (values > (MAX_SUBJECTS if name == "enrolled" else MAX_DAYS)).any():
            raise ValueError(f"sites.{name} holds an implausibly large value")
    if (k != np.round(k)).any():
        raise ValueError("sites.enrolled must be whole numbers")
    if (opens_in < 0).any() or (opens_in > MAX_DAYS).any():
        raise ValueError("sites.opens_in_days must be a finite number of days ≥ 0 (or missing for an active site)")

    tau = np.where((k > 0) & (tau < MIN_DAYS_OPEN_WITH_ENROLLED), MIN_DAYS_OPEN_WITH_ENROLLED, tau)
    start = np.where(pending, opens_in, 0.0)
    return k, tau, start, ~closed


def _closed_flags(column: pd.Series) -> np.ndarray:
    """Return is_closed as bools (missing = open); ValueError for anything but booleans or 0/1."""
    if pd.api.types.is_bool_dtype(column.dtype):
        return column.to_numpy(dtype=bool, na_value=False)
    values = column.to_numpy(dtype=object)
    flags = np.zeros(values.size, dtype=bool)
    for i, v in enumerate(values):
        if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)):
            continue
        if isinstance(v, (bool, np.bool_)) or (isinstance(v, (int, float, np.integer, np.floating)) and v in (0, 1)):
            flags[i] = bool(v)
        else:
            raise ValueError(f"sites.is_closed must be true or false, not {v!r}")
    return flags
