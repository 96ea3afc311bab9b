"""Load a folder of CSV files written to the data contract (docs/data-contract.md) into the reporting database.

    python -m dashboard.load DIR [--url URL] [--mode upsert|replace] [--dry-run] [--source NAME]

Two passes over the files, each reading them row by row. The first checks every row — its values
with the pydantic model of its file (dashboard.contract), then keys, references and the rules
between rows — and writes nothing. Only when it found no problem does the second pass write
everything in the same transaction, parents first, in batches, and add a load_log row. What stays
in memory is the keys of the rows (to find duplicates and resolve references), never the rows.

Exit codes: 0 loaded, 1 problems in the files or a database error, 2 a usage error, 3 loaded but its snapshots not
published (the pages compute live until `python -m dashboard.snapshot` succeeds).

The package, by responsibility: model (modes, limits, problems, counts, the plan), reading (CSV rows, typed),
checking (keys, references, ownership, rules: the first pass), writing (the second pass), run (`load`, one load
from end to end), cli.
"""

from dashboard.load.checking import Checker
from dashboard.load.cli import main
from dashboard.load.model import BATCH_ROWS, MAX_SHOWN, MODES, STATEMENT_TIMEOUT_S, Counts, Plan, Problems
from dashboard.load.reading import CsvRows
from dashboard.load.run import Result, load
from dashboard.load.writing import Writer

__all__ = [
    "BATCH_ROWS",
    "MAX_SHOWN",
    "MODES",
    "STATEMENT_TIMEOUT_S",
    "Checker",
    "Counts",
    "CsvRows",
    "Plan",
    "Problems",
    "Result",
    "Writer",
    "load",
    "main",
]
