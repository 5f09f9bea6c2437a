"""Keyset pages of the long access lists: every row once, in order, with exact counts."""

from __future__ import annotations

from typing import Any

import pytest

from accessguard_gui.core import lookup, rbac
from accessguard_gui.core.database import Database


@pytest.fixture
def crowd(db: Database) -> Database:
    """Role Staff with 23 members (names in mixed case), 12 roles, 3 resources x 4 actions."""
    with db.action("setup") as s:
        rbac.add_role(s, "Staff")
        for i in range(23):
            name = f"{'U' if i % 3 == 0 else 'u'}ser{i:02d}"
            rbac.add_user(s, name)
            rbac.assign_user(s, name, "Staff")
        rbac.add_user(s, "outsider")
        for i in range(11):
            rbac.add_role(s, f"{'Team' if i % 2 else 'team'} {i:02d}")
        for r in ("Door", "door b", "Vault"):
            rbac.add_resource(s, r)
            for a in ("open", "close", "audit", "admin"):
                rbac.add_permission(s, r, a)
    return db


def _walk(fetch: Any, limit: int) -> list[list[Any]]:
    pages = []
    after = None
    while True:
        page = fetch(after, limit)
        pages.append(list(page.rows))
        if page.last:
            return pages
        after = page.next_after


def test_members_come_page_by_page_in_name_order(crowd: Database) -> None:
    with crowd.read() as s:
        pages = _walk(lambda after, n: lookup.role_members_page(s, "staff", after, n), 5)
        assert lookup.role_member_count(s, "Staff") == 23
    assert [len(p) for p in pages] == [5, 5, 5, 5, 3]
    names = [a.username for p in pages for a in p]
    assert names == sorted(
        (f"{'U' if i % 3 == 0 else 'u'}ser{i:02d}" for i in range(23)), key=str.lower
    )
    assert {a.role for p in pages for a in p} == {"Staff"}


def test_an_exact_multiple_ends_without_an_empty_page(crowd: Database) -> None:
    with crowd.read() as s:
        pages = _walk(lambda after, n: lookup.role_members_page(s, "Staff", after, n), 23)
    assert [len(p) for p in pages] == [23]


def test_matrix_axes_page_like_the_whole_lists(crowd: Database) -> None:
    with crowd.read() as s:
        for text in ("", "team", "1"):
            pages = _walk(lambda after, n, t=text: lookup.matrix_roles_page(s, t, after, n), 4)
            assert [r for p in pages for r in p] == lookup.matrix_roles(s, text)
            assert lookup.matrix_role_count(s, text) == len(lookup.matrix_roles(s, text))
        for text in ("", "door", "door: a", "vault:", "ad"):
            pages = _walk(
                lambda after, n, t=text: lookup.matrix_permissions_page(s, t, after, n), 5
            )
            assert [r for p in pages for r in p] == lookup.matrix_permissions(s, text), text
            assert lookup.matrix_permission_count(s, text) == len(
                lookup.matrix_permissions(s, text)
            )


def test_a_roles_grants_come_page_by_page_like_role_permissions(crowd: Database) -> None:
    """Direct grants by (resource name key, action): the same rows and order as
    rbac.role_permissions, page by page, for any page size; and which are in the file."""
    with crowd.action("grants") as s:
        for r in ("Vault", "door b", "Door"):
            for a in ("open", "close", "audit", "admin"):
                rbac.grant_permission(s, "Staff", (r, a))
    with crowd.read() as s:
        whole = rbac.role_permissions(s, "Staff")
        assert len(whole) == 12 and lookup.role_grant_count(s, "staff") == 12
        for size in (1, 5, 12, 13):
            pages = _walk(lambda after, n: lookup.role_grants_page(s, "Staff", after, n), size)
            assert [g for p in pages for g in p] == whole, size
        ids = [g.id for g in whole]
        assert lookup.saved_grants(s, "Staff", ids[:3] + [-1]) == set(ids[:3])
        assert lookup.role_grants_page(s, "Team 01").rows == ()
        assert lookup.role_grant_count(s, "Team 01") == 0
