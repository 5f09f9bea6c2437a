"""The role closure as deduplicating recursive queries (UNION: each role once), shared by
every rbac component: the roles a set of roles inherits from, and the roles inheriting
from them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import CTE, Select, select

from ..models import RoleInheritance


def _inherited_cte(start: Select[Any], name: str = "reach") -> CTE:
    """Roles reachable from ``start`` (a one-column SELECT of role ids) by following
    "inherits from" edges, including the start roles themselves."""
    reach = start.cte(name, recursive=True)
    step = select(RoleInheritance.inherits_from_id).where(
        RoleInheritance.role_id == reach.c.role_id
    )
    return reach.union(step)


def _inheriting_cte(start: Select[Any], name: str = "seniors") -> CTE:
    """Roles that inherit (directly or not) from the ``start`` roles, including them."""
    reach = start.cte(name, recursive=True)
    step = select(RoleInheritance.role_id).where(
        RoleInheritance.inherits_from_id == reach.c.role_id
    )
    return reach.union(step)
