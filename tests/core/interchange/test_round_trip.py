"""Export → import into an empty file keeps every record and relation (hypothesis), also
through the copy path that server databases use."""

from __future__ import annotations

import os
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import aliased

from accessguard_gui.core import rbac
from accessguard_gui.core.database import Database
from accessguard_gui.core.errors import AccessGuardError
from accessguard_gui.core.interchange.csv_dir import CsvDirectorySource, write
from accessguard_gui.core.interchange.export import ExportOptions, database_records
from accessguard_gui.core.interchange.pipeline import Mode, import_source
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
    utcnow,
)

NOW = utcnow().replace(microsecond=0)
EXAMPLES = int(os.environ.get("AG_PROPERTY_EXAMPLES", "25"))

# Texts a spreadsheet would run, quotes, commas, line breaks, non-ASCII: all must survive.
TEXTS = st.sampled_from([
    "", "plain", "=1+1", "+49 30 1234", "-minus", "@at", "'=quoted", "a, \"b\"",
    "two\nlines", "\u00c4rzte \u00fcber Stra\u00dfe", "\u65e5\u672c",
])
USERNAMES = st.sampled_from(["alice", "Bob", "carol.d", "dave-e", "erin_f", "frank@x", "g0"])
ROLES = st.sampled_from(["Staff", "Clerk", "Approver", "Lead", "Auditor", "\u00c4rzte"])
RESOURCES = st.sampled_from(["Ledger", "Door A", "CRM", "Wiki: Space/1"])
ACTIONS = st.sampled_from(["read", "write", "open", "approve"])


def relations(db: Database) -> dict[str, set[tuple[Any, ...]]]:
    """Every record and relation by names: what a round trip must keep."""
    parent = aliased(Role)
    with db.read() as s:
        return {
            "users": set(s.execute(select(User.username, User.display_name, User.email,
                                          User.active, User.password_hash)).all()),
            "roles": set(s.execute(select(Role.name, Role.description)).all()),
            "parents": set(s.execute(
                select(Role.name, parent.name)
                .join(RoleInheritance, RoleInheritance.role_id == Role.id)
                .join(parent, parent.id == RoleInheritance.inherits_from_id)).all()),
            "resources": set(s.execute(select(Resource.name, Resource.description)).all()),
            "permissions": set(s.execute(
                select(Resource.name, Permission.action, Permission.description)
                .join(Permission, Permission.resource_id == Resource.id)).all()),
            "assignments": set(s.execute(
                select(User.username, Role.name, UserRole.expires_at)
                .join(UserRole, UserRole.user_id == User.id)
                .join(Role, Role.id == UserRole.role_id)).all()),
            "grants": set(s.execute(
                select(Role.name, Resource.name, Permission.action)
                .join(RolePermission, RolePermission.role_id == Role.id)
                .join(Permission, Permission.id == RolePermission.permission_id)
                .join(Resource, Resource.id == Permission.resource_id)).all()),
            "ssd": set(s.execute(select(SsdSet.name, SsdSet.cardinality,
                                        SsdSet.description)).all()),
            "members": set(s.execute(
                select(SsdSet.name, Role.name)
                .join(SsdSetRole, SsdSetRole.ssd_set_id == SsdSet.id)
                .join(Role, Role.id == SsdSetRole.role_id)).all()),
        }


operations = st.lists(
    st.one_of(
        st.tuples(st.just("user"), USERNAMES, TEXTS, st.booleans(), st.booleans()),
        st.tuples(st.just("role"), ROLES, TEXTS),
        st.tuples(st.just("resource"), RESOURCES, TEXTS),
        st.tuples(st.just("permission"), RESOURCES, ACTIONS, TEXTS),
        st.tuples(st.just("assign"), USERNAMES, ROLES, st.sampled_from([None, -3, 30])),
        st.tuples(st.just("grant"), ROLES, RESOURCES, ACTIONS),
        st.tuples(st.just("inherit"), ROLES, ROLES),
        st.tuples(st.just("ssd"), st.sampled_from(["SoD 1", "=SoD"]),
                  st.lists(ROLES, min_size=2, max_size=4, unique=True), TEXTS),
    ),
    max_size=40,
)


def build(db: Database, ops: list[tuple[Any, ...]]) -> None:
    """Apply each operation through the core API; the ones the rules refuse are skipped."""
    for op in ops:
        try:
            with db.action("Build") as s:
                kind = op[0]
                if kind == "user":
                    shown = op[2].replace("\n", " ").strip() or None
                    rbac.add_user(s, op[1], shown, active=op[3],
                                  email=f"{op[1].split('@')[0]}@example.org" if op[4] else None)
                elif kind == "role":
                    rbac.add_role(s, op[1], op[2])
                elif kind == "resource":
                    rbac.add_resource(s, op[1], op[2])
                elif kind == "permission":
                    rbac.add_permission(s, op[1], op[2], op[3])
                elif kind == "assign":
                    expiry = None if op[3] is None else NOW + timedelta(days=op[3])
                    rbac.assign_user(s, op[1], op[2], expires_at=expiry)
                elif kind == "grant":
                    rbac.grant_permission(s, op[1], (op[2], op[3]))
                elif kind == "inherit":
                    rbac.add_inheritance(s, op[1], op[2])
                else:
                    rbac.create_ssd_set(s, op[1], op[2], 2, op[3])
        except AccessGuardError:
            pass


@settings(max_examples=EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(operations)
def test_export_then_import_keeps_every_relation(ops: list[tuple[Any, ...]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        with Database(folder / "a.db", operator="tester") as source:
            build(source, ops)
            write(database_records(source, with_password_hashes=True), folder / "csv",
                  ExportOptions(with_password_hashes=True))
            expected = relations(source)
        with Database(folder / "b.db", operator="tester") as copy:
            plan, _ = import_source(copy, CsvDirectorySource(folder / "csv"), Mode.MIRROR)
            plan.close()
            assert relations(copy) == expected
        # A server database is checked through a copy of its tables: same outcome.
        with Database("sqlite://", operator="tester") as memory:
            plan, _ = import_source(memory, CsvDirectorySource(folder / "csv"))
            plan.close()
            assert relations(memory) == expected
