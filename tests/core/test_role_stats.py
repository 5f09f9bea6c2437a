"""Direct and effective members and permissions of a role (issue 12, item 8)."""

from __future__ import annotations

from accessguard_gui.core import lookup, rbac, role_stats
from accessguard_gui.core.database import Database


def _office(db: Database) -> dict[str, int]:
    """Base ← Staff ← Auditor, Base ← Operator, Admin inherits Staff and Operator."""
    with db.action("office") as s:
        for name in ("Base", "Staff", "Operator", "Auditor", "Admin"):
            rbac.add_role(s, name)
        rbac.add_inheritance(s, "Staff", "Base")
        rbac.add_inheritance(s, "Operator", "Base")
        rbac.add_inheritance(s, "Auditor", "Staff")
        rbac.add_inheritance(s, "Admin", "Staff")
        rbac.add_inheritance(s, "Admin", "Operator")
        rbac.add_resource(s, "Door")
        rbac.add_resource(s, "Ledger")
        rbac.add_permission(s, "Door", "open")
        rbac.add_permission(s, "Ledger", "read")
        rbac.grant_permission(s, "Base", ("Door", "open"))
        rbac.grant_permission(s, "Staff", ("Ledger", "read"))
        rbac.grant_permission(s, "Auditor", ("Ledger", "read"))
        for user, role in (("alice", "Admin"), ("bob", "Auditor"), ("carol", "Staff")):
            rbac.add_user(s, user)
            rbac.assign_user(s, user, role)
        rbac.assign_user(s, "alice", "Auditor")  # two paths to Staff: counted once
        return {name: rbac.get_role(s, name).id for name in ("Base", "Staff", "Auditor")}


def test_counts_direct_and_in_all(db: Database) -> None:
    ids = _office(db)
    with db.read() as s:
        staff = role_stats.member_counts(s, ids["Staff"])
        base = role_stats.member_counts(s, ids["Base"])
    assert (staff.direct, staff.total) == (1, 3)
    assert staff.sentence("Staff") == "Staff: 1 direct, 3 in all"
    assert (base.direct, base.total, base.inherited_only) == (0, 3, 3)


def test_effective_members_say_through_which_role_and_page(db: Database) -> None:
    ids = _office(db)
    with db.read() as s:
        first = role_stats.effective_members_page(s, ids["Staff"], limit=2)
        rest = role_stats.effective_members_page(s, ids["Staff"], first.next_after, limit=2)
        direct = role_stats.effective_members_page(s, ids["Staff"], direct_only=True)
    assert [m.label for m in first.rows + rest.rows] == [
        "alice  (via Admin)",
        "bob  (via Auditor)",
        "carol",
    ]
    assert rest.next_after is None
    assert [m.username for m in direct.rows] == ["carol"]


def test_effective_permissions_mark_inherited(db: Database) -> None:
    ids = _office(db)
    with db.read() as s:
        auditor = role_stats.effective_permissions(s, ids["Auditor"])
        own = role_stats.effective_permissions(s, ids["Auditor"], direct_only=True)
        counts = role_stats.permission_counts(s, ids["Auditor"])
    # Ledger: read is both own and inherited from Staff: shown once, as own.
    assert [p.label for p in auditor] == ["Door: open  (inherited from Base)", "Ledger: read"]
    assert [p.label for p in own] == ["Ledger: read"]
    assert counts == (1, 2)


def test_held_marks_direct_and_inherited(db: Database) -> None:
    ids = _office(db)
    with db.read() as s:
        users = {rbac.get_user(s, n).id: n for n in ("alice", "bob", "carol")}
        alice = next(i for i, n in users.items() if n == "alice")
        staff_members = role_stats.held_users(s, ids["Staff"], list(users))
        alice_roles = role_stats.held_roles(s, alice, list(ids.values()))
        door = rbac.get_permission(s, ("Door", "open")).id
        ledger = rbac.get_permission(s, ("Ledger", "read")).id
        auditor_perms = role_stats.held_permissions(s, ids["Auditor"], [door, ledger])
        auditor_parents = role_stats.held_parents(s, ids["Auditor"], list(ids.values()))
    assert {users[u]: m for u, m in staff_members.items()} == {
        "carol": "already a member",
        "alice": "holds it through an inheriting role",
        "bob": "holds it through an inheriting role",
    }
    assert alice_roles == {
        ids["Auditor"]: "already assigned",
        ids["Staff"]: "held through inheritance",
        ids["Base"]: "held through inheritance",
    }
    assert auditor_perms == {ledger: "already granted", door: "inherited"}
    assert auditor_parents == {
        ids["Staff"]: "already inherits from it",
        ids["Base"]: "inherited through another role",
    }
    marked = role_stats.mark_held([lookup.Choice(ledger, "Ledger: read")], auditor_perms)
    assert isinstance(marked[0], role_stats.MarkedChoice) and marked[0].final


def test_dense_and_sparse_member_plans_give_the_same_pages(db: Database) -> None:
    ids = _office(db)
    with db.read() as s:
        for role in ("Base", "Staff", "Auditor"):
            for direct_only in (False, True):
                pages = []
                for holders in (None, role_stats.DENSE_MEMBERS + 1):
                    first = role_stats.effective_members_page(
                        s, ids[role], limit=1, direct_only=direct_only, holders=holders
                    )
                    rest = role_stats.effective_members_page(
                        s,
                        ids[role],
                        first.next_after,
                        limit=5,
                        direct_only=direct_only,
                        holders=holders,
                    )
                    pages.append((first.rows, first.next_after, rest.rows))
                assert pages[0] == pages[1], (role, direct_only)


def test_effective_permissions_page_by_keyset_with_no_cap(db: Database) -> None:
    """A role's permissions are read a page at a time (issue 11 item 4): every page
    together is the whole list, in order, none skipped — same-named actions of
    different resources and resources whose names differ by case included."""
    with db.action("wide") as s:
        rbac.add_role(s, "Wide")
        rbac.add_role(s, "Junior")
        rbac.add_inheritance(s, "Wide", "Junior")
        for res in ("alpha", "Beta", "gamma"):
            rbac.add_resource(s, res)
            for k in range(7):
                rbac.add_permission(s, res, f"act{k}")
                role = "Wide" if k % 2 else "Junior"
                rbac.grant_permission(s, role, (res, f"act{k}"))
        wide = rbac.get_role(s, "Wide").id
    with db.read() as s:
        whole = role_stats.effective_permissions(s, wide, limit=10_000)
        pages, after = [], None
        while True:
            page = role_stats.effective_permissions_page(s, wide, after, 4)
            pages += page.rows
            after = page.next_after
            if after is None:
                break
        own = role_stats.effective_permissions_page(s, wide, None, 2, direct_only=True)
    assert len(whole) == 21 and pages == whole
    assert [p.direct for p in own.rows] == [True, True] and own.next_after is not None
