"""Cold start (issue 11): what the launch path imports before the first window is painted.

The app is started the way the desktop starts it (``app.main``), in a fresh process, on a
file with rows; when the window is painted the process reports the order in which modules
were first imported and what it holds then. Import time is most of a start, so these
tests pin what keeps it short: SQLAlchemy and the core are imported before PySide6 (whose
``__feature__`` hook reads the source of every module imported after it), the modules
only some actions need are not imported at all, and the collector runs again afterwards.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from accessguard_gui.core import rbac
from accessguard_gui.core.database import Database

# Modules a window on an ordinary file needs no part of until the user asks for something.
LAZY = (
    "alembic",  # the schema is current: no upgrade
    "argon2",  # nobody signs in or sets a password
    "accessguard_gui.core.impact",  # Review changes
    "accessguard_gui.core.explain",  # access explanations
    "accessguard_gui.core.interchange.pipeline",  # File > Import
    "accessguard_gui.ui.access.effective",  # Access views, details tabs' contents
    "accessguard_gui.ui.access.assignments",
    "accessguard_gui.ui.interchange.view_export",  # Export to CSV… (a tab when shown)
    "accessguard_gui.ui.record_form",  # Add / Edit record…
    "accessguard_gui.ui.sign_in",  # a file that requires sign-in
    "accessguard_gui.ui.welcome",  # starting without a file
    "accessguard_gui.ui.service",  # the web service's files
    "accessguard_gui.core.rbac.review",  # review functions, the role-graph cache
    "accessguard_gui.core.review_sql",
    "accessguard_gui.ui.audit_view",  # the audit page, built when first shown
)

PROBE = r"""
import gc, importlib.abc, json, os, sys
os.environ["QT_QPA_PLATFORM"] = "offscreen"
order = []

class Recorder(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        order.append(name)  # the first import of each module passes here
        return None

sys.meta_path.insert(0, Recorder())
from accessguard_gui import app  # noqa: E402 - only after the recorder is in place

def started(window):
    from PySide6.QtWidgets import QApplication

    window.grab()
    print(json.dumps({
        "order": order,
        "modules": sorted(sys.modules),
        "collecting": gc.isenabled(),
        "title": window.windowTitle(),
    }), flush=True)
    QApplication.quit()

sys.exit(app.main([sys.argv[1]], started=started))  # settings: $XDG_CONFIG_HOME
"""


def _start(tmp_path: Path) -> dict[str, object]:
    path = tmp_path / "people.db"
    with Database(path, operator="tester") as db, db.action("Seed") as session:
        for name in ("alice", "bob", "carol"):
            rbac.add_user(session, name)
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "config")}
    out = subprocess.run(
        [sys.executable, "-c", PROBE, str(path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    report: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["title"] == "AccessGuard — people.db"
    return report


def test_a_start_imports_the_core_before_qt_and_leaves_the_rest_for_later(
    tmp_path: Path,
) -> None:
    report = _start(tmp_path)
    order = report["order"]
    assert isinstance(order, list)
    first_qt = next(i for i, name in enumerate(order) if name.startswith("PySide6"))
    after_qt = order[first_qt:]
    late_sqlalchemy = [n for n in after_qt if n.split(".")[0] == "sqlalchemy"]
    assert late_sqlalchemy == [], late_sqlalchemy
    late_core = {"accessguard_gui.core.models", "accessguard_gui.core.database"} & set(after_qt)
    assert late_core == set()
    modules = report["modules"]
    assert isinstance(modules, list)
    loaded = [lazy for lazy in LAZY if any(m == lazy or m.startswith(lazy + ".") for m in modules)]
    assert loaded == []
    assert report["collecting"] is True  # the collector is on again once the window painted
