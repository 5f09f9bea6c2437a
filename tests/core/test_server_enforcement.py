"""Server-enforced operators on PostgreSQL (core/server_enforcement.py), with real logins.

Three server logins per test (random suffixes: logins are server-wide): alice may view
and edit users, bob may only view, carol has no AccessGuard rights at all. Each is tried
through the app (``Database`` opened as that login) and through a raw psycopg
connection, which is what "a hand-made SQL connection" means. Skipped without
``AG_TEST_POSTGRES_URL``; the server's test role needs CREATEROLE (.ci/postgres.sh).
"""

from __future__ import annotations

import io
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ProgrammingError

from accessguard_gui import cli
from accessguard_gui.core import audit, integrity, operators, rbac, server_enforcement
from accessguard_gui.core.database import Database
from accessguard_gui.core.errors import DatabaseError, OperatorPermissionError
from accessguard_gui.core.models import Base
from accessguard_gui.core.operators import APP_RESOURCE, AppAction
from accessguard_gui.core.schema import downgrade, upgrade

try:  # the "postgres" extra; the SQLite tests here run without it
    import psycopg
    from psycopg.errors import InsufficientPrivilege
except ImportError:  # pragma: no cover - the PostgreSQL tests skip (no server URL) too
    psycopg = None  # type: ignore[assignment]


@dataclass(frozen=True)
class Logins:
    """The test's server logins and their passwords."""

    alice: str
    bob: str
    carol: str
    passwords: dict[str, str]


@pytest.fixture
def logins(pg_server: URL) -> Iterator[Logins]:
    """Three new logins, dropped after the test (after its database: see ``org``)."""
    if psycopg is None:
        pytest.skip("no psycopg (pip install -e '.[postgres]')")
    suffix = secrets.token_hex(3)
    names = Logins(f"ag_alice_{suffix}", f"ag_bob_{suffix}", f"ag_carol_{suffix}", {})
    admin = create_engine(pg_server, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            for name in (names.alice, names.bob, names.carol):
                password = secrets.token_hex(12)
                names.passwords[name] = password
                conn.exec_driver_sql(f"CREATE ROLE \"{name}\" LOGIN PASSWORD '{password}'")
        yield names
    finally:
        with admin.connect() as conn:
            for name in (names.alice, names.bob, names.carol):
                conn.exec_driver_sql(f'DROP ROLE IF EXISTS "{name}"')
        admin.dispose()


@dataclass
class Org:
    """A database with enforcement installed, its owner's ``Database`` and the logins."""

    url: URL
    owner: Database
    logins: Logins

    def url_as(self, login: str) -> str:
        url = self.url.set(username=login, password=self.logins.passwords[login])
        return url.render_as_string(hide_password=False)

    def app_as(self, login: str, *, operator: str | None = None) -> Database:
        """The app as ``login``; without ``operator`` it claims nothing, and the
        operator it records is the app's to find out (the login, on PostgreSQL)."""
        return Database(self.url_as(login), operator=operator)

    def engine_as(self, login: str) -> Engine:
        """A hand-made SQLAlchemy engine of ``login`` (not the app's ``Database``)."""
        return create_engine(self.url_as(login))

    def raw_as(self, login: str) -> Any:
        """A psycopg connection of ``login`` in autocommit: every statement on its own."""
        url = self.url
        return psycopg.connect(
            host=url.host,
            port=url.port or 5432,
            dbname=url.database,
            user=login,
            password=self.logins.passwords[login],
            autocommit=True,
        )


@pytest.fixture
def org(logins: Logins, pg_url: str) -> Iterator[Org]:
    """Requested after ``logins`` so that the database is dropped before the logins.

    AccessGuard's own permissions; "User editors" (view, edit users) held by alice,
    "Viewers" (view) by bob; carol is a user without roles; "Administrators" holds every
    AccessGuard action (nobody is assigned). Dave is a plain user in Staff.
    """
    url = make_url(pg_url)
    owner = Database(pg_url, operator=url.username)
    with owner.action("Seed") as s:
        rbac.add_resource(s, APP_RESOURCE)
        for action in AppAction:
            rbac.add_permission(s, APP_RESOURCE, action.value)
        rbac.add_role(s, "Administrators")
        for action in AppAction:
            rbac.grant_permission(s, "Administrators", (APP_RESOURCE, action.value))
        rbac.add_role(s, "Viewers")
        rbac.grant_permission(s, "Viewers", (APP_RESOURCE, AppAction.VIEW.value))
        rbac.add_role(s, "User editors")
        rbac.add_inheritance(s, "User editors", "Viewers")
        rbac.grant_permission(s, "User editors", (APP_RESOURCE, AppAction.EDIT_USERS.value))
        rbac.add_role(s, "Staff")
        rbac.add_resource(s, "Door")
        rbac.add_permission(s, "Door", "open")
        for name in (logins.alice, logins.bob, logins.carol, "dave"):
            rbac.add_user(s, name, name.title())
        rbac.assign_user(s, logins.alice, "User editors")
        rbac.assign_user(s, logins.bob, "Viewers")
        rbac.assign_user(s, "dave", "Staff")
    server_enforcement.install(owner.engine)
    for name in (logins.alice, logins.bob, logins.carol):
        server_enforcement.grant_operator(owner.engine, name)
    try:
        yield Org(url, owner, logins)
    finally:
        owner.close()


def _by_hand(conn: Connection, login: str, sql: str, **params: object) -> None:
    """A change on a hand-made connection, with the audit entry it must write (the
    trail's own writer: a correct link in the chain, naming the login)."""
    with conn.begin():
        conn.execute(text(sql), params)
        entry = {
            "operator": login,
            "action": "By hand",
            "operation": "update",
            "record_type": "user",
            "record_key": "dave",
        }
        audit.write_entries(conn, [entry])


def _refused(conn: Any, sql: str, *params: object) -> str:
    """Run ``sql`` expecting the server's refusal; its message."""
    with pytest.raises(InsufficientPrivilege) as caught:
        conn.execute(sql, params or None)
    return str(caught.value)


def _ids(org: Org) -> dict[str, int]:
    with org.owner.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT 'role:' || name, id FROM roles UNION ALL SELECT 'user:' || username, id "
                "FROM users UNION ALL SELECT 'perm:' || p.action, p.id FROM permissions p "
                "JOIN resources r ON r.id = p.resource_id WHERE r.name = 'AccessGuard'"
            )
        ).all()
    return {name: id_ for name, id_ in rows}


# ---------------------------------------------------------------------- installing


def test_install_is_idempotent_and_reported(org: Org) -> None:
    assert server_enforcement.installed(org.owner.engine)
    server_enforcement.install(org.owner.engine)
    assert server_enforcement.installed(org.owner.engine)
    server_enforcement.uninstall(org.owner.engine)
    assert not server_enforcement.installed(org.owner.engine)
    with org.raw_as(org.logins.bob) as bob:  # no privileges left at all
        _refused(bob, "SELECT count(*) FROM users")
    server_enforcement.install(org.owner.engine)
    assert server_enforcement.installed(org.owner.engine)


def test_sqlite_has_no_server_to_enforce(db: Database) -> None:
    if db.dialect == "postgresql":
        pytest.skip("about SQLite files")
    assert not server_enforcement.installed(db.engine)
    with pytest.raises(DatabaseError, match="PostgreSQL"):
        server_enforcement.install(db.engine)


def test_grant_operator_names_a_missing_login(org: Org) -> None:
    with pytest.raises(DatabaseError, match="no login named"):
        server_enforcement.grant_operator(org.owner.engine, "ag_nobody_" + secrets.token_hex(3))


def test_the_enforce_command_installs_grants_and_removes(logins: Logins, pg_url: str) -> None:
    def enforce(*args: str) -> tuple[int, str]:
        out, err = io.StringIO(), io.StringIO()
        code = cli.main(["enforce", pg_url, *args], out=out, err=err)
        return code, out.getvalue() + err.getvalue()

    code, said = enforce("--grant", logins.bob, "--grant", logins.carol)
    assert code == 0 and "installed" in said and logins.bob in said and logins.carol in said
    engine = create_engine(pg_url)
    try:
        assert server_enforcement.installed(engine)
        code, said = enforce("--revoke", logins.carol)
        assert code == 0 and logins.bob in said and logins.carol not in said
        code, said = enforce("--remove")
        assert code == 0 and "removed" in said
        assert not server_enforcement.installed(engine)
        code, said = enforce("--grant", "ag_nobody_" + secrets.token_hex(3))
        assert code == 1 and "no login named" in said
    finally:
        engine.dispose()


def test_the_enforce_command_refuses_a_file(tmp_path: Path) -> None:
    out, err = io.StringIO(), io.StringIO()
    target = tmp_path / "org.db"
    assert cli.main(["enforce", str(target)], out=out, err=err) == 2
    assert "PostgreSQL" in err.getvalue() and not target.exists()


def test_the_server_asks_what_the_app_asks_of_each_table(db: Database) -> None:
    """Each mapped table needs the action the app's gate asks of a new, ordinary record
    of it (core/operators.py), so the server and the app refuse the same changes."""
    with db.read() as session:
        for mapper in Base.registry.mappers:
            table = str(mapper.class_.__tablename__)
            if table == server_enforcement.AUDIT_TABLE:
                continue
            needed = operators._needed(session, mapper.class_(), True)
            expected = server_enforcement.TABLE_ACTIONS.get(table, AppAction.ADMINISTER)
            assert needed == expected, table


# ---------------------------------------------------------------------- bob: view only


def test_bob_reads_but_cannot_change_users_through_the_app(org: Org) -> None:
    bob = org.logins.bob
    with org.app_as(bob) as app:
        with app.read() as s:
            assert rbac.get_user(s, "dave").username == "dave"
        with pytest.raises(OperatorPermissionError) as caught:
            with app.action("Add user") as s:
                rbac.add_user(s, "mallory")
        assert bob in str(caught.value) and AppAction.EDIT_USERS.value in str(caught.value)
        assert caught.value.operator == bob and caught.value.action == AppAction.EDIT_USERS
        for change in (
            lambda s: rbac.update_user(s, "dave", display_name="Dave D"),
            lambda s: rbac.delete_user(s, "dave"),
        ):
            with pytest.raises(OperatorPermissionError):
                with app.action("Change user") as s:
                    change(s)
    with org.owner.read() as s:
        assert rbac.get_user(s, "dave").display_name == "Dave"


def test_bob_cannot_change_users_or_grant_himself_administer_by_hand(org: Org) -> None:
    ids = _ids(org)
    with org.raw_as(org.logins.bob) as bob:
        assert bob.execute("SELECT count(*) FROM users").fetchone()[0] == 4
        message = _refused(
            bob,
            "INSERT INTO users (username, display_name, active, created_at, updated_at, "
            "version, username_key, username_skeleton) "
            "VALUES ('mallory', 'M', true, now(), now(), 1, 'mallory', 'mallory')",
        )
        assert org.logins.bob in message and AppAction.EDIT_USERS.value in message
        _refused(bob, "UPDATE users SET display_name = 'X' WHERE username = 'dave'")
        _refused(bob, "DELETE FROM users WHERE username = 'dave'")
        # Administer for himself: by assignment, by a grant, by inheritance.
        _refused(
            bob,
            "INSERT INTO user_roles (user_id, role_id, granted_at, granted_by, version) "
            "VALUES (%s, %s, now(), 'x', 1)",
            ids[f"user:{org.logins.bob}"],
            ids["role:Administrators"],
        )
        message = _refused(
            bob,
            "INSERT INTO role_permissions (role_id, permission_id, granted_at, granted_by) "
            "VALUES (%s, %s, now(), 'x')",
            ids["role:Viewers"],
            ids["perm:administer"],
        )
        assert AppAction.ADMINISTER.value in message
        _refused(
            bob,
            "INSERT INTO role_inheritance (role_id, inherits_from_id, created_at) "
            "VALUES (%s, %s, now())",
            ids["role:Viewers"],
            ids["role:Administrators"],
        )
        _refused(bob, "UPDATE user_roles SET expires_at = NULL")
        _refused(bob, "TRUNCATE user_roles")
        _refused(bob, "TRUNCATE audit_log")
        _refused(bob, "ALTER TABLE users DISABLE TRIGGER accessguard_guard")
        _refused(bob, "ALTER TABLE users DISABLE ROW LEVEL SECURITY")
    with org.owner.read() as s:
        assert [r.role for r in rbac.assigned_roles(s, org.logins.bob)] == ["Viewers"]


# ---------------------------------------------------------------------- alice: edit users


def test_alice_edits_users_and_the_server_records_her(org: Org) -> None:
    _alice_edits_users(org, claim=False)


def test_alice_edits_users_claiming_her_login(org: Org) -> None:
    _alice_edits_users(org, claim=True)


def _alice_edits_users(org: Org, *, claim: bool) -> None:
    alice = org.logins.alice
    with org.app_as(alice, operator=alice if claim else None) as app:
        with app.action("Add user") as s:
            rbac.add_user(s, "erin", "Erin E")
        with app.action("Rename user") as s:
            rbac.update_user(s, "dave", display_name="Dave D")
        with app.action("Delete user") as s:
            rbac.delete_user(s, "erin")
        with pytest.raises(OperatorPermissionError, match=AppAction.ASSIGN_ROLES.value):
            with app.action("Delete user") as s:  # his assignment to Staff goes too
                rbac.delete_user(s, "dave")
    with org.owner.engine.connect() as conn:
        operators = (
            conn.execute(
                text(
                    "SELECT DISTINCT operator FROM audit_log WHERE action IN "
                    "('Add user', 'Rename user', 'Delete user')"
                )
            )
            .scalars()
            .all()
        )
    assert operators == [alice]


def test_alice_cannot_touch_grants_or_operators(org: Org) -> None:
    ids = _ids(org)
    alice = org.logins.alice
    with org.app_as(alice) as app:
        with pytest.raises(OperatorPermissionError, match=AppAction.EDIT_ROLES.value):
            with app.action("Grant") as s:
                rbac.grant_permission(s, "Staff", ("Door", "open"))
        with pytest.raises(OperatorPermissionError, match=AppAction.ADMINISTER.value):
            with app.action("Add permission") as s:
                rbac.add_permission(s, APP_RESOURCE, "delete-everything")
        # Bob is an operator: changing his account needs administer.
        with pytest.raises(OperatorPermissionError, match=AppAction.ADMINISTER.value):
            with app.action("Deactivate bob") as s:
                rbac.update_user(s, org.logins.bob, active=False)
    with org.raw_as(alice) as conn:
        _refused(
            conn,
            "INSERT INTO role_permissions (role_id, permission_id, granted_at, granted_by) "
            "VALUES (%s, %s, now(), 'x')",
            ids["role:Staff"],
            ids["perm:view"],
        )
        message = _refused(
            conn, "UPDATE permissions SET action = 'edit all' WHERE id = %s", ids["perm:review"]
        )
        assert AppAction.ADMINISTER.value in message and alice in message
        _refused(conn, "DELETE FROM resources WHERE name = 'AccessGuard'")
        _refused(conn, "UPDATE users SET active = false WHERE username = %s", org.logins.bob)
        _refused(conn, "DELETE FROM users WHERE username = %s", org.logins.bob)
        _refused(conn, "UPDATE roles SET name = 'Admins' WHERE name = 'Administrators'")

    # A plain user, by hand: allowed, with the audit entry naming her.
    engine = org.engine_as(alice)
    try:
        with engine.connect() as conn:
            _by_hand(
                conn, alice, "UPDATE users SET display_name = 'By hand' WHERE username = 'dave'"
            )
    finally:
        engine.dispose()
    with org.owner.read() as s:
        assert rbac.get_user(s, "dave").display_name == "By hand"
        assert audit.audit_entries(s, limit=1)[0].operator == alice


def test_a_change_by_hand_without_an_audit_entry_is_refused_at_commit(org: Org) -> None:
    alice = org.logins.alice
    with org.raw_as(alice) as conn:
        message = _refused(conn, "UPDATE users SET display_name = 'X' WHERE username = 'dave'")
        assert "without writing an audit entry" in message and alice in message
        with pytest.raises(InsufficientPrivilege):
            with conn.transaction():
                conn.execute("UPDATE users SET display_name = 'Y' WHERE username = 'dave'")
                conn.execute("UPDATE users SET email = 'e@example.org' WHERE username = 'dave'")
    with org.owner.read() as s:
        assert rbac.get_user(s, "dave").display_name == "Dave"
        assert rbac.get_user(s, "dave").email is None


# ---------------------------------------------------------------------- carol: nothing


def test_a_login_without_view_reads_nothing(org: Org) -> None:
    with org.raw_as(org.logins.carol) as carol:
        for table in ("users", "roles", "user_roles", "role_permissions", "audit_log"):
            assert carol.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == 0, table
        # What she cannot see she cannot change either.
        changed = carol.execute("UPDATE users SET display_name = 'X' WHERE username = 'dave'")
        assert changed.rowcount == 0
        _refused(carol, "TRUNCATE users")
    with org.owner.read() as s:
        assert rbac.get_user(s, "dave").display_name == "Dave"


def test_a_login_outside_the_operators_group_cannot_read_at_all(org: Org) -> None:
    server_enforcement.revoke_operator(org.owner.engine, org.logins.bob)
    with org.raw_as(org.logins.bob) as bob:
        message = _refused(bob, "SELECT count(*) FROM users")
        assert "permission denied" in message


# ---------------------------------------------------------------------- the audit trail


def test_an_entry_claiming_another_operator_is_refused(org: Org) -> None:
    insert = (
        "INSERT INTO audit_log (id, at, operator, action, operation, record_type, "
        "record_key, hash) VALUES ((SELECT max(id) + 1 FROM audit_log), now(), %s, "
        "'Forged', 'update', 'user', 'dave', NULL)"
    )
    with org.raw_as(org.logins.alice) as alice:
        message = _refused(alice, insert, org.logins.bob)
        assert org.logins.bob in message and org.logins.alice in message
    with org.owner.engine.connect() as conn:  # the owner's entries too
        with pytest.raises(Exception, match="refused an audit entry"):
            conn.exec_driver_sql(insert.replace("%s", "'someone else'"))


def test_the_app_cannot_record_a_claimed_operator(org: Org) -> None:
    """Opened as alice but claiming to be bob: whatever the app does, the trail says
    alice or nothing is saved."""
    url = org.url_as(org.logins.alice)
    with Database(url, operator=org.logins.bob) as app:
        try:
            with app.action("Add user") as s:
                rbac.add_user(s, "frank")
        except OperatorPermissionError:
            pass
    with org.owner.engine.connect() as conn:
        claimed = conn.execute(
            text("SELECT count(*) FROM audit_log WHERE operator = :bob"), {"bob": org.logins.bob}
        ).scalar()
    assert claimed == 0


# ---------------------------------------------------------------------- changes take effect


def test_a_revoked_right_takes_effect_on_the_next_statement(org: Org) -> None:
    login = org.logins.alice
    engine = org.engine_as(login)
    try:
        with engine.connect() as conn:  # one server session throughout
            change = "UPDATE users SET display_name = :name WHERE username = 'dave'"
            _by_hand(conn, login, change, name="One")
            with org.owner.action("Revoke") as s:
                rbac.revoke_permission(
                    s, "User editors", (APP_RESOURCE, AppAction.EDIT_USERS.value)
                )
            with pytest.raises(ProgrammingError) as caught:
                _by_hand(conn, login, change, name="Two")
            assert isinstance(caught.value.orig, InsufficientPrivilege)
    finally:
        engine.dispose()
    with org.raw_as(org.logins.alice) as alice:
        assert alice.execute("SELECT count(*) FROM users").fetchone()[0] > 0  # still views
        with org.owner.action("Deassign") as s:
            rbac.deassign_user(s, org.logins.alice, "User editors")
        assert alice.execute("SELECT count(*) FROM users").fetchone()[0] == 0
        with org.owner.action("Assign") as s:
            rbac.assign_user(s, org.logins.alice, "User editors")
        with org.owner.action("Deactivate") as s:
            rbac.update_user(s, org.logins.alice, active=False)
        assert alice.execute("SELECT count(*) FROM users").fetchone()[0] == 0


def test_an_administrator_may_make_operators(org: Org) -> None:
    ids = _ids(org)
    with org.owner.action("Make alice administrator") as s:
        rbac.assign_user(s, org.logins.alice, "Administrators")
    login = org.logins.alice
    engine = org.engine_as(login)
    try:
        with engine.connect() as conn:
            _by_hand(
                conn,
                login,
                "INSERT INTO role_permissions (role_id, permission_id, granted_at, granted_by) "
                "VALUES (:role, :permission, now(), 'x')",
                role=ids["role:Staff"],
                permission=ids["perm:review"],
            )
            _by_hand(
                conn,
                login,
                "UPDATE users SET active = false WHERE username = :bob",
                bob=org.logins.bob,
            )
    finally:
        engine.dispose()
    with org.raw_as(org.logins.bob) as bob:  # deactivated: nothing to see
        assert bob.execute("SELECT count(*) FROM users").fetchone()[0] == 0


# ---------------------------------------------------------------------- upgrades, the chain


def _tables(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return set(
            conn.execute(
                text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
            ).scalars()
        )


def test_an_owner_upgrade_works_and_install_covers_new_tables(org: Org) -> None:
    """Alembic by hand (the owner, triggers on): the records stay guarded, what the
    upgrade adds is closed to operators until ``install`` runs again."""
    engine: Engine = org.owner.engine
    with engine.execution_options(accessguard_write=True).begin() as conn:
        downgrade(conn, "-1")
    before = _tables(engine)
    with engine.execution_options(accessguard_write=True).begin() as conn:
        upgrade(conn, "head")
    added = _tables(engine) - before
    assert server_enforcement.installed(engine) == (not added)
    with org.owner.action("After the upgrade") as s:  # the owner keeps full rights
        rbac.add_user(s, "gina")
    with org.raw_as(org.logins.bob) as bob:  # the old tables stay guarded
        _refused(bob, "UPDATE users SET display_name = 'X' WHERE username = 'dave'")
        for table in added:
            _refused(bob, f'SELECT count(*) FROM "{table}"')
    server_enforcement.install(engine)  # after every upgrade (idempotent)
    assert server_enforcement.installed(engine)
    with org.raw_as(org.logins.bob) as bob:
        _refused(bob, "UPDATE users SET display_name = 'X' WHERE username = 'dave'")
        assert bob.execute("SELECT count(*) FROM users").fetchone()[0] == 5
        for table in added:
            bob.execute(f'SELECT count(*) FROM "{table}"')


def test_the_app_of_the_owner_puts_enforcement_back_after_its_upgrade(org: Org) -> None:
    engine = org.owner.engine
    with engine.execution_options(accessguard_write=True).begin() as conn:
        downgrade(conn, "-1")
    org.owner.close()
    with Database(org.url.render_as_string(hide_password=False)) as reopened:  # upgrades
        assert server_enforcement.installed(reopened.engine)
    with org.raw_as(org.logins.bob) as bob:
        _refused(bob, "UPDATE users SET display_name = 'X' WHERE username = 'dave'")
        assert bob.execute("SELECT count(*) FROM users").fetchone()[0] == 4


def test_a_table_added_after_install_is_closed_until_install_runs_again(org: Org) -> None:
    engine = org.owner.engine
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE later_records (id integer PRIMARY KEY)")
    assert not server_enforcement.installed(engine)
    with org.raw_as(org.logins.alice) as alice:
        _refused(alice, "SELECT count(*) FROM later_records")
    server_enforcement.install(engine)
    assert server_enforcement.installed(engine)
    with org.raw_as(org.logins.alice) as alice:  # an unknown table needs administer
        assert alice.execute("SELECT count(*) FROM later_records").fetchone()[0] == 0
        message = _refused(alice, "INSERT INTO later_records VALUES (1)")
        assert AppAction.ADMINISTER.value in message


def test_the_chain_verifies_after_refusals_and_operators_saves(org: Org) -> None:
    test_bob_cannot_change_users_or_grant_himself_administer_by_hand(org)
    test_a_change_by_hand_without_an_audit_entry_is_refused_at_commit(org)
    test_an_entry_claiming_another_operator_is_refused(org)
    test_alice_cannot_touch_grants_or_operators(org)  # and one change by hand, audited
    _alice_edits_users(org, claim=True)
    test_a_revoked_right_takes_effect_on_the_next_statement(org)
    report = integrity.verify_audit_chain(org.owner)
    assert report.broken_count == 0 and report.entries == report.total > 0
