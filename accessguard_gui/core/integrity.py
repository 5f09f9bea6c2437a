"""Is the file what AccessGuard wrote? The audit chain, its search index, the schema objects.

Three checks, each a plain function over a ``Database`` returning findings as values:

- ``verify_audit_chain``: walks the hash chain of the audit trail (core/audit.py) in
  id order, ``SLICE`` entries per short read session, recomputing every link. The first
  broken link names the entry that was changed or removed (or forged); the head hash is
  returned for the user to keep elsewhere, and a head kept earlier can be looked for in
  the chain (``expected_head``). On SQLite it also compares the FTS5 search index with
  the trail, entry by entry (an entry hidden from search is tampering too). A progress
  callback reports and can cancel between slices: the UI runs this off the GUI thread.
- ``schema_findings``: compares ``sqlite_master`` with the objects the migrations create
  (``expected_schema_objects``, from a fresh database at head, cached): an extra trigger,
  view, table or index, a missing one (a dropped append-only trigger) or one whose SQL
  differs. Costs one read of ``sqlite_master`` (milliseconds): run at every open.
- ``lookalike_names``: names that already share a confusable skeleton (files from before
  migration 0005).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, text

from .audit import GENESIS, chain_slice, entry_hash

if TYPE_CHECKING:
    from .database import Database

#: Entries verified per read session (~30 ms of work each on our machines): short
#: enough that one fetch, which holds the GIL between rows, keeps GUI stalls short.
SLICE = 5_000
#: Entries hashed between two offers of the GIL to other threads (~2 ms of work): the
#: walk runs on a worker thread, and a Python loop left alone holds the GIL long enough
#: to stall the GUI thread's painting on a busy machine.
YIELD_EVERY = 250
#: The FTS5 index over the audit log (migration 0003) and the columns it indexes.
AUDIT_SEARCH = "search_audit_log"
AUDIT_SEARCH_COLUMNS = ("operator", "action", "record_type", "record_key")
#: How many broken links or search problems are listed before "… and N more".
SHOWN = 20

Progress = Callable[[int, int], bool]
"""``progress(entries done, entries in total)``; returning False cancels the walk."""


def short_hash(value: str | None) -> str:
    return (value or "none")[:12] + "\u2026"


@dataclass
class ChainReport:
    """What ``verify_audit_chain`` found.

    Attributes:
        entries: entries walked (all of them unless cancelled).
        total: entries in the trail when the walk started.
        head_id / head_hash: the newest entry walked and its stored hash (what to keep).
        broken: ids of entries whose link does not hold, oldest first (at most ``SHOWN``).
        broken_count: how many links do not hold in all.
        search_problems: differences between the search index and the trail.
        search_checked: False where there is no search index to check (PostgreSQL).
        expected_head: the head given to look for, and ``expected_found`` the id of the
            entry carrying it (None: not in the chain — it was rewritten or is another file).
        cancelled: the walk was stopped before the end.
    """

    entries: int = 0
    total: int = 0
    head_id: int = 0
    head_hash: str | None = GENESIS
    broken: list[int] = field(default_factory=list)
    broken_count: int = 0
    search_problems: list[str] = field(default_factory=list)
    search_checked: bool = False
    expected_head: str | None = None
    expected_found: int | None = None
    cancelled: bool = False

    @property
    def intact(self) -> bool:
        return (
            not self.cancelled
            and self.broken_count == 0
            and not self.search_problems
            and (self.expected_head is None or self.expected_found is not None)
        )

    @property
    def first_broken(self) -> int | None:
        return self.broken[0] if self.broken else None

    def summary(self) -> str:
        """One sentence for a person: intact with the head, or the first broken link."""
        if self.cancelled:
            return f"Audit trail check cancelled after {self.entries:,} of {self.total:,} entries."
        if self.broken_count:
            more = (
                f" ({self.broken_count:,} links broken in all)" if self.broken_count > 1 else ""
            )
            return (
                f"The audit trail was tampered with: entry {self.broken[0]:,} was changed or "
                f"removed (or an entry just before it was){more}."
            )
        if self.search_problems:
            return (
                "The audit trail's search index does not match the trail: "
                + self.search_problems[0]
            )
        if self.expected_head is not None and self.expected_found is None:
            return (
                f"The head you kept ({short_hash(self.expected_head)}) is not in this audit "
                "trail: the trail was rewritten, or this is another database."
            )
        if self.entries == 0:
            return "The audit trail is empty."
        kept = (
            f" The head you kept is entry {self.expected_found:,}: the trail up to it is unchanged."
            if self.expected_found is not None
            else ""
        )
        return (
            f"Audit trail intact: {self.entries:,} entries, head {short_hash(self.head_hash)}"
            f"{kept}"
        )

    def details(self) -> list[str]:
        lines = [f"Entry {entry_id:,}: its hash does not match" for entry_id in self.broken]
        if self.broken_count > len(self.broken):
            lines.append(f"\u2026 and {self.broken_count - len(self.broken):,} more")
        lines += self.search_problems
        return lines


# ---------------------------------------------------------------------- the audit chain


def _varints(blob: bytes) -> Iterator[int]:
    """SQLite's variable-length integers (FTS5 docsize records)."""
    if max(blob, default=0) < 0x80:  # every count below 128: one byte each
        yield from blob
        return
    pos = 0
    while pos < len(blob):
        value = 0
        for i in range(9):
            byte = blob[pos]
            pos += 1
            if i == 8:
                value = (value << 8) | byte
                break
            value = (value << 7) | (byte & 0x7F)
            if not byte & 0x80:
                break
        yield value


def _has_search_index(conn: Connection) -> bool:
    if conn.dialect.name != "sqlite":
        return False
    found = conn.execute(
        text("SELECT 1 FROM sqlite_master WHERE name = :n"), {"n": AUDIT_SEARCH + "_docsize"}
    ).first()
    return found is not None


def _search_slice(conn: Connection, after_id: int, upto_id: int, report: ChainReport) -> None:
    """Every entry of the slice must be in the search index with the token counts its
    text gives (the trigram tokenizer makes one token per character after the second):
    an entry removed from the index with FTS5's 'delete' command has no docsize row.

    SQLite compares the stored counts itself where each fits one varint byte (as
    ``char()`` bytes; every entry the app writes): only other rows come back to Python.
    """
    counts = [f"max(length(a.{c}) - 2, 0)" for c in AUDIT_SEARCH_COLUMNS]
    rows = conn.execute(
        text(
            f"SELECT a.id, d.sz, {', '.join(counts)} FROM audit_log a "
            f"LEFT JOIN {AUDIT_SEARCH}_docsize d ON d.id = a.id "
            "WHERE a.id > :lo AND a.id <= :hi AND (d.sz IS NULL "
            f"OR max({', '.join(counts)}) > 127 "
            f"OR d.sz != CAST(char({', '.join(counts)}) AS BLOB)) ORDER BY a.id"
        ),
        {"lo": after_id, "hi": upto_id},
    ).all()
    for row in rows:
        if len(report.search_problems) >= SHOWN:
            return
        entry_id, size = row[0], row[1]
        if size is None:
            report.search_problems.append(
                f"entry {entry_id:,} is missing from the search index (hidden from searches)."
            )
        elif list(_varints(bytes(size))) != [int(n or 0) for n in row[2:]]:
            report.search_problems.append(
                f"entry {entry_id:,} is indexed with other text than it holds."
            )


def _search_totals(conn: Connection, report: ChainReport) -> None:
    """Index rows that belong to no entry (a forged or left-over index entry)."""
    orphans = conn.execute(
        text(
            f"SELECT id FROM {AUDIT_SEARCH}_docsize WHERE id NOT IN (SELECT id FROM audit_log) "
            "ORDER BY id LIMIT 5"
        )
    ).all()
    for (orphan,) in orphans:
        report.search_problems.append(
            f"the search index holds an entry {orphan:,} that the audit trail does not."
        )


def verify_audit_chain(
    db: Database,
    *,
    expected_head: str | None = None,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
    slice_size: int = SLICE,
) -> ChainReport:
    """Walk the audit trail's hash chain (and its search index) and report.

    Each slice is read in its own short session (no read transaction pins the file for
    the whole walk); entries appended meanwhile are after the head taken at the start
    and are left for the next check. Safe to call from a worker thread.

    Args:
        expected_head: a head hash kept earlier; the report says at which entry it is
            found, or that it is not in the chain.
        progress: called after each slice with (done, total); return False to cancel.
        cancel: another way to cancel (set from the GUI thread).
    """
    report = ChainReport(expected_head=(expected_head or "").strip().lower() or None)
    with db.read() as session:
        conn = session.connection()
        row = conn.execute(text("SELECT count(*), max(id) FROM audit_log")).first()
        assert row is not None
        report.total = int(row[0])
        last = int(row[1] or 0)
        report.search_checked = _has_search_index(conn)
        if report.search_checked:
            _search_totals(conn, report)
    previous: str | None = GENESIS
    after = 0
    while after < last:
        if (cancel is not None and cancel.is_set()) or (
            progress is not None and not progress(report.entries, report.total)
        ):
            report.cancelled = True
            return report
        with db.read() as session:
            conn = session.connection()
            rows = [r for r in chain_slice(conn, after, slice_size) if r[0] <= last]
            if not rows:
                break
            for number, (entry_id, stored, fields) in enumerate(rows, 1):
                if number % YIELD_EVERY == 0:
                    time.sleep(0)  # hand the GIL over: the GUI thread paints meanwhile
                if entry_hash(previous, fields) != stored:
                    report.broken_count += 1
                    if len(report.broken) < SHOWN:
                        report.broken.append(entry_id)
                if stored is not None and stored == report.expected_head:
                    report.expected_found = entry_id
                previous = stored
            if report.search_checked:
                _search_slice(conn, after, rows[-1][0], report)
        after = rows[-1][0]
        report.entries += len(rows)
        report.head_id, report.head_hash = after, previous
    if progress is not None:
        progress(report.entries, report.total)
    return report


# ---------------------------------------------------------------------- schema objects


@dataclass(frozen=True)
class SchemaFinding:
    """One schema object that is not as AccessGuard's migrations left it.

    Attributes:
        problem: "unknown", "missing" or "altered".
        kind: "table", "index", "trigger" or "view".
        name: the object's name.
        sql: the object's SQL in the file (unknown, altered) or as expected (missing).
    """

    problem: str
    kind: str
    name: str
    sql: str

    def describe(self) -> str:
        shown = " ".join(self.sql.split())
        if len(shown) > 300:
            shown = shown[:299] + "\u2026"
        if self.problem == "unknown":
            return f"Unknown {self.kind} \u201c{self.name}\u201d (not created by AccessGuard): {shown}"
        if self.problem == "missing":
            return f"Missing {self.kind} \u201c{self.name}\u201d (AccessGuard creates it: {shown})"
        return f"Altered {self.kind} \u201c{self.name}\u201d: {shown}"


SchemaObjects = dict[tuple[str, str], str]


def _objects(conn: sqlite3.Connection) -> SchemaObjects:
    rows = conn.execute(
        "SELECT type, name, coalesce(sql, '') FROM sqlite_master WHERE name NOT LIKE 'sqlite\\_%' ESCAPE '\\'"
    ).fetchall()
    return {(str(kind), str(name)): str(sql) for kind, name, sql in rows}


def build_schema_objects() -> SchemaObjects:
    """Every table, index, trigger and view a database at schema head holds, with its SQL,
    from running the migrations on an in-memory database (imports Alembic: ~0.2 s)."""
    from sqlalchemy import create_engine
    from sqlalchemy.pool import StaticPool

    from .schema import upgrade

    engine = create_engine("sqlite://", poolclass=StaticPool)
    try:
        with engine.begin() as conn:
            upgrade(conn, "head")
        raw = engine.raw_connection()
        try:
            driver = raw.driver_connection
            assert isinstance(driver, sqlite3.Connection)
            return _objects(driver)
        finally:
            raw.close()
    finally:
        engine.dispose()


@cache
def expected_schema_objects() -> SchemaObjects:
    """``build_schema_objects`` as shipped in ``schema_objects.py`` (generated, pinned by
    tests/core/test_schema_objects.py like SCHEMA_HEAD), so that the check at every open
    costs a read of sqlite_master and no Alembic import."""
    from .schema_objects import OBJECTS

    return {(kind, name): sql for kind, name, sql in OBJECTS}


def write_schema_objects() -> Path:
    """Regenerate ``schema_objects.py`` after adding a migration:
    ``python -m accessguard_gui.core.integrity``."""
    target = Path(__file__).with_name("schema_objects.py")
    lines = [
        '"""The schema objects of a database at head, with their SQL (generated by',
        "``python -m accessguard_gui.core.integrity``; tests/core/test_schema_objects.py",
        'checks it against the migrations). Do not edit."""',
        "",
        "from __future__ import annotations",
        "",
        "OBJECTS: tuple[tuple[str, str, str], ...] = (",
    ]
    lines += [f"    ({kind!r}, {name!r}, {sql!r}),"
              for (kind, name), sql in sorted(build_schema_objects().items())]
    lines.append(")")
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return target


def compare_schema(found: SchemaObjects, expected: SchemaObjects) -> list[SchemaFinding]:
    findings: list[SchemaFinding] = []
    for (kind, name), sql in sorted(found.items()):
        wanted = expected.get((kind, name))
        if wanted is None:
            findings.append(SchemaFinding("unknown", kind, name, sql))
        elif " ".join(wanted.split()) != " ".join(sql.split()):
            findings.append(SchemaFinding("altered", kind, name, sql))
    for (kind, name), sql in sorted(expected.items()):
        if (kind, name) not in found:
            findings.append(SchemaFinding("missing", kind, name, sql))
    return findings


def schema_findings(db: Database) -> list[SchemaFinding]:
    """Schema objects of an SQLite database that AccessGuard's migrations did not leave
    there, or left otherwise: a planted trigger, view, table or index; a dropped or
    changed one. [] on other databases (their catalogues are not compared)."""
    if db.dialect != "sqlite":
        return []
    # The catalogue, not records: readable before anyone signs in (the window checks it
    # before sign-in, whose audit entry could fire a planted trigger).
    with db.internal_session() as session:
        raw = session.connection().connection.driver_connection
        assert isinstance(raw, sqlite3.Connection)
        found = _objects(raw)
    return compare_schema(found, expected_schema_objects())


def file_schema_findings(path: str) -> list[SchemaFinding]:
    """``schema_findings`` of a file not (yet) opened as a Database, read-only."""
    uri = Path(path).absolute().as_uri() + "?mode=ro"
    with closing(sqlite3.connect(uri, uri=True)) as conn:
        found = _objects(conn)
    return compare_schema(found, expected_schema_objects())


# ---------------------------------------------------------------------- look-alike names


LOOKALIKE_TABLES = {
    "users": ("username", "username_skeleton", "users"),
    "roles": ("name", "name_skeleton", "roles"),
    "resources": ("name", "name_skeleton", "resources"),
    "ssd_sets": ("name", "name_skeleton", "separation-of-duty sets"),
}


def lookalike_names(db: Database, limit: int = SHOWN) -> list[str]:
    """Groups of names that look the same (same skeleton), e.g. from before 0005."""
    found: list[str] = []
    with db.read() as session:
        for table, (name_col, key, label) in LOOKALIKE_TABLES.items():
            rows: Any = session.execute(
                text(
                    f"SELECT {key} FROM {table} GROUP BY {key} HAVING count(*) > 1 LIMIT :n"
                ),
                {"n": limit},
            ).all()
            for (skeleton,) in rows:
                names = session.execute(
                    text(f"SELECT {name_col} FROM {table} WHERE {key} = :k ORDER BY id LIMIT 5"),
                    {"k": skeleton},
                ).scalars().all()
                shown = ", ".join(f"\u201c{n}\u201d" for n in names)
                found.append(f"{label} that look the same: {shown}")
    return found[:limit]


if __name__ == "__main__":
    print(f"written: {write_schema_objects()}")
