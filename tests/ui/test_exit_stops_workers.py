"""Quitting while reads and governance tasks still run on worker threads: they are
cancelled and waited for before the database closes (app.stop_background_work)."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from accessguard_gui import app
from accessguard_gui.core.database import Database
from accessguard_gui.ui.background import BackgroundReads
from accessguard_gui.ui.governance import tasks


def _until_cancelled(stop: threading.Event, started: threading.Event) -> str:
    started.set()
    deadline = time.monotonic() + 30
    while not stop.is_set() and time.monotonic() < deadline:
        time.sleep(0.01)
    return "cancelled" if stop.is_set() else "ran to the end"


def test_exit_cancels_running_reads_and_tasks_and_waits_for_them(
    qtbot: Any, tmp_path: Path
) -> None:
    db = Database(tmp_path / "a.db")
    reads = BackgroundReads(db)
    called: list[str] = []
    ended: list[str] = []
    read_started, task_started = threading.Event(), threading.Event()

    def read_work(job: Any) -> str:
        result = _until_cancelled(job.stop, read_started)
        ended.append(f"read {result}")
        return result

    def task_work(task: Any) -> str:
        result = _until_cancelled(task.stop, task_started)
        ended.append(f"task {result}")
        return result

    read = reads.call(read_work, lambda r: called.append(f"read done {r}"))
    task = tasks.run(task_work, lambda r: called.append(f"task done {r}"))
    assert read_started.wait(10) and task_started.wait(10)

    began = time.monotonic()
    app.stop_background_work(timeout=10)
    assert time.monotonic() - began < 10  # stopped, not timed out
    assert read.finished.is_set() and task.finished.is_set()
    assert sorted(ended) == ["read cancelled", "task cancelled"]
    db.close()
    qtbot.wait(50)  # a result emitted anyway would arrive now
    assert called == []  # a cancelled read or task never calls back


def test_a_read_queued_behind_busy_workers_never_starts_after_exit(
    qtbot: Any, tmp_path: Path
) -> None:
    db = Database(tmp_path / "a.db")
    reads = BackgroundReads(db)
    started: list[int] = []
    hold = threading.Event()

    def busy(job: Any) -> None:
        started.append(1)
        _until_cancelled(job.stop, hold)

    jobs = [reads.call(busy, lambda _r: None) for _ in range(12)]  # more than the pool runs
    assert hold.wait(10)
    app.stop_background_work(timeout=10)
    assert all(job.finished.is_set() for job in jobs)
    assert len(started) < len(jobs)  # the queued ones ended without running their work
    db.close()
