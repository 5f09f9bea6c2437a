"""Runs of like pending edits applied set-based: one read, one statement per kind.

Saving a thousand edits through the ORM cost a read, a flush and a statement (or three)
per edit; on the search-indexed users table every statement also costs SQLite a write of
the search index (core/set_sql.py), so even a bare ``executemany`` of the changes took
0.5-0.8 s. Three kinds of run are applied set-based, with the same checks the ORM path
makes and the same audit entries it writes (tests/core/test_changes.py compares them):

- ``Update`` of plain fields — a user's display name, e-mail, active flag; a role's or
  resource's description: the field validators and the version check. Names are not
  plain: their duplicate and look-alike rules stay with the ORM path.
- ``Create`` of a user: the field validators, no other user with the same name key
  (core/keys.py) or look-alike skeleton (core/lookalike.py), in the file or earlier in
  the run — checked for the whole run in two indexed reads.
- ``Delete`` of a user: the version check; their assignments go with them, each with its
  own audit entry before the user's, as ``rbac.delete_user`` writes them.

With operators enforced (core/operators.py) each run is checked row by row with the
gate's own rules (``operators.run_gate``) before any statement is sent: an operator's
account, or an assignment to a role holding AccessGuard's rights, needs administer. The
first edit refused raises ``EditFailed`` at its index with the error the ORM path gives.

The audit entries are collected with the save's others (``audit.COLLECT_KEY``).
Whatever the fast path cannot prove right — a missing record, a version that moved, a
value its validator refuses, a name taken, a record twice in the run — is left to the
ordinary path, which refuses it with the usual typed error: the fast path applies only
the edits before the first such one.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Table, bindparam, delete, insert, select, update
from sqlalchemy.orm import Session

from . import audit, operators, validation
from .errors import AccessGuardError, ConflictError
from .keys import name_key
from .lookalike import skeleton_key
from .models import AUDITED_TYPES, Resource, Role, User, UserRole, utcnow
from .operators import AppAction
from .set_sql import chunks, insert_rows, parameter_limit, values_rows

if TYPE_CHECKING:
    from .changes import Edit

#: Shorter runs go through the ORM: a read and a statement cost more than a few flushes.
MIN_RUN = 4
_CHUNK = 500  # ids per IN list of a read: well under SQLite's bound-parameter limit
#: ``UPDATE … FROM (VALUES …)`` arrived in SQLite 3.33; older libraries take executemany.
_UPDATE_FROM = sqlite3.sqlite_version_info >= (3, 33, 0)


@dataclass(frozen=True)
class _Kind:
    """What a fast run of updates of one record type needs: its model, the column people
    know it by, and the validator of each field it may change."""

    model: type[Any]
    key: str
    fields: dict[str, Callable[[Any], Any]]


_KINDS: dict[str, _Kind] = {
    "user": _Kind(
        User,
        "username",
        {"display_name": validation.display_name, "email": validation.email, "active": bool},
    ),
    "role": _Kind(Role, "name", {"description": validation.description}),
    "resource": _Kind(Resource, "name", {"description": validation.description}),
}
_KIND_FIELDS = {name: frozenset(kind.fields) for name, kind in _KINDS.items()}
#: What a ``Create`` of a user may carry (core/changes.py ``_CREATE`` reads these).
_USER_CREATE_FIELDS = frozenset({"username", "display_name", "email", "active"})


class _Refused(Exception):
    """The run's edit at ``offset`` is refused by the operator gate (``error``)."""

    def __init__(self, offset: int, error: AccessGuardError) -> None:
        super().__init__(offset, error)
        self.offset = offset
        self.error = error


def _check(gate: operators.RunGate, offset: int, needs: Sequence[AppAction]) -> None:
    """The run's edit at ``offset`` changes rows needing ``needs`` (in flush order)."""
    try:
        gate.check(needs)
    except AccessGuardError as exc:
        raise _Refused(offset, exc) from exc


#: How many runs went set-based in this process (tests see the fast path was taken).
runs_applied = 0


@cache
def _edit_types() -> tuple[Any, Any, Any, Any]:
    """core/changes.py's Create, Delete, Update and Entity: changes imports this module,
    so they are imported at first use (once: an import inside a function called per
    edit went through PySide6's import hook every time)."""
    from .changes import Create, Delete, Entity, Update

    return Create, Delete, Update, Entity


def _run_kind(edit: Edit) -> tuple[str, str] | None:
    """Which fast run ``edit`` may join: (operation, record type), or None."""
    Create, Delete, Update, Entity = _edit_types()  # noqa: N806 - the classes themselves
    if isinstance(edit, Update):
        fields = _KIND_FIELDS.get(str(edit.entity))
        if fields is None or not edit.values or not edit.values.keys() <= fields:
            return None
        return ("update", str(edit.entity))
    if isinstance(edit, Create) and edit.entity is Entity.USER:
        return ("create", "user") if edit.values.keys() <= _USER_CREATE_FIELDS else None
    if isinstance(edit, Delete) and edit.entity is Entity.USER:
        return ("delete", "user")
    return None


def run_length(edits: Sequence[Edit], start: int) -> int:
    """How many edits from ``start`` on form one run the fast path may take (0: none)."""
    first = _run_kind(edits[start])
    if first is None:
        return 0
    seen: set[int] = set()
    end = start
    while end < len(edits):
        edit = edits[end]
        if _run_kind(edit) != first:
            break
        record = getattr(edit, "id", None)
        if record is not None:
            if record in seen:
                break
            seen.add(record)
        end += 1
    return end - start if end - start >= MIN_RUN else 0


def apply_run(session: Session, edits: Sequence[Edit], start: int, length: int) -> int:
    """Apply ``edits[start:start + length]`` set-based, stopping before the first edit the
    fast path cannot prove right; returns how many were applied (the caller applies the
    next one the ordinary way, which refuses it with its proper error).

    Raises:
        EditFailed: an edit the signed-in operator may not make (nothing written).
    """
    global runs_applied  # noqa: PLW0603 - a counter for tests
    run = list(edits[start : start + length])
    operation, record_type = _run_kind(run[0]) or ("", "")
    session.flush()  # what earlier edits changed is in the file before it is read
    gate = operators.run_gate(session)  # after the flush: the scope as it now stands
    try:
        if operation == "update":
            applied, entries = _updates(session, gate, _KINDS[record_type], run)
        elif operation == "create":
            applied, entries = _creates(session, gate, run)
        else:
            applied, entries = _deletes(session, gate, run)
    except _Refused as refused:
        from .changes import EditFailed

        at = start + refused.offset
        raise EditFailed(at, edits[at], refused.error) from refused.error
    runs_applied += 1 if applied else 0
    collected = session.info.get(audit.COLLECT_KEY)
    if isinstance(collected, list):
        collected.extend(entries)
    elif entries:
        audit.write_entries(session.connection(), entries)
    return applied


def _where_in(session: Session, columns: Sequence[Any], column: Any, values: list[Any]) -> Any:
    """Rows of ``columns`` whose ``column`` is one of ``values`` (indexed IN lists of
    _CHUNK: old SQLite libraries bind at most 999 parameters)."""
    for at in range(0, len(values), _CHUNK):
        yield from session.execute(select(*columns).where(column.in_(values[at : at + _CHUNK])))


def _writing(gate: operators.RunGate | None, tables: list[str]) -> AbstractContextManager[None]:
    """Where the run's statements go: checked (``gate.writing``), or as they are."""
    return nullcontext() if gate is None else gate.writing(tables)


def _table(model: type[Any]) -> Table:
    table: Table = model.__table__
    return table


def _sqlite_raw(session: Session) -> Connection | None:
    """The session's connection when it is SQLite's (statements built by hand), else None."""
    connection = session.connection()
    return connection if connection.dialect.name == "sqlite" else None


# ---------------------------------------------------------------------- updates


def _updates(
    session: Session, gate: operators.RunGate | None, kind: _Kind, run: list[Any]
) -> tuple[int, list[dict[str, Any]]]:
    model = kind.model
    table = _table(model)
    names = [kind.key, *kind.fields]
    columns = [table.c.id, table.c.version, *(table.c[n] for n in names)]
    current = {row[0]: row for row in _where_in(session, columns, table.c.id, [e.id for e in run])}
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    entries: list[dict[str, Any]] = []
    applied = 0
    now = utcnow()
    for edit in run:
        row = current.get(edit.id)
        if row is None or (edit.version is not None and edit.version != row.version):
            break
        try:
            clean = {name: kind.fields[name](value) for name, value in edit.values.items()}
        except AccessGuardError:
            break
        changed = {name: value for name, value in clean.items() if row._mapping[name] != value}
        if not changed:
            applied += 1
            continue  # as the ORM path: nothing to write, no version step, no check, no entry
        if gate is not None:
            _check(gate, applied, [gate.needs(table.name, row.id)])
        applied += 1
        params = {f"new_{name}": value for name, value in changed.items()}
        params.update(b_id=row.id, b_version=row.version, new_version=row.version + 1)
        groups.setdefault(tuple(sorted(changed)), []).append(params)
        before = {name: row._mapping[name] for name in changed}
        entries.append(
            audit.entry_row(
                session,
                "update",
                AUDITED_TYPES[model],
                str(row._mapping[kind.key]),
                before,
                changed,
                now,
            )
        )
    with _writing(gate, [table.name]):
        for fields, rows in groups.items():
            written = _write_updates(session, table, fields, rows, now)
            if written is not None and written != len(rows):
                # The write lock is held since the read: only a bug gets here.
                raise ConflictError(f"{run[0].entity} records of this save", None)
    _forget(session, model, [e.id for e in run[:applied]])
    return applied, entries


def _write_updates(
    session: Session,
    table: Table,
    fields: tuple[str, ...],
    rows: list[dict[str, Any]],
    now: datetime,
) -> int | None:
    """Write one group of updates (the same changed ``fields``); returns the rows
    written, or None where the driver cannot count them."""
    connection = _sqlite_raw(session)
    if connection is not None and _UPDATE_FROM:
        # One UPDATE … FROM (VALUES …) per parameter limit's worth: one statement for
        # the search index, where executemany was one per row (core/set_sql.py).
        width = 2 + len(fields)
        assigned = ", ".join(f'"{name}" = v.column{3 + k}' for k, name in enumerate(fields))
        stamp = audit.stored_time(now)  # how SQLite stores a UTCDateTime
        written = 0
        for part in chunks(rows, width, parameter_limit(connection) - 1):
            flat: list[Any] = [stamp]
            for row in part:
                flat += [row["b_id"], row["b_version"]]
                flat += [row[f"new_{name}"] for name in fields]
            result = connection.exec_driver_sql(
                f'UPDATE "{table.name}" SET {assigned}, version = v.column2 + 1, '
                f"updated_at = ? FROM (VALUES {values_rows(len(part), width)}) AS v "
                f'WHERE "{table.name}".id = v.column1 AND "{table.name}".version = v.column2',
                tuple(flat),
            )
            written += result.rowcount
        return written
    statement = (
        update(table)
        .where(table.c.id == bindparam("b_id"), table.c.version == bindparam("b_version"))
        .values(
            {
                **{name: bindparam(f"new_{name}") for name in fields},
                "version": bindparam("new_version"),
                "updated_at": now,
            }
        )
    )
    many = session.execute(statement, rows)
    if not session.get_bind().dialect.supports_sane_multi_rowcount:
        return None
    return int(many.rowcount)  # type: ignore[attr-defined]


def _forget(session: Session, model: type[Any], ids: list[int]) -> None:
    """Records of ``ids`` this session already holds are re-read when next used (their
    fields and version changed underneath the ORM)."""
    wanted = set(ids)
    for obj in list(session.identity_map.values()):
        if isinstance(obj, model) and getattr(obj, "id", None) in wanted:
            session.expire(obj)


# ---------------------------------------------------------------------- creates


def _taken(session: Session, column: Any, values: list[str]) -> set[str]:
    """Which of ``values`` ``column`` already holds."""
    return {row[0] for row in _where_in(session, [column], column, values)}


def _creates(
    session: Session, gate: operators.RunGate | None, run: list[Any]
) -> tuple[int, list[dict[str, Any]]]:
    """New users as ``rbac.add_user`` makes them (validators, name key, look-alike
    skeleton, version 1), inserted in edit order with a few multi-row INSERTs."""
    table = _table(User)
    rows: list[dict[str, Any]] = []
    keys: set[str] = set()
    skeletons: set[str] = set()
    for edit in run:
        values = edit.values
        try:
            name = validation.username(values.get("username", ""))
            shown = validation.display_name(values.get("display_name") or name)
            mail = validation.email(values.get("email"))
        except AccessGuardError:
            break
        key, skeleton = name_key(name), skeleton_key(name)
        if key in keys or skeleton in skeletons:
            break  # looks like a name earlier in the run: the ORM path says which
        keys.add(key)
        skeletons.add(skeleton)
        rows.append(
            {
                "username": name,
                "display_name": shown,
                "email": mail,
                "active": bool(values.get("active", True)),
                "password_hash": None,
                "username_key": key,
                "username_skeleton": skeleton,
            }
        )
    taken_keys = _taken(session, table.c.username_key, [r["username_key"] for r in rows])
    taken_looks = _taken(session, table.c.username_skeleton, [r["username_skeleton"] for r in rows])
    for at, row in enumerate(rows):
        if row["username_key"] in taken_keys or row["username_skeleton"] in taken_looks:
            del rows[at:]
            break
    if not rows:
        return 0, []
    # A new user is nobody's account yet: edit users, from the first edit on.
    if gate is not None:
        _check(gate, 0, [gate.needs(table.name, None)])
    now = utcnow()
    for row in rows:
        row.update(created_at=now, updated_at=now, version=1)
    connection = _sqlite_raw(session)
    with _writing(gate, [table.name]):
        if connection is not None:
            names = list(rows[0])
            stamp = audit.stored_time(now)
            raw = {"created_at": stamp, "updated_at": stamp}
            insert_rows(
                connection,
                f"INSERT INTO users ({', '.join(names)})",
                [tuple(raw.get(n, r[n]) for n in names) for r in rows],
            )
        else:
            session.execute(insert(table), rows)
    ids = dict(
        _where_in(
            session,
            [table.c.username_key, table.c.id],
            table.c.username_key,
            [r["username_key"] for r in rows],
        )
    )
    entries = []
    for row in rows:
        row["id"] = ids[row["username_key"]]
        entries.append(
            audit.entry_row(
                session, "insert", "user", row["username"], None, audit.shown_values(row), now
            )
        )
    return len(rows), entries


# ---------------------------------------------------------------------- deletes


def _deletes(
    session: Session, gate: operators.RunGate | None, run: list[Any]
) -> tuple[int, list[dict[str, Any]]]:
    """Users and their assignments as ``rbac.delete_user`` removes them: per user, an
    entry for each assignment (by role id), then the user's — and, with operators
    enforced, each assignment checked before the user, as its flush does."""
    users, members, roles = _table(User), _table(UserRole), _table(Role)
    current = {
        row.id: row for row in _where_in(session, list(users.c), users.c.id, [e.id for e in run])
    }
    gone: list[Any] = []
    for edit in run:
        row = current.get(edit.id)
        if row is None or (edit.version is not None and edit.version != row.version):
            break
        gone.append(row)
    if not gone:
        return 0, []
    ids = [row.id for row in gone]
    held: dict[int, list[Any]] = {}
    query_columns = [*members.c, roles.c.name.label("role_name")]
    for at in range(0, len(ids), _CHUNK):
        query = (
            select(*query_columns)
            .join(roles, roles.c.id == members.c.role_id)
            .where(members.c.user_id.in_(ids[at : at + _CHUNK]))
            .order_by(members.c.user_id, members.c.role_id)
        )
        for member in session.execute(query):
            held.setdefault(member.user_id, []).append(member)
    if gate is not None:
        for offset, row in enumerate(gone):
            needs = [gate.needs(members.name, m.role_id) for m in held.get(row.id, ())]
            _check(gate, offset, [*needs, gate.needs(users.name, row.id)])
    entries = []
    assignment = AUDITED_TYPES[UserRole]
    now = utcnow()
    for row in gone:
        for member in held.get(row.id, ()):
            values = member._asdict()
            key = f"{row.username} \u2192 {values.pop('role_name')}"
            entries.append(
                audit.entry_row(
                    session, "delete", assignment, key, audit.shown_values(values), None, now
                )
            )
        entries.append(
            audit.entry_row(
                session,
                "delete",
                "user",
                row.username,
                audit.shown_values(row._asdict()),
                None,
                now,
            )
        )
    removed = 0
    with _writing(gate, [members.name, users.name]):
        for part in chunks(ids, 1, parameter_limit(session.connection())):
            session.execute(delete(members).where(members.c.user_id.in_(part)))
            result = session.execute(delete(users).where(users.c.id.in_(part)))
            removed += int(result.rowcount)  # type: ignore[attr-defined]
    if removed != len(ids):
        # The write lock is held since the read: only a bug gets here.
        raise ConflictError("user records of this save", None)
    wanted = set(ids)
    for obj in list(session.identity_map.values()):
        if (isinstance(obj, User) and obj.id in wanted) or (
            isinstance(obj, UserRole) and obj.user_id in wanted
        ):
            session.expunge(obj)
    return len(gone), entries
