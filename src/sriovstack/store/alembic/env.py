"""Alembic's environment: runs versions/ on the connection that store/migrating.py hands over."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from sriovstack.store.schema import Schema


def run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Schema.metadata,
        # SQLite alters a table by copying it; batch mode writes future migrations that way.
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if not isinstance(connection, Connection):
    raise RuntimeError("run migrations through sriovstack.store.migrating")
run_migrations(connection)
