"""The audit trail: one entry per changed record, written inside the flush that changes it.

Entries are inserted from an ``after_flush`` hook on the very connection and transaction
that carries the change, so a committed change always has its entry and a rolled-back
action leaves none. Callers never write audit rows themselves.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, Select, and_, insert, inspect, select
from sqlalchemy.orm import Session, UOWTransaction
from sqlalchemy.orm.base import NO_VALUE

from .models import (
    AUDITED_TYPES,
    AuditEntry,
    Base,
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

SECRET_FIELDS = frozenset({"password_hash"})
# Bookkeeping columns that change with every update and say nothing to an auditor, and
# the name keys (derived from the name, core/keys.py).
QUIET_FIELDS = frozenset({"version", "updated_at", "username_key", "name_key"})


@dataclass(frozen=True, slots=True)
class AuditRow:
    id: int
    at: datetime
    operator: str
    action: str
    operation: str
    record_type: str
    record_key: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None


def _jsonable(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return value


def _masked(field: str, value: Any) -> Any:
    if field in SECRET_FIELDS:
        return "(set)" if value else None
    return _jsonable(value)


def _label(session: Session, cls: type[Base], pk: int | None) -> str:
    """A human name for a referenced row, from the identity map if possible."""
    if pk is None:
        return "?"
    obj = session.identity_map.get(inspect(cls).identity_key_from_primary_key((pk,)))
    if obj is None:
        obj = session.get(cls, pk)
    if obj is None:
        return f"#{pk}"
    if isinstance(obj, User):
        return obj.username
    if isinstance(obj, (Role, Resource, SsdSet)):
        return obj.name
    if isinstance(obj, Permission):
        return f"{_label(session, Resource, obj.resource_id)}: {obj.action}"
    return f"#{pk}"


def record_key(session: Session, obj: Any) -> str:
    """The key an auditor searches by: a name, or names joined by an arrow."""
    if isinstance(obj, User):
        return obj.username
    if isinstance(obj, (Role, Resource, SsdSet)):
        return obj.name
    if isinstance(obj, Permission):
        return f"{_label(session, Resource, obj.resource_id)}: {obj.action}"
    if isinstance(obj, UserRole):
        return f"{_label(session, User, obj.user_id)} \u2192 {_label(session, Role, obj.role_id)}"
    if isinstance(obj, RolePermission):
        return (
            f"{_label(session, Role, obj.role_id)} \u2192 "
            f"{_label(session, Permission, obj.permission_id)}"
        )
    if isinstance(obj, RoleInheritance):
        return (
            f"{_label(session, Role, obj.role_id)} inherits from "
            f"{_label(session, Role, obj.inherits_from_id)}"
        )
    if isinstance(obj, SsdSetRole):
        return (
            f"{_label(session, SsdSet, obj.ssd_set_id)} \u220b {_label(session, Role, obj.role_id)}"
        )
    raise TypeError(f"not an audited record: {obj!r}")


def _values(obj: Any) -> dict[str, Any]:
    state = inspect(obj)
    return {
        attr.key: _masked(attr.key, attr.loaded_value)
        for attr in state.attrs
        if attr.key not in QUIET_FIELDS and attr.loaded_value is not NO_VALUE
    }


def _changes(obj: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    for attr in inspect(obj).attrs:
        if attr.key in QUIET_FIELDS:
            continue
        hist = attr.history
        if not hist.has_changes():
            continue
        old = hist.deleted[0] if hist.deleted else None
        new = hist.added[0] if hist.added else None
        if old == new:
            continue
        before[attr.key] = _masked(attr.key, old)
        after[attr.key] = _masked(attr.key, new)
    return before, after


def _dump(values: dict[str, Any] | None) -> str | None:
    return None if values is None else json.dumps(values, ensure_ascii=False, sort_keys=True)


def after_flush(session: Session, flush_context: UOWTransaction) -> None:
    """Write an audit entry for every audited object inserted, updated or deleted."""
    operator = session.info.get("operator", "unknown")
    action = session.info.get("action", "Change")
    rows: list[dict[str, Any]] = []

    def add(op: str, obj: Any, before: dict[str, Any] | None, after: dict[str, Any] | None) -> None:
        rows.append(
            {
                "at": utcnow(),
                "operator": operator,
                "action": action,
                "operation": op,
                "record_type": AUDITED_TYPES[type(obj)],
                "record_key": record_key(session, obj)[:400],
                "before": _dump(before),
                "after": _dump(after),
            }
        )

    for obj in session.new:
        if type(obj) in AUDITED_TYPES:
            add("insert", obj, None, _values(obj))
    for obj in session.dirty:
        if type(obj) in AUDITED_TYPES and session.is_modified(obj, include_collections=False):
            before, after = _changes(obj)
            if before or after:
                add("update", obj, before, after)
    for obj in session.deleted:
        if type(obj) in AUDITED_TYPES:
            add("delete", obj, _values(obj), None)
    if rows:
        write_entries(session.connection(), rows)


def write_entries(connection: Connection, rows: list[dict[str, Any]]) -> None:
    """Append audit entries (dicts of AuditEntry's columns, ``id`` left out) on the
    caller's connection and transaction.

    The one way any code adds to the trail: the ORM flush hook above and set-based bulk
    writers (imports) both come through here, so the trail's rules live in one place.
    """
    connection.execute(insert(AuditEntry), rows)


def audit_query(
    *,
    operator: str | None = None,
    record_type: str | None = None,
    record_key: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Select[AuditEntry]:
    """A SELECT of audit entries, newest first, filtered by the given criteria."""
    conditions = []
    if operator is not None:
        conditions.append(AuditEntry.operator == operator)
    if record_type is not None:
        conditions.append(AuditEntry.record_type == record_type)
    if record_key is not None:
        conditions.append(AuditEntry.record_key == record_key)
    if since is not None:
        conditions.append(AuditEntry.at >= since)
    if until is not None:
        conditions.append(AuditEntry.at < until)
    query = select(AuditEntry).order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
    if conditions:
        query = query.where(and_(*conditions))
    return query


def audit_entries(session: Session, limit: int = 1000, **filters: Any) -> list[AuditRow]:
    """Audit entries as snapshots, newest first."""
    result = session.scalars(audit_query(**filters).limit(limit))
    return [
        AuditRow(
            id=e.id,
            at=e.at,
            operator=e.operator,
            action=e.action,
            operation=e.operation,
            record_type=e.record_type,
            record_key=e.record_key,
            before=json.loads(e.before) if e.before else None,
            after=json.loads(e.after) if e.after else None,
        )
        for e in result
    ]
