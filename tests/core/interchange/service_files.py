"""Service files for the tests, built from the documented DDL (service-schema.md) with raw
sqlite3, as the web service's SQLAlchemy would leave them (rollback journal, no FKs)."""

from __future__ import annotations

import hashlib
import sqlite3
import warnings
from collections.abc import Iterable
from pathlib import Path

with warnings.catch_warnings():
    # passlib 1.7.4 (the service's library, unmaintained) touches deprecated names of
    # Python's crypt module and argon2-cffi when it loads: not ours to fix.
    warnings.simplefilter("ignore", DeprecationWarning)
    from passlib.hash import argon2 as passlib_argon2

    passlib_argon2.get_backend()

from accessguard_gui.core.interchange.service_db import SERVICE_DDL

# Cheap parameters keep the tests fast; the format is the service's own.
FAST = passlib_argon2.using(memory_cost=1024, rounds=1, parallelism=1)
FAST_I = passlib_argon2.using(type="I", memory_cost=1024, rounds=1, parallelism=1)


def make_service_file(
    path: Path,
    *,
    users: Iterable[tuple[str, str, object]] = (),
    roles: Iterable[str] = (),
    resources: Iterable[tuple[str, str | None]] = (),
    permissions: Iterable[tuple[str, str]] = (),
    user_roles: Iterable[tuple[str, str]] = (),
    grants: Iterable[tuple[str, str, str]] = (),
) -> Path:
    """A service file: users are (username, hash, is_active); grants (role, resource,
    action) use the first permission row with that resource and action."""
    conn = sqlite3.connect(path)
    try:
        for ddl in SERVICE_DDL:
            conn.execute(ddl)
        conn.executemany(
            "INSERT INTO users (username, hashed_password, is_active) VALUES (?, ?, ?)", users
        )
        conn.executemany("INSERT INTO roles (name) VALUES (?)", [(r,) for r in roles])
        conn.executemany("INSERT INTO resources (name, description) VALUES (?, ?)", resources)
        conn.executemany("INSERT INTO permissions (resource, action) VALUES (?, ?)", permissions)
        for username, role in user_roles:
            conn.execute(
                "INSERT INTO user_roles SELECT u.id, r.id FROM users u, roles r "
                "WHERE u.username = ? AND r.name = ?",
                (username, role),
            )
        for role, resource, action in grants:
            conn.execute(
                "INSERT INTO role_permissions SELECT r.id, min(p.id) FROM roles r, permissions p "
                "WHERE r.name = ? AND p.resource = ? AND p.action = ?",
                (role, resource, action),
            )
        conn.commit()
    finally:
        conn.close()
    return path


def service_allows(path: Path, username: str, resource: str, action: str) -> bool:
    """The service's own check_permission, in SQL: any role directly assigned to the user
    (found by exact name) has a permission row with exactly that resource and action."""
    conn = sqlite3.connect(path.as_uri() + "?mode=ro", uri=True)
    try:
        row = conn.execute(
            "SELECT EXISTS (SELECT 1 FROM users u JOIN user_roles ur ON ur.user_id = u.id "
            "JOIN role_permissions rp ON rp.role_id = ur.role_id "
            "JOIN permissions p ON p.id = rp.permission_id "
            "WHERE u.username = ? AND p.resource = ? AND p.action = ?)",
            (username, resource, action),
        ).fetchone()
    finally:
        conn.close()
    return bool(row[0])


def service_rows(path: Path, sql: str) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(path.as_uri() + "?mode=ro", uri=True)
    try:
        return [tuple(r) for r in conn.execute(sql)]
    finally:
        conn.close()


def folder_fingerprint(folder: Path) -> dict[str, tuple[str, int]]:
    """Every file of a folder with its content hash and mtime: 'byte for byte unchanged,
    side files included' is this dict being equal before and after."""
    return {
        p.name: (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
        for p in sorted(folder.iterdir())
        if p.is_file()
    }


def odd_service_file(path: Path) -> Path:
    """The oddities real files have: a NULL is_active, an inactive user, a $argon2i$
    hash, a permission naming a resource without a row, duplicate permission rows, and
    two roles whose names differ only by case."""
    return make_service_file(
        path,
        users=[
            ("alice", FAST.hash("alice-password"), 1),
            ("bob", FAST_I.hash("bob-password"), None),
            ("carol", FAST.hash("carol-password"), 0),
        ],
        roles=["Staff", "Admin"],
        resources=[("Wiki", "The team wiki"), ("Payroll", None)],
        permissions=[("Wiki", "read"), ("Wiki", "read"), ("Payroll", "approve"), ("Door", "open")],
        user_roles=[("alice", "Staff"), ("bob", "Admin"), ("carol", "Staff")],
        grants=[("Staff", "Wiki", "read"), ("Admin", "Payroll", "approve"), ("Admin", "Door", "open")],
    )
