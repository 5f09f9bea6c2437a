"""Pickers that mark what the subject already has (issue 12, item 8): "Add members"
greys the role's members, "Add roles" the user's roles, "Grant permissions" the role's
grants, each with how it is held (directly, or through inheritance).

A thin wrapper round a picker's search: the same short read runs the search and one
bounded query (over the ids found, never the whole table) for the marks.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ...core import rbac, role_stats
from ...core.database import Database
from ...core.errors import AccessGuardError
from ...core.lookup import Choice


def held_searcher(
    db: Database,
    search: Callable[[Any, str], list[Choice]],
    marks: Callable[[Any, int, Sequence[int]], dict[int, str]],
    subject: Callable[[Any], int],
) -> Callable[[str], list[Choice]]:
    """``search(session, text)`` as a picker's ``text -> choices``, each choice the
    subject (``subject(session)`` -> id) already has marked by ``marks``."""

    def run(text: str) -> list[Choice]:
        try:
            with db.read() as session:
                found = search(session, text)
                try:
                    held = marks(session, subject(session), [c.id for c in found])
                except AccessGuardError:  # the subject is new (not saved yet): nothing held
                    held = {}
                return role_stats.mark_held(found, held)
        except AccessGuardError:
            return []

    return run


def role_id(ref: int | str) -> Callable[[Any], int]:
    """The id of role ``ref`` (name or id) in the session."""
    return lambda session: rbac.get_role(session, ref).id


def user_id(ref: int | str) -> Callable[[Any], int]:
    """The id of user ``ref`` (name or id) in the session."""
    return lambda session: rbac.get_user(session, ref).id
