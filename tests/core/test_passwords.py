"""Passwords: Argon2id hashes only, verification, and rehashing to stronger parameters."""

from __future__ import annotations

from pathlib import Path

import pytest
from argon2 import PasswordHasher, Type
from sqlalchemy import text

from accessguard_gui.core import passwords, rbac
from accessguard_gui.core.database import Database
from accessguard_gui.core.errors import NotFoundError, ValidationError

PASSWORD = "  correct horse battery staple  "  # spaces are part of a passphrase
WEAK = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1, type=Type.ID)


def _stored_hash(db: Database, username: str) -> str | None:
    with db.read() as s:
        value = s.execute(
            text("SELECT password_hash FROM users WHERE username = :u"), {"u": username}
        ).scalar()
    return value if value is None else str(value)


@pytest.fixture
def alice(db: Database) -> Database:
    with db.action("Add user") as s:
        rbac.add_user(s, "alice")
    return db


def test_set_password_stores_an_argon2id_hash_never_the_password(
    alice: Database, db_path: Path
) -> None:
    with alice.action("Set password") as s:
        rbac.set_password(s, "alice", PASSWORD)
    stored = _stored_hash(alice, "alice")
    assert stored is not None and stored.startswith("$argon2id$")
    assert PASSWORD.strip() not in stored
    with alice.read() as s:
        assert rbac.verify_password(s, "alice", PASSWORD)
        assert not rbac.verify_password(s, "alice", PASSWORD.strip())  # not trimmed
        assert not rbac.verify_password(s, "alice", "wrong password")
        assert rbac.get_user(s, "alice").password_hash == stored
    alice.close()
    for path in db_path.parent.iterdir():
        assert PASSWORD.strip().encode() not in path.read_bytes(), path.name


def test_add_user_with_password(db: Database) -> None:
    with db.action("Add user") as s:
        row = rbac.add_user(s, "bob", password=PASSWORD)
        plain = rbac.add_user(s, "carol")
    assert row.has_password and not plain.has_password
    with db.read() as s:
        assert rbac.verify_password(s, "bob", PASSWORD)
        assert not rbac.verify_password(s, "carol", PASSWORD)  # no password yet


def test_each_hash_is_salted(db: Database) -> None:
    with db.action("Add users") as s:
        rbac.add_user(s, "bob", password=PASSWORD)
        rbac.add_user(s, "carol", password=PASSWORD)
    assert _stored_hash(db, "bob") != _stored_hash(db, "carol")


def test_clear_password(alice: Database) -> None:
    with alice.action("Set") as s:
        rbac.set_password(s, "alice", PASSWORD)
    with alice.action("Clear") as s:
        rbac.clear_password(s, "alice")
    assert _stored_hash(alice, "alice") is None
    with alice.read() as s:
        assert not rbac.verify_password(s, "alice", PASSWORD)
        assert not rbac.get_user(s, "alice").password_hash


def test_verify_refuses_non_text_and_unknown_users(alice: Database) -> None:
    with alice.action("Set") as s:
        rbac.set_password(s, "alice", PASSWORD)
    with alice.read() as s:
        assert not rbac.verify_password(s, "alice", None)  # type: ignore[arg-type]
        assert not rbac.verify_password(s, "alice", b"bytes")  # type: ignore[arg-type]
        with pytest.raises(NotFoundError):
            rbac.verify_password(s, "nobody", PASSWORD)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("short", "Password is too short: at least 8 characters."),
        ("x" * 1025, "Password is too long: at most 1024 characters."),
        ("password\x00", "Password contains a NUL character."),
        (12345678, "Password must be text."),
    ],
)
def test_set_password_validation(alice: Database, value: object, message: str) -> None:
    with alice.action("Set") as s, pytest.raises(ValidationError) as info:
        rbac.set_password(s, "alice", value)  # type: ignore[arg-type]
    assert str(info.value) == message
    assert info.value.field == "password"
    assert _stored_hash(alice, "alice") is None


def test_a_hash_with_weaker_parameters_is_replaced_on_successful_verify(
    alice: Database,
) -> None:
    weak = WEAK.hash(PASSWORD)
    with alice.action("Legacy import") as s:
        rbac.get_user(s, "alice").password_hash = weak
    assert passwords.needs_rehash(weak)
    with alice.action("Log in, wrong password") as s:
        assert not rbac.verify_password(s, "alice", "not it at all")
    assert _stored_hash(alice, "alice") == weak  # a wrong password changes nothing
    with alice.action("Log in") as s:
        assert rbac.verify_password(s, "alice", PASSWORD)
    stored = _stored_hash(alice, "alice")
    assert stored is not None and stored != weak
    assert stored.startswith("$argon2id$") and not passwords.needs_rehash(stored)
    assert "m=8192" in weak and "m=8192" not in stored
    with alice.read() as s:
        assert rbac.verify_password(s, "alice", PASSWORD)


def test_an_argon2i_hash_is_upgraded_to_argon2id(alice: Database) -> None:
    old = PasswordHasher(type=Type.I).hash(PASSWORD)
    with alice.action("Legacy import") as s:
        rbac.get_user(s, "alice").password_hash = old
    with alice.action("Log in") as s:
        assert rbac.verify_password(s, "alice", PASSWORD)
    stored = _stored_hash(alice, "alice")
    assert stored is not None and stored.startswith("$argon2id$")


def test_an_unreadable_hash_never_verifies(alice: Database) -> None:
    with alice.action("Damaged") as s:
        rbac.get_user(s, "alice").password_hash = "plain text, not a hash"
    with alice.action("Log in") as s:
        assert not rbac.verify_password(s, "alice", "plain text, not a hash")
    assert passwords.needs_rehash("plain text, not a hash")
    assert not passwords.verify_password_hash("$argon2id$garbage", PASSWORD)


def test_hash_helpers() -> None:
    hashed = passwords.hash_password(PASSWORD)
    assert hashed.startswith("$argon2id$v=19$")
    assert passwords.verify_password_hash(hashed, PASSWORD)
    assert not passwords.verify_password_hash(hashed, PASSWORD + "x")
    assert not passwords.needs_rehash(hashed)
