"""The demo portfolio: a seeded, deterministic generator of every reporting table, and its loader.

    python -m dashboard.demo [--url URL] [--seed N] [--trials N] [--today YYYY-MM-DD] [--if-missing | --replace]
    python -m dashboard.demo --csv DIR [--seed N] [--trials N] [--today YYYY-MM-DD]

`--csv` writes the portfolio as the CSV files of the data contract (docs/data-contract.md) instead,
a complete example for a data team to copy and for `python -m dashboard.load` to read.

`generate()` returns the tables as DataFrames (one per table, the schema's columns, ids 1..n);
`write()` bulk-inserts them (COPY on PostgreSQL); `build()` does both into a new database and adds a
load_log row. `--trials 200` makes a large portfolio (about 12k sites, 200k subjects, 2M visits,
500k data queries, 330k adverse events) in about half a minute on SQLite or PostgreSQL.

Shapes follow domain.md: per-site enrollment rates drawn from a Gamma distribution (mean 0.5
subjects per site-month, shape 1.5) with Poisson arrivals, staggered site activation, 25–35 %
screen failure, 5–15 % dropout, visits every four weeks with data-entry lags, queries (answered,
then closed) and deviations (some undated), adverse events, treatment discontinuation, quality
tolerance limits, earned value that actual cost tracks, milestones with a forecast history; the
default portfolio's trials also get data-point and lab counts per visit, and three of them eCRF
pages (the large portfolio's extra trials none, so it stays quick to build). Each trial
is simulated in days from its CRO contract signature to the end of its story, then placed so
that `today` falls in the life stage its status says; nothing after `today` is kept.

The module constants name the features planted for the pages to show (and the tests to find).

The package, by responsibility: specs (the planted features and each trial's spec), simulation (one trial in days),
tables (generate: every table, and the clinical ones), contracts (contracts, unit prices, change orders, planned spend,
milestones), detail (adverse events, EDC detail, QTLs, forecasts, actual cost), writer (into a database or CSV files),
cli.
"""

from dashboard.demo.cli import main
from dashboard.demo.specs import (
    BAD_SITE,
    BIG_TRIAL,
    CDMO_TRIAL,
    CDMO_VENDOR,
    CLOSED_TRIAL,
    CRF_PAGE_TRIALS,
    CRF_PAGES,
    DEFAULT_TRIALS,
    DEMO_USERS,
    FOLLOW_UP_TRIAL,
    LATE_SAE_SITE,
    LATE_SAE_TRIAL,
    MAIN_SPONSOR,
    MAIN_USER,
    MIN_TRIALS,
    NEAR_MISS_TRIAL,
    OTHER_SPONSOR,
    OTHER_USER,
    OVERRUN_TRIAL,
    PORTFOLIO_USER,
    QTL_BREACH_FIGURE,
    QTL_BREACH_TRIAL,
    QTL_TRIALS,
    SHARED_TRIAL_OTHER,
    SHARED_VENDOR,
    SUPPLY_LEAD_TIME_DAYS,
    SUPPLY_RISK_TRIAL,
    UNDATED_DEVIATIONS_TRIAL,
    UNDER_REPORTING_FACTOR,
    UNDER_REPORTING_SITE,
    DemoError,
    _trial_specs,
)
from dashboard.demo.tables import generate
from dashboard.demo.writer import build, export_csv, write

__all__ = [
    "BAD_SITE",
    "BIG_TRIAL",
    "CDMO_TRIAL",
    "CDMO_VENDOR",
    "CLOSED_TRIAL",
    "CRF_PAGES",
    "CRF_PAGE_TRIALS",
    "DEFAULT_TRIALS",
    "DEMO_USERS",
    "DemoError",
    "FOLLOW_UP_TRIAL",
    "LATE_SAE_SITE",
    "LATE_SAE_TRIAL",
    "MAIN_SPONSOR",
    "MAIN_USER",
    "MIN_TRIALS",
    "NEAR_MISS_TRIAL",
    "OTHER_SPONSOR",
    "OTHER_USER",
    "OVERRUN_TRIAL",
    "PORTFOLIO_USER",
    "QTL_BREACH_FIGURE",
    "QTL_BREACH_TRIAL",
    "QTL_TRIALS",
    "SHARED_TRIAL_OTHER",
    "SHARED_VENDOR",
    "SUPPLY_LEAD_TIME_DAYS",
    "SUPPLY_RISK_TRIAL",
    "UNDATED_DEVIATIONS_TRIAL",
    "UNDER_REPORTING_FACTOR",
    "UNDER_REPORTING_SITE",
    "_trial_specs",
    "build",
    "export_csv",
    "generate",
    "main",
    "write",
]
