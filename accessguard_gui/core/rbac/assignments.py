"""ANSI administrative functions for assignments: users to roles (with expiry) and
permissions to roles; each refused if it would break a separation-of-duty set."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import literal, select
from sqlalchemy.orm import Session

from ..errors import DuplicateError, NotFoundError, ValidationError
from ..models import Role, RolePermission, User, UserRole
from ..rows import AssignmentRow
from .base import (
    PermissionRef,
    Ref,
    _atomic,
    _check_version,
    _operator,
    _permission_row,
    get_permission,
    get_role,
    get_user,
)
from .closure import _inherited_cte
from .ssd import _refuse_ssd_violations, _ssd_sets_of


def _assignment(session: Session, user: User, role: Role) -> UserRole | None:
    return session.get(UserRole, (user.id, role.id))


def assign_user(
    session: Session,
    user: Ref,
    role: Ref,
    *,
    expires_at: datetime | None = None,
    granted_by: str | None = None,
) -> AssignmentRow:
    """ANSI AssignUser; refused if it would break a separation-of-duty set."""
    u = get_user(session, user)
    r = get_role(session, role)
    _check_aware(expires_at)
    with _atomic(session):
        if _assignment(session, u, r) is not None:
            raise DuplicateError(f"{u.username} is already assigned to {r.name}.")
        assignment = UserRole(
            user_id=u.id,
            role_id=r.id,
            expires_at=expires_at,
            granted_by=_operator(session, granted_by),
        )
        session.add(assignment)
        session.flush()
        # Only sets holding a role this assignment authorizes can be broken by it (a
        # breach of another set, e.g. from imported data, must not block it).
        gained = _inherited_cte(select(literal(r.id).label("role_id")), "gained")
        touched = _ssd_sets_of(session, select(gained.c.role_id))
        if touched:
            _refuse_ssd_violations(session, users=select(literal(u.id)), sets=touched)
    return AssignmentRow.of(assignment, u.username, r.name)


def deassign_user(
    session: Session, user: Ref, role: Ref, *, expected_version: int | None = None
) -> None:
    """ANSI DeassignUser."""
    u = get_user(session, user)
    r = get_role(session, role)
    assignment = _assignment(session, u, r)
    if assignment is None:
        raise NotFoundError(f"{u.username} is not assigned to {r.name}.")
    _check_version(
        assignment,
        expected_version,
        f"assignment {u.username} \u2192 {r.name}",
        lambda: {"expires_at": assignment.expires_at, "version": assignment.version},
    )
    with _atomic(session):
        session.delete(assignment)


def set_assignment_expiry(
    session: Session,
    user: Ref,
    role: Ref,
    expires_at: datetime | None,
    *,
    expected_version: int | None = None,
) -> AssignmentRow:
    """Set or clear (None) the moment an assignment stops granting anything."""
    u = get_user(session, user)
    r = get_role(session, role)
    _check_aware(expires_at)
    assignment = _assignment(session, u, r)
    if assignment is None:
        raise NotFoundError(f"{u.username} is not assigned to {r.name}.")
    _check_version(
        assignment,
        expected_version,
        f"assignment {u.username} \u2192 {r.name}",
        lambda: {"expires_at": assignment.expires_at, "version": assignment.version},
    )
    with _atomic(session):
        if assignment.expires_at != expires_at:
            assignment.expires_at = expires_at
    return AssignmentRow.of(assignment, u.username, r.name)


def _check_aware(moment: datetime | None) -> None:
    if moment is not None and moment.tzinfo is None:
        raise ValidationError("expires_at", "The expiry date needs a time zone.")


def grant_permission(
    session: Session, role: Ref, permission: PermissionRef, *, granted_by: str | None = None
) -> None:
    """ANSI GrantPermission: give ``role`` the permission directly."""
    r = get_role(session, role)
    perm = get_permission(session, permission)
    with _atomic(session):
        if session.get(RolePermission, (r.id, perm.id)) is not None:
            label = _permission_row(session, perm).label
            raise DuplicateError(f"{r.name} already has {label}.")
        session.add(
            RolePermission(
                role_id=r.id, permission_id=perm.id, granted_by=_operator(session, granted_by)
            )
        )


def revoke_permission(session: Session, role: Ref, permission: PermissionRef) -> None:
    """ANSI RevokePermission."""
    r = get_role(session, role)
    perm = get_permission(session, permission)
    grant = session.get(RolePermission, (r.id, perm.id))
    if grant is None:
        label = _permission_row(session, perm).label
        raise NotFoundError(f"{r.name} does not have {label} directly.")
    with _atomic(session):
        session.delete(grant)
