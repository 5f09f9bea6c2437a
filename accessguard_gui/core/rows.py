"""Immutable snapshots of records, safe to keep after the session that read them closed.

Windows and table models hold these, never live ORM objects (architecture.md).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime

from .models import Permission, Resource, Role, SsdSet, User, UserRole


@dataclass(frozen=True, slots=True)
class UserRow:
    id: int
    username: str
    display_name: str
    email: str | None
    active: bool
    has_password: bool
    created_at: datetime
    updated_at: datetime
    version: int

    @classmethod
    def of(cls, user: User) -> UserRow:
        return cls(
            id=user.id,
            username=user.username,
            display_name=user.display_name,
            email=user.email,
            active=user.active,
            has_password=user.password_hash is not None,
            created_at=user.created_at,
            updated_at=user.updated_at,
            version=user.version,
        )


@dataclass(frozen=True, slots=True)
class RoleRow:
    id: int
    name: str
    description: str
    version: int

    @classmethod
    def of(cls, role: Role) -> RoleRow:
        return cls(id=role.id, name=role.name, description=role.description, version=role.version)


@dataclass(frozen=True, slots=True)
class ResourceRow:
    id: int
    name: str
    description: str
    version: int

    @classmethod
    def of(cls, resource: Resource) -> ResourceRow:
        return cls(
            id=resource.id,
            name=resource.name,
            description=resource.description,
            version=resource.version,
        )


@dataclass(frozen=True, slots=True)
class PermissionRow:
    id: int
    resource_id: int
    resource: str
    action: str
    description: str
    version: int

    @classmethod
    def of(cls, permission: Permission, resource_name: str) -> PermissionRow:
        return cls(
            id=permission.id,
            resource_id=permission.resource_id,
            resource=resource_name,
            action=permission.action,
            description=permission.description,
            version=permission.version,
        )

    @property
    def label(self) -> str:
        return f"{self.resource}: {self.action}"


@dataclass(frozen=True, slots=True)
class AssignmentRow:
    user_id: int
    username: str
    role_id: int
    role: str
    granted_at: datetime
    granted_by: str
    expires_at: datetime | None
    version: int

    @classmethod
    def of(cls, assignment: UserRole, username: str, role: str) -> AssignmentRow:
        return cls(
            user_id=assignment.user_id,
            username=username,
            role_id=assignment.role_id,
            role=role,
            granted_at=assignment.granted_at,
            granted_by=assignment.granted_by,
            expires_at=assignment.expires_at,
            version=assignment.version,
        )

    def expired(self, now: datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= now


@dataclass(frozen=True, slots=True)
class SsdSetRow:
    id: int
    name: str
    cardinality: int
    description: str
    roles: tuple[str, ...]
    version: int

    @classmethod
    def of(cls, ssd: SsdSet, roles: tuple[str, ...]) -> SsdSetRow:
        return cls(
            id=ssd.id,
            name=ssd.name,
            cardinality=ssd.cardinality,
            description=ssd.description,
            roles=roles,
            version=ssd.version,
        )


@dataclass(frozen=True, slots=True)
class SsdViolation:
    """A user authorized for ``cardinality`` or more roles of a separation-of-duty set."""

    ssd_set: str
    cardinality: int
    username: str
    roles: tuple[str, ...]
    # (set id, user id): where the next page of violations starts (rbac.ssd_violations).
    page_key: tuple[int, int] = field(default=(0, 0), compare=False)


class DenyReason(enum.Enum):
    UNKNOWN_USER = "unknown user"
    UNKNOWN_RESOURCE = "unknown resource"
    UNKNOWN_ACTION = "the resource has no such action"
    INACTIVE_USER = "inactive user"
    EXPIRED_ASSIGNMENT = "expired assignment"
    NO_PATH = "no role grants it"


@dataclass(frozen=True, slots=True)
class AccessPath:
    """How a user reaches a permission: the assigned role first, then each role it
    inherits from, ending with the role that holds the permission directly."""

    roles: tuple[str, ...]
    expires_at: datetime | None = None
    expired: bool = False

    def describe(self, username: str, permission: str) -> str:
        return " \u2192 ".join((username, *self.roles, permission))


@dataclass(frozen=True, slots=True)
class AccessDecision:
    """The answer to "can user X do action Y on resource Z — and why?"."""

    allowed: bool
    username: str
    resource: str
    action: str
    reason: DenyReason | None = None
    paths: tuple[AccessPath, ...] = field(default_factory=tuple)
    # More paths exist than ``paths`` shows (only the shortest few are listed).
    more_paths: bool = False

    @property
    def permission(self) -> str:
        return f"{self.resource}: {self.action}"

    @property
    def granting_paths(self) -> tuple[AccessPath, ...]:
        return tuple(p for p in self.paths if not p.expired)

    def explanation(self) -> str:
        """A few sentences a person can read."""
        who = self.username
        if self.allowed:
            lines = [f"Allowed: {who} may {self.action} {self.resource} through:"]
            lines += ["  " + p.describe(who, self.permission) for p in self.granting_paths]
            if self.more_paths:
                lines.append("  \u2026 and further, longer or equally long paths.")
            return "\n".join(lines)
        head = {
            DenyReason.UNKNOWN_USER: f"Denied: there is no user named \u201c{who}\u201d.",
            DenyReason.UNKNOWN_RESOURCE: f"Denied: there is no resource named \u201c{self.resource}\u201d.",
            DenyReason.UNKNOWN_ACTION: (
                f"Denied: the resource {self.resource} has no action \u201c{self.action}\u201d."
            ),
            DenyReason.INACTIVE_USER: f"Denied: {who} is inactive; inactive users are granted nothing.",
            DenyReason.EXPIRED_ASSIGNMENT: (
                f"Denied: {who} had access only through assignments that have expired:"
            ),
            DenyReason.NO_PATH: f"Denied: none of {who}\u2019s roles grants {self.permission}.",
        }[self.reason or DenyReason.NO_PATH]
        lines = [head]
        shown = self.paths if self.reason is not DenyReason.INACTIVE_USER else self.granting_paths
        if self.reason is DenyReason.INACTIVE_USER and shown:
            lines.append("If the user were active, access would come through:")
        for p in shown:
            note = ""
            if p.expired and p.expires_at is not None:
                note = f" (expired {p.expires_at:%Y-%m-%d %H:%M} UTC)"
            lines.append("  " + p.describe(who, self.permission) + note)
        if self.more_paths and shown:
            lines.append("  \u2026 and further, longer or equally long paths.")
        return "\n".join(lines)
