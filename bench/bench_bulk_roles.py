"""A role for every user a search matches, as one pending edit, on the 1M-user file.

Times, on a copy of the generated file: the count of matching users, the review of the
one ``BulkRoleChange`` (summary per permission) and its save (INSERT … SELECT, the
separation-of-duty check, one audit entry per assignment), then removing it again.

    .venv/bin/python bench/bench_bulk_roles.py                      # 1M, search "an"
    .venv/bin/python bench/bench_bulk_roles.py --users 100000 --search sa
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench_core import database_for  # noqa: E402

from accessguard_gui.core import impact, lookup  # noqa: E402
from accessguard_gui.core.bulk_roles import BulkRoleChange, UserMatch, matching_count  # noqa: E402
from accessguard_gui.core.changes import apply_edits  # noqa: E402
from accessguard_gui.core.database import Database  # noqa: E402


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--search", default="an")
    args = parser.parse_args(argv)
    source = database_for(args.users)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "copy.db"
        shutil.copyfile(source, path)
        db = Database(path, create=False, operator="bench")
        try:
            with db.read() as s:
                role = lookup.complete_roles(s, "", limit=1)[0]
                t = time.perf_counter()
                n = matching_count(s, UserMatch(args.search))
                t_count = (time.perf_counter() - t) * 1000
            edit = BulkRoleChange(role, UserMatch(args.search), n)
            t = time.perf_counter()
            report = impact.review(db, [edit])
            t_review = (time.perf_counter() - t) * 1000
            step = report.per_edit[0] if report.per_edit else None
            changed = step.users_checked if step else 0
            t = time.perf_counter()
            with db.action("Save 1 change") as s:
                apply_edits(s, [edit], savepoint=False)
            t_save = (time.perf_counter() - t) * 1000
            undo = BulkRoleChange(role, UserMatch(args.search), n, remove=True)
            t = time.perf_counter()
            with db.action("Save 1 change") as s:
                apply_edits(s, [undo], savepoint=False)
            t_remove = (time.perf_counter() - t) * 1000
        finally:
            db.close()
    print(
        f"{args.users:,} users, {edit.describe()!r}: {changed:,} users change\n"
        f"  count {t_count:.0f} ms, review {t_review:.0f} ms, save {t_save:.0f} ms "
        f"(incl. {changed:,} audit entries), remove again {t_remove:.0f} ms"
    )
    if report.error:
        print(f"  review refused: {report.error}")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    raise SystemExit(main())
