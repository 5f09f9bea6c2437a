"""The AccessGuard organisation document: one JSON file holding a whole organisation.

Layout (version 1)::

    {
      "format": "accessguard-organisation",
      "version": 1,
      "exported_at": "2026-11-30T07:00:00Z",            (optional, informative)
      "users": [{"username": "alice", "display_name": "Alice Archer",
                 "email": "alice@example.org", "active": true,
                 "password_hash": "$argon2id$..."}],      (only when asked for)
      "roles": [{"name": "Staff", "description": ""}],
      "role_parents": [{"role": "Finance", "parent_role": "Staff"}],
      "resources": [{"name": "Ledger", "description": ""}],
      "permissions": [{"resource": "Ledger", "action": "read", "description": ""}],
      "user_roles": [{"username": "alice", "role": "Finance",
                      "expires_at": "2027-01-31T00:00:00Z"}],
      "role_permissions": [{"role": "Finance", "resource": "Ledger", "action": "read"}],
      "ssd_sets": [{"name": "Pay vs approve", "cardinality": 2, "description": ""}],
      "ssd_set_roles": [{"set": "Pay vs approve", "role": "Payments"}]
    }

The sections are the CSV directory's files, with the same fields; every section and every
field except the names that identify a record may be missing (missing means "the source
does not say"). ``role_parents``: *role* inherits every permission of *parent_role*.
Times are ISO 8601 in UTC (``Z`` or an offset; a time without one is read as UTC).
Unknown sections or fields are refused, naming the entry, so a misspelt field is never
silently ignored.

Streaming both ways: the writer emits one entry per line as the records arrive; the
reader does not ``json.load`` the file. It reads the text in chunks and decodes one entry
at a time with ``json.JSONDecoder.raw_decode``, counting line ends as it goes, so memory
stays flat in the file's size and every record carries the real line it starts on
(``organisation.json:1042``). This was chosen over ``ijson`` (no line numbers, one more
dependency). A single entry larger than ``MAX_ENTRY_CHARS`` is refused as malformed.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO, TextIO

from ..errors import SourceFormatError
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

FORMAT_NAME = "accessguard-organisation"
FORMAT_VERSION = 1
CHUNK_CHARS = 1 << 16
MAX_ENTRY_CHARS = 1 << 20  # one user or role entry is a few hundred characters
MAX_SNIFF_BYTES = 4096


@dataclass(frozen=True)
class _Section:
    """How one array of the document maps to a record type.

    Attributes:
        key: the document's name of the array ("users").
        record: the record class its entries become.
        fields: document field -> record field, in the order the writer emits them.
        required: document fields an entry must have.
    """

    key: str
    record: type[Any]
    fields: tuple[tuple[str, str], ...]
    required: tuple[str, ...]

    @property
    def known(self) -> frozenset[str]:
        """The document's field names of this section."""
        return _KNOWN[self.key]


SECTIONS: tuple[_Section, ...] = (
    _Section("users", UserRecord, (("username", "username"), ("display_name", "display_name"),
             ("email", "email"), ("active", "active"), ("password_hash", "password_hash")),
             ("username",)),
    _Section("roles", RoleRecord, (("name", "name"), ("description", "description")), ("name",)),
    _Section("role_parents", RoleParentRecord,
             (("role", "role"), ("parent_role", "parent_role")), ("role", "parent_role")),
    _Section("resources", ResourceRecord, (("name", "name"), ("description", "description")),
             ("name",)),
    _Section("permissions", PermissionRecord, (("resource", "resource"), ("action", "action"),
             ("description", "description")), ("resource", "action")),
    _Section("user_roles", UserRoleRecord, (("username", "username"), ("role", "role"),
             ("expires_at", "expires_at")), ("username", "role")),
    _Section("role_permissions", RolePermissionRecord,
             (("role", "role"), ("resource", "resource"), ("action", "action")),
             ("role", "resource", "action")),
    _Section("ssd_sets", SsdSetRecord, (("name", "name"), ("cardinality", "cardinality"),
             ("description", "description")), ("name", "cardinality")),
    _Section("ssd_set_roles", SsdSetRoleRecord, (("set", "set_name"), ("role", "role")),
             ("set", "role")),
)
_BY_KEY = {s.key: s for s in SECTIONS}
_KNOWN = {s.key: frozenset(name for name, _ in s.fields) for s in SECTIONS}
_BY_RECORD: dict[type[Any], _Section] = {s.record: s for s in SECTIONS}
_HEADER_KEYS = ("format", "version", "exported_at")


class JsonDocumentError(SourceFormatError):
    """The file is not a readable AccessGuard organisation document (message has file:line)."""


# ---------------------------------------------------------------------- writing


def iso_utc(moment: datetime) -> str:
    """An aware datetime as ISO 8601 in UTC with a ``Z`` (how every export writes times)."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _value(value: Any) -> Any:
    return iso_utc(value) if isinstance(value, datetime) else value


def write_document(
    records: Iterable[Record],
    out: TextIO,
    *,
    exported_at: datetime | None = None,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Write ``records`` as one organisation document, streaming (one entry per line).

    Records must come grouped by type (``export.py`` yields table by table); the sections
    appear in the order their first record arrives. Fields that are ``None`` are left out.

    Args:
        out: a text stream opened with ``encoding="utf-8", newline=""``.
        progress: called with the number of records written so far, every 1,000 records.

    Returns:
        How many records were written.
    """
    header = {"format": FORMAT_NAME, "version": FORMAT_VERSION,
              "exported_at": iso_utc(exported_at or datetime.now(UTC))}
    out.write("{\n")
    out.write(",\n".join(f"  {json.dumps(k)}: {json.dumps(v)}" for k, v in header.items()))
    current: _Section | None = None
    done: set[str] = set()
    count = 0
    first = True
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(", ", ": ")).encode
    for record in records:
        section = _BY_RECORD[type(record)]
        if section is not current:
            if section.key in done:
                raise ValueError(f"records of {section.key} are not grouped together")
            if current is not None:
                out.write("\n  ]")
            out.write(f",\n  {json.dumps(section.key)}: [")
            done.add(section.key)
            current = section
            first = True
        entry = {}
        for name, attr in section.fields:
            value = getattr(record, attr)
            if value is not None:
                entry[name] = _value(value)
        out.write(("\n    " if first else ",\n    ") + dumps(entry))
        first = False
        count += 1
        if progress is not None and count % 1000 == 0:
            progress(count)
    if current is not None:
        out.write("\n  ]")
    out.write("\n}\n")
    return count


def write_file(
    records: Iterable[Record], path: str | Path, **options: Any
) -> int:
    """``write_document`` into ``path`` (UTF-8, ``\\n`` line ends), written beside it and
    renamed into place, so a failed or cancelled export leaves no half-written file."""
    from .table_export import ExportWriteError, replacing

    if Path(path).is_dir():
        raise ExportWriteError(f"{path} is a folder: name the JSON file to write.")
    with replacing(path) as out:
        return write_document(records, out, **options)


# ---------------------------------------------------------------------- reading

_SPACE = re.compile(r"[ \t\r\n]*")


class _Scanner:
    """JSON text read in chunks: skip whitespace, expect punctuation, decode one value.

    Keeps a buffer of at most one chunk plus the value being decoded, and the number of
    the line the buffer's start is on.
    """

    def __init__(self, stream: TextIO, name: str) -> None:
        self._stream = stream
        self._name = name
        self._buf = ""
        self._pos = 0
        self._line = 1  # line of self._buf[0]
        self._counted = 0  # chars of _buf whose newlines are in _line
        self._eof = False
        self._decoder = json.JSONDecoder()

    @property
    def line(self) -> int:
        """The line the scanner stands on."""
        self._line += self._buf.count("\n", self._counted, self._pos)
        self._counted = self._pos
        return self._line

    def error(self, message: str, line: int | None = None) -> JsonDocumentError:
        return JsonDocumentError(self._name, line or self.line, message)

    def _more(self) -> bool:
        if self._eof:
            return False
        try:
            chunk = self._stream.read(CHUNK_CHARS)
        except UnicodeDecodeError as exc:
            raise self.error(
                f"the file is not UTF-8 text (byte {exc.object[exc.start:exc.start + 1]!r} "
                "near here)"
            ) from None
        if not chunk:
            self._eof = True
            return False
        self.line  # noqa: B018 - count what is dropped before dropping it
        self._buf = self._buf[self._pos:] + chunk
        self._pos = 0
        self._counted = 0
        return True

    def skip_space(self) -> None:
        while True:
            match = _SPACE.match(self._buf, self._pos)
            assert match is not None
            self._pos = match.end()
            if self._pos < len(self._buf) or not self._more():
                return

    def peek(self) -> str:
        """The next non-space character, "" at the end of the file."""
        self.skip_space()
        return self._buf[self._pos] if self._pos < len(self._buf) else ""

    def expect(self, chars: str, what: str) -> str:
        found = self.peek()
        if not found or found not in chars:
            shown = repr(found) if found else "the end of the file"
            raise self.error(f"expected {what}, found {shown}")
        self._pos += 1
        return found

    def value(self) -> tuple[Any, int]:
        """Decode the next JSON value; returns it with the line it starts on."""
        self.skip_space()
        line = self.line
        while True:
            try:
                value, end = self._decoder.raw_decode(self._buf, self._pos)
            except json.JSONDecodeError as exc:
                if self._grow():
                    continue
                at = line + self._buf.count("\n", self._pos, exc.pos)
                started = f" (in the value starting on line {line})" if at != line else ""
                raise self.error(f"not valid JSON: {exc.msg}{started}", at) from None
            # A number at the very end of the buffer may continue in the next chunk.
            if end == len(self._buf) and self._grow():
                continue
            self._pos = end
            return value, line

    def _grow(self) -> bool:
        if len(self._buf) - self._pos > MAX_ENTRY_CHARS:
            raise self.error(
                f"an entry longer than {MAX_ENTRY_CHARS:,} characters (or a malformed one)"
            )
        return self._more()


def _entry_records(
    section: _Section, entry: Any, origin: Origin
) -> list[tuple[Origin, Record | SourceProblem]]:
    """The record of one entry, after a warning for each unknown field; a problem that
    refuses the import instead of the record when the entry cannot be one.

    The common case — an object of known fields holding text — is a key-view comparison
    and one isinstance per field (this runs once per entry of a file of millions)."""
    kind = section.key
    if not isinstance(entry, dict):
        return [(origin, SourceProblem(f"each entry of {kind!r} must be an object", kind=kind))]
    out: list[tuple[Origin, Record | SourceProblem]] = []
    known = section.known
    if not entry.keys() <= known:
        out += [
            (origin, SourceProblem(
                f"unknown field {name!r} in {kind!r} ignored (known: {', '.join(sorted(known))})",
                refuses=False, kind=kind,
            ))
            for name in sorted(entry.keys() - known)
        ]
    values: dict[str, Any] = {}
    for name, attr in section.fields:
        value = entry.get(name)
        if value is None:
            if name in section.required:
                out.append((origin, SourceProblem(f"{kind!r} entry without {name!r}", kind=kind)))
                return out
            continue
        if value.__class__ is not str or name in _TYPED:
            value = _checked(name, value)
            if isinstance(value, SourceProblem):
                out.append((origin, SourceProblem(value.message, kind=kind)))
                return out
        values[attr] = value
    out.append((origin, section.record(**values)))
    return out


_TYPED = frozenset(("active", "cardinality", "expires_at"))  # fields that are not plain text


def _checked(name: str, value: Any) -> Any:
    """A field's JSON value as the record wants it, or the problem with it."""
    if name == "active":
        if not isinstance(value, bool):
            return SourceProblem(f"'active' must be true or false, not {value!r}")
        return value
    if name == "cardinality":
        if not isinstance(value, int) or isinstance(value, bool):
            return SourceProblem(f"'cardinality' must be a whole number, not {value!r}")
        return value
    if not isinstance(value, str):
        return SourceProblem(f"{name!r} must be text, not {value!r}")
    if name == "expires_at":
        moment = parse_time(value)
        return moment if moment is not None else SourceProblem(
            f"'expires_at' {value!r} is not a time (write e.g. 2027-01-31T00:00:00Z)"
        )
    return value


def parse_time(text: str) -> datetime | None:
    """An ISO 8601 time as an aware UTC datetime (no zone given: UTC); None if it is not
    a time."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def read_document(
    stream: TextIO, name: str
) -> Iterator[tuple[Origin, Record | SourceProblem]]:
    """Stream the records of a document, each with the line its entry starts on.

    Raises:
        JsonDocumentError: not JSON, not this format, an unsupported version, an unknown
            section or field, a wrongly typed value — with ``name:line``.
    """
    scan = _Scanner(stream, name)
    if scan.peek() == "":
        raise scan.error("the file is empty")
    scan.expect("{", "a JSON object ('{') at the start of the document")
    seen: set[str] = set()
    if scan.peek() == "}":
        raise scan.error(f"an empty object, not an {FORMAT_NAME} document")
    while True:
        key, line = scan.value()
        if not isinstance(key, str):
            raise scan.error("expected a quoted field name", line)
        if key in seen:
            raise scan.error(f"{key!r} appears twice", line)
        seen.add(key)
        scan.expect(":", "':' after a field name")
        if key in _BY_KEY:
            yield from _read_section(scan, _BY_KEY[key], name)
        elif key in _HEADER_KEYS:
            value, at = scan.value()
            _check_header(key, value, name, at)
        else:
            raise scan.error(
                f"unknown section {key!r} (known: {', '.join(s.key for s in SECTIONS)})", line
            )
        if scan.expect(",}", "',' or '}'") == "}":
            break
    if scan.peek() != "":
        raise scan.error("text after the end of the document")
    if "format" not in seen:
        raise JsonDocumentError(
            name, 0, f"no \"format\": \"{FORMAT_NAME}\" field: not an AccessGuard document"
        )
    if "version" not in seen:
        raise JsonDocumentError(name, 0, "no \"version\" field")


def _check_header(key: str, value: Any, name: str, line: int) -> None:
    if key == "format" and value != FORMAT_NAME:
        raise JsonDocumentError(
            name, line, f"the format is {value!r}, not {FORMAT_NAME!r}: not an AccessGuard "
            "organisation document"
        )
    if key == "version" and value != FORMAT_VERSION:
        raise JsonDocumentError(
            name, line, f"version {value!r} of the document format is not supported "
            f"(this AccessGuard reads version {FORMAT_VERSION})"
        )
    if key == "exported_at" and value is not None and (
        not isinstance(value, str) or parse_time(value) is None
    ):
        raise JsonDocumentError(name, line, f"'exported_at' is not a time: {value!r}")


def _read_section(
    scan: _Scanner, section: _Section, name: str
) -> Iterator[tuple[Origin, Record | SourceProblem]]:
    scan.expect("[", f"a list ('[') for {section.key!r}")
    if scan.peek() == "]":
        scan.expect("]", "']'")
        return
    while True:
        entry, line = scan.value()
        yield from _entry_records(section, entry, Origin(name, line))
        if scan.expect(",]", f"',' or ']' in {section.key!r}") == "]":
            return


def open_text(path: Path) -> TextIO:
    """The file as strictly decoded UTF-8 text; a byte-order mark is skipped, line ends
    are kept as they are (the scanner counts ``\\n``)."""
    return open(path, encoding="utf-8-sig", errors="strict", newline="")


@dataclass
class JsonSource:
    """An organisation document as an import ``Source``.

    Attributes:
        path: the file.
        name: what the audit trail and the dry run call it (the file's name).
    """

    path: Path
    name: str = ""

    def __post_init__(self) -> None:
        self.path = Path(self.path)
        if not self.name:
            self.name = self.path.name

    def records(self) -> Iterator[tuple[Origin, Record | SourceProblem]]:
        try:
            stream = open_text(self.path)
        except OSError as exc:
            raise JsonDocumentError(self.name, 0, f"cannot be read ({exc.strerror})") from None
        with stream:
            yield from read_document(stream, self.name)


def looks_like_document(head: bytes) -> bool:
    """Does the start of a file look like an organisation document? (format detection)"""
    text = codecs.decode(head[:MAX_SNIFF_BYTES], "utf-8", errors="ignore").lstrip("\ufeff")
    return text.lstrip().startswith("{") and f'"{FORMAT_NAME}"' in text


def sniff(stream: BinaryIO) -> bool:
    """``looks_like_document`` on the first bytes of an open binary stream."""
    return looks_like_document(stream.read(MAX_SNIFF_BYTES))
