"""The figure registry: every figure people read — a tile, a health-coloured column, a key figure of the e-mail —
defined once, with its label, unit, good direction, definition, thresholds and the one function that computes it.

Pages, the status e-mail, exports, `python -m dashboard.figures` and the Methods page all take figures from here,
so the same label carries the same number for the same view everywhere. A figure is computed from a `Basis`: the
query results of the trials in view as of one date. The same function gives the portfolio figure (every trial of
the view) and a trial's (the basis narrowed to that trial), so a trial's tile and its row in a portfolio table agree.

The package, by responsibility: model (Basis, Figure, Value; how units are written), computations (the functions
the figures call), figures (the one list of figures), evaluate (figures for a view), reasons (why a trial has its
colour, and the worst-first order).
"""

from dashboard.registry.computations import (
    WORST_SITES_TEXT,
    non_enrolling_sites,
    qtl_breaches,
    site_flags,
    worst_sites,
)
from dashboard.registry.evaluate import block, by_currency, evaluate, moved
from dashboard.registry.figures import FIGURES, GROUPS
from dashboard.registry.model import (
    TOLERANCE,
    UNIT_WORDS,
    Basis,
    Figure,
    Level,
    Part,
    Unit,
    Value,
    change_display,
    display,
    tolerance_text,
)
from dashboard.registry.reasons import DIMENSIONS, SEVERITY_TEXT, Reason, drivers, reasons, severity, worst_first

__all__ = [
    "DIMENSIONS",
    "FIGURES",
    "GROUPS",
    "SEVERITY_TEXT",
    "TOLERANCE",
    "UNIT_WORDS",
    "WORST_SITES_TEXT",
    "Basis",
    "Figure",
    "Level",
    "Part",
    "Reason",
    "Unit",
    "Value",
    "block",
    "by_currency",
    "change_display",
    "display",
    "drivers",
    "evaluate",
    "moved",
    "non_enrolling_sites",
    "qtl_breaches",
    "reasons",
    "severity",
    "site_flags",
    "tolerance_text",
    "worst_first",
    "worst_sites",
]
