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
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine, func, inspect, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from dashboard import rollups, schema
from dashboard.db import (
    SchemaStateError,
    UsageError,
    cli_database_url,
    create_schema,
    current_revision,
    head_revision,
    make_engine,
    report_cli_error,
)

# The planted features (protocol numbers, site numbers, vendor codes, e-mails).
MAIN_SPONSOR = "HELIOS"
OTHER_SPONSOR = "BOREAL"
BIG_TRIAL = "HEL-301"  # phase III, enrolling, 64 planned sites, most of them active
BAD_SITE = "1005"  # in BIG_TRIAL: slow data entry, three times the queries, queries left open
OVERRUN_TRIAL = "HEL-201"  # enrolling, actual cost well above earned value (CPI ≈ 0.78)
SUPPLY_RISK_TRIAL = "HEL-101"  # start-up: site supply ready is forecast after first site activated − lead time
NEAR_MISS_TRIAL = "HEL-202"  # start-up: supply margin of a few days (0 ≤ margin < 14 days), a near miss
CDMO_TRIAL = "HEL-102"  # the CDMO runs both the clinical (CRO) and the supply (CMO) lane
FOLLOW_UP_TRIAL = "HEL-302"
CLOSED_TRIAL = "HEL-401"
# Safety and data-quality sources (domain.md §4a). The two safety sites are the sites of their trial with the most
# subject-months on study on `today` (BAD_SITE aside) and are given these numbers, so their signals are clear whatever
# the seed or --trials.
UNDER_REPORTING_SITE = "1010"  # in BIG_TRIAL: reports about a sixth of its peers' adverse events per subject-month
UNDER_REPORTING_FACTOR = 0.15  # its AE rate against its peers'
LATE_SAE_TRIAL = FOLLOW_UP_TRIAL
LATE_SAE_SITE = "1012"  # in LATE_SAE_TRIAL: four in five of its SAEs reach the sponsor 3–10 days after awareness
UNDATED_DEVIATIONS_TRIAL = FOLLOW_UP_TRIAL  # two thirds of its deviations have no date; most of those an identified date
QTL_BREACH_TRIAL = FOLLOW_UP_TRIAL  # its QTL_BREACH_FIGURE is above its limit today; its other QTLs well within
QTL_BREACH_FIGURE = "dropout"
# QTLs (figure, …) of the trials that have them; each limit is set from the trial's figure on `today` (see _qtls).
QTL_TRIALS = {
    BIG_TRIAL: ("deviation_rate", "dropout"),
    OVERRUN_TRIAL: ("screen_failure", "dropout", "treatment_discontinuation"),
    QTL_BREACH_TRIAL: ("deviation_rate", "dropout", "treatment_discontinuation"),
    "BOR-301": ("deviation_rate", "dropout"),
}
CRF_PAGE_TRIALS = (BIG_TRIAL, OVERRUN_TRIAL, CDMO_TRIAL)  # the trials whose eCRF pages are loaded; the others have none
CRF_PAGES = ("DM", "VS", "LB", "AE", "CM", "EX", "PE", "EG")  # DM (demographics) only at screening
SHARED_TRIAL_OTHER = "BOR-201"  # the other sponsor's trial run by SHARED_VENDOR
CDMO_VENDOR = "VERIDIAN"
SHARED_VENDOR = "NORTHSTAR"  # CRO of BIG_TRIAL and of SHARED_TRIAL_OTHER: both sponsors
SUPPLY_LEAD_TIME_DAYS = 14
MAIN_USER = "exec@helios.example"
OTHER_USER = "pm@borealis.example"
PORTFOLIO_USER = "portfolio@cro.example"
DEMO_USERS = {MAIN_USER: (MAIN_SPONSOR,), OTHER_USER: (OTHER_SPONSOR,), PORTFOLIO_USER: (MAIN_SPONSOR, OTHER_SPONSOR)}
MIN_TRIALS = 7  # the main sponsor's planted trials
DEFAULT_TRIALS = 12
# A large portfolio (--trials 200: about 12k sites, 200k subjects, 2M visits, 500k queries) is the
# default one plus larger synthetic trials: each trial beyond the default ones recruits this many
# times faster per site (against a plan as much larger) and treats its subjects this much longer.
# The default portfolio, and so every planted feature, is the same whatever --trials says.
LARGE_TRIAL_RATE_FACTOR = 2.0
LARGE_TRIAL_TREATMENT_FACTOR = 1.15
LARGE_TRIAL_AE_RATE = 0.2  # adverse events per subject-month of those trials: the low end, so they stay quick to write

RATE_MEAN = 0.5  # subjects per site-month
RATE_SHAPE = 1.5
ZERO_RATE_SHARE = 0.14  # sites that never recruit however long they are open (the others make up the mean)
VISIT_INTERVAL_DAYS = 28
FORECAST_NEWS_DAYS = 150
# (trial role, milestone code) whose forecast is planted to move in the week before today.
MOVED_THIS_WEEK = {("supply_risk", "SITE_SUPPLY_READY"), ("near_miss", "SITE_SUPPLY_READY"), ("big", "LPI"), ("overrun", "LPI")}
CHUNK_ROWS = 20_000
DAYS_PER_MONTH = 365.25 / 12
EPOCH = date(1970, 1, 1)
NA = np.nan

SPONSORS = [
    (MAIN_SPONSOR, "Helios Therapeutics", "USD", "HEL"),
    (OTHER_SPONSOR, "Borealis Pharma", "EUR", "BOR"),
]

# ISO code, name, region, weight when spreading sites, cities for site names.
COUNTRIES = [
    ("US", "United States", "North America", 5.0, ("Boston", "Houston", "Chicago", "San Diego", "Nashville")),
    ("CA", "Canada", "North America", 1.2, ("Toronto", "Montreal", "Vancouver")),
    ("GB", "United Kingdom", "Europe", 1.5, ("London", "Manchester", "Leeds", "Glasgow")),
    ("DE", "Germany", "Europe", 2.0, ("Berlin", "Munich", "Hamburg", "Heidelberg")),
    ("FR", "France", "Europe", 1.5, ("Paris", "Lyon", "Marseille", "Lille")),
    ("ES", "Spain", "Europe", 1.5, ("Madrid", "Barcelona", "Valencia", "Seville")),
    ("IT", "Italy", "Europe", 1.3, ("Milan", "Rome", "Bologna", "Naples")),
    ("NL", "Netherlands", "Europe", 0.8, ("Amsterdam", "Rotterdam", "Utrecht")),
    ("BE", "Belgium", "Europe", 0.7, ("Brussels", "Leuven", "Ghent")),
    ("PL", "Poland", "Europe", 1.2, ("Warsaw", "Krakow", "Gdansk", "Lodz")),
    ("CZ", "Czechia", "Europe", 0.7, ("Prague", "Brno", "Olomouc")),
    ("JP", "Japan", "Asia-Pacific", 1.3, ("Tokyo", "Osaka", "Nagoya", "Fukuoka")),
    ("KR", "South Korea", "Asia-Pacific", 1.0, ("Seoul", "Busan", "Incheon")),
    ("AU", "Australia", "Asia-Pacific", 1.0, ("Sydney", "Melbourne", "Brisbane", "Perth")),
    ("BR", "Brazil", "Latin America", 1.0, ("Sao Paulo", "Rio de Janeiro", "Porto Alegre")),
    ("MX", "Mexico", "Latin America", 0.7, ("Mexico City", "Guadalajara", "Monterrey")),
]
INSTITUTIONS = ("University Hospital", "Medical Center", "Clinical Research Unit", "General Hospital", "Regional Hospital", "Research Institute")
FIRST_NAMES = ("Anna", "Ben", "Carla", "David", "Elena", "Farid", "Grace", "Hiro", "Ines", "Jonas", "Kasia", "Luis", "Mei",
               "Noah", "Olga", "Pedro", "Rosa", "Sven", "Tara", "Yusuf")
LAST_NAMES = ("Adler", "Berg", "Costa", "Dubois", "Eriksen", "Fischer", "Garcia", "Hayes", "Ito", "Jansen", "Kowalski",
              "Lambert", "Moreau", "Novak", "Okafor", "Park", "Rossi", "Schmidt", "Tanaka", "Weber")

THERAPEUTIC_AREAS = {
    "Oncology": ("Non-small cell lung cancer", "Metastatic breast cancer", "Colorectal cancer", "Multiple myeloma"),
    "Cardiology": ("Heart failure with reduced ejection fraction", "Atrial fibrillation", "Resistant hypertension"),
    "Neurology": ("Early Alzheimer's disease", "Parkinson's disease", "Episodic migraine", "Relapsing multiple sclerosis"),
    "Immunology": ("Rheumatoid arthritis", "Plaque psoriasis", "Ulcerative colitis", "Atopic dermatitis"),
    "Infectious disease": ("Respiratory syncytial virus", "Complicated urinary tract infection", "Chronic hepatitis B"),
    "Rare disease": ("Fabry disease", "Duchenne muscular dystrophy", "Haemophilia A"),
    "Respiratory": ("Severe asthma", "COPD"),
    "Metabolism": ("Type 2 diabetes", "Obesity"),
}

# code, name, kind.
VENDORS = [
    (SHARED_VENDOR, "Northstar Clinical Research", "CRO"),
    ("MERIDIAN", "Meridian CRO", "CRO"),
    ("ATLAS", "Atlas Clinical Services", "CRO"),
    ("KESTREL", "Kestrel Research Partners", "CRO"),
    ("ALPINE", "Alpine Biologics Manufacturing", "CMO"),
    ("HARBOR", "Harbor Pharma Services", "CMO"),
    (CDMO_VENDOR, "Veridian CDMO", "CDMO"),
    ("LUMEN", "Lumen Central Laboratories", "central_lab"),
]
CROS = (SHARED_VENDOR, "MERIDIAN", "ATLAS", "KESTREL")
SUPPLIERS = ("ALPINE", "HARBOR", CDMO_VENDOR)
LAB = "LUMEN"

PHASES = {
    # sites, countries, activation window (days), planned enrollment (first activation → LPI, days),
    # treatment visits after enrollment (every 4 weeks), fee scale
    "I": dict(sites=(4, 10), countries=(1, 2), act=(20, 45), enroll=(200, 320), treat=(4, 8), scale=0.4),
    "II": dict(sites=(20, 50), countries=(3, 6), act=(90, 180), enroll=(360, 600), treat=(8, 14), scale=0.7),
    "III": dict(sites=(40, 90), countries=(6, 12), act=(150, 300), enroll=(540, 900), treat=(12, 22), scale=1.0),
    "IV": dict(sites=(30, 70), countries=(4, 8), act=(90, 240), enroll=(420, 720), treat=(10, 16), scale=0.6),
}
PHASE_DIGITS = {"I": 1, "II": 2, "III": 3, "IV": 4}  # protocol numbers: HEL-301 is Helios' first phase III
PHASE_WEIGHTS = {"I": 0.15, "II": 0.25, "III": 0.45, "IV": 0.15}
STATUS_WEIGHTS = {"startup": 0.1, "enrolling": 0.5, "follow_up": 0.25, "closed": 0.15}

# (code, name, is_key, payment at phase III scale); order = sequence within the lane.
CRO_MILESTONES = [
    ("PROTOCOL_FINAL", "Protocol final", False, 50_000),
    ("FIRST_SITE_ACTIVATED", "First site activated", True, 75_000),
    ("FPI", "First patient in", True, 100_000),
    ("SITES_25", "25 % of sites activated", False, 25_000),
    ("SITES_50", "50 % of sites activated", False, 50_000),
    ("SITES_75", "75 % of sites activated", False, 25_000),
    ("ENROLLED_50", "50 % enrolled", False, 100_000),
    ("LPI", "Last patient in", True, 150_000),
    ("LPLV", "Last patient last visit", False, 100_000),
    ("DB_LOCK", "Database lock", True, 200_000),
    ("TOPLINE", "Topline results", True, 75_000),
    ("CSR_FINAL", "Clinical study report final", False, 150_000),
]
CMO_MILESTONES = [
    ("DS_MANUFACTURED", "Drug substance manufactured", False, 300_000),
    ("DS_RELEASED", "Drug substance released", False, 60_000),
    ("DP_MANUFACTURED", "Drug product manufactured (fill/finish)", False, 250_000),
    ("DP_RELEASED", "Drug product released", True, 60_000),
    ("PACKAGING_LABELLING", "Packaging and labelling", False, 80_000),
    ("QP_CERTIFICATION", "QP certification (EU)", False, 20_000),
    ("SHIPMENT_TO_DEPOT", "Shipment to depot", False, 30_000),
    ("SITE_SUPPLY_READY", "Site supply ready", True, 40_000),
]
# Days each CMO step takes before the next one, counted back from site supply ready.
CMO_STEP_DAYS = [(40, 60), (25, 40), (40, 60), (25, 40), (20, 35), (7, 14), (10, 20)]
STABILITY_MONTHS = (0, 3, 6, 9, 12, 18, 24, 36)

CHANGE_ORDER_REASONS = [
    ("Protocol amendment: additional safety visit", "pass_through"),
    ("Additional countries and sites", "service_fee"),
    ("Extended enrollment period", "service_fee"),
    ("Interim analysis added", "service_fee"),
    ("Investigator grant increase", "pass_through"),
]
# Adverse event terms (MedDRA preferred terms), non-serious and serious.
AE_TERMS = (
    "Nausea", "Fatigue", "Headache", "Diarrhoea", "Rash", "Pyrexia", "Vomiting", "Cough", "Dizziness", "Arthralgia",
    "Nasopharyngitis", "Hypertension", "Decreased appetite", "Constipation", "Insomnia", "Back pain", "Anaemia",
    "Injection site reaction", "Pruritus", "Alanine aminotransferase increased",
)
SAE_TERMS = (
    "Pneumonia", "Febrile neutropenia", "Sepsis", "Pulmonary embolism", "Acute kidney injury", "Myocardial infarction",
    "Atrial fibrillation", "Dehydration", "Syncope", "Cardiac failure",
)
DEVIATION_TEXTS = (
    "Visit out of window",
    "Informed consent version not current",
    "Eligibility criterion not met",
    "Missed safety laboratory assessment",
    "Dosing error",
    "Prohibited concomitant medication",
    "Investigational product temperature excursion",
    "Procedure not done per protocol",
)


class DemoError(Exception):
    """A request the demo cannot carry out, with a message for the user."""


@dataclass
class _Spec:
    """What a trial is before it is simulated."""

    sponsor: int
    protocol: str
    phase: str
    ta: str
    indication: str
    status: str
    cro: str
    supplier: str
    lab: bool
    n_sites: int | None = None
    plan_factor: float | None = None
    cpi: float | None = None
    role: str = ""
    rate_factor: float = 1.0  # enrollment rate and plan against RATE_MEAN
    treatment_factor: float = 1.0  # treatment visits against the phase's
    large: bool = False  # one of the large portfolio's extra trials (no EDC detail: data points, labs, pages)


# Dates are handled as float days since 1970-01-01 (NaN = none) and turned into dates at the end.


def _day(d: date) -> int:
    return (d - EPOCH).days


def _dates(days) -> pd.Series:
    days = np.asarray(days, dtype=float)
    out = np.full(days.shape, np.datetime64("NaT"), dtype="datetime64[D]")
    known = ~np.isnan(days)
    out[known] = days[known].astype(np.int64).astype("datetime64[D]")
    return pd.Series(out.astype("datetime64[s]"))


def _month_index(days) -> np.ndarray:
    """Months since 1970-01 of each day (days must be known)."""
    return np.asarray(days, dtype=np.int64).astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)


def _month_start(months) -> np.ndarray:
    """First day (as a day number) of each month index."""
    return np.asarray(months, dtype=np.int64).astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)


def _upto(values, today: int) -> np.ndarray:
    """Values after `today` become unknown: the data is cut at today."""
    values = np.asarray(values, dtype=float).copy()
    values[values > today] = NA
    return values


def _next_monday(day: int) -> int:
    return day + ((4 - day) % 7)  # 1970-01-05 (day 4) was a Monday


# The trials to simulate.


def _trial_specs(rng: np.random.Generator, n_trials: int) -> list[_Spec]:
    main = [
        _Spec(0, BIG_TRIAL, "III", "Oncology", "Non-small cell lung cancer", "enrolling", SHARED_VENDOR, "ALPINE", True,
              n_sites=64, plan_factor=1.15, cpi=1.0, role="big"),
        _Spec(0, OVERRUN_TRIAL, "II", "Immunology", "Ulcerative colitis", "enrolling", "MERIDIAN", "HARBOR", True,
              n_sites=30, plan_factor=0.9, cpi=0.78, role="overrun"),
        _Spec(0, SUPPLY_RISK_TRIAL, "I", "Rare disease", "Fabry disease", "startup", "ATLAS", CDMO_VENDOR, False, role="supply_risk"),
        _Spec(0, CDMO_TRIAL, "I", "Oncology", "Advanced solid tumours", "enrolling", CDMO_VENDOR, CDMO_VENDOR, False,
              n_sites=6, cpi=1.02, role="cdmo"),
        _Spec(0, NEAR_MISS_TRIAL, "II", "Neurology", "Early Alzheimer's disease", "startup", "KESTREL", "ALPINE", True, role="near_miss"),
        _Spec(0, FOLLOW_UP_TRIAL, "III", "Cardiology", "Heart failure with reduced ejection fraction", "follow_up", "MERIDIAN", "HARBOR", True),
        _Spec(0, CLOSED_TRIAL, "IV", "Infectious disease", "Respiratory syncytial virus", "closed", "ATLAS", "ALPINE", True),
    ]
    other = [
        _Spec(1, SHARED_TRIAL_OTHER, "II", "Immunology", "Atopic dermatitis", "enrolling", SHARED_VENDOR, "HARBOR", True),
        _Spec(1, "BOR-301", "III", "Respiratory", "Severe asthma", "follow_up", "KESTREL", "ALPINE", True),
    ]
    n_other = _other_trials(n_trials)
    counters: dict[tuple[int, str], int] = {}
    for spec in main + other:
        key = (spec.sponsor, spec.phase)
        counters[key] = counters.get(key, 0) + 1

    def random_specs(sponsor: int, count: int, n_default: int) -> list[_Spec]:
        """`count` random trials; those after the first `n_default` are the large portfolio's larger ones."""
        specs = []
        phases, statuses, tas = list(PHASE_WEIGHTS), list(STATUS_WEIGHTS), list(THERAPEUTIC_AREAS)
        for j in range(count):
            phase = str(rng.choice(phases, p=list(PHASE_WEIGHTS.values())))
            ta = str(rng.choice(tas))
            counters[(sponsor, phase)] = counters.get((sponsor, phase), 0) + 1
            protocol = f"{SPONSORS[sponsor][3]}-{PHASE_DIGITS[phase]}{counters[(sponsor, phase)]:02d}"
            specs.append(_Spec(
                sponsor, protocol, phase, ta, str(rng.choice(THERAPEUTIC_AREAS[ta])),
                str(rng.choice(statuses, p=list(STATUS_WEIGHTS.values()))),
                str(rng.choice(CROS)), str(rng.choice(SUPPLIERS, p=[0.45, 0.4, 0.15])),
                bool(phase != "I" and rng.random() < 0.7),
            ))
            if j >= n_default:
                specs[-1].rate_factor, specs[-1].treatment_factor = LARGE_TRIAL_RATE_FACTOR, LARGE_TRIAL_TREATMENT_FACTOR
                specs[-1].large = True
        return specs

    return (
        main + random_specs(0, n_trials - len(main), DEFAULT_TRIALS - len(main))
        + other + random_specs(1, n_other - len(other), _other_trials(DEFAULT_TRIALS) - len(other))
    )


def _other_trials(n_trials: int) -> int:
    """How many trials the other sponsor gets when the main one has `n_trials`."""
    return max(2, n_trials // 4)


# One trial's life, in days from its CRO contract signature.


def _simulate(rng: np.random.Generator, spec: _Spec, today: int) -> dict:
    par = PHASES[spec.phase]
    n = int(spec.n_sites or rng.integers(par["sites"][0], par["sites"][1] + 1))
    t0 = int(rng.integers(150, 241))  # first planned site activation
    act_window = int(rng.integers(*par["act"]))
    enroll_days = int(rng.integers(*par["enroll"]))
    if spec.role == "big":
        act_window, enroll_days = 240, 660
    n_treat = round(int(rng.integers(par["treat"][0], par["treat"][1] + 1)) * spec.treatment_factor)
    treat_days = VISIT_INTERVAL_DAYS * n_treat

    # Sites: staggered planned activation, actual activation a few weeks late, selection months before.
    u = np.sort(rng.random(n) ** 1.3)
    u[0] = 0.0
    planned = t0 + np.round(u * act_window)
    activated = planned + np.round(rng.gamma(2.0, 12.0, n)) - 8
    if spec.role == "big":
        activated[:6] = planned[:6] + rng.integers(0, 10, 6)  # BAD_SITE among the first active
    selected = np.maximum(activated - rng.integers(40, 151, n), 30)

    k_countries = int(rng.integers(par["countries"][0], par["countries"][1] + 1))
    weights = np.array([c[3] for c in COUNTRIES])
    chosen = rng.choice(len(COUNTRIES), size=min(k_countries, n), replace=False, p=weights / weights.sum())
    counts = np.ones(len(chosen), dtype=int) + rng.multinomial(n - len(chosen), weights[chosen] / weights[chosen].sum())
    country = rng.permutation(np.repeat(chosen, counts))

    # The plan: each site recruits its target evenly from planned activation to the planned LPI.
    plan_factor = float(spec.plan_factor or rng.uniform(0.75, 1.3))
    lpi_base = t0 + enroll_days
    site_target = np.maximum(1, np.round(RATE_MEAN * spec.rate_factor * plan_factor * (lpi_base - planned) / DAYS_PER_MONTH)).astype(int)
    target = int(site_target.sum())

    # Actual recruitment: a Gamma-distributed rate per site, Poisson arrivals of enrolled subjects.
    rate = rng.gamma(RATE_SHAPE, RATE_MEAN * spec.rate_factor / (1 - ZERO_RATE_SHARE) / RATE_SHAPE, n)
    rate[rng.permutation(n)[: round(ZERO_RATE_SHARE * n)]] = 0.0
    if spec.role == "big":
        rate[int(BAD_SITE) - 1001] = 1.0
    floor = 0.35 * target / (enroll_days / DAYS_PER_MONTH)  # no trial recruits at under a third of its plan
    if rate.sum() < floor:
        rate = rate * floor / rate.sum() if rate.sum() > 0 else np.full(n, floor / n)
    horizon = lpi_base + 2 * enroll_days
    while True:
        arrivals = rng.poisson(rate * np.maximum(horizon - activated, 0) / DAYS_PER_MONTH)
        if arrivals.sum() >= target:
            break
        horizon += enroll_days
    arrival_site = np.repeat(np.arange(n), arrivals)
    arrival_day = activated[arrival_site] + rng.random(arrival_site.size) * (horizon - activated[arrival_site])
    first = np.argsort(arrival_day, kind="stable")[:target]
    enr_site, enr_day = arrival_site[first], np.floor(arrival_day[first])
    lpi = float(enr_day.max())
    enr_scr = enr_day - np.minimum(3 + np.round(rng.gamma(2.0, 4.0, target)), enr_day - activated[enr_site])

    # Screen failures: a thinned Poisson stream beside the enrolled one, up to the LPI.
    sf_trial = rng.uniform(0.24, 0.32)
    sf_site = rng.beta(sf_trial * 40, (1 - sf_trial) * 40, n)
    fail_counts = rng.poisson((rate + 0.03) * sf_site / (1 - sf_site) * np.maximum(lpi - activated, 0) / DAYS_PER_MONTH)
    fail_site = np.repeat(np.arange(n), fail_counts)
    fail_scr = np.floor(activated[fail_site] + rng.random(fail_site.size) * np.maximum(lpi - activated[fail_site], 0))
    fail_day = fail_scr + 3 + np.round(rng.gamma(2.0, 4.0, fail_site.size))

    # Dropout and completion.
    dropout = rng.random(target) < rng.uniform(0.09, 0.17)
    disc = np.where(dropout, enr_day + rng.integers(14, treat_days - 6, target), NA)
    done = np.where(dropout, NA, enr_day + treat_days)
    end = np.where(dropout, disc, done)
    lplv = float(end.max())

    # CRO milestones: baselines from the plan, actual dates from the simulated data.
    day_grid = np.arange(t0, lpi_base + 1)
    frac = np.clip((day_grid[:, None] - planned[None, :]) / (lpi_base - planned)[None, :], 0, 1)
    plan_curve = frac @ site_target
    # A site that would open after recruitment ends (and screened nobody) is cancelled.
    site_ok = activated < lpi - 14
    site_ok[enr_site] = True
    site_ok[fail_site] = True
    act_sorted = np.sort(activated[site_ok])
    planned_sorted = np.sort(planned)
    enr_sorted = np.sort(enr_day)
    half = math.ceil(target / 2) - 1

    def nth_active(share: float) -> tuple[float, float]:
        k = math.ceil(share * n) - 1
        return float(planned_sorted[k]), float(act_sorted[k]) if k < act_sorted.size else NA

    dbl = lplv + rng.integers(40, 111)
    base = {}  # code → (baseline, truth)
    pf = float(rng.integers(20, 61))
    base["PROTOCOL_FINAL"] = (pf, pf + rng.integers(-5, 26))
    base["FIRST_SITE_ACTIVATED"] = (float(t0), float(act_sorted[0]))
    base["FPI"] = (float(t0 + 30), float(enr_sorted[0]))
    base["SITES_25"], base["SITES_50"], base["SITES_75"] = nth_active(0.25), nth_active(0.5), nth_active(0.75)
    base["ENROLLED_50"] = (float(day_grid[np.argmax(plan_curve >= target / 2)]), float(enr_sorted[half]))
    base["LPI"] = (float(lpi_base), lpi)
    base["LPLV"] = (float(lpi_base + treat_days), lplv)
    dbl_base = lpi_base + treat_days + 60
    base["DB_LOCK"] = (float(dbl_base), float(dbl))
    base["TOPLINE"] = (float(dbl_base + 30), float(dbl + rng.integers(20, 51)))
    base["CSR_FINAL"] = (float(dbl_base + 120), float(dbl + rng.integers(90, 161)))

    # CMO milestones, counted back from site supply ready; slips accumulate along the chain.
    ssr_base = t0 - SUPPLY_LEAD_TIME_DAYS - int(rng.integers(21, 51))
    cmo_base = [float(ssr_base)]
    for lo, hi in reversed(CMO_STEP_DAYS):
        cmo_base.insert(0, cmo_base[0] - int(rng.integers(lo, hi + 1)))
    cmo_base = np.array(cmo_base)
    slip = np.cumsum(np.clip(np.round(rng.normal(3, 6, len(cmo_base))), -3, 15))
    if spec.role in ("supply_risk", "near_miss"):
        margin = -18 if spec.role == "supply_risk" else 3  # against the baseline first-site date, which the CRO keeps forecasting
        wanted = (t0 - SUPPLY_LEAD_TIME_DAYS - margin) - ssr_base
        slip = wanted * np.array([0, 0, 0.5, 1, 1, 1, 1, 1])
    else:
        slip = np.minimum(slip, base["FIRST_SITE_ACTIVATED"][1] - SUPPLY_LEAD_TIME_DAYS - 14 - ssr_base)
    cmo_truth = cmo_base + np.round(slip)
    for (code, *_), b, t in zip(CMO_MILESTONES, cmo_base, cmo_truth):
        base[code] = (float(b), float(t))
    dp_base, dp_truth = base["DP_RELEASED"]
    for m in STABILITY_MONTHS:
        offset = round(m * DAYS_PER_MONTH)
        base[f"STAB_{m:02d}M"] = (dp_base + offset, dp_truth + offset + rng.integers(0, 6))
    base["EXPIRY"] = (dp_base + 730, dp_truth + 1095)  # shelf life extended from 24 to 36 months on stability data

    # Where today falls in this life.
    fpi_truth = base["FPI"][1]
    if spec.role in ("supply_risk", "near_miss"):
        today_rel = t0 - int(rng.integers(50, 71))
    elif spec.status == "startup":
        today_rel = int(rng.integers(int(act_sorted[0]) - 45, int(fpi_truth) + 8))  # a few subjects at most
    elif spec.status == "enrolling":
        today_rel = fpi_truth + rng.uniform(0.3, 0.85) * (lpi - fpi_truth)
        if spec.role == "big":
            today_rel = max(fpi_truth + 0.45 * (lpi - fpi_truth), activated[np.argsort(activated)[int(0.8 * n)]] + 60)
            today_rel = min(today_rel, lpi - 60)
    elif spec.status == "follow_up":
        today_rel = lpi + rng.uniform(0.15, 0.85) * (dbl - lpi)
    else:
        today_rel = base["CSR_FINAL"][1] + int(rng.integers(30, 300))
    shift = today - int(round(today_rel))

    # Site closure: after the site's last subject, or soon after LPI for a site with none; all of a closed trial's.
    last_end = np.full(n, -np.inf)
    np.maximum.at(last_end, enr_site, end)
    closed = np.where(np.isfinite(last_end), last_end, np.maximum(lpi, activated)) + rng.integers(14, 91, n)
    if spec.status == "closed":
        closed = np.maximum(closed, lplv + rng.integers(14, 121, n))
    closed = np.where(site_ok, closed, lpi + 14)
    activated = np.where(site_ok, activated, NA)

    # Site-level quality: data-entry lag, query rate and closing time, deviation rate.
    lag_mean = np.clip(rng.gamma(4.0, 1.0, n), 1.5, 8.0)
    query_rate = np.clip(0.25 * rng.gamma(5.0, 0.2, n), 0.08, 0.5)
    close_mean = np.clip(rng.gamma(4.0, 2.5, n), 3.0, 12.0)
    deviation_rate = np.clip(0.02 * rng.gamma(3.0, 1 / 3, n), 0.003, 0.06)
    if spec.role == "big":
        bad = int(BAD_SITE) - 1001
        lag_mean[bad], query_rate[bad], close_mean[bad], deviation_rate[bad] = 40.0, 0.8, 300.0, 0.05

    subjects_screened = np.concatenate([enr_scr, fail_scr])
    s = shift
    return dict(
        spec=spec, n_sites=n, target=target, treat_days=treat_days, n_treat=n_treat, sf_plan=0.3,
        planned=planned + s, selected=selected + s, activated=activated + s, closed=closed + s, country=country,
        site_target=site_target, lag_mean=lag_mean, query_rate=query_rate, close_mean=close_mean, deviation_rate=deviation_rate,
        subj_site=np.concatenate([enr_site, fail_site]),
        subj_screened=subjects_screened + s,
        subj_failed=np.concatenate([np.full(target, NA), fail_day + s]),
        subj_enrolled=np.concatenate([enr_day + s, np.full(fail_site.size, NA)]),
        subj_disc=np.concatenate([disc + s, np.full(fail_site.size, NA)]),
        subj_done=np.concatenate([done + s, np.full(fail_site.size, NA)]),
        milestones={code: (b + s, t + s) for code, (b, t) in base.items()},
        dbl=float(dbl + s),
        cmo_signed=float(cmo_base[0] + s - int(rng.integers(45, 121))),
        lab_signed=float(min(s + int(rng.integers(30, 91)), today)),
        cro_signed=float(s),
        cpi=float(spec.cpi or rng.uniform(0.93, 1.07)),
        plan_frac=(planned + s, lpi_base + s),
    )


# Assembling the tables.


def _ids(n: int) -> np.ndarray:
    return np.arange(1, n + 1, dtype=np.int64)


def _rank_within(groups: np.ndarray) -> np.ndarray:
    """1-based position of each row within its group, rows being already sorted by group."""
    n = groups.size
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    starts = np.r_[0, np.flatnonzero(groups[1:] != groups[:-1]) + 1]
    sizes = np.diff(np.r_[starts, n])
    return np.arange(n) - np.repeat(starts, sizes) + 1


def _site_labels(sim: dict, today: int) -> np.ndarray:
    """Each site's number within its trial, less 1001: its position, except that the site with the most subject-days on
    study by `today` (BAD_SITE aside) swaps numbers with UNDER_REPORTING_SITE in BIG_TRIAL, and with LATE_SAE_SITE in
    LATE_SAE_TRIAL.

    Only labels move (no random draw), so every other table is as it would be without the safety plants.
    """
    n = sim["n_sites"]
    labels = np.arange(n)
    spec = sim["spec"]
    planted = {BIG_TRIAL: UNDER_REPORTING_SITE, LATE_SAE_TRIAL: LATE_SAE_SITE}.get(spec.protocol)
    if planted is None or spec.large:
        return labels
    enrolled = sim["subj_enrolled"]
    on = enrolled <= today
    until = np.fmin(np.fmin(sim["subj_disc"], sim["subj_done"]), today)
    days = np.bincount(sim["subj_site"][on], weights=(until - enrolled)[on], minlength=n)
    if spec.role == "big":
        days[int(BAD_SITE) - 1001] = -np.inf
    site, wanted = int(np.argmax(days)), int(planted) - 1001
    labels[wanted], labels[site] = labels[site], wanted
    return labels


def _sensible(value: float) -> float:
    """A limit someone would write down: two significant digits (at most two decimals, as the demo writes them)."""
    return round(float(f"{value:.2g}"), 2)


def _phase_amounts(amounts: np.ndarray, total: float) -> np.ndarray:
    """Round monthly amounts to cents so they add up exactly to `total`."""
    if amounts.sum() <= 0:
        amounts = np.ones_like(amounts)
    cents = np.round(amounts / amounts.sum() * total * 100)
    cents[np.argmax(cents)] += round(total * 100) - cents.sum()
    return cents / 100


def generate(seed: int = 7, n_trials: int = DEFAULT_TRIALS, today: date | None = None) -> dict[str, pd.DataFrame]:
    """Every reporting table of the demo portfolio, keyed by table name; the same for the same arguments.

    The main sponsor gets `n_trials` trials, the other max(2, n_trials // 4); no actual date is after `today`.
    Trials beyond those of the default portfolio are larger (LARGE_TRIAL_RATE_FACTOR, LARGE_TRIAL_TREATMENT_FACTOR).
    """
    if n_trials < MIN_TRIALS:
        raise DemoError(f"the demo needs at least {MIN_TRIALS} trials for its planted features (asked for {n_trials})")
    today_d = today or date.today()
    T = _day(today_d)
    rng = np.random.default_rng(seed)
    specs = _trial_specs(rng, n_trials)
    sims = [_simulate(rng, spec, T) for spec in specs]
    # The safety and EDC-detail sources draw from a stream of their own, so adding them left the rest as it was.
    extra = np.random.default_rng([seed, 4242])
    frames: dict[str, pd.DataFrame] = {}

    frames["sponsor"] = pd.DataFrame({
        "sponsor_id": _ids(len(SPONSORS)),
        "sponsor_code": [s[0] for s in SPONSORS],
        "sponsor_name": [s[1] for s in SPONSORS],
        "reporting_currency": [s[2] for s in SPONSORS],
    })
    frames["country"] = pd.DataFrame({
        "country_id": _ids(len(COUNTRIES)),
        "country_code": [c[0] for c in COUNTRIES],
        "country_name": [c[1] for c in COUNTRIES],
        "region": [c[2] for c in COUNTRIES],
    })
    frames["vendor"] = pd.DataFrame({
        "vendor_id": _ids(len(VENDORS)),
        "vendor_code": [v[0] for v in VENDORS],
        "vendor_name": [v[1] for v in VENDORS],
        "vendor_kind": [v[2] for v in VENDORS],
    })
    vendor_id = {v[0]: i + 1 for i, v in enumerate(VENDORS)}

    # Trials.
    trial_rows = []
    for i, sim in enumerate(sims):
        spec = sim["spec"]
        compound = f"{SPONSORS[spec.sponsor][3][:2]}-{int(rng.integers(1000, 10000))}"
        design = "randomised, double-blind, placebo-controlled " if spec.phase in ("II", "III") else "open-label "
        trial_rows.append(dict(
            trial_id=i + 1, sponsor_id=spec.sponsor + 1, protocol_number=spec.protocol,
            trial_title=f"{compound} in {spec.indication}: {'an' if design[0] == 'o' else 'a'} {design}phase {spec.phase} study",
            phase=spec.phase, therapeutic_area=spec.ta, indication=spec.indication, trial_status=spec.status,
            n_planned_sites=sim["n_sites"], n_planned_subjects=sim["target"],
        ))
    frames["trial"] = pd.DataFrame(trial_rows)

    # Sites.
    n_sites = np.array([sim["n_sites"] for sim in sims])
    site_trial = np.repeat(np.arange(len(sims)), n_sites)
    site_offset = np.r_[0, np.cumsum(n_sites)[:-1]]
    cat = lambda key: np.concatenate([sim[key] for sim in sims])  # noqa: E731
    planned, selected, activated, closed = cat("planned"), cat("selected"), cat("activated"), cat("closed")
    never_activated = np.isnan(activated)
    activated_kept = _upto(activated, T)
    closed_kept = _upto(closed, T)
    selected_kept = np.where(selected <= np.where(never_activated, closed, T), _upto(selected, T), NA)
    site_status = np.select(
        [~np.isnan(closed_kept), ~np.isnan(activated_kept), ~np.isnan(selected_kept)], ["closed", "active", "selected"], "planned"
    )
    country = cat("country")
    site_local = np.concatenate([_site_labels(sim, T) for sim in sims])
    site_number = (1001 + site_local).astype(str)
    cities = [rng.choice(COUNTRIES[c][4]) for c in country]
    institutions = rng.choice(INSTITUTIONS, site_trial.size)
    first, last = rng.choice(FIRST_NAMES, site_trial.size), rng.choice(LAST_NAMES, site_trial.size)
    frames["site"] = pd.DataFrame({
        "site_id": _ids(site_trial.size),
        "trial_id": site_trial + 1,
        "country_id": country + 1,
        "site_number": site_number,
        "site_name": [f"{c} {inst}" for c, inst in zip(cities, institutions)],
        "investigator_name": [f"{f} {l}" for f, l in zip(first, last)],
        "site_status": site_status,
        "selected_date": _dates(selected_kept),
        "planned_activation_date": _dates(planned),
        "activated_date": _dates(activated_kept),
        "closed_date": _dates(closed_kept),
        "n_planned_subjects": cat("site_target"),
    })

    # Subjects: those screened by today, with the outcomes known by today.
    subj_site = np.concatenate([sim["subj_site"] + off for sim, off in zip(sims, site_offset)])
    screened, failed, enrolled = cat("subj_screened"), cat("subj_failed"), cat("subj_enrolled")
    disc, done = cat("subj_disc"), cat("subj_done")
    keep = screened <= T
    subj_site, screened, failed, enrolled, disc, done = (x[keep] for x in (subj_site, screened, failed, enrolled, disc, done))
    subj_trial = site_trial[subj_site]
    order = np.lexsort((subj_site, screened, subj_trial))
    subj_site, subj_trial, screened, failed, enrolled, disc, done = (
        x[order] for x in (subj_site, subj_trial, screened, failed, enrolled, disc, done)
    )
    by_site = np.lexsort((screened, subj_site))
    number_in_site = np.empty(subj_site.size, dtype=np.int64)
    number_in_site[by_site] = _rank_within(subj_site[by_site])
    # Treatment stopped early: most who leave the study stopped it on the day or in the weeks before; a few others
    # stop it and stay on study for follow-up.
    n_subj = subj_site.size
    treat_span = np.array([sim["treat_days"] for sim in sims])[subj_trial]
    leaves = ~np.isnan(disc)
    stop_before = np.where(extra.random(n_subj) < 0.4, 0, extra.integers(1, 61, n_subj))
    stays = ~leaves & (extra.random(n_subj) < 0.09)
    stop_on_study = enrolled + np.floor(extra.uniform(0.1, 0.9, n_subj) * treat_span)
    treatment_stopped = np.select(
        [leaves & (extra.random(n_subj) < 0.85), stays], [np.maximum(enrolled, disc - stop_before), stop_on_study], NA
    )
    treatment_stopped = _upto(np.where(np.isnan(enrolled), NA, treatment_stopped), T)
    frames["subject"] = pd.DataFrame({
        "subject_id": _ids(subj_site.size),
        "trial_id": subj_trial + 1,
        "site_id": subj_site + 1,
        "subject_number": [f"{s}-{k:03d}" for s, k in zip(site_number[subj_site], number_in_site)],
        "screened_date": _dates(screened),
        "screen_failed_date": _dates(_upto(failed, T)),
        "enrolled_date": _dates(_upto(enrolled, T)),
        "discontinued_date": _dates(_upto(disc, T)),
        "completed_date": _dates(_upto(done, T)),
        "treatment_discontinued_date": _dates(treatment_stopped),
    })

    # Enrollment plan per trial × country × month (cumulative, reaching the target in the LPI month).
    plan_rows = []
    for i, sim in enumerate(sims):
        p_act, lpi_base = sim["plan_frac"]
        months = np.arange(_month_index([p_act.min()])[0], _month_index([lpi_base])[0] + 1)
        month_end = _month_start(months + 1) - 1
        frac = np.clip((month_end[:, None] - p_act[None, :]) / (lpi_base - p_act)[None, :], 0, 1)
        for c in np.unique(sim["country"]):
            in_c = sim["country"] == c
            cumulative = np.round(frac[:, in_c] @ sim["site_target"][in_c]).astype(int)
            plan_rows.append(pd.DataFrame({"trial_id": i + 1, "country_id": c + 1, "month": months, "n_planned_cumulative": cumulative}))
    plan = pd.concat(plan_rows, ignore_index=True)
    frames["enrollment_plan"] = pd.DataFrame({
        "enrollment_plan_id": _ids(len(plan)),
        "trial_id": plan["trial_id"].to_numpy(),
        "country_id": plan["country_id"].to_numpy(),
        "month_date": _dates(_month_start(plan["month"].to_numpy())),
        "n_planned_cumulative": plan["n_planned_cumulative"].to_numpy(),
    })

    # Visits: 1 = screening; then every four weeks from enrollment until the subject leaves (or today).
    dbl_of_trial = np.array([sim["dbl"] for sim in sims])
    n_treat_of_trial = np.array([sim["n_treat"] for sim in sims])
    enrolled_now = ~np.isnan(enrolled) & (enrolled <= T)
    leave = np.where(np.isnan(disc), done, disc)
    e_idx = np.flatnonzero(enrolled_now)
    span = np.minimum(leave[e_idx], T) - enrolled[e_idx]
    n_v = np.minimum(np.floor(span / VISIT_INTERVAL_DAYS).astype(np.int64), n_treat_of_trial[subj_trial[e_idx]]) + 1
    v_subj = np.repeat(e_idx, n_v)
    k = np.arange(v_subj.size) - np.repeat(np.r_[0, np.cumsum(n_v)[:-1]], n_v)
    jitter = np.where(k > 0, rng.integers(-3, 4, v_subj.size), 0)
    v_date = np.minimum(enrolled[v_subj] + VISIT_INTERVAL_DAYS * k + jitter, leave[v_subj])
    ok = v_date <= T
    v_subj = np.concatenate([np.arange(subj_site.size), v_subj[ok]])
    v_number = np.concatenate([np.ones(subj_site.size, dtype=np.int64), k[ok] + 2])
    v_date = np.concatenate([screened, v_date[ok]])
    order = np.lexsort((v_number, v_subj))
    v_subj, v_number, v_date = v_subj[order], v_number[order], v_date[order]
    v_site = subj_site[v_subj]
    v_trial = subj_trial[v_subj]
    lag_mean = cat("lag_mean")[v_site]
    lag = np.minimum(np.floor(rng.exponential(1.0, v_subj.size) * lag_mean), 60)
    entered = v_date + lag
    locked = dbl_of_trial[v_trial]
    entered = np.where(locked <= T, np.maximum(np.minimum(entered, locked - 1), v_date), entered)
    entered = _upto(entered, T)
    frames["visit"] = pd.DataFrame({
        "visit_id": _ids(v_subj.size),
        "trial_id": v_trial + 1,
        "site_id": v_site + 1,
        "subject_id": v_subj + 1,
        "visit_number": v_number,
        "visit_date": _dates(v_date),
        "entered_date": _dates(entered),
    })

    # Data queries, raised on entered visits; the database lock closes every one.
    is_entered = ~np.isnan(entered)
    q_counts = np.where(is_entered, rng.poisson(cat("query_rate")[v_site]), 0)
    q_visit = np.repeat(np.arange(v_subj.size), q_counts)
    opened = entered[q_visit] + np.floor(rng.exponential(4.0, q_visit.size))
    closed_q = opened + 1 + np.floor(rng.exponential(1.0, q_visit.size) * cat("close_mean")[v_site[q_visit]])
    q_locked = locked[q_visit]
    lock_done = q_locked <= T
    opened = np.where(lock_done, np.minimum(opened, q_locked - 1), opened)
    closed_q = np.where(lock_done, np.minimum(closed_q, q_locked), closed_q)
    ok = opened <= T
    q_visit, opened, closed_q = q_visit[ok], opened[ok], closed_q[ok]
    q_trial = v_trial[q_visit]
    order = np.lexsort((q_visit, opened, q_trial))
    q_visit, opened, closed_q, q_trial = q_visit[order], opened[order], closed_q[order], q_trial[order]
    # Most queries are answered by the site, then closed by data management after a review that takes a good part of
    # the time to close, but a few weeks at most (so BAD_SITE's queries wait for the site); the others are closed
    # without an answer. Status is as of today.
    n_q = q_visit.size
    review = np.minimum(np.floor(extra.uniform(0.3, 0.9, n_q) * (closed_q - opened)), 1 + np.floor(extra.exponential(5.0, n_q)))
    answered = np.where(extra.random(n_q) < 0.85, np.maximum(opened, closed_q - review), NA)
    closed_kept, answered = _upto(closed_q, T), _upto(answered, T)
    query_status = np.where(~np.isnan(closed_kept), "closed", np.where(~np.isnan(answered), "answered", "open"))
    frames["data_query"] = pd.DataFrame({
        "data_query_id": _ids(q_visit.size),
        "trial_id": q_trial + 1,
        "site_id": v_site[q_visit] + 1,
        "subject_id": v_subj[q_visit] + 1,
        "query_number": [f"Q-{k:06d}" for k in _rank_within(q_trial)],
        "opened_date": _dates(opened),
        "answered_date": _dates(answered),
        "closed_date": _dates(closed_kept),
        "query_status": query_status,
    })

    # Protocol deviations, on the day of a visit.
    d_counts = rng.poisson(cat("deviation_rate")[v_site])
    d_visit = np.repeat(np.arange(v_subj.size), d_counts)
    d_trial = v_trial[d_visit]
    order = np.lexsort((d_visit, v_date[d_visit], d_trial))
    d_visit, d_trial = d_visit[order], d_trial[order]
    # Identified by the site or a monitor some days later (half of them with that day recorded); UNDATED_DEVIATIONS_TRIAL's
    # log leaves two thirds undated, most with the day identified, a few with neither. Each row is loaded 1–7 days
    # after the last day it has (identified, else its date; one with neither, after the day it was in fact identified),
    # never after today: the day an undated one without an identified day counts from.
    n_d = d_visit.size
    happened = v_date[d_visit]
    identified = np.minimum(happened + np.floor(extra.exponential(6.0, n_d)), T)
    undated_trial = [sim["spec"].protocol for sim in sims].index(UNDATED_DEVIATIONS_TRIAL)
    undated = (d_trial == undated_trial) & (extra.random(n_d) < 0.65)
    no_identified = np.where(undated, extra.random(n_d) < 0.15, extra.random(n_d) < 0.5)
    deviation_date = np.where(undated, NA, happened)
    known = np.where(no_identified, np.where(undated, identified, happened), identified)
    identified = np.where(no_identified, NA, identified)
    loaded = np.minimum(known + extra.integers(1, 8, n_d), T)
    is_important = rng.random(n_d) < 0.3
    frames["deviation"] = pd.DataFrame({
        "deviation_id": _ids(d_visit.size),
        "trial_id": d_trial + 1,
        "site_id": v_site[d_visit] + 1,
        "subject_id": v_subj[d_visit] + 1,
        "deviation_number": [f"PD-{k:05d}" for k in _rank_within(d_trial)],
        "deviation_date": _dates(deviation_date),
        "identified_date": _dates(identified),
        "first_loaded_date": _dates(loaded),
        "is_important": is_important,
        "description": rng.choice(DEVIATION_TEXTS, d_visit.size),
    })

    # Safety and EDC detail (domain.md §4a), and the quality tolerance limits set on them.
    frames["adverse_event"] = _adverse_events(extra, sims, T, subj_site, subj_trial, enrolled, disc, done, site_trial, site_number)
    frames["crf_page"], frames["data_point"], frames["lab_result"] = _edc_detail(
        extra, sims, T, v_trial, v_site, v_number, v_date, entered, locked, site_trial.size
    )
    counted = np.where(np.isnan(deviation_date), np.where(np.isnan(identified), loaded, identified), deviation_date)
    frames["qtl"] = _qtls(sims, T, subj_trial, failed, enrolled, disc, done, treatment_stopped, d_trial[is_important],
                          counted[is_important])

    # Contracts, unit prices and milestones, trial by trial.
    contract_rows, price_rows, milestone_rows, plan_parts = [], [], [], []
    trial_cpi = np.array([sim["cpi"] for sim in sims])
    for i, sim in enumerate(sims):
        spec = sim["spec"]
        scale = PHASES[spec.phase]["scale"]
        target, n_planned = sim["target"], sim["n_sites"]
        pl_act, lpi_base = sim["plan_frac"]
        # Planned units by day: sites at planned activation, subjects evenly per site, visits following enrollment.
        days = np.arange(int(pl_act.min()) - 30, int(lpi_base) + sim["treat_days"] + 1)
        frac = np.clip((days[:, None] - pl_act[None, :]) / (lpi_base - pl_act)[None, :], 0, 1)
        enrol_by_day = np.diff(np.r_[0.0, frac @ sim["site_target"]])
        kernel = np.zeros(sim["treat_days"] + 1)
        kernel[::VISIT_INTERVAL_DAYS] = 1 - 0.1 * np.arange(sim["n_treat"] + 1) / sim["n_treat"]
        screening = np.r_[enrol_by_day[10:], np.zeros(10)] / (1 - sim["sf_plan"])
        visits_by_day = screening + np.convolve(enrol_by_day, kernel)[: days.size]
        planned_visits = int(round(visits_by_day.sum()))
        site_by_day = np.bincount((pl_act - days[0]).astype(int), minlength=days.size)[: days.size]
        ms = sim["milestones"]

        def phased(parts: list[tuple[np.ndarray, np.ndarray]]) -> pd.Series:
            """Monthly sums of (day, amount) pieces."""
            d = np.concatenate([p[0] for p in parts])
            a = np.concatenate([p[1] for p in parts])
            return pd.Series(a).groupby(_month_index(d)).sum()

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
            contract_id = len(contract_rows) + 1
            prices = []
            service, passthrough = [], []
            if suffix == "CRO":
                site_fee = round(float(rng.uniform(12_000, 25_000)), -2)
                subject_fee = round(float(rng.uniform(2_500, 6_000)) * (0.6 + scale / 2), -1)
                grant = round(float(rng.uniform(6_000, 20_000)) * (0.5 + scale / 2), -1)
                visit_fee = round(float(rng.uniform(600, 1_500)), -1)
                prices = [("site_activated", "service_fee", site_fee), ("subject_enrolled", "service_fee", subject_fee),
                          ("subject_enrolled", "pass_through", grant), ("visit_done", "pass_through", visit_fee)]
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
                for seq, (code, name, is_key, fee) in enumerate(CRO_MILESTONES if lane == "CRO" else CMO_MILESTONES, start=1):
                    b, t = ms[code]
                    payment = round(fee * scale * float(rng.uniform(0.85, 1.15)), -2)
                    service.append((np.array([b]), np.array([payment])))
                    service_total += payment
                    milestone_rows.append(dict(trial=i, vendor=vcode, lane=lane, code=code, name=name, kind="contract", seq=seq,
                                               is_key=is_key, baseline=b, truth=t, payment=payment, signed=signed, role=spec.role))
                if lane == "CMO":
                    stab = [(f"STAB_{m:02d}M", f"Stability pull {m} months", "stability_pull") for m in STABILITY_MONTHS]
                    for seq, (code, name, kind) in enumerate(stab + [("EXPIRY", "Expiry / re-test date", "expiry")], start=len(CMO_MILESTONES) + 1):
                        b, t = ms[code]
                        milestone_rows.append(dict(trial=i, vendor=vcode, lane="CMO", code=code, name=name, kind=kind, seq=seq,
                                                   is_key=False, baseline=b, truth=t, payment=0.0, signed=signed, role=spec.role))
            contract_rows.append(dict(
                contract_id=contract_id, trial_id=i + 1, vendor_id=vendor_id[vcode],
                contract_number=f"{spec.protocol}-{suffix}", signed_date=signed,
                contracted_amount=round(service_total + pass_total, 2), planned_end_date=end_day,
            ))
            for unit_type, category, amount in prices:
                price_rows.append(dict(contract_id=contract_id, unit_type=unit_type, cost_category=category, unit_price_amount=amount))
            # The baseline plan: month by month from signature to the planned end, per cost category.
            months = np.arange(_month_index([signed])[0], _month_index([end_day])[0] + 1)
            for category, parts, total in (("service_fee", service, service_total), ("pass_through", passthrough, pass_total)):
                if total <= 0:
                    continue
                monthly = phased(parts).reindex(months, fill_value=0.0).to_numpy()
                plan_parts.append(pd.DataFrame({
                    "contract_id": contract_id, "change_order_id": pd.NA, "month": months, "cost_category": category,
                    "planned_amount": _phase_amounts(np.clip(monthly, 0, None), total),
                }))

    contracts = pd.DataFrame(contract_rows)
    frames["contract"] = pd.DataFrame({
        "contract_id": contracts["contract_id"].to_numpy(),
        "trial_id": contracts["trial_id"].to_numpy(),
        "vendor_id": contracts["vendor_id"].to_numpy(),
        "contract_number": contracts["contract_number"].to_numpy(),
        "signed_date": _dates(contracts["signed_date"]),
        "contracted_amount": contracts["contracted_amount"].to_numpy(),
        "planned_end_date": _dates(contracts["planned_end_date"]),
    })
    prices = pd.DataFrame(price_rows)
    frames["unit_price"] = pd.DataFrame({"unit_price_id": _ids(len(prices)), **{c: prices[c].to_numpy() for c in prices.columns}})

    # Change orders on CRO contracts of trials under way: most approved, one still proposed.
    cro_contracts = contracts[contracts["contract_number"].str.endswith("-CRO")]
    running = [cid for cid, tid in zip(cro_contracts["contract_id"], cro_contracts["trial_id"])
               if sims[tid - 1]["spec"].status in ("enrolling", "follow_up", "closed")]
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
                reason, category, share = "Descoped country after feasibility", "service_fee", -float(rng.uniform(0.02, 0.05))
        amount = round(row["contracted_amount"] * share, -3)
        co_id = len(co_rows) + 1
        co_rows.append(dict(
            change_order_id=co_id, contract_id=cid, change_order_number=f"{row['contract_number']}-CO{per_contract[cid]}",
            requested_date=requested, approved_date=approved, change_order_status="proposed" if np.isnan(approved) else "approved",
            change_amount=amount, reason=reason,
        ))
        start = _month_index([approved if not np.isnan(approved) else requested])[0]
        months = np.arange(start, max(start, _month_index([row["planned_end_date"]])[0]) + 1)
        spread = np.full(months.size, amount / months.size)
        cents = np.round(spread * 100)
        cents[-1] += round(amount * 100) - cents.sum()
        plan_parts.append(pd.DataFrame({"contract_id": cid, "change_order_id": co_id, "month": months,
                                        "cost_category": category, "planned_amount": cents / 100}))
    co = pd.DataFrame(co_rows)
    frames["change_order"] = pd.DataFrame({
        "change_order_id": co["change_order_id"].to_numpy(),
        "contract_id": co["contract_id"].to_numpy(),
        "change_order_number": co["change_order_number"].to_numpy(),
        "requested_date": _dates(co["requested_date"]),
        "approved_date": _dates(co["approved_date"]),
        "change_order_status": co["change_order_status"].to_numpy(),
        "change_amount": co["change_amount"].to_numpy(dtype=float),
        "reason": co["reason"].to_numpy(),
    })
    spend = pd.concat(plan_parts, ignore_index=True)
    frames["planned_spend"] = pd.DataFrame({
        "planned_spend_id": _ids(len(spend)),
        "contract_id": spend["contract_id"].to_numpy(),
        "change_order_id": spend["change_order_id"].astype("Int64").array,
        "month_date": _dates(_month_start(spend["month"].to_numpy())),
        "cost_category": spend["cost_category"].to_numpy(),
        "planned_amount": spend["planned_amount"].to_numpy(dtype=float),
    })

    # Milestones: CRO lane first in each trial, so a supply milestone refers back to a lower id.
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
    pay_status = np.select([np.isnan(actual) | (ms_df["payment"].to_numpy() <= 0), age > 60, age > 20], ["not_due", "paid", "invoiced"], "due")
    frames["milestone"] = pd.DataFrame({
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
    })

    frames["milestone_forecast"] = _forecasts(rng, ms_df, T)

    # Actual cost: earned value of each month's delivered units and milestones, at the trial's cost factor.
    frames["actual_cost"] = _actual_cost(rng, frames, trial_cpi, T)

    sponsor_id = {s[0]: i + 1 for i, s in enumerate(SPONSORS)}
    grants = [(email, sponsor_id[code]) for email, codes in DEMO_USERS.items() for code in codes]
    frames["user_access"] = pd.DataFrame({
        "user_access_id": _ids(len(grants)),
        "user_email": [g[0] for g in grants],
        "sponsor_id": [g[1] for g in grants],
    })

    return {t.name: frames[t.name] for t in schema.TABLES if t.name in frames}


def _adverse_events(rng: np.random.Generator, sims: list[dict], T: int, subj_site: np.ndarray, subj_trial: np.ndarray,
                    enrolled: np.ndarray, disc: np.ndarray, done: np.ndarray, site_trial: np.ndarray,
                    site_number: np.ndarray) -> pd.DataFrame:
    """Adverse events of enrolled subjects while on study: Poisson at the trial's rate per subject-month (0.45 in
    oncology, 0.22–0.38 elsewhere, LARGE_TRIAL_AE_RATE in the large portfolio's extra trials), a little over-dispersed
    between sites; 8–12 % serious. The site becomes aware 0–3 days after onset; an SAE reaches the sponsor on the day
    or the next (95 %), a non-serious AE within weeks or not individually. Only events the site was aware of by
    `today` are kept. Planted: BIG_TRIAL's UNDER_REPORTING_SITE reports UNDER_REPORTING_FACTOR of its
    peers' rate; LATE_SAE_TRIAL's LATE_SAE_SITE reports four in five of its SAEs 3–10 days after awareness.
    """
    n_trials = len(sims)
    trial_rate = np.where([sim["spec"].ta == "Oncology" for sim in sims], 0.45, rng.uniform(0.22, 0.38, n_trials))
    trial_rate[[sim["spec"].large for sim in sims]] = LARGE_TRIAL_AE_RATE
    sae_share = rng.uniform(0.08, 0.12, n_trials)
    site_factor = rng.gamma(30.0, 1 / 30.0, site_trial.size)
    protocols = [sim["spec"].protocol for sim in sims]
    under = np.flatnonzero((site_trial == protocols.index(BIG_TRIAL)) & (site_number == UNDER_REPORTING_SITE))[0]
    late_site = np.flatnonzero((site_trial == protocols.index(LATE_SAE_TRIAL)) & (site_number == LATE_SAE_SITE))[0]
    site_factor[under] = UNDER_REPORTING_FACTOR

    # On study from enrollment to the earliest of discontinuation, completion and today.
    e_idx = np.flatnonzero(enrolled <= T)
    start = enrolled[e_idx]
    stop = np.fmin(np.fmin(disc[e_idx], done[e_idx]), T)
    span = stop - start
    counts = rng.poisson(trial_rate[subj_trial[e_idx]] * site_factor[subj_site[e_idx]] * span / DAYS_PER_MONTH)
    a_subj = np.repeat(e_idx, counts)
    onset = np.minimum(np.repeat(start, counts) + np.floor(rng.random(a_subj.size) * (np.repeat(span, counts) + 1)),
                       np.repeat(stop, counts))
    serious = rng.random(a_subj.size) < sae_share[subj_trial[a_subj]]
    aware = onset + rng.choice(4, a_subj.size, p=[0.6, 0.25, 0.1, 0.05])
    keep = aware <= T
    a_subj, onset, serious, aware = a_subj[keep], onset[keep], serious[keep], aware[keep]
    a_trial = subj_trial[a_subj]
    order = np.lexsort((a_subj, aware, a_trial))
    a_subj, onset, serious, aware, a_trial = a_subj[order], onset[order], serious[order], aware[order], a_trial[order]
    n = a_subj.size

    # Reporting to the sponsor.
    sae_delay = rng.choice(7, n, p=[0.62, 0.33, 0.02, 0.01, 0.01, 0.005, 0.005]).astype(float)
    at_late_site = serious & (subj_site[a_subj] == late_site)
    late_rank = np.cumsum(at_late_site) - 1  # the site's SAEs in order of awareness
    sae_delay = np.where(at_late_site & (late_rank % 5 != 4), rng.integers(3, 11, n), sae_delay)
    ae_delay = np.where(rng.random(n) < 0.35, NA, rng.integers(0, 29, n))
    reported = _upto(aware + np.where(serious, sae_delay, ae_delay), T)
    aware_shown = np.where(~serious & (aware == onset) & (rng.random(n) < 0.5), NA, aware)
    grade = np.where(serious, rng.choice([3, 4, 5], n, p=[0.75, 0.22, 0.03]), rng.choice([1, 2, 3], n, p=[0.6, 0.32, 0.08]))
    term = np.where(serious, rng.choice(SAE_TERMS, n), rng.choice(AE_TERMS, n))
    return pd.DataFrame({
        "adverse_event_id": _ids(n),
        "trial_id": a_trial + 1,
        "subject_id": a_subj + 1,
        "ae_number": [f"AE-{k:05d}" for k in _rank_within(a_trial)],
        "onset_date": _dates(onset),
        "is_serious": serious,
        "aware_date": _dates(aware_shown),
        "reported_date": _dates(reported),
        "term": term,
        "grade": grade.astype(np.int64),
    })


def _edc_detail(rng: np.random.Generator, sims: list[dict], T: int, v_trial: np.ndarray, v_site: np.ndarray,
                v_number: np.ndarray, v_date: np.ndarray, entered: np.ndarray, locked: np.ndarray,
                n_sites: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """eCRF pages, data-point counts and lab-result counts per visit, for the default portfolio's trials only (the large
    portfolio's extra trials have none, so it stays quick to build); pages only for CRF_PAGE_TRIALS.

    Data points: 40–120 per visit entered (none for a visit not yet entered), 2–6 % changed after entry (by site).
    Labs: 20–40 results per visit, 0.5–2 % of grade ≥ 3 (by trial). Pages: 4–8 of CRF_PAGES per visit (DM at screening
    only), each entered around its visit's entry day (most on it, some days before, some later), so BAD_SITE's pages
    are as late as its visits; a page of a visit not entered is not entered.
    """
    detailed = np.array([not sim["spec"].large for sim in sims])
    idx = np.flatnonzero(detailed[v_trial])
    n = idx.size
    points = np.where(np.isnan(entered[idx]), 0, rng.integers(40, 121, n))
    changed = rng.binomial(points, rng.uniform(0.02, 0.06, n_sites)[v_site[idx]])
    labs = rng.integers(20, 41, n)
    abnormal = rng.binomial(labs, rng.uniform(0.005, 0.02, len(sims))[v_trial[idx]])
    data_point = pd.DataFrame({
        "data_point_id": _ids(n), "trial_id": v_trial[idx] + 1, "visit_id": idx + 1,
        "n_data_points": points, "n_data_points_changed": changed,
    })
    lab_result = pd.DataFrame({
        "lab_result_id": _ids(n), "trial_id": v_trial[idx] + 1, "visit_id": idx + 1,
        "n_lab_results": labs, "n_lab_abnormal": abnormal,
    })

    with_pages = [i for i, sim in enumerate(sims) if sim["spec"].protocol in CRF_PAGE_TRIALS and not sim["spec"].large]
    pidx = np.flatnonzero(np.isin(v_trial, with_pages))
    m, n_pages = pidx.size, len(CRF_PAGES)
    screening = v_number[pidx] == 1
    keys = rng.random((m, n_pages))
    keys[:, 0] = np.where(screening, -1.0, np.inf)  # DM first at screening, never after
    wanted = np.where(screening, rng.integers(4, n_pages + 1, m), rng.integers(4, n_pages, m))
    chosen = keys.argsort(axis=1).argsort(axis=1) < wanted[:, None]
    row, page = np.nonzero(chosen)  # by visit, then in CRF_PAGES order
    p_visit = pidx[row]
    u = rng.random(row.size)
    shift = np.select([u < 0.75, u < 0.85], [0, -rng.integers(1, 4, row.size)], 1 + np.floor(rng.exponential(6.0, row.size)))
    p_entered = np.maximum(entered[p_visit] + shift, v_date[p_visit])
    p_locked = locked[p_visit]
    p_entered = np.where(p_locked <= T, np.maximum(np.minimum(p_entered, p_locked - 1), v_date[p_visit]), p_entered)
    crf_page = pd.DataFrame({
        "crf_page_id": _ids(row.size),
        "trial_id": v_trial[p_visit] + 1,
        "visit_id": p_visit + 1,
        "page_name": np.array(CRF_PAGES)[page],
        "entered_date": _dates(_upto(p_entered, T)),
    })
    return crf_page, data_point, lab_result


def _qtl_figures(T: int, failed: np.ndarray, enrolled: np.ndarray, disc: np.ndarray, done: np.ndarray,
                 treatment_stopped: np.ndarray, n_important: int) -> dict[str, float]:
    """A trial's QTL figures on `today`, pooled over its sites as the dashboard pools them (dashboard/metrics.py):
    screen failures in % of subjects with a known outcome, dropout and treatment discontinuation in % of subjects
    enrolled, important deviations (counted from their date, else identified, else loaded) per 100 subject-months on
    study."""
    on = enrolled <= T
    n_failed = int(np.sum(failed <= T))
    left, finished = _upto(disc, T), _upto(done, T)
    subject_days = float((np.fmin(np.fmin(left, finished), T) - enrolled)[on].sum())
    n_enrolled = int(on.sum())
    return {
        "screen_failure": 100 * n_failed / (n_failed + n_enrolled) if n_failed + n_enrolled else NA,
        "dropout": 100 * np.sum(on & (left <= T)) / n_enrolled if n_enrolled else NA,
        "treatment_discontinuation": 100 * np.sum(on & (treatment_stopped <= T)) / n_enrolled if n_enrolled else NA,
        "deviation_rate": 100 * DAYS_PER_MONTH * n_important / subject_days if subject_days else NA,
    }


def _qtls(sims: list[dict], T: int, subj_trial: np.ndarray, failed: np.ndarray, enrolled: np.ndarray, disc: np.ndarray,
          done: np.ndarray, treatment_stopped: np.ndarray, important_trial: np.ndarray,
          important_counted: np.ndarray) -> pd.DataFrame:
    """Quality tolerance limits of the QTL_TRIALS, all 'above'. A real limit is set before the trial starts; the demo
    sets it from the trial's figure on `today`: QTL_BREACH_TRIAL's QTL_BREACH_FIGURE at 0.7 × the figure (breached),
    every other at 1.5 × (well within), rounded to two significant digits. A figure that is 0 or unknown gets none,
    and so does one whose name is longer than qtl.qtl_figure holds (String(20) cannot hold 'treatment_discontinuation')."""
    fits = schema.qtl.c.qtl_figure.type.length or 1000
    rows = []
    for i, sim in enumerate(sims):
        protocol = sim["spec"].protocol
        if protocol not in QTL_TRIALS or sim["spec"].large:
            continue
        mine = subj_trial == i
        values = _qtl_figures(T, failed[mine], enrolled[mine], disc[mine], done[mine], treatment_stopped[mine],
                              int(np.sum((important_trial == i) & (important_counted <= T))))
        for figure in QTL_TRIALS[protocol]:
            value = values[figure]
            if not value > 0 or len(figure) > fits:
                continue
            breach = protocol == QTL_BREACH_TRIAL and figure == QTL_BREACH_FIGURE
            limit = _sensible((0.7 if breach else 1.5) * value)
            rows.append({"trial_id": i + 1, "qtl_figure": figure, "limit_value": limit, "direction": "above"})
    out = pd.DataFrame(rows, columns=["trial_id", "qtl_figure", "limit_value", "direction"])
    return pd.DataFrame({
        "qtl_id": _ids(len(out)),
        "trial_id": out["trial_id"].to_numpy(dtype=np.int64),
        "qtl_figure": out["qtl_figure"].to_numpy(dtype=object),
        "limit_value": out["limit_value"].to_numpy(dtype=float),
        "direction": out["direction"].to_numpy(dtype=object),
    })


def _forecasts(rng: np.random.Generator, ms: pd.DataFrame, T: int) -> pd.DataFrame:
    """Forecast history per milestone: the baseline at signature, then re-forecasts on Mondays drifting to the outcome.

    Re-forecasts are monthly, weekly in the last six weeks while the milestone is open, and recorded only
    when the date moves by a week or more. A slip becomes known over the FORECAST_NEWS_DAYS before the
    milestone is done (for an open one: before a day in the last few months, so only some are still
    moving this week), and enrollment-driven milestones stay at their baseline until the first site is
    active. A done milestone's last forecast is its actual date.
    """
    fsa = ms[ms["code"] == "FIRST_SITE_ACTIVATED"].set_index("trial")["truth"]
    clinical_after_fsa = (ms["lane"] == "CRO") & (ms["seq"] > 2)
    rows_id, rows_rec, rows_fc = [], [], []
    last_monday = _next_monday(T - 6)
    weekly = np.arange(last_monday - 35, last_monday + 1, 7)
    settled_days_ago = rng.integers(0, 120, len(ms))
    for mid, b, t, signed, code, role, trial, after_fsa, settled in zip(
        ms["milestone_id"], ms["baseline"], ms["truth"], ms["signed"], ms["code"], ms["role"], ms["trial"], clinical_after_fsa,
        settled_days_ago,
    ):
        r0 = int(min(signed, b - 1))
        done = t <= T
        if role in ("supply_risk", "near_miss") and code == "FIRST_SITE_ACTIVATED":
            t = b  # the CRO still forecasts its baseline
        if done:
            end, heading = int(t), t
            rec = np.arange(_next_monday(r0 + 1) + 21, end, 28)
        else:
            end, heading = T - int(settled), (t if not np.isnan(t) else max(b, T + 30))
            rec = np.unique(np.r_[np.arange(_next_monday(r0 + 1) + 21, T + 1, 28), weekly])
        rec = rec[(rec > r0) & (rec <= T)]
        # News of a slip arrives over the last months before the date (or before today, for an open milestone).
        informed = max(r0, end - FORECAST_NEWS_DAYS) if not after_fsa else (fsa[trial] if fsa[trial] <= T else np.inf)
        informed = max(informed, end - FORECAST_NEWS_DAYS)
        w = np.clip((rec - informed) / max(end - informed, 1), 0, 1) ** 0.7 if np.isfinite(informed) else np.zeros(rec.size)
        fc = b + np.round((heading - b) * w)
        if not done:
            fc = np.maximum(fc, rec + 1)  # an open milestone is never forecast in the past
        else:
            fc = np.maximum(fc, np.minimum(rec + 1, t))
        kept_rec, kept_fc = [r0], [b]
        for r, f in zip(rec.tolist(), fc.tolist()):
            if abs(f - kept_fc[-1]) >= 7:
                kept_rec.append(r)
                kept_fc.append(f)
        if done and t > r0 and kept_fc[-1] != t:
            kept_rec.append(t)
            kept_fc.append(t)
        if not done and (role, code) in MOVED_THIS_WEEK and heading != b:
            # Planted: this milestone's forecast is re-recorded this week, after last week's different value.
            while kept_rec[-1] >= last_monday - 6 and len(kept_rec) > 1:
                kept_rec.pop()
                kept_fc.pop()
            if abs(kept_fc[-1] - heading) < 7:  # make it a move worth reporting: two weeks
                if len(kept_fc) == 1:
                    kept_rec.append(last_monday - 28)
                    kept_fc.append(heading - 14)
                else:
                    kept_fc[-1] = heading - 14
            kept_rec.append(last_monday)
            kept_fc.append(heading)
        rows_id.append(np.full(len(kept_rec), mid))
        rows_rec.append(kept_rec)
        rows_fc.append(kept_fc)
    ids = np.concatenate(rows_id)
    return pd.DataFrame({
        "milestone_forecast_id": _ids(ids.size),
        "milestone_id": ids,
        "recorded_date": _dates(np.concatenate(rows_rec)),
        "forecast_date": _dates(np.concatenate(rows_fc)),
    })


def _actual_cost(rng: np.random.Generator, frames: dict[str, pd.DataFrame], trial_cpi: np.ndarray, T: int) -> pd.DataFrame:
    """Invoiced plus accrued cost per contract × month × category: earned value ÷ the trial's CPI, with noise.

    Months before last month are invoiced; last month and this one are accrued, not yet invoiced.
    """

    def monthly_units(df: pd.DataFrame, column: str, unit_type: str) -> pd.DataFrame:
        d = df[["trial_id", column]].dropna()
        months = d[column].to_numpy().astype("datetime64[M]").astype(np.int64)
        out = pd.DataFrame({"trial_id": d["trial_id"].to_numpy(), "month": months}).value_counts().rename("units").reset_index()
        return out.assign(unit_type=unit_type)

    units = pd.concat([
        monthly_units(frames["site"], "activated_date", "site_activated"),
        monthly_units(frames["subject"], "enrolled_date", "subject_enrolled"),
        monthly_units(frames["visit"], "visit_date", "visit_done"),
    ])
    prices = frames["unit_price"].merge(frames["contract"][["contract_id", "trial_id"]], on="contract_id")
    earned_units = prices.merge(units, on=["trial_id", "unit_type"])
    earned_units["ev"] = earned_units["units"] * earned_units["unit_price_amount"]
    ms = frames["milestone"].dropna(subset=["actual_date"])
    ms = ms[ms["payment_amount"] > 0].merge(frames["contract"][["contract_id", "trial_id", "vendor_id"]], on=["trial_id", "vendor_id"])
    earned_ms = pd.DataFrame({
        "contract_id": ms["contract_id"].to_numpy(), "trial_id": ms["trial_id"].to_numpy(),
        "month": ms["actual_date"].to_numpy().astype("datetime64[M]").astype(np.int64),
        "cost_category": "service_fee", "ev": ms["payment_amount"].to_numpy(),
    })
    earned = pd.concat([earned_units[["contract_id", "trial_id", "month", "cost_category", "ev"]], earned_ms])
    earned = earned.groupby(["contract_id", "trial_id", "month", "cost_category"], as_index=False)["ev"].sum()
    earned = earned.sort_values(["contract_id", "month", "cost_category"], kind="stable").reset_index(drop=True)
    noise = np.exp(rng.normal(0, 0.05, len(earned)))
    cost = np.round(earned["ev"].to_numpy() / trial_cpi[earned["trial_id"].to_numpy() - 1] * noise, 2)
    this_month = _month_index([T])[0]
    accrued = earned["month"].to_numpy() >= this_month - 1
    return pd.DataFrame({
        "actual_cost_id": _ids(len(earned)),
        "contract_id": earned["contract_id"].to_numpy(),
        "month_date": _dates(_month_start(earned["month"].to_numpy())),
        "cost_category": earned["cost_category"].to_numpy(),
        "invoiced_amount": np.where(accrued, 0.0, cost),
        "accrued_amount": np.where(accrued, cost, 0.0),
    })


# Writing.


def _python_values(series: pd.Series, *, dates_as_text: bool = False) -> list:
    """A column as plain Python values (int, float, bool, str, date, None) that every driver accepts.

    With `dates_as_text`, dates are ISO strings, which is how SQLAlchemy stores a Date on SQLite.
    """
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        days = series.to_numpy().astype("datetime64[D]")
        if not dates_as_text:
            return days.astype(object).tolist()
        out = np.datetime_as_string(days).astype(object)
        out[np.isnat(days)] = None
        return out.tolist()
    if pd.api.types.is_bool_dtype(series.dtype) and not isinstance(series.dtype, pd.BooleanDtype):
        return series.to_numpy().tolist()
    if pd.api.types.is_float_dtype(series.dtype):
        values = series.to_numpy(dtype=float)
        out = np.round(values, 2).astype(object)
        out[np.isnan(values)] = None
        return out.tolist()
    if pd.api.types.is_integer_dtype(series.dtype) and not isinstance(series.dtype, pd.api.extensions.ExtensionDtype):
        return series.to_numpy().tolist()
    return [None if pd.isna(v) else (v.item() if isinstance(v, np.generic) else v) for v in series.to_numpy(dtype=object)]


def _insert_rows(conn: Connection, table_name: str, columns: list[str], rows: list[tuple]) -> None:
    """Bulk-insert `rows` (tuples in `columns` order): COPY on PostgreSQL, the driver's executemany on SQLite.

    Both skip SQLAlchemy's per-row parameter handling, which costs more than the database's work
    at millions of rows; the values must already be what the driver stores (see _python_values).
    """
    quote = conn.dialect.identifier_preparer.quote
    names = ", ".join(quote(c) for c in columns)
    if conn.dialect.name == "postgresql":
        with conn.connection.driver_connection.cursor() as cursor:
            with cursor.copy(f"COPY {quote(table_name)} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        return
    sql = f"INSERT INTO {quote(table_name)} ({names}) VALUES ({', '.join('?' * len(columns))})"
    for start in range(0, len(rows), CHUNK_ROWS):
        conn.exec_driver_sql(sql, rows[start:start + CHUNK_ROWS])


def _drop_foreign_keys(conn: Connection) -> list[tuple[str, str, str]]:
    """Drop the reporting tables' foreign keys (PostgreSQL); returns (table, name, definition) to add them back."""
    names = [t.name for t in schema.TABLES]
    found = conn.execute(text(
        "SELECT c.relname, k.conname, pg_get_constraintdef(k.oid) FROM pg_constraint k "
        "JOIN pg_class c ON c.oid = k.conrelid "
        "WHERE k.contype = 'f' AND c.relnamespace = current_schema()::regnamespace AND c.relname = ANY(:names)"
    ), {"names": names}).all()
    quote = conn.dialect.identifier_preparer.quote
    for table_name, name, _ in found:
        conn.execute(text(f"ALTER TABLE {quote(table_name)} DROP CONSTRAINT {quote(name)}"))
    return [tuple(row) for row in found]


def _drop_sqlite_indexes(conn: Connection, table_name: str) -> list[str]:
    """Drop a SQLite table's secondary indexes (not those of its keys and unique constraints); returns their CREATE
    statements, to build them again after the table is filled."""
    found = conn.exec_driver_sql(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL", (table_name,)
    ).all()
    quote = conn.dialect.identifier_preparer.quote
    for name, _ in found:
        conn.exec_driver_sql(f"DROP INDEX {quote(name)}")
    return [sql for _, sql in found]


def write(engine: Engine, frames: dict[str, pd.DataFrame]) -> dict[str, int]:
    """Insert the frames into the existing schema, parents first, in one transaction; returns rows per table.

    On PostgreSQL the foreign keys are dropped for the load and added back after it, in the same
    transaction: checking them once over whole tables is several times faster than row by row
    (2M visits: ~10 s instead of ~45 s), and they hold afterwards exactly as before. On SQLite a
    table's secondary indexes are dropped while it is filled and built again after it (sorting the
    whole table once is quicker than growing the index row by row: 2M visits, ~5 s less).
    """
    counts: dict[str, int] = {}
    with engine.begin() as conn:
        dates_as_text = conn.dialect.name == "sqlite"
        foreign_keys = _drop_foreign_keys(conn) if conn.dialect.name == "postgresql" else []
        for table in schema.TABLES:
            df = frames.get(table.name)
            if df is None:
                continue
            unknown = set(df.columns) - set(table.columns.keys())
            if unknown:
                raise DemoError(f"table {table.name} has no column(s) {', '.join(sorted(unknown))}")
            columns = list(df.columns)
            values = [_python_values(df[c], dates_as_text=dates_as_text) for c in columns]
            indexes = _drop_sqlite_indexes(conn, table.name) if dates_as_text and len(df) >= CHUNK_ROWS else []
            _insert_rows(conn, table.name, columns, list(zip(*values)))
            for create in indexes:
                conn.exec_driver_sql(create)
            counts[table.name] = len(df)
        counts[schema.site_month.name] = rollups.refresh(conn)
        quote = conn.dialect.identifier_preparer.quote
        for table_name, name, definition in foreign_keys:
            conn.execute(text(f"ALTER TABLE {quote(table_name)} ADD CONSTRAINT {quote(name)} {definition}"))
        if conn.dialect.name == "postgresql":
            # Explicit ids leave the serial sequences behind: move them on, so later inserts get fresh ids.
            for table in schema.TABLES:
                pk = table.primary_key.columns.values()[0].name
                conn.execute(text(
                    f"SELECT setval(pg_get_serial_sequence('{table.name}', '{pk}'), "
                    f"COALESCE((SELECT MAX({pk}) FROM {table.name}), 0) + 1, false)"
                ))
            # Fresh statistics, so the first queries after a bulk load are planned on the data, not guessed.
            conn.execute(text("ANALYZE"))
    return counts


def _has_trials(engine: Engine) -> bool:
    with engine.connect() as conn:
        if not inspect(conn).has_table(schema.trial.name):
            return False
        return bool(conn.execute(select(func.count()).select_from(schema.trial)).scalar())


def _url_has_trials(url: str) -> bool:
    engine = make_engine(url)
    try:
        return _has_trials(engine)
    finally:
        engine.dispose()


def _drop_everything(engine: Engine) -> None:
    schema.metadata.drop_all(engine)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS alembic_version"))


def build(url: str, *, seed: int = 7, n_trials: int = DEFAULT_TRIALS, today: date | None = None, replace: bool = False) -> dict[str, int]:
    """Create the schema at `url` (if missing), fill it with the demo portfolio and log the load; returns rows per table.

    Refuses a database that already has trials unless `replace`, which drops and recreates every table.
    """
    engine = make_engine(url, read_only=False, statement_timeout_s=3600)
    try:
        if replace:
            _drop_everything(engine)
        elif _has_trials(engine):
            raise DemoError("the database already has trials; use --replace to drop them and write the demo")
        if not inspect(engine).has_table(schema.trial.name):
            create_schema(engine)
        frames = generate(seed=seed, n_trials=n_trials, today=today)
        counts = write(engine, frames)
        with engine.begin() as conn:
            conn.execute(schema.load_log.insert().values(
                source=f"demo (seed {seed})",
                loaded_at=datetime.now(UTC).replace(tzinfo=None),
                n_rows=sum(counts.values()),
                details=json.dumps(counts),
            ))
        counts["load_log"] = 1
        return counts
    finally:
        engine.dispose()


def export_csv(directory: Path, *, seed: int = 7, n_trials: int = DEFAULT_TRIALS, today: date | None = None) -> dict[str, int]:
    """Write the demo portfolio as the data contract's CSV files into `directory`; returns rows per file."""
    from dashboard.contract import export_csv as export

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'demo.db'}"
        build(url, seed=seed, n_trials=n_trials, today=today)
        engine = make_engine(url)
        try:
            with engine.connect() as conn:
                return export(conn, directory)
        finally:
            engine.dispose()


def _sqlite_file(url: str) -> Path | None:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:" or parsed.database.startswith("file:"):
        return None
    return Path(parsed.database)


def _parse_date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {value!r}") from None


def main(argv: list[str] | None = None) -> int:
    """Command line; plain one-line errors on stderr, exit 2 for a user error."""
    parser = argparse.ArgumentParser(prog="python -m dashboard.demo", description="Write the demo portfolio into a database.")
    parser.add_argument("--url", help="SQLAlchemy database URL (default: the DASHBOARD_DATABASE_URL setting)")
    parser.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    parser.add_argument(
        "--trials", type=int, default=DEFAULT_TRIALS,
        help=f"trials of the main sponsor (default {DEFAULT_TRIALS}, at least {MIN_TRIALS}); 200 makes a large portfolio",
    )
    parser.add_argument("--today", type=_parse_date, help="data cut date, YYYY-MM-DD (default: today)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--if-missing", action="store_true", help="do nothing if the database already has trials")
    mode.add_argument("--replace", action="store_true", help="drop every table first, then write the demo")
    parser.add_argument("--csv", metavar="DIR", type=Path,
                        help="write the portfolio as the CSV files of docs/data-contract.md into DIR instead of a database")
    args = parser.parse_args(argv)
    if args.trials < MIN_TRIALS:
        print(f"error: --trials must be at least {MIN_TRIALS}", file=sys.stderr)
        return 2
    if args.csv is not None:
        if args.url or args.if_missing or args.replace:
            print("error: --csv writes files, not a database: leave out --url, --if-missing and --replace", file=sys.stderr)
            return 2
        try:
            counts = export_csv(args.csv, seed=args.seed, n_trials=args.trials, today=args.today)
        except OSError as exc:
            print(f"error: cannot write the CSV files: {exc}", file=sys.stderr)
            return 2
        print(f"Wrote the demo portfolio (seed {args.seed}) as CSV files to {args.csv}: {sum(counts.values()):,} rows")
        for name, n in counts.items():
            print(f"  {name:<24} {n:>10,}")
        print(f"Load them with: python -m dashboard.load {args.csv} --url URL")
        return 0

    try:
        url, shown = cli_database_url(args.url)
    except UsageError as exc:
        return report_cli_error(exc, "the demo")

    try:
        path = _sqlite_file(url)
        if path is not None:
            if args.if_missing and path.exists() and _url_has_trials(url):
                if current_revision(url) == head_revision():
                    print(f"The demo database {path} exists; leaving it as it is.")
                    return 0
                # Our own demo file, made before a schema change: the dashboard could not read it.
                print(f"The demo database {path} was made for an older schema; writing it again.")
                args.replace = True
            path.parent.mkdir(parents=True, exist_ok=True)
        elif args.if_missing and _url_has_trials(url):
            print(f"{shown} already has trials; leaving it as it is.")
            return 0
        started = time.perf_counter()
        counts = build(url, seed=args.seed, n_trials=args.trials, today=args.today, replace=args.replace)
        elapsed = time.perf_counter() - started
        # Published as a nightly load would: the pages open on the snapshot instead of computing every trial.
        from dashboard import snapshot  # the command line's, not the generator's: it reads through queries/
        from dashboard.settings import get_settings

        publishing = time.perf_counter()
        published = snapshot.publish(url, snapshot.default_dates(args.today or date.today()), get_settings())
        published_s = time.perf_counter() - publishing
    except DemoError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: cannot create the database file: {exc}", file=sys.stderr)
        return 2
    except (SchemaStateError, ImportError, SQLAlchemyError) as exc:
        return report_cli_error(exc, "the demo")
    total = sum(counts.values())
    print(f"Wrote the demo portfolio (seed {args.seed}) to {shown}: {total:,} rows in {elapsed:.1f} s")
    for name, n in counts.items():
        print(f"  {name:<20} {n:>10,}")
    print(f"Published the snapshots of {' and '.join(d.isoformat() for d in published)} in {published_s:.1f} s.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
