"""Helpers for the governance windows: wait for their background work, save PNGs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pytestqt.qtbot import QtBot

SHOTS = Path("/tmp/shots/governance")


def settle(qtbot: QtBot, window: Any, timeout: int = 10_000) -> None:
    """Wait until the window's background work (and its model's) has ended."""

    def idle() -> bool:
        models = (getattr(window, "model", None), getattr(window, "items", None))
        return not window.busy and not any(getattr(m, "loading", False) for m in models)

    qtbot.waitUntil(idle, timeout=timeout)
