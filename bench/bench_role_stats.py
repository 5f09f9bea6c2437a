"""Figures for core/role_stats.py (issue 12, item 8) on a generated database.

Usage: .venv/bin/python bench/bench_role_stats.py [bench/data/1m.db]
Prints, for the role with most direct members and the role with most inheriting roles,
the time of the direct/effective counts, the first member page and the effective
permissions. No assertions: figures only.
"""

from __future__ import annotations

import sys
import time

from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from accessguard_gui.core import role_stats
from accessguard_gui.core.models import Role, RoleInheritance, UserRole


def timed(label: str, fn):  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    result = fn()
    print(f"  {label}: {1000 * (time.perf_counter() - start):.1f} ms")
    return result


def main() -> None:
    path = sys.argv[1] if len(sys.argv) > 1 else "bench/data/1m.db"
    engine = create_engine(f"sqlite:///file:{path}?mode=ro&uri=true")
    with Session(engine) as s:
        busiest = s.execute(
            select(UserRole.role_id).group_by(UserRole.role_id).order_by(func.count().desc()).limit(1)
        ).scalar_one()
        deepest = s.execute(
            select(RoleInheritance.inherits_from_id)
            .group_by(RoleInheritance.inherits_from_id)
            .order_by(func.count().desc())
            .limit(1)
        ).scalar_one()
        for rid in (busiest, deepest):
            name = s.get(Role, rid).name  # type: ignore[union-attr]
            print(f"role {name} (id {rid})")
            counts = timed("member counts", lambda rid=rid: role_stats.member_counts(s, rid))
            print("   ", counts.sentence(name))
            page = timed("first member page", lambda rid=rid: role_stats.effective_members_page(s, rid))
            timed("page after", lambda rid=rid, page=page: role_stats.effective_members_page(s, rid, page.next_after))
            dense = role_stats.DENSE_MEMBERS + 1
            timed(
                "first member page, walking users (the dense-role plan, forced)",
                lambda rid=rid, dense=dense: role_stats.effective_members_page(
                    s, rid, holders=dense
                ),
            )
            perms = timed("effective permissions", lambda rid=rid: role_stats.effective_permissions(s, rid))
            print(f"    {len(perms)} permissions, {sum(not p.direct for p in perms)} inherited")
            timed("permission counts", lambda rid=rid: role_stats.permission_counts(s, rid))




def held_marks(path: str) -> None:
    """The picker marks for a page of 200 choices."""
    from sqlalchemy import select as sel

    from accessguard_gui.core.models import Permission, User

    engine = create_engine(f"sqlite:///file:{path}?mode=ro&uri=true")
    with Session(engine) as s:
        rid = s.execute(sel(UserRole.role_id).limit(1)).scalar_one()
        uid = s.execute(sel(UserRole.user_id).limit(1)).scalar_one()
        users = list(s.scalars(sel(User.id).limit(200)))
        roles = list(s.scalars(sel(Role.id).limit(200)))
        perms = list(s.scalars(sel(Permission.id).limit(200)))
        print("picker marks (200 choices)")
        timed("held_users", lambda: role_stats.held_users(s, rid, users))
        timed("held_roles", lambda: role_stats.held_roles(s, uid, roles))
        timed("held_permissions", lambda: role_stats.held_permissions(s, rid, perms))
        timed("held_parents", lambda: role_stats.held_parents(s, rid, roles))


if __name__ == "__main__":
    main()
    held_marks(sys.argv[1] if len(sys.argv) > 1 else "bench/data/1m.db")
