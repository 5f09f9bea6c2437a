"""Export → import into an empty file through the JSON document keeps every relation
(hypothesis-generated organisations), and the document imports like any source."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import aliased

from accessguard_gui.core.database import Database
from accessguard_gui.core.interchange import json_doc
from accessguard_gui.core.interchange.export import ExportOptions, export_database
from accessguard_gui.core.interchange.json_doc import JsonSource
from accessguard_gui.core.interchange.pipeline import import_source
from accessguard_gui.core.interchange.records import (
    PermissionRecord,
    Record,
    ResourceRecord,
    RoleParentRecord,
    RolePermissionRecord,
    RoleRecord,
    SsdSetRecord,
    SsdSetRoleRecord,
    UserRecord,
    UserRoleRecord,
)
from accessguard_gui.core.models import (
    Permission,
    Resource,
    Role,
    RoleInheritance,
    RolePermission,
    SsdSet,
    SsdSetRole,
    User,
    UserRole,
)

BASE = datetime(2030, 1, 1, tzinfo=UTC)
HASH = "$argon2id$v=19$m=65536,t=3,p=4$YJ08mfs3qUzalO7ZnuJ7hw$+1zfXMo7tG52yrGZhDOiWob8NK7MuNmo9l4lAEkMx+0"
WORDS = st.sampled_from(["Ann", "Ärzte", "Zoë", "O'Neil", "Ops", "R&D", "Sales, EU", "İstanbul"])


@st.composite
def organisations(draw: Any) -> list[Record]:
    """A valid organisation: acyclic inheritance (a role inherits only from earlier
    roles), separation of duty over roles nobody holds, unique names ignoring case."""
    n_users = draw(st.integers(0, 8))
    n_roles = draw(st.integers(1, 7))
    n_resources = draw(st.integers(1, 4))
    users = [UserRecord(f"user{i}", f"{draw(WORDS)} {i}",
                        draw(st.none() | st.just(f"u{i}@example.org")), draw(st.booleans()),
                        draw(st.none() | st.just(HASH)))
             for i in range(n_users)]
    roles = [RoleRecord(f"{draw(WORDS)} role {i}", draw(st.sampled_from(["", "Line 1\nline 2"])))
             for i in range(n_roles)]
    spare = [RoleRecord(f"Rare {i}", "") for i in range(3)]
    resources = [ResourceRecord(f"Door {i}: {draw(WORDS)}", "") for i in range(n_resources)]
    actions = ["open", "read", "approve-invoice"]
    permissions = [PermissionRecord(r.name, a, draw(st.sampled_from(["", "=SUM(A1)"])))
                   for r in resources for a in actions[: draw(st.integers(1, 3))]]
    parents = sorted({
        RoleParentRecord(roles[i].name, roles[j].name)
        for i in range(n_roles) for j in range(i)
        if draw(st.booleans())
    }, key=str)
    expiries = st.none() | st.integers(1, 3000).map(lambda d: BASE + timedelta(hours=d))
    assignments = [UserRoleRecord(u.username, r.name, draw(expiries))
                   for u in users for r in roles if draw(st.integers(0, 3)) == 0]
    grants = [RolePermissionRecord(r.name, p.resource, p.action)
              for r in roles for p in permissions if draw(st.integers(0, 2)) == 0]
    ssd = [SsdSetRecord("Keep apart", 2, "two of three")] if draw(st.booleans()) else []
    members = [SsdSetRoleRecord("Keep apart", r.name) for r in spare] if ssd else []
    return [*users, *roles, *spare, *parents, *resources, *permissions, *assignments,
            *grants, *ssd, *members]


def snapshot(db: Database) -> dict[str, set[tuple[Any, ...]]]:
    """Every record and relation by name (what an administrator would compare)."""
    parent = aliased(Role)
    with db.read() as s:
        def rows(query: Any) -> set[tuple[Any, ...]]:
            return {tuple(r) for r in s.execute(query)}

        return {
            "users": rows(select(User.username, User.display_name, User.email, User.active,
                                 User.password_hash)),
            "roles": rows(select(Role.name, Role.description)),
            "parents": rows(select(Role.name, parent.name)
                            .join(RoleInheritance, RoleInheritance.role_id == Role.id)
                            .join(parent, parent.id == RoleInheritance.inherits_from_id)),
            "resources": rows(select(Resource.name, Resource.description)),
            "permissions": rows(select(Resource.name, Permission.action, Permission.description)
                                .join(Permission, Permission.resource_id == Resource.id)),
            "assignments": rows(select(User.username, Role.name, UserRole.expires_at)
                                .join(UserRole, UserRole.user_id == User.id)
                                .join(Role, Role.id == UserRole.role_id)),
            "grants": rows(select(Role.name, Resource.name, Permission.action)
                           .join(RolePermission, RolePermission.role_id == Role.id)
                           .join(Permission, Permission.id == RolePermission.permission_id)
                           .join(Resource, Resource.id == Permission.resource_id)),
            "ssd": rows(select(SsdSet.name, SsdSet.cardinality, SsdSet.description)),
            "ssd_roles": rows(select(SsdSet.name, Role.name)
                              .join(SsdSetRole, SsdSetRole.ssd_set_id == SsdSet.id)
                              .join(Role, Role.id == SsdSetRole.role_id)),
        }


def _import(path: Path, target: Path) -> Database:
    db = Database(target, create=True, operator="tester")
    plan, _result = import_source(db, JsonSource(path), "add")
    plan.close()
    return db


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(organisations())
def test_export_then_import_into_an_empty_file_keeps_every_relation(
    records: list[Record],
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        here = Path(folder)
        json_doc.write_file(records, here / "source.json")
        first = _import(here / "source.json", here / "first.db")
        export_database(first, here / "export.json", "json",
                        ExportOptions(with_password_hashes=True))
        second = _import(here / "export.json", here / "second.db")
        try:
            before, after = snapshot(first), snapshot(second)
            assert after == before
            # ... and the first file holds what the generated document said.
            assert len(before["users"]) == sum(isinstance(r, UserRecord) for r in records)
            assert len(before["assignments"]) == sum(
                isinstance(r, UserRoleRecord) for r in records)
            assert len(before["parents"]) == sum(isinstance(r, RoleParentRecord) for r in records)
            assert len(before["grants"]) == sum(
                isinstance(r, RolePermissionRecord) for r in records)
            assert len(before["ssd_roles"]) == sum(
                isinstance(r, SsdSetRoleRecord) for r in records)
        finally:
            first.close()
            second.close()
