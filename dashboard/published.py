"""Published snapshots, as data: how the composed parts a view's figures are computed from (each trial's health, its
forecast, its sites' flags, its vendor risks) are written to the snapshot tables and read back, unchanged.

`python -m dashboard.snapshot` computes the parts once, where data is written, for every trial; a page reads the parts
of the trials in its scope and composes the same registry Basis it would have computed live, so a figure reads the
same either way. Frames are stored per trial as Arrow IPC streams (types kept exactly: dates, nullable integers,
booleans); a trial's outlook and a trial's peer baselines, which are objects, are stored as one-row-per-item frames.
Nothing here runs a query: queries/snapshots.py reads the rows, queries/overview.py composes them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from dashboard import health, metrics
from dashboard.forecast import MODEL as FORECAST_MODEL
from dashboard.settings import Settings

# The position of a row in the frame it was split from: reading sorts on it, so a scope's rows come back in the order
# the live query would give them.
ROW = "_row"

# Settings that do not change a figure: where data and mail go, who signs in, how long caches keep.
NOT_FIGURES = frozenset(
    {
        "database_url",
        "review_database_url",
        "public_base_url",
        "stale_after_hours",
        "statement_timeout_s",
        "cache_ttl_s",
        "cache_max_entries",
        "read_snapshots",
        "log_level",
        "smtp_host",
        "smtp_port",
        "smtp_starttls",
        "smtp_user",
        "smtp_password",
        "mail_from",
        "auth_mode",
        "allow_anonymous",
        "auth_header",
        "sign_out_url",
        "proxy_secret",
        "proxy_secret_header",
        "oidc_provider",
        "oidc_issuers_without_email_verified",
    }
)


def settings_key(settings: Settings) -> str:
    """A fingerprint of the settings the figures depend on (thresholds, flag minimums): a snapshot published under
    other thresholds is not read, since its colours would differ from what this server computes."""
    values = {k: v for k, v in settings.model_dump().items() if k not in NOT_FIGURES}
    values["forecast_model"] = FORECAST_MODEL
    return hashlib.sha256(json.dumps(values, sort_keys=True, default=str).encode()).hexdigest()[:16]


def provenance(publication: pd.Series | None) -> str:
    """Where a view's figures come from (`publication`: queries.overview.publication): "figures published 03 Dec 2026
    02:14 UTC" (read from a snapshot) or "figures computed now"."""
    if publication is None:
        return "figures computed now"
    return f"figures published {pd.Timestamp(publication['published_at']):%d %b %Y %H:%M} UTC"


# --- Frames ----------------------------------------------------------------------------------------

# Uncompressed: a trial's frame is a few kB, where compression saves nothing and decompressing 250 trials' streams cost
# a quarter of a second per frame (measured at the large scale).
_WRITE = pa.ipc.IpcWriteOptions(compression=None)
_OBJECTS = b"dashboard.object_columns"


def _table(frame: pd.DataFrame) -> pa.Table:
    table = pa.Table.from_pandas(frame, preserve_index=False)
    objects = [str(c) for c in frame.columns if frame[c].dtype == object]  # Arrow reads text back as pandas' str dtype
    return table.replace_schema_metadata({**(table.schema.metadata or {}), _OBJECTS: json.dumps(objects).encode()})


def _stream(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema, options=_WRITE) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def encode_by_trial(frame: pd.DataFrame, protocols: list[str]) -> dict[str, bytes]:
    """A frame with a protocol_number column as one stream per protocol of `protocols` (an empty frame where it has
    no rows), each row keeping its position in the whole frame in ROW. Converted to Arrow once and sliced: converting
    each trial's rows on their own costs milliseconds a trial."""
    numbered = frame.reset_index(drop=True)
    numbered = numbered.assign(**{ROW: np.arange(len(numbered), dtype="int64")})
    codes = pd.Categorical(numbered["protocol_number"], categories=protocols).codes
    order = np.argsort(codes, kind="stable")
    table = _table(numbered.iloc[order[codes[order] >= 0]])
    counts = np.bincount(codes[codes >= 0], minlength=len(protocols))
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    return {p: _stream(table.slice(int(start), int(n))) for p, start, n in zip(protocols, starts, counts)}


def decode(payloads: list[bytes]) -> pd.DataFrame:
    """The frames of `payloads` (each encode()d, with a ROW column) as one frame, in their original row order."""
    if not payloads:
        raise ValueError("no frames to decode")
    # One conversion to pandas for all of them (per table it costs milliseconds, and a portfolio has thousands); the
    # streams of one frame share its schema (encode_by_trial converts it once), so they concatenate as they are.
    table = pa.concat_tables([pa.ipc.open_stream(p).read_all() for p in payloads])
    out = table.to_pandas()
    for column in json.loads(table.schema.metadata.get(_OBJECTS, b"[]")):
        values = out[column].astype(object)
        out[column] = values.where(values.notna(), None)
    return out.sort_values(ROW, kind="stable").drop(columns=ROW).reset_index(drop=True)


# --- Outlooks --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PublishedForecast:
    """A forecast as published: what the pages read of forecast.Forecast (its quantiles, its note, the extra sites
    the trial needs), without the simulation behind it."""

    as_of: date
    target: int
    enrolled: int
    completion: dict[float, date | None]
    note: str
    has_forecast: bool
    _answers: dict = field(default_factory=dict, compare=False)
    _fan: pd.DataFrame | None = field(default=None, compare=False)

    def fan_table(self) -> pd.DataFrame:
        """The fan as published (forecast.Forecast.fan_table)."""
        return self._fan if self._fan is not None else pd.DataFrame(columns=["day", "q10", "q50", "q90"])

    def sites_needed(self, by: date, probability: float = 0.8) -> int | None:
        """The published answer for `by` and `probability` (None for any other question: it was not worked out)."""
        return self._answers.get((by, float(probability)))


def outlook_rows(outlooks: dict[str, health.Outlook]) -> pd.DataFrame:
    """One row per trial's outlook, with its forecast's quantiles, note and extra sites needed (worked out here)."""
    rows = []
    for p, o in outlooks.items():
        f = o.forecast
        rows.append(
            {
                "protocol_number": p,
                "planned_lpi": o.planned_lpi,
                "p50": o.p50,
                "p_meet_plan": o.p_meet_plan,
                "days_ahead": o.days_ahead,
                "is_complete": o.is_complete,
                "first_opening": o.first_opening,
                "as_of": o.as_of,
                "needed_probability": o.needed_probability,
                "completed_on": o.completed_on,
                "has_forecast_object": f is not None,
                "forecast_as_of": None if f is None else f.as_of,
                "target": None if f is None else f.target,
                "enrolled": None if f is None else f.enrolled,
                "completion": None
                if f is None
                else json.dumps({str(q): None if d is None else d.isoformat() for q, d in f.completion.items()}),
                "note": None if f is None else f.note,
                "has_forecast": None if f is None else bool(f.has_forecast),
                "sites_needed": o.sites_needed,  # worked out now, so no page has to redraw the simulation
                "fan": None if f is None else json.dumps(f.fan_table().to_dict(orient="list")),
                "rate_change": None if o.rate_change is None else json.dumps(dataclasses.asdict(o.rate_change)),
            }
        )
    frame = pd.DataFrame(
        rows,
        columns=[
            "protocol_number",
            "planned_lpi",
            "p50",
            "p_meet_plan",
            "days_ahead",
            "is_complete",
            "first_opening",
            "as_of",
            "needed_probability",
            "completed_on",
            "has_forecast_object",
            "forecast_as_of",
            "target",
            "enrolled",
            "completion",
            "note",
            "has_forecast",
            "sites_needed",
            "fan",
            "rate_change",
        ],
    )
    for column in ("days_ahead", "target", "enrolled", "sites_needed"):
        frame[column] = pd.array([None if pd.isna(v) else int(v) for v in frame[column]], dtype="Int64")
    for column in ("p_meet_plan", "needed_probability"):
        frame[column] = pd.to_numeric(frame[column]).astype("float64")
    for column in ("planned_lpi", "p50", "first_opening", "as_of", "completed_on", "forecast_as_of"):
        frame[column] = pd.Series([health.to_date(v) for v in frame[column]], index=frame.index, dtype="object")
    for column in ("completion", "note", "fan", "rate_change"):
        frame[column] = pd.Series(list(frame[column]), index=frame.index, dtype="object")
    return frame


def _json(value) -> Any:
    """A JSON column's value (None when missing)."""
    return None if value is None or (isinstance(value, float) and np.isnan(value)) else json.loads(value)


def _int(value) -> int | None:
    return None if value is None or pd.isna(value) else int(value)


def _float(value) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


def outlooks_from(frame: pd.DataFrame) -> dict[str, health.Outlook]:
    """The outlooks of outlook_rows, as the pages read them."""
    out = {}
    for r in frame.itertuples(index=False):
        planned_lpi = health.to_date(r.planned_lpi)
        forecast = None
        if r.has_forecast_object:
            completion = {
                float(q): None if d is None else date.fromisoformat(d) for q, d in json.loads(r.completion).items()
            }
            answers = {}
            if planned_lpi is not None:
                answers[(planned_lpi, float(r.needed_probability))] = _int(r.sites_needed)
            fan = None if _json(r.fan) is None else pd.DataFrame(_json(r.fan)).astype("float64")
            forecast = PublishedForecast(
                health.to_date(r.forecast_as_of),
                _int(r.target),
                _int(r.enrolled),
                completion,
                r.note,
                bool(r.has_forecast),
                answers,
                fan,
            )
        out[r.protocol_number] = health.Outlook(
            r.protocol_number,
            planned_lpi,
            forecast,
            health.to_date(r.p50),
            _float(r.p_meet_plan),
            _int(r.days_ahead),
            bool(r.is_complete),
            health.to_date(r.first_opening),
            health.to_date(r.as_of),
            float(r.needed_probability),
            health.to_date(r.completed_on),
            None if _json(r.rate_change) is None else metrics.RateChange(**_json(r.rate_change)),
        )
    return out


# --- Peer baselines --------------------------------------------------------------------------------


def baseline_rows(baselines: dict[tuple[str, str], metrics.PeerBaseline]) -> pd.DataFrame:
    """One row per (trial, indicator) peer baseline."""
    frame = pd.DataFrame(
        [
            {"protocol_number": p, "indicator": k, "pooled": b.pooled, "phi": b.phi, "n_eligible": b.n_eligible}
            for (p, k), b in baselines.items()
        ],
        columns=["protocol_number", "indicator", "pooled", "phi", "n_eligible"],
    )
    frame["pooled"] = pd.to_numeric(frame["pooled"]).astype("float64")
    frame["phi"] = pd.to_numeric(frame["phi"]).astype("float64")
    frame["n_eligible"] = frame["n_eligible"].astype("int64")
    return frame


def baselines_from(frame: pd.DataFrame) -> dict[tuple[str, str], metrics.PeerBaseline]:
    """The baselines of baseline_rows."""
    return {
        (r.protocol_number, r.indicator): metrics.PeerBaseline(_float(r.pooled), float(r.phi), int(r.n_eligible))
        for r in frame.itertuples(index=False)
    }


def frames_of(part: Any) -> dict[str, pd.DataFrame]:
    """A composed part (queries.overview's TrialHealth, FlaggedSites, VendorRisks) as named frames."""
    out = {}
    for name, value in vars(part).items():
        if isinstance(value, pd.DataFrame):
            out[name] = value
        elif name == "outlooks":
            out[name] = outlook_rows(value)
        elif name == "baselines":
            out[name] = baseline_rows(value)
        else:
            raise TypeError(f"cannot publish {name!r} of {type(part).__name__}")
    return out


def part_from(cls: type, frames: dict[str, pd.DataFrame]) -> Any:
    """The composed part of class `cls` from its named frames (frames_of's inverse)."""
    values = {}
    for name, frame in frames.items():
        if name == "outlooks":
            values[name] = outlooks_from(frame)
        elif name == "baselines":
            values[name] = baselines_from(frame)
        else:
            values[name] = frame
    return cls(**values)
