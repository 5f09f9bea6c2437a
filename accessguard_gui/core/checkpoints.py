"""WAL checkpoints after a save, off the thread that saved.

SQLite in WAL mode appends every commit to the ``-wal`` file; a checkpoint copies those
pages back into the database file and syncs it. By default the connection that commits
runs it, inside its COMMIT, once the log holds 1,000 pages (4 MB) — and one save of
1,000 edits on a million users writes 10-35 MB of pages (every index of a changed row),
so the user waited for the copy too: 40-220 ms of a 1,000-edit save's commit
(bench/bench_save.py). The commit is durable without it (WAL, synchronous=FULL: the log
is synced at every commit); the checkpoint only keeps the log short.

So the app's writing connections raise the threshold to ``SAFETY_PAGES`` (a bound in case
this thread never gets to run) and, after an action commits with more than
``WAKE_BYTES`` in the log, a ``Checkpointer`` thread runs a PASSIVE checkpoint on its
own connection: it copies what no reader still needs and never blocks readers or the
next writer.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

#: The writing connections' ``wal_autocheckpoint``: only if the thread below never ran
#: would a commit checkpoint by itself, at 64 MB of log.
SAFETY_PAGES = 16384
#: Wake the thread once the log is past SQLite's default threshold (1,000 pages).
WAKE_BYTES = 4 * 1024 * 1024
#: A thread with nothing to do for this long ends (a file left open idle, or a Database
#: nobody closed, keeps no thread and no connection).
IDLE_SECONDS = 60.0


class Checkpointer:
    """At most one daemon thread per open database file, started by a long log."""

    def __init__(self, wal: Path, connect: Callable[[], sqlite3.Connection]) -> None:
        self._wal = wal
        self._connect = connect
        self._wake = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        self._stop = False
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.runs = 0  # checkpoints run (tests and benchmarks read it)

    def after_commit(self) -> None:
        """Called after each committed action: wake the thread if the log is long."""
        try:
            size = self._wal.stat().st_size
        except OSError:
            return
        if size < WAKE_BYTES:
            return
        with self._lock:
            if self._stop:
                return
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name=f"checkpoint {self._wal.name}", daemon=True
                )
                self._thread.start()
            self._idle.clear()
            self._wake.set()

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until no checkpoint is asked for or running (tests, benchmarks, close)."""
        return self._idle.wait(timeout)

    def close(self) -> None:
        """Stop the thread after the checkpoint it may be running."""
        with self._lock:
            self._stop = True
            thread = self._thread
        self._wake.set()
        if thread is not None:
            thread.join()

    def _run(self) -> None:
        conn: sqlite3.Connection | None = None
        try:
            while True:
                woken = self._wake.wait(IDLE_SECONDS)
                with self._lock:
                    if self._stop or not woken:
                        # Idle for long (or closing): end, and let go of the connection;
                        # the next long log starts another thread.
                        self._thread = None
                        return
                    self._wake.clear()
                try:
                    if conn is None:
                        conn = self._connect()
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                    self.runs += 1
                except sqlite3.Error:
                    # Busy or gone: the next commit wakes us again, and SAFETY_PAGES
                    # bounds the log meanwhile.
                    pass
                with self._lock:  # after_commit clears idle and wakes under it
                    if not self._wake.is_set():
                        self._idle.set()
        finally:
            self._idle.set()
            if conn is not None:
                conn.close()
