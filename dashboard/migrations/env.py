"""Alembic environment: runs the migrations on the connection or URL that dashboard.db hands over.

Run migrations through `python -m dashboard.db` (init, upgrade, revision), not the `alembic`
command: the database URL comes from there, never from a file.
"""

from alembic import context

from dashboard.db import MIGRATION_TIMEOUT_S, make_engine
from dashboard.schema import metadata

config = context.config


def _skip_empty_revision(_context, _revision, directives) -> None:
    """Write no migration file when autogenerate finds nothing to change."""
    if directives[0].upgrade_ops.is_empty():
        directives[:] = []


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite cannot ALTER most things: batch mode copies the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        process_revision_directives=_skip_empty_revision,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = config.attributes.get("url")
    if not url:
        raise RuntimeError("No database URL: run migrations with `python -m dashboard.db upgrade --url URL`")
    engine = make_engine(url, read_only=False, statement_timeout_s=MIGRATION_TIMEOUT_S)
    try:
        with engine.connect() as connection:
            if connection.dialect.name == "sqlite":
                # A batch migration drops and recreates a table; with foreign keys on, dropping a
                # table other rows refer to fails. The pragma only takes effect outside a transaction.
                connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
                connection.commit()
            _run(connection)
            connection.commit()
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise RuntimeError("Offline (--sql) migrations are not supported: run `python -m dashboard.db upgrade`")
run_migrations_online()
