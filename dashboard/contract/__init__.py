"""The data contract: which CSV file feeds each reporting table, with which columns, types, keys and rules.

Everything here is derived from dashboard/schema/, so the document a data team reads
(docs/data-contract.md), the demo export and the loader (dashboard/load) share one definition:

    python -m dashboard.contract            write docs/data-contract.md
    python -m dashboard.contract --check    exit 1 if the committed document is stale

A CSV file carries natural keys, never database ids: each foreign-key column is replaced by the
referenced row's natural key (`info["natural_key"]` of the parent table), so `site_id` becomes
(protocol_number, site_number). Key columns that several references share (protocol_number) appear
once. A reference with a role name (milestone.precedes_milestone_id) prefixes the columns it does not
share: precedes_milestone_code, within the same trial.

The package, by responsibility: rules (files, formats, rules between columns), files (each file's specification),
values (reading and checking a value, explaining an error), export (tables as CSV files), document (the
generated docs/data-contract.md), cli.
"""

from dashboard.contract.cli import (
    main,
    suggest,
)
from dashboard.contract.document import (
    render,
)
from dashboard.contract.export import (
    csv_select,
    export_csv,
    format_value,
)
from dashboard.contract.files import (
    HORIZON_YEARS,
    CsvColumn,
    FileSpec,
    Reference,
    SelfReference,
    file_spec,
    file_specs,
    is_shared,
    scope_path,
)
from dashboard.contract.rules import (
    CONTRACT_PATH,
    EXTRA_RULES,
    FORMATS,
    GRANTS,
    NOT_FILES,
    REASONS,
    REPO_DIR,
    REQUIRED_FILES,
    ROOT,
    SAME_PARENT,
    Between,
    ContractError,
    DateOrder,
    FirstOfMonth,
    Needs,
    NeedsWhen,
    NotBoth,
    SetWhen,
    _database_rules,
)
from dashboard.contract.values import (
    NORMALISE,
    explain,
)

__all__ = [
    "Between",
    "CONTRACT_PATH",
    "ContractError",
    "CsvColumn",
    "DateOrder",
    "EXTRA_RULES",
    "FORMATS",
    "FileSpec",
    "FirstOfMonth",
    "GRANTS",
    "HORIZON_YEARS",
    "NORMALISE",
    "NOT_FILES",
    "Needs",
    "NeedsWhen",
    "NotBoth",
    "REASONS",
    "REPO_DIR",
    "REQUIRED_FILES",
    "ROOT",
    "Reference",
    "SAME_PARENT",
    "SelfReference",
    "SetWhen",
    "_database_rules",
    "csv_select",
    "explain",
    "export_csv",
    "file_spec",
    "file_specs",
    "format_value",
    "is_shared",
    "main",
    "render",
    "scope_path",
    "suggest",
]
