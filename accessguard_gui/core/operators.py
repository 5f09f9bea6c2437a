"""Operators: who is at the keyboard, and what AccessGuard lets them change.

AccessGuard's own permissions are ordinary records: a resource "AccessGuard" whose actions
(view, edit users, …) are granted through roles like any other, so the app answers "may
bob edit users?" with the same RBAC rules it answers every other question with.

A database may require sign-in (a setting stored in it, off for existing files). Then
nothing works until an operator — a user of that same database, with a password and
AccessGuard: view — signs in; the signed-in name is the audit trail's "who", and the core
refuses every change the operator may not make (``OperatorPermissionError``), whatever
the window offers. The refusal comes from a ``before_flush`` hook on every action's
session (``gate``), so no path through the ORM can skip it; set-based writers that bypass
the ORM call ``require`` first, or check their rows with the gate's rules (``run_gate``).

Failed sign-ins slow down: after a few failures for a name within ``FAILURE_WINDOW`` each
attempt waits longer (``delay_after``), counted from the audit trail (so every process
and every restart sees them) and, for a file that cannot be written, in the process.

Honest limit: on an SQLite file anyone who can write the file can bypass the app; this
is accountability and protection from mistakes, not a security boundary (README). On
PostgreSQL the operator is the server's session user (no password sign-in here), and
the server enforces the same rights (P1's triggers).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from functools import cache
from typing import TYPE_CHECKING, Any

from sqlalchemy import event, inspect, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction

from . import audit, passwords, rbac
from .errors import (
    LockoutError,
    OperatorPermissionError,
    SignInError,
    SignInRequiredError,
)
from .keys import name_key
from .models import (
    AuditEntry,
    Base,
    Permission,
    Resource,
    Role,
    RoleInheritance,
    RolePermission,
    SsdSet,
    SsdSetRole,
    User,
    UserRole,
)
from .setting_models import Setting

if TYPE_CHECKING:
    from .changes import Edit
    from .database import Database

__all__ = [
    "ADMIN_ROLE",
    "APP_RESOURCE",
    "AppAction",
    "OperatorAccess",
    "RunGate",
    "SetSignInRequired",
    "administrators",
    "check",
    "delay_after",
    "enforced",
    "operator_actions",
    "require",
    "require_assignment",
    "run_gate",
    "setup_edits",
    "sign_in_required",
]

APP_RESOURCE = "AccessGuard"
ADMIN_ROLE = "AccessGuard administrators"
SIGN_IN_SETTING = "sign_in_required"
#: session.info key of the OperatorAccess an action runs as.
ACCESS_KEY = "accessguard_operator_access"
_ADMIN_CACHE_KEY = "accessguard_operator_scope"
_TOUCHED_ADMIN_KEY = "accessguard_touched_administration"
_SETTING_CHANGED_KEY = "accessguard_sign_in_setting_changed"
#: session.info key of the tables a checked set-based run writes (RunGate.writing).
_CHECKED_KEY = "accessguard_checked_run"

#: Failures older than this do not slow anyone down.
FAILURE_WINDOW = timedelta(minutes=15)
#: The longest wait between two attempts, however many failures.
MAX_DELAY_S = 30.0
#: Failures that cost nothing (a typo or two).
FREE_FAILURES = 1
#: The audit trail's record of sign-ins: record_type, and the operations.
SIGN_IN_RECORD = "sign-in"
SIGNED_IN = "signed in"
SIGN_IN_FAILED = "sign-in failed"
#: How many recent sign-in entries of a name are read to count its failures.
_FAILURES_READ = 64


class AppAction(StrEnum):
    """The actions of the resource "AccessGuard": what an operator may do in the app.

    The values are permission actions, so they follow the rule for action names (letters,
    digits and ``_ . : -``, no spaces): "edit-users", not "edit users". A refusal
    says the verb in words (``OperatorAccess.why_not``)."""

    VIEW = "view"
    EDIT_USERS = "edit-users"
    EDIT_ROLES = "edit-roles"
    ASSIGN_ROLES = "assign-roles"
    EDIT_SSD = "edit-separation-of-duty"
    REVIEW = "review"
    ADMINISTER = "administer"


ALL_ACTIONS: frozenset[AppAction] = frozenset(AppAction)

#: What each action lets an operator do, as the permission's description says it.
DESCRIPTIONS: dict[AppAction, str] = {
    AppAction.VIEW: "Sign in and read everything in this database.",
    AppAction.EDIT_USERS: "Add, change and delete users (not operators: see administer).",
    AppAction.EDIT_ROLES: "Add, change and delete roles, resources, permissions, grants "
    "and inheritance.",
    AppAction.ASSIGN_ROLES: "Assign users to roles and remove them (not AccessGuard's own "
    "roles: see administer).",
    AppAction.EDIT_SSD: "Create, change and delete separation-of-duty sets.",
    AppAction.REVIEW: "Run access review campaigns and record decisions.",
    AppAction.ADMINISTER: "Manage operators and AccessGuard's own permissions, import and "
    "publish, and switch sign-in on or off.",
}

#: "who may not …" in a refusal.
_VERBS: dict[AppAction, str] = {
    AppAction.VIEW: "view this database",
    AppAction.EDIT_USERS: "edit users",
    AppAction.EDIT_ROLES: "edit roles and permissions",
    AppAction.ASSIGN_ROLES: "assign roles",
    AppAction.EDIT_SSD: "edit separation of duty",
    AppAction.REVIEW: "review access",
    AppAction.ADMINISTER: "administer AccessGuard",
}


@dataclass(frozen=True)
class OperatorAccess:
    """Who is at the keyboard and what they may do.

    Attributes:
        name: the operator's username ("" while nobody is signed in to a database that
            requires it); with sign-in off, the OS user.
        signed_in: True after a sign-in (or, on PostgreSQL, for the server login).
        enforced: False when the database does not require sign-in and nobody signed
            in: everything is allowed, as before operators existed.
        actions: what the operator may do (all of them when not enforced).
    """

    name: str
    signed_in: bool
    enforced: bool
    actions: frozenset[AppAction] = field(default_factory=frozenset)

    @classmethod
    def unrestricted(cls, name: str) -> OperatorAccess:
        """Sign-in off: the OS user, allowed everything (the behaviour of old files)."""
        return cls(name, False, False, ALL_ACTIONS)

    @classmethod
    def nobody(cls) -> OperatorAccess:
        """Sign-in required and nobody signed in: nothing but signing in works."""
        return cls("", False, True, frozenset())

    @property
    def awaits_sign_in(self) -> bool:
        """The database requires sign-in and nobody is signed in: it shows nothing yet."""
        return self.enforced and not self.signed_in

    def may(self, action: AppAction) -> bool:
        return not self.enforced or action in self.actions

    def why_not(self, action: AppAction) -> str | None:
        """Plain text for a tooltip or an error, None if allowed."""
        if self.may(action):
            return None
        if not self.signed_in:
            return "This database requires sign-in: sign in as an operator first."
        return (
            f"Signed in as {self.name}, who may not {_VERBS[AppAction(action)]} "
            f"(needs {APP_RESOURCE}: {action})."
        )

    def refusal(self, action: AppAction) -> OperatorPermissionError | SignInRequiredError:
        """The typed error for an action this operator may not do."""
        if not self.signed_in:
            return SignInRequiredError()
        return OperatorPermissionError(self.name, str(action), self.why_not(action))


# ---------------------------------------------------------------------- the setting


def stored_sign_in_required(session: Session) -> bool:
    """The setting as the file holds it (no row: off). Asked of the table, not the mapped
    class: the first ORM query of a process sets up every mapper (~10 ms), and this one
    runs while a file opens, before the window can paint (issue 11)."""
    table = Setting.__table__
    value = session.scalar(select(table.c.value).where(table.c.key == SIGN_IN_SETTING))
    return value == "1"


def sign_in_required(db: Database) -> bool:
    """Does this database require operators to sign in? (The setting stored in it; off
    for a file without the settings table: a read-only file of an older AccessGuard.)"""
    try:
        with db.internal_session() as session:
            return stored_sign_in_required(session)
    except DBAPIError:
        return False


@dataclass(frozen=True)
class SetSignInRequired:
    """Switch the database's sign-in requirement on or off (a pending edit, reviewed and
    audited like any other; needs AccessGuard: administer)."""

    required: bool

    def describe(self) -> str:
        if self.required:
            return "Require operators to sign in to this database"
        return "Stop requiring operators to sign in to this database"


def set_sign_in_required(session: Session, required: bool) -> None:
    """Store the setting through the ORM (gated: administer; audited as a setting).

    Raises:
        LockoutError: switching it on while no active user with a password may
            administer: nobody could sign in to switch it off again.
    """
    if required and not administrators(session):
        raise LockoutError(
            "Sign-in cannot be required yet: no active user with a password may "
            f"administer ({APP_RESOURCE}: {AppAction.ADMINISTER}). Set up an administrator "
            "first."
        )
    row = session.get(Setting, SIGN_IN_SETTING)
    value = "1" if required else "0"
    if row is None:
        session.add(Setting(key=SIGN_IN_SETTING, value=value))
    elif row.value != value:
        row.value = value
    session.info[_SETTING_CHANGED_KEY] = True
    session.flush()


def administrators(session: Session, *, now: datetime | None = None) -> list[str]:
    """Usernames of the active users with a password who may administer AccessGuard."""
    try:
        rbac.get_permission(session, (APP_RESOURCE, AppAction.ADMINISTER.value))
    except Exception:  # noqa: BLE001 - no such permission yet: nobody
        return []
    users = rbac.authorized_users(session, APP_RESOURCE, AppAction.ADMINISTER.value, now=now)
    return [u.username for u in users if u.has_password]


# ---------------------------------------------------------------------- what an operator may do


def operator_actions(
    session: Session, user: int | str, *, now: datetime | None = None
) -> frozenset[AppAction]:
    """The AccessGuard actions ``user`` may do: one query of their effective permissions
    (rbac.user_permissions, the rules check_access applies: inactive users and expired
    assignments grant nothing), kept to the resource "AccessGuard"."""
    app = name_key(APP_RESOURCE)
    known = {a.value: a for a in AppAction}
    return frozenset(
        known[p.action]
        for p in rbac.user_permissions(session, user, now=now)
        if name_key(p.resource) == app and p.action in known
    )


def access_for(session: Session, username: str, *, now: datetime | None = None) -> OperatorAccess:
    """A signed-in operator's access as the records say now (none if the user is gone)."""
    try:
        user = rbac.get_user(session, username)
    except Exception:  # noqa: BLE001 - deleted meanwhile: may do nothing
        return OperatorAccess(username, True, True, frozenset())
    return OperatorAccess(user.username, True, True, operator_actions(session, user.id, now=now))


def require(session: Session, action: AppAction) -> None:
    """Refuse, with a typed error, when the session's operator may not do ``action``.

    For writers that bypass the ORM (imports, publishing): the ``gate`` sees ORM changes
    by itself. A session not made by ``Database.action`` carries no operator: allowed.

    Raises:
        OperatorPermissionError, SignInRequiredError.
    """
    access = session.info.get(ACCESS_KEY)
    if isinstance(access, OperatorAccess) and not access.may(action):
        raise access.refusal(action)


def check(access: OperatorAccess, action: AppAction) -> None:
    """Refuse, with a typed error, when ``access`` may not do ``action``: for work that
    writes outside this database (publishing to a service file) or reads what only
    some may see (password hashes in an export).

    Raises:
        OperatorPermissionError, SignInRequiredError.
    """
    if not access.may(action):
        raise access.refusal(action)


# ---------------------------------------------------------------------- the gate


@dataclass
class _Scope:
    """What makes a change administrative: AccessGuard's own resource, permissions, the
    roles that (directly or by inheritance) hold any of them, and their members."""

    resource_id: int | None
    permission_ids: frozenset[int]
    role_ids: frozenset[int]
    user_ids: frozenset[int]


def _scope(session: Session) -> _Scope:
    cached = session.info.get(_ADMIN_CACHE_KEY)
    if isinstance(cached, _Scope):
        return cached
    resource_id = session.scalar(
        select(Resource.id).where(Resource.name_key == name_key(APP_RESOURCE))
    )
    permission_ids: frozenset[int] = frozenset()
    role_ids: frozenset[int] = frozenset()
    user_ids: frozenset[int] = frozenset()
    if resource_id is not None:
        permission_ids = frozenset(
            session.scalars(select(Permission.id).where(Permission.resource_id == resource_id))
        )
        direct = select(RolePermission.role_id.label("role_id")).where(
            RolePermission.permission_id.in_(permission_ids)
        )
        holders = rbac._inheriting_cte(direct, "operator_roles")
        role_ids = frozenset(session.scalars(select(holders.c.role_id)))
        user_ids = frozenset(
            session.scalars(select(UserRole.user_id).where(UserRole.role_id.in_(role_ids)))
        )
    found = _Scope(resource_id, permission_ids, role_ids, user_ids)
    session.info[_ADMIN_CACHE_KEY] = found
    return found


#: What an operator may change of their own account with nothing but view.
_OWN_FIELDS = frozenset({"password_hash", "updated_at", "version"})


def _own_password(obj: User, access: OperatorAccess) -> bool:
    """Is this the signed-in operator changing nothing but their own password? Every
    operator may (with view alone): a password only its owner knows is the point."""
    if not access.signed_in or name_key(obj.username or "") != name_key(access.name):
        return False
    state = inspect(obj)
    if state.pending:
        return False
    changed = {a.key for a in state.attrs if a.history.has_changes()}
    return bool(changed) and changed <= _OWN_FIELDS


def _needed(session: Session, obj: Any, new: bool) -> AppAction | None:
    """The action a change to ``obj`` needs (None: no permission needed)."""
    if isinstance(obj, AuditEntry):
        return None
    if isinstance(obj, Setting):
        return AppAction.ADMINISTER
    if isinstance(obj, User):
        if not new and obj.id in _scope(session).user_ids:
            return AppAction.ADMINISTER  # an operator's account: their password, their name
        return AppAction.EDIT_USERS
    if isinstance(obj, UserRole):
        if obj.role_id in _scope(session).role_ids:
            return AppAction.ADMINISTER  # who operates AccessGuard is the administrators' call
        return AppAction.ASSIGN_ROLES
    if isinstance(obj, Resource):
        scope = _scope(session)
        if obj.id is not None and obj.id == scope.resource_id:
            return AppAction.ADMINISTER
        if name_key(obj.name or "") == name_key(APP_RESOURCE):
            return AppAction.ADMINISTER
        return AppAction.EDIT_ROLES
    if isinstance(obj, Permission):
        scope = _scope(session)
        if obj.resource_id is not None and obj.resource_id == scope.resource_id:
            return AppAction.ADMINISTER
        if obj.id is not None and obj.id in scope.permission_ids:
            return AppAction.ADMINISTER  # one of AccessGuard's moved to another resource
        return AppAction.EDIT_ROLES
    if isinstance(obj, RolePermission):
        if obj.permission_id in _scope(session).permission_ids:
            return AppAction.ADMINISTER
        return AppAction.EDIT_ROLES
    if isinstance(obj, RoleInheritance):
        if obj.inherits_from_id in _scope(session).role_ids:
            return AppAction.ADMINISTER  # the senior role would gain AccessGuard's rights
        return AppAction.EDIT_ROLES
    if isinstance(obj, Role):
        if not new and obj.id in _scope(session).role_ids:
            return AppAction.ADMINISTER
        return AppAction.EDIT_ROLES
    if isinstance(obj, (SsdSet, SsdSetRole)):
        return AppAction.EDIT_SSD
    from .governance.campaign_models import ReviewCampaign, ReviewItem

    if isinstance(obj, (ReviewCampaign, ReviewItem)):
        return AppAction.REVIEW
    return AppAction.ADMINISTER  # anything else: fail closed


def _before_flush(session: Session, _context: UOWTransaction, _instances: object) -> None:
    access = session.info.get(ACCESS_KEY)
    if not isinstance(access, OperatorAccess) or not access.enforced:
        return
    changes: list[tuple[Any, bool]] = [(obj, True) for obj in session.new]
    changes += [
        (obj, False) for obj in session.dirty if session.is_modified(obj, include_collections=False)
    ]
    changes += [(obj, False) for obj in session.deleted]
    deleted = {id(obj) for obj in session.deleted}
    touched_admin = False
    for obj, new in changes:
        own = id(obj) not in deleted and isinstance(obj, User) and _own_password(obj, access)
        needed = AppAction.VIEW if own else _needed(session, obj, new)
        if needed is None:
            continue
        if not access.may(needed):
            raise access.refusal(needed)
        # An operator's own password counts too: removing the last administrator's
        # password would lock everyone out (_before_commit).
        touched_admin = touched_admin or own or needed is AppAction.ADMINISTER
    if touched_admin:
        session.info.pop(_ADMIN_CACHE_KEY, None)  # the administrative scope may change
        session.info[_TOUCHED_ADMIN_KEY] = True


#: Tables written by ORM-enabled statements (``session.execute(update(…))``) and the
#: action they need; any other table needs administer.
_TABLE_ACTIONS: dict[str, AppAction | None] = {
    # Bulk role changes (core/bulk_roles.py) call require_assignment for the role first.
    "user_roles": AppAction.ASSIGN_ROLES,
    "review_items": AppAction.REVIEW,
    "review_campaigns": AppAction.REVIEW,
    "audit_log": None,
    "ssd_sets": AppAction.EDIT_SSD,
    "ssd_set_roles": AppAction.EDIT_SSD,
}


def _before_statement(state: ORMExecuteState) -> None:
    """Statements that write without the unit of work (campaigns' bulk insert/update)."""
    if not (state.is_insert or state.is_update or state.is_delete):
        return
    access = state.session.info.get(ACCESS_KEY)
    if not isinstance(access, OperatorAccess) or not access.enforced:
        return
    table = getattr(getattr(state.statement, "table", None), "name", None)
    if str(table) not in Base.metadata.tables:
        return  # a temporary work table (bulk role changes): nothing kept in the file
    if str(table) in state.session.info.get(_CHECKED_KEY, ()):
        return  # a set-based run, checked row by row first (RunGate)
    needed = _TABLE_ACTIONS.get(str(table), AppAction.ADMINISTER)
    if needed is not None and not access.may(needed):
        raise access.refusal(needed)
    if needed is AppAction.ADMINISTER:
        state.session.info[_TOUCHED_ADMIN_KEY] = True


def enforced(session: Session) -> bool:
    """Does this action run as an operator whose rights are checked?"""
    access = session.info.get(ACCESS_KEY)
    return isinstance(access, OperatorAccess) and access.enforced


class RunGate:
    """The gate's record-by-record rules for a set-based run of changes (core/
    edit_batches.py): the writer reads the run's rows, asks ``needs`` for each record it
    will change, ``check``s them in the order the unit of work would flush them (so the
    first refusal is the one the ORM path raises, with the same words) and only then
    writes, inside ``writing`` — where the statements' hook lets the run's tables
    through, the run having been checked row by row.

    The rules are ``_needed``'s, for the rows the fast path writes: a user needs edit
    users, an operator's account (a member of a role holding AccessGuard's rights)
    administer; a role or resource needs edit roles, AccessGuard's own ones administer;
    an assignment needs assign roles, to a role holding AccessGuard's rights administer.
    The fast path never writes a password, so ``_own_password`` has no row here.
    """

    def __init__(self, session: Session, access: OperatorAccess) -> None:
        self._session = session
        self.access = access
        self._scope = _scope(session)
        self._touched_admin = False

    def needs(self, table: str, key: int | None) -> AppAction:
        """The action changing one row of ``table`` needs. ``key``: the record's id for
        users, roles and resources (None: a new user), the role's id for user_roles."""
        scope = self._scope
        if table == "users":
            return AppAction.ADMINISTER if key in scope.user_ids else AppAction.EDIT_USERS
        if table == "user_roles":
            return AppAction.ADMINISTER if key in scope.role_ids else AppAction.ASSIGN_ROLES
        if table == "roles" and key is not None:
            return AppAction.ADMINISTER if key in scope.role_ids else AppAction.EDIT_ROLES
        if table == "resources" and key is not None:
            return AppAction.ADMINISTER if key == scope.resource_id else AppAction.EDIT_ROLES
        return AppAction.ADMINISTER  # anything else: fail closed

    def check(self, actions: Iterable[AppAction]) -> None:
        """Refuse, as the gate would, the first of ``actions`` the operator may not do.

        Raises:
            OperatorPermissionError, SignInRequiredError.
        """
        for action in actions:
            check(self.access, action)
            if action is AppAction.ADMINISTER:
                self._touched_admin = True

    @contextmanager
    def writing(self, tables: Iterable[str]) -> Iterator[None]:
        """Send the checked run's statements: ``_before_statement`` lets ``tables``
        through meanwhile. Afterwards, as after a flush, a run that needed administer
        drops the cached scope and has the commit make sure an administrator is left."""
        info = self._session.info
        info[_CHECKED_KEY] = frozenset(tables)
        try:
            yield
        finally:
            info.pop(_CHECKED_KEY, None)
            if self._touched_admin:
                info.pop(_ADMIN_CACHE_KEY, None)
                info[_TOUCHED_ADMIN_KEY] = True


def run_gate(session: Session) -> RunGate | None:
    """The checks a set-based run of changes must pass in ``session`` (None: it runs as
    nobody whose rights are checked — sign-in off — and nothing is checked)."""
    access = session.info.get(ACCESS_KEY)
    if not isinstance(access, OperatorAccess) or not access.enforced:
        return None
    return RunGate(session, access)


def require_assignment(session: Session, role: rbac.Ref) -> None:
    """Refuse a set-based change of ``role``'s members the operator may not make:
    assign roles, or administer for a role that carries AccessGuard's own rights.

    Raises:
        OperatorPermissionError, SignInRequiredError, NotFoundError.
    """
    access = session.info.get(ACCESS_KEY)
    if not isinstance(access, OperatorAccess) or not access.enforced:
        return
    role_id = rbac.get_role(session, role).id
    if role_id in _scope(session).role_ids:
        require(session, AppAction.ADMINISTER)
        session.info.pop(_ADMIN_CACHE_KEY, None)
        session.info[_TOUCHED_ADMIN_KEY] = True
    else:
        require(session, AppAction.ASSIGN_ROLES)


def _before_commit(session: Session) -> None:
    """A database that requires sign-in must keep an administrator: refuse the change
    that would remove the last one (nobody could fix anything afterwards)."""
    session.flush()  # before_commit comes before the commit's own flush
    if not session.info.pop(_TOUCHED_ADMIN_KEY, False):
        return
    if stored_sign_in_required(session) and not administrators(session):
        raise LockoutError(
            "This change would leave nobody able to administer this database, which "
            "requires sign-in (an active user with a password and "
            f"{APP_RESOURCE}: {AppAction.ADMINISTER}). Nothing was saved."
        )


def gate(session: Session, access: OperatorAccess) -> None:
    """Make ``session`` refuse what ``access`` may not do (``Database.action`` calls it).
    Sign-in off: nothing is listened to, so old files cost nothing extra."""
    session.info[ACCESS_KEY] = access
    event.listen(session, "before_commit", _before_commit)
    if access.enforced:
        event.listen(session, "before_flush", _before_flush)
        event.listen(session, "do_orm_execute", _before_statement)


def setting_changed(session: Session) -> bool:
    """Did this action change the sign-in setting? (The database then re-reads it.)"""
    return bool(session.info.get(_SETTING_CHANGED_KEY))


# ---------------------------------------------------------------------- sign-in and back-off


def delay_after(failures: int) -> float:
    """Seconds to wait after ``failures`` consecutive failures: 0, 0, 1, 2, 4, 8, 16, 30…"""
    if failures <= FREE_FAILURES:
        return 0.0
    return min(MAX_DELAY_S, float(2 ** min(failures - FREE_FAILURES - 1, 16)))


def sign_in_key(username: str) -> str:
    """The audit record a name's sign-ins are kept under: "user:<name as typed, tidied>".
    Failures are counted by the name's key, so "Bob" and "bob" share their back-off."""
    shown = unicodedata.normalize("NFC", str(username)).strip()[:64]
    return f"user:{name_key(shown)}"


def recent_failures(session: Session, record: str, now: datetime) -> tuple[int, datetime | None]:
    """Consecutive failed sign-ins of ``record`` within FAILURE_WINDOW before ``now``
    (a success ends the run), and the time of the newest one."""
    rows = session.execute(
        select(AuditEntry.at, AuditEntry.operation)
        .where(
            AuditEntry.record_type == SIGN_IN_RECORD,
            AuditEntry.record_key == record,
            AuditEntry.at > now - FAILURE_WINDOW,
        )
        .order_by(AuditEntry.id.desc())
        .limit(_FAILURES_READ)
    ).all()
    count = 0
    newest: datetime | None = None
    for at, operation in rows:
        if operation != SIGN_IN_FAILED:
            break
        count += 1
        newest = newest or at
    return count, newest


@cache
def _decoy_hash() -> str:
    """A hash checked when the name is unknown, so that an unknown name costs as long as
    a wrong password (no user enumeration by timing)."""
    import secrets  # only a sign-in needs it (cold start, issue 11)

    return passwords.hash_password(secrets.token_urlsafe(24))


def check_credentials(
    session: Session, username: str, password: str, now: datetime
) -> OperatorAccess | None:
    """The operator's access if the name and password are right, the user is active and
    may view; None otherwise (never says which)."""
    user = session.scalars(select(User).where(User.username_key == name_key(username))).first()
    stored = user.password_hash if user is not None else None
    matches = passwords.verify_password_hash(stored or _decoy_hash(), str(password))
    if user is None or stored is None or not matches or not user.active:
        return None
    actions = operator_actions(session, user.id, now=now)
    if AppAction.VIEW not in actions:
        return None
    return OperatorAccess(user.username, True, True, actions)


def sign_in_entry(record: str, operator: str, succeeded: bool, at: datetime) -> dict[str, Any]:
    """The audit entry of one sign-in attempt (never the password)."""
    return {
        "at": at,
        "operator": operator,
        "action": "Sign in",
        "operation": SIGNED_IN if succeeded else SIGN_IN_FAILED,
        "record_type": SIGN_IN_RECORD,
        "record_key": record,
        "before": None,
        "after": None,
    }


def write_sign_in(session: Session, entry: dict[str, Any]) -> None:
    """Record a sign-in attempt through the one way into the trail."""
    audit.write_entries(session.connection(), [entry])


def clean_failures(times: Iterable[datetime], now: datetime) -> list[datetime]:
    """In-process failures still inside the window (read-only files)."""
    return [t for t in times if t > now - FAILURE_WINDOW]


# ---------------------------------------------------------------------- setting up


def setup_edits(session: Session, admin_username: str) -> list[Edit]:
    """The pending edits that give AccessGuard its own permissions: the resource
    "AccessGuard", one permission per action, the role "AccessGuard administrators"
    holding all of them, and ``admin_username`` assigned to it. What exists is skipped,
    so running it on a set-up database gives only what is missing."""
    from .changes import Assign, Create, Entity, Grant

    edits: list[Edit] = []
    resource = session.scalar(select(Resource).where(Resource.name_key == name_key(APP_RESOURCE)))
    if resource is None:
        edits.append(
            Create(
                Entity.RESOURCE,
                {
                    "name": APP_RESOURCE,
                    "description": "AccessGuard itself: what its operators may do in this database.",
                },
            )
        )
        existing: set[str] = set()
    else:
        existing = set(
            session.scalars(select(Permission.action).where(Permission.resource_id == resource.id))
        )
    for action in AppAction:
        if action.value not in existing:
            edits.append(
                Create(
                    Entity.PERMISSION,
                    {
                        "resource": APP_RESOURCE,
                        "action": action.value,
                        "description": DESCRIPTIONS[action],
                    },
                )
            )
    role = session.scalar(select(Role).where(Role.name_key == name_key(ADMIN_ROLE)))
    granted: set[str] = set()
    if role is None:
        edits.append(
            Create(
                Entity.ROLE,
                {
                    "name": ADMIN_ROLE,
                    "description": "Everything AccessGuard lets an operator do.",
                },
            )
        )
    else:
        granted = {
            p.action
            for p in rbac.role_permissions(session, role.id)
            if name_key(p.resource) == name_key(APP_RESOURCE)
        }
    role_name = role.name if role is not None else ADMIN_ROLE
    for action in AppAction:
        if action.value not in granted:
            edits.append(Grant(role_name, (APP_RESOURCE, action.value)))
    user = rbac.get_user(session, admin_username)
    assigned = role is not None and session.get(UserRole, (user.id, role.id)) is not None
    if not assigned:
        edits.append(Assign(user.username, role_name))
    return edits


def session_user(session: Session) -> str:
    """The PostgreSQL server's session user: the operator there, not a client's claim."""
    return str(session.execute(text("SELECT session_user")).scalar() or "")


# ---------------------------------------------------------------------- a database's operator


def initial_access(db: Database) -> OperatorAccess:
    """Who operates ``db`` when it is opened: on PostgreSQL the server login (with its
    rights when the database requires sign-in or the server enforces them), on a file
    nobody (sign-in required) or the OS user allowed everything (sign-in off, as before
    operators existed)."""
    required = sign_in_required(db)
    if db.dialect == "postgresql":
        from .server_enforcement import installed  # it imports this module

        enforced = required or installed(db.engine)
        with db.internal_session() as session:
            login = session_user(session)
            if enforced:
                return access_for(session, login, now=db.clock())
        if db.operator_given:
            # Nothing enforced and the caller named the operator (scripts, tests): as
            # before operators existed, the name is the caller's word.
            return OperatorAccess.unrestricted(db.operator)
        return OperatorAccess(login, True, False, ALL_ACTIONS)
    if required:
        return OperatorAccess.nobody()
    return OperatorAccess.unrestricted(db.operator)


def sign_in(db: Database, username: str, password: str) -> OperatorAccess:
    """Check an operator's name and password and make them ``db``'s operator.

    During the back-off after failed attempts the password is not even checked.
    Every attempt is recorded in the audit trail (a read-only file cannot record: its
    failures are counted in this process, and ``db.sign_in_note`` says so).

    Raises:
        SignInError: wrong name or password, inactive user, no AccessGuard: view, or
            still waiting (``retry_after``); the same words for all of them.
    """
    if db.dialect == "postgresql":
        raise SignInError(
            message=(
                "On a PostgreSQL server the operator is the server login you connected as; "
                "connect as that login instead of signing in here."
            )
        )
    record = sign_in_key(username)
    now = db.clock()
    with db.internal_session() as session:
        failures, newest = recent_failures(session, record, now)
    local = clean_failures(db.sign_in_failures.get(record, []), now)
    if len(local) > failures:
        failures, newest = len(local), local[-1]
    if newest is not None:
        wait = delay_after(failures) - (now - newest).total_seconds()
        if wait > 0:
            raise SignInError(retry_after=wait, message=_waiting(wait, db))
    with db.internal_session() as session:
        access = check_credentials(session, username, password, now)
    recorded = _record_attempt(db, record, access is not None, now)
    if access is None:
        db.sign_in_failures[record] = [*local, now]
        message = None if recorded else _unrecorded(delay_after(failures + 1), db)
        raise SignInError(retry_after=delay_after(failures + 1), message=message)
    db.sign_in_failures.pop(record, None)
    db.become(access)
    return access


def _record_attempt(db: Database, record: str, succeeded: bool, now: datetime) -> bool:
    """Write the attempt to the trail; False if the file cannot be written."""
    if db.read_only:
        db.sign_in_note = "This file is read-only: sign-ins cannot be recorded in its audit trail."
        return False
    entry = sign_in_entry(record, db.os_operator, succeeded, now)
    try:
        with db.internal_session(write=True) as session:
            write_sign_in(session, entry)
            session.commit()
    except DBAPIError:  # busy past the timeout, or the file became unwritable
        db.sign_in_note = "The sign-in could not be recorded in the audit trail (busy)."
        return False
    return True


def _waiting(wait: float, db: Database) -> str:
    """The password is not checked during the wait: say so, not "wrong password"."""
    shown = str(SignInError(retry_after=wait)).rsplit(" Try again", 1)[-1].strip()
    text = f"Too many failed sign-ins for this name. Try again {shown}"
    return text if not db.read_only else text + " (Failures are counted in this program only.)"


def _unrecorded(wait: float, db: Database) -> str:
    return f"{SignInError(retry_after=wait)} ({db.sign_in_note})"


def sign_out(db: Database) -> OperatorAccess:
    """Forget the signed-in operator: back to nobody (sign-in required) or the OS user."""
    db.become(None)
    return db.access
