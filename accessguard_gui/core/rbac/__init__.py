"""The RBAC rules, named after the ANSI INCITS 359 functions (in snake_case).

Every function takes an open session and never commits: the caller's ``db.action()``
does. Each administrative function runs inside a SAVEPOINT, so a refused call (validation,
duplicate, cycle, separation of duty) changes nothing even if the caller goes on using
the session. Review and system functions are set-based SQL (recursive CTEs), never Python
loops over relationships, so they stay fast at a million users.

Records are referenced by id (int) or by name (str): usernames, role, resource and set
names are unique ignoring case. A permission is referenced by its id or by a
``(resource, action)`` pair.

One module per ANSI component, every name importable from here (``rbac.X``):

- ``base``: references, the unit of work (``batch``), lookups (``get_user``...);
- ``closure``: the role closure as deduplicating recursive queries;
- ``records``: users, roles, resources and permissions;
- ``assignments``: users to roles, permissions to roles;
- ``hierarchy``: role inheritance;
- ``ssd``: static separation of duty;
- ``review``: review functions and the access check.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

# bench/bench_save.py reads users through ``rbac.select`` and ``rbac.User``.
from sqlalchemy import select

from ..models import User
from .assignments import (
    _assignment,
    _check_aware,
    assign_user,
    deassign_user,
    grant_permission,
    revoke_permission,
    set_assignment_expiry,
)
from .base import (
    _BATCH_KEY,
    _UNSET,
    MAX_EXPLAINED_PATHS,
    MAX_PATH_DEPTH,
    PermissionRef,
    Ref,
    _as_utc,
    _atomic,
    _by_ref,
    _check_version,
    _exists,
    _named_values,
    _operator,
    _permission_row,
    _user_values,
    batch,
    get_permission,
    get_resource,
    get_role,
    get_ssd_set,
    get_user,
)
from .closure import _inherited_cte, _inheriting_cte
from .hierarchy import (
    _longest_chain,
    _path_between,
    _role_names,
    add_inheritance,
    delete_inheritance,
    inherited_by,
    inherits_from,
)
from .records import (
    _add_named,
    _change_named,
    _delete_permission,
    add_permission,
    add_resource,
    add_role,
    add_user,
    clear_password,
    delete_permission,
    delete_resource,
    delete_role,
    delete_user,
    set_password,
    update_permission,
    update_resource,
    update_role,
    update_user,
    verify_password,
)

if TYPE_CHECKING:  # the review functions load on first use (``__getattr__`` below)
    from .review import (
        _active_assignments,
        _granting_roles,
        _lookup_key,
        _permission_query,
        _permission_rows,
        _plain_ref,
        _user_permissions_query,
        assigned_roles,
        assigned_users,
        authorized_roles,
        authorized_roles_for,
        authorized_users,
        check_access,
        role_permissions,
        user_permissions,
    )
from .ssd import (
    _refuse_ssd_violations,
    _ssd_held,
    _ssd_role_count,
    _ssd_row,
    _ssd_seniors,
    _ssd_set_users,
    _ssd_sets_of,
    _ssd_violations,
    add_ssd_role_member,
    create_ssd_set,
    delete_ssd_role_member,
    delete_ssd_set,
    iter_ssd_violations,
    set_ssd_set_cardinality,
    set_ssd_set_roles,
    ssd_role_set_cardinality,
    ssd_role_set_roles,
    ssd_role_sets,
    ssd_violations,
    update_ssd_set,
)

__all__ = [
    "MAX_EXPLAINED_PATHS",
    "MAX_PATH_DEPTH",
    "PermissionRef",
    "Ref",
    "User",
    "_BATCH_KEY",
    "_UNSET",
    "_active_assignments",
    "_add_named",
    "_as_utc",
    "_assignment",
    "_atomic",
    "_by_ref",
    "_change_named",
    "_check_aware",
    "_check_version",
    "_delete_permission",
    "_exists",
    "_granting_roles",
    "_inherited_cte",
    "_inheriting_cte",
    "_longest_chain",
    "_lookup_key",
    "_named_values",
    "_operator",
    "_path_between",
    "_permission_query",
    "_permission_row",
    "_permission_rows",
    "_plain_ref",
    "_refuse_ssd_violations",
    "_role_names",
    "_ssd_held",
    "_ssd_role_count",
    "_ssd_row",
    "_ssd_seniors",
    "_ssd_set_users",
    "_ssd_sets_of",
    "_ssd_violations",
    "_user_permissions_query",
    "_user_values",
    "add_inheritance",
    "add_permission",
    "add_resource",
    "add_role",
    "add_ssd_role_member",
    "add_user",
    "assign_user",
    "assigned_roles",
    "assigned_users",
    "authorized_roles",
    "authorized_roles_for",
    "authorized_users",
    "batch",
    "check_access",
    "clear_password",
    "create_ssd_set",
    "deassign_user",
    "delete_inheritance",
    "delete_permission",
    "delete_resource",
    "delete_role",
    "delete_ssd_role_member",
    "delete_ssd_set",
    "delete_user",
    "get_permission",
    "get_resource",
    "get_role",
    "get_ssd_set",
    "get_user",
    "grant_permission",
    "inherited_by",
    "inherits_from",
    "iter_ssd_violations",
    "revoke_permission",
    "role_permissions",
    "select",
    "set_assignment_expiry",
    "set_password",
    "set_ssd_set_cardinality",
    "set_ssd_set_roles",
    "ssd_role_set_cardinality",
    "ssd_role_set_roles",
    "ssd_role_sets",
    "ssd_violations",
    "update_permission",
    "update_resource",
    "update_role",
    "update_ssd_set",
    "update_user",
    "user_permissions",
    "verify_password",
]

#: Names served by ``review`` once first asked for.
_FROM_REVIEW = frozenset(
    {
        "_active_assignments",
        "_granting_roles",
        "_lookup_key",
        "_permission_query",
        "_permission_rows",
        "_plain_ref",
        "_user_permissions_query",
        "assigned_roles",
        "assigned_users",
        "authorized_roles",
        "authorized_roles_for",
        "authorized_users",
        "check_access",
        "role_permissions",
        "user_permissions",
    }
)


def __getattr__(name: str) -> Any:
    """The review functions load with their first use: they bring the compiled review
    statements and the role-graph cache (review_sql, access_query, paths), which a window
    opening a file never asks for before its first paint (cold start, issue 11)."""
    if name not in _FROM_REVIEW:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from . import review

    value = getattr(review, name)
    globals()[name] = value
    return value
