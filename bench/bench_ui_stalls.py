"""Longest freeze of the GUI thread for each user action, on the real main window.

Drives a MainWindow (offscreen) on a generated file through a script of actions a user
takes — select all, searches typed at a human pace (1-2 characters, ``%``, a name), sorts,
Ctrl+End, each Access view (a resource's users and a role's permissions paged, the matrix
scrolled), the separation-of-duty check, a bulk role change of selected users with its
review and save, and one for every user a search matches (Ctrl+A: one pending edit) with
its review and save — and prints for each the longest event-loop stall: a QTimer heartbeat ticks every
``TICK_MS`` ms while the action and everything it sets off (page loads, counts, paints)
runs; the largest gap between two ticks, minus the tick, is the time the window could not
repaint or answer a key. Target (issue 11): <= 100 ms for every action.

The file is copied first: the bulk changes are saved into the copy, never into the
generated file.

    .venv/bin/python bench/bench_ui_stalls.py                     # 1M users (bench/data/1m.db)
    .venv/bin/python bench/bench_ui_stalls.py --users 100000      # develop on 100k
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_core import database_for  # noqa: E402 - the shared generated files
from PySide6.QtCore import QItemSelection, QItemSelectionModel, QSettings, Qt, QTimer  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import QApplication, QPushButton, QWidget  # noqa: E402

from accessguard_gui.core.database import Database  # noqa: E402
from accessguard_gui.ui import messages  # noqa: E402
from accessguard_gui.ui.main_window import MainWindow  # noqa: E402
from accessguard_gui.ui.settings import AppSettings  # noqa: E402

TICK_MS = 5
TYPING_MS = 300  # between two keystrokes: slower than the search debounce, so each fires
SETTLE_MS = 400  # quiet time after the last sign of work before an action counts as done
LIMIT_MS = 60_000  # give up waiting for an action after this long


@dataclass
class Result:
    name: str
    stall_ms: float
    done_ms: float
    note: str = ""


class Heartbeat:
    """A timer ticking every TICK_MS; gaps between ticks are event-loop stalls."""

    def __init__(self) -> None:
        self.ticks: list[float] = []
        self.timer = QTimer()
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(TICK_MS)
        self.timer.timeout.connect(lambda: self.ticks.append(time.perf_counter()))

    def longest_gap_ms(self, since: float, until: float) -> float:
        times = [since, *(t for t in self.ticks if since < t <= until), until]
        gap = max((b - a for a, b in zip(times, times[1:], strict=False)), default=0.0)
        return max(0.0, gap * 1000 - TICK_MS)


def wait(app: QApplication, ms: float) -> None:
    end = time.perf_counter() + ms / 1000
    while time.perf_counter() < end:
        app.processEvents()
        time.sleep(0.001)


def busy(window: MainWindow) -> bool:
    """Is any page still searching, counting or loading in the background?"""
    for page in window.pages.values():
        model = page.model
        is_busy = getattr(model, "is_busy", None)
        if callable(is_busy) and is_busy():
            return True
        counting = getattr(model, "is_counting", None)
        if callable(counting) and counting():
            return True
    return False


def run_action(
    app: QApplication,
    beat: Heartbeat,
    window: MainWindow,
    name: str,
    action: Callable[[], Any],
    done: Callable[[], bool] | None = None,
) -> Result:
    """Run ``action`` from the event loop and wait until it (and what it started) settled."""
    note: list[str] = []

    def start() -> None:
        try:
            action()
        except Exception as exc:  # noqa: BLE001 - report it in the table, go on
            note.append(f"failed: {exc!r}"[:80])

    since = time.perf_counter()
    QTimer.singleShot(0, start)
    quiet_since = None
    while True:
        app.processEvents()
        time.sleep(0.001)
        now = time.perf_counter()
        if (now - since) * 1000 > LIMIT_MS:
            note.append("still busy after the limit")
            break
        finished = (done is None or done()) and not busy(window)
        if finished:
            quiet_since = quiet_since or now
            if (now - quiet_since) * 1000 >= SETTLE_MS:
                break
        else:
            quiet_since = None
    until = time.perf_counter()
    done_ms = ((quiet_since or until) - since) * 1000
    return Result(name, beat.longest_gap_ms(since, until), done_ms, "; ".join(note))


def type_search(app: QApplication, window: MainWindow, text: str) -> Callable[[], None]:
    """Type ``text`` into the users' search box a key at a time, at TYPING_MS a key."""

    def go() -> None:
        page = window.page("users")
        page.search.clear()
        for ch in text:
            QTest.keyClicks(page.search, ch)
            wait(app, TYPING_MS)

    return go


def find_button(widget: QWidget, text: str) -> QPushButton | None:
    for button in widget.findChildren(QPushButton):
        if button.text().replace("&", "").startswith(text):
            return button
    return None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument(
        "--bulk", type=int, default=1_000, help="users given a role in the bulk change reviewed"
    )
    parser.add_argument(
        "--match",
        default="anna",
        help="search whose every match gets a role in one bulk change (Ctrl+A), saved",
    )
    parser.add_argument(
        "--only",
        nargs="+",
        default=[],
        metavar="WORDS",
        help="run only the actions whose name contains one of these words (e.g. matrix review)",
    )
    args = parser.parse_args(argv)
    bulk_n = args.bulk
    source = database_for(args.users)
    app = QApplication.instance() or QApplication([])
    assert isinstance(app, QApplication)
    # No modal box may stop the script: record what it would have said.
    said: list[str] = []
    messages.show_error = lambda _p, title, text, details="": said.append(f"{title}: {text}")  # type: ignore[assignment]
    messages.show_info = lambda _p, title, text, details="": said.append(f"{title}: {text}")  # type: ignore[assignment]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "copy.db"
        shutil.copyfile(source, path)
        settings = QSettings(str(Path(tmp) / "s.ini"), QSettings.Format.IniFormat)
        beat = Heartbeat()
        beat.timer.start()
        t0 = time.perf_counter()
        db = Database(path, create=False, operator="bench")
        window = MainWindow(db, AppSettings(settings))
        window.resize(1200, 800)
        window.show()
        results = [Result("open the window", (time.perf_counter() - t0) * 1000, 0.0)]
        page = window.page("users")
        view = page.view
        results.append(run_action(app, beat, window, "first page painted", lambda: None))

        def act(
            name: str, action: Callable[[], Any], done: Callable[[], bool] | None = None
        ) -> None:
            if args.only and not any(word in name for word in args.only):
                return
            results.append(run_action(app, beat, window, name, action, done))
            print(
                f"  {results[-1].name}: {results[-1].stall_ms:.0f} ms", file=sys.stderr, flush=True
            )

        def ctrl(key: Qt.Key, extra: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier) -> None:
            view.setFocus()
            QTest.keyClick(view, key, Qt.KeyboardModifier.ControlModifier | extra)

        act("select all (Ctrl+A)", lambda: ctrl(Qt.Key.Key_A))
        act("delete all selected (refused)", lambda: window.delete_selected())
        act(
            "click a row",
            lambda: QTest.mouseClick(
                view.viewport(),
                Qt.MouseButton.LeftButton,
                pos=view.visualRect(page.model.index(3, 1)).center(),
            ),
        )
        for text in ("a", "an", "%", "ab", "anna", "berg"):
            act(f"search typed: {text!r}", type_search(app, window, text))
        act("clear the search", lambda: page.search.clear())
        header = view.horizontalHeader()
        model = page.model
        for key in ("display_name", "email", "username"):
            column = model.column_of(key) if hasattr(model, "column_of") else 1
            act(
                f"sort by {key} (header click)",
                lambda c=column: QTest.mouseClick(
                    header.viewport(), Qt.MouseButton.LeftButton, pos=_section_center(header, c)
                ),
            )
        act("jump to the end (Ctrl+End)", lambda: ctrl(Qt.Key.Key_End))
        act("jump to the start (Ctrl+Home)", lambda: ctrl(Qt.Key.Key_Home))
        act(
            "search typed: 'q' then Ctrl+End",
            lambda: (type_search(app, window, "q")(), ctrl(Qt.Key.Key_End)),
        )
        act("clear the search", lambda: page.search.clear())
        views: dict[int, Any] = {}
        names = ("access check", "effective access", "roles x permissions", "separation of duty")
        for index, name in enumerate(names):
            act(f"open {name}", lambda i=index: views.__setitem__(i, window.open_access_view(i)))
        ssd = views.get(3)
        button = find_button(ssd, "Check for violations") if ssd is not None else None
        if button is not None:
            act("SoD: check for violations", button.click)
        effective = views.get(1)
        if effective is not None:  # issue 11 item 4: long lists page lazily
            resource, busiest_role = _busiest(db)
            act(f"effective access: resource {resource}", lambda: effective.show_resource(resource))
            act(
                "effective access: next 5 pages of its users",
                lambda: [effective.model.fetchMore() for _ in range(5)],
            )
            act(f"effective access: role {busiest_role}", lambda: effective.show_role(busiest_role))
        matrix = views.get(2)
        if matrix is not None:
            bar = matrix.view.horizontalScrollBar()
            act("matrix: scroll to the right end", lambda: bar.setValue(bar.maximum()))
            act("matrix: scroll right again (next page)", lambda: bar.setValue(bar.maximum()))
        for w in views.values():
            w.close()

        # A bulk change: one role for --bulk users, then Review changes.
        def select_first(n: int) -> None:
            m = page.model
            selection = QItemSelection(m.index(0, 0), m.index(n - 1, m.columnCount() - 1))
            view.selectionModel().select(
                selection, QItemSelectionModel.SelectionFlag.ClearAndSelect
            )

        act(f"select {bulk_n:,} users", lambda: select_first(bulk_n))
        role = _some_role(db)
        dialogs: list[Any] = []

        def bulk() -> None:
            dialog = window.bulk_roles()
            if dialog is None:
                raise RuntimeError("; ".join(said) or "no dialog")
            dialogs.append(dialog)
            dialog.role_edit.setText(role)
            dialog.apply()

        def checked() -> bool:
            checking = getattr(dialogs[-1], "is_checking", None) if dialogs else None
            return not (callable(checking) and checking())

        def reviewed() -> bool:
            dialog = dialogs[-1] if dialogs else None
            return dialog is None or getattr(dialog, "_job", None) is None

        act(f"assign a role to the {bulk_n:,} (pending)", bulk, checked)
        act("review changes", lambda: dialogs.append(window.review_changes()), reviewed)
        _close_all(dialogs)
        act(f"save the {bulk_n:,} pending edits", window.save)
        window.store.clear()

        # Every user a search matches (Ctrl+A): ONE pending edit, applied set-based.
        act(f"search typed: {args.match!r}", type_search(app, window, args.match))
        act("select all matching (Ctrl+A)", lambda: ctrl(Qt.Key.Key_A))
        act("assign a role to all matching (pending)", bulk, checked)
        note = window.store.edits()[-1].describe() if len(window.store) else "no edit"
        print(f"  pending: {note}", file=sys.stderr)
        act("review the bulk change", lambda: dialogs.append(window.review_changes()), reviewed)
        _close_all(dialogs)
        act("save the bulk change", window.save)
        window.store.clear()
        beat.timer.stop()
        window.close()
        db.close()

    print(f"GUI-thread stalls on {args.users:,} users (heartbeat {TICK_MS} ms; target <= 100 ms)")
    print(f"{'action':44} {'longest stall':>14} {'settled after':>14}")
    for r in results:
        flag = "  <-- over 100 ms" if r.stall_ms > 100 else ""
        print(f"{r.name:44} {r.stall_ms:11.0f} ms {r.done_ms:11.0f} ms{flag} {r.note}")
    return 0


def _section_center(header: Any, column: int) -> Any:
    from PySide6.QtCore import QPoint

    x = header.sectionViewportPosition(column) + header.sectionSize(column) // 2
    return QPoint(x, header.height() // 2)


def _close_all(dialogs: list[Any]) -> None:
    """Close the dialogs still open (an accepted one may already be gone) and forget them."""
    for dialog in dialogs:
        try:
            if dialog is not None:
                dialog.close()
        except RuntimeError:  # its C++ object was deleted when it closed itself
            pass
    dialogs.clear()


def _busiest(db: Database) -> tuple[str, str]:
    """The resource whose permissions most roles grant, and the role holding most
    permissions directly: the longest lists the access views page through."""
    from sqlalchemy import func, select

    from accessguard_gui.core.models import Permission, Resource, Role, RolePermission

    with db.read() as s:
        resource = s.execute(
            select(Resource.name)
            .join(Permission, Permission.resource_id == Resource.id)
            .join(RolePermission, RolePermission.permission_id == Permission.id)
            .group_by(Resource.id)
            .order_by(func.count().desc())
            .limit(1)
        ).scalar()
        role = s.execute(
            select(Role.name)
            .join(RolePermission, RolePermission.role_id == Role.id)
            .group_by(Role.id)
            .order_by(func.count().desc())
            .limit(1)
        ).scalar()
    return str(resource or "Ledger"), str(role or "Staff")


def _some_role(db: Database) -> str:
    from accessguard_gui.core import lookup

    with db.read() as s:
        names = lookup.complete_roles(s, "", limit=1)
    return names[0] if names else "Staff"


if __name__ == "__main__":
    raise SystemExit(main())
