"""SQLAlchemy 2 typed mappings of the AccessGuard schema.

Assignments and grants are association rows with ON DELETE CASCADE foreign keys, so
deleting a user, role, resource or permission removes its assignments in the same
transaction even when the delete bypasses the ORM. Editable rows carry a version number
(``version_id_col``) so that a save can tell that someone else changed the row meanwhile.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, validates
from sqlalchemy.types import TypeDecorator

from .keys import name_key as key_of
from .lookalike import skeleton_key

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend.

    SQLite has no time zones: values are stored as naive UTC text (sortable, comparable)
    and come back tagged as UTC. Aware values of other zones are converted on the way in.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; AccessGuard stores aware UTC datetimes")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _key_of(column: str) -> Any:
    """Column default for a ``*_key`` column: the key of the row's name, so that a Core
    insert that leaves the key out still stores the right one (migration 0004)."""

    def default(context: Any) -> str:  # a DefaultExecutionContext
        return key_of(context.get_current_parameters()[column])

    return default


def _skeleton_of(column: str) -> Any:
    """Column default for a ``*_skeleton`` column (migration 0005), like ``_key_of``."""

    def default(context: Any) -> str:
        return skeleton_key(context.get_current_parameters()[column])

    return default


def _skeleton_column(name_column: str) -> Any:
    """What the name looks like (core/lookalike.py): indexed, not unique — files written
    before 0005 may hold look-alikes; new names may not look like any other."""
    return mapped_column(Text, nullable=False, server_default="", default=_skeleton_of(name_column))


def _key_column(length: int, name_column: str) -> Any:
    """A name's comparison key (core/keys.py), unique by index. The server default ""
    exists only because SQLite cannot add a NOT NULL column without one; the key is
    always written with the name (ORM: ``validates``; Core inserts: the default)."""
    return mapped_column(
        String(length), nullable=False, server_default="", default=_key_of(name_column)
    )




class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), nullable=False)
    display_name: Mapped[str] = mapped_column(String(200), nullable=False)
    email: Mapped[str | None] = mapped_column(String(254))
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    password_hash: Mapped[str | None] = mapped_column(String(512))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow
    )
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    # Last: migration 0004 appended it, and bulk loaders insert rows by position.
    username_key: Mapped[str] = _key_column(192, "username")
    username_skeleton: Mapped[str] = _skeleton_column("username")  # 0005, after the key

    __mapper_args__ = {"version_id_col": version}

    @validates("username")
    def _set_key(self, _key: str, value: str) -> str:
        self.username_key = key_of(value)
        self.username_skeleton = skeleton_key(value)
        return value

    __table_args__ = (
        Index("uq_users_username_key", username_key, unique=True),
        Index("ix_users_username_skeleton", username_skeleton),
        Index("ix_users_display_name", display_name),
        Index("ix_users_email", email),
        # Every column the users table can be sorted by (migration 0003, core/browse.py).
        Index("ix_users_active", active),
        Index("ix_users_has_password", password_hash.is_not(None)),
        Index("ix_users_created_at", created_at),
        Index("ix_users_updated_at", updated_at),
    )


class Role(Base):
    __tablename__ = "roles"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow
    )
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    name_key: Mapped[str] = _key_column(300, "name")  # last: see User.username_key
    name_skeleton: Mapped[str] = _skeleton_column("name")  # 0005, after the key

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        Index("uq_roles_name_key", name_key, unique=True),
        Index("ix_roles_name_skeleton", name_skeleton),
    )

    @validates("name")
    def _set_key(self, _key: str, value: str) -> str:
        self.name_key = key_of(value)
        self.name_skeleton = skeleton_key(value)
        return value


class Resource(Base):
    __tablename__ = "resources"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow
    )
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    name_key: Mapped[str] = _key_column(600, "name")  # last: see User.username_key
    name_skeleton: Mapped[str] = _skeleton_column("name")  # 0005, after the key

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        Index("uq_resources_name_key", name_key, unique=True),
        Index("ix_resources_name_skeleton", name_skeleton),
    )

    @validates("name")
    def _set_key(self, _key: str, value: str) -> str:
        self.name_key = key_of(value)
        self.name_skeleton = skeleton_key(value)
        return value


class Permission(Base):
    """An action on a resource ("open" on "Door B2.14")."""

    __tablename__ = "permissions"

    id: Mapped[int] = mapped_column(primary_key=True)
    resource_id: Mapped[int] = mapped_column(
        ForeignKey("resources.id", ondelete="CASCADE"), nullable=False
    )
    action: Mapped[str] = mapped_column(String(64), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (UniqueConstraint("resource_id", "action"),)


class UserRole(Base):
    """User-to-role assignment (ANSI UA), with who granted it, when, and until when."""

    __tablename__ = "user_roles"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    role_id: Mapped[int] = mapped_column(
        ForeignKey("roles.id", ondelete="CASCADE"), primary_key=True
    )
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    granted_by: Mapped[str] = mapped_column(String(128), nullable=False, default="")
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    __mapper_args__ = {"version_id_col": version}
    # The primary key serves "roles of a user"; this serves "members of a role".
    __table_args__ = (Index("ix_user_roles_role_user", "role_id", "user_id"),)


class RolePermission(Base):
    """Permission-to-role grant (ANSI PA)."""

    __tablename__ = "role_permissions"

    role_id: Mapped[int] = mapped_column(
        ForeignKey("roles.id", ondelete="CASCADE"), primary_key=True
    )
    permission_id: Mapped[int] = mapped_column(
        ForeignKey("permissions.id", ondelete="CASCADE"), primary_key=True
    )
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    granted_by: Mapped[str] = mapped_column(String(128), nullable=False, default="")

    __table_args__ = (Index("ix_role_permissions_permission_role", "permission_id", "role_id"),)


class RoleInheritance(Base):
    """``role`` inherits from ``inherits_from``: it gets every permission of that role.

    In ANSI terms ``role`` is the senior (ascendant) and ``inherits_from`` the junior
    (descendant) of the pair.
    """

    __tablename__ = "role_inheritance"

    role_id: Mapped[int] = mapped_column(
        ForeignKey("roles.id", ondelete="CASCADE"), primary_key=True
    )
    inherits_from_id: Mapped[int] = mapped_column(
        ForeignKey("roles.id", ondelete="CASCADE"), primary_key=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)

    __table_args__ = (
        CheckConstraint("role_id <> inherits_from_id", name="no_self_inheritance"),
        Index("ix_role_inheritance_inherits_from_role", "inherits_from_id", "role_id"),
    )


class SsdSet(Base):
    """A static separation-of-duty set: no user may be authorized for ``cardinality`` or
    more of its roles."""

    __tablename__ = "ssd_sets"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    cardinality: Mapped[int] = mapped_column(Integer, nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    name_key: Mapped[str] = _key_column(300, "name")  # last: see User.username_key
    name_skeleton: Mapped[str] = _skeleton_column("name")  # 0005, after the key

    __mapper_args__ = {"version_id_col": version}

    @validates("name")
    def _set_key(self, _key: str, value: str) -> str:
        self.name_key = key_of(value)
        self.name_skeleton = skeleton_key(value)
        return value

    __table_args__ = (
        Index("uq_ssd_sets_name_key", name_key, unique=True),
        Index("ix_ssd_sets_name_skeleton", name_skeleton),
        CheckConstraint("cardinality >= 2", name="cardinality_at_least_2"),
    )


class SsdSetRole(Base):
    __tablename__ = "ssd_set_roles"

    ssd_set_id: Mapped[int] = mapped_column(
        ForeignKey("ssd_sets.id", ondelete="CASCADE"), primary_key=True
    )
    role_id: Mapped[int] = mapped_column(
        ForeignKey("roles.id", ondelete="CASCADE"), primary_key=True
    )

    __table_args__ = (Index("ix_ssd_set_roles_role", "role_id"),)


class AuditEntry(Base):
    """One committed change: who, when, in which user action, to which record, before/after.

    Append-only: the app never updates or deletes these rows (triggers refuse it, and
    REPLACE), and each row is chained to the one before it by ``hash``.
    ``before`` and ``after`` hold JSON objects of the changed record's fields.
    """

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    operator: Mapped[str] = mapped_column(String(128), nullable=False)
    action: Mapped[str] = mapped_column(String(200), nullable=False)
    operation: Mapped[str] = mapped_column(String(16), nullable=False)  # insert/update/delete
    record_type: Mapped[str] = mapped_column(String(32), nullable=False)
    record_key: Mapped[str] = mapped_column(String(400), nullable=False)
    before: Mapped[str | None] = mapped_column(Text)
    after: Mapped[str | None] = mapped_column(Text)
    # SHA-256 (hex) over this entry's content and the previous entry's hash (core/audit.py,
    # migration 0005): a changed, removed or forged entry breaks the chain.
    hash: Mapped[str | None] = mapped_column(String(64))
    # Why, as typed at Save (optional, migration 0008); part of the hashed content.
    reason: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        Index("ix_audit_log_at", "at"),
        Index("ix_audit_log_operator_at", "operator", "at"),
        Index("ix_audit_log_record", "record_type", "record_key"),
    )


AUDITED_TYPES: dict[type[Any], str] = {
    User: "user",
    Role: "role",
    Resource: "resource",
    Permission: "permission",
    UserRole: "assignment",
    RolePermission: "grant",
    RoleInheritance: "inheritance",
    SsdSet: "ssd_set",
    SsdSetRole: "ssd_member",
}

# Access review campaigns (migration 0006) live in their own module on this Base, imported
# here so that Base.metadata always describes the whole schema.
# The settings table (migration 0009) likewise.
from . import setting_models as _setting_models  # noqa: E402, F401
from .governance import campaign_models as _campaign_models  # noqa: E402, F401
