"""Site flags of one trial (one peer group): how the tests call metrics.flag_peer_groups for a single trial."""

from collections.abc import Iterable

from dashboard.metrics import BadSide, FlagKind, PeerBaseline, SiteFlag, flag_peer_groups


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
