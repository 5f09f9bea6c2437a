"""The records every import format yields and every export format receives.

A format reader turns its file(s) into a stream of ``(Origin, Record)`` pairs; the
pipeline stages, validates, plans and applies them without knowing the format. A field
left ``None`` means "the source does not say" (an update keeps the stored value), which
is not the same as an empty string ("the source says: empty").
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a record came from, for the dry-run report: ``users.csv:17``."""

    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True, slots=True)
class UserRecord:
    username: str
    display_name: str | None = None
    email: str | None = None
    active: bool | None = None
    password_hash: str | None = None


@dataclass(frozen=True, slots=True)
class RoleRecord:
    name: str
    description: str | None = None


@dataclass(frozen=True, slots=True)
class RoleParentRecord:
    """``role`` inherits every permission of ``parent_role``."""

    role: str
    parent_role: str


@dataclass(frozen=True, slots=True)
class ResourceRecord:
    name: str
    description: str | None = None


@dataclass(frozen=True, slots=True)
class PermissionRecord:
    resource: str
    action: str
    description: str | None = None


@dataclass(frozen=True, slots=True)
class UserRoleRecord:
    username: str
    role: str
    expires_at: datetime | None = None  # timezone-aware (UTC) when given


@dataclass(frozen=True, slots=True)
class RolePermissionRecord:
    role: str
    resource: str
    action: str


@dataclass(frozen=True, slots=True)
class SsdSetRecord:
    name: str
    cardinality: int
    description: str | None = None


@dataclass(frozen=True, slots=True)
class SsdSetRoleRecord:
    set_name: str
    role: str


@dataclass(frozen=True, slots=True)
class SourceProblem:
    """A row (or header, or file) a reader could not turn into a record, reported in the
    dry run at its origin. ``refuses`` False is a warning (an unknown column ignored);
    True refuses the whole import (a ragged row, a value of the wrong type)."""

    message: str
    refuses: bool = True
    kind: str = ""  # the table it belongs to ("users"), when known


Record = (
    UserRecord
    | RoleRecord
    | RoleParentRecord
    | ResourceRecord
    | PermissionRecord
    | UserRoleRecord
    | RolePermissionRecord
    | SsdSetRecord
    | SsdSetRoleRecord
)


class Source(Protocol):
    """An import source of any format.

    Attributes:
        name: what the audit trail calls it ("Import from <name>"), usually the file name.
    """

    name: str

    def records(self) -> Iterator[tuple[Origin, Record | SourceProblem]]:
        """Stream the records (never the whole file in memory); raises
        ``InterchangeError`` subclasses (with file:line) for input too malformed to go on
        reading, and yields ``SourceProblem`` for a bad row it can read past.

        A source may also have a ``covers`` attribute (a set of table names: "users",
        "roles", "role_parents", "resources", "permissions", "user_roles",
        "role_permissions", "ssd_sets", "ssd_set_roles"): the tables it speaks for in
        full, which mirror mode empties of what the source lacks. Without it, mirror mode
        covers the tables the source yielded any record for."""
        ...
