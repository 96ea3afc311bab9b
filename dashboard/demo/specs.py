"""The demo's fixed world: the planted features (the constants the pages and tests look for), sponsors, countries,
vendors, milestones and texts, and what each trial is before it is simulated (its spec)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

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
UNDATED_DEVIATIONS_TRIAL = (
    FOLLOW_UP_TRIAL  # two thirds of its deviations have no date; most of those an identified date
)
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
MOVED_THIS_WEEK = {
    ("supply_risk", "SITE_SUPPLY_READY"),
    ("near_miss", "SITE_SUPPLY_READY"),
    ("big", "LPI"),
    ("overrun", "LPI"),
}
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
INSTITUTIONS = (
    "University Hospital",
    "Medical Center",
    "Clinical Research Unit",
    "General Hospital",
    "Regional Hospital",
    "Research Institute",
)
FIRST_NAMES = (
    "Anna",
    "Ben",
    "Carla",
    "David",
    "Elena",
    "Farid",
    "Grace",
    "Hiro",
    "Ines",
    "Jonas",
    "Kasia",
    "Luis",
    "Mei",
    "Noah",
    "Olga",
    "Pedro",
    "Rosa",
    "Sven",
    "Tara",
    "Yusuf",
)
LAST_NAMES = (
    "Adler",
    "Berg",
    "Costa",
    "Dubois",
    "Eriksen",
    "Fischer",
    "Garcia",
    "Hayes",
    "Ito",
    "Jansen",
    "Kowalski",
    "Lambert",
    "Moreau",
    "Novak",
    "Okafor",
    "Park",
    "Rossi",
    "Schmidt",
    "Tanaka",
    "Weber",
)

THERAPEUTIC_AREAS = {
    "Oncology": ("Non-small cell lung cancer", "Metastatic breast cancer", "Colorectal cancer", "Multiple myeloma"),
    "Cardiology": ("Heart failure with reduced ejection fraction", "Atrial fibrillation", "Resistant hypertension"),
    "Neurology": (
        "Early Alzheimer's disease",
        "Parkinson's disease",
        "Episodic migraine",
        "Relapsing multiple sclerosis",
    ),
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
    "Nausea",
    "Fatigue",
    "Headache",
    "Diarrhoea",
    "Rash",
    "Pyrexia",
    "Vomiting",
    "Cough",
    "Dizziness",
    "Arthralgia",
    "Nasopharyngitis",
    "Hypertension",
    "Decreased appetite",
    "Constipation",
    "Insomnia",
    "Back pain",
    "Anaemia",
    "Injection site reaction",
    "Pruritus",
    "Alanine aminotransferase increased",
)
SAE_TERMS = (
    "Pneumonia",
    "Febrile neutropenia",
    "Sepsis",
    "Pulmonary embolism",
    "Acute kidney injury",
    "Myocardial infarction",
    "Atrial fibrillation",
    "Dehydration",
    "Syncope",
    "Cardiac failure",
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


def _trial_specs(rng: np.random.Generator, n_trials: int) -> list[_Spec]:
    main = [
        _Spec(
            0,
            BIG_TRIAL,
            "III",
            "Oncology",
            "Non-small cell lung cancer",
            "enrolling",
            SHARED_VENDOR,
            "ALPINE",
            True,
            n_sites=64,
            plan_factor=1.15,
            cpi=1.0,
            role="big",
        ),
        _Spec(
            0,
            OVERRUN_TRIAL,
            "II",
            "Immunology",
            "Ulcerative colitis",
            "enrolling",
            "MERIDIAN",
            "HARBOR",
            True,
            n_sites=30,
            plan_factor=0.9,
            cpi=0.78,
            role="overrun",
        ),
        _Spec(
            0,
            SUPPLY_RISK_TRIAL,
            "I",
            "Rare disease",
            "Fabry disease",
            "startup",
            "ATLAS",
            CDMO_VENDOR,
            False,
            role="supply_risk",
        ),
        _Spec(
            0,
            CDMO_TRIAL,
            "I",
            "Oncology",
            "Advanced solid tumours",
            "enrolling",
            CDMO_VENDOR,
            CDMO_VENDOR,
            False,
            n_sites=6,
            cpi=1.02,
            role="cdmo",
        ),
        _Spec(
            0,
            NEAR_MISS_TRIAL,
            "II",
            "Neurology",
            "Early Alzheimer's disease",
            "startup",
            "KESTREL",
            "ALPINE",
            True,
            role="near_miss",
        ),
        _Spec(
            0,
            FOLLOW_UP_TRIAL,
            "III",
            "Cardiology",
            "Heart failure with reduced ejection fraction",
            "follow_up",
            "MERIDIAN",
            "HARBOR",
            True,
        ),
        _Spec(
            0,
            CLOSED_TRIAL,
            "IV",
            "Infectious disease",
            "Respiratory syncytial virus",
            "closed",
            "ATLAS",
            "ALPINE",
            True,
        ),
    ]
    other = [
        _Spec(
            1, SHARED_TRIAL_OTHER, "II", "Immunology", "Atopic dermatitis", "enrolling", SHARED_VENDOR, "HARBOR", True
        ),
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
            specs.append(
                _Spec(
                    sponsor,
                    protocol,
                    phase,
                    ta,
                    str(rng.choice(THERAPEUTIC_AREAS[ta])),
                    str(rng.choice(statuses, p=list(STATUS_WEIGHTS.values()))),
                    str(rng.choice(CROS)),
                    str(rng.choice(SUPPLIERS, p=[0.45, 0.4, 0.15])),
                    bool(phase != "I" and rng.random() < 0.7),
                )
            )
            if j >= n_default:
                specs[-1].rate_factor, specs[-1].treatment_factor = (
                    LARGE_TRIAL_RATE_FACTOR,
                    LARGE_TRIAL_TREATMENT_FACTOR,
                )
                specs[-1].large = True
        return specs

    return (
        main
        + random_specs(0, n_trials - len(main), DEFAULT_TRIALS - len(main))
        + other
        + random_specs(1, n_other - len(other), _other_trials(DEFAULT_TRIALS) - len(other))
    )


def _other_trials(n_trials: int) -> int:
    """How many trials the other sponsor gets when the main one has `n_trials`."""
    return max(2, n_trials // 4)


# One trial's life, in days from its CRO contract signature.
