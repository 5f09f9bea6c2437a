"""Regenerate the README's screenshots from the demo organisation (offscreen Qt).

    .venv/bin/python resources/make_screenshots.py      # from the repository root

Writes resources/screenshots/main-window.png and access-check.png: the Users table with a
user's details, and an access check allowed through role inheritance with its path.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import select  # noqa: E402

from accessguard_gui.core import rbac  # noqa: E402
from accessguard_gui.core.database import Database  # noqa: E402
from accessguard_gui.core.demo import ensure_demo_database  # noqa: E402
from accessguard_gui.core.models import User  # noqa: E402
from accessguard_gui.ui.access.access_check import show_access_check  # noqa: E402
from accessguard_gui.ui.icons import app_icon  # noqa: E402
from accessguard_gui.ui.main_window import MainWindow  # noqa: E402
from accessguard_gui.ui.settings import AppSettings  # noqa: E402

OUT = ROOT / "resources" / "screenshots"


def inherited_query(db: Database) -> tuple[str, str, str]:
    """A (user, resource, action) allowed through inheritance: the interesting answer."""
    with db.read() as s:
        for user in s.scalars(select(User.username).where(User.active).order_by(User.id)):
            for perm in rbac.user_permissions(s, user):
                decision = rbac.check_access(s, user, perm.resource, perm.action)
                if any(len(p.roles) > 1 for p in decision.granting_paths):
                    return user, perm.resource, perm.action
    raise SystemExit("the demo has no permission reached through inheritance")


def main() -> None:
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setWindowIcon(app_icon())
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(ensure_demo_database(Path(tmp) / "demo.db"))
        settings = AppSettings(QSettings(str(Path(tmp) / "s.ini"), QSettings.Format.IniFormat))
        window = MainWindow(db, settings)
        window.resize(1280, 780)
        window.show()
        page = window.page("users")
        page.select_row(2)
        for _ in range(5):
            app.processEvents()
        window.grab().save(str(OUT / "main-window.png"))
        user, resource, action = inherited_query(db)
        panel = show_access_check(db, window, window.store)
        panel.window().resize(640, 480)
        panel.set_query(user, resource, action)
        panel.check()
        for _ in range(5):
            app.processEvents()
        panel.window().grab().save(str(OUT / "access-check.png"))
        print(f"wrote {OUT}/main-window.png and access-check.png ({user}: {resource} {action})")
        window.store.clear()
        window.close()
        db.close()


if __name__ == "__main__":
    main()
