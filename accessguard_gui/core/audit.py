"""The audit trail: one entry per changed record, written inside the flush that changes it.

Entries are inserted from an ``after_flush`` hook on the very connection and transaction
that carries the change, so a committed change always has its entry and a rolled-back
action leaves none. Callers never write audit rows themselves: ``write_entries`` is the
one way in.

Tamper evidence: every entry stores ``hash`` = SHA-256 over a canonical encoding of its
content (id, time, operator, action, operation, record, before, after) and the previous
entry's hash (``entry_hash``). Writers take turns (SQLite's write lock, PostgreSQL's
advisory lock, core/database.py), so reading the head inside the write transaction and
numbering the new entries after it is safe. A changed, removed, re-ordered or forged
entry no longer chains; ``core/integrity.py`` walks the chain. A rewrite of the whole
chain is caught by comparing the head with a copy kept elsewhere (README).

Versions of the encoding: an entry without a reason (``reason`` NULL: every entry before
migration 0008, and saves nobody gave a reason for) is hashed as version 1, unchanged;
an entry with a reason (typed at Save) as version 2, whose tag differs and whose content
adds ``reason``. Giving an old entry a reason, or removing one, changes the version and
so the hash: both break the chain.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Connection, Select, and_, insert, inspect, select, text
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
from .set_sql import insert_rows
from .validation import safe_operator

SECRET_FIELDS = frozenset({"password_hash"})
# Bookkeeping columns that change with every update and say nothing to an auditor, and
# the name keys (derived from the name, core/keys.py).
QUIET_FIELDS = frozenset(
    {"version", "updated_at", "username_key", "name_key", "username_skeleton", "name_skeleton"}
)
#: The previous hash of the first entry.
GENESIS = "0" * 64
#: Versions the encoding: a future change of what is hashed starts a new tag.
CHAIN_TAG = b"accessguard-audit-1\x00"
#: Version 2: entries with a reason (migration 0008); its content ends with the reason.
CHAIN_TAG_2 = b"accessguard-audit-2\x00"
#: The content of an entry, in the order it is hashed (version 1).
HASHED_FIELDS = (
    "id", "at", "operator", "action", "operation", "record_type", "record_key", "before",
    "after",
)
#: Version 2's content: version 1's and the reason.
HASHED_FIELDS_2 = (*HASHED_FIELDS, "reason")
#: The longest reason stored (the Save field allows no more).
REASON_MAX = 500


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
    reason: str = ""


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
    name = getattr(obj, "name", None)  # other audited records are known by their name
    if isinstance(name, str):
        return name
    raise TypeError(f"not an audited record: {obj!r}")


def shown_values(values: dict[str, Any]) -> dict[str, Any]:
    """A record's fields as its insert or delete entry shows them: bookkeeping left out,
    secrets masked, times as ISO text. Set-based writers (core/edit_batches.py) give the
    row they read or wrote; the flush hook gives an object's loaded attributes."""
    return {
        key: _masked(key, value) for key, value in values.items() if key not in QUIET_FIELDS
    }


def _values(obj: Any) -> dict[str, Any]:
    state = inspect(obj)
    return shown_values(
        {attr.key: attr.loaded_value for attr in state.attrs if attr.loaded_value is not NO_VALUE}
    )


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


#: ``session.info`` key: while it holds a list, flushes add their entries to it instead of
#: writing them; the caller writes the list once (core/changes.py ``apply_edits``: one
#: head read and one INSERT for a whole save instead of one per edit).
COLLECT_KEY = "audit_collect"


def entry_row(
    session: Session,
    op: str,
    record_type: str,
    key: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    at: datetime | None = None,
) -> dict[str, Any]:
    """One entry for ``write_entries``, stamped with the session's operator, action and
    reason (what every writer of a change records alike), at ``at`` or now. Set-based
    writers give one moment for a whole run: its text is then made once."""
    return {
        "at": at or utcnow(),
        "operator": session.info.get("operator", "unknown"),
        "action": session.info.get("action", "Change"),
        "operation": op,
        "record_type": record_type,
        "record_key": key[:400],
        "before": _dump(before),
        "after": _dump(after),
        "reason": session.info.get("reason") or None,  # typed at Save (ui/saving.py)
    }


def after_flush(session: Session, flush_context: UOWTransaction) -> None:
    """Write an audit entry for every audited object inserted, updated or deleted."""
    rows: list[dict[str, Any]] = []

    def add(op: str, obj: Any, before: dict[str, Any] | None, after: dict[str, Any] | None) -> None:
        kind = AUDITED_TYPES[type(obj)]
        rows.append(entry_row(session, op, kind, record_key(session, obj), before, after))

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
    collected = session.info.get(COLLECT_KEY)
    if isinstance(collected, list):
        collected.extend(rows)
    elif rows:
        write_entries(session.connection(), rows)


def stored_time(value: datetime) -> str:
    """The canonical text of an entry's time: naive UTC with microseconds, exactly as
    SQLite stores it (SQLAlchemy's format), so a verifier can hash stored bytes as-is."""
    if value.tzinfo is None:
        raise ValueError("naive datetime given; AccessGuard stores aware UTC datetimes")
    naive = value.astimezone(UTC).replace(tzinfo=None)
    if naive.year < 1000:  # strftime does not pad the year to four digits
        return naive.strftime("%Y-%m-%d %H:%M:%S.%f")
    # The same text as that strftime for years 1000-9999, at a tenth of its cost.
    return naive.isoformat(" ", "microseconds")


#: The lengths of the previous hash and of the nine fields (version 2: ten), NULL as -1.
_LENGTHS = struct.Struct(">10q").pack
_LENGTHS_2 = struct.Struct(">11q").pack


def entry_hash(previous: str | bytes | None, fields: Sequence[bytes | None]) -> str:
    """SHA-256 (hex) of an entry: the chain tag, the previous hash and the entry's
    ``HASHED_FIELDS`` as UTF-8 bytes (the id in decimal, the time as ``stored_time``).
    Given ``HASHED_FIELDS_2`` (with the reason last), an entry with a reason is hashed
    as version 2 (``CHAIN_TAG_2``) and one without as version 1.

    The lengths come first (8 bytes each, -1 for NULL), then the bytes one after the
    other: NULL and "" differ and no field can run into the next. Takes bytes so that a
    verifier can hash what the file holds without decoding it (a damaged text is then a
    broken link, not a crash).
    """
    if previous is None:
        prev = b""
    elif isinstance(previous, str):
        prev = previous.encode("utf-8", "surrogateescape")
    else:
        prev = previous
    tag, lengths = CHAIN_TAG, _LENGTHS
    if len(fields) == len(HASHED_FIELDS_2):
        if fields[-1] is None:  # no reason: version 1, as every entry before 0008
            fields = fields[:-1]
        else:
            tag, lengths = CHAIN_TAG_2, _LENGTHS_2
    header = lengths(len(prev), *(-1 if value is None else len(value) for value in fields))
    body = b"".join(value for value in fields if value is not None)
    return hashlib.sha256(tag + header + prev + body).hexdigest()


def _utf8(value: Any) -> bytes | None:
    return None if value is None else str(value).encode("utf-8", "surrogateescape")


def chain_head(connection: Connection) -> tuple[int, str | None]:
    """(id, hash) of the newest entry, (0, GENESIS) for an empty trail: one seek on the
    primary key, whatever the size of the trail."""
    row = connection.execute(
        text("SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1")
    ).first()
    if row is None:
        return 0, GENESIS
    return int(row[0]), row[1]


#: One entry's content before it is numbered and chained: (at, operator, action,
#: operation, record_type, record_key, before, after, reason) — the operator made safe,
#: the texts cut to their column widths, the reason cleaned.
Content = tuple[datetime, str, str, str, str, str, str | None, str | None, str | None]
#: What a bulk writer gives per record: (operation, record_type, record_key, before,
#: after), ``before``/``after`` as the JSON text ``after_flush`` writes.
RecordEntry = tuple[str, str, str, str | None, str | None]
#: The columns an entry is inserted with, in this order.
_COLUMNS = (
    "id", "at", "operator", "action", "operation", "record_type", "record_key", "before",
    "after", "hash", "reason",
)
#: Followed by ``VALUES (…),(…)``: entries go in as multi-row INSERTs (core/set_sql.py:
#: the trail's search index makes every statement cost a write of its own).
_INSERT_HEAD = (
    "INSERT INTO audit_log (id, at, operator, action, operation, record_type, record_key, "
    '"before", "after", hash, reason)'
)


def write_entries(connection: Connection, rows: list[dict[str, Any]]) -> None:
    """Append audit entries (dicts of AuditEntry's columns; ``id`` and ``hash`` are
    assigned here) on the caller's connection and transaction, chained to the trail.

    The one way any code adds to the trail, with ``write_records`` (its form for bulk
    writers): the ORM flush hook above and set-based writers (imports, campaigns) all
    come through here, so the trail's rules live in one place. The caller must hold the
    write lock (any ``db.action`` does): the head is read, the entries numbered after it
    and each hashed over the one before. Operators are made safe
    (``validation.safe_operator``) and texts cut to their column widths, so no writer
    can flood or forge the trail with what the environment says.
    """
    if not rows:
        return
    operators: dict[str, str] = {}
    contents: list[Content] = []
    for row in rows:
        raw_operator = str(row.get("operator") or "")
        operator = operators.get(raw_operator)
        if operator is None:
            operator = operators[raw_operator] = safe_operator(raw_operator)[0]
        contents.append((
            row.get("at") or utcnow(),
            operator,
            str(row.get("action") or "")[:200],
            str(row.get("operation") or "")[:16],
            str(row.get("record_type") or "")[:32],
            str(row.get("record_key") or "")[:400],
            row.get("before"),
            row.get("after"),
            clean_reason(row.get("reason")),
        ))
    _append(connection, contents)


def write_records(
    connection: Connection,
    records: Iterable[RecordEntry],
    *,
    at: datetime,
    operator: str,
    action: str,
    reason: str | None = None,
) -> int:
    """Append one entry per record of one bulk user action (an import: one moment,
    operator, action and reason for all), under the rules of ``write_entries``.

    Takes plain tuples: at a million records a dict per entry cost more than its insert.
    Returns the number of entries written.
    """
    who = safe_operator(str(operator or ""))[0]
    what = str(action or "")[:200]
    why = clean_reason(reason)
    contents: list[Content] = [
        (at, who, what, op[:16], kind[:32], key[:400], before, after, why)
        for op, kind, key, before, after in records
    ]
    _append(connection, contents)
    return len(contents)


def _append(connection: Connection, contents: Sequence[Content]) -> None:
    """Number the entries after the trail's head, chain each to the one before
    (``entry_hash``'s encoding, inlined: the lengths header, then the bytes) and insert
    them, on SQLite as few multi-row INSERTs as its parameter limit allows."""
    if not contents:
        return
    head_id, previous = chain_head(connection)
    sqlite = connection.dialect.name == "sqlite"
    prev = b"" if previous is None else previous.encode("utf-8", "surrogateescape")
    # The few texts that repeat from entry to entry (operator, action, operation, record
    # type) and the time are encoded once.
    encoded: dict[str, bytes] = {}
    last_at: datetime | None = None
    at_bytes = b""
    at_bound: Any = None
    sha256 = hashlib.sha256
    tag, tag_2, lengths, lengths_2 = CHAIN_TAG, CHAIN_TAG_2, _LENGTHS, _LENGTHS_2
    out: list[tuple[Any, ...]] = []
    number = head_id
    for at, operator, action, operation, record_type, key, before, after, reason in contents:
        number += 1
        if at is not last_at:
            last_at, stamp = at, stored_time(at)
            at_bytes, at_bound = stamp.encode("utf-8"), (stamp if sqlite else at)
        common = []
        for value in (operator, action, operation, record_type):
            data = encoded.get(value)
            if data is None:
                data = encoded[value] = value.encode("utf-8", "surrogateescape")
            common.append(data)
        op_b, action_b, operation_b, type_b = common
        id_b = b"%d" % number
        key_b = key.encode("utf-8", "surrogateescape")
        before_b = None if before is None else before.encode("utf-8", "surrogateescape")
        after_b = None if after is None else after.encode("utf-8", "surrogateescape")
        sizes = (
            len(prev), len(id_b), len(at_bytes), len(op_b), len(action_b), len(operation_b),
            len(type_b), len(key_b), -1 if before_b is None else len(before_b),
            -1 if after_b is None else len(after_b),
        )
        parts = [prev, id_b, at_bytes, op_b, action_b, operation_b, type_b, key_b,
                 before_b or b"", after_b or b""]
        if reason is None:  # version 1
            data = tag + lengths(*sizes)
        else:  # version 2: the reason last
            reason_b = reason.encode("utf-8", "surrogateescape")
            data = tag_2 + lengths_2(*sizes, len(reason_b))
            parts.append(reason_b)
        digest = sha256(data + b"".join(parts)).hexdigest()
        out.append((number, at_bound, operator, action, operation, record_type, key, before,
                    after, digest, reason))
        prev = digest.encode("ascii")
    if sqlite:
        insert_rows(connection, _INSERT_HEAD, out)
        return
    connection.execute(
        insert(AuditEntry), [dict(zip(_COLUMNS, row, strict=True)) for row in out]
    )
    # Ids are assigned here; keep the serial in step for anyone inserting without one.
    connection.execute(
        text("SELECT setval(pg_get_serial_sequence('audit_log', 'id'), :last)"),
        {"last": number},
    )


def clean_reason(reason: Any) -> str | None:
    """A reason as stored: one line, trimmed, at most ``REASON_MAX`` characters, NULL
    when empty (an entry without a reason stays a version-1 entry)."""
    if reason is None:
        return None
    text = " ".join(str(reason).replace("\x00", " ").split())[:REASON_MAX]
    return text or None


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
            reason=e.reason or "",
        )
        for e in result
    ]


def chain_slice(
    connection: Connection, after_id: int, limit: int
) -> list[tuple[int, str | None, list[bytes | None]]]:
    """The next ``limit`` entries after ``after_id`` in id order, as (id, stored hash,
    hashed fields) — what the migration chains and the verifier checks. The fields are
    ``HASHED_FIELDS_2`` once the trail has its reason column (0008), else version 1's.

    On SQLite the texts come back as the bytes the file holds (``CAST … AS BLOB``): no
    decoding, so invalid UTF-8 planted in an entry is a broken link, not an exception,
    and the time is hashed exactly as stored.
    """
    sqlite = connection.dialect.name == "sqlite"
    names = HASHED_FIELDS_2 if _has_reason(connection) else HASHED_FIELDS
    columns = ", ".join(
        (f"CAST({name} AS BLOB)" if sqlite else name)
        for name in names[1:]
    )
    sql = (
        f"SELECT id, {'CAST(hash AS BLOB)' if sqlite else 'hash'}, {columns} "
        "FROM audit_log WHERE id > :after ORDER BY id LIMIT :limit"
    )
    rows: Sequence[Sequence[Any]]
    raw = connection.connection.driver_connection
    if sqlite and isinstance(raw, sqlite3.Connection):
        # Plain tuples from the driver: a million entries are walked at a time.
        rows = raw.execute(sql, {"after": after_id, "limit": limit}).fetchall()
    else:
        rows = connection.execute(text(sql), {"after": after_id, "limit": limit}).all()
    out: list[tuple[int, str | None, list[bytes | None]]] = []
    for row in rows:
        entry_id = int(row[0])
        stored = row[1]
        if sqlite:
            fields: list[bytes | None] = [str(entry_id).encode("ascii"), *row[2:]]
            if isinstance(stored, bytes):  # a forged non-text hash
                stored = stored.decode("utf-8", "replace")
        else:
            at = row[2]
            fields = [
                str(entry_id).encode("ascii"),
                (stored_time(at) if isinstance(at, datetime) else str(at)).encode("utf-8"),
                *(_utf8(value) for value in row[3:]),
            ]
        out.append((entry_id, stored, fields))
    return out


def _has_reason(connection: Connection) -> bool:
    """Has the trail its reason column (migration 0008)? Migration 0005 chains a trail
    from before it."""
    columns = inspect(connection).get_columns("audit_log")
    return any(column["name"] == "reason" for column in columns)
