"""Governance windows for auditors and security officers, one per capability, and the
main window's "Governance" menu and start-up reminder (``install``).

    expiry:   ExpiryCalendar(db, store)     assignments expiring / expired, bulk extend/remove
    hygiene:  HygieneWindow(db, store)      role-model findings, each fix a pending edit
    history:  HistoryWindow(db, store)      access at a past date; what changed between dates
    cut:      RevokingCutWindow(db, store)  the smallest changes that would deny an access
    reports:  ReportsWindow(db, store)      auditor reports as PDF and CSV
    campaigns: CampaignsWindow(db, store)   access review campaigns and their evidence
    mining:   RoleMiningWindow(db, store)   the fewest roles reproducing everyone's access

Every window reads off the GUI thread (progress and Cancel), shows data as plain text,
pushes its fixes to the main window's pending store (Review changes, Ctrl+S) and turns
every fix off on a read-only database.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QTimer
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMainWindow, QMenu, QPushButton, QWidget

from ...core.database import Database
from ..pending import PendingStore

REMINDER_KEY = "governance/expiry_reminder"

Opener = Callable[[Database, PendingStore, QWidget], QWidget]


def _openers() -> list[tuple[str, str, str, Opener]]:
    """(key, menu text, status tip, opener), imported lazily: opening the main window
    does not load every governance view."""

    def expiry_calendar(db: Database, store: PendingStore, parent: QWidget) -> QWidget:
        from .expiry import show_expiry_calendar

        return show_expiry_calendar(db, store, parent)

    def hygiene(db: Database, store: PendingStore, parent: QWidget) -> QWidget:
        from .hygiene import show_hygiene

        return show_hygiene(db, store, parent)

    def history(db: Database, store: PendingStore, parent: QWidget) -> QWidget:
        from .history import show_history

        return show_history(db, store, parent)

    def cut(db: Database, store: PendingStore, parent: QWidget) -> QWidget:
        from .cut import show_cut

        return show_cut(db, store, parent)

    def reports(db: Database, store: PendingStore, parent: QWidget) -> QWidget:
        from .reports import show_reports

        return show_reports(db, store, parent)

    def campaigns(db: Database, store: PendingStore, parent: QWidget) -> QWidget:
        from .campaigns import show_campaigns

        return show_campaigns(db, store, parent)

    def role_mining(db: Database, store: PendingStore, parent: QWidget) -> QWidget:
        from .mining import show_mining

        return show_mining(db, store, parent)

    return [
        ("expiry", "&Expiry calendar\u2026",
         "Assignments expiring within 7, 30 or 90 days, and expired ones still present",
         expiry_calendar),
        ("hygiene", "Role &hygiene\u2026",
         "Empty roles, redundant assignments, duplicate roles, SoD sets that cannot bite", hygiene),
        ("history", "Access at a &date\u2026",
         "Could a user do something at a past moment, and what changed between two dates",
         history),
        ("cut", "What would &revoke an access\u2026",
         "The smallest sets of changes that would deny an allowed access", cut),
        ("reports", "Auditor &reports\u2026",
         "User access, resource users, SoD violations, audit trail, hygiene as PDF or CSV",
         reports),
        ("campaigns", "Access re&views\u2026",
         "Certification campaigns: reviewers keep, revoke or re-date each access, with evidence",
         campaigns),
        ("mining", "&Suggest a role structure\u2026",
         "The fewest roles that reproduce every user's permissions exactly (role mining)",
         role_mining),
    ]


class GovernanceMenu(QObject):
    """The Governance menu of a main window, its windows and the start-up reminder.

    Attributes:
        menu: the QMenu; ``actions`` by key; ``windows``: the open windows by key.
        reminder: the status-bar button shown when assignments expire soon.
    """

    def __init__(self, window: QMainWindow) -> None:
        super().__init__(window)
        self.main = window
        self.windows: dict[str, QWidget] = {}
        self.actions: dict[str, QAction] = {}
        self.menu = QMenu("&Governance", window)
        for key, text, tip, opener in _openers():
            act = QAction(text, window)
            act.setStatusTip(tip)
            act.triggered.connect(lambda _c=False, k=key, o=opener: self.open(k, o))
            self.menu.addAction(act)
            self.actions[key] = act
        self.menu.addSeparator()
        self.remind_action = QAction("Remind me of expiring assignments at start-up", window)
        self.remind_action.setCheckable(True)
        self.remind_action.setChecked(self.reminder_enabled())
        self.remind_action.toggled.connect(self._set_reminder)
        self.menu.addAction(self.remind_action)
        bar = window.menuBar()
        menus = [a for a in bar.actions() if a.menu() is not None]
        if menus:  # before Help, which stays last
            bar.insertMenu(menus[-1], self.menu)
        else:
            bar.addMenu(self.menu)
        self.reminder = QPushButton("")
        self.reminder.setObjectName("expiry_reminder")
        self.reminder.setFlat(True)
        self.reminder.setVisible(False)
        self.reminder.clicked.connect(self._open_from_reminder)
        window.statusBar().addWidget(self.reminder)
        self._horizon: Any = None
        self._task: Any = None
        signal = getattr(window, "database_changed", None)
        if signal is not None:
            signal.connect(self._database_changed)
        QTimer.singleShot(0, self.remind)

    # ------------------------------------------------------------ windows

    def open(self, key: str, opener: Opener | None = None) -> QWidget:
        """Bring the window of ``key`` to the front, or open it on the current database."""
        old = self.windows.get(key)
        if old is not None and old.isVisible():
            old.raise_()
            old.activateWindow()
            return old
        if old is not None:
            old.deleteLater()
        if opener is None:
            opener = {k: o for k, _t, _tip, o in _openers()}[key]
        window = opener(self.main.db, self.main.store, self.main)  # type: ignore[attr-defined]
        self.windows[key] = window
        return window

    def _database_changed(self, _db: object) -> None:
        for window in self.windows.values():
            window.close()
            window.deleteLater()
        self.windows.clear()
        self.reminder.setVisible(False)
        self.remind()

    # ------------------------------------------------------------ reminder

    def _settings(self) -> Any:
        return getattr(self.main, "settings", None)

    def reminder_enabled(self) -> bool:
        settings = self._settings()
        return settings is None or settings.text(REMINDER_KEY, "on") != "off"

    def _set_reminder(self, on: bool) -> None:
        settings = self._settings()
        if settings is not None:
            settings.set_text(REMINDER_KEY, "on" if on else "off")
        if not on:
            self.reminder.setVisible(False)

    def remind(self) -> None:
        """Count what expires within a week (off the GUI thread); if anything does, say so
        in the status bar with a button that opens the calendar. Nothing modal."""
        if not self.reminder_enabled():
            return
        from ...core.governance import expiry
        from .tasks import read_in, run

        db = self.main.db  # type: ignore[attr-defined]
        if self._task is not None:
            self._task.cancel()
        self._task = run(lambda task: read_in(db, task, expiry.counts), self._reminded)

    def _reminded(self, counts: Any) -> None:
        from ...core.governance.expiry import Horizon

        self._task = None
        if not counts.needs_attention or not self.reminder_enabled():
            self.reminder.setVisible(False)
            return
        parts = []
        if counts.expired:
            parts.append(f"{counts.expired:,} expired assignment{'s' if counts.expired != 1 else ''} still present")
        if counts.days_7:
            parts.append(f"{counts.days_7:,} expire{'s' if counts.days_7 == 1 else ''} within 7 days")
        self._horizon = Horizon.EXPIRED if counts.expired else Horizon.DAYS_7
        self.reminder.setText("; ".join(parts) + " \u2014 open the expiry calendar")
        self.reminder.setVisible(True)

    def _open_from_reminder(self) -> None:
        window = self.open("expiry")
        if self._horizon is not None and hasattr(window, "set_horizon"):
            window.set_horizon(self._horizon)


def install(window: QMainWindow) -> GovernanceMenu:
    """The main window's hook: add the Governance menu and the start-up reminder."""
    governance = GovernanceMenu(window)
    window.setProperty("governance", True)
    return governance
