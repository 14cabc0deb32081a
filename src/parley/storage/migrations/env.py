"""Alembic environment: Parley always hands in an open connection (see storage/database.py)."""

from alembic import context

from parley.storage.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through parley.storage.database.migrate()")
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
