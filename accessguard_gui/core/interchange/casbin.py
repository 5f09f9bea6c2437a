"""Casbin RBAC with role hierarchy: a model ``.conf`` and a policy ``.csv``, both ways.

Export (``write_policy``) writes, from the record stream of ``export.py``::

    p, role:<role>, <resource>, <action>      a role's permission
    g, <username>, role:<role>                a user's role
    g, role:<role>, role:<parent role>        <role> inherits every permission of <parent>

and ``MODEL_CONF`` (the standard RBAC-with-hierarchy model: ``g(r.sub, p.sub) && r.obj ==
p.obj && r.act == p.act``). Loaded by any Casbin enforcer, the policy answers
``enforce(username, resource, action)`` exactly as ``rbac.check_access`` answered at the
moment of the export, for the names as AccessGuard stores them (Casbin compares exactly,
AccessGuard ignores case):

- **One name space.** Casbin keeps users and roles in one name space. Roles are written
  ``role:<name>``; a username can never contain ``:``, so no user can be mistaken for a
  role (or inherit a same-named role's permissions).
- **Inactive users** get no ``g`` line at all, so Casbin denies them as AccessGuard does.
- **Expiry.** Casbin has no expiry: only assignments unexpired at the export time are
  written, each preceded by a ``# expires <time>`` comment when it has an end date (the
  policy keeps granting after that time: export again, e.g. nightly). Expired ones are
  left out.
- **Depth.** Casbin's default role manager follows at most 10 links (a user's role and 8
  more inheritance steps). When the hierarchy is deeper, every role is also linked to each
  role it inherits from, directly (same answers, any depth), and the header says so.
- Descriptions, display names, e-mails, passwords and separation-of-duty sets have no
  place in Casbin and are not written; the header counts what was left out.
- A name a Casbin reader would split (any ``,``: pycasbin and Go Casbin treat commas and
  quotes differently, so none can be written safely) or misread (unbalanced ``()`` or
  ``[]``) is refused with ``CasbinExportError``: a policy that silently reads differently
  would answer differently.

Import (``CasbinSource``) reads a policy ``.csv`` (Casbin's own examples, e.g.
``rbac_with_hierarchy_policy.csv``, or one written here):

- A name is a **role** if it is written ``role:<name>`` or is the second field of any
  ``g`` line; every other ``g`` first field and ``p`` subject is a **user**. Names are
  kept exactly (one AccessGuard cannot hold is refused in the dry run with the reason).
- ``p, <role>, <resource>, <action>``: the resource, its permission and the grant.
- ``p, <user>, <resource>, <action>`` (a permission given to a user directly): AccessGuard
  grants through roles only, so the user gets a **personal role** "<username> (personal)"
  (``@`` written `` at ``) holding those permissions.
- ``g, <user>, <role>``: an assignment (with the end date of a ``# expires`` comment on
  the line before it); ``g, <role>, <role>``: inheritance.
- Refused with file:line: ``deny`` rules, domains (a third ``g`` field), other policy
  types (``p2``, ``g2``), lines that are not policy lines. The file is read twice (roles
  first), line by line, in memory proportional to the number of distinct names.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from ..errors import InterchangeError, SourceFormatError
from .json_doc import iso_utc
from .records import (
    Origin,
    PermissionRecord,
    Record,
    ResourceRecord,
    RoleParentRecord,
    RolePermissionRecord,
    RoleRecord,
    SsdSetRecord,
    UserRecord,
    UserRoleRecord,
)

ROLE_PREFIX = "role:"
#: Inheritance steps a default Casbin role manager follows after the user's own role.
CASBIN_MAX_INHERITANCE = 8
MAX_LINE_CHARS = 1 << 16
EXPIRES_COMMENT = "# expires "

MODEL_CONF = """\
# Casbin model: RBAC with role hierarchy, as exported by AccessGuard.
# Request: enforce(username, resource, action). Roles are "role:<name>".
[request_definition]
r = sub, obj, act

[policy_definition]
p = sub, obj, act

[role_definition]
g = _, _

[policy_effect]
e = some(where (p.eft == allow))

[matchers]
m = g(r.sub, p.sub) && r.obj == p.obj && r.act == p.act
"""


class CasbinExportError(InterchangeError):
    """The organisation cannot be written as a Casbin policy that answers the same."""


class CasbinPolicyError(SourceFormatError):
    """A Casbin policy file cannot be imported (the message has file:line)."""


# ---------------------------------------------------------------------- export


def _splits_in_casbin(name: str) -> bool:
    """Would a Casbin policy reader read this name as something else? Every Casbin reads a
    policy line as comma-separated fields (pycasbin keeps a comma inside brackets, Go's
    reader does not; pycasbin takes quotes literally, Go's does not), so no way of
    writing a comma is read alike by all: a name with one cannot be exported. Unbalanced
    brackets confuse pycasbin's reader too."""
    depth = 0
    for ch in name:
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
            if depth < 0:
                return True
    return "," in name or depth != 0 or name != name.strip() or "\n" in name or "\r" in name


def _role(name: str) -> str:
    return ROLE_PREFIX + name


@dataclass
class CasbinSummary:
    """What an export wrote and left out (also written in the policy's header).

    Attributes:
        permissions, assignments, inheritance: lines written of each kind.
        inactive_assignments: assignments left out because their user is inactive.
        expired: assignments left out because they had expired at the export time.
        expiring: assignments written that end later (with a ``# expires`` comment).
        flattened: the hierarchy was too deep for Casbin and was written in full.
        ssd_sets: separation-of-duty sets, which Casbin cannot hold.
        refused: names a Casbin reader would split (the export is refused).
    """

    permissions: int = 0
    assignments: int = 0
    inheritance: int = 0
    inactive_assignments: int = 0
    expired: int = 0
    expiring: int = 0
    flattened: bool = False
    ssd_sets: int = 0
    refused: list[str] = field(default_factory=list)


def _check_name(kind: str, name: str, summary: CasbinSummary) -> None:
    if _splits_in_casbin(name):
        summary.refused.append(f"{kind} \u201c{name}\u201d")


def _inheritance_lines(parents: dict[str, list[str]]) -> tuple[list[tuple[str, str]], bool]:
    """The ``g, role, parent`` pairs to write: the direct ones, or — when some chain is
    longer than Casbin follows — each role with every role it inherits from."""

    depth: dict[str, int] = {}

    def longest(role: str) -> int:
        # Iterative DFS: the hierarchy is acyclic (AccessGuard refuses cycles).
        stack = [(role, False)]
        while stack:
            node, done = stack.pop()
            if node in depth:
                continue
            ups = parents.get(node, [])
            if done:
                depth[node] = 1 + max((depth[p] for p in ups), default=-1)
                continue
            stack.append((node, True))
            stack.extend((p, False) for p in ups if p not in depth)
        return depth[role]

    deepest = max((longest(r) for r in parents), default=0)
    direct = [(r, p) for r, ups in parents.items() for p in ups]
    if deepest <= CASBIN_MAX_INHERITANCE:
        return direct, False
    pairs: list[tuple[str, str]] = []
    for role in parents:
        seen: set[str] = set()
        todo = list(parents[role])
        while todo:
            up = todo.pop()
            if up in seen:
                continue
            seen.add(up)
            pairs.append((role, up))
            todo.extend(parents.get(up, []))
    return pairs, True


def write_policy(
    records: Iterable[Record],
    out: TextIO,
    *,
    now: datetime | None = None,
    model_name: str = "model.conf",
    progress: Callable[[int], None] | None = None,
) -> CasbinSummary:
    """Write the Casbin policy of an organisation, streaming.

    ``records`` comes from ``export.py``: every user before the assignments (so an
    inactive user's assignments can be left out); other kinds in any order. Only the
    inactive users' names and the inheritance pairs are kept in memory.

    Args:
        out: a text stream (UTF-8, ``newline=""``); the header comes first.
        now: the export time; assignments that end at or before it are left out.
        model_name: the model file's name, quoted in the header.
        progress: called with the number of records read, every 1,000 records.

    Raises:
        CasbinExportError: names Casbin's file reader would split (listed, up to ten).
    """
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    summary = CasbinSummary()
    inactive: set[str] = set()
    parents: dict[str, list[str]] = {}
    spool: list[str] = []  # lines waiting to be written, in slices
    count = 0
    out.write(_header(moment, model_name))

    def flush() -> None:
        out.write("".join(spool))
        spool.clear()

    for record in records:
        count += 1
        if progress is not None and count % 1000 == 0:
            progress(count)
        if isinstance(record, UserRecord):
            if record.active is False:
                inactive.add(record.username)
            else:
                _check_name("username", record.username, summary)
        elif isinstance(record, RoleRecord):
            _check_name("role", record.name, summary)
        elif isinstance(record, ResourceRecord):
            _check_name("resource", record.name, summary)
        elif isinstance(record, RolePermissionRecord):
            spool.append(f"p, {_role(record.role)}, {record.resource}, {record.action}\n")
            summary.permissions += 1
        elif isinstance(record, UserRoleRecord):
            if record.username in inactive:
                summary.inactive_assignments += 1
                continue
            expires = record.expires_at
            if expires is not None and expires <= moment:
                summary.expired += 1
                continue
            if expires is not None:
                spool.append(f"{EXPIRES_COMMENT}{iso_utc(expires)}\n")
                summary.expiring += 1
            spool.append(f"g, {record.username}, {_role(record.role)}\n")
            summary.assignments += 1
        elif isinstance(record, RoleParentRecord):
            parents.setdefault(record.role, []).append(record.parent_role)
        elif isinstance(record, SsdSetRecord):
            summary.ssd_sets += 1
        if len(spool) >= 4096:
            flush()
        if summary.refused and len(summary.refused) >= 10:
            break
    if summary.refused:
        raise CasbinExportError(
            "These names cannot be written to a Casbin policy (Casbin reads a comma as the "
            "end of a field): " + "; ".join(summary.refused[:10])
            + ". Rename them, or export as JSON or a CSV directory."
        )
    pairs, summary.flattened = _inheritance_lines(parents)
    for role, parent in pairs:
        spool.append(f"g, {_role(role)}, {_role(parent)}\n")
    summary.inheritance = len(pairs)
    flush()
    out.write(_trailer(summary))
    return summary



def _header(moment: datetime, model_name: str) -> str:
    return (
        f"# Casbin policy exported by AccessGuard at {iso_utc(moment)}; model: {model_name}\n"
        "# Requests: enforce(username, resource, action), names exactly as written here.\n"
        "# Roles are written \"role:<name>\" (a username never contains ':').\n"
        "# Inactive users have no g lines, so every request of theirs is denied.\n"
        "# Only assignments unexpired at the export time are here; one with an end date\n"
        "# has a '# expires' line before it and keeps granting after it: export again.\n"
    )


def _trailer(summary: CasbinSummary) -> str:
    lines = [
        f"# Written: {summary.permissions} permission grants, {summary.assignments} "
        f"assignments ({summary.expiring} with an end date), {summary.inheritance} "
        "inheritance links.",
        f"# Left out: {summary.inactive_assignments} assignments of inactive users, "
        f"{summary.expired} expired assignments, {summary.ssd_sets} separation-of-duty "
        "sets (Casbin has none).",
    ]
    if summary.flattened:
        lines.append(
            "# The role hierarchy is deeper than Casbin's role manager follows (10 links): "
            "each role is linked to every role it inherits from."
        )
    return "\n".join(lines) + "\n"


def write_files(
    records: Iterable[Record],
    policy_path: str | Path,
    model_path: str | Path | None = None,
    **options: object,
) -> CasbinSummary:
    """Write the policy to ``policy_path`` and the model beside it (``<stem>.conf`` unless
    ``model_path`` is given), each renamed into place when complete; an existing folder
    gets ``policy.csv`` and ``policy.conf``. Returns what was written."""
    from .table_export import replacing

    policy = Path(policy_path)
    if policy.is_dir():  # a folder: the usual names inside it
        policy = policy / "policy.csv"
    model = Path(model_path) if model_path is not None else policy.with_suffix(".conf")
    if model == policy:
        model = policy.with_name(policy.name + ".conf")
    with replacing(policy) as out:
        summary = write_policy(records, out, model_name=model.name, **options)  # type: ignore[arg-type]
    with replacing(model) as out:
        out.write(MODEL_CONF)
    return summary


# ---------------------------------------------------------------------- import


def personal_role(username: str) -> str:
    """The role that holds the permissions a Casbin policy gave a user directly."""
    return f"{username.replace('@', ' at ')} (personal)"


def _split(line: str) -> list[str]:
    """Fields of a policy line as Casbin reads them: commas outside () and [] separate;
    a line with double quotes is read as CSV (Go Casbin's reader)."""
    if '"' in line:
        return [f.strip() for f in next(csv.reader([line], skipinitialspace=True))]
    fields = [""]
    depth = 0
    for ch in line:
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth = max(depth - 1, 0)
        elif ch == "," and depth == 0:
            fields.append("")
            continue
        fields[-1] += ch
    return [f.strip() for f in fields]


@dataclass(frozen=True)
class _Line:
    number: int
    kind: str  # "p" or "g"
    fields: tuple[str, ...]
    expires: datetime | None


def _lines(path: Path, name: str) -> Iterator[_Line]:
    """The policy lines of the file, checked, one at a time."""
    try:
        stream = open(path, encoding="utf-8-sig", errors="strict", newline="")
    except OSError as exc:
        raise CasbinPolicyError(name, 0, f"cannot be read ({exc.strerror})") from None
    expires: datetime | None = None
    number = 0
    with stream:
        while True:
            try:
                raw = stream.readline(MAX_LINE_CHARS + 1)
            except UnicodeDecodeError:
                raise CasbinPolicyError(name, number + 1, "the file is not UTF-8 text") from None
            if not raw:
                return
            number += 1
            if len(raw) > MAX_LINE_CHARS and not raw.endswith("\n"):
                raise CasbinPolicyError(
                    name, number, f"a line longer than {MAX_LINE_CHARS:,} characters"
                )
            text = raw.strip()
            if not text:
                continue
            if text.startswith("#"):
                expires = _expiry(text, name, number) if text.startswith(EXPIRES_COMMENT) else None
                continue
            fields = _split(text)
            yield _checked_line(fields, name, number, expires)
            expires = None


def _expiry(text: str, name: str, number: int) -> datetime:
    value = text[len(EXPIRES_COMMENT):].strip()
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise CasbinPolicyError(name, number, f"{value!r} is not a time") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _checked_line(
    fields: list[str], name: str, number: int, expires: datetime | None
) -> _Line:
    kind = fields[0]
    if kind == "p":
        if len(fields) == 5 and fields[4].lower() == "allow":
            fields = fields[:4]
        if len(fields) == 5 and fields[4].lower() == "deny":
            raise CasbinPolicyError(
                name, number, "a deny rule; AccessGuard grants only (a permission is held or not)"
            )
        if len(fields) != 4:
            raise CasbinPolicyError(
                name, number, f"a p line must be \u201cp, subject, resource, action\u201d "
                f"(this one has {len(fields) - 1} fields; domains are not supported)"
            )
    elif kind == "g":
        if len(fields) != 3:
            raise CasbinPolicyError(
                name, number, f"a g line must be \u201cg, user or role, role\u201d "
                f"(this one has {len(fields) - 1} fields; domains are not supported)"
            )
    elif kind in ("p2", "g2", "g3") or kind[:1] in ("p", "g") and kind[1:].isdigit():
        raise CasbinPolicyError(
            name, number, f"policy type {kind!r}: only p and g lines of RBAC with role hierarchy "
            "can be imported"
        )
    else:
        raise CasbinPolicyError(
            name, number, "not a policy line (p or g); choose the policy .csv, not the model"
        )
    if any(not f for f in fields[1:]):
        raise CasbinPolicyError(name, number, "an empty field")
    if kind == "p" and expires is not None:
        raise CasbinPolicyError(name, number, "'# expires' belongs before a g line")
    return _Line(number, kind, tuple(fields[1:]), expires)


def _unprefixed(name: str) -> str:
    return name[len(ROLE_PREFIX):] if name.startswith(ROLE_PREFIX) else name


@dataclass
class CasbinSource:
    """A Casbin policy file as an import ``Source`` (see the module docstring for the
    mapping).

    Attributes:
        path: the policy ``.csv``.
        name: what the dry run and the audit trail call it.
    """

    path: Path
    name: str = ""

    def __post_init__(self) -> None:
        self.path = Path(self.path)
        if not self.name:
            self.name = self.path.name

    def _roles(self) -> set[str]:
        roles: set[str] = set()
        for line in _lines(self.path, self.name):
            names = line.fields[:2] if line.kind == "g" else line.fields[:1]
            for position, text in enumerate(names):
                if text.startswith(ROLE_PREFIX) or (line.kind == "g" and position == 1):
                    roles.add(text)
        return roles

    def records(self) -> Iterator[tuple[Origin, Record]]:
        roles = self._roles()
        seen: set[tuple[str, ...]] = set()

        def once(key: tuple[str, ...]) -> bool:
            if key in seen:
                return False
            seen.add(key)
            return True

        for line in _lines(self.path, self.name):
            at = Origin(self.name, line.number)
            if line.kind == "p":
                subject, resource, action = line.fields
                if subject in roles:
                    role = _unprefixed(subject)
                    if once(("role", role)):
                        yield at, RoleRecord(role)
                else:
                    role = personal_role(subject)
                    if once(("user", subject)):
                        yield at, UserRecord(subject)
                    if once(("role", role)):
                        yield at, RoleRecord(role, f"Permissions Casbin gave {subject} directly")
                        yield at, UserRoleRecord(subject, role)
                if once(("resource", resource)):
                    yield at, ResourceRecord(resource)
                if once(("permission", resource, action)):
                    yield at, PermissionRecord(resource, action)
                yield at, RolePermissionRecord(role, resource, action)
            else:
                member, written = line.fields
                role = _unprefixed(written)
                if once(("role", role)):
                    yield at, RoleRecord(role)
                if member in roles:
                    senior = _unprefixed(member)
                    if once(("role", senior)):
                        yield at, RoleRecord(senior)
                    yield at, RoleParentRecord(senior, role)
                else:
                    if once(("user", member)):
                        yield at, UserRecord(member)
                    yield at, UserRoleRecord(member, role, line.expires)


def looks_like_policy(head: bytes) -> bool:
    """Does the start of a file look like a Casbin policy? (format detection)"""
    text = head.decode("utf-8", errors="ignore").lstrip("\ufeff")
    for raw in text.splitlines()[:20]:
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        return line.startswith(("p,", "g,", "p ,", "g ,"))
    return False
