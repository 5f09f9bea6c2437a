"""The core on PostgreSQL: "the same code must also run on PostgreSQL" (the mission).

Each test gets a fresh database on the server named by ``AG_TEST_POSTGRES_URL`` (see
tests/core/conftest.py; ``.ci/postgres.sh`` installs a local server and prints one) and
skips when none is configured. The whole core suite can also run there with
``AG_TEST_BACKEND=postgres``; these tests cover what differs on PostgreSQL: the schema
and its guards, the text() access query, ILIKE searches, NULL order, typed binds, the
trigger, temporary tables, errors, and two clients of one database.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from accessguard_gui.core import audit, browse, demo, explain, impact, lookup, rbac
from accessguard_gui.core.browse import FIRST_CELL, ID, SORT, USERS, BrowseQuery, Plan
from accessguard_gui.core.changes import (
    Assign,
    Create,
    Delete,
    EditFailed,
    Entity,
    Grant,
    Inherit,
    Update,
    apply_edits,
)
from accessguard_gui.core.database import Database
from accessguard_gui.core.errors import (
    ConflictError,
    CycleError,
    DatabaseBusyError,
    DatabaseError,
    DatabaseOpenError,
    DuplicateError,
    ForeignDatabaseError,
    NotFoundError,
    SeparationOfDutyError,
)
from accessguard_gui.core.rows import DenyReason
from accessguard_gui.core.schema import downgrade, head_revision, upgrade

NOW = datetime(2030, 6, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def org(pg_db: Database) -> Database:
    """Alice (Staff, inherits Employee), Bob (Contractor, expired), Carol inactive."""
    with pg_db.action("Seed") as s:
        rbac.add_user(s, "alice", "Alice A", email="alice@example.org")
        rbac.add_user(s, "bob", "Bob B")
        rbac.add_user(s, "carol", "Carol C", active=False)
        for role in ("Employee", "Staff", "Contractor", "Auditor", "Payer"):
            rbac.add_role(s, role)
        rbac.add_inheritance(s, "Staff", "Employee")
        rbac.add_inheritance(s, "Contractor", "Employee")
        rbac.add_resource(s, "Door", "front door")
        rbac.add_permission(s, "Door", "open")
        rbac.add_permission(s, "Door", "lock")
        rbac.grant_permission(s, "Employee", ("Door", "open"))
        rbac.grant_permission(s, "Staff", ("Door", "lock"))
        rbac.assign_user(s, "alice", "Staff")
        rbac.assign_user(s, "bob", "Contractor", expires_at=NOW - timedelta(days=1))
        rbac.assign_user(s, "carol", "Staff")
    return pg_db


# ---------------------------------------------------------------------- schema


def test_migrations_build_the_schema_without_sqlite_only_parts(pg_db: Database) -> None:
    assert pg_db.dialect == "postgresql" and pg_db.created and pg_db.path is None
    names = set(inspect(pg_db.engine).get_table_names())
    assert {"users", "roles", "audit_log", "ssd_sets", "alembic_version"} <= names
    assert not {n for n in names if n.startswith("search_")}  # FTS5 is SQLite's alone
    indexes = {i["name"] for i in inspect(pg_db.engine).get_indexes("users")}
    assert {"uq_users_username_key", "ix_users_has_password", "ix_users_active"} <= indexes
    with pg_db.read() as s:
        assert s.execute(text("SELECT version_num FROM alembic_version")).scalar() == head_revision()
        triggers = s.execute(
            text("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")
        ).scalars().all()
    assert sorted(triggers) == ["audit_log_append_only", "audit_log_no_truncate"]


def test_an_older_schema_is_upgraded_and_a_newer_or_foreign_one_refused(pg_url: str) -> None:
    engine = create_engine(pg_url)
    try:
        with engine.begin() as conn:
            upgrade(conn, "0001")
            conn.execute(text(
                "INSERT INTO users (username, display_name, active, created_at, updated_at,"
                " version) VALUES ('old', 'Old', true, now(), now(), 1)"
            ))
    finally:
        engine.dispose()
    with Database(pg_url, operator="tester") as db:
        assert not db.created
        with db.read() as s:
            assert s.execute(text("SELECT version_num FROM alembic_version")).scalar() == (
                head_revision()
            )
            assert rbac.get_user(s, "OLD").username == "old"
    # Down to nothing and up again: the downgrades drop the PostgreSQL trigger too.
    engine = create_engine(pg_url)
    try:
        with engine.begin() as conn:
            downgrade(conn, "base")
        with engine.connect() as conn:
            left = conn.execute(text(
                "SELECT count(*) FROM pg_proc WHERE proname = 'audit_log_append_only'"
            )).scalar()
        assert left == 0
        with engine.begin() as conn:
            upgrade(conn, "head")
            conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    finally:
        engine.dispose()
    with pytest.raises(DatabaseError, match="newer"):
        Database(pg_url)
    engine = create_engine(pg_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("DROP TABLE alembic_version"))
    finally:
        engine.dispose()
    with pytest.raises(ForeignDatabaseError):
        Database(pg_url)


def test_reopening_keeps_the_data(org: Database) -> None:
    with Database(org.url.render_as_string(hide_password=False), operator="x") as again:
        assert not again.created
        with again.read() as s:
            assert [r.role for r in rbac.assigned_roles(s, "alice")] == ["Staff"]


# ---------------------------------------------------------------------- records


def test_records_are_added_changed_and_deleted(pg_db: Database) -> None:
    with pg_db.action("Add") as s:
        user = rbac.add_user(s, "dave", "Dave", email="d@example.org", password="s3cret-pass")
        role = rbac.add_role(s, "Staff", "people")
        res = rbac.add_resource(s, "Door")
        rbac.add_permission(s, "Door", "open", "walk in")
    assert user.has_password and user.created_at.tzinfo is not None
    with pg_db.action("Change") as s:
        rbac.update_user(s, "dave", expected_version=user.version, display_name="David",
                         active=False)
        rbac.update_role(s, "Staff", expected_version=role.version, name="Staffers")
        rbac.update_resource(s, "Door", expected_version=res.version, description="main")
        rbac.update_permission(s, ("Door", "open"), description="enter")
        assert rbac.verify_password(s, "dave", "s3cret-pass")
    with pg_db.read() as s:
        dave = rbac.get_user(s, "DAVE")
        assert (dave.display_name, dave.active) == ("David", False)
        assert rbac.get_role(s, "staffers").name == "Staffers"
        assert rbac.get_permission(s, ("door", "open")).description == "enter"
    with pg_db.action("Delete") as s:
        rbac.delete_resource(s, "Door")
        rbac.delete_role(s, "Staffers")
        rbac.delete_user(s, "dave")
    with pg_db.read() as s, pytest.raises(NotFoundError):
        rbac.get_user(s, "dave")


def test_duplicates_ignore_case_and_are_typed(org: Database) -> None:
    with pytest.raises(DuplicateError), org.action("Dup") as s:
        rbac.add_user(s, "ALICE")
    with pytest.raises(DuplicateError), org.action("Dup") as s:
        rbac.add_role(s, "staff ")


def test_a_unique_index_refusal_reads_as_a_duplicate(org: Database) -> None:
    """The database's own refusal (bypassing the core's check) is a DuplicateError too."""
    with pytest.raises(DuplicateError), org.action("Raw") as s:
        s.execute(text(
            "INSERT INTO roles (name, name_key, description, created_at, updated_at, version)"
            " VALUES ('STAFF', 'staff', '', now(), now(), 1)"
        ))


def test_deleting_cascades_through_foreign_keys(org: Database) -> None:
    with org.action("Raw delete") as s:
        s.execute(text("DELETE FROM roles WHERE name = 'Employee'"))
    with org.read() as s:
        assert rbac.inherits_from(s, "Staff") == []
        assert not rbac.check_access(s, "alice", "Door", "open", now=NOW).allowed


# ---------------------------------------------------------------------- the RBAC rules


def test_check_access_explains_paths_and_refusals(org: Database) -> None:
    with org.read() as s:
        yes = rbac.check_access(s, "Alice", "door", "OPEN", now=NOW)
        expired = rbac.check_access(s, "bob", "Door", "open", now=NOW)
        inactive = rbac.check_access(s, "carol", "Door", "open", now=NOW)
        no_user = rbac.check_access(s, "zed", "Door", "open", now=NOW)
        no_action = rbac.check_access(s, "alice", "Door", "fly", now=NOW)
        before_expiry = rbac.check_access(s, "bob", "Door", "open", now=NOW - timedelta(days=2))
        by_id = rbac.check_access(s, rbac.get_user(s, "alice").id, "Door", "lock", now=NOW)
    assert yes.allowed and [p.roles for p in yes.paths] == [("Staff", "Employee")]
    assert not expired.allowed and expired.reason is DenyReason.EXPIRED_ASSIGNMENT
    assert expired.paths[0].expired and expired.paths[0].expires_at == NOW - timedelta(days=1)
    assert not inactive.allowed and inactive.reason is DenyReason.INACTIVE_USER
    assert no_user.reason is DenyReason.UNKNOWN_USER
    assert no_action.reason is DenyReason.UNKNOWN_ACTION
    assert before_expiry.allowed
    assert by_id.allowed and [p.roles for p in by_id.paths] == [("Staff",)]


def test_inheritance_cycles_are_refused(org: Database) -> None:
    with pytest.raises(CycleError), org.action("Cycle") as s:
        rbac.add_inheritance(s, "Employee", "Staff")
    with pytest.raises(CycleError), org.action("Self") as s:
        rbac.add_inheritance(s, "Staff", "Staff")
    with org.read() as s:
        assert [r.name for r in rbac.inherits_from(s, "Employee")] == []


def test_separation_of_duty_refuses_a_conflicting_assignment(org: Database) -> None:
    with org.action("SSD") as s:
        rbac.create_ssd_set(s, "Pay vs audit", ["Auditor", "Payer"], 2)
        rbac.assign_user(s, "bob", "Auditor")
    with pytest.raises(SeparationOfDutyError), org.action("Assign") as s:
        rbac.assign_user(s, "bob", "Payer")
    with pytest.raises(SeparationOfDutyError), org.action("Inherit") as s:
        rbac.add_inheritance(s, "Auditor", "Payer")  # bob would hold both through it
    with org.read() as s:
        assert sorted(r.role for r in rbac.assigned_roles(s, "bob")) == ["Auditor", "Contractor"]
        assert rbac.ssd_violations(s) == []


def test_user_permissions_and_authorized_users(org: Database) -> None:
    with org.read() as s:
        mine = {(p.resource, p.action) for p in rbac.user_permissions(s, "alice", now=NOW)}
        users = [u.username for u in rbac.authorized_users(s, "Door", "open", now=NOW)]
        roles = [r.name for r in rbac.authorized_roles_for(s, "Door", "open")]
    assert mine == {("Door", "open"), ("Door", "lock")}
    assert users == ["alice"]
    assert sorted(roles) == ["Contractor", "Employee", "Staff"]


def test_explanations_on_postgresql(org: Database) -> None:
    with org.read() as s:
        alice = explain.effective_permissions(s, "alice", now=NOW)
        bob = explain.effective_permissions(s, "bob", now=NOW)
        door = explain.resource_access(s, "Door", "open", now=NOW)
    assert {p.label: p.status for p in alice.permissions} == {
        "Door: open": explain.AccessStatus.GRANTED,
        "Door: lock": explain.AccessStatus.GRANTED,
    }
    opening = next(p for p in alice.permissions if p.action == "open")
    assert [path.roles for path in opening.paths] == [("Staff", "Employee")]
    assert [p.status for p in bob.permissions] == [explain.AccessStatus.EXPIRED]
    statuses = {(e.username, e.status) for e in door.entries}
    assert statuses == {
        ("alice", explain.AccessStatus.GRANTED),
        ("bob", explain.AccessStatus.EXPIRED),
        ("carol", explain.AccessStatus.INACTIVE),
    }


def test_impact_review_in_temporary_tables_twice_on_one_pool(org: Database) -> None:
    edits = [Assign("bob", "Staff"), Grant("Contractor", ("Door", "lock"))]
    first = impact.review(org, edits, now=NOW)
    second = impact.review(org, edits, now=NOW)  # temp tables gone with the rollback
    assert first.ok and first == second
    assert first.users_gaining == 1 and first.net_gained == 2
    assert [(u.username, len(u.gains), u.losses) for u in first.per_user] == [("bob", 2, ())]
    with org.read() as s:  # a review writes nothing
        assert [r.role for r in rbac.assigned_roles(s, "bob")] == ["Contractor"]


# ---------------------------------------------------------------------- saving edits


def test_apply_edits_all_or_nothing_and_version_conflicts(org: Database) -> None:
    with org.read() as s:
        user = rbac.get_user(s, "bob")
        bob_id, bob_version = user.id, user.version
    with org.action("Save") as s:
        apply_edits(s, [
            Create(Entity.ROLE, {"name": "Visitor"}),
            Inherit("Visitor", "Employee"),
            Update(Entity.USER, bob_id, bob_version, {"display_name": "Robert"}),
        ])
    # Someone else (another client of the same database) changes Bob meanwhile.
    with Database(org.url.render_as_string(hide_password=False), operator="other") as other:
        with other.action("Theirs") as s:
            rbac.update_user(s, "bob", display_name="Bobby")
    with pytest.raises(EditFailed) as info, org.action("Save") as s:
        apply_edits(s, [
            Create(Entity.ROLE, {"name": "Guest"}),
            Update(Entity.USER, bob_id, bob_version + 1, {"display_name": "Mine"}),
        ])
    assert isinstance(info.value.cause, ConflictError)
    with pytest.raises(EditFailed), org.action("Save") as s:
        apply_edits(s, [Delete(Entity.USER, bob_id, bob_version)])
    with org.read() as s:
        assert rbac.get_user(s, "bob").display_name == "Bobby"
        assert [r.name for r in rbac.inherits_from(s, "Visitor")] == ["Employee"]
        with pytest.raises(NotFoundError):
            rbac.get_role(s, "Guest")


# ---------------------------------------------------------------------- audit


def test_audit_entries_are_written_and_append_only(org: Database) -> None:
    with org.read() as s:
        entries = audit.audit_entries(s, limit=1000)
    assert entries and {e.operator for e in entries} == {"tester"}
    assert {e.action for e in entries} == {"Seed"}
    before = len(entries)
    for statement in ("UPDATE audit_log SET operator = 'mallory'", "DELETE FROM audit_log"):
        with pytest.raises(DatabaseError, match="append-only"), org.action("Tamper") as s:
            s.execute(text(statement))
    with org.read() as s:
        assert len(audit.audit_entries(s, limit=1000)) == before
        users = audit.audit_entries(s, record_type="user")
    assert {e.record_key for e in users} == {"alice", "bob", "carol"}


# ---------------------------------------------------------------------- browsing


PEOPLE = [
    ("alice", "Alice Smith", "alice@example.org", True),
    ("Bob", "bob brown", None, True),
    ("carol", "Carol O'Brien", "carol@example.org", False),
    ("erin", "100% Erin", None, False),
    ("frank", "Frank a_b", "frank@example.org", True),
    ("grace", "Grace back\\slash", "g@example.org", True),
    ("heidi", "Heidi axb", "h@example.org", True),
    ("ivan", "Ivan 100 sure", "ivan@example.org", True),
    ("joerg", "Jörg Ärzte", None, True),
]


@pytest.fixture
def people(pg_db: Database) -> Database:
    with pg_db.action("Seed") as s:
        for username, shown, email, active in PEOPLE:
            rbac.add_user(s, username, shown, email=email, active=active)
    return pg_db


def _walk(db: Database, query: BrowseQuery, page: int) -> list[tuple]:
    out: list[tuple] = []
    after = None
    with db.read() as s:
        while True:
            rows = browse.fetch_page(s, USERS, query, after=after, limit=page)
            out += rows
            if len(rows) < page:
                return out
            after = (rows[-1][SORT], rows[-1][ID])


@pytest.mark.parametrize("key", [c.key for c in USERS.columns if c.sortable])
@pytest.mark.parametrize("descending", [False, True])
def test_keyset_pages_walk_every_sort_once(people: Database, key: str, descending: bool) -> None:
    query = BrowseQuery(sort=key, descending=descending)
    with people.read() as s:
        everything = browse.fetch_page(s, USERS, query, limit=100)
        assert browse.count(s, USERS, query) == len(PEOPLE)
    for page in (1, 2, 4):
        assert [r[ID] for r in _walk(people, query, page)] == [r[ID] for r in everything]
    assert len({r[ID] for r in everything}) == len(PEOPLE)


def test_nulls_sort_last_ascending_on_postgresql(people: Database) -> None:
    rows = _walk(people, BrowseQuery(sort="email"), 2)
    assert [r[SORT] is None for r in rows] == [False] * 6 + [True] * 3


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        ("%", ["erin"]),
        ("100%", ["erin"]),
        ("a_b", ["frank"]),
        ("_", ["frank"]),
        ("k\\s", ["grace"]),
        ("O'B", ["carol"]),
        ("ALICE", ["alice"]),
        ("bOb", ["Bob"]),
        ("ärzte", ["joerg"]),
        ("ÄRZTE", ["joerg"]),
        ("xyz", []),
    ],
)
def test_search_is_literal_and_ignores_case(people: Database, term: str, expected: list[str]) -> None:
    query = BrowseQuery(sort="username", search=term)
    with people.read() as s:
        assert browse.choose_plan(s, USERS, query) is Plan.SCAN
        found = [r[FIRST_CELL] for r in browse.fetch_page(s, USERS, query, limit=50)]
        indexed = browse.fetch_page(s, USERS, query, limit=50, plan=Plan.INDEXED)
        counted = browse.count(s, USERS, query)
        ids = browse.matching_ids(s, USERS, query)
        by_ids = browse.fetch_ids(s, USERS, list(reversed(ids)), query)
    assert found == expected and counted == len(expected)
    assert [r[FIRST_CELL] for r in indexed] == expected  # no FTS here: the plan falls back
    assert [r[FIRST_CELL] for r in by_ids] == list(reversed(expected))


def test_filters_anchors_positions_and_records(people: Database) -> None:
    since = datetime.now(UTC) - timedelta(hours=1)
    query = BrowseQuery(sort="username").filtered(active=False)
    with people.read() as s:
        assert [r[FIRST_CELL] for r in browse.fetch_page(s, USERS, query)] == ["carol", "erin"]
        assert browse.count(s, USERS, BrowseQuery("username").filtered(has_password=True)) == 0
        assert browse.count(s, USERS, BrowseQuery("created_at").filtered(
            created_at__since=since)) == len(PEOPLE)
        anchors = browse.page_anchors(s, USERS, BrowseQuery("username"), page_size=2)
        first = browse.fetch_page(s, USERS, BrowseQuery("username"), limit=2)
        carol = rbac.get_user(s, "carol").id
        position = browse.position_of(s, USERS, BrowseQuery("username"), carol)
        record = browse.to_record(USERS, first[0])
    assert len(anchors) == len(PEOPLE) // 2 and anchors[0] == (first[-1][SORT], first[-1][ID])
    assert position == 2
    assert record.get("username") == "alice" and record.get("active") is True
    assert isinstance(record.get("created_at"), datetime)
    shown = first[0][FIRST_CELL + [c.key for c in USERS.columns].index("created_at")]
    assert shown == record.get("created_at").strftime("%Y-%m-%d %H:%M")  # UTC, as on SQLite


def test_the_audit_log_browses_and_searches(people: Database) -> None:
    audit_spec = browse.SPECS["audit"]
    query = BrowseQuery(sort="at", descending=True, search="GRACE")
    with people.read() as s:
        rows = browse.fetch_page(s, audit_spec, query, limit=10)
        total = browse.count(s, audit_spec, audit_spec.default_query())
    assert len(rows) == 1 and total == len(PEOPLE)


# ---------------------------------------------------------------------- pickers and demo


def test_completion_and_picker_searches(people: Database) -> None:
    with people.action("Roles") as s:
        rbac.add_role(s, "Ärzte")
        rbac.add_role(s, "admins")
        rbac.add_role(s, "Auditors")
        rbac.add_role(s, "Pay_roll")
        rbac.add_role(s, "Payxroll")
    with people.read() as s:
        # Substrings of username, display name or e-mail; names starting with it first.
        assert lookup.complete_usernames(s, "A") == [
            "alice", "carol", "frank", "grace", "heidi", "ivan"]
        assert lookup.complete_usernames(s, "b") == ["Bob", "carol", "frank", "grace", "heidi"]
        assert lookup.complete_usernames(s, "JO") == ["joerg"]
        assert lookup.complete_usernames(s, "ärz") == ["joerg"]  # "Jörg Ärzte", ILIKE
        assert lookup.complete_roles(s, "a") == ["admins", "Auditors", "Pay_roll", "Payxroll"]
        assert lookup.complete_roles(s, "ärz") == ["Ärzte"]
        assert [c.label for c in lookup.search_users(s, "ER")] == [
            "erin (100% Erin)", "joerg (Jörg Ärzte)"]
        assert [c.label for c in lookup.search_users(s, "0%")] == ["erin (100% Erin)"]
        assert [c.label for c in lookup.search_users(s, "a_b")] == [
            "frank (Frank a_b, frank@example.org)"]
        assert [c.label for c in lookup.search_roles(s, "DIT")] == ["Auditors"]
        assert [c.label for c in lookup.search_roles(s, "y_r")] == ["Pay_roll"]
        assert [c.label for c in lookup.search_roles(s, "rzt")] == ["Ärzte"]


def test_the_demo_organisation_builds_and_answers(pg_db: Database) -> None:
    demo.build_demo(pg_db, now=NOW)
    with pg_db.read() as s:
        users = browse.count(s, USERS, USERS.default_query())
        it_admin = rbac.get_role(s, "IT Administrator")
        holders = rbac.assigned_users(s, it_admin.name)
        assert users > 50 and holders
        assert rbac.ssd_violations(s) == []
        decision = rbac.check_access(s, holders[0].username, "Door", "open", now=NOW)
    assert decision.reason is not None or decision.allowed


# ---------------------------------------------------------------------- two clients


def test_writers_take_turns_so_rules_hold_across_clients(org: Database) -> None:
    """Like SQLite's write lock: while one client saves, another's save waits (here it
    gives up after its busy timeout, typed), then sees the first one's work. Without
    turns, two clients could each add half of an inheritance cycle or of an SSD breach."""
    url = org.url.render_as_string(hide_password=False)
    with Database(url, operator="other", busy_timeout=0.3) as other:
        with org.action("Mine") as s:
            rbac.add_inheritance(s, "Auditor", "Staff")
            with pytest.raises(DatabaseBusyError), other.action("Theirs") as t:
                rbac.add_inheritance(t, "Staff", "Auditor")
        with pytest.raises(CycleError), other.action("Theirs again") as t:
            rbac.add_inheritance(t, "Staff", "Auditor")
        with org.read() as s:
            assert [r.name for r in rbac.inherits_from(s, "Staff")] == ["Employee"]
        with other.read() as t:  # reads never wait for a writer
            assert [r.name for r in rbac.inherits_from(t, "Auditor")] == ["Staff"]


def test_a_wrong_password_or_missing_database_is_a_readable_open_error(pg_url: str) -> None:
    url = make_url(pg_url)
    for bad in (url.set(password="wrong-password"), url.set(database="ag_no_such_db")):
        with pytest.raises(DatabaseOpenError, match="cannot be opened") as info:
            Database(bad.render_as_string(hide_password=False))
        assert "wrong-password" not in str(info.value)  # the URL is shown without it


def test_a_plain_postgresql_url_uses_the_psycopg_driver(org: Database) -> None:
    plain = org.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with Database(plain) as again, again.read() as s:
        assert again.url.drivername == "postgresql+psycopg"
        assert rbac.get_user(s, "alice").username == "alice"
