"""Site flags of one trial (one peer group), one SiteFlag per site: how the tests call metrics.flag_peer_columns (the
product's flags, as columns for thousands of sites) for a single trial, site by site."""

from collections.abc import Iterable
from dataclasses import dataclass

from dashboard.metrics import BadSide, FlagKind, Health, PeerBaseline, flag_peer_columns


@dataclass(frozen=True)
class SiteFlag:
    """One site's over-dispersion-adjusted z-score and flag; z is None and the flag grey when it is not eligible.

    `side` is the side of the pool the site is on ("high" or "low"); `withheld` says an eligible site's flag was
    withheld because too few events were observed or expected (`observed`, `expected`)."""

    z: float | None
    flag: Health
    side: str | None = None
    withheld: bool = False
    observed: float | None = None
    expected: float | None = None


def flag_peer_groups(
    groups: Iterable, numerators: Iterable, denominators: Iterable, **options
) -> tuple[list[SiteFlag], dict]:
    """metrics.flag_peer_columns with one SiteFlag per site (input order) and each group's PeerBaseline."""
    found, baselines = flag_peer_columns(groups, numerators, denominators, **options)
    flags = [
        SiteFlag(z=float(z), flag=f, side=sd, withheld=bool(w), observed=float(o), expected=float(e))
        if ok
        else SiteFlag(z=None, flag="grey")
        for ok, z, f, sd, w, o, e in zip(
            found.eligible, found.z, found.flag, found.side, found.withheld, found.observed, found.expected
        )
    ]
    return flags, baselines


def peer_baseline(
    numerators: Iterable, denominators: Iterable, *, kind: FlagKind, min_denominator: float
) -> PeerBaseline:
    """Return the pooled ratio and φ (mean unadjusted z², at least 1) over the sites whose denominator reaches the minimum."""
    numerators = list(numerators)
    if not numerators:
        return PeerBaseline(pooled=None, phi=1.0, n_eligible=0)
    _, baselines = flag_peer_groups(
        [0] * len(numerators), numerators, denominators, kind=kind, bad_side="high", min_denominator=min_denominator
    )
    return baselines[0]


def flag_sites(
    numerators: Iterable,
    denominators: Iterable,
    *,
    kind: FlagKind,
    bad_side: BadSide,
    min_denominator: float,
    amber: float = 2.0,
    red: float = 3.0,
    min_events: float = 0.0,
) -> list[SiteFlag]:
    """Flag each site of one trial against its peers (metrics.flag_peer_groups with one group)."""
    numerators = list(numerators)
    if not numerators:
        return []
    flags, _ = flag_peer_groups(
        [0] * len(numerators),
        numerators,
        denominators,
        kind=kind,
        bad_side=bad_side,
        min_denominator=min_denominator,
        amber=amber,
        red=red,
        min_events=min_events,
    )
    return flags
