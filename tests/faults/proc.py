"""Driving worker.py subprocesses from a test: start, read events, send lines, kill."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Self

WORKER = Path(__file__).with_name("worker.py")
# Generous: only reached when something is broken, never part of a passing run's time.
DEADLINE_S = 60.0


class Worker:
    """One worker process; events are its JSON stdout lines."""

    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        full_env = dict(os.environ)
        full_env.update(env or {})
        self.proc = subprocess.Popen(
            [sys.executable, str(WORKER), *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=full_env,
            text=True,
            bufsize=1,
        )
        self._lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._lines.put(line)
        self._lines.put("")  # end of output

    def event(self, timeout: float = DEADLINE_S) -> dict[str, Any]:
        """The next event; fails with the worker's stderr if it died or hung."""
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            line = ""
        if not line:
            self.kill()
            stderr = self.proc.stderr.read() if self.proc.stderr else ""
            raise AssertionError(f"worker gave no event (exit {self.proc.returncode}):\n{stderr}")
        event: dict[str, Any] = json.loads(line)
        return event

    def expect(self, key: str) -> dict[str, Any]:
        event = self.event()
        assert key in event, f"expected {key!r}, got {event}"
        return event

    def send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def kill(self) -> None:
        """SIGKILL: no cleanup, no atexit, no finally blocks, like a crash."""
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def finish(self) -> int:
        if self.proc.stdin:
            try:
                self.proc.stdin.close()
            except BrokenPipeError:
                pass
        try:
            return self.proc.wait(timeout=DEADLINE_S)
        except subprocess.TimeoutExpired:
            self.kill()
            raise

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.kill()
        for stream in (self.proc.stdin, self.proc.stderr):
            if stream:
                try:
                    stream.close()
                except OSError:
                    pass


def sleep(seconds: float) -> None:
    if seconds > 0:
        time.sleep(seconds)
