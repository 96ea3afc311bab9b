"""Query results, forecasts and composed health, cached per function, Scope and database; the one place pages reach
the database (`reading`), where driver errors become named errors."""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable
from contextlib import contextmanager
from datetime import date

import pandas as pd
import streamlit as st
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from dashboard import access, errors, registry
from dashboard.db import make_engine
from dashboard.settings import get_settings

# Read once for the cache decorators; everything else reads get_settings() when it runs.
_settings = get_settings()

errors.configure_logging(_settings.log_level)


@st.cache_resource(show_spinner=False)
def engine(url: str, statement_timeout_s: float) -> Engine:
    """The dashboard's read-only engine for `url`, one per process (and per statement timeout)."""
    return make_engine(url, read_only=True, statement_timeout_s=statement_timeout_s)


@contextmanager
def reading(url: str):
    """A read-only connection to `url`: the one place the dashboard's pages reach the database. A driver's error
    leaves it named (errors.DatabaseUnreachable, StatementTimeout or QueryError), the driver's error as its cause."""
    try:
        with engine(url, get_settings().statement_timeout_s).connect() as conn:
            yield conn
    except SQLAlchemyError as exc:
        raise errors.from_database(exc) from exc


@st.cache_data(ttl=_settings.cache_ttl_s, max_entries=_settings.cache_max_entries, show_spinner=False)
def _run_query(module: str, name: str, scope: access.Scope, url: str, kwargs: tuple) -> pd.DataFrame:
    function = getattr(importlib.import_module(module), name)
    with reading(url) as conn:
        return function(conn, scope, **dict(kwargs))


def cached(function: Callable[..., pd.DataFrame], scope: access.Scope, **kwargs) -> pd.DataFrame:
    """Run a query function with a Scope, reusing a result cached for exactly that function, scope and database."""
    url = get_settings().database_url
    return _run_query(function.__module__, function.__name__, scope, url, tuple(sorted(kwargs.items())))


# A resource, not data: every run gets the same Forecast object back (not a copy), so what it has
# worked out since (the extra sites needed) is kept. It holds no sponsor's names, only its inputs' figures.
@st.cache_resource(ttl=_settings.cache_ttl_s, max_entries=_settings.cache_max_entries, show_spinner=False)
def _predict(inputs: tuple, target: int, as_of: date, prior_rate: float | None, drift_prior: tuple | None):
    from dashboard import drift
    from dashboard.forecast import predict_trial

    return predict_trial(inputs, target, as_of, prior_rate, None if drift_prior is None else drift.Prior(*drift_prior))


# Composing every trial's health from its queries (forecasts, flags, pandas) costs seconds in a large
# portfolio even when every query is cached: keep the composition itself, keyed like the queries.
@st.cache_resource(ttl=_settings.cache_ttl_s, max_entries=_settings.cache_max_entries, show_spinner=False)
def _compose(module: str, name: str, scope: access.Scope, url: str):
    function = getattr(importlib.import_module(module), name)
    return function(cached, scope, get_settings(), predict)


def composed(function: Callable, scope: access.Scope):
    """`function(run, scope, settings, predict)` over cached queries, itself cached by function, scope and database.

    Its frames are copied for each run, so a page may change them; its other parts are shared.
    """
    result = _compose(function.__module__, function.__name__, scope, get_settings().database_url)
    if dataclasses.is_dataclass(result):
        return dataclasses.replace(
            result,
            **{
                f.name: getattr(result, f.name).copy()
                for f in dataclasses.fields(result)
                if isinstance(getattr(result, f.name), pd.DataFrame)
            },
        )
    return result


# The registry's Basis of a view, kept like the composed health it is made of: a portfolio of hundreds of trials
# splits it by trial and sums each trial's budget once, then every warm run reuses that work. Shared by the runs of a
# scope (a scope holds the user's sponsors: never another tenant's), so pages only read it, never change its frames.
@st.cache_resource(ttl=_settings.cache_ttl_s, max_entries=_settings.cache_max_entries, show_spinner=False)
def _basis(module: str, name: str, scope: access.Scope, url: str, options: tuple) -> registry.Basis:
    view_basis = getattr(importlib.import_module(module), name)

    def shared(function: Callable, part_scope: access.Scope):
        return _compose(function.__module__, function.__name__, part_scope, url)

    return view_basis(shared, scope, get_settings(), **dict(options))


def basis(view_basis: Callable, scope: access.Scope, **options) -> registry.Basis:
    """`view_basis(compose, scope, settings, **options)` (queries.overview.view_basis) composed from the cached parts,
    itself cached by scope, database and options. Read-only: the pages of every run of this scope share it."""
    return _basis(
        view_basis.__module__, view_basis.__name__, scope, get_settings().database_url, tuple(sorted(options.items()))
    )


def predict(
    sites: pd.DataFrame,
    target: int,
    as_of: date,
    prior_rate: float | None,
    history: pd.DataFrame | None = None,
    drift_prior=None,
):
    """The enrollment forecast for one trial's sites and enrollment history, with its sponsor's drift prior, cached on
    its inputs (the same inputs give the same forecast). The prior goes to the cache as its numbers."""
    from dashboard.forecast import trial_inputs

    numbers = None if drift_prior is None else dataclasses.astuple(drift_prior)
    return _predict(trial_inputs(sites, history), target, as_of, prior_rate, numbers)
