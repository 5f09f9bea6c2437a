"""Browsing at scale: indexes for every sortable column, FTS5 trigram search indexes.

The ``search_*`` virtual tables are *external content* FTS5 tables over ``users`` and
``audit_log`` (they store only the index, not a second copy of the text), kept in sync by
triggers, and answer case-insensitive substring searches of 3+ characters without a scan.
They exist on SQLite only and are deliberately not part of ``Base.metadata``. On other
databases searches fall back to ILIKE (PostgreSQL users can add a pg_trgm index).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# table -> (fts table, searched columns, triggers for update/delete too?)
SEARCH_INDEXES = {
    "users": ("search_users", ("username", "display_name", "email"), True),
    "audit_log": ("search_audit_log", ("operator", "action", "record_type", "record_key"), False),
}


def search_index_sql(table: str) -> list[str]:
    """The statements that create one search index and its triggers (used by the
    migration, and by bulk loaders that drop and rebuild them)."""
    fts, columns, mutable = SEARCH_INDEXES[table]
    cols = ", ".join(columns)
    new = ", ".join(f"new.{c}" for c in columns)
    old = ", ".join(f"old.{c}" for c in columns)
    statements = [
        (
            f"CREATE VIRTUAL TABLE {fts} USING fts5({cols}, content='{table}', "
            "content_rowid='id', tokenize='trigram')"
        ),
        (
            f"CREATE TRIGGER {fts}_insert AFTER INSERT ON {table} BEGIN "
            f"INSERT INTO {fts}(rowid, {cols}) VALUES (new.id, {new}); END"
        ),
    ]
    if mutable:
        statements += [
            (
                f"CREATE TRIGGER {fts}_delete AFTER DELETE ON {table} BEGIN "
                f"INSERT INTO {fts}({fts}, rowid, {cols}) VALUES ('delete', old.id, {old}); END"
            ),
            (
                f"CREATE TRIGGER {fts}_update AFTER UPDATE OF {cols} ON {table} BEGIN "
                f"INSERT INTO {fts}({fts}, rowid, {cols}) VALUES ('delete', old.id, {old}); "
                f"INSERT INTO {fts}(rowid, {cols}) VALUES (new.id, {new}); END"
            ),
        ]
    statements.append(f"INSERT INTO {fts}({fts}) VALUES ('rebuild')")
    return statements


def upgrade() -> None:
    op.create_index("ix_users_active", "users", ["active"])
    op.create_index("ix_users_has_password", "users", [sa.text("(password_hash IS NOT NULL)")])
    op.create_index("ix_users_created_at", "users", ["created_at"])
    op.create_index("ix_users_updated_at", "users", ["updated_at"])
    if op.get_bind().dialect.name == "sqlite":
        for table in SEARCH_INDEXES:
            for statement in search_index_sql(table):
                op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for fts, _columns, _mutable in SEARCH_INDEXES.values():
            for verb in ("insert", "delete", "update"):
                op.execute(f"DROP TRIGGER IF EXISTS {fts}_{verb}")
            op.execute(f"DROP TABLE IF EXISTS {fts}")
    for name in ("ix_users_updated_at", "ix_users_created_at", "ix_users_has_password",
                 "ix_users_active"):
        op.drop_index(name, table_name="users")
