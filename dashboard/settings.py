"""Configuration: one settings class, read from DASHBOARD_* environment variables and a .env file."""

from __future__ import annotations

from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_DIR = Path(__file__).resolve().parent.parent
DEMO_DATABASE_PATH = PROJECT_DIR / "data" / "demo.db"
REVIEW_DATABASE_PATH = PROJECT_DIR / "data" / "review.db"


class Settings(BaseSettings):
    """Every setting the dashboard reads; documented in the README."""

    model_config = SettingsConfigDict(env_prefix="DASHBOARD_", env_file=".env", extra="ignore")

    database_url: str = Field(
        default=f"sqlite:///{DEMO_DATABASE_PATH}",
        description="SQLAlchemy URL of the reporting database",
    )
    review_database_url: str = Field(
        default=f"sqlite:///{REVIEW_DATABASE_PATH}",
        description="SQLAlchemy URL of the review database (actions and notes), which the dashboard writes; created on first use",
    )
    public_base_url: str = Field(
        default="http://127.0.0.1:8501",
        description="Address people open the dashboard at; shareable links start with it",
    )
    today: date | None = Field(
        default=None,
        description="Take this date as today (a demo or a test frozen in time); empty: the server's date",
    )
    stale_after_hours: float = Field(default=36, gt=0, description="Data older than this shows a warning")
    statement_timeout_s: float = Field(default=30, gt=0, description="Longest a query may run")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", description="The server log's level (standard error, one line per event)"
    )
    cache_ttl_s: int = Field(default=600, gt=0, description="How long a query result is reused")
    cache_max_entries: int = Field(
        default=500, gt=0, description="Query results kept in the cache, all queries together"
    )
    read_snapshots: bool = Field(
        default=True,
        description="Read the published snapshot of a view when there is one (python -m dashboard.snapshot); false: "
        "compute every view live",
    )

    # Health thresholds (domain.md §5, §7).
    index_green: float = Field(default=0.95, description="CPI/SPI at or above: green")
    index_amber: float = Field(default=0.85, description="CPI/SPI at or above (below green): amber")
    enrollment_green: float = Field(default=0.9, description="Enrolled ÷ planned-to-date at or above: green")
    enrollment_amber: float = Field(default=0.75, description="Enrolled ÷ planned-to-date at or above: amber")
    probability_green: float = Field(default=0.8, description="P(LPI by plan) at or above: green")
    probability_amber: float = Field(default=0.5, description="P(LPI by plan) at or above: amber")
    milestone_amber_days: int = Field(default=0, ge=0, description="Slip above this: amber")
    milestone_red_days: int = Field(default=30, ge=0, description="Slip above this: red")
    supply_near_miss_days: int = Field(default=14, ge=0, description="Supply margin below this many days: near miss")
    schedule_horizon_days: int = Field(default=180, gt=0, description="Open milestones due within this count")
    non_enrolling_days: int = Field(default=60, gt=0, description="Active this long with 0 enrolled: non-enrolling")

    # Site flags (domain.md §4): sites below a minimum denominator are neither flagged nor used as peers.
    flag_amber_z: float = Field(default=2.0, gt=0, description="|z| above this on the bad side: amber")
    flag_red_z: float = Field(default=3.0, gt=0, description="|z| above this on the bad side: red")
    flag_min_subjects: int = Field(default=3, ge=1, description="Minimum subjects for screen failure and dropout flags")
    flag_min_days: int = Field(
        default=30, ge=1, description="Minimum subject-days (deviations) or site-days (enrollment rate)"
    )
    flag_min_visits: int = Field(default=10, ge=1, description="Minimum visits for data-entry and query-rate flags")
    flag_min_queries: int = Field(default=10, ge=1, description="Minimum queries for the query-aging flags")
    flag_min_data_points: int = Field(default=200, ge=1, description="Minimum data points for the data-change flag")
    flag_min_lab_results: int = Field(default=50, ge=1, description="Minimum lab results for the abnormal-lab flag")
    flag_min_events: float = Field(
        default=3,
        ge=0,
        description="A site is flagged only when at least this many events occurred or are expected at its size "
        "under its trial's pooled rate (so one event at a tiny site is not red)",
    )

    sae_on_time_green: float = Field(
        default=0.9, ge=0, le=1, description="Share of SAEs reported on time at or above: green"
    )
    sae_on_time_amber: float = Field(
        default=0.8, ge=0, le=1, description="Share of SAEs reported on time at or above (below green): amber"
    )

    # Status e-mail (python -m dashboard.digest --send).
    smtp_host: str = Field(default="localhost", description="SMTP server the status e-mail is sent through")
    smtp_port: int = Field(default=25, ge=1, le=65535, description="Its port")
    smtp_starttls: bool = Field(default=False, description="Switch to TLS with STARTTLS before logging in and sending")
    smtp_user: str | None = Field(default=None, description="Log in as this user (none: send without logging in)")
    smtp_password: SecretStr | None = Field(default=None, description="The SMTP user's password")
    mail_from: str = Field(default="dashboard@localhost", description="From address of the status e-mail")

    # Sign-in (README: "Deploying for your organisation").
    auth_mode: Literal["none", "header", "oidc"] = Field(
        default="none", description="How users sign in: none (demo), header (trusted proxy) or oidc (st.login)"
    )
    allow_anonymous: bool = Field(
        default=False,
        description="Allow auth_mode=none against a database other than the demo (everyone sees everything)",
    )
    auth_header: str = Field(
        default="X-Forwarded-Email", min_length=1, description="Header the trusted proxy puts the signed-in e-mail in"
    )
    sign_out_url: str | None = Field(
        default=None, description="Header mode: the proxy's sign-out address, shown as a link"
    )
    proxy_secret: SecretStr | None = Field(
        default=None,
        description="Header mode: a secret the proxy sends in proxy_secret_header; requests without it are refused",
    )
    proxy_secret_header: str = Field(
        default="X-Proxy-Secret", min_length=1, description="Header mode: the header holding the proxy's secret"
    )
    oidc_provider: str | None = Field(
        default=None, description="OIDC mode: the provider's name under [auth] in secrets.toml, if more than one"
    )
    oidc_issuers_without_email_verified: str = Field(
        default="",
        description="OIDC mode: issuers (the `iss` claim, comma-separated) whose e-mails are trusted without an "
        "email_verified claim, for providers that never send it",
    )

    def trusts_unverified_email(self, issuer: str | None) -> bool:
        """Whether an ID token from `issuer` without an email_verified claim may still identify its user."""
        trusted = {i.strip().rstrip("/") for i in self.oidc_issuers_without_email_verified.split(",") if i.strip()}
        return issuer is not None and str(issuer).rstrip("/") in trusted

    def is_demo_database(self) -> bool:
        """Whether the database is the embedded demo file (the only one anonymous mode may show by default)."""
        from sqlalchemy.engine import make_url

        try:
            url = make_url(self.database_url)
        except Exception:
            return False
        if url.get_backend_name() != "sqlite" or not url.database:
            return False
        return Path(url.database).resolve() == DEMO_DATABASE_PATH.resolve()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings of this process (read once)."""
    return Settings()
