"""SIGKILL at random points: during a large save, and during an upgrade of an old file.

After every kill the file passes PRAGMA integrity_check and holds all of the interrupted
save or none of it. The kill points are random (seeded per run and printed, so a failure
can be replayed with AG_FAULT_SEED=<seed>).
"""

from __future__ import annotations

import os
import random
import shutil
import sqlite3
from pathlib import Path

import pytest
from core.filetools import build_at_revision, revision_of, snapshot

from accessguard_gui.core import rbac
from accessguard_gui.core.database import Database

from .proc import Worker, sleep

SAVE_SIZE = 800  # new users per save, plus an update of every existing user
SEED_USERS = 150
KILLS = int(os.environ.get("AG_FAULT_KILLS", "20"))


@pytest.fixture(scope="module")
def rng() -> random.Random:
    seed = int(os.environ.get("AG_FAULT_SEED", random.randrange(1 << 30)))
    print(f"\nfault seed: AG_FAULT_SEED={seed}")
    return random.Random(seed)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    with Database(path, operator="setup") as db, db.action("Seed") as s:
        for i in range(SEED_USERS):
            rbac.add_user(s, f"staff-{i:04d}", f"Staff {i}")
    return path


def integrity(path: Path) -> str:
    """What SQLite says after recovering the file the way the next start would."""
    conn = sqlite3.connect(path)
    try:
        return "; ".join(r[0] for r in conn.execute("PRAGMA integrity_check"))
    finally:
        conn.close()


def save_state(path: Path, tag: str) -> tuple[int, int, int]:
    """(new users of the save, existing users it renamed, its audit entries)."""
    conn = sqlite3.connect(path)
    try:
        new = conn.execute(
            "SELECT count(*) FROM users WHERE username LIKE ?", (f"{tag}-%",)
        ).fetchone()[0]
        renamed = conn.execute(
            "SELECT count(*) FROM users WHERE display_name = ? AND username LIKE 'staff-%'",
            (tag,),
        ).fetchone()[0]
        entries = conn.execute(
            "SELECT count(*) FROM audit_log WHERE action = ?", (f"Bulk {tag}",)
        ).fetchone()[0]
        return new, renamed, entries
    finally:
        conn.close()


NONE = (0, 0, 0)
ALL = (SAVE_SIZE, SEED_USERS, SAVE_SIZE + SEED_USERS)


def test_a_complete_save_holds_everything(template: Path, tmp_path: Path) -> None:
    path = tmp_path / "full.db"
    shutil.copyfile(template, path)
    with Worker("big-save", str(path), "full", str(SAVE_SIZE)) as w:
        w.expect("ready")
        w.expect("committing")
        w.expect("committed")
        w.expect("closed")
    assert integrity(path) == "ok"
    assert save_state(path, "full") == ALL


def test_sigkill_during_a_large_save_leaves_all_or_nothing(
    template: Path, tmp_path: Path, rng: random.Random
) -> None:
    # Timings of one uninterrupted save on this machine, to aim the kills.
    path = tmp_path / "calibrate.db"
    shutil.copyfile(template, path)
    with Worker("big-save", str(path), "cal", str(SAVE_SIZE)) as w:
        w.expect("ready")
        apply_s = w.expect("committing")["apply_s"]
        commit_s = w.expect("committed")["commit_s"]
        close_s = w.expect("closed")["close_s"]
    tally = {"none": 0, "all": 0}
    windows = {"applying": 0, "committing": 0}
    for n in range(KILLS):
        path = tmp_path / f"kill-{n}.db"
        shutil.copyfile(template, path)
        tag = f"k{n}"
        with Worker("big-save", str(path), tag, str(SAVE_SIZE)) as w:
            w.expect("ready")
            if n % 3 == 0:  # anywhere in the save
                sleep(rng.uniform(0, apply_s))
                windows["applying"] += 1
            else:  # aimed at the commit and the checkpoint when the app closes
                w.expect("committing")
                sleep(rng.uniform(0, 2 * (commit_s + close_s)))
                windows["committing"] += 1
            w.kill()
        check = integrity(path)
        assert check == "ok", f"kill {n}: {check}"
        state = save_state(path, tag)
        assert state in (NONE, ALL), f"kill {n} left part of the save: {state}"
        tally["none" if state == NONE else "all"] += 1
        with Database(path) as db:  # and the app opens it again and can go on saving
            assert db.check() == []
            with db.action("After the crash") as s:
                rbac.add_user(s, f"after-{n}")
        path.unlink()
    print(f"\n{KILLS} kills ({windows}): {tally['none']} left none, {tally['all']} left all")


def test_sigkill_during_an_upgrade_leaves_the_old_file_or_the_upgraded_one(
    tmp_path: Path, rng: random.Random
) -> None:
    old = tmp_path / "old-template.db"
    build_at_revision(old, "0001")
    conn = sqlite3.connect(old)
    conn.executemany(
        "INSERT INTO users (username, display_name, active, created_at, updated_at, version) "
        "VALUES (?, ?, 1, '2024-01-01 00:00:00', '2024-01-01 00:00:00', 1)",
        ((f"user-{i:06d}", f"User {i} " + "x" * 60) for i in range(40_000)),
    )
    conn.commit()
    conn.close()
    original = old.read_bytes()
    folder = tmp_path / "work"
    folder.mkdir()
    path = folder / "access.db"
    shutil.copy2(old, path)
    with Worker("open", str(path)) as w:  # how long an upgrade takes here, to aim the kills
        w.expect("ready")
        open_s = w.expect("opened")["open_s"]
    outcomes = {"old": 0, "upgraded": 0}
    for n in range(8):
        for leftover in folder.iterdir():
            leftover.unlink()
        shutil.copy2(old, path)
        with Worker("open", str(path)) as w:
            w.expect("ready")
            sleep(rng.uniform(0, 1.2 * open_s))
            w.kill()
        names = {p.name for p in folder.iterdir()}
        if revision_of(path) == "0001":
            assert path.read_bytes() == original, f"kill {n}: the old file was changed"
            outcomes["old"] += 1
        else:
            assert integrity(path) == "ok"
            backups = [p for p in folder.iterdir() if ".backup-" in p.name]
            assert len(backups) == 1 and backups[0].read_bytes() == original
            outcomes["upgraded"] += 1
        # Never a half backup under a backup's name; and the next start copes.
        for name in names:
            if ".backup-" in name and not name.endswith(".partial"):
                assert (folder / name).read_bytes() == original
        with Database(path) as db, db.read() as s:
            assert rbac.get_user(s, "user-039999").username == "user-039999"
        assert not [p for p in folder.iterdir() if p.name.endswith((".upgrading", ".partial"))]
    print(f"\nupgrade kills: {outcomes}")


def test_a_failed_upgrade_in_another_process_leaves_the_file_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "access.db"
    build_at_revision(path, "0001")
    before = snapshot(path)
    with Worker("open", str(path), env={"AG_FAIL_MIGRATION": "1"}) as w:
        w.expect("ready")
        refused = w.event()
        assert w.finish() == 0
    assert refused["error"] == "MigrationError"
    assert "left as it was" in refused["message"]
    assert snapshot(path) == before
    with Worker("open", str(path)) as w:  # a good version upgrades it, keeping a backup
        w.expect("ready")
        opened = w.expect("opened")
    assert revision_of(path) != "0001"
    assert Path(opened["backup"]).read_bytes() == before.data


def test_an_old_file_left_by_a_crashed_app_is_upgraded_with_its_last_changes(
    tmp_path: Path,
) -> None:
    path = tmp_path / "access.db"
    build_at_revision(path, "0001")
    with Worker("crash-after-commit", str(path)) as w:
        w.expect("committed")
        w.proc.wait()
    assert Path(f"{path}-wal").stat().st_size > 0  # the change is only in the WAL
    with Database(path) as db, db.read() as s:
        assert rbac.get_user(s, "waluser").display_name == "Only in the WAL"
        backup = db.backup_path
    assert backup is not None and revision_of(backup) == "0001"
    conn = sqlite3.connect(backup)
    try:  # the backup holds it too: it is the old file with its last commit
        assert (
            conn.execute("SELECT count(*) FROM users WHERE username = 'waluser'").fetchone()[0] == 1
        )
    finally:
        conn.close()
