"""Scoped, as-of aware query functions, one module per subject area.

MODULES lists every query module, so tests and the benchmark can run every function of every module
(each module lists its functions in QUERIES). A new module goes here too. `snapshots` is not among them: it reads
what `python -m dashboard.snapshot` published, not the loaded data, and tests/test_snapshot.py covers it on both engines.
"""

from queries import budget, enrollment, portfolio, review, sites, vendors

MODULES = (portfolio, enrollment, sites, budget, vendors, review)
