"""Names are unique ignoring case on every database, also for non-ASCII capitals
(SQLite's lower() folds ASCII only), and migration 0004 brings older files along."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from accessguard_gui.core import lookup, rbac, schema
from accessguard_gui.core.database import Database
from accessguard_gui.core.errors import DuplicateError, MigrationError
from accessguard_gui.core.keys import name_key

from .filetools import build_at_revision, revision_of, snapshot

SAME_NAMES = ("ärzte", "ÄRZTE", "A\u0308rzte", " ärzte ")


ADDERS: dict[str, Callable[[Session, str], Any]] = {
    "role": rbac.add_role,
    "resource": rbac.add_resource,
    "ssd_set": lambda s, name: rbac.create_ssd_set(
        s, name, [rbac.get_role(s, "R1").id, rbac.get_role(s, "R2").id], 2
    ),
}


def test_the_key_folds_case_and_composition() -> None:
    assert {name_key(n) for n in ("Ärzte", *SAME_NAMES)} == {"ärzte"}
    assert name_key("Alice") == name_key("ALICE") == "alice"
    assert name_key("Ärzte") != name_key("Arzte")


@pytest.mark.parametrize("kind", sorted(ADDERS))
def test_non_ascii_names_differing_in_case_are_refused(db: Database, kind: str) -> None:
    with db.action("Setup") as s:
        rbac.add_role(s, "R1")
        rbac.add_role(s, "R2")
        ADDERS[kind](s, "Ärzte")
    for other in SAME_NAMES:
        with pytest.raises(DuplicateError), db.action("Again") as s:
            ADDERS[kind](s, other)
    with db.read() as s:
        getter = {"role": rbac.get_role, "resource": rbac.get_resource,
                  "ssd_set": rbac.get_ssd_set}[kind]
        for other in SAME_NAMES:  # and every spelling finds the one that exists
            assert getter(s, other).name == "Ärzte"


def test_usernames_differing_in_case_are_refused(db: Database) -> None:
    with db.action("Setup") as s:
        rbac.add_user(s, "Alice")
        rbac.add_user(s, "bob")
    for other in ("alice", "ALICE", " aLiCe "):
        with pytest.raises(DuplicateError), db.action("Again") as s:
            rbac.add_user(s, other)
    with pytest.raises(DuplicateError), db.action("Rename") as s:
        rbac.update_user(s, "bob", username="ALICE")
    with db.action("Rename own case") as s:
        rbac.update_user(s, "alice", username="ALICE")
    with db.read() as s:
        assert rbac.get_user(s, "alice").username == "ALICE"
        assert rbac.get_user(s, "bob").username == "bob"


@pytest.mark.parametrize("kind", ["role", "resource"])
def test_renames_to_a_name_differing_in_case_are_refused(db: Database, kind: str) -> None:
    add = rbac.add_role if kind == "role" else rbac.add_resource
    update = rbac.update_role if kind == "role" else rbac.update_resource
    get = rbac.get_role if kind == "role" else rbac.get_resource
    with db.action("Setup") as s:
        add(s, "Ärzte")
        add(s, "Pflege")
    for other in SAME_NAMES:
        with pytest.raises(DuplicateError), db.action("Rename") as s:
            update(s, "Pflege", name=other)
    with db.action("Rename own case") as s:  # the record's own name in other capitals
        update(s, "Ärzte", name="ÄRZTE")
    with db.read() as s:
        assert get(s, "ärzte").name == "ÄRZTE"
        assert get(s, "pflege").name == "Pflege"


def test_completion_finds_non_ascii_names_in_any_case(db: Database) -> None:
    with db.action("Setup") as s:
        rbac.add_role(s, "Ärzte")
        rbac.add_role(s, "Arzt")
    with db.read() as s:
        for typed in ("ä", "Ä", "A\u0308r"):
            assert lookup.complete_roles(s, typed) == ["Ärzte"]
        assert [c.label for c in lookup.search_roles(s, "RZT")] == ["Arzt", "Ärzte"]


# ---------------------------------------------------------------------- migration 0004


def _old_file(path: Path, roles: list[str]) -> None:
    """A file at 0003 as the previous version wrote it (its lower() index let these in)."""
    build_at_revision(path, "0003")
    conn = sqlite3.connect(path)
    try:
        conn.executemany(
            "INSERT INTO roles (name, description, created_at, updated_at, version) "
            "VALUES (?, '', '2024-01-01 00:00:00', '2024-01-01 00:00:00', 1)",
            [(r,) for r in roles],
        )
        conn.commit()
    finally:
        conn.close()


def test_an_old_file_with_clashing_names_is_refused_and_left_as_it_was(db_path: Path) -> None:
    _old_file(db_path, ["Ärzte", "ärzte", "Pflege"])
    before = snapshot(db_path)
    with pytest.raises(MigrationError) as info:
        Database(db_path)
    message = str(info.value)
    assert "\u201cÄrzte\u201d" in message and "\u201cärzte\u201d" in message
    assert "Pflege" not in message and "left as it was" in message
    assert snapshot(db_path) == before  # bytes, mtime, mode, no new files beside it
    assert revision_of(db_path) == "0003"


def test_an_old_file_without_clashes_upgrades_and_keeps_working(db_path: Path) -> None:
    _old_file(db_path, ["Ärzte", "Pflege"])
    with Database(db_path, operator="t") as db:
        assert revision_of(db_path) == schema.head_revision()
        with db.read() as s:
            assert rbac.get_role(s, "ÄRZTE").name == "Ärzte"
            assert rbac.get_user(s, "OLDUSER").username == "olduser"
        with pytest.raises(DuplicateError), db.action("Clash") as s:
            rbac.add_role(s, "ärzte")
        with db.action("Works") as s:
            rbac.assign_user(s, "olduser", "pflege")
            rbac.add_role(s, "Ärztinnen")
        assert db.check() == []
    conn = sqlite3.connect(db_path)
    try:
        keys = dict(conn.execute("SELECT name, name_key FROM roles").fetchall())
        index_sql = dict(conn.execute("SELECT name, sql FROM sqlite_master WHERE type='index'"))
    finally:
        conn.close()
    assert keys == {"Ärzte": "ärzte", "Pflege": "pflege", "Ärztinnen": "ärztinnen"}
    assert "uq_roles_name_key" in index_sql and "uq_roles_name_lower" not in index_sql


def test_0004_downgrades_and_upgrades_again(db_path: Path) -> None:
    _old_file(db_path, ["Ärzte"])
    engine = create_engine(f"sqlite:///{db_path}")
    try:
        with engine.begin() as conn:
            schema.upgrade(conn, "0004")
            schema.downgrade(conn, "0003")
            assert "name_key" not in {c[1] for c in conn.exec_driver_sql("PRAGMA table_info(roles)")}
            schema.upgrade(conn, "head")
            assert conn.exec_driver_sql("SELECT name_key FROM roles").scalar() == "ärzte"
    finally:
        engine.dispose()


def test_a_postgresql_database_with_clashing_names_is_refused_unchanged(pg_url: str) -> None:
    """PostgreSQL's lower() let "Straße" and "STRASSE" both in; case folding does not."""
    engine = create_engine(pg_url)
    try:
        with engine.begin() as conn:
            schema.upgrade(conn, "0003")
            conn.execute(text(
                "INSERT INTO resources (name, description, created_at, updated_at, version)"
                " VALUES ('Straße', '', now(), now(), 1), ('STRASSE', '', now(), now(), 1)"
            ))
    finally:
        engine.dispose()
    with pytest.raises(MigrationError, match="Straße"):
        Database(pg_url)
    engine = create_engine(pg_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0003"
            assert conn.execute(text("SELECT count(*) FROM resources")).scalar() == 2
    finally:
        engine.dispose()
