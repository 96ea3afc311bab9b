"""Scoped, as-of aware query functions, one module per subject area.

MODULES lists every query module, so tests and the benchmark can run every function of every module
(each module lists its functions in QUERIES). A new module goes here too.
"""

from queries import budget, enrollment, portfolio, sites, vendors

MODULES = (portfolio, enrollment, sites, budget, vendors)
