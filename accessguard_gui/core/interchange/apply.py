"""Writing a checked import into the database: set-based, in one transaction, audited.

The rows come back from the staging file in batches and go to the target with one
``executemany`` per batch and table — never one rbac call per row — followed by their
audit entries (``audit.write_entries``), one per record, shaped exactly like the entries
the ORM's flush hook writes for the same edit (record keys such as ``alice → Staff``,
``before``/``after`` with the same fields, the password hash masked), so a record's
history reads the same whether it was typed or imported. Row versions start at 1 and
count up on changes, and name keys are written with the names, as the ORM does.

Between batches the cancel check runs; cancelling raises ImportCancelledError and the
caller's transaction rolls everything back.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from .. import audit
from ..errors import ImportCancelledError
from ..keys import name_key
from ..models import utcnow
from .staging import (
    BATCH,
    ENTITIES,
    SKELETONS,
    CancelCheck,
    Progress,
    ProgressCallback,
    Staging,
    from_storage,
    skeleton_of,
)

SECRET = "(set)"


@dataclass
class ApplyStats:
    """What an import wrote: (table, verdict) → rows."""

    counts: dict[tuple[str, str], int] = field(default_factory=dict)

    def add(self, kind: str, verdict: str, n: int) -> None:
        if n:
            self.counts[(kind, verdict)] = self.counts.get((kind, verdict), 0) + n


def _dump(values: dict[str, Any] | None) -> str | None:
    # The same text audit.after_flush writes.
    return None if values is None else json.dumps(values, ensure_ascii=False, sort_keys=True)


def _iso(text: Any) -> str | None:
    moment = from_storage(text)
    return None if moment is None else moment.isoformat()


class Writer:
    """One import's writes on the action's connection, with audit, progress and cancel."""

    def __init__(
        self,
        staging: Staging,
        conn: Connection,
        *,
        operator: str,
        action: str,
        progress: ProgressCallback | None,
        cancelled: CancelCheck | None,
    ) -> None:
        self.st = staging
        self.conn = conn
        self.sqlite = conn.dialect.name == "sqlite"
        self.mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
        self.operator = operator
        self.action = action
        self.moment = utcnow()
        self.progress = progress
        self.cancelled = cancelled
        self.done = 0
        self.total = 0
        self.stats = ApplyStats()

    # ------------------------------------------------------------------ plumbing

    def _stamp(self) -> Any:
        return self._time(self.moment)

    def _time(self, value: Any) -> Any:
        """A datetime as this backend binds it: storage text on SQLite (no default
        adapters on Python 3.12+), an aware datetime elsewhere."""
        moment = from_storage(value)
        if moment is None:
            return None
        if self.sqlite:
            return moment.strftime("%Y-%m-%d %H:%M:%S.%f")
        return moment

    def execute(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            self.conn.exec_driver_sql(sql.replace("?", self.mark), list(rows))

    def entry(
        self,
        operation: str,
        record_type: str,
        key: str,
        before: dict[str, Any] | str | None,
        after: dict[str, Any] | str | None,
    ) -> audit.RecordEntry:
        """An audit entry of this import (``audit.write_records``); ``before``/``after``
        as dicts, or as the JSON text the flush hook would write for them (the insert
        templates below)."""
        return (
            operation,
            record_type,
            key,
            before if isinstance(before, str) or before is None else _dump(before),
            after if isinstance(after, str) or after is None else _dump(after),
        )

    def step(self, n: int, phase: str) -> None:
        self.done += n
        if self.cancelled is not None and self.cancelled():
            raise ImportCancelledError()
        if self.progress is not None:
            self.progress(Progress(phase, self.done, self.total))

    def batches(self, sql: str) -> Iterable[Sequence[Any]]:
        """The rows of ``sql`` on the staging file, a batch at a time, as the driver's
        plain tuples: SQLAlchemy's Row per row costs more than the row's insert."""
        result = self.st.conn.exec_driver_sql(sql)
        cursor = result.cursor
        try:
            while rows := cursor.fetchmany(BATCH):
                yield rows
        finally:
            result.close()

    def run(
        self,
        kind: str,
        verdict: str,
        select_sql: str,
        write_sql: str,
        convert: Callable[[Any], tuple[Sequence[Any], audit.RecordEntry]],
    ) -> None:
        """Stream ``select_sql`` from staging; per row ``convert`` gives the parameters
        of ``write_sql`` and the audit entry."""
        phase = {"add": "Adding", "change": "Changing", "remove": "Removing"}[verdict]
        for rows in self.batches(select_sql):
            params: list[Sequence[Any]] = []
            entries: list[audit.RecordEntry] = []
            for row in rows:
                values, entry = convert(row)
                params.append(values)
                entries.append(entry)
            self.execute(write_sql, params)
            audit.write_records(
                self.conn, entries, at=self.moment, operator=self.operator, action=self.action
            )
            self.stats.add(kind, verdict, len(rows))
            self.step(len(rows), f"{phase} {kind.replace('_', ' ')}")


# ---------------------------------------------------------------------- preparing ids


def _assign_ids(st: Staging) -> None:
    """Ids of new records follow the largest id in the target; relation rows learn the
    ids and display names of both ends (from the source when the import adds or changes
    the record, otherwise from the database)."""
    for kind in ("users", "roles", "resources", "ssd_sets", "permissions"):
        base = st.scalar(f"SELECT coalesce(max(id), 0) FROM tgt.{kind}")
        st.execute(
            f"UPDATE s_{kind} SET new_id = ? + r.n FROM (SELECT seq, row_number() OVER "
            f"(ORDER BY seq) AS n FROM s_{kind} WHERE verdict = 'add') r "
            f"WHERE r.seq = s_{kind}.seq",
            (base,),
        )
    live = "verdict IN ('add', 'change', 'leave')"
    _resolve(st, "permissions", "resource_id", "rname", "reskey", "resources", live)
    _resolve(st, "role_parents", "role_id", "rname", "rkey", "roles")
    _resolve(st, "role_parents", "parent_id", "pname", "pkey", "roles")
    _resolve(st, "user_roles", "user_id", "uname", "ukey", "users")
    _resolve(st, "user_roles", "role_id", "rname", "rkey", "roles")
    _resolve(st, "role_permissions", "role_id", "rname", "rkey", "roles")
    _resolve(st, "ssd_set_roles", "set_id", "sname", "skey", "ssd_sets")
    _resolve(st, "ssd_set_roles", "role_id", "rname", "rkey", "roles")
    wanted = "s_role_permissions.verdict IN ('add', 'change')"
    st.execute(
        "UPDATE s_role_permissions SET permission_id = coalesce(p.target_id, p.new_id), "
        "pname = p.rname || ': ' || p.action FROM s_permissions p WHERE p.reskey = "
        "s_role_permissions.reskey AND p.action = s_role_permissions.action AND "
        f"p.verdict IN ('add', 'change', 'leave') AND {wanted}"
    )
    st.execute(
        "UPDATE s_role_permissions SET permission_id = p.id, pname = r.name || ': ' || "
        "p.action FROM tgt.permissions p JOIN tgt.resources r ON r.id = p.resource_id "
        "WHERE r.name_key = s_role_permissions.reskey AND p.action = "
        f"s_role_permissions.action AND s_role_permissions.permission_id IS NULL AND {wanted}"
    )
    st.conn.commit()


def _resolve(
    st: Staging,
    table: str,
    id_column: str,
    name_column: str,
    key_column: str,
    entity: str,
    which: str = "verdict IN ('add', 'change')",
) -> None:
    source_key, name, target_key = ENTITIES[entity]
    rows = f"s_{table}.{which}"
    st.execute(
        f"UPDATE s_{table} SET {id_column} = coalesce(e.target_id, e.new_id), "
        f"{name_column} = e.{name} FROM s_{entity} e WHERE e.{source_key} = "
        f"s_{table}.{key_column} AND e.verdict IN ('add', 'change') AND {rows}"
    )
    st.execute(
        f"UPDATE s_{table} SET {id_column} = t.id, {name_column} = t.{name} "
        f"FROM tgt.{entity} t WHERE t.{target_key} = s_{table}.{key_column} "
        f"AND s_{table}.{id_column} IS NULL AND {rows}"
    )


# ---------------------------------------------------------------------- the writes


def apply(
    st: Staging,
    conn: Connection,
    *,
    operator: str,
    action: str,
    progress: ProgressCallback | None = None,
    cancelled: CancelCheck | None = None,
) -> ApplyStats:
    """Write every add, change and removal of a clean plan on ``conn`` (the caller's
    transaction, already holding the write lock)."""
    _assign_ids(st)
    w = Writer(st, conn, operator=operator, action=action, progress=progress,
               cancelled=cancelled)
    w.total = int(st.scalar("SELECT count(*) FROM s_removals") or 0) + sum(
        int(st.scalar(f"SELECT count(*) FROM s_{kind} WHERE verdict IN ('add', 'change')")
            or 0)
        for kind in ("users", "roles", "resources", "permissions", "ssd_sets", "role_parents",
                     "user_roles", "role_permissions", "ssd_set_roles")
    )
    with _search_index_in_bulk(conn, w), _replace_guard_set_aside(conn, w):
        _removals(w)
        _changes(w)
        _additions(w)
    if not w.sqlite:
        for table in ("users", "roles", "resources", "permissions", "ssd_sets"):
            conn.exec_driver_sql(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"coalesce((SELECT max(id) FROM {table}), 0) + 1, false)"
            )
    return w.stats


@contextmanager
def _search_index_in_bulk(conn: Connection, w: Writer) -> Iterator[None]:
    """On SQLite, index the rows an import inserts into the full-text search tables
    (migration 0003: ``search_users``, ``search_audit_log``) with one INSERT … SELECT at
    the end instead of their per-row insert triggers, which cost ten times the insert
    itself (trigram tokenising per statement). The triggers are dropped and re-created
    inside the import's transaction: other connections never see them missing, and a
    rollback restores them."""
    if not w.sqlite:
        yield
        return
    found = conn.exec_driver_sql(
        "SELECT t.name, t.tbl_name, t.sql, f.name FROM sqlite_master t JOIN sqlite_master f "
        "ON f.type = 'table' AND f.name = substr(t.name, 1, length(t.name) - 7) "
        "WHERE t.type = 'trigger' AND t.name LIKE 'search%_insert' "
        "AND t.tbl_name IN ('users', 'audit_log')"
    ).all()
    indexed = []
    for trigger, table, sql, fts in found:
        columns = [r[1] for r in conn.exec_driver_sql(f'PRAGMA table_info("{fts}")')]
        head = conn.exec_driver_sql(f'SELECT coalesce(max(id), 0) FROM "{table}"').scalar()
        conn.exec_driver_sql(f'DROP TRIGGER "{trigger}"')
        indexed.append((sql, table, fts, columns, head))
    yield
    if indexed:
        w.step(0, "Indexing for search")
    for sql, table, fts, columns, head in indexed:
        names = ", ".join(f'"{c}"' for c in columns)
        with _merging_deferred(conn, fts):
            conn.exec_driver_sql(
                f'INSERT INTO "{fts}" (rowid, {names}) SELECT id, {names} FROM "{table}" '
                f"WHERE id > {int(head or 0)}"
            )
        conn.exec_driver_sql(sql)


#: The audit trail's guard against INSERT OR REPLACE (migration 0005).
REPLACE_GUARD = "audit_log_no_replace"


@contextmanager
def _replace_guard_set_aside(conn: Connection, w: Writer) -> Iterator[None]:
    """On SQLite, set the trail's guard against INSERT OR REPLACE aside while the import
    appends its entries, and re-create it from its stored text before the end.

    The guard is a BEFORE INSERT trigger that looks each new id up: 8 µs an entry, more
    than the entry's own insert. It cannot fire for these entries: they are numbered
    after the trail's head under the write lock and go in by a plain INSERT, which the
    primary key refuses on any clash all the same. Dropped and re-created inside the
    import's transaction like the search triggers: other connections never see it
    missing, and a rollback (an error, Cancel, a crash) restores it."""
    found = None
    if w.sqlite:
        found = conn.exec_driver_sql(
            "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = ?",
            (REPLACE_GUARD,),
        ).scalar()
    if found is None:
        yield
        return
    conn.exec_driver_sql(f'DROP TRIGGER "{REPLACE_GUARD}"')
    yield
    conn.exec_driver_sql(str(found))


#: FTS5 settings while one large INSERT fills an index: (value during it, FTS5's
#: default). No incremental merging (``automerge`` 0) and a 16 MiB buffer of pending
#: terms instead of 1 MiB: FTS5 then writes fewer, larger segments instead of merging
#: small ones over and over, which halves the cost of indexing a million audit entries
#: and leaves as few segments (searches as fast). Only how the index is laid out
#: changes, never what it holds.
_BULK_FTS = {"automerge": (0, 4), "hashsize": (16 << 20, 1 << 20)}


@contextmanager
def _merging_deferred(conn: Connection, fts: str) -> Iterator[None]:
    """``_BULK_FTS`` on the index ``fts`` for the block, then its settings as they were:
    a setting the file did not hold is set back to the default and its row removed, so
    the index's configuration table reads as before. On an error the caller's
    transaction rolls the settings back with everything else."""
    keys = tuple(_BULK_FTS)
    marks = ",".join("?" * len(keys))
    saved: dict[str, Any] = dict(
        conn.exec_driver_sql(
            f'SELECT k, v FROM "{fts}_config" WHERE k IN ({marks})', keys
        ).all()
    )
    command = f'INSERT INTO "{fts}" ("{fts}", rank) VALUES (?, ?)'
    for key, (during, _default) in _BULK_FTS.items():
        conn.exec_driver_sql(command, (key, during))
    yield
    for key, (_during, default) in _BULK_FTS.items():
        conn.exec_driver_sql(command, (key, saved.get(key, default)))
        if key not in saved:  # in effect the default already: the row goes
            conn.exec_driver_sql(f'DELETE FROM "{fts}_config" WHERE k = ?', (key,))


def _j(value: Any) -> str:
    """A JSON value exactly as audit.after_flush's json.dumps writes it."""
    return _ENCODE(value)


_ENCODE = json.JSONEncoder(ensure_ascii=False).encode


def _additions(w: Writer) -> None:
    """Inserts, in foreign-key order. Their audit ``after`` is written from templates
    that give the very text ``json.dumps(values, ensure_ascii=False, sort_keys=True)``
    gives (a test holds them to it): a dict and a generic dump per row cost more than
    the insert itself at a million rows."""
    stamp = w._stamp()
    iso = w.moment.isoformat()
    iso_j = _j(iso)
    op = w.operator
    op_j = _j(op)
    secret_j = _j(SECRET)

    skel_col, skel_mark = (", username_skeleton", ",?") if SKELETONS else ("", "")
    name_skel, name_mark = (", name_skeleton", ",?") if SKELETONS else ("", "")

    def user(row: Any) -> tuple[Sequence[Any], audit.RecordEntry]:
        uid, name, shown, mail, active, secret, key, skel = row
        after = (
            f'{{"active": {"true" if active else "false"}, "created_at": {iso_j}, '
            f'"display_name": {_j(shown)}, "email": {_j(mail)}, "id": {int(uid)}, '
            f'"password_hash": {secret_j if secret else "null"}, "username": {_j(name)}}}'
        )
        values = (uid, name, shown, mail, bool(active) if not w.sqlite else active, secret,
                  stamp, stamp, key, *((skel,) if SKELETONS else ()))
        return values, w.entry("insert", "user", name, None, after)

    w.run(
        "users", "add",
        "SELECT new_id, username, coalesce(display_name, username), nullif(email, ''), "
        "coalesce(active, 1), password_hash, ukey, skel FROM s_users WHERE verdict = 'add' "
        "ORDER BY seq",
        "INSERT INTO users (id, username, display_name, email, active, password_hash, "
        f"created_at, updated_at, version, username_key{skel_col}) "
        f"VALUES (?,?,?,?,?,?,?,?,1,?{skel_mark})",
        user,
    )
    for kind, record_type in (("roles", "role"), ("resources", "resource")):

        def named(row: Any, record_type: str = record_type) -> tuple[Sequence[Any], audit.RecordEntry]:
            rid, name, text, key, skel = row
            after = (
                f'{{"created_at": {iso_j}, "description": {_j(text)}, "id": {int(rid)}, '
                f'"name": {_j(name)}}}'
            )
            values = (rid, name, text, stamp, stamp, key, *((skel,) if SKELETONS else ()))
            return values, w.entry("insert", record_type, name, None, after)

        w.run(
            kind, "add",
            f"SELECT new_id, name, coalesce(description, ''), nkey, skel FROM s_{kind} "
            "WHERE verdict = 'add' ORDER BY seq",
            f"INSERT INTO {kind} (id, name, description, created_at, updated_at, version, "
            f"name_key{name_skel}) VALUES (?,?,?,?,?,1,?{name_mark})",
            named,
        )

    def permission(row: Any) -> tuple[Sequence[Any], audit.RecordEntry]:
        pid, resource_id, rname, act, text = row
        after = (
            f'{{"action": {_j(act)}, "created_at": {iso_j}, "description": {_j(text)}, '
            f'"id": {int(pid)}, "resource_id": {int(resource_id)}}}'
        )
        return (pid, resource_id, act, text, stamp), w.entry(
            "insert", "permission", f"{rname}: {act}", None, after
        )

    w.run(
        "permissions", "add",
        "SELECT new_id, resource_id, rname, action, coalesce(description, '') "
        "FROM s_permissions WHERE verdict = 'add' ORDER BY seq",
        "INSERT INTO permissions (id, resource_id, action, description, created_at, version) "
        "VALUES (?,?,?,?,?,1)",
        permission,
    )

    def ssd_set(row: Any) -> tuple[Sequence[Any], audit.RecordEntry]:
        sid, name, count, text, key, skel = row
        after = {"cardinality": count, "description": text, "id": sid, "name": name}
        values = (sid, name, count, text, key, *((skel,) if SKELETONS else ()))
        return values, w.entry("insert", "ssd_set", name, None, after)

    w.run(
        "ssd_sets", "add",
        "SELECT new_id, name, cardinality, coalesce(description, ''), nkey, skel "
        "FROM s_ssd_sets WHERE verdict = 'add' ORDER BY seq",
        f"INSERT INTO ssd_sets (id, name, cardinality, description, version, name_key"
        f"{name_skel}) VALUES (?,?,?,?,1,?{name_mark})",
        ssd_set,
    )

    def inheritance(row: Any) -> tuple[Sequence[Any], audit.RecordEntry]:
        role_id, parent_id, rname, pname = row
        after = (
            f'{{"created_at": {iso_j}, "inherits_from_id": {int(parent_id)}, '
            f'"role_id": {int(role_id)}}}'
        )
        return (role_id, parent_id, stamp), w.entry(
            "insert", "inheritance", f"{rname} inherits from {pname}", None, after
        )

    w.run(
        "role_parents", "add",
        "SELECT role_id, parent_id, rname, pname FROM s_role_parents WHERE verdict = 'add' "
        "ORDER BY seq",
        "INSERT INTO role_inheritance (role_id, inherits_from_id, created_at) VALUES (?,?,?)",
        inheritance,
    )

    def assignment(row: Any) -> tuple[Sequence[Any], audit.RecordEntry]:
        user_id, role_id, uname, rname, expires = row
        after = (
            f'{{"expires_at": {_j(_iso(expires)) if expires else "null"}, "granted_at": '
            f'{iso_j}, "granted_by": {op_j}, "role_id": {int(role_id)}, '
            f'"user_id": {int(user_id)}}}'
        )
        return (user_id, role_id, stamp, op, w._time(expires)), w.entry(
            "insert", "assignment", f"{uname} \u2192 {rname}", None, after
        )

    w.run(
        "user_roles", "add",
        "SELECT user_id, role_id, uname, rname, expires_at FROM s_user_roles "
        "WHERE verdict = 'add' ORDER BY seq",
        "INSERT INTO user_roles (user_id, role_id, granted_at, granted_by, expires_at, "
        "version) VALUES (?,?,?,?,?,1)",
        assignment,
    )

    def grant(row: Any) -> tuple[Sequence[Any], audit.RecordEntry]:
        role_id, permission_id, rname, pname = row
        after = (
            f'{{"granted_at": {iso_j}, "granted_by": {op_j}, '
            f'"permission_id": {int(permission_id)}, "role_id": {int(role_id)}}}'
        )
        return (role_id, permission_id, stamp, op), w.entry(
            "insert", "grant", f"{rname} \u2192 {pname}", None, after
        )

    w.run(
        "role_permissions", "add",
        "SELECT role_id, permission_id, rname, pname FROM s_role_permissions "
        "WHERE verdict = 'add' ORDER BY seq",
        "INSERT INTO role_permissions (role_id, permission_id, granted_at, granted_by) "
        "VALUES (?,?,?,?)",
        grant,
    )

    def member(row: Any) -> tuple[Sequence[Any], audit.RecordEntry]:
        set_id, role_id, sname, rname = row
        after = f'{{"role_id": {int(role_id)}, "ssd_set_id": {int(set_id)}}}'
        return (set_id, role_id), w.entry(
            "insert", "ssd_member", f"{sname} \u220b {rname}", None, after
        )

    w.run(
        "ssd_set_roles", "add",
        "SELECT set_id, role_id, sname, rname FROM s_ssd_set_roles WHERE verdict = 'add' "
        "ORDER BY seq",
        "INSERT INTO ssd_set_roles (ssd_set_id, role_id) VALUES (?,?)",
        member,
    )


def _diff(old: dict[str, Any], new: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    for key, value in new.items():
        if old[key] != value:
            secret = key == "password_hash"
            before[key] = (SECRET if old[key] else None) if secret else old[key]
            after[key] = (SECRET if value else None) if secret else value
    return before, after


def _changes(w: Writer) -> None:
    stamp = w._stamp()

    def user(row: Any) -> tuple[Sequence[Any], audit.RecordEntry]:
        uid, name, shown, mail, active, secret, s_name, s_shown, s_mail, s_active, s_secret = row
        old = {"username": name, "display_name": shown, "email": mail,
               "active": bool(active), "password_hash": secret}
        new = {
            "username": s_name,
            "display_name": shown if s_shown is None else s_shown,
            "email": mail if s_mail is None else (s_mail or None),
            "active": bool(active) if s_active is None else bool(s_active),
            "password_hash": secret if s_secret is None else s_secret,
        }
        before, after = _diff(old, new)
        active_value = new["active"] if not w.sqlite else int(new["active"])
        values = (new["username"], new["display_name"], new["email"], active_value,
                  new["password_hash"], name_key(new["username"]),
                  *((skeleton_of(new["username"]),) if SKELETONS else ()), stamp, uid)
        return values, w.entry("update", "user", new["username"], before, after)

    w.run(
        "users", "change",
        "SELECT t.id, t.username, t.display_name, t.email, t.active, t.password_hash, "
        "s.username, s.display_name, s.email, s.active, s.password_hash FROM s_users s "
        "JOIN tgt.users t ON t.id = s.target_id WHERE s.verdict = 'change' ORDER BY s.seq",
        "UPDATE users SET username = ?, display_name = ?, email = ?, active = ?, "
        f"password_hash = ?, username_key = ?{', username_skeleton = ?' if SKELETONS else ''}, "
        "updated_at = ?, version = version + 1 WHERE id = ?",
        user,
    )
    for kind, record_type in (("roles", "role"), ("resources", "resource")):

        def named(row: Any, record_type: str = record_type) -> tuple[Sequence[Any], audit.RecordEntry]:
            rid, name, text, s_name, s_text = row
            new = {"name": s_name, "description": text if s_text is None else s_text}
            before, after = _diff({"name": name, "description": text}, new)
            values = (new["name"], new["description"], name_key(new["name"]),
                      *((skeleton_of(new["name"]),) if SKELETONS else ()), stamp, rid)
            return values, w.entry("update", record_type, new["name"], before, after)

        w.run(
            kind, "change",
            f"SELECT t.id, t.name, t.description, s.name, s.description FROM s_{kind} s "
            f"JOIN tgt.{kind} t ON t.id = s.target_id WHERE s.verdict = 'change' "
            "ORDER BY s.seq",
            f"UPDATE {kind} SET name = ?, description = ?, name_key = ?"
            f"{', name_skeleton = ?' if SKELETONS else ''}, updated_at = ?, "
            "version = version + 1 WHERE id = ?",
            named,
        )

    def ssd_set(row: Any) -> tuple[Sequence[Any], audit.RecordEntry]:
        sid, name, count, text, s_name, s_count, s_text = row
        new = {"name": s_name, "cardinality": count if s_count is None else s_count,
               "description": text if s_text is None else s_text}
        before, after = _diff({"name": name, "cardinality": count, "description": text}, new)
        values = (new["name"], new["cardinality"], new["description"],
                  name_key(new["name"]), *((skeleton_of(new["name"]),) if SKELETONS else ()),
                  sid)
        return values, w.entry("update", "ssd_set", new["name"], before, after)

    w.run(
        "ssd_sets", "change",
        "SELECT t.id, t.name, t.cardinality, t.description, s.name, s.cardinality, "
        "s.description FROM s_ssd_sets s JOIN tgt.ssd_sets t ON t.id = s.target_id "
        "WHERE s.verdict = 'change' ORDER BY s.seq",
        "UPDATE ssd_sets SET name = ?, cardinality = ?, description = ?, name_key = ?"
        f"{', name_skeleton = ?' if SKELETONS else ''}, version = version + 1 WHERE id = ?",
        ssd_set,
    )

    def permission(row: Any) -> tuple[Sequence[Any], audit.RecordEntry]:
        pid, text, rname, act, s_text = row
        before, after = _diff({"description": text}, {"description": s_text})
        return (s_text, pid), w.entry("update", "permission", f"{rname}: {act}", before, after)

    w.run(
        "permissions", "change",
        "SELECT t.id, t.description, r.name, t.action, s.description FROM s_permissions s "
        "JOIN tgt.permissions t ON t.id = s.target_id JOIN tgt.resources r "
        "ON r.id = t.resource_id WHERE s.verdict = 'change' ORDER BY s.seq",
        "UPDATE permissions SET description = ?, version = version + 1 WHERE id = ?",
        permission,
    )

    def assignment(row: Any) -> tuple[Sequence[Any], audit.RecordEntry]:
        user_id, role_id, uname, rname, old, new = row
        before, after = {"expires_at": _iso(old)}, {"expires_at": _iso(new)}
        return (w._time(new), user_id, role_id), w.entry(
            "update", "assignment", f"{uname} \u2192 {rname}", before, after
        )

    w.run(
        "user_roles", "change",
        "SELECT s.user_id, s.role_id, s.uname, s.rname, a.expires_at, s.expires_at "
        "FROM s_user_roles s JOIN tgt.user_roles a ON a.user_id = s.user_id "
        "AND a.role_id = s.role_id WHERE s.verdict = 'change' ORDER BY s.seq",
        "UPDATE user_roles SET expires_at = ?, version = version + 1 "
        "WHERE user_id = ? AND role_id = ?",
        assignment,
    )


def _removals(w: Writer) -> None:
    def gone(kind: str) -> str:
        return f"FROM s_removals x WHERE x.kind = '{kind}' ORDER BY x.seq"

    def pair(record_type: str, names: tuple[str, ...]) -> Callable[[Any], Any]:
        def convert(row: Any) -> tuple[Sequence[Any], audit.RecordEntry]:
            first, second, label, *rest = row
            before = dict(zip(names, rest, strict=True))
            for key in ("granted_at", "created_at", "expires_at"):
                if key in before:
                    before[key] = _iso(before[key])
            return (first, second), w.entry("delete", record_type, label, before, None)

        return convert

    w.run(
        "ssd_set_roles", "remove",
        "SELECT x.id1, x.id2, x.label, x.id2, x.id1 " + gone("ssd_set_roles"),
        "DELETE FROM ssd_set_roles WHERE ssd_set_id = ? AND role_id = ?",
        pair("ssd_member", ("role_id", "ssd_set_id")),
    )
    w.run(
        "role_permissions", "remove",
        "SELECT x.id1, x.id2, x.label, g.granted_at, g.granted_by, x.id2, x.id1 "
        "FROM s_removals x JOIN tgt.role_permissions g ON g.role_id = x.id1 AND "
        "g.permission_id = x.id2 WHERE x.kind = 'role_permissions' ORDER BY x.seq",
        "DELETE FROM role_permissions WHERE role_id = ? AND permission_id = ?",
        pair("grant", ("granted_at", "granted_by", "permission_id", "role_id")),
    )
    w.run(
        "user_roles", "remove",
        "SELECT x.id1, x.id2, x.label, a.expires_at, a.granted_at, a.granted_by, x.id2, x.id1 "
        "FROM s_removals x JOIN tgt.user_roles a ON a.user_id = x.id1 AND a.role_id = x.id2 "
        "WHERE x.kind = 'user_roles' ORDER BY x.seq",
        "DELETE FROM user_roles WHERE user_id = ? AND role_id = ?",
        pair("assignment", ("expires_at", "granted_at", "granted_by", "role_id", "user_id")),
    )
    w.run(
        "role_parents", "remove",
        "SELECT x.id1, x.id2, x.label, i.created_at, x.id2, x.id1 FROM s_removals x "
        "JOIN tgt.role_inheritance i ON i.role_id = x.id1 AND i.inherits_from_id = x.id2 "
        "WHERE x.kind = 'role_parents' ORDER BY x.seq",
        "DELETE FROM role_inheritance WHERE role_id = ? AND inherits_from_id = ?",
        pair("inheritance", ("created_at", "inherits_from_id", "role_id")),
    )

    def single(record_type: str, names: tuple[str, ...]) -> Callable[[Any], Any]:
        def convert(row: Any) -> tuple[Sequence[Any], audit.RecordEntry]:
            rid, label, *rest = row
            before = dict(zip(names, rest, strict=True))
            if "created_at" in before:
                before["created_at"] = _iso(before["created_at"])
            if "active" in before:
                before["active"] = bool(before["active"])
            if "password_hash" in before:
                before["password_hash"] = SECRET if before["password_hash"] else None
            before["id"] = rid
            return (rid,), w.entry("delete", record_type, label, before, None)

        return convert

    w.run(
        "permissions", "remove",
        "SELECT x.id1, x.label, p.action, p.created_at, p.description, p.resource_id "
        "FROM s_removals x JOIN tgt.permissions p ON p.id = x.id1 "
        "WHERE x.kind = 'permissions' ORDER BY x.seq",
        "DELETE FROM permissions WHERE id = ?",
        single("permission", ("action", "created_at", "description", "resource_id")),
    )
    w.run(
        "ssd_sets", "remove",
        "SELECT x.id1, x.label, s.cardinality, s.description, s.name FROM s_removals x "
        "JOIN tgt.ssd_sets s ON s.id = x.id1 WHERE x.kind = 'ssd_sets' ORDER BY x.seq",
        "DELETE FROM ssd_sets WHERE id = ?",
        single("ssd_set", ("cardinality", "description", "name")),
    )
    w.run(
        "users", "remove",
        "SELECT x.id1, x.label, u.active, u.created_at, u.display_name, u.email, "
        "u.password_hash, u.username FROM s_removals x JOIN tgt.users u ON u.id = x.id1 "
        "WHERE x.kind = 'users' ORDER BY x.seq",
        "DELETE FROM users WHERE id = ?",
        single("user", ("active", "created_at", "display_name", "email", "password_hash",
                        "username")),
    )
    for kind, record_type in (("roles", "role"), ("resources", "resource")):
        w.run(
            kind, "remove",
            f"SELECT x.id1, x.label, t.created_at, t.description, t.name FROM s_removals x "
            f"JOIN tgt.{kind} t ON t.id = x.id1 WHERE x.kind = '{kind}' ORDER BY x.seq",
            f"DELETE FROM {kind} WHERE id = ?",
            single(record_type, ("created_at", "description", "name")),
        )


def moment_text(moment: datetime) -> str:
    return moment.isoformat()
