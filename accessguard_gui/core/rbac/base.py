"""The rbac functions' common ground: record references, the unit of work (SAVEPOINTs and
batches), lookups by id or name, and optimistic version checks."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..errors import ConflictError, NotFoundError
from ..keys import name_key
from ..models import Permission, Resource, Role, SsdSet, User
from ..rows import PermissionRow, UserRow

Ref = int | str


PermissionRef = int | tuple[Ref, str]


# Inheritance chains longer than this are refused outright; real hierarchies are far
# shallower, and the bound keeps path searches finite even on a damaged file.
MAX_PATH_DEPTH = 32


# Paths shown by check_access: the shortest ones, rebuilt from the deduplicated role
# graph (core/paths.py); more only make the answer harder to read and the check slower.
MAX_EXPLAINED_PATHS = 5


_UNSET: Any = object()


@contextmanager
def _atomic(session: Session) -> Iterator[None]:
    """A SAVEPOINT: on any error, undo exactly what this call did, nothing more.

    Inside ``batch()`` the enclosing SAVEPOINT already guarantees all-or-nothing for the
    whole batch, so no SAVEPOINT per call: SQLite's RELEASE costs ~1.5 ms each with a large
    page cache, which made saving 1,000 edits take seconds.
    """
    if session.info.get(_BATCH_KEY):
        yield
    else:
        with session.begin_nested():
            yield
    session.flush()


_BATCH_KEY = "accessguard_batch"


@contextmanager
def batch(session: Session, *, savepoint: bool = True) -> Iterator[None]:
    """Run many administrative calls as one unit: one SAVEPOINT around all of them.

    A refusal inside undoes every call of the batch (not only the failing one), so the
    caller must treat the batch as all-or-nothing — as saving pending edits does.
    ``savepoint=False`` is for a caller whose whole transaction is the batch (its action
    rolls back on any error): an open SAVEPOINT makes SQLite journal every page the batch
    touches a second time, measured 4x slower on the search-indexed users table.
    """
    if session.info.get(_BATCH_KEY):
        yield
        return
    session.info[_BATCH_KEY] = True
    try:
        if savepoint:
            with session.begin_nested():
                yield
        else:
            yield
    finally:
        session.info.pop(_BATCH_KEY, None)


def _operator(session: Session, granted_by: str | None) -> str:
    return granted_by or str(session.info.get("operator", ""))


def _by_ref(session: Session, model: Any, ref: Ref, key_col: Any, kind: str) -> Any:
    if isinstance(ref, bool):
        raise NotFoundError(f"No {kind} {ref!r}.")
    if isinstance(ref, int):
        obj = session.get(model, ref)
        if obj is None:
            raise NotFoundError(f"The {kind} #{ref} does not exist (any more).")
        return obj
    if not isinstance(ref, str):
        raise NotFoundError(f"No {kind} {ref!r}.")
    shown = unicodedata.normalize("NFC", ref).strip()  # as validation stores names
    # The stored key column (core/keys.py), served by its unique index.
    obj = session.scalars(select(model).where(key_col == name_key(ref))).first()
    if obj is None:
        raise NotFoundError(f"There is no {kind} named \u201c{shown}\u201d.")
    return obj


def get_user(session: Session, ref: Ref) -> User:
    user: User = _by_ref(session, User, ref, User.username_key, "user")
    return user


def get_role(session: Session, ref: Ref) -> Role:
    role: Role = _by_ref(session, Role, ref, Role.name_key, "role")
    return role


def get_resource(session: Session, ref: Ref) -> Resource:
    resource: Resource = _by_ref(session, Resource, ref, Resource.name_key, "resource")
    return resource


def get_ssd_set(session: Session, ref: Ref) -> SsdSet:
    ssd: SsdSet = _by_ref(session, SsdSet, ref, SsdSet.name_key, "separation-of-duty set")
    return ssd


def get_permission(session: Session, ref: PermissionRef) -> Permission:
    if isinstance(ref, int) and not isinstance(ref, bool):
        perm = session.get(Permission, ref)
        if perm is None:
            raise NotFoundError(f"The permission #{ref} does not exist (any more).")
        return perm
    if not (isinstance(ref, tuple) and len(ref) == 2):
        # A bare "Door" (or "ab", which would unpack into two letters) names no permission.
        raise NotFoundError(f"No permission {ref!r}: give an id or a (resource, action) pair.")
    resource_ref, action = ref
    resource = get_resource(session, resource_ref)
    action_key = str(action).strip().lower()
    found = session.scalars(
        select(Permission).where(
            Permission.resource_id == resource.id, Permission.action == action_key
        )
    ).first()
    if found is None:
        raise NotFoundError(f"The resource {resource.name} has no action \u201c{action_key}\u201d.")
    return found


def _exists(session: Session, model: Any, key_col: Any, name: str, exclude_id: int | None) -> bool:
    # The same key as the unique index on the key column (see _by_ref).
    query = select(model.id).where(key_col == name_key(name))
    if exclude_id is not None:
        query = query.where(model.id != exclude_id)
    return session.scalar(query.limit(1)) is not None


def _check_version(obj: Any, expected: int | None, label: str, values: Callable[[], Any]) -> None:
    if expected is not None and obj.version != expected:
        raise ConflictError(label, values())


def _user_values(user: User) -> dict[str, Any]:
    row = UserRow.of(user)
    return {
        "username": row.username,
        "display_name": row.display_name,
        "email": row.email,
        "active": row.active,
        "version": row.version,
    }


def _named_values(obj: Role | Resource) -> dict[str, Any]:
    return {"name": obj.name, "description": obj.description, "version": obj.version}


def _permission_row(session: Session, perm: Permission) -> PermissionRow:
    resource = session.get(Resource, perm.resource_id)
    return PermissionRow.of(perm, resource.name if resource else f"#{perm.resource_id}")


def _as_utc(value: datetime | None) -> datetime | None:
    """The CTE keeps the column's UTC type on SQLAlchemy's side; be safe if a driver
    hands back a naive value anyway."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value
