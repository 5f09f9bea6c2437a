"""Entry point: parse the command line, create the QApplication, open a database, show it."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="accessguard", description="AccessGuard RBAC manager")
    parser.add_argument("database", nargs="?", help="database file or SQLAlchemy URL to open")
    parser.add_argument(
        "--demo", action="store_true", help="open the demo organisation (built on first use)"
    )
    return parser.parse_args(list(argv))


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    from PySide6.QtWidgets import QApplication, QLabel

    from .core.database import Database

    app = QApplication(sys.argv[:1])
    app.setApplicationName("AccessGuard")
    db = Database(args.database)
    # Placeholder until the main window lands (issue 3).
    label = QLabel(f"AccessGuard — {db.display_name}")
    label.resize(480, 120)
    label.show()
    return app.exec()
