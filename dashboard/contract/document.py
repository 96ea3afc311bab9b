"""The contract as a document: docs/data-contract.md, generated from the specifications."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Date,
    Integer,
    Numeric,
    String,
)

from dashboard import schema
from dashboard.contract.files import HORIZON_YEARS, CsvColumn, FileSpec, _human, file_spec, is_shared
from dashboard.contract.rules import GRANTS, NOT_FILES, REQUIRED_FILES, ROOT, SAME_PARENT


def _type_name(column: CsvColumn) -> str:
    kind = column.source.type
    if isinstance(kind, Boolean):
        return "true/false"
    if isinstance(kind, Date):
        return "date"
    if isinstance(kind, Integer):
        return "whole number"
    if isinstance(kind, Numeric):
        return f"decimal, ≤ {kind.scale} places"
    if isinstance(kind, String):
        return f"text ≤ {kind.length}" if kind.length and not column.allowed else "text"
    return str(kind)


def _values(column: CsvColumn) -> str:
    parts = []
    if column.allowed:
        parts.append("one of " + ", ".join(f"`{v}`" for v in column.allowed))
    if column.pattern:
        parts.append(column.pattern[1])
    if column.unit:
        parts.append(column.unit)
    if column.not_negative:
        parts.append("≥ 0")
    return ", ".join(parts)


def _refers(spec: FileSpec, column: CsvColumn) -> str:
    for reference in spec.references:
        if reference.column == column.name:
            others = [c for c in reference.columns if c != column.name]
            within = f" (with {', '.join(f'`{c}`' for c in others)})" if others else ""
            if reference.is_self:
                parent_column = reference.parent_columns[reference.columns.index(column.name)]
                return f"→ `{parent_column}` of another row of this file, same {', '.join(f'`{c}`' for c in others)}"
            return f"→ `{reference.parent}.csv`{within}"
    return ""


def _md(text: str) -> str:
    return text.replace("|", "\\|")


def render() -> str:
    """The contract document, docs/data-contract.md."""
    # In the schema's reading order (sponsor, trial, …), not the loading order.
    specs = {
        t.name: file_spec(t.name)
        for t in schema.metadata.tables.values()
        if t.name not in NOT_FILES and not t.info.get("snapshot")
    }
    out: list[str] = []
    w = out.append
    w("# Data contract: the CSV files the dashboard loads")
    w("")
    w("<!-- Generated from dashboard/schema/ by `python -m dashboard.contract`; edit the schema or")
    w("     dashboard/contract/, not this file. A test fails when it is stale. -->")
    w("")
    w("Feed the dashboard from your own systems (CTMS, EDC, ERP exports) by writing one CSV file per")
    w("table below into one folder, then loading the folder:")
    w("")
    w("```bash")
    w(".venv/bin/python -m dashboard.load FOLDER --url URL [--mode upsert|replace] [--dry-run] [--source NAME]")
    w("```")
    w("")
    w("Either everything is loaded, or nothing is and you get the list of what to fix, one line per")
    w("problem: `file:line: column: what is wrong` (line 1 is the header). A complete example to copy:")
    w("`.venv/bin/python -m dashboard.demo --csv FOLDER` writes the demo portfolio as these files.")
    w("")
    w("## Writing the files")
    w("")
    w("- **Names**: one file per table, named exactly as below (`site.csv`), all in one folder. Another")
    w("  `.csv` file in the folder is refused (it is probably a misspelt name); other files are ignored.")
    w("- **Format**: UTF-8 text (a byte-order mark is fine), comma-separated, the first line a header with")
    w("  the column names below. Every column must be in the header, in any order; a column you have no")
    w("  values for stays in the header with empty values. Quote values holding a comma, a quote or a line")
    w("  break, as every CSV writer does.")
    w("- **Empty** means no value. A required column may not be empty. Spaces around a value are ignored.")
    w("- **Text** may hold any character but control characters (NUL and the others below U+0020, except tab")
    w("  and line breaks): those are refused with their position. Text is shown as written, never as markup.")
    w("- **Dates**: `YYYY-MM-DD` (2026-03-31). A `month_date` is the first day of its month (2026-03-01).")
    w(f"  A date more than {HORIZON_YEARS} years after the load is refused (a mistyped year: 2999 for 2029).")
    w("- **true/false**: `true` or `false`.")
    w("- **Whole numbers**: digits only (`12`). **Decimals**: `.` for decimals, no thousands separators,")
    w("  no currency sign, at most two decimals (`1250000.50`).")
    w("- **Amounts** (`*_amount`) are in the sponsor's reporting currency (`sponsor.csv`).")
    w("- **Keys are text**: subject `001` is not subject `1` (spreadsheets drop leading zeros: check your")
    w("  numbers before you export). Letter case does not make another key: `s1` beside `S1`, or `hel-301`")
    w("  beside a loaded `HEL-301`, is refused; write a key the same way every time. Codes used in links")
    w("  (sponsor, protocol, site and vendor codes) hold letters, digits, `.`, `_` and `-` only.")
    w("- **E-mails** (`user_access.csv`) are stored in lower case; sign-ins match them without regard to case.")
    w("- **No database ids**: rows refer to each other by their keys. A site is named by")
    w("  (`protocol_number`, `site_number`), a subject by (`protocol_number`, `subject_number`); a file")
    w("  names each row it refers to by the columns marked → below. Rows may refer to rows of the same")
    w("  load or to rows already in the database (with `--mode replace`, only countries and vendors may")
    w("  come from the database: see below).")
    w("")
    w("## The files")
    w("")
    w("| file | needed | one row per | key |")
    w("|---|---|---|---|")
    for spec in specs.values():
        needed = (
            "required"
            if spec.required_in_upsert
            else ("optional" if spec.name == GRANTS else "optional (required by replace)")
        )
        w(
            f"| [`{spec.file_name}`](#{spec.name}csv) | {needed} | {_md(spec.table.info['grain'])} | "
            f"{', '.join(f'`{k}`' for k in spec.key)} |"
        )
    w("")
    w(
        f"- **Required** files ({', '.join(f'`{n}.csv`' for n in REQUIRED_FILES)}) must be in the folder, if need be with"
    )
    w("  only their header.")
    w("- **Optional** files may be left out of an upsert: a missing file changes nothing in its table.")
    w("  `--mode replace` needs every file except `user_access.csv` (header-only for a table you have no")
    w("  rows for), so a forgotten file never deletes data.")
    w("- **Not a file**: `load_log`. The loader writes one row per load (source, time, rows written),")
    w('  which the dashboard\'s "Data loaded … from SOURCE" line shows.')
    w("- **Not a file**: `site_month`. Counts of visits and data queries per site and month, which the")
    w("  loader (and the demo) rebuild from `visit.csv` and `data_query.csv` in the same transaction, so")
    w("  portfolio views need not read millions of rows. Never load or edit it by hand.")
    w("- **Not files**: the snapshot tables (`" + "`, `".join(t.name for t in schema.SNAPSHOT_TABLES) + "`). The")
    w("  loader publishes each trial's figures, forecast and flags there after every load")
    w("  (`python -m dashboard.snapshot`), so pages open without computing them.")
    w("")
    w("## Loading")
    w("")
    w("- **Everything is checked before anything is written**: types, required values, allowed values,")
    w("  unknown or missing columns, missing files, duplicate keys, references to rows that exist neither")
    w("  in the files nor in the database, impossible dates, negative amounts and counts. The first 50")
    w("  problems are listed, then the number of the others and a count per file and column; the exit")
    w("  code is 1 and the database is exactly as it was.")
    w("- **One transaction**: the load writes everything or nothing; an interrupted load leaves the")
    w("  database as it was.")
    w("- **`--mode upsert`** (default): a row whose key is already in the database is updated when a value")
    w("  differs, otherwise it is inserted; rows that are not in the files stay. Loading the same folder")
    w("  twice changes nothing the second time.")
    w("- **`--mode replace`**: for each sponsor in `sponsor.csv`, everything under it in the database (its")
    w("  trials, their sites, subjects, visits, queries, deviations, plans, contracts, costs, milestones;")
    w("  its grants when `user_access.csv` is given) is deleted and the files are loaded in its place.")
    w("  Countries and vendors are shared by sponsors: they are upserted, never deleted. Other sponsors")
    w("  are untouched. Every row must belong to a sponsor in `sponsor.csv`.")
    w("- **Shared reference rows** (countries, vendors) belong to no sponsor: a load may add new ones, but a")
    w("  row already loaded must come as it is (one sponsor's feed may not rename another sponsor's vendor).")
    w("  Only a load run with **`--reference`**, by whoever keeps the shared lists, changes them.")
    w("- A protocol, contract or change-order number is unique across sponsors: a row that would move")
    w("  one from another sponsor is refused.")
    w("- **`--dry-run`** checks the files and counts what would be inserted, updated and deleted,")
    w("  writing nothing. **`--source NAME`** names the load on the dashboard (default: the folder name).")
    w("- A database without the reporting schema gets it created by the first load.")
    w("- Exit codes: 0 loaded, 1 problems in the files (or a database error), 2 a usage error.")
    w("")
    w("## Files and columns")
    for spec in specs.values():
        w("")
        w(f"### {spec.file_name}")
        w("")
        if spec.required_in_upsert:
            needed = "Required."
        elif spec.name == GRANTS:
            needed = "Optional in every mode. When absent, grants stay as they are, so a load never locks"
            needed += " anyone out by omission. With `--mode replace` the file replaces the grants of the sponsors in"
            needed += " `sponsor.csv`; an upsert adds grants (to take a grant away, replace)."
        else:
            needed = "Optional (required by `--mode replace`)."
        scope = "Shared by sponsors." if is_shared(spec.name) and spec.name != ROOT else ""
        w(f"{_md(spec.table.info['grain'])} {needed} {scope}".rstrip())
        w("")
        w(f"Key: {', '.join(f'`{k}`' for k in spec.key)} (no two rows with the same key).")
        for extra in spec.unique_keys[1:]:
            w(f"Also unique: {', '.join(f'`{k}`' for k in extra)}.")
        w("")
        w("| column | type | required | values | description |")
        w("|---|---|---|---|---|")
        for column in spec.columns:
            description = _md(column.description)
            refers = _refers(spec, column)
            if refers:
                description = f"{description} {refers}"
            w(
                f"| `{column.name}` | {_type_name(column)} | {'yes' if column.required else ''} | {_md(_values(column))} | {description} |"
            )
        rules = [rule.describe() for rule in spec.rules]
        rules += [
            f"the `{next(r.parent for r in spec.references if r.db_column == ref)}` referred to belongs to the same "
            f"`{next(r.parent for r in spec.references if r.db_column == via)}` as this row"
            for ref, via in SAME_PARENT.get(spec.name, ())
        ]
        for reference in spec.references:
            if not reference.required:
                empty = "the baseline plan" if reference.parent == "change_order" else f"no {_human(reference.parent)}"
                rules.append(f"empty `{reference.column}` means {empty}")
        if rules:
            w("")
            w("Rules: " + "; ".join(rules) + ".")
    w("")
    w("### load_log")
    w("")
    w("Not a file: one row per load, written by the loader.")
    w("")
    w("### site_month")
    w("")
    w("Not a file: " + _md(schema.site_month.info["grain"]) + " Rebuilt by every load.")
    return "\n".join(out) + "\n"
