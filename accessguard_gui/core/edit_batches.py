"""Runs of like pending edits applied set-based: one read, one ``executemany``.

Saving a thousand changed display names through the ORM cost a read, a flush and an
UPDATE per edit (1.5 s; the target is 200 ms, shared/guide/performance.md). A run of
``Update`` edits of plain fields — a user's display name, e-mail, active flag; a role's or
resource's description — needs none of the per-record rules the ORM path runs for names
(duplicates, look-alikes): only the field validators, the version check and an audit entry.
So such a run is checked in one SELECT of the records' current values, written with one
``executemany`` UPDATE per set of changed columns, and its audit entries are collected
with the save's others (``audit.COLLECT_KEY``).

Whatever the fast path cannot prove right — a missing record, a version that moved, a
value its validator refuses, a record edited twice in the run — is left to the ordinary
path, which refuses it with the usual typed error: the fast path applies only the edits
before the first such one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.orm import Session

from . import audit, validation
from .errors import AccessGuardError, ConflictError
from .models import AUDITED_TYPES, Resource, Role, User, utcnow

if TYPE_CHECKING:
    from .changes import Edit

#: Shorter runs go through the ORM: a read and an executemany cost more than a few flushes.
MIN_RUN = 4
_CHUNK = 500  # ids per IN list: well under SQLite's bound-parameter limit


@dataclass(frozen=True)
class _Kind:
    """What a fast run of one record type needs: its model, the column people know it by,
    and the validator of each field it may change."""

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


def _kind_of(edit: Edit) -> _Kind | None:
    from .changes import Update  # changes imports this module

    if not isinstance(edit, Update):
        return None
    kind = _KINDS.get(str(edit.entity))
    if kind is None or not edit.values or not set(edit.values) <= set(kind.fields):
        return None
    return kind


def run_length(edits: Sequence[Edit], start: int) -> int:
    """How many edits from ``start`` on form one run the fast path may take (0: none)."""
    first = _kind_of(edits[start])
    if first is None:
        return 0
    seen: set[int] = set()
    end = start
    while end < len(edits):
        edit = edits[end]
        if _kind_of(edit) is not first or edit.id in seen:  # type: ignore[union-attr]
            break
        seen.add(edit.id)  # type: ignore[union-attr]
        end += 1
    return end - start if end - start >= MIN_RUN else 0


def apply_run(session: Session, edits: Sequence[Edit], start: int, length: int) -> int:
    """Apply ``edits[start:start + length]`` set-based, stopping before the first edit the
    fast path cannot prove right; returns how many were applied (the caller applies the
    next one the ordinary way, which refuses it with its proper error)."""
    run = list(edits[start : start + length])
    kind = _kind_of(run[0])
    assert kind is not None
    model = kind.model
    table: Table = model.__table__
    session.flush()  # what earlier edits changed is in the file before it is read
    names = [kind.key, *kind.fields]
    current: dict[int, Any] = {}
    ids = [e.id for e in run]  # type: ignore[union-attr]
    for at in range(0, len(ids), _CHUNK):
        query = select(table.c.id, table.c.version, *(table.c[n] for n in names)).where(
            table.c.id.in_(ids[at : at + _CHUNK])
        )
        current.update({row[0]: row for row in session.execute(query)})
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    entries: list[dict[str, Any]] = []
    now = utcnow()
    applied = 0
    for edit in run:
        row = current.get(edit.id)  # type: ignore[union-attr]
        if row is None or (edit.version is not None and edit.version != row.version):  # type: ignore[union-attr]
            break
        try:
            clean = {name: kind.fields[name](value) for name, value in edit.values.items()}  # type: ignore[union-attr]
        except AccessGuardError:
            break
        changed = {name: value for name, value in clean.items() if row._mapping[name] != value}
        applied += 1
        if not changed:
            continue  # as the ORM path: nothing to write, no version step, no entry
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
            )
        )
    for columns, rows in groups.items():
        statement = (
            update(table)
            .where(table.c.id == bindparam("b_id"), table.c.version == bindparam("b_version"))
            .values(
                {
                    **{name: bindparam(f"new_{name}") for name in columns},
                    "version": bindparam("new_version"),
                    "updated_at": now,
                }
            )
        )
        result = session.execute(statement, rows)
        counted = session.get_bind().dialect.supports_sane_multi_rowcount
        if counted and result.rowcount != len(rows):  # type: ignore[attr-defined]
            # The write lock is held since the read: only a bug gets here.
            raise ConflictError(f"{run[0].entity} records of this save", None)  # type: ignore[union-attr]
    _forget(session, model, [e.id for e in run[:applied]])  # type: ignore[union-attr]
    collected = session.info.get(audit.COLLECT_KEY)
    if isinstance(collected, list):
        collected.extend(entries)
    elif entries:
        audit.write_entries(session.connection(), entries)
    return applied


def _forget(session: Session, model: type[Any], ids: list[int]) -> None:
    """Records of ``ids`` this session already holds are re-read when next used (their
    fields and version changed underneath the ORM)."""
    wanted = set(ids)
    for obj in list(session.identity_map.values()):
        if isinstance(obj, model) and getattr(obj, "id", None) in wanted:
            session.expire(obj)
