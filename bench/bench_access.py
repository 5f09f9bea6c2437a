"""Cost of the access views' queries on a generated database (2,000 roles × 20,000
permissions; 100k users by default), printed as medians.

- effective_permissions (with paths) next to rbac.user_permissions (no paths),
- resource_access for one permission (first 500 users with paths),
- name completion (prefix range on the name key index),
- the role × permission matrix: reading both axes, one 32×32 block, and the first paint
  of a 1200×800 view (offscreen Qt) including the blocks it asks for,
- impact.review of 100 pending edits (grants, inheritance, assignments), in a rolled-back
  transaction on a throwaway copy of the file.

    .venv/bin/python bench/bench_access.py                  # bench/data/100k.db
    .venv/bin/python bench/bench_access.py --db bench/data/1m.db --no-review
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from sqlalchemy import func, select

from accessguard_gui.core import explain, impact, lookup, rbac
from accessguard_gui.core.changes import Assign, Edit, Grant, Inherit
from accessguard_gui.core.database import Database
from accessguard_gui.core.models import Permission, Resource, Role, User


def median_ms(fn: Callable[[], Any], runs: int) -> float:
    fn()  # warm the page cache and statement cache
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def show(label: str, ms: float, extra: str = "") -> None:
    print(f"  {label:<58} {ms:9.2f} ms  {extra}", flush=True)


def sample(db: Database, rng: random.Random) -> tuple[list[str], list[tuple[str, str]], list[str]]:
    with db.read() as s:
        n_users = s.scalar(select(func.max(User.id))) or 1
        ids = [rng.randint(1, n_users) for _ in range(40)]
        users = list(s.scalars(select(User.username).where(User.id.in_(ids))))
        perms = [
            (r, a)
            for r, a in s.execute(
                select(Resource.name, Permission.action)
                .join(Resource, Resource.id == Permission.resource_id)
                .order_by(func.random())
                .limit(20)
            )
        ]
        roles = list(s.scalars(select(Role.name).order_by(func.random()).limit(60)))
    return users, perms, roles


def bench_queries(db: Database, runs: int, rng: random.Random) -> None:
    users, perms, _ = sample(db, rng)
    it_u = iter(users * 1000)
    it_p = iter(perms * 1000)
    print("queries")
    with db.read() as s:
        eff = median_ms(lambda: explain.effective_permissions(s, next(it_u)), runs)
        bare = median_ms(lambda: rbac.user_permissions(s, next(it_u)), runs)
        show("effective_permissions (paths, expired/inactive marked)", eff)
        show("rbac.user_permissions (no paths)", bare, f"ratio {eff / bare:.2f}x")
        res = median_ms(lambda: explain.resource_access(s, *next(it_p)), runs)
        show("resource_access, one permission (first page: 500 users, paths, counts)", res)
        auth = median_ms(lambda: rbac.authorized_users(s, *next(it_p)), runs)
        show("rbac.authorized_users, same permission (no paths)", auth)
        comp = median_ms(lambda: lookup.complete_usernames(s, rng.choice("abcdefgh")), runs)
        show("complete_usernames (prefix range, 50 names)", comp)
        chk = median_ms(lambda: rbac.check_access(s, next(it_u), *next(it_p)), runs)
        show("check_access (what the access check panel runs)", chk)
        bench_long_lists(s, runs)


def bench_long_lists(s: Any, runs: int) -> None:
    """The longest lists of the access views, a page at a time: the permission reached
    by the most users, the role with the most members, the matrix axes."""
    from accessguard_gui.core.models import RolePermission, UserRole

    print("long lists (keyset pages)")
    big_role = s.execute(
        select(UserRole.role_id).group_by(UserRole.role_id).order_by(func.count().desc()).limit(1)
    ).scalar_one()
    # The permission of the base role most others inherit: the widest audience.
    perm_id = s.execute(
        select(RolePermission.permission_id)
        .where(RolePermission.role_id == big_role)
        .limit(1)
    ).scalar_one()
    perm = rbac.get_permission(s, perm_id)
    resource = rbac.get_resource(s, perm.resource_id).name
    first = explain.resource_access(s, resource, perm.action, user_limit=100)
    ms = median_ms(lambda: explain.resource_access(s, resource, perm.action, user_limit=100), runs)
    show(
        f"resource_access first page of 100 + counts ({first.listed_users:,} users)",
        ms,
    )
    after = first.next_after
    ms = median_ms(
        lambda: explain.resource_access(
            s, resource, perm.action, user_limit=100, after=after, counts=False
        ),
        runs,
    )
    show("resource_access next page of 100 (no counts)", ms)
    total = lookup.role_member_count(s, big_role)
    ms = median_ms(lambda: lookup.role_members_page(s, big_role, None, 200), runs)
    show(f"role_members_page, 200 of the biggest role ({total:,} members)", ms)
    ms = median_ms(lambda: lookup.matrix_roles_page(s, "", None, 500), runs)
    show("matrix_roles_page, 500 roles", ms)
    ms = median_ms(lambda: lookup.matrix_permissions_page(s, "", None, 500), runs)
    show("matrix_permissions_page, 500 permissions", ms)


def bench_matrix(db: Database, runs: int) -> None:
    from PySide6.QtWidgets import QApplication

    from accessguard_gui.ui.access.matrix import RolePermissionMatrix
    from accessguard_gui.ui.pending import PendingStore

    app = QApplication.instance() or QApplication([])
    print("role x permission matrix")
    with db.read() as s:
        axes = median_ms(lambda: (lookup.matrix_roles(s), lookup.matrix_permissions(s)), runs)
        show("both axes (ids + labels of all roles and permissions)", axes)
        role_ids = [r for r, _ in lookup.matrix_roles(s)][:32]
        perm_ids = [p for p, _ in lookup.matrix_permissions(s)][:32]
        block = median_ms(lambda: lookup.matrix_block(s, role_ids, perm_ids), runs)
        show("one 32 x 32 block (direct + inherited)", block)
    store = PendingStore()
    t0 = time.perf_counter()
    widget = RolePermissionMatrix(db, store)
    widget.resize(1200, 800)
    widget.show()
    app.processEvents()  # first paint: asks for the visible blocks
    widget.model.load_wanted()
    app.processEvents()  # second paint with the data
    first = (time.perf_counter() - t0) * 1000
    model = widget.model
    show(
        f"first paint, {model.rowCount():,} x {model.columnCount():,} cells",
        first,
        f"blocks fetched: {model.blocks_loaded}",
    )
    t0 = time.perf_counter()
    widget.view.scrollTo(model.index(model.rowCount() // 2, model.columnCount() // 2))
    app.processEvents()
    model.load_wanted()
    app.processEvents()
    show(
        "jump to the middle and paint",
        (time.perf_counter() - t0) * 1000,
        f"blocks fetched: {model.blocks_loaded}",
    )
    widget.close()


def bench_matrix_pending(db: Database) -> None:
    """Repaint of the matrix with 100 pending grants: the inherited marks of the visible
    blocks come from the pending state (a rolled-back preview applying the 100 edits)."""
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QApplication

    from accessguard_gui.ui.access.matrix import RolePermissionMatrix
    from accessguard_gui.ui.pending import PendingStore

    app = QApplication.instance() or QApplication([])
    store = PendingStore()
    widget = RolePermissionMatrix(db, store)
    widget.resize(1200, 800)
    widget.show()
    app.processEvents()
    widget.model.load_wanted()
    app.processEvents()
    model = widget.model
    labels = [model.headerData(c, Qt.Orientation.Horizontal) for c in range(100)]
    roles = [model.headerData(r, Qt.Orientation.Vertical) for r in range(100)]
    store.push_many(
        Grant(role, tuple(label.rsplit(": ", 1)))  # type: ignore[arg-type]
        for role, label in zip(roles, labels, strict=True)
    )
    before = model.blocks_loaded
    t0 = time.perf_counter()
    app.processEvents()
    model.load_wanted()
    app.processEvents()
    show(
        f"matrix repaint with {len(store)} pending grants",
        (time.perf_counter() - t0) * 1000,
        f"blocks fetched: {model.blocks_loaded - before}",
    )
    widget.close()


def _scenario(
    kind: str, rng: random.Random, users: list[str], perms: list[tuple[str, str]], roles: list[str]
) -> list[Edit]:
    """ "typical": grants and assignments with a few inheritance changes (what an
    administrator does in one sitting); "heavy": a third of the edits join two random
    roles by inheritance, each handing a whole closure of permissions to every member."""
    edits: list[Edit] = []
    for i in range(100):
        if kind == "heavy":
            pick = i % 3
        else:
            pick = 1 if i % 20 == 0 else (0 if i % 2 else 2)
        if pick == 0:
            edits.append(Grant(rng.choice(roles), rng.choice(perms)))
        elif pick == 1:
            a, b = rng.sample(roles, 2)
            edits.append(Inherit(a, b))
        else:
            edits.append(Assign(rng.choice(users), rng.choice(roles)))
    return edits


def bench_review(db_path: Path, rng: random.Random) -> None:
    from accessguard_gui.core import changes
    from accessguard_gui.core.errors import AccessGuardError

    print("pending edits (throwaway copy of the file)")
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "copy.db"
        shutil.copyfile(db_path, copy)
        db = Database(copy, operator="bench")
        try:
            bench_matrix_pending(db)
            users, perms, roles = sample(db, rng)
            for kind in ("typical", "heavy"):
                edits = _scenario(kind, rng, users, perms, roles)
                kept: list[Edit] = []  # only edits that apply: the whole list could be saved
                with db.preview() as s:
                    for edit in edits:
                        try:
                            changes.apply_edit(s, edit)
                        except AccessGuardError:
                            continue
                        kept.append(edit)
                t0 = time.perf_counter()
                report = impact.review(db, kept)
                ms = (time.perf_counter() - t0) * 1000
                checked = sum(e.users_checked for e in report.per_edit)
                show(
                    f"impact.review, {kind}: {len(kept)} edits",
                    ms,
                    f"user checks {checked:,}; net +{report.net_gained:,} / -{report.net_lost:,}",
                )
                t0 = time.perf_counter()
                with db.preview() as s:
                    changes.apply_edits(s, kept)
                show(
                    f"  (applying the same {len(kept)} edits alone)",
                    (time.perf_counter() - t0) * 1000,
                )
        finally:
            db.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, default=ROOT / "bench" / "data" / "100k.db")
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument(
        "--no-review", action="store_true", help="skip the review (it copies the file)"
    )
    args = parser.parse_args()
    if not args.db.exists():
        print(f"{args.db} is missing: run bench/bench_core.py (or core.generate) first")
        return 1
    rng = random.Random(args.seed)
    db = Database(args.db, read_only=True)
    print(f"database: {args.db}")
    try:
        bench_queries(db, args.runs, rng)
        bench_matrix(db, max(5, args.runs // 3))
    finally:
        db.close()
    if not args.no_review:
        bench_review(args.db, rng)
    return 0


if __name__ == "__main__":
    sys.exit(main())
