"""Shared fixtures: a fresh database file per test; Qt runs offscreen in every test."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

# Headless Qt for the tests only (the user's launch uses the real display).
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest

from accessguard_gui.core.database import Database


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "accessguard.db"


@pytest.fixture
def db(db_path: Path) -> Iterator[Database]:
    database = Database(db_path, operator="tester")
    try:
        yield database
    finally:
        database.close()
