"""Cold start of the app: a new process until the main window is painted, on 100k / 1M users.

Each run is a fresh Python process (offscreen Qt) that starts the app the way the desktop
does (``accessguard_gui.app.main``), on the file read-only (the benchmark never changes
it), with settings of its own (a fresh ``XDG_CONFIG_HOME``: the default column layout is
computed, as on a first start); once the window is shown and the event loop runs it is
painted (``grab()``). Printed: the median time to that, next to the floor of any PySide6
app (a process that imports QtWidgets and paints an empty QMainWindow), in the same run;
then where the time goes, phase by phase, in a process that does the same steps one
after another. Target (shared/guide/performance.md): <= 0.55 s to a painted window on
the 1M file.

The phases: "core" the Qt-free modules the app imports before PySide6 (app.CORE_FIRST:
PySide6 reads the source of every module imported after it), "qt" PySide6 and the
QApplication, "imports" the window's own modules, "open" the database, "window" the
MainWindow, "paint" showing and painting it; the cyclic collector is off until then, as
in app.main.

Measured and dropped (2026-11-30): importing SQLAlchemy on a thread while Qt starts. Both
imports hold the GIL; 9 interleaved runs each: 579 ms sequential, 610 ms overlapped.

Python runs with its bytecode cache (in a temporary folder, filled by a first run that is
not counted), as an installed app has it: without one (PYTHONDONTWRITEBYTECODE) every
module of the app is compiled at each start.

    .venv/bin/python bench/bench_startup.py                 # 100k and 1M, 5 runs each
    .venv/bin/python bench/bench_startup.py --sizes 100000 --runs 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_core import database_for  # noqa: E402 - the shared generated files

CACHE = Path(tempfile.mkdtemp(prefix="bench-startup-"))  # bytecode and settings of the runs

CHILD_APP = r"""
import json, os, sys, time
t0 = time.perf_counter()
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
from accessguard_gui import app as ag

def started(window):
    from PySide6.QtWidgets import QApplication
    window.grab()
    print(json.dumps({"total": time.perf_counter() - t0}), flush=True)
    QApplication.quit()

ag.main([sys.argv[1], "--read-only"], started=started)
"""

CHILD = r"""
import gc, json, os, sys, tempfile, time
t0 = time.perf_counter()
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
if sys.argv[1] != "-":  # the app's order (app.main): no collections, Qt-free core first
    gc.disable()
    from accessguard_gui.app import import_core_first
    import_core_first()
t_core = time.perf_counter()
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication, QMainWindow
app = QApplication([])
t_qt = time.perf_counter()
if sys.argv[1] == "-":
    w = QMainWindow(); w.resize(1200, 800); w.show(); app.processEvents(); w.grab()
    print(json.dumps({"total": time.perf_counter() - t0, "qt": t_qt - t0}))
    raise SystemExit
from accessguard_gui.core.database import Database
from accessguard_gui.ui.main_window import MainWindow
from accessguard_gui.ui.settings import AppSettings
t_imp = time.perf_counter()
db = Database(sys.argv[1], create=False, read_only=True)
t_open = time.perf_counter()
settings = QSettings(os.path.join(tempfile.mkdtemp(), "s.ini"), QSettings.Format.IniFormat)
w = MainWindow(db, AppSettings(settings))
t_win = time.perf_counter()
w.resize(1200, 800); w.show(); app.processEvents(); w.grab()
t_paint = time.perf_counter()
print(json.dumps({"core": t_core - t0, "qt": t_qt - t_core, "imports": t_imp - t_qt,
                  "open": t_open - t_imp, "window": t_win - t_open, "paint": t_paint - t_win,
                  "total": t_paint - t0}), flush=True)
os._exit(0)  # measured: no teardown under the count still running on a worker thread
"""


def run(target: str, child: str = CHILD) -> dict[str, float]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(QT_QPA_PLATFORM="offscreen", PYTHONPYCACHEPREFIX=str(CACHE / "pyc"))
    env["XDG_CONFIG_HOME"] = tempfile.mkdtemp(dir=CACHE)  # the app's settings: fresh
    out = subprocess.run(
        [sys.executable, "-c", child, target], capture_output=True, text=True, env=env, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def median(runs: list[dict[str, float]], key: str) -> float:
    return statistics.median(r[key] for r in runs) * 1000


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    run("-")  # fills the bytecode cache: not counted
    floor = [run("-") for _ in range(args.runs)]
    print(f"empty PySide6 window painted: {median(floor, 'total'):6.0f} ms (floor)")
    for users in args.sizes:
        path = database_for(users)
        run(str(path), CHILD_APP)  # fills the bytecode cache: not counted
        starts, runs = [], []
        for _ in range(args.runs):  # interleaved: load from other processes hits both
            starts.append(run(str(path), CHILD_APP))
            runs.append(run(str(path)))
        total = median(starts, "total")
        phases = ", ".join(
            f"{k} {median(runs, k):.0f}"
            for k in ("core", "qt", "imports", "open", "window", "paint")
        )
        print(
            f"{users:>9,} users: {total:6.0f} ms to a painted window "
            f"({total / median(floor, 'total'):.1f}x the floor); one step after another: "
            f"{median(runs, 'total'):.0f} ms ({phases} ms)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
