"""The organisation of a database as a record stream, for the format tests."""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import select
from sqlalchemy.orm import aliased

from accessguard_gui.core.database import Database
from accessguard_gui.core.interchange import records as r
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


def organisation_records(db: Database, *, password_hashes: bool = True) -> Iterator[r.Record]:
    """Every record, table by table, users first (what export.py yields)."""
    with db.read() as s:
        for u in s.scalars(select(User).order_by(User.id)):
            yield r.UserRecord(u.username, u.display_name, u.email, u.active,
                               u.password_hash if password_hashes else None)
        for role in s.scalars(select(Role).order_by(Role.id)):
            yield r.RoleRecord(role.name, role.description)
        parent = aliased(Role)
        for a, b in s.execute(
            select(Role.name, parent.name)
            .join(RoleInheritance, RoleInheritance.role_id == Role.id)
            .join(parent, parent.id == RoleInheritance.inherits_from_id)
        ):
            yield r.RoleParentRecord(a, b)
        for res in s.scalars(select(Resource).order_by(Resource.id)):
            yield r.ResourceRecord(res.name, res.description)
        for name, action, description in s.execute(
            select(Resource.name, Permission.action, Permission.description).join(
                Permission, Permission.resource_id == Resource.id
            )
        ):
            yield r.PermissionRecord(name, action, description)
        for user, role, expires in s.execute(
            select(User.username, Role.name, UserRole.expires_at)
            .join(UserRole, UserRole.user_id == User.id)
            .join(Role, Role.id == UserRole.role_id)
        ):
            yield r.UserRoleRecord(user, role, expires)
        for role, res, action in s.execute(
            select(Role.name, Resource.name, Permission.action)
            .join(RolePermission, RolePermission.role_id == Role.id)
            .join(Permission, Permission.id == RolePermission.permission_id)
            .join(Resource, Resource.id == Permission.resource_id)
        ):
            yield r.RolePermissionRecord(role, res, action)
        for ssd in s.scalars(select(SsdSet).order_by(SsdSet.id)):
            yield r.SsdSetRecord(ssd.name, ssd.cardinality, ssd.description)
        for name, role in s.execute(
            select(SsdSet.name, Role.name)
            .join(SsdSetRole, SsdSetRole.ssd_set_id == SsdSet.id)
            .join(Role, Role.id == SsdSetRole.role_id)
        ):
            yield r.SsdSetRoleRecord(name, role)
