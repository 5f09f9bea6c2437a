"""Alembic environment: always runs on a connection handed in by ``core.schema``."""

from __future__ import annotations

from alembic import context

from accessguard_gui.core.models import Base

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - offline/CLI use is not supported
    raise RuntimeError("AccessGuard migrations run through accessguard_gui.core.schema.upgrade")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=True,
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
