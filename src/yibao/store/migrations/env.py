"""Alembic environment: runs on the connection yibao hands over (Database.migrate)."""

from alembic import context

from yibao.store.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - yibao always passes a connection
    raise RuntimeError("run migrations through `yibao migrate`")
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
