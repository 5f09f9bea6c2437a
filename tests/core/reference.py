"""A straightforward in-memory RBAC reference for the property tests, and a DB snapshot.

``Reference`` answers the RBAC questions by walking plain Python sets, the obvious way;
the core answers them with recursive SQL. The property tests build the same random state
in both and compare. ``snapshot`` reads every table as plain values so a test can prove a
refused call changed nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

TABLES = (
    "users",
    "roles",
    "resources",
    "permissions",
    "user_roles",
    "role_permissions",
    "role_inheritance",
    "ssd_sets",
    "ssd_set_roles",
    "audit_log",
)


def snapshot(session: Session) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every AccessGuard table, sorted, as seen by ``session``."""
    return {
        table: sorted(
            (tuple(row) for row in session.execute(text(f"SELECT * FROM {table}"))),
            key=repr,
        )
        for table in TABLES
    }


@dataclass
class Reference:
    """RBAC state as sets; names are compared case-insensitively like the core does."""

    active: dict[str, bool] = field(default_factory=dict)  # username -> active
    roles: set[str] = field(default_factory=set)
    permissions: set[tuple[str, str]] = field(default_factory=set)  # (resource, action)
    # (user, role) -> expires_at (None = never)
    assignments: dict[tuple[str, str], datetime | None] = field(default_factory=dict)
    grants: set[tuple[str, tuple[str, str]]] = field(default_factory=set)
    parents: dict[str, set[str]] = field(default_factory=dict)  # role -> inherits from

    def add_inheritance(self, role: str, inherits_from: str) -> None:
        self.parents.setdefault(role, set()).add(inherits_from)

    def reachable(self, role: str) -> set[str]:
        """``role`` and every role it inherits from, at any depth."""
        seen = {role}
        todo = [role]
        while todo:
            for parent in self.parents.get(todo.pop(), ()):
                if parent not in seen:
                    seen.add(parent)
                    todo.append(parent)
        return seen

    def would_cycle(self, role: str, inherits_from: str) -> bool:
        return role in self.reachable(inherits_from)

    def live_roles(self, user: str, now: datetime) -> set[str]:
        """Assigned roles that still grant: the user is active and the assignment unexpired."""
        if not self.active.get(user, False):
            return set()
        return {
            role
            for (u, role), expires in self.assignments.items()
            if u == user and (expires is None or expires > now)
        }

    def authorized_roles(self, user: str, now: datetime) -> set[str]:
        result: set[str] = set()
        for role in self.live_roles(user, now):
            result |= self.reachable(role)
        return result

    def role_permissions(self, role: str, *, inherited: bool) -> set[tuple[str, str]]:
        holders = self.reachable(role) if inherited else {role}
        return {perm for r, perm in self.grants if r in holders}

    def user_permissions(self, user: str, now: datetime) -> set[tuple[str, str]]:
        roles = self.authorized_roles(user, now)
        return {perm for r, perm in self.grants if r in roles}

    def check_access(self, user: str, perm: tuple[str, str], now: datetime) -> bool:
        return perm in self.user_permissions(user, now)

    def authorized_users(self, perm: tuple[str, str], now: datetime) -> set[str]:
        return {u for u in self.active if self.check_access(u, perm, now)}

    def ssd_roles(self, user: str) -> set[str]:
        """Roles counted by separation of duty: every assignment (expired ones too, inactive
        users too) and everything those roles inherit from."""
        result: set[str] = set()
        for u, role in self.assignments:
            if u == user:
                result |= self.reachable(role)
        return result

    def ssd_breaches(
        self, sets: dict[str, tuple[set[str], int]]
    ) -> set[tuple[str, str, tuple[str, ...]]]:
        """(set, user, roles held) for every user holding ``n`` or more roles of a set."""
        found = set()
        for name, (members, n) in sets.items():
            for user in self.active:
                held = self.ssd_roles(user) & members
                if len(held) >= n:
                    found.add((name, user, tuple(sorted(held, key=str.lower))))
        return found

    def access_paths(self, user: str, perm: tuple[str, str]) -> set[tuple[str, ...]]:
        """Every walk assigned role -> ... -> role holding ``perm`` (expiry ignored)."""
        holders = {r for r, p in self.grants if p == perm}
        found: set[tuple[str, ...]] = set()

        def walk(path: tuple[str, ...]) -> None:
            if path[-1] in holders:
                found.add(path)
            for parent in self.parents.get(path[-1], ()):
                walk((*path, parent))

        for u, role in self.assignments:
            if u == user:
                walk((role,))
        return found
