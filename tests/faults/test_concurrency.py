"""Two processes on one file: no update is ever lost, a held lock fails cleanly."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from core.filetools import snapshot
from sqlalchemy import select

from accessguard_gui.core import audit, changes, rbac
from accessguard_gui.core.changes import Create, Entity
from accessguard_gui.core.database import Database
from accessguard_gui.core.errors import DatabaseBusyError
from accessguard_gui.core.models import Role

from .proc import Worker


@pytest.fixture
def shared_file(db_path: Path) -> Path:
    with Database(db_path, operator="setup") as db, db.action("Seed") as s:
        rbac.add_user(s, "alice", "Alice Original")
    return db_path


def display_name(path: Path) -> str:
    with Database(path) as db, db.read() as s:
        return rbac.get_user(s, "alice").display_name


def update_entries(path: Path) -> list[audit.AuditRow]:
    with Database(path) as db, db.read() as s:
        return [e for e in audit.audit_entries(s, record_key="alice") if e.operation == "update"]


def test_the_second_save_of_the_same_record_is_refused_with_the_other_values(
    shared_file: Path,
) -> None:
    with (
        Worker("edit-user", str(shared_file), "alice", "Set by A") as a,
        Worker("edit-user", str(shared_file), "alice", "Set by B") as b,
    ):
        loaded_a, loaded_b = a.expect("loaded"), b.expect("loaded")
        assert loaded_a["version"] == loaded_b["version"]  # both read the same row
        a.send("go")
        assert a.event() == {"ok": True}
        b.send("go")
        refused = b.event()
        assert refused["cause"] == "ConflictError"
        assert refused["record"] == "user alice"  # names the record...
        assert refused["theirs"]["display_name"] == "Set by A"  # ...and the other side's values
        assert "changed by someone else" in refused["message"]
        assert display_name(shared_file) == "Set by A"  # B's refusal wrote nothing

        b.send("retry")  # reload and re-apply: a deliberate, informed save goes through
        assert b.event() == {"ok": True}
        a.send("quit")
        b.send("quit")
    assert display_name(shared_file) == "Set by B"
    entries = update_entries(shared_file)
    # Both saves are on record, one entry each, with what each one replaced: nothing lost.
    assert [(e.before, e.after) for e in reversed(entries)] == [
        ({"display_name": "Alice Original"}, {"display_name": "Set by A"}),
        ({"display_name": "Set by A"}, {"display_name": "Set by B"}),
    ]
    assert entries[0].operator != entries[1].operator


def test_a_deliberate_overwrite_is_allowed_and_audited(shared_file: Path) -> None:
    with (
        Worker("edit-user", str(shared_file), "alice", "Set by A") as a,
        Worker("edit-user", str(shared_file), "alice", "Set by B") as b,
    ):
        a.expect("loaded"), b.expect("loaded")
        a.send("go")
        assert a.event() == {"ok": True}
        b.send("go")
        assert b.event()["cause"] == "ConflictError"
        b.send("overwrite")
        assert b.event() == {"ok": True}
    assert display_name(shared_file) == "Set by B"
    assert len(update_entries(shared_file)) == 2


def test_saving_a_record_another_process_deleted_is_refused(shared_file: Path) -> None:
    with (
        Worker("edit-user", str(shared_file), "alice", "unused") as a,
        Worker("edit-user", str(shared_file), "alice", "Set by B") as b,
    ):
        a.expect("loaded"), b.expect("loaded")
        a.send("delete")
        assert a.event() == {"ok": True}
        b.send("go")
        refused = b.event()
    # Refused, never silently re-created or lost: a conflict saying it was deleted, or
    # "does not exist (any more)".
    assert refused["cause"] in ("ConflictError", "NotFoundError"), refused
    assert "deleted" in refused["message"] or "any more" in refused["message"]
    with Database(shared_file) as db, db.read() as s:
        entries = audit.audit_entries(s, record_key="alice")
    assert [e.operation for e in entries] == ["delete", "insert"]  # newest first


@pytest.mark.parametrize("round_", range(3))
def test_simultaneous_saves_one_wins_one_is_refused(shared_file: Path, round_: int) -> None:
    with (
        Worker("edit-user", str(shared_file), "alice", "Set by A") as a,
        Worker("edit-user", str(shared_file), "alice", "Set by B") as b,
    ):
        a.expect("loaded"), b.expect("loaded")
        a.send("go")
        b.send("go")  # both race for the write lock
        results = {"A": a.event(), "B": b.event()}
    winners = [who for who, r in results.items() if r.get("ok")]
    losers = [who for who, r in results.items() if r.get("cause") == "ConflictError"]
    assert len(winners) == 1 and len(losers) == 1, results
    assert display_name(shared_file) == f"Set by {winners[0]}"
    assert results[losers[0]]["theirs"]["display_name"] == f"Set by {winners[0]}"
    assert len(update_entries(shared_file)) == 1


def test_a_save_while_another_process_holds_the_lock_waits_then_fails_cleanly(
    shared_file: Path,
) -> None:
    pending = [
        Create(Entity.ROLE, {"name": "Auditors"}),
        Create(Entity.USER, {"username": "bob"}),
    ]
    kept = list(pending)
    with Worker("hold-lock", str(shared_file)) as holder:
        holder.expect("locked")
        before = snapshot(shared_file)
        with Database(shared_file, busy_timeout=0.5) as db:
            started = time.monotonic()
            with pytest.raises(DatabaseBusyError) as info, db.action("Save") as s:
                changes.apply_edits(s, pending)
            waited = time.monotonic() - started
            assert str(info.value) == "The database is busy \u2014 try again."
            assert waited >= 0.45  # it did wait for the other writer before giving up
            assert pending == kept  # the pending edits are still there to retry
            with db.read() as s:  # nothing half-written, and reading still works
                assert s.scalars(select(Role.name)).all() == []
        after = snapshot(shared_file)
        assert (after.data, after.mtime_ns) == (before.data, before.mtime_ns)
        holder.send("release")
        holder.expect("released")
    with Database(shared_file) as db:  # once the other writer is gone, the retry saves it all
        with db.action("Save") as s:
            changes.apply_edits(s, pending)
        with db.read() as s:
            assert s.scalars(select(Role.name)).all() == ["Auditors"]
            assert rbac.get_user(s, "bob").username == "bob"
