"""Audit entries in people's words: "Display name: Ann → Anna", "Active: yes → no".

The trail stores what changed as JSON of field names and stored values (core/audit.py);
an auditor reads words, not ``{"active": true}`` or Python's ``True``/``None``. One
vocabulary everywhere: the operation filter, the Operation column and the details say
Added / Changed / Deleted. Times are shown in local time (or UTC, a setting) to the
second; the stored value is always UTC.

Qt-free and cheap: the views call these per *painted* row only, never for a whole table.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

#: The stored operation -> the word a person reads (the filter uses the same words).
OPERATION_WORDS: dict[str, str] = {"insert": "Added", "update": "Changed", "delete": "Deleted"}

#: Field names -> labels, as the record form and the table headers say them.
FIELD_WORDS: dict[str, str] = {
    "username": "Username",
    "display_name": "Display name",
    "email": "E-mail",
    "active": "Active",
    "password_hash": "Password",
    "name": "Name",
    "description": "Description",
    "action": "Action",
    "expires_at": "Expires",
    "created_at": "Created",
    "granted_by": "Granted by",
    "note": "Note",
}

#: Fields the record column already names (the row ids of a user, a role, ...).
_HIDDEN_SUFFIX = "_id"
_HIDDEN = frozenset({"id"})
#: The separator of field changes on one line (the table's Before → after column).
SEPARATOR = "; "
ARROW = " \u2192 "
EMPTY = "empty"
#: An ISO date-time as the trail stores one ("2026-11-30T08:45:03.123456+00:00").
_ISO_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([+-]\d{2}:\d{2}|Z)?$")


def operation_word(operation: str) -> str:
    """``"insert"`` -> ``"Added"``; an unknown operation is shown as stored."""
    return OPERATION_WORDS.get(operation, operation)


def field_word(name: str) -> str:
    """A field's label: ``"display_name"`` -> ``"Display name"``."""
    word = FIELD_WORDS.get(name)
    if word is not None:
        return word
    return name.replace("_", " ").capitalize()


def shown_field(name: str) -> bool:
    """Is the field worth a line? Row ids are not: the record column names the records."""
    return name not in _HIDDEN and not name.endswith(_HIDDEN_SUFFIX)


def stored_utc(value: Any) -> datetime | None:
    """A stored time (aware or naive-UTC datetime, or its text) as an aware UTC datetime;
    None when it is not a time."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if not isinstance(value, str) or not _ISO_TIME.match(value.strip()):
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def time_text(value: Any, *, utc: bool = False) -> str:
    """A stored time to the second, in local time (``utc``: in UTC, marked "UTC")."""
    moment = stored_utc(value)
    if moment is None:
        return "" if value is None else str(value)
    if utc:
        return moment.strftime("%Y-%m-%d %H:%M:%S UTC")
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def time_tooltip(value: Any, *, utc: bool = False) -> str:
    """The other clock of ``time_text``: UTC when local time is shown, and the reverse."""
    moment = stored_utc(value)
    if moment is None:
        return ""
    if utc:
        local = moment.astimezone()
        return f"{local.strftime('%Y-%m-%d %H:%M:%S')} local time ({local.tzname() or 'local'})"
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f UTC")


def value_text(field: str, value: Any, *, utc: bool = False) -> str:
    """A stored value in words: yes/no, "empty", a time in local time, a password as
    "set" (the trail never holds one), anything else as its text."""
    if value is None or value == "":
        return EMPTY
    if field == "password_hash":
        return "set"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if field == "active" and value in (0, 1):
        return "yes" if value else "no"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, str) and stored_utc(value) is not None:
        return time_text(value, utc=utc)
    return str(value)


def change_lines(
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any] | None,
    *,
    utc: bool = False,
) -> list[str]:
    """One line per field: "field: old → new" for a change, "field: value" for what an
    added record got or a deleted one had. Row ids and unchanged fields are left out."""
    before = before or {}
    after = after or {}
    lines: list[str] = []
    for name in _field_order([*before, *after]):
        if not shown_field(name):
            continue
        label = field_word(name)
        if not before:
            lines.append(f"{label}: {value_text(name, after.get(name), utc=utc)}")
        elif not after:
            lines.append(f"{label}: {value_text(name, before.get(name), utc=utc)}")
        elif before.get(name) != after.get(name):
            old = value_text(name, before.get(name), utc=utc)
            new = value_text(name, after.get(name), utc=utc)
            lines.append(f"{label}: {old}{ARROW}{new}")
    return lines


def _field_order(names: Iterable[str]) -> list[str]:
    """Known fields in the form's order, then the others as stored (no duplicates)."""
    unique = list(dict.fromkeys(names))
    known = [name for name in FIELD_WORDS if name in unique]
    return known + [name for name in unique if name not in FIELD_WORDS]


def _decode(text: str | None) -> dict[str, Any] | None:
    if not text:
        return None
    value = json.loads(text)
    return value if isinstance(value, dict) else {"value": value}


def summary_text(cell: str, *, utc: bool = False) -> str:
    """The table's Before → after cell (``before-JSON → after-JSON``, core/browse.py) as
    one line of field changes; a cell that is not such a pair (cut short, written by
    other means) is shown as stored."""
    if not cell:
        return ""
    decoder = json.JSONDecoder()
    try:
        if cell.startswith(ARROW):  # an added record: no before
            before, rest = None, cell[len(ARROW):]
        else:
            before, end = decoder.raw_decode(cell)
            rest = cell[end:]
            if not rest.startswith(ARROW):
                return cell
            rest = rest[len(ARROW):]
        after = decoder.decode(rest) if rest else None
    except ValueError:
        return cell
    if (before is not None and not isinstance(before, dict)) or (
        after is not None and not isinstance(after, dict)
    ):
        return cell
    return SEPARATOR.join(change_lines(before, after, utc=utc)) or "\u2014"


def entry_changes(before_json: str | None, after_json: str | None, *, utc: bool = False) -> str:
    """An entry's full change, one field a line, from its stored before/after texts."""
    try:
        before, after = _decode(before_json), _decode(after_json)
    except ValueError:
        return f"{before_json or ''}{ARROW}{after_json or ''}"
    return "\n".join(change_lines(before, after, utc=utc)) or "\u2014"
