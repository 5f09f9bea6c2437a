"""Entry point: parse the command line, create the QApplication, open a database, show it.

    accessguard [PATH] [--demo] [--read-only]

With no PATH the last database opened is reopened; on the very first launch a welcome
dialog offers to create a new database, open one or open the demo.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from . import __version__

if TYPE_CHECKING:
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QWidget

    from .core.database import Database
    from .ui.main_window import MainWindow


# The Qt-free modules the first window needs, imported before PySide6. Once PySide6 is
# imported, every module imported after it has its source file read and searched for
# "PySide6" (shiboken's __feature__ hook, PYSIDE-2029): ~340 modules, most of them
# SQLAlchemy's, cost ~150 ms of a ~750 ms start on the 1M file (bench/bench_startup.py).
# Imported first, they are never read. Modules only some actions need stay out of this
# list (they are imported when used).
CORE_FIRST = (
    "accessguard_gui.core.database",
    "accessguard_gui.core.browse",
    # The engine loads its dialect when it is made, after Qt: the SQLite one (a file) here.
    "sqlalchemy.dialects.sqlite.pysqlite",
)


def import_core_first() -> None:
    """Import ``CORE_FIRST`` (a no-op once imported): call before importing PySide6."""
    for name in CORE_FIRST:
        importlib.import_module(name)


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="accessguard", description="AccessGuard RBAC manager")
    parser.add_argument("database", nargs="?", help="database file or SQLAlchemy URL to open")
    parser.add_argument(
        "--demo", action="store_true", help="open the demo organisation (built on first use)"
    )
    parser.add_argument(
        "--read-only", action="store_true", help="open the database without write access"
    )
    parser.add_argument(
        "--color-scheme",
        choices=("system", "light", "dark"),
        default="system",
        help="light or dark windows (default: follow the desktop)",
    )
    parser.add_argument("--version", action="version", version=f"AccessGuard {__version__}")
    # For smoke tests of an installed or bundled app: start, paint the window, quit.
    parser.add_argument("--exit-after-start", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(list(argv))


def demo_database_path() -> Path:
    """The demo file, built by ``core/demo.py`` on first use."""
    from .core import demo

    return Path(demo.ensure_demo_database())


def _try_open(
    target: str | Path, parent: QWidget | None, *, create: bool, read_only: bool = False
) -> Database | None:
    from .ui.opening import open_database

    return open_database(parent, target, create=create, read_only=read_only)


def choose_database(
    args: argparse.Namespace,
    last: str | None,
    *,
    welcome: Callable[[], object] | None = None,
) -> Database | None:
    """The database to start with, asking the user (welcome dialog) when there is none.

    Returns None when the user quits from the welcome dialog.
    """
    if args.demo:
        db = _try_open(demo_database_path(), None, create=True)
        if db is not None:
            return db
    elif args.database:
        db = _try_open(args.database, None, create=False, read_only=args.read_only)
        if db is not None:
            return db
    elif last and Path(last).is_file():
        db = _try_open(last, None, create=False, read_only=args.read_only)
        if db is not None:
            return db
    # No file to open: the welcome dialog (its modules are imported only now).
    from .ui import messages
    from .ui.welcome import WelcomeChoice, WelcomeDialog

    ask = welcome or WelcomeDialog.ask
    while True:
        choice = ask()
        if choice is WelcomeChoice.NEW:
            path = messages.ask_save_path(None, "New database", "accessguard.db")
            if path and Path(path).exists() and Path(path).stat().st_size > 0:
                messages.show_error(
                    None, "Cannot create database", f"{path} already exists; choose a new name."
                )
                continue
            db = _try_open(path, None, create=True) if path else None
        elif choice is WelcomeChoice.OPEN:
            path = messages.ask_open_path(None)
            db = _try_open(path, None, create=False) if path else None
        elif choice is WelcomeChoice.DEMO:
            db = _try_open(demo_database_path(), None, create=True)
        else:
            return None
        if db is not None:
            return db


def build_window(db: Database, qsettings: QSettings) -> MainWindow:
    from .ui.main_window import MainWindow
    from .ui.settings import AppSettings

    settings = AppSettings(qsettings)
    if db.path is not None:
        settings.add_recent(db.path)
    return MainWindow(db, settings)


def _say_started_and_quit(window: MainWindow) -> None:
    """``--exit-after-start``: the smoke test of an installed app sees the title."""
    from PySide6.QtWidgets import QApplication

    print(f"started: {window.windowTitle()}", flush=True)
    QApplication.quit()


def _collect_after_start() -> None:
    """The first paint is done: collect again. Until now the cyclic collector was off: a
    start makes ~80,000 objects that live as long as the process (modules, classes, the
    window), and the collections that walked them cost 20-50 ms of it. Frozen and thawed
    at once, they go to the oldest generation without being walked; cycles among them
    are still found by the next full collection."""
    gc.freeze()
    gc.unfreeze()
    gc.enable()


def main(
    argv: Sequence[str] | None = None,
    qsettings: QSettings | None = None,
    *,
    started: Callable[[MainWindow], object] | None = None,
) -> int:
    """Start the app; returns the exit code.

    Args:
        argv: the command line without the program name (default: ``sys.argv[1:]``).
        qsettings: where settings live (tests pass a temporary file; default: the user's).
        started: called once the window is shown and the event loop runs (benchmarks
            and smoke tests; ``--exit-after-start`` prints the title and quits there).
    """
    args = parse_args(sys.argv[1:] if argv is None else argv)
    collecting = gc.isenabled()
    gc.disable()  # until the window is painted (_collect_after_start); a slow open
    # (an upgrade, ui/opening.py) switches it on again
    try:
        return _start_and_run(args, qsettings, started, collecting)
    finally:
        if collecting and not gc.isenabled():
            gc.enable()  # no window, or the app ended before its first paint


def _start_and_run(
    args: argparse.Namespace,
    qsettings: QSettings | None,
    started: Callable[[MainWindow], object] | None,
    collecting: bool,
) -> int:
    import_core_first()
    from PySide6.QtCore import QCoreApplication
    from PySide6.QtWidgets import QApplication

    from .ui import theme
    from .ui.icons import app_icon
    from .ui.settings import APPLICATION, ORGANIZATION, AppSettings, default_settings

    QCoreApplication.setOrganizationName(ORGANIZATION)
    QCoreApplication.setApplicationName(APPLICATION)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    # No applicationDisplayName: Qt would append " — AccessGuard" to every title on X11 and
    # Windows, and the main window's title already starts with it ("AccessGuard — x.db").
    app.setDesktopFileName("accessguard")
    app.setWindowIcon(app_icon())
    theme.install(app, args.color_scheme)
    qsettings = qsettings if qsettings is not None else default_settings()
    db = choose_database(args, AppSettings(qsettings).last_database())
    if db is None:
        return 0
    window = build_window(db, qsettings)
    window.show()
    from PySide6.QtCore import QTimer

    if collecting:
        QTimer.singleShot(0, _collect_after_start)
    if started is None and args.exit_after_start:
        started = _say_started_and_quit
    if started is not None:
        QTimer.singleShot(0, lambda: started(window))
    try:
        return app.exec()
    finally:
        stop_background_work()
        window.db.close()


def stop_background_work(timeout: float = 5.0) -> None:
    """Before the database closes at exit: cancel the reads and tasks still running on
    worker threads and wait for them (a worker reading from a closed database, or emitting
    through an object the interpreter already tore down, crashed the exit). Modules never
    imported had nothing running and are not imported for it."""
    for name in ("accessguard_gui.ui.background", "accessguard_gui.ui.governance.tasks"):
        module = sys.modules.get(name)
        if module is not None:
            module.stop_all(timeout)
