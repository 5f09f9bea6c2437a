"""Helpers for the CSV-directory and pipeline tests: folders written from literal rows,
and a row-for-row picture of a database to prove that a refused import wrote nothing."""

from __future__ import annotations

import csv
import warnings
from pathlib import Path
from typing import Any

from sqlalchemy import MetaData, select

from accessguard_gui.core.database import Database


def write_dir(folder: Path, files: dict[str, list[list[str]]]) -> Path:
    """A CSV directory: file name → rows (the first row is the header)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, rows in files.items():
        with open(folder / name, "w", encoding="utf-8", newline="") as out:
            csv.writer(out, lineterminator="\n").writerows(rows)
    return folder


def table_rows(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table (the audit trail included), sorted: equal pictures mean
    the database holds exactly the same data."""
    meta = MetaData()
    with warnings.catch_warnings():  # an expression index SQLAlchemy cannot reflect
        warnings.simplefilter("ignore")
        meta.reflect(bind=db.engine)
    picture: dict[str, list[tuple[Any, ...]]] = {}
    with db.engine.connect() as conn:
        for name, table in sorted(meta.tables.items()):
            if name.startswith("search_") or name.startswith("sqlite_"):
                continue
            rows = conn.execute(select(table)).all()
            picture[name] = sorted((tuple(r) for r in rows), key=repr)
    return picture


ORG = {
    "users.csv": [
        ["username", "display_name", "email", "active"],
        ["alice", "Alice Archer", "alice@example.org", "true"],
        ["bob", "Bob Baker", "", "false"],
        ["carol", "", "carol@example.org", ""],
    ],
    "roles.csv": [
        ["name", "description"],
        ["Staff", "Everyone"],
        ["Clerk", "Enters invoices"],
        ["Approver", "Releases payments"],
    ],
    "role_parents.csv": [["role", "parent_role"], ["Clerk", "Staff"], ["Approver", "Staff"]],
    "resources.csv": [["name", "description"], ["Ledger", "The books"], ["Door A", ""]],
    "permissions.csv": [
        ["resource", "action", "description"],
        ["Ledger", "read", ""],
        ["Ledger", "write", "Post entries"],
        ["Door A", "open", ""],
    ],
    "user_roles.csv": [
        ["username", "role", "expires_at"],
        ["alice", "Clerk", ""],
        ["bob", "Approver", "2031-01-01T00:00:00Z"],
        ["carol", "Staff", ""],
    ],
    "role_permissions.csv": [
        ["role", "resource", "action"],
        ["Staff", "Door A", "open"],
        ["Clerk", "Ledger", "write"],
        ["Approver", "Ledger", "read"],
    ],
    "ssd_sets.csv": [["name", "cardinality", "description"], ["Payables", "2", ""]],
    "ssd_set_roles.csv": [["set", "role"], ["Payables", "Clerk"], ["Payables", "Approver"]],
}
