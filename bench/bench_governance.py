"""Governance at scale: core timings and the longest GUI-thread stall of each window.

    .venv/bin/python bench/bench_governance.py DATABASE [--user NAME --resource R --action A]

DATABASE (e.g. bench/data/1m.db) is copied to a temporary folder first: the bench
upgrades the copy, opens a campaign in it and throws it away, never touching the original.
Prints seconds per core call and, for each window driven offscreen, how long its work took
and the longest gap between 5 ms timer ticks on the GUI thread (the target: < 100 ms).
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def _timed(label: str, fn: Callable[[], Any]) -> Any:
    start = time.perf_counter()
    out = fn()
    print(f"  {label:<52}{time.perf_counter() - start:>8.3f} s", flush=True)
    return out


def core(db: Any, user: str, resource: str, action: str) -> None:
    from accessguard_gui.core.governance import cut, expiry, hygiene, reports

    print("core (one short read each):")
    with db.read() as s:
        _timed("expiry.counts", lambda: expiry.counts(s))
        for horizon in expiry.Horizon:
            _timed(f"expiry.page {horizon.label.lower()}", lambda h=horizon: expiry.page(s, h))
        _timed("cut.revoking_cuts", lambda: cut.revoking_cuts(s, user, resource, action))
        stamp = reports.stamp(s, "bench", "bench")
        _timed("reports.user_access", lambda: reports.user_access(s, user, stamp))
    with db.read() as s:
        for kind in hygiene.Kind:
            result = _timed(f"hygiene {kind.value}", lambda k=kind: hygiene.scan(s, [k]))
            print(f"    findings: {result[0].total_text}")


def windows(db: Any, user: str, resource: str, action: str) -> None:
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from accessguard_gui.core.governance.expiry import Horizon
    from accessguard_gui.ui.governance.campaigns import CampaignsWindow
    from accessguard_gui.ui.governance.cut import RevokingCutWindow
    from accessguard_gui.ui.governance.expiry import ExpiryCalendar
    from accessguard_gui.ui.governance.hygiene import HygieneWindow
    from accessguard_gui.ui.governance.reports import ReportsWindow
    from accessguard_gui.ui.pending import PendingStore

    app = QApplication.instance() or QApplication([])
    store = PendingStore()

    def busy(w: Any) -> bool:
        model = getattr(w, "model", None) or getattr(w, "items", None)
        return bool(w.busy or getattr(model, "loading", False))

    def measure(label: str, act: Callable[[], Any], window: Any) -> None:
        longest, last = [0.0], [time.perf_counter()]

        def tick() -> None:
            now = time.perf_counter()
            longest[0] = max(longest[0], now - last[0])
            last[0] = now

        timer = QTimer()
        timer.timeout.connect(tick)
        timer.start(5)
        start = time.perf_counter()
        last[0] = start
        act()
        while busy(window) or time.perf_counter() - start < 0.3:
            app.processEvents()
            time.sleep(0.002)
        timer.stop()
        print(f"  {label:<52}{time.perf_counter() - start:>8.1f} s   stall {longest[0] * 1000:>5.0f} ms",
              flush=True)

    def shown(window: Any) -> Any:
        window.show()
        while busy(window):
            app.processEvents()
            time.sleep(0.002)
        return window

    print("windows (work done, longest GUI-thread stall):")
    calendar = shown(ExpiryCalendar(db, store))
    measure("expiry calendar: expired, still assigned", lambda: calendar.set_horizon(Horizon.EXPIRED), calendar)
    measure("expiry calendar: within 7 days, by role", lambda: (calendar.set_horizon(Horizon.DAYS_7),
                                                                calendar.order.setCurrentIndex(1)), calendar)
    hygiene = shown(HygieneWindow(db, store))
    measure("role hygiene: scan again", hygiene.scan, hygiene)
    report = shown(ReportsWindow(db, store))
    report.choose("resource")
    report.resource_edit.setText(resource)
    measure("report: a resource's authorized users", report.build, report)
    cutter = shown(RevokingCutWindow(db, store))
    cutter.set_query(user, resource, action)
    measure("revoking cut with side effects", cutter.find_cuts, cutter)
    reviews = shown(CampaignsWindow(db, store))
    reviews.name_edit.setText("Everything")
    reviews.reviewers_edit.setText("ann, ben, cy")
    measure("open a campaign over everything", reviews.open_campaign, reviews)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("database")
    parser.add_argument("--user")
    parser.add_argument("--resource")
    parser.add_argument("--action")
    args = parser.parse_args()
    from accessguard_gui.core import rbac
    from accessguard_gui.core.database import Database

    with tempfile.TemporaryDirectory() as folder:
        copy = Path(folder) / "bench.db"
        _timed("copy the file", lambda: shutil.copyfile(args.database, copy))
        db = _timed("open (upgrading the copy if needed)", lambda: Database(copy, operator="bench"))
        user, resource, action = args.user, args.resource, args.action
        if not (user and resource and action):
            with db.read() as s:
                from sqlalchemy import text

                user = s.execute(text(
                    "SELECT u.username FROM users u JOIN user_roles ur ON ur.user_id = u.id "
                    "WHERE u.active ORDER BY u.id LIMIT 1")).scalar_one()
                first = rbac.user_permissions(s, user)[0]
                resource, action = first.resource, first.action
        print(f"asking about {user} / {resource}: {action}")
        core(db, user, resource, action)
        windows(db, user, resource, action)
        db.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
