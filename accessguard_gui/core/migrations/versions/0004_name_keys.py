"""Names unique ignoring case on every database: stored ``*_key`` columns.

The unique indexes on lower(name) did not hold on SQLite, whose lower() folds ASCII only
("Ärzte" and "ärzte" could both exist). Each named table gets a key column (the NFC,
case-folded name, core/keys.py) filled here for existing rows, with a UNIQUE index that
replaces the lower() one. Two existing names that now count as the same refuse the upgrade
with a message naming them (the caller upgrades a work copy: the file stays untouched).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from accessguard_gui.core.errors import MigrationError
from accessguard_gui.core.keys import name_key

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# table -> (name column, key column, key length, what a person calls one)
NAMED_TABLES = {
    "users": ("username", "username_key", 192, "users"),
    "roles": ("name", "name_key", 300, "roles"),
    "resources": ("name", "name_key", 600, "resources"),
    "ssd_sets": ("name", "name_key", 300, "separation-of-duty sets"),
}
BATCH = 10_000


def _clashes(rows: list[tuple[int, str]]) -> list[list[str]]:
    by_key: dict[str, list[str]] = {}
    for _id, name in rows:
        by_key.setdefault(name_key(name), []).append(name)
    return [names for names in by_key.values() if len(names) > 1]


def upgrade() -> None:
    bind = op.get_bind()
    found: dict[str, list[tuple[int, str]]] = {}
    problems = []
    for table, (name_col, _key, _length, label) in NAMED_TABLES.items():
        rows = [(r[0], r[1]) for r in bind.execute(sa.text(f"SELECT id, {name_col} FROM {table}"))]
        found[table] = rows
        for names in _clashes(rows):
            shown = ", ".join(f"\u201c{n}\u201d" for n in names[:5])
            problems.append(f"{label}: {shown}")
    if problems:
        raise MigrationError(
            "Some names differ only in upper/lower case (which this version no longer "
            "allows): " + "; ".join(problems[:10])
            + ". Rename one of each with the previous version of AccessGuard, then open "
            "the file again.",
            "",
        )
    for table, (_name, key, length, _label) in NAMED_TABLES.items():
        op.add_column(
            table, sa.Column(key, sa.String(length), nullable=False, server_default="")
        )
        update = sa.text(f"UPDATE {table} SET {key} = :k WHERE id = :i")
        rows = found.pop(table)
        for start in range(0, len(rows), BATCH):
            chunk = rows[start : start + BATCH]
            bind.execute(update, [{"k": name_key(name), "i": id_} for id_, name in chunk])
        old = "uq_users_username_lower" if table == "users" else f"uq_{table}_name_lower"
        op.drop_index(old, table_name=table)
        op.create_index(f"uq_{table}_{key}", table, [key], unique=True)


def downgrade() -> None:
    for table, (name_col, key, _length, _label) in NAMED_TABLES.items():
        op.drop_index(f"uq_{table}_{key}", table_name=table)
        old = "uq_users_username_lower" if table == "users" else f"uq_{table}_name_lower"
        op.create_index(old, table, [sa.text(f"lower({name_col})")], unique=True)
        with op.batch_alter_table(table, recreate="never") as batch:
            batch.drop_column(key)
