"""Trust: a hash-chained audit trail, REPLACE refused, look-alike name keys.

- ``audit_log.hash``: SHA-256 over each entry and the previous entry's hash
  (core/audit.py), computed here for the entries a file already holds — streamed in
  slices of ``BATCH`` by id, so a trail of millions never sits in memory. The update
  trigger that keeps the log append-only is lifted for exactly this and put back.
- PostgreSQL: ``audit_log_no_truncate`` (TRUNCATE fires no row trigger).
- SQLite: ``audit_log_no_replace`` refuses an insert whose id exists. ``REPLACE INTO``
  (and INSERT OR REPLACE) deletes the old row without firing the DELETE trigger, so
  without it an entry could be rewritten in place. PostgreSQL has no REPLACE, and its
  ON CONFLICT DO UPDATE fires the update trigger.
- ``*_skeleton`` columns (core/lookalike.py) with an index on users, roles, resources
  and SoD sets, filled for existing rows: what a name looks like, so a new name that
  looks like an existing one is found with one index seek. Not unique: an older file
  may hold look-alikes, which Check database lists instead of refusing the upgrade.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlite3

import sqlalchemy as sa
from alembic import op

from accessguard_gui.core.audit import GENESIS, chain_slice, entry_hash
from accessguard_gui.core.lookalike import skeleton_key

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

BATCH = 20_000
# table -> (name column, skeleton column)
SKELETON_COLUMNS = {
    "users": ("username", "username_skeleton"),
    "roles": ("name", "name_skeleton"),
    "resources": ("name", "name_skeleton"),
    "ssd_sets": ("name", "name_skeleton"),
}
NO_REPLACE_SQL = (
    "CREATE TRIGGER audit_log_no_replace BEFORE INSERT ON audit_log "
    "WHEN EXISTS (SELECT 1 FROM audit_log WHERE id = NEW.id) "
    "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END"
)
NO_UPDATE_SQL = (
    "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END"
)


def _update_many(bind: sa.Connection, sql: str, params: list[tuple[object, ...]]) -> None:
    """``executemany`` on the driver where it is sqlite3 (SQLAlchemy's per-row parameter
    processing doubled the cost of chaining a million entries), else through SQLAlchemy."""
    raw = bind.connection.driver_connection
    if isinstance(raw, sqlite3.Connection):
        raw.executemany(sql.replace(":v", "?").replace(":i", "?"), params)
    else:
        bind.execute(sa.text(sql), [{"v": v, "i": i} for v, i in params])


def _chain_existing_entries(bind: sa.Connection) -> None:
    last_id, previous = 0, GENESIS
    while True:
        rows = chain_slice(bind, last_id, BATCH)
        if not rows:
            return
        params: list[tuple[object, ...]] = []
        for entry_id, _stored, fields in rows:
            previous = entry_hash(previous, fields)
            params.append((previous, entry_id))
        _update_many(bind, "UPDATE audit_log SET hash = :v WHERE id = :i", params)
        last_id = rows[-1][0]


def _fill_skeletons(bind: sa.Connection, table: str, name_col: str, key: str) -> None:
    select = sa.text(
        f"SELECT id, {name_col} FROM {table} WHERE id > :after ORDER BY id LIMIT :limit"
    )
    last_id = 0
    while True:
        rows = bind.execute(select, {"after": last_id, "limit": BATCH}).all()
        if not rows:
            return
        _update_many(
            bind,
            f"UPDATE {table} SET {key} = :v WHERE id = :i",
            [(skeleton_key(name), id_) for id_, name in rows],
        )
        last_id = rows[-1][0]


def upgrade() -> None:
    bind = op.get_bind()
    dialect = bind.dialect.name
    op.add_column("audit_log", sa.Column("hash", sa.String(64)))
    for table, (name_col, key) in SKELETON_COLUMNS.items():
        op.add_column(table, sa.Column(key, sa.Text(), nullable=False, server_default=""))
        _fill_skeletons(bind, table, name_col, key)
        op.create_index(f"ix_{table}_{key}", table, [key])
    if dialect == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_update")
        _chain_existing_entries(bind)
        op.execute(NO_UPDATE_SQL)
        op.execute(NO_REPLACE_SQL)
    elif dialect == "postgresql":
        op.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only")
        _chain_existing_entries(bind)
        op.execute("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only")
        # TRUNCATE fires no row trigger: refuse it with a statement trigger.
        op.execute(
            "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
            "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()"
        )
    else:
        _chain_existing_entries(bind)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_replace")
    elif dialect == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_truncate ON audit_log")
    for table, (_name, key) in SKELETON_COLUMNS.items():
        op.drop_index(f"ix_{table}_{key}", table_name=table)
        with op.batch_alter_table(table, recreate="never") as batch:
            batch.drop_column(key)
    with op.batch_alter_table("audit_log", recreate="never") as batch:
        batch.drop_column("hash")
