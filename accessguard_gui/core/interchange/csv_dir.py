"""The AccessGuard CSV directory: one UTF-8 CSV file per table, both ways.

A folder holding any of ``users.csv``, ``roles.csv``, ``role_parents.csv``,
``resources.csv``, ``permissions.csv``, ``user_roles.csv``, ``role_permissions.csv``,
``ssd_sets.csv`` and ``ssd_set_roles.csv`` (columns in ``FILES``; the README documents
them). Each file has a header row; columns may come in any order, optional columns and
files may be missing, unknown columns are reported and ignored, an unknown ``*.csv`` file
is refused (a misspelt ``user.csv`` must not be skipped silently).

Reading is streamed with a bound on every physical line (``MAX_LINE_BYTES``: a 1 GB line
is refused after reading 1 MiB of it), strict UTF-8 (a byte-order mark at the start is
accepted, as Excel writes one), CRLF or LF line ends, RFC 4180 quoting; a malformed file
raises SourceFormatError with file:line, a bad row becomes a refused row of the dry run.
Cells written neutralised against spreadsheet formulas (``cells.py``) are restored.
"""

from __future__ import annotations

import csv
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from itertools import chain, groupby, islice
from operator import attrgetter
from pathlib import Path
from typing import IO, Any

from ..errors import InterchangeError, SourceFormatError
from .cells import FORMULA_TRIGGERS, neutralise, restore
from .records import (
    Origin,
    PermissionRecord,
    Record,
    ResourceRecord,
    RoleParentRecord,
    RolePermissionRecord,
    RoleRecord,
    SourceProblem,
    SsdSetRecord,
    SsdSetRoleRecord,
    UserRecord,
    UserRoleRecord,
)

MAX_LINE_BYTES = 1 << 20
MAX_FIELD_CHARS = 1 << 17  # a description is at most 2,000 characters, a hash 512
BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True, slots=True)
class FileSpec:
    """One file of the directory: its table, required and optional columns."""

    table: str
    required: tuple[str, ...]
    optional: tuple[str, ...] = ()

    @property
    def columns(self) -> tuple[str, ...]:
        return self.required + self.optional


FILES: dict[str, FileSpec] = {
    "users.csv": FileSpec(
        "users", ("username",), ("display_name", "email", "active", "password_hash")
    ),
    "roles.csv": FileSpec("roles", ("name",), ("description",)),
    "role_parents.csv": FileSpec("role_parents", ("role", "parent_role")),
    "resources.csv": FileSpec("resources", ("name",), ("description",)),
    "permissions.csv": FileSpec("permissions", ("resource", "action"), ("description",)),
    "user_roles.csv": FileSpec("user_roles", ("username", "role"), ("expires_at",)),
    "role_permissions.csv": FileSpec("role_permissions", ("role", "resource", "action")),
    "ssd_sets.csv": FileSpec("ssd_sets", ("name", "cardinality"), ("description",)),
    "ssd_set_roles.csv": FileSpec("ssd_set_roles", ("set", "role")),
}
TRUE_WORDS = frozenset({"true", "yes", "1", "y", "t"})
FALSE_WORDS = frozenset({"false", "no", "0", "n", "f"})


# ---------------------------------------------------------------------- reading


def looks_like_csv_directory(path: Path) -> bool:
    """A folder holding at least one of the directory's file names (format detection)."""
    return path.is_dir() and any((path / name).is_file() for name in FILES)


def _lines(handle: IO[bytes], name: str) -> Iterator[str]:
    """Decoded physical lines (line ends kept), each bounded in length."""
    number = 0
    while True:
        raw = handle.readline(MAX_LINE_BYTES + 1)
        if not raw:
            return
        number += 1
        if len(raw) > MAX_LINE_BYTES:
            raise SourceFormatError(
                name, number,
                f"the line is longer than {MAX_LINE_BYTES // (1 << 20)} MiB; "
                "is this really a CSV file?",
            )
        if number == 1 and raw.startswith(BOM):
            raw = raw[len(BOM):]
        try:
            yield raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise SourceFormatError(
                name, number,
                f"not UTF-8 text (byte 0x{raw[exc.start]:02x} at column {exc.start + 1}); "
                "save the file as UTF-8",
            ) from None


class _Rows:
    """csv.reader over bounded lines, knowing each record's first line number."""

    def __init__(self, handle: IO[bytes], name: str) -> None:
        self.name = name
        self.consumed = 0
        self._source = _lines(handle, name)
        self._reader = csv.reader(self._counted(), strict=True)

    def _counted(self) -> Iterator[str]:
        for line in self._source:
            self.consumed += 1
            yield line

    def __iter__(self) -> Iterator[tuple[int, list[str]]]:
        while True:
            start = self.consumed + 1
            try:
                row = next(self._reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise SourceFormatError(self.name, start, f"not valid CSV ({exc})") from None
            yield start, row


def _field_limit() -> None:
    # csv's limit is process-wide; never lower it below what another user set.
    if csv.field_size_limit() < MAX_FIELD_CHARS:
        csv.field_size_limit(MAX_FIELD_CHARS)


def _bool(text: str) -> bool | None:
    word = text.strip().lower()
    if not word:
        return None
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ValueError(f"“{text}” is not true or false")


def parse_time(text: str) -> datetime | None:
    """ISO 8601; a time without a zone is UTC; empty is None."""
    value = text.strip()
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(
            f"“{text}” is not a date and time (ISO 8601, e.g. 2027-03-31T17:00:00Z)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _count(raw: str | None) -> int:
    text = (raw or "").strip()
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"cardinality “{text}” is not a whole number") from None


def _user_record(username: str | None, display_name: str | None, email: str | None,
          active: str | None, password_hash: str | None) -> UserRecord:
    return UserRecord(
        username=username or "",
        display_name=display_name or None,
        email=email,
        active=None if active is None else _bool(active),
        password_hash=password_hash or None,
    )


# Per table: the record of a row's cells, given in FileSpec.columns order (None: the
# column is absent). ValueError for a value of the wrong kind.
_RECORDS: dict[str, Callable[..., Record]] = {
    "users": _user_record,
    "roles": lambda name, text: RoleRecord(name or "", text),
    "resources": lambda name, text: ResourceRecord(name or "", text),
    "role_parents": lambda role, parent: RoleParentRecord(role or "", parent or ""),
    "permissions": lambda resource, action, text: PermissionRecord(
        resource or "", action or "", text),
    "user_roles": lambda user, role, expires: UserRoleRecord(
        user or "", role or "", None if expires is None else parse_time(expires)),
    "role_permissions": lambda role, resource, action: RolePermissionRecord(
        role or "", resource or "", action or ""),
    "ssd_sets": lambda name, count, text: SsdSetRecord(name or "", _count(count), text),
    "ssd_set_roles": lambda name, role: SsdSetRoleRecord(name or "", role or ""),
}


class CsvDirectorySource:
    """An AccessGuard CSV directory as an import ``Source``.

    Attributes:
        path: the folder.
        name: its name, for "Import from <name>".
        covers: the tables whose files are present (mirror mode's scope).
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.name = self.path.name or str(self.path)
        if not self.path.is_dir():
            raise SourceFormatError(str(self.path), 0, "is not a folder")
        self.present = [name for name in FILES if (self.path / name).is_file()]
        if not self.present:
            raise SourceFormatError(
                self.name, 0,
                "is not an AccessGuard CSV directory: it holds none of "
                + ", ".join(FILES),
            )
        self.covers = frozenset(FILES[name].table for name in self.present)

    def records(self) -> Iterator[tuple[Origin, Record | SourceProblem]]:
        _field_limit()
        for entry in sorted(os.listdir(self.path)):
            if entry.lower().endswith(".csv") and entry not in FILES:
                hint = next((n for n in FILES if n.lower() == entry.lower()), None)
                why = f"did you mean {hint}?" if hint else "expected " + ", ".join(FILES)
                yield Origin(entry, 0), SourceProblem(
                    f"Unknown file {entry}: {why} Nothing in it would be imported."
                )
        for name in self.present:
            yield from self._file(name, FILES[name])

    def _file(self, name: str, spec: FileSpec) -> Iterator[tuple[Origin, Record | SourceProblem]]:
        try:
            handle = open(self.path / name, "rb")  # noqa: SIM115 - closed below
        except OSError as exc:
            raise SourceFormatError(name, 0, f"cannot be read ({exc.strerror})") from None
        with handle:
            rows = iter(_Rows(handle, name))
            first = next(rows, None)
            if first is None:
                raise SourceFormatError(
                    name, 1, "is empty: the first line must name the columns ("
                    + ", ".join(spec.columns) + ")"
                )
            _line, header = first
            columns = [h.strip().lower() for h in header]
            problems = self._header(name, spec, columns)
            yield from problems
            width = len(columns)
            # Where each of the table's columns is in this file (None: absent).
            where = [columns.index(c) if c in columns else None for c in spec.columns]
            build = _RECORDS[spec.table]
            for line, row in rows:
                if not row:
                    continue  # a blank line
                if len(row) != width:
                    if len(row) == 1 and not row[0].strip():
                        continue
                    yield Origin(name, line), SourceProblem(
                        f"The row has {len(row)} fields, the header {width}.", kind=spec.table
                    )
                    continue
                cells = [
                    None if i is None
                    else (restore(row[i]) if row[i].startswith("'") else row[i])
                    for i in where
                ]
                try:
                    yield Origin(name, line), build(*cells)
                except ValueError as exc:
                    yield Origin(name, line), SourceProblem(
                        str(exc)[:1].upper() + str(exc)[1:] + ".", kind=spec.table
                    )

    def _header(
        self, name: str, spec: FileSpec, columns: list[str]
    ) -> list[tuple[Origin, SourceProblem]]:
        seen: set[str] = set()
        for column in columns:
            if column in seen:
                raise SourceFormatError(name, 1, f"the column “{column}” appears twice")
            seen.add(column)
        missing = [c for c in spec.required if c not in seen]
        if missing:
            raise SourceFormatError(
                name, 1,
                f"the header lacks the column{'s' if len(missing) > 1 else ''} "
                + ", ".join(f"“{c}”" for c in missing)
                + " (columns: " + ", ".join(spec.columns) + ")",
            )
        return [
            (Origin(name, 1), SourceProblem(
                f"Unknown column “{c}” ignored (known: {', '.join(spec.columns)}).",
                refuses=False, kind=spec.table,
            ))
            for c in columns if c not in spec.columns
        ]


# ---------------------------------------------------------------------- writing


def _time_text(moment: datetime | None) -> str:
    if moment is None:
        return ""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _n(text: str | None) -> str:
    """A text cell: empty for None, neutralised (cells.py) when it starts like a formula."""
    if not text:
        return ""
    return neutralise(text) if text[0] in _RISKY else text


_RISKY = FORMULA_TRIGGERS + "'"


def _user(r: Any, hashes: bool) -> list[str]:
    row = [_n(r.username), _n(r.display_name), _n(r.email),
           "false" if r.active is False else "true"]
    if hashes:
        row.append(_n(r.password_hash))
    return row


# Per record type: its file and its row of cells (the columns of FILES, in order).
_ROWS: dict[type[Any], tuple[str, Callable[[Any, bool], list[str]]]] = {
    UserRecord: ("users.csv", _user),
    RoleRecord: ("roles.csv", lambda r, _h: [_n(r.name), _n(r.description)]),
    RoleParentRecord: ("role_parents.csv", lambda r, _h: [_n(r.role), _n(r.parent_role)]),
    ResourceRecord: ("resources.csv", lambda r, _h: [_n(r.name), _n(r.description)]),
    PermissionRecord: (
        "permissions.csv", lambda r, _h: [_n(r.resource), _n(r.action), _n(r.description)]
    ),
    UserRoleRecord: (
        "user_roles.csv",
        lambda r, _h: [_n(r.username), _n(r.role), _time_text(r.expires_at)],
    ),
    RolePermissionRecord: (
        "role_permissions.csv", lambda r, _h: [_n(r.role), _n(r.resource), _n(r.action)]
    ),
    SsdSetRecord: (
        "ssd_sets.csv", lambda r, _h: [_n(r.name), str(r.cardinality), _n(r.description)]
    ),
    SsdSetRoleRecord: ("ssd_set_roles.csv", lambda r, _h: [_n(r.set_name), _n(r.role)]),
}


def _users_plain(rows: Sequence[Any], hashes: bool) -> list[tuple[Any, ...]]:
    if hashes:
        return [(name, shown, mail, "false" if active is False else "true", secret)
                for name, shown, mail, active, secret in rows]
    return [(name, shown, mail, "false" if active is False else "true")
            for name, shown, mail, active, _secret in rows]


def _assignments_plain(rows: Sequence[Any], _hashes: bool) -> list[tuple[Any, ...]]:
    return [(user, role, None if expires is None else _time_text(expires))
            for user, role, expires in rows]


def _as_they_are(rows: Sequence[Any], _hashes: bool) -> Sequence[Any]:
    return rows


# Per record type: rows of the record's fields (in order) as CSV rows of plain text
# (None for an empty cell): the same cells as ``_ROWS`` gives wherever no text starts
# like a formula. ``_cells`` uses them for every batch in which no cell does.
_PLAIN: dict[type[Any], Callable[[Sequence[Any], bool], Sequence[Any]]] = {
    UserRecord: _users_plain,
    RoleRecord: _as_they_are,
    RoleParentRecord: _as_they_are,
    ResourceRecord: _as_they_are,
    PermissionRecord: _as_they_are,
    UserRoleRecord: _assignments_plain,
    RolePermissionRecord: _as_they_are,
    SsdSetRecord: lambda rows, _h: [(name, str(count), text) for name, count, text in rows],
    SsdSetRoleRecord: _as_they_are,
}
# Per record type: a record's fields in order, as one tuple.
_FIELDS = {kind: attrgetter(*(f.name for f in fields(kind))) for kind in _PLAIN}
# Where cells start in a batch's text joined by NUL (``_cells``): a cell starting like a
# formula or with an apostrophe follows one. A NUL inside a cell can only send its batch
# down the careful path, never let a formula through.
_STARTS_RISKY = re.compile("\x00[" + re.escape(_RISKY) + "]")


def _cells(kind: type[Any], rows: Sequence[Any], hashes: bool) -> Sequence[Any]:
    """The CSV rows of a batch of rows of one record type (the record's fields). One
    search over the batch's text finds whether any cell starts like a formula (or with
    an apostrophe); if none does, nearly always, the plain rows are written as they
    are, else every row goes through ``_ROWS``, which neutralises cell by cell."""
    plain = _PLAIN[kind](rows, hashes)
    text = "\x00" + "\x00".join(filter(None, chain.from_iterable(plain)))
    if _STARTS_RISKY.search(text) is None:
        return plain
    cells = _ROWS[kind][1]
    return [cells(kind(*row), hashes) for row in rows]


def _record_batches(records: Iterable[Record]) -> Iterator[tuple[type[Any], list[Any]]]:
    """(record type, rows of the records' fields) for a stream of records: runs of one
    type (exports stream table by table), a batch at a time."""
    for kind, run in groupby(records, type):
        get = _FIELDS[kind]
        for batch in batched(run, 2000):
            yield kind, list(map(get, batch))


def batched(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    """Lists of up to ``size`` items (itertools.batched arrives in Python 3.12)."""
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def prepare_directory(target: Path) -> None:
    """Create the folder, or check that an existing one holds nothing but files of the
    directory format (which an export replaces)."""
    if target.exists() and not target.is_dir():
        raise InterchangeError(f"{target} exists and is not a folder.")
    if target.is_dir():
        strangers = sorted(
            entry for entry in os.listdir(target)
            if entry not in FILES and not entry.startswith(".accessguard-export-")
        )
        if strangers:
            raise InterchangeError(
                f"{target} holds other files ({', '.join(strangers[:5])}"
                f"{'…' if len(strangers) > 5 else ''}); export into an empty or new folder."
            )
    else:
        try:
            target.mkdir(parents=True)
        except OSError as exc:
            raise InterchangeError(f"The folder {target} cannot be created: {exc.strerror}.") \
                from None


def write(records: Iterable[Record], target: str | os.PathLike[str],
          options: Any = None) -> dict[str, int]:
    """Write ``records`` as a CSV directory at ``target`` (created if missing).

    Every file of the format is written (a header alone for an empty table), each first
    to a temporary name and renamed into place when all are complete. Cells a
    spreadsheet would run as formulas are neutralised. Password hashes are written only
    with ``options.with_password_hashes``. Returns rows written per file.
    """
    folder = Path(target)
    with_hashes = bool(getattr(options, "with_password_hashes", False))
    prepare_directory(folder)
    temps: dict[str, Path] = {}
    handles: dict[str, IO[str]] = {}
    writers: dict[str, Any] = {}
    counts = {name: 0 for name in FILES}
    try:
        for name, spec in FILES.items():
            fd, temp_name = tempfile.mkstemp(prefix=".accessguard-export-", dir=folder)
            temps[name] = Path(temp_name)
            handles[name] = os.fdopen(fd, "w", encoding="utf-8", newline="")
            writers[name] = csv.writer(handles[name])
            header = list(spec.columns)
            if name == "users.csv" and not with_hashes:
                header.remove("password_hash")
            writers[name].writerow(header)
        # A batch of rows of one record type at a time: straight from the database's
        # rows where the stream offers them (export.DatabaseRecords), no object a record.
        batches = getattr(records, "batches", None)
        runs = batches() if callable(batches) else _record_batches(records)
        for kind, rows in runs:
            name = _ROWS[kind][0]
            writers[name].writerows(_cells(kind, rows, with_hashes))
            counts[name] += len(rows)
        for handle in handles.values():
            handle.flush()
            os.fsync(handle.fileno())
            handle.close()
        for name, temp in temps.items():
            os.replace(temp, folder / name)
    except BaseException:
        for handle in handles.values():
            handle.close()
        for temp in temps.values():
            temp.unlink(missing_ok=True)
        raise
    return counts
