"""Server-enforced operators on PostgreSQL: a hand-made SQL connection can do no more
than its operator may in AccessGuard.

On an SQLite file the operator's rights are the app's word (anyone who can write the
file can bypass it). On a PostgreSQL server the database owner runs ``install`` once
(``python -m accessguard_gui enforce URL``) and the server itself checks every change:

- ``accessguard_may(action)``: may the server's session user (the operator: the
  AccessGuard user whose name is the login's, ignoring case) do ``action`` on the resource
  "AccessGuard"? The rule of ``rbac.check_access``: an active user, unexpired
  assignments, role inheritance walked by a deduplicating recursive query. A SECURITY
  DEFINER function with its search_path pinned, so a login cannot shadow what it reads.
- a BEFORE INSERT/UPDATE/DELETE trigger on every record table: the table's action
  (``TABLE_ACTIONS``; a table it does not know needs "administer"), or "administer" for
  rows that make or touch operators (AccessGuard's resource, its permissions and their
  grants, the roles holding them, their members and inheritance) — the same rule as the
  app's gate (core/operators.py). A refusal is SQLSTATE 42501 naming the login and the
  action. Deletes cascaded by a foreign key are checked like any other: deleting a user
  who holds roles needs "assign roles" too, as in the app (which deletes them one by one).
- row-level security: a login without "view" reads no records and no audit entries.
- the audit trail: an entry whose operator is not the session user is refused, so the
  "who" is the server's, not a claim of the client; and a transaction in which an
  operator changed records but appended no entry is refused at commit, so a change by
  hand leaves a trace naming its login (what the entry says beyond that is the client's).
- privileges: operators are the members of one group role (``OPERATORS_GROUP``), which
  gets SELECT/INSERT/UPDATE/DELETE on the record tables, SELECT/INSERT on the audit
  trail, never TRUNCATE, never DDL. ``grant_operator`` makes a login a member.

The database owner (and a superuser) keep full rights: Alembic upgrades run by the owner
work with enforcement installed. A table an upgrade adds is closed to operators (no
privileges) until ``install`` runs again, which is idempotent: the owner's AccessGuard
does it after its own upgrade (core/database.py); after an upgrade by other means run
``enforce`` again (``installed`` is False until then).
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import Connection, Engine, inspect, text

from .errors import DatabaseError, OperatorPermissionError
from .keys import name_key
from .operators import APP_RESOURCE, AppAction

__all__ = [
    "OPERATORS_GROUP",
    "refusal",
    "TABLE_ACTIONS",
    "grant_operator",
    "install",
    "installed",
    "operator_logins",
    "revoke_operator",
    "uninstall",
]

#: The group role whose members are AccessGuard operators on this server.
OPERATORS_GROUP = "accessguard_operators"
#: The action each record table needs; any other table needs "administer" (fail closed).
TABLE_ACTIONS: dict[str, AppAction] = {
    "users": AppAction.EDIT_USERS,
    "user_roles": AppAction.ASSIGN_ROLES,
    "roles": AppAction.EDIT_ROLES,
    "resources": AppAction.EDIT_ROLES,
    "permissions": AppAction.EDIT_ROLES,
    "role_inheritance": AppAction.EDIT_ROLES,
    "role_permissions": AppAction.EDIT_ROLES,
    "ssd_sets": AppAction.EDIT_SSD,
    "ssd_set_roles": AppAction.EDIT_SSD,
    "review_campaigns": AppAction.REVIEW,
    "review_items": AppAction.REVIEW,
    "settings": AppAction.ADMINISTER,
}
AUDIT_TABLE = "audit_log"
#: Read by the app when it opens the database; never written by operators.
READ_ONLY_TABLES = ("alembic_version",)
#: Our own bookkeeping (``_PENDING``): never a record table.
PENDING_TABLE = "accessguard_pending"
AUDITED_TRIGGER = "accessguard_audited"
GUARD_TRIGGER = "accessguard_guard"
AUDIT_TRIGGER = "accessguard_audit_operator"
POLICIES = ("accessguard_view", "accessguard_insert", "accessguard_update", "accessguard_delete")
_FUNCTIONS = (
    "accessguard_guard()",
    "accessguard_audit_operator()",
    "accessguard_may_view()",
    "accessguard_may(text)",
    "accessguard_holds(text)",
    "accessguard_touches_operators(text, jsonb)",
    "accessguard_role_operates(integer)",
    "accessguard_is_owner()",
    "accessguard_check_audited()",
)

# The functions. {s} is the quoted schema: every table is named with it. Two kinds:
# - entry points (the triggers, accessguard_may, accessguard_may_view): SECURITY DEFINER,
#   so they read as the owner, past the row-level security that hides the records from
#   a login without "view", with the search_path pinned to pg_catalog (pg_temp last), so
#   objects a login creates cannot stand in for ours or for built-ins;
# - helpers they call (``_HELPERS``): run as their caller — the owner, inside an entry
#   point, under its pinned path — and only the owner may execute them. A SET clause
#   costs on every call (measured: a third of the guard's time per row), so only the
#   entry points carry one.
# PL/pgSQL even for one query: it keeps each query's plan for the session, where an SQL
# function that is not inlined plans its recursive query again on every call.
_DEFINER = "SECURITY DEFINER SET search_path = pg_catalog, pg_temp"
_INTERNAL = "SECURITY INVOKER"
#: The helpers: nobody but the owner executes them (``_INTERNAL``).
_HELPERS = (
    "accessguard_is_owner()",
    "accessguard_holds(text)",
    "accessguard_role_operates(integer)",
    "accessguard_touches_operators(text, jsonb)",
)

_IS_OWNER = """
CREATE OR REPLACE FUNCTION {s}.accessguard_is_owner() RETURNS boolean
LANGUAGE plpgsql STABLE {internal} AS $$
BEGIN
    -- The tables' owner (or a member of it, or a superuser): full rights, as before.
    RETURN (SELECT pg_catalog.pg_has_role(session_user, c.relowner, 'MEMBER')
            FROM pg_catalog.pg_class c WHERE c.oid = '{s}.users'::pg_catalog.regclass);
END
$$
"""

# check_access's rule for the session user on the resource "AccessGuard" ($1, not the
# argument's name: a column "action" would win over it). The user is the one whose name
# key is the login's, as the app looks a name up (core/keys.py; lower() is the key of
# the plain names logins have) — one seek on the key's unique index: an OR with the
# unindexed username made every check scan the users table (10 ms a row at 10k users).
_HOLDS = """
CREATE OR REPLACE FUNCTION {s}.accessguard_holds(action text) RETURNS boolean
LANGUAGE plpgsql STABLE {internal} AS $$
BEGIN
    RETURN (WITH RECURSIVE me AS (
        SELECT u.id, u.active FROM {s}.users u
        WHERE u.username_key = pg_catalog.lower(session_user::text)
    ), up(role_id) AS (
        SELECT ur.role_id FROM {s}.user_roles ur JOIN me ON ur.user_id = me.id
        WHERE me.active
          AND (ur.expires_at IS NULL OR ur.expires_at > pg_catalog.clock_timestamp())
        UNION
        SELECT ri.inherits_from_id FROM {s}.role_inheritance ri JOIN up ON ri.role_id = up.role_id
    )
    SELECT EXISTS (
        SELECT 1 FROM {s}.role_permissions rp
        JOIN {s}.permissions p ON p.id = rp.permission_id
        JOIN {s}.resources r ON r.id = p.resource_id
        WHERE r.name_key = {app_key}
          AND p.action = pg_catalog.lower(pg_catalog.btrim($1))
          AND rp.role_id IN (SELECT role_id FROM up)
    ));
END
$$
"""

_MAY = """
CREATE OR REPLACE FUNCTION {s}.accessguard_may(action text) RETURNS boolean
LANGUAGE plpgsql STABLE {definer} AS $$
BEGIN
    RETURN {s}.accessguard_holds($1);
END
$$
"""

_MAY_VIEW = """
CREATE OR REPLACE FUNCTION {s}.accessguard_may_view() RETURNS boolean
LANGUAGE plpgsql STABLE {definer} AS $$
BEGIN
    RETURN {s}.accessguard_is_owner() OR {s}.accessguard_holds({view});
END
$$
"""

# Does the role hold a permission on "AccessGuard", itself or through the roles it
# inherits from? Then it makes operators: who holds it is the administrators' call.
_ROLE_OPERATES = """
CREATE OR REPLACE FUNCTION {s}.accessguard_role_operates(role integer) RETURNS boolean
LANGUAGE plpgsql STABLE {internal} AS $$
BEGIN
    RETURN (WITH RECURSIVE down(role_id) AS (
        SELECT $1
        UNION
        SELECT ri.inherits_from_id FROM {s}.role_inheritance ri
        JOIN down ON ri.role_id = down.role_id
    )
    SELECT EXISTS (
        SELECT 1 FROM {s}.role_permissions rp
        JOIN {s}.permissions p ON p.id = rp.permission_id
        JOIN {s}.resources r ON r.id = p.resource_id
        WHERE r.name_key = {app_key} AND rp.role_id IN (SELECT role_id FROM down)
    ));
END
$$
"""

# Does this row (as JSON) make or touch operators? core/operators.py's _needed, row-wise.
_TOUCHES = """
CREATE OR REPLACE FUNCTION {s}.accessguard_touches_operators(tab text, r jsonb)
RETURNS boolean LANGUAGE plpgsql STABLE {internal} AS $$
BEGIN
    IF r IS NULL THEN
        RETURN false;
    END IF;
    CASE tab
    WHEN 'resources' THEN
        RETURN r->>'name_key' = {app_key};
    WHEN 'permissions' THEN
        RETURN EXISTS (SELECT 1 FROM {s}.resources x
                       WHERE x.id = (r->>'resource_id')::integer AND x.name_key = {app_key});
    WHEN 'role_permissions' THEN
        RETURN EXISTS (SELECT 1 FROM {s}.permissions p JOIN {s}.resources x ON x.id = p.resource_id
                       WHERE p.id = (r->>'permission_id')::integer AND x.name_key = {app_key});
    WHEN 'roles' THEN
        RETURN {s}.accessguard_role_operates((r->>'id')::integer);
    WHEN 'role_inheritance' THEN
        RETURN {s}.accessguard_role_operates((r->>'inherits_from_id')::integer);
    WHEN 'user_roles' THEN
        RETURN {s}.accessguard_role_operates((r->>'role_id')::integer);
    WHEN 'users' THEN
        RETURN EXISTS (SELECT 1 FROM {s}.user_roles ur
                       WHERE ur.user_id = (r->>'id')::integer
                         AND {s}.accessguard_role_operates(ur.role_id));
    ELSE
        RETURN false;
    END CASE;
END
$$
"""

_GUARD = """
CREATE OR REPLACE FUNCTION {s}.accessguard_guard() RETURNS trigger
LANGUAGE plpgsql {definer} AS $$
DECLARE
    needed text := TG_ARGV[0];
    old_row jsonb;
    new_row jsonb;
BEGIN
    IF TG_OP <> 'INSERT' THEN
        old_row := pg_catalog.to_jsonb(OLD);
    END IF;
    IF TG_OP <> 'DELETE' THEN
        new_row := pg_catalog.to_jsonb(NEW);
    END IF;
    IF NOT {s}.accessguard_is_owner() THEN
        IF {s}.accessguard_touches_operators(TG_TABLE_NAME, old_row)
           OR {s}.accessguard_touches_operators(TG_TABLE_NAME, new_row) THEN
            needed := {administer};
        END IF;
        IF NOT {s}.accessguard_holds(needed) THEN
            RAISE EXCEPTION USING
                ERRCODE = '42501',
                MESSAGE = pg_catalog.format(
                    'The server refused the change to %s: the login %s lacks the '
                    'permission {app}: %s.',
                    TG_TABLE_NAME, session_user, needed),
                DETAIL = pg_catalog.format('Login %s; needs {app}: %s.', session_user, needed),
                HINT = 'An administrator grants AccessGuard''s permissions through roles.';
        END IF;
        -- This transaction must write an audit entry before it commits (_CHECK_AUDITED).
        IF NOT EXISTS (SELECT 1 FROM {s}.accessguard_pending
                       WHERE xact = pg_catalog.txid_current()) THEN
            INSERT INTO {s}.accessguard_pending (xact, login)
            VALUES (pg_catalog.txid_current(), session_user)
            ON CONFLICT (xact) DO NOTHING;
        END IF;
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END
$$
"""

# Everyone's entries, the owner's too: the trail's "who" is the server's session user.
_AUDIT = """
CREATE OR REPLACE FUNCTION {s}.accessguard_audit_operator() RETURNS trigger
LANGUAGE plpgsql {definer} AS $$
BEGIN
    IF NEW.operator IS DISTINCT FROM session_user::text THEN
        RAISE EXCEPTION USING
            ERRCODE = '42501',
            MESSAGE = pg_catalog.format(
                'The server refused an audit entry naming %s as the operator: changes '
                'made by the login %s are recorded as %s.',
                pg_catalog.quote_nullable(NEW.operator), session_user, session_user),
            DETAIL = pg_catalog.format('Login %s; the audit trail records the login.',
                                       session_user);
    END IF;
    INSERT INTO {s}.accessguard_pending (xact, login, audited)
    VALUES (pg_catalog.txid_current(), session_user, true)
    ON CONFLICT (xact) DO UPDATE SET audited = true;
    RETURN NEW;
END
$$
"""

# A change by an operator's hand-made connection must leave a trace: the guard notes each
# transaction that changed records (one row per transaction, in a table operators have no
# privileges on), the audit trigger marks it audited, and a deferred constraint trigger
# refuses the commit of a transaction that changed records without appending any audit
# entry. The app writes its entries in the same transaction as the change; a hand-made
# connection must write one too, and it names the login (``_AUDIT``).
_PENDING = """
CREATE TABLE IF NOT EXISTS {s}.accessguard_pending (
    xact bigint PRIMARY KEY,
    login text NOT NULL,
    audited boolean NOT NULL DEFAULT false
)
"""

_CHECK_AUDITED = """
CREATE OR REPLACE FUNCTION {s}.accessguard_check_audited() RETURNS trigger
LANGUAGE plpgsql {definer} AS $$
DECLARE
    done boolean;
BEGIN
    DELETE FROM {s}.accessguard_pending WHERE xact = NEW.xact RETURNING audited INTO done;
    IF done IS NOT DISTINCT FROM false THEN
        RAISE EXCEPTION USING
            ERRCODE = '42501',
            MESSAGE = pg_catalog.format(
                'The server refused the commit: the login %s changed records without '
                'writing an audit entry.', NEW.login),
            DETAIL = pg_catalog.format('Login %s; the audit trail records the login.',
                                       NEW.login);
    END IF;
    RETURN NULL;
END
$$
"""


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _schema(conn: Connection) -> str:
    return str(conn.execute(text("SELECT current_schema()")).scalar())


def _require_postgres(engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        raise DatabaseError(
            "Server-enforced operators need a PostgreSQL database; on an SQLite file the "
            "operators' rights are checked by the app only."
        )


def _record_tables(conn: Connection, schema: str) -> list[str]:
    """Every table of the schema but the audit trail and the schema's own bookkeeping."""
    names = inspect(conn).get_table_names(schema=schema)
    if "users" not in names or AUDIT_TABLE not in names:
        raise DatabaseError("This database holds no AccessGuard schema to protect.")
    return sorted(n for n in names if _is_record_table(n))


def _is_record_table(name: str) -> bool:
    return name not in (AUDIT_TABLE, PENDING_TABLE, *READ_ONLY_TABLES)


def _ensure_group(conn: Connection) -> None:
    exists = conn.execute(
        text("SELECT 1 FROM pg_roles WHERE rolname = :name"), {"name": OPERATORS_GROUP}
    ).scalar()
    if exists:
        return
    may_create = conn.execute(
        text("SELECT rolcreaterole OR rolsuper FROM pg_roles WHERE rolname = current_user")
    ).scalar()
    if not may_create:
        raise DatabaseError(
            f"The group role {OPERATORS_GROUP} does not exist and this login may not create "
            f"roles: ask a superuser to run CREATE ROLE {OPERATORS_GROUP} NOLOGIN, then run "
            "this again."
        )
    conn.exec_driver_sql(f"CREATE ROLE {_ident(OPERATORS_GROUP)} NOLOGIN")


def install(engine: Engine) -> None:
    """Put the server-side checks on the AccessGuard database ``engine`` names (its
    current schema), in one transaction. Idempotent: run it again after every schema
    upgrade so that new tables are covered too.

    Must be run by the owner of the tables (or a superuser); creating the group role the
    first time needs CREATEROLE.

    Raises:
        DatabaseError: not PostgreSQL, no AccessGuard schema, or not allowed.
    """
    _require_postgres(engine)
    with engine.begin() as conn:
        schema = _schema(conn)
        tables = _record_tables(conn, schema)
        _ensure_group(conn)
        s = _ident(schema)
        values = {
            "s": s,
            "definer": _DEFINER,
            "internal": _INTERNAL,
            "app_key": _literal(name_key(APP_RESOURCE)),
            "app": APP_RESOURCE,
            "view": _literal(AppAction.VIEW.value),
            "administer": _literal(AppAction.ADMINISTER.value),
        }
        for sql in (
            _PENDING,
            _IS_OWNER,
            _HOLDS,
            _MAY,
            _MAY_VIEW,
            _ROLE_OPERATES,
            _TOUCHES,
            _GUARD,
            _AUDIT,
            _CHECK_AUDITED,
        ):
            conn.exec_driver_sql(sql.format(**values).replace("%", "%%"))
        for helper in _HELPERS:
            conn.exec_driver_sql(f"REVOKE ALL ON FUNCTION {s}.{helper} FROM PUBLIC")
        pending = f"{s}.{PENDING_TABLE}"
        conn.exec_driver_sql(f"REVOKE ALL ON {pending} FROM PUBLIC")
        conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {AUDITED_TRIGGER} ON {pending}")
        conn.exec_driver_sql(
            f"CREATE CONSTRAINT TRIGGER {AUDITED_TRIGGER} AFTER INSERT ON {pending} "
            "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW "
            f"EXECUTE FUNCTION {s}.accessguard_check_audited()"
        )
        group = _ident(OPERATORS_GROUP)
        conn.exec_driver_sql(f"GRANT USAGE ON SCHEMA {s} TO {group}")
        for name in tables:
            table = f"{s}.{_ident(name)}"
            action = TABLE_ACTIONS.get(name, AppAction.ADMINISTER).value
            conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {GUARD_TRIGGER} ON {table}")
            conn.exec_driver_sql(
                f"CREATE TRIGGER {GUARD_TRIGGER} BEFORE INSERT OR UPDATE OR DELETE ON {table} "
                f"FOR EACH ROW EXECUTE FUNCTION {s}.accessguard_guard({_literal(action)})"
            )
            _protect_reads(conn, table, s, writes=("insert", "update", "delete"))
            conn.exec_driver_sql(f"REVOKE ALL ON {table} FROM PUBLIC, {group}")
            conn.exec_driver_sql(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO {group}")
        audit = f"{s}.{_ident(AUDIT_TABLE)}"
        conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {AUDIT_TRIGGER} ON {audit}")
        conn.exec_driver_sql(
            f"CREATE TRIGGER {AUDIT_TRIGGER} BEFORE INSERT ON {audit} "
            f"FOR EACH ROW EXECUTE FUNCTION {s}.accessguard_audit_operator()"
        )
        _protect_reads(conn, audit, s, writes=("insert",))
        conn.exec_driver_sql(f"REVOKE ALL ON {audit} FROM PUBLIC, {group}")
        conn.exec_driver_sql(f"GRANT SELECT, INSERT ON {audit} TO {group}")
        for name in READ_ONLY_TABLES:
            conn.exec_driver_sql(f"GRANT SELECT ON {s}.{_ident(name)} TO {group}")
        # Serial ids need USAGE; the trail's writer keeps its serial in step (setval).
        conn.exec_driver_sql(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {s} TO {group}")
        sequence = conn.execute(
            text("SELECT pg_get_serial_sequence(:table, 'id')"), {"table": f"{s}.{AUDIT_TABLE}"}
        ).scalar()
        if sequence:
            conn.exec_driver_sql(f"GRANT UPDATE ON SEQUENCE {sequence} TO {group}")


def _protect_reads(conn: Connection, table: str, s: str, *, writes: tuple[str, ...]) -> None:
    """Row-level security: rows are visible only to who may view (the owner always); the
    write policies let every row through to the trigger, which decides."""
    for policy in POLICIES:
        conn.exec_driver_sql(f"DROP POLICY IF EXISTS {policy} ON {table}")
    conn.exec_driver_sql(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
    # (SELECT …): evaluated once per statement, not once per row.
    conn.exec_driver_sql(
        f"CREATE POLICY accessguard_view ON {table} FOR SELECT "
        f"USING ((SELECT {s}.accessguard_may_view()))"
    )
    for command in writes:
        if command == "insert":
            rule = "WITH CHECK (true)"
        elif command == "update":
            rule = "USING (true) WITH CHECK (true)"
        else:
            rule = "USING (true)"
        conn.exec_driver_sql(
            f"CREATE POLICY accessguard_{command} ON {table} FOR {command.upper()} {rule}"
        )


def uninstall(engine: Engine) -> None:
    """Take the server-side checks off again (the app's own checks remain). The group
    role stays: other databases of the server may use it.

    Raises:
        DatabaseError: not PostgreSQL.
    """
    _require_postgres(engine)
    with engine.begin() as conn:
        schema = _schema(conn)
        s = _ident(schema)
        group_exists = conn.execute(
            text("SELECT 1 FROM pg_roles WHERE rolname = :name"), {"name": OPERATORS_GROUP}
        ).scalar()
        group = _ident(OPERATORS_GROUP)
        names = inspect(conn).get_table_names(schema=schema)
        for name in names:
            if name == PENDING_TABLE:
                continue
            table = f"{s}.{_ident(name)}"
            conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {GUARD_TRIGGER} ON {table}")
            conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {AUDIT_TRIGGER} ON {table}")
            for policy in POLICIES:
                conn.exec_driver_sql(f"DROP POLICY IF EXISTS {policy} ON {table}")
            conn.exec_driver_sql(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
            if group_exists:
                conn.exec_driver_sql(f"REVOKE ALL ON {table} FROM {group}")
        if group_exists:
            conn.exec_driver_sql(f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA {s} FROM {group}")
            conn.exec_driver_sql(f"REVOKE USAGE ON SCHEMA {s} FROM {group}")
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {s}.{PENDING_TABLE}")
        for function in _FUNCTIONS:
            conn.exec_driver_sql(f"DROP FUNCTION IF EXISTS {s}.{function}")


def installed(engine: Engine) -> bool:
    """Are the checks on every table of the database now? False on other databases, and
    after an upgrade added a table (run ``install`` again)."""
    if engine.dialect.name != "postgresql":
        return False
    with engine.connect() as conn:
        schema = _schema(conn)
        names = inspect(conn).get_table_names(schema=schema)
        if "users" not in names or AUDIT_TABLE not in names:
            return False
        tables = [n for n in names if _is_record_table(n)]
        if PENDING_TABLE not in names:
            return False
        rows = conn.execute(
            text(
                "SELECT c.relname, c.relrowsecurity, "
                "       EXISTS (SELECT 1 FROM pg_trigger t WHERE t.tgrelid = c.oid "
                "               AND t.tgname IN (:guard, :audit) AND t.tgenabled <> 'D') "
                "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = :schema AND c.relkind = 'r'"
            ),
            {"guard": GUARD_TRIGGER, "audit": AUDIT_TRIGGER, "schema": schema},
        ).all()
        guarded = {name for name, rls, trigger in rows if rls and trigger}
        return all(name in guarded for name in [*tables, AUDIT_TABLE])


def grant_operator(engine: Engine, login: str) -> None:
    """Make the server login ``login`` an operator: a member of ``OPERATORS_GROUP``
    (created if missing). What it may do is still what its AccessGuard user (the user
    whose username is ``login``) may do; a login without such a user reads nothing.

    Raises:
        DatabaseError: no such login, or this login may not grant the membership.
    """
    _require_postgres(engine)
    with engine.begin() as conn:
        _check_login(conn, login)
        _ensure_group(conn)
        conn.exec_driver_sql(f"GRANT {_ident(OPERATORS_GROUP)} TO {_ident(login)}")


def revoke_operator(engine: Engine, login: str) -> None:
    """End ``login``'s membership of ``OPERATORS_GROUP``: it can no longer read or write
    AccessGuard's tables on this server.

    Raises:
        DatabaseError: no such login, or this login may not revoke the membership.
    """
    _require_postgres(engine)
    with engine.begin() as conn:
        _check_login(conn, login)
        conn.exec_driver_sql(f"REVOKE {_ident(OPERATORS_GROUP)} FROM {_ident(login)}")


def operator_logins(engine: Engine) -> list[str]:
    """The logins that are members of ``OPERATORS_GROUP`` on this server, by name."""
    _require_postgres(engine)
    with engine.connect() as conn:
        return list(
            conn.execute(
                text(
                    "SELECT m.rolname FROM pg_auth_members a "
                    "JOIN pg_roles g ON g.oid = a.roleid JOIN pg_roles m ON m.oid = a.member "
                    "WHERE g.rolname = :group ORDER BY m.rolname"
                ),
                {"group": OPERATORS_GROUP},
            ).scalars()
        )


def _check_login(conn: Connection, login: str) -> None:
    exists = conn.execute(
        text("SELECT 1 FROM pg_roles WHERE rolname = :name"), {"name": login}
    ).scalar()
    if not exists:
        raise DatabaseError(
            f"The server has no login named {login}: create it first (CREATE ROLE … LOGIN)."
        )


_DETAIL = re.compile(
    r"Login (?P<login>.*); (needs " + re.escape(APP_RESOURCE) + r": (?P<action>.*)"
    r"|the audit trail records the login)\."
)


def refusal(orig: Any) -> OperatorPermissionError:
    """The typed error for the server's SQLSTATE 42501 (``orig``: the driver's
    exception): our triggers' refusal, naming the login and the action, or a privilege
    the login lacks (not an operator of this database: ``grant_operator``)."""
    diag = getattr(orig, "diag", None)
    message = str(getattr(diag, "message_primary", None) or orig).strip()
    found = _DETAIL.fullmatch(str(getattr(diag, "message_detail", None) or ""))
    if found is not None:
        return OperatorPermissionError(found["login"], found["action"] or "", message)
    return OperatorPermissionError(
        "",
        AppAction.VIEW.value,
        f"The server refused this login: {message}. The database owner makes a login an "
        "operator with: python -m accessguard_gui enforce URL --grant LOGIN",
    )
