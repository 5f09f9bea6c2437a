"""Typed errors: each one's message is fit to show a person as-is, and the database-level
ones reach the caller typed (busy, read-only) with nothing written."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from accessguard_gui.core import errors, rbac
from accessguard_gui.core.database import Database

from .reference import snapshot


def test_every_error_is_an_access_guard_error_whose_text_is_the_message() -> None:
    samples: list[errors.AccessGuardError] = [
        errors.ValidationError("email", "\u201cx\u201d is not an e-mail address."),
        errors.DuplicateError("A role named \u201cStaff\u201d already exists.", field="name"),
        errors.NotFoundError("There is no user named \u201cbob\u201d."),
        errors.CycleError(["A", "B", "A"]),
        errors.SeparationOfDutyError("Payments", 2, {"alice": ["Approver", "Clerk"]}),
        errors.ConflictError("user alice", {"version": 2}),
        errors.DatabaseBusyError(),
        errors.ReadOnlyDatabaseError(),
    ]
    for error in samples:
        assert isinstance(error, errors.AccessGuardError)
        assert str(error) == error.message
        assert error.message.endswith(".")
        assert "Traceback" not in error.message and "sqlite" not in error.message.lower()


def test_cycle_error_messages() -> None:
    assert (
        str(errors.CycleError(["Staff", "Staff"])) == "A role cannot inherit from itself (Staff)."
    )
    chain = errors.CycleError(["A", "B", "C", "A"])
    assert chain.cycle == ("A", "B", "C", "A")
    assert str(chain) == "This inheritance would create a cycle: A \u2192 B \u2192 C \u2192 A."


def test_separation_of_duty_error_message() -> None:
    err = errors.SeparationOfDutyError(
        "Payments", 3, {f"user{i}": ("A", "B", "C") for i in range(5)}
    )
    assert err.ssd_set == "Payments" and err.cardinality == 3
    assert err.violations["user4"] == ("A", "B", "C")
    assert str(err) == (
        "Separation of duty \u201cPayments\u201d allows fewer than 3 of its roles per user: "
        "user0 would hold A, B, C; user1 would hold A, B, C; user2 would hold A, B, C "
        "(and 2 more users)."
    )


def test_conflict_error_messages() -> None:
    changed = errors.ConflictError("role Staff", {"name": "Staff", "version": 3})
    deleted = errors.ConflictError("role Staff", None)
    assert str(changed) == "The role Staff was changed by someone else since you loaded it."
    assert changed.theirs == {"name": "Staff", "version": 3}
    assert str(deleted) == "The role Staff was deleted by someone else since you loaded it."
    assert deleted.theirs is None


def test_validation_and_duplicate_errors_name_the_field() -> None:
    assert errors.ValidationError("email", "x").field == "email"
    assert errors.DuplicateError("x", field="username").field == "username"
    assert errors.DuplicateError("x").field is None


def test_default_database_messages() -> None:
    assert str(errors.DatabaseBusyError()) == "The database is busy \u2014 try again."
    assert str(errors.ReadOnlyDatabaseError()) == (
        "The database is open read-only; changes cannot be saved."
    )


def test_an_action_on_a_read_only_database_is_refused(db: Database, db_path: Path) -> None:
    with db.action("setup") as s:
        rbac.add_role(s, "Staff")
    db.close()
    viewer = Database(db_path, read_only=True, operator="viewer")
    try:
        with pytest.raises(errors.ReadOnlyDatabaseError), viewer.action("Add role") as s:
            rbac.add_role(s, "Boss")
        with viewer.read() as s:
            assert rbac.get_role(s, "Staff").name == "Staff"
            with pytest.raises(errors.NotFoundError):
                rbac.get_role(s, "Boss")
    finally:
        viewer.close()


def test_a_write_lock_held_elsewhere_is_a_busy_error(db_path: Path) -> None:
    Database(db_path, operator="setup").close()
    db = Database(db_path, operator="tester", busy_timeout=0.05)
    other = sqlite3.connect(db_path, isolation_level=None)
    try:
        with db.read() as s:
            before = snapshot(s)
        other.execute("BEGIN IMMEDIATE")
        with pytest.raises(errors.DatabaseBusyError) as info, db.action("Add role") as s:
            rbac.add_role(s, "Staff")
        assert str(info.value) == "The database is busy \u2014 try again."
        other.execute("ROLLBACK")
        with db.read() as s:
            assert snapshot(s) == before
        with db.action("Retry") as s:  # once the lock is gone, the same action works
            rbac.add_role(s, "Staff")
    finally:
        other.close()
        db.close()


def test_separation_of_duty_error_with_a_partial_list() -> None:
    err = errors.SeparationOfDutyError(
        "Split", 2, {f"u{i}": ("A", "B") for i in range(20)}, complete=False
    )
    assert str(err).endswith("u2 would hold A, B (and at least 18 more users).")
    assert errors.SeparationOfDutyError("Split", 2, {"u": ("A", "B")}).complete is True
