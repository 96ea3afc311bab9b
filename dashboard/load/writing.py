"""Writing checked rows: natural keys resolved to ids, upserts or a sponsor's replacement, in one transaction."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from alembic import command
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, bindparam, delete, func, inspect, select, text, update

from dashboard import schema
from dashboard.contract import (
    GRANTS,
    ROOT,
    FileSpec,
    Reference,
    csv_select,
    file_spec,
    file_specs,
    is_shared,
    scope_path,
)
from dashboard.db import (
    SchemaStateError,
    alembic_config,
    head_revision,
)
from dashboard.load.checking import _key_map
from dashboard.load.model import BATCH_ROWS, PROGRESS_ROWS, Counts, Plan
from dashboard.load.reading import _batches, _typed_rows


def _loader_defaulted(spec: FileSpec) -> list[str]:
    """The file's columns the loader fills with the load's day when empty (and keeps on later loads)."""
    return [c for c in spec.own_columns if spec.table.c[c].info.get("loader_default") == "load_date"]


class Writer:
    """Writes checked files into the database on one connection, inside the caller's transaction."""

    def __init__(self, conn: Connection, plan: Plan, progress: Callable[[str], None]):
        self.conn, self.plan, self.progress = conn, plan, progress
        self.ids: dict[str, dict[tuple, int]] = {}
        self.load_date = datetime.now(UTC).date()  # the day of this load, for columns the loader fills when empty
        self.kept: dict[
            str, dict[tuple, dict]
        ] = {}  # replace mode: the filled values of the rows it deleted, by natural key
        self.counts = {name: Counts(rows=plan.rows.get(name, 0)) for name in file_specs() if name in plan.files}
        self.inserted_into: set[str] = set()
        order = list(file_specs())
        # The last table that refers to each table: its key map is dropped once that one is written.
        self.last_use = {
            name: max(
                [order.index(name)]
                + [order.index(child) for child, s in file_specs().items() for r in s.references if r.parent == name]
            )
            for name in order
        }

    def id_map(self, name: str) -> dict[tuple, int]:
        if name not in self.ids:
            self.ids[name] = {key: value[0] for key, value in _key_map(self.conn, name).items()}
        return self.ids[name]

    def run(self) -> dict[str, Counts]:
        if self.plan.mode == "replace":
            self.delete_replaced()
        for position, (name, spec) in enumerate(file_specs().items()):
            if name in self.plan.files:
                self.write_file(spec, self.plan.files[name])
            for done in [n for n in self.ids if self.last_use[n] <= position]:
                del self.ids[done]
        if self.conn.dialect.name == "postgresql":
            # Rows were inserted with explicit ids: move the serial sequences past them.
            for name in self.inserted_into:
                table = file_spec(name).table
                pk = table.primary_key.columns.values()[0].name
                self.conn.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table.name}', '{pk}'), "
                        f"COALESCE((SELECT MAX({pk}) FROM {table.name}), 0) + 1, false)"
                    )
                )
        return self.counts

    def in_scope(self, name: str, sponsor_ids):
        """A condition on `name`'s rows: they belong to one of the sponsors selected by `sponsor_ids`."""
        table = file_spec(name).table
        reference = scope_path(name)[0]
        if reference.parent == ROOT:
            return table.c[reference.db_column].in_(sponsor_ids)
        parent = file_spec(reference.parent).table
        parent_pk = parent.primary_key.columns.values()[0]
        return table.c[reference.db_column].in_(select(parent_pk).where(self.in_scope(reference.parent, sponsor_ids)))

    def delete_replaced(self) -> None:
        """Delete everything the replaced sponsors own, children first (the grants only when user_access.csv is given).

        Values the loader filled itself (a deviation's first load day) are kept by natural key first, so a replaced
        row that comes back keeps them: a replace load does not move an undated deviation to today."""
        for name, spec in file_specs().items():
            defaulted = _loader_defaulted(spec)
            if defaulted and name in self.plan.files:
                n = len(spec.key)  # csv_select's rows: the id, then the key, then the filled columns
                self.kept[name] = {
                    tuple(row[1 : n + 1]): dict(zip(defaulted, row[n + 1 :]))
                    for row in self.conn.execute(csv_select(name, [*spec.key, *defaulted]))
                }
        sponsor_ids = select(schema.sponsor.c.sponsor_id).where(
            schema.sponsor.c.sponsor_code.in_(sorted(self.plan.replaced))
        )
        for name, spec in reversed(file_specs().items()):
            if name == ROOT or is_shared(name) or (name == GRANTS and name not in self.plan.files):
                continue
            table = spec.table
            condition = self.in_scope(name, sponsor_ids)
            for reference in spec.references:
                if reference.is_self:
                    self.conn.execute(update(table).where(condition).values({reference.db_column: None}))
            deleted = self.conn.execute(delete(table).where(condition)).rowcount
            self.counts.setdefault(name, Counts()).deleted = deleted
            if deleted:
                self.progress(
                    f"  {spec.file_name}: {deleted:,} rows of {', '.join(sorted(self.plan.replaced))} deleted"
                )

    def write_file(self, spec: FileSpec, path: Path) -> None:
        table = spec.table
        pk = table.primary_key.columns.values()[0]
        references = [r for r in spec.references if not r.is_self]
        columns = list(spec.own_columns) + [r.db_column for r in references]
        keys = self.id_map(spec.name)
        next_id = (self.conn.execute(select(func.max(pk))).scalar() or 0) + 1
        counts = self.counts[spec.name]
        changed = update(table).where(pk == bindparam("_pk")).values({c: bindparam(f"_v_{c}") for c in columns})
        self_references = [r for r in spec.references if r.is_self]
        defaulted = _loader_defaulted(spec)
        kept = self.kept.get(spec.name, {})
        touched: set[int] = set()  # rows inserted or updated, when a second round sets self-references
        done = 0
        for batch in _batches(_typed_rows(path, spec), BATCH_ROWS):
            records = []
            for values in batch:
                record = {c: values[c] for c in spec.own_columns}
                for reference in references:
                    target = tuple(values[c] for c in reference.columns)
                    record[reference.db_column] = None if None in target else self.id_map(reference.parent)[target]
                records.append((tuple(values[c] for c in spec.key), record))
            existing = [keys[k] for k, _ in records if k in keys]
            current = self._current(table, pk, columns, existing)
            inserts, updates = [], []
            for key, record in records:
                row_id = keys.get(key)
                for (
                    column
                ) in defaulted:  # an empty value keeps what is (or was, before a replace) stored, else the load's day
                    if record[column] is None:
                        if row_id is not None:
                            record[column] = current[row_id][columns.index(column)]
                        else:
                            record[column] = kept.get(key, {}).get(column) or self.load_date
                if row_id is None:
                    row_id = keys[key] = next_id
                    next_id += 1
                    inserts.append({pk.name: row_id, **record})
                    if self_references:
                        touched.add(row_id)
                elif current[row_id] != tuple(record[c] for c in columns):
                    updates.append({"_pk": row_id, **{f"_v_{c}": record[c] for c in columns}})
                    if self_references:
                        touched.add(row_id)
            if inserts:
                self.conn.execute(table.insert(), inserts)
                self.inserted_into.add(spec.name)
            if updates:
                self.conn.execute(changed, updates)
            counts.inserted += len(inserts)
            counts.updated += len(updates)
            done += len(batch)
            if done % PROGRESS_ROWS == 0 or done == counts.rows:
                self.progress(f"  {spec.file_name}: {done:,} of {counts.rows:,} rows written")
        for reference in self_references:
            self.write_self_reference(spec, path, reference, touched)

    def write_self_reference(self, spec: FileSpec, path: Path, reference: Reference, touched: set[int]) -> None:
        """Set a reference to rows of the same file, once every row of it has an id."""
        table = spec.table
        pk = table.primary_key.columns.values()[0]
        keys = self.id_map(spec.name)
        changed = update(table).where(pk == bindparam("_pk")).values({reference.db_column: bindparam("_v")})
        for batch in _batches(_typed_rows(path, spec), BATCH_ROWS):
            wanted = {}
            for values in batch:
                target = tuple(values[c] for c in reference.columns)
                wanted[keys[tuple(values[c] for c in spec.key)]] = None if None in target else keys[target]
            current = self._current(table, pk, [reference.db_column], list(wanted))
            updates = [{"_pk": i, "_v": v} for i, v in wanted.items() if current[i] != (v,)]
            if updates:
                self.conn.execute(changed, updates)
            self.counts[spec.name].updated += sum(1 for u in updates if u["_pk"] not in touched)

    def _current(self, table, pk, columns: list[str], ids: list[int]) -> dict[int, tuple]:
        """The stored values of some rows, by id."""
        if not ids:
            return {}
        # The ids are rendered into the SQL: thousands of bound parameters cost PostgreSQL's driver more than the query.
        query = select(pk, *(table.c[c] for c in columns)).where(
            pk.in_(bindparam("ids", expanding=True, literal_execute=True))
        )
        return {row[0]: tuple(row[1:]) for row in self.conn.execute(query, {"ids": ids})}


# The load as a whole.


def _ensure_schema(conn: Connection, progress: Callable[[str], None], dry_run: bool) -> None:
    """Create the reporting schema in an empty database (inside the load's transaction); refuse one that is not at head."""
    tables = set(inspect(conn).get_table_names())
    if not tables:
        progress(f"The database is empty: {'a load would create' if dry_run else 'creating'} the reporting schema.")
        schema.metadata.create_all(conn, checkfirst=False)
        command.stamp(alembic_config(connection=conn), "head")
        return
    missing = {t.name for t in schema.TABLES} - tables
    if missing:
        raise SchemaStateError(
            f"the database has tables but not the reporting schema (no {', '.join(sorted(missing)[:3])}): "
            "load into an empty database or one made by `python -m dashboard.db init`"
        )
    revision = MigrationContext.configure(conn).get_current_revision()
    if revision != head_revision():
        raise SchemaStateError(
            f"the database schema is at revision {revision}, the loader writes revision {head_revision()}: "
            "run `python -m dashboard.db upgrade --url URL` first"
        )
