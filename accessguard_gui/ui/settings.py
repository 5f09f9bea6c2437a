"""What the app remembers between runs (QSettings): geometry, layouts, sort, recent files.

The QSettings object is passed in, so tests use a file in a temporary folder and never the
user's own settings.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, QSettings

ORGANIZATION = "AccessGuard"
APPLICATION = "AccessGuard"
#: View > Times in UTC: the audit log's times in UTC instead of local time.
AUDIT_TIMES_UTC = "audit/times_in_utc"
RECENT_MAX = 8


def default_settings() -> QSettings:
    """The user's settings (native format, per user)."""
    return QSettings(
        QSettings.Format.NativeFormat, QSettings.Scope.UserScope, ORGANIZATION, APPLICATION
    )


class AppSettings:
    """Typed access to the few keys we keep."""

    def __init__(self, qsettings: QSettings) -> None:
        self.q = qsettings

    # ------------------------------------------------------------ recent files

    def recent_files(self) -> list[str]:
        value: Any = self.q.value("recent_files", [])
        if isinstance(value, str):  # QSettings returns a lone string for one-element lists
            value = [value]
        return [str(v) for v in (value or []) if v]

    def add_recent(self, path: str | Path) -> None:
        text = str(path)
        files = [f for f in self.recent_files() if f != text]
        files.insert(0, text)
        self.q.setValue("recent_files", files[:RECENT_MAX])

    def remove_recent(self, path: str | Path) -> None:
        self.q.setValue("recent_files", [f for f in self.recent_files() if f != str(path)])

    def clear_recent(self) -> None:
        self.q.setValue("recent_files", [])

    def last_database(self) -> str | None:
        files = self.recent_files()
        return files[0] if files else None

    # ------------------------------------------------------------ layouts

    def bytes(self, key: str) -> QByteArray | None:
        value: Any = self.q.value(key)
        if isinstance(value, QByteArray) and not value.isEmpty():
            return value
        return None

    def set_bytes(self, key: str, value: QByteArray) -> None:
        self.q.setValue(key, value)

    def text(self, key: str, default: str = "") -> str:
        value: Any = self.q.value(key, default)
        return str(value) if value is not None else default

    def set_text(self, key: str, value: str) -> None:
        self.q.setValue(key, value)

    def sync(self) -> None:
        self.q.sync()
