"""The separation-of-duty check at scale: set-based, nothing read without sets, paged,
and stoppable from another thread."""

from __future__ import annotations

import sqlite3
import threading

import pytest

from accessguard_gui.core import rbac
from accessguard_gui.core.database import Database
from accessguard_gui.core.errors import QueryStoppedError
from accessguard_gui.core.models import SsdSet, SsdSetRole

from .reference import snapshot


@pytest.fixture
def breached(db: Database) -> Database:
    """Five users hold Clerk and Approver (two of them through Manager, which inherits
    from Approver); the set Payments {Clerk, Approver} is written directly, as an
    imported file could hold it, so the violations exist."""
    with db.action("setup") as s:
        for role in ("Clerk", "Approver", "Manager", "Other"):
            rbac.add_role(s, role)
        rbac.add_inheritance(s, "Manager", "Approver")
        for i in range(7):
            rbac.add_user(s, f"user{i}")
        for i in range(5):
            rbac.assign_user(s, f"user{i}", "Clerk")
            rbac.assign_user(s, f"user{i}", "Manager" if i < 2 else "Approver")
        rbac.assign_user(s, "user5", "Clerk")
        rbac.assign_user(s, "user6", "Other")
        ssd = SsdSet(name="Payments", cardinality=2, description="")
        s.add(ssd)
        s.flush()
        for role in ("Clerk", "Approver"):
            s.add(SsdSetRole(ssd_set_id=ssd.id, role_id=rbac.get_role(s, role).id))
    return db


def test_violations_through_inheritance_name_the_set_roles(breached: Database) -> None:
    with breached.read() as s:
        found = rbac.ssd_violations(s)
    assert [v.username for v in found] == [f"user{i}" for i in range(5)]
    assert {v.roles for v in found} == {("Approver", "Clerk")}
    assert {(v.ssd_set, v.cardinality) for v in found} == {("Payments", 2)}


def test_pages_cover_every_violation_once(breached: Database) -> None:
    with breached.read() as s:
        pages = list(rbac.iter_ssd_violations(s, page_size=2))
        first = rbac.ssd_violations(s, limit=2)
        rest = rbac.ssd_violations(s, after=first[-1].page_key)
    assert [len(p) for p in pages] == [2, 2, 1]
    assert [v.username for p in pages for v in p] == [f"user{i}" for i in range(5)]
    assert [v.username for v in first + rest] == [f"user{i}" for i in range(5)]


def test_a_cancelled_check_stops_and_changes_nothing(breached: Database) -> None:
    stop = threading.Event()
    stop.set()
    with breached.read() as s:
        before = snapshot(s)
    with pytest.raises(QueryStoppedError), breached.read() as s:
        rbac.ssd_violations(s, cancel=stop)
    with breached.read() as s:
        assert snapshot(s) == before
        # A flag that is never set changes nothing about the answer.
        assert len(rbac.ssd_violations(s, cancel=threading.Event())) == 5


def test_without_sets_the_check_reads_no_assignment(db: Database) -> None:
    """No set, nothing to check: one probe of the set table, never a walk of the users."""
    with db.action("setup") as s:
        rbac.add_role(s, "Clerk")
        rbac.add_user(s, "alice")
        rbac.assign_user(s, "alice", "Clerk")
    with db.read() as s:
        dbapi = s.connection().connection.driver_connection
        assert isinstance(dbapi, sqlite3.Connection)
        ran: list[str] = []
        dbapi.set_trace_callback(ran.append)
        try:
            assert rbac.ssd_violations(s) == []
            assert list(rbac.iter_ssd_violations(s)) == []
        finally:
            dbapi.set_trace_callback(None)
    assert ran and not any("user_roles" in sql for sql in ran), ran


def test_only_the_given_sets_are_checked(breached: Database) -> None:
    with breached.read() as s:
        ssd_id = rbac.get_ssd_set(s, "Payments").id
        assert len(rbac.ssd_violations(s, sets=[ssd_id])) == 5
        assert rbac.ssd_violations(s, sets=[]) == []
        assert rbac.ssd_violations(s, sets=[ssd_id + 100]) == []
