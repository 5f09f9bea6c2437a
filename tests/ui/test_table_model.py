"""RecordTableModel: lazy pages, SQL sort and search, the pending overlay, Qt's model tester."""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QTableView

from accessguard_gui.core import browse, rbac
from accessguard_gui.core.browse import TableSpec
from accessguard_gui.core.changes import Create, Delete, Entity, Update
from accessguard_gui.core.database import Database
from accessguard_gui.ui.pending import PendingStore
from accessguard_gui.ui.table_model import PAGE_SIZE, ItemRole, RecordTableModel, RowState

STAMP = "2026-01-01 00:00:00.000000"


def add_users(path: Path, count: int, start: int = 0) -> None:
    """Bulk-insert users the fast way (the search index fills through its triggers)."""
    con = sqlite3.connect(path)
    with con:
        con.executemany(
            "INSERT INTO users(username, display_name, email, active, created_at, updated_at,"
            " version) VALUES (?,?,?,?,?,?,1)",
            (
                (f"user{i:06d}", f"User {i:06d}", f"u{i}@example.org", int(i % 3 != 0),
                 STAMP, STAMP)
                for i in range(start, start + count)
            ),
        )
    con.close()


@pytest.fixture
def seeded(db: Database) -> Database:
    with db.action("Seed") as s:
        rbac.add_user(s, "alice", "Alice Adams", email="alice@example.org")
        rbac.add_user(s, "bob", "Bob Brown")
        rbac.add_role(s, "Staff", "Everyone")
        rbac.add_resource(s, "Door A1", "Main door")
        rbac.add_permission(s, "Door A1", "open")
        rbac.assign_user(s, "alice", "Staff")
    return db


def loaded(model: RecordTableModel) -> RecordTableModel:
    model.ensure_loaded(0, model.rowCount() - 1)
    return model


def column(model: RecordTableModel, key: str) -> list[Any]:
    c = model.column_of(key)
    return [model.index(r, c).data() for r in range(model.rowCount())]


@pytest.mark.parametrize("spec", list(browse.SPECS.values()), ids=list(browse.SPECS))
def test_every_model_passes_qts_model_tester(
    seeded: Database, spec: TableSpec, qtmodeltester: Any
) -> None:
    model = loaded(RecordTableModel(seeded, spec, PendingStore()))
    qtmodeltester.check(model)
    assert model.rowCount() >= 1


def test_users_show_formatted_cells(seeded: Database) -> None:
    model = loaded(RecordTableModel(seeded, browse.USERS))
    assert column(model, "username") == ["alice", "bob"]
    assert column(model, "email") == ["alice@example.org", ""]
    active = model.column_of("active")
    assert model.index(0, active).data(Qt.ItemDataRole.CheckStateRole) == Qt.CheckState.Checked
    assert model.counts() == (2, 2)
