"""Linked editing in the main window: the status line, Refresh and Save.

One ``LinkedEditing`` per window whose database is a companion (core/interchange/linked):

* on open and on every Refresh it checks, off the GUI thread, what the service added or
  changed since the last sync; when there is something, the dry run is shown
  (``RefreshDialog``) and imported on the user's word;
* after every successful Save it publishes the companion into the service file, off the
  GUI thread; when that fails (busy, locked, moved) the status line says so and how to
  catch up, and the next Save (or File > Publish to service database…) tries again;
* the status line (a permanent label in the status bar) always says where the link
  stands.

Link work runs one step at a time (a refresh check, a publish), in the order asked.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import QLabel, QMainWindow

from ...core.database import Database
from ...core.errors import AccessGuardError
from ...core.interchange.linked import RefreshPlan, ServiceLink, short_reason
from ...core.interchange.publish import PublishResult
from .. import theme
from ..interchange.tasks import BackgroundTask, failure_text
from .refresh_dialog import RefreshDialog, show_refresh_dialog

_CONTROLLERS: weakref.WeakKeyDictionary[QMainWindow, LinkedEditing] = (
    weakref.WeakKeyDictionary()
)


class LinkedEditing(QObject):
    """Keeps one window's companion database and its service file in step.

    Attributes:
        link: the service file's link.
        label: the status line.
    """

    def __init__(self, window: Any, link: ServiceLink) -> None:
        super().__init__(window)
        self.window = window
        self.link = link
        self.db: Database = window.db
        self.label = QLabel()
        self.label.setObjectName("service_link_status")
        self.label.setTextFormat(Qt.TextFormat.PlainText)
        window.statusBar().addPermanentWidget(self.label)
        self.task: BackgroundTask | None = None
        self._queue: list[str] = []
        self.dialog: RefreshDialog | None = None
        self.last_publish: PublishResult | None = None
        self.quiet = False  # our own page reload after an import: no new check
        window.saved.connect(self._saved)
        self.update_status()

    # ------------------------------------------------------------------ status

    def update_status(self, text: str | None = None) -> None:
        shown = text or self.link.status()
        self.label.setText(_short(shown))
        error = self.link.state.last_error
        self.label.setToolTip(f"{shown}\n\n{error}" if error and not text else shown)
        self.label.setStyleSheet(
            f"color: {theme.css('error')};" if self.link.state.unpublished or not self.link.service.exists()
            else ""
        )

    def _saved(self, _count: int) -> None:
        self.request("publish")

    # ------------------------------------------------------------------ the queue

    def request(self, step: str) -> None:
        """Queue "refresh" or "publish" (a step already waiting is not queued twice)."""
        if step == "publish":
            self.link.mark_unpublished()  # remembered even if the window closes first
        if step not in self._queue:
            self._queue.append(step)
        self._next()

    def _next(self) -> None:
        if self.task is not None or not self._queue:
            return
        step = self._queue.pop(0)
        if step == "refresh":
            if self.dialog is not None or not self.link.service.exists():
                self.update_status()
                self._next()
                return
            self._run(self._plan_refresh, self._refresh_planned, "Reading")
        else:
            self._run(self._publish, self._published, "Publishing to")

    def _run(self, work: Callable[..., Any], done: Callable[[Any], None], verb: str) -> None:
        self.update_status(f"{verb} {self.link.service.name}\u2026")
        task = self.task = BackgroundTask(work, self)
        task.succeeded.connect(done)
        task.failed.connect(self._failed)
        task.finished.connect(self._finished)
        task.start()

    def _finished(self) -> None:
        self.task = None
        self._next()

    def _failed(self, error: object) -> None:
        self.update_status()
        why = short_reason(error) if isinstance(error, AccessGuardError) else failure_text(error)
        self.window.statusBar().showMessage(
            f"{self.link.service.name} was not brought up to date ({why}).", 15_000
        )

    # ------------------------------------------------------------------ steps

    def _plan_refresh(self, progress: Any, cancelled: Any) -> RefreshPlan:
        return self.link.plan_refresh(self.db, progress=progress, cancelled=cancelled)

    def _refresh_planned(self, result: object) -> None:
        assert isinstance(result, RefreshPlan)
        plan = result.plan
        if plan.clean and plan.changes == 0 and self.link.synced_once:
            result.close()
            self.update_status()
            return
        dialog = self.dialog = show_refresh_dialog(self.db, self.link, result, self.window)
        dialog.imported.connect(self._imported)
        dialog.finished.connect(self._dialog_closed)
        self.update_status()

    def _imported(self, result: object) -> None:
        self.quiet = True
        try:
            self.window.refresh()
        finally:
            self.quiet = False
        summary = getattr(result, "summary", lambda: "")()
        self.window.statusBar().showMessage(
            f"Imported from {self.link.service.name}: {summary}", 10_000
        )
        self.update_status()

    def _dialog_closed(self) -> None:
        self.dialog = None
        self.update_status()

    def _publish(self, progress: Any, cancelled: Any) -> PublishResult:
        return self.link.publish(self.db, cancelled=cancelled)

    def _published(self, result: object) -> None:
        assert isinstance(result, PublishResult)
        self.last_publish = result
        self.update_status()
        self.window.statusBar().showMessage(
            f"Saved and published to {self.link.service.name}.", 8_000
        )

    # ------------------------------------------------------------------ lifetime

    def close(self) -> None:
        """The window is leaving this database: finish the running step, drop the rest."""
        self._queue.clear()
        self.window.saved.disconnect(self._saved)  # the next database is not linked here
        if self.task is not None:
            self.task.wait()
            self.task = None
        if self.dialog is not None:
            self.dialog.close()
            self.dialog = None
        self.window.statusBar().removeWidget(self.label)
        self.label.setParent(None)
        self.label.deleteLater()
        self.deleteLater()


def _short(text: str, limit: int = 130) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


# ---------------------------------------------------------------------- window hooks


def controller(window: QMainWindow) -> LinkedEditing | None:
    return _CONTROLLERS.get(window)


def database_opened(window: Any) -> None:
    """The window shows a (new) database: link it if it is a companion, and check what
    the service changed since."""
    old = _CONTROLLERS.pop(window, None)
    if old is not None:
        old.close()
    link = ServiceLink.of_database(window.db)
    if link is None:
        return
    # Recent files name the service file (opening it again offers the same choices).
    window.settings.remove_recent(link.companion)
    window.settings.add_recent(link.service)
    linked = _CONTROLLERS[window] = LinkedEditing(window, link)
    linked.request("refresh")
    if link.state.unpublished and link.synced_once:
        linked.request("publish")  # catch up what an earlier session could not publish


def refreshed(window: Any) -> None:
    """View > Refresh: also pick up what the service changed."""
    linked = _CONTROLLERS.get(window)
    if linked is not None and not linked.quiet:
        linked.request("refresh")


def database_closing(window: Any) -> None:
    linked = _CONTROLLERS.pop(window, None)
    if linked is not None:
        linked.close()
