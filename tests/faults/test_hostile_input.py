"""Hostile text through every create and edit path of the core.

Arbitrary Unicode, control characters, SQL fragments, 1 MB strings, surrounding spaces
and case variants of existing names. The oracle is the validation module itself: each
call either stores exactly what validation makes of the input (and writes one audit
entry saying so), or is refused with ValidationError / DuplicateError (NotFoundError for
a reference) and leaves every table exactly as it was. Any other exception fails.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from accessguard_gui.core import audit, changes, rbac, validation
from accessguard_gui.core.changes import Create, EditFailed, Entity, Update
from accessguard_gui.core.database import Database
from accessguard_gui.core.errors import DuplicateError, NotFoundError, ValidationError
from accessguard_gui.core.keys import name_key
from accessguard_gui.core.lookalike import skeleton_key

SQL_FRAGMENTS = [
    "'; DROP TABLE users; --",
    "Robert'); DROP TABLE roles;--",
    '" OR "1"="1',
    "x' OR 1=1 --",
    "1; DELETE FROM audit_log",
    "admin'--",
    "%",
    "_",
    "\\",
    "%_\\'\"",
    "NULL",
    "/* comment */",
    "a\x00b",
    "Staff' UNION SELECT password_hash FROM users --",
]
SPACES = [" ", "  ", "\t", "\n", "\r\n", "\u00a0", "\u2003", "\u3000", "\u200b", "\ufeff"]
ONE_MB = ["x" * 1_000_000, "Ä" * 1_000_000, " " * 999_999 + "a", "a" + "\u0301" * 999_999]
SEED_NAMES = ["alice", "Bob.Smith", "Staff", "Ärzte", "Finance Team", "Door B2.14", "Payroll"]


def case_variants(name: str) -> st.SearchStrategy[str]:
    forms = {
        name.upper(),
        name.lower(),
        name.swapcase(),
        name.title(),
        unicodedata.normalize("NFD", name),
        f"  {name}\t",
        name.replace(" ", "   "),
    }
    return st.sampled_from(sorted(forms))


names_like = st.from_regex(
    r"[A-Za-z\u00c0-\u024f0-9][A-Za-z\u00c0-\u024f0-9 ._'&()-]{0,30}", fullmatch=True
)
hostile_text = st.one_of(
    st.text(max_size=60),  # any code point but surrogates, control characters included
    st.text(
        alphabet=st.characters(categories=["Cc", "Cf", "Co", "Zl", "Zp", "Zs", "Mn"]),
        max_size=10,
    ),
    st.sampled_from(SQL_FRAGMENTS),
    st.sampled_from(ONE_MB),
    st.sampled_from(SEED_NAMES).flatmap(case_variants),
    st.tuples(st.sampled_from(SPACES), names_like, st.sampled_from(SPACES)).map("".join),
    names_like,
)
optional_text = st.one_of(st.none(), hostile_text)
# Mixed in where the rules are strict, so that plenty of examples are stored, too.
username_like = st.tuples(
    st.sampled_from(["", " ", "\t"]),
    st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,20}", fullmatch=True),
    st.sampled_from(["", " ", "\n"]),
).map("".join)
action_like = st.from_regex(r" ?[A-Za-z][A-Za-z0-9_.:-]{0,15} ?", fullmatch=True)
existing_resource = st.sampled_from(["Door B2.14", "Payroll"]).flatmap(case_variants)


def half_hostile(friendly: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Half the examples from ``friendly``, half hostile text."""
    return st.booleans().flatmap(lambda pick: friendly if pick else hostile_text)


EXAMPLES = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture(scope="module")
def hostile_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    db = Database(tmp_path_factory.mktemp("hostile") / "hostile.db", operator="tester")
    with db.action("Seed") as s:
        rbac.add_user(s, "alice")
        rbac.add_user(s, "Bob.Smith")
        rbac.add_user(s, "edit-target")
        for role in ("Staff", "Ärzte", "Finance Team", "Edit target"):
            rbac.add_role(s, role)
        for resource in ("Door B2.14", "Payroll", "Edit target"):
            rbac.add_resource(s, resource)
        rbac.add_permission(s, "Payroll", "read")
        rbac.add_permission(s, "Edit target", "edit-me")
    try:
        yield db
    finally:
        db.close()


# ---------------------------------------------------------------------- the oracle


INVALID = object()


def expect(check: Callable[[Any], Any], value: Any) -> Any:
    """What validation makes of ``value``, or INVALID."""
    try:
        return check(value)
    except ValidationError:
        return INVALID


def unique_key(text: str) -> str:
    """The stored name key names are unique by (core/keys.py: NFC, Unicode case folding)."""
    return name_key(text)


def dump(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table (full-text index shadow tables included)."""
    with db.engine.connect() as conn:
        names = [
            r[0]
            for r in conn.exec_driver_sql(
                "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        return {
            name: sorted(conn.exec_driver_sql(f'SELECT * FROM "{name}"').fetchall(), key=repr)
            for name in names
        }


def derived_tables(db: Database) -> set[str]:
    """Full-text indexes and their shadow tables: they follow the records they index."""
    with db.engine.connect() as conn:
        virtual = [
            r[0]
            for r in conn.exec_driver_sql(
                "SELECT name FROM sqlite_master WHERE sql LIKE 'CREATE VIRTUAL TABLE%'"
            )
        ]
        tables = [r[0] for r in conn.exec_driver_sql("SELECT name FROM sqlite_master")]
    return {t for t in tables if any(t == v or t.startswith(v + "_") for v in virtual)}


def changed_tables(
    before: dict[str, list[tuple[Any, ...]]], after: dict[str, list[tuple[Any, ...]]]
) -> set[str]:
    assert before.keys() == after.keys(), "tables appeared or vanished"
    return {t for t in before if before[t] != after[t]}


def names_in(db: Database, table: str, column: str, exclude_id: int | None = None) -> set[str]:
    """The keys of the other records' names: their name keys, and their look-alike
    skeletons (core/lookalike.py) marked with a NUL, which no name key holds."""
    with db.engine.connect() as conn:
        rows = conn.exec_driver_sql(f"SELECT id, {column} FROM {table}").fetchall()
    keys = {unique_key(name) for id_, name in rows if id_ != exclude_id}
    return keys | {"\x00" + skeleton_key(name) for id_, name in rows if id_ != exclude_id}


def is_taken(clean: str, taken: set[str]) -> bool:
    """A new name is refused if another record has its key, or looks the same."""
    return unique_key(clean) in taken or "\x00" + skeleton_key(clean) in taken


def new_audit(db: Database, before_max: int) -> list[audit.AuditRow]:
    with db.read() as s:
        return [e for e in audit.audit_entries(s, limit=50) if e.id > before_max]


def max_audit_id(db: Database) -> int:
    with db.engine.connect() as conn:
        return int(conn.exec_driver_sql("SELECT coalesce(max(id), 0) FROM audit_log").scalar())


class Attempt:
    """Run one action; record the outcome and the database before and after."""

    def __init__(self, db: Database, run: Callable[[Any], Any], *, via_edits: bool = False) -> None:
        self.before = dump(db)
        self.audit_before = max_audit_id(db)
        self.error: Exception | None = None
        self.value: Any = None
        try:
            with db.action("Hostile") as s:
                self.value = run(s)
        except EditFailed as exc:
            assert via_edits
            self.error = exc.cause
        except (ValidationError, DuplicateError, NotFoundError) as exc:
            self.error = exc
        event(type(self.error).__name__ if self.error else "stored")
        self.after = dump(db)
        self.entries = new_audit(db, self.audit_before)
        self.derived = derived_tables(db)

    def assert_refused_cleanly(self) -> None:
        assert self.after == self.before, "a refused call changed the database"
        assert self.entries == []

    def assert_stored(self, table: str, operation: str) -> audit.AuditRow:
        assert changed_tables(self.before, self.after) - self.derived == {table, "audit_log"}
        assert len(self.entries) == 1, self.entries
        entry = self.entries[0]
        assert entry.operation == operation
        return entry


def row(db: Database, table: str, id_: int) -> dict[str, Any]:
    with db.engine.connect() as conn:
        result = conn.exec_driver_sql(f"SELECT * FROM {table} WHERE id = ?", (id_,))
        return dict(zip(result.keys(), result.one(), strict=True))


def target_id(db: Database, table: str, column: str, name: str) -> int:
    with db.engine.connect() as conn:
        return int(
            conn.exec_driver_sql(f"SELECT id FROM {table} WHERE {column} = ?", (name,)).scalar()
        )


# ---------------------------------------------------------------------- creates


@EXAMPLES
@given(
    username=half_hostile(username_like),
    display_name=half_hostile(st.one_of(st.none(), names_like)),
    email=half_hostile(
        st.sampled_from([None, "", "someone@example.org", " Mixed.Case@Example.ORG "])
    ),
    edits=st.booleans(),
)
def test_add_user(
    hostile_db: Database, username: str, display_name: str | None, email: str | None, edits: bool
) -> None:
    db = hostile_db
    name = expect(validation.username, username)
    shown = (
        INVALID
        if name is INVALID
        else expect(validation.display_name, display_name if display_name else name)
    )
    mail = expect(validation.email, email)
    taken = names_in(db, "users", "username")
    if edits:
        values = {"username": username, "display_name": display_name, "email": email}
        attempt = Attempt(
            db, lambda s: changes.apply_edits(s, [Create(Entity.USER, values)]), via_edits=True
        )
    else:
        attempt = Attempt(db, lambda s: rbac.add_user(s, username, display_name, email=email))
    if INVALID in (name, shown, mail):
        assert isinstance(attempt.error, ValidationError), attempt.error
        return attempt.assert_refused_cleanly()
    if is_taken(name, taken):
        assert isinstance(attempt.error, DuplicateError), attempt.error
        return attempt.assert_refused_cleanly()
    assert attempt.error is None, attempt.error
    entry = attempt.assert_stored("users", "insert")
    stored = row(db, "users", target_id(db, "users", "username", name))
    assert (stored["username"], stored["display_name"], stored["email"]) == (name, shown, mail)
    assert entry.record_key == name and entry.after is not None
    assert (entry.after["username"], entry.after["display_name"]) == (name, shown)


def _named_create(
    db: Database,
    table: str,
    entity: Entity,
    check: Callable[[Any], str],
    create: Callable[..., Any],
    name: str,
    description: str | None,
    edits: bool,
) -> None:
    clean = expect(check, name)
    text = expect(validation.description, description)
    taken = names_in(db, table, "name")
    if edits:
        values = {"name": name, "description": description}
        attempt = Attempt(
            db, lambda s: changes.apply_edits(s, [Create(entity, values)]), via_edits=True
        )
    else:
        attempt = Attempt(db, lambda s: create(s, name, description))
    if INVALID in (clean, text):
        assert isinstance(attempt.error, ValidationError), attempt.error
        return attempt.assert_refused_cleanly()
    if is_taken(clean, taken):
        assert isinstance(attempt.error, DuplicateError), attempt.error
        return attempt.assert_refused_cleanly()
    assert attempt.error is None, attempt.error
    entry = attempt.assert_stored(table, "insert")
    stored = row(db, table, target_id(db, table, "name", clean))
    assert (stored["name"], stored["description"]) == (clean, text)
    assert entry.record_key == clean and entry.after is not None
    assert entry.after["name"] == clean and entry.after["description"] == text


@EXAMPLES
@given(name=hostile_text, description=optional_text, edits=st.booleans())
def test_add_role(hostile_db: Database, name: str, description: str | None, edits: bool) -> None:
    _named_create(
        hostile_db,
        "roles",
        Entity.ROLE,
        validation.role_name,
        rbac.add_role,
        name,
        description,
        edits,
    )


@EXAMPLES
@given(name=hostile_text, description=optional_text, edits=st.booleans())
def test_add_resource(
    hostile_db: Database, name: str, description: str | None, edits: bool
) -> None:
    _named_create(
        hostile_db,
        "resources",
        Entity.RESOURCE,
        validation.resource_name,
        rbac.add_resource,
        name,
        description,
        edits,
    )


@EXAMPLES
@given(
    resource=half_hostile(existing_resource),
    action=half_hostile(action_like),
    description=optional_text,
)
def test_add_permission(
    hostile_db: Database, resource: str, action: str, description: str | None
) -> None:
    db = hostile_db
    with db.engine.connect() as conn:
        found = conn.exec_driver_sql(
            "SELECT id, name FROM resources WHERE name_key = ?", (name_key(resource),)
        ).first()
    act = expect(validation.action, action)
    text = expect(validation.description, description)
    attempt = Attempt(db, lambda s: rbac.add_permission(s, resource, action, description))
    if found is None:
        assert isinstance(attempt.error, NotFoundError), attempt.error
        return attempt.assert_refused_cleanly()
    if INVALID in (act, text):
        assert isinstance(attempt.error, ValidationError), attempt.error
        return attempt.assert_refused_cleanly()
    with db.engine.connect() as conn:
        existing = conn.exec_driver_sql(
            "SELECT count(*) FROM permissions WHERE resource_id = ? AND action = ?", (found[0], act)
        ).scalar()
    if attempt.error is not None:
        assert isinstance(attempt.error, DuplicateError) and existing == 1, attempt.error
        return attempt.assert_refused_cleanly()
    entry = attempt.assert_stored("permissions", "insert")
    assert attempt.value.action == act and attempt.value.description == text
    assert entry.record_key == f"{found[1]}: {act}"


@EXAMPLES
@given(name=hostile_text, description=optional_text)
def test_create_ssd_set(hostile_db: Database, name: str, description: str | None) -> None:
    db = hostile_db
    clean = expect(validation.ssd_name, name)
    text = expect(validation.description, description)
    taken = names_in(db, "ssd_sets", "name")
    roles = ["Staff", "Finance Team"]
    attempt = Attempt(db, lambda s: rbac.create_ssd_set(s, name, roles, 2, description))
    if INVALID in (clean, text):
        assert isinstance(attempt.error, ValidationError), attempt.error
        return attempt.assert_refused_cleanly()
    if is_taken(clean, taken):
        assert isinstance(attempt.error, DuplicateError), attempt.error
        return attempt.assert_refused_cleanly()
    assert attempt.error is None, attempt.error
    assert attempt.value.name == clean and attempt.value.description == text
    assert changed_tables(attempt.before, attempt.after) - attempt.derived == {
        "ssd_sets",
        "ssd_set_roles",
        "audit_log",
    }


# ---------------------------------------------------------------------- edits


@EXAMPLES
@given(
    field=st.sampled_from(["username", "display_name", "email"]),
    value=half_hostile(username_like),
    edits=st.booleans(),
)
def test_update_user(hostile_db: Database, field: str, value: str, edits: bool) -> None:
    check = {
        "username": validation.username,
        "display_name": validation.display_name,
        "email": validation.email,
    }[field]
    uid = 3  # "edit-target", created third
    _check_update(
        hostile_db,
        "users",
        Entity.USER,
        uid,
        check,
        "username",
        rbac.update_user,
        field,
        value,
        edits,
    )


def _named_update(
    db: Database,
    table: str,
    entity: Entity,
    check: Callable[[Any], str],
    update: Callable[..., Any],
    field: str,
    value: str,
    edits: bool,
) -> None:
    field_check = check if field == "name" else validation.description
    tid = _edit_target(db, table)
    _check_update(db, table, entity, tid, field_check, "name", update, field, value, edits)


def _check_update(
    db: Database,
    table: str,
    entity: Entity,
    rid: int,
    check: Callable[[Any], str],
    unique: str,
    update: Callable[..., Any],
    field: str,
    value: str,
    edits: bool,
) -> None:
    """Set one field of record ``rid`` to ``value`` (through ``update`` or as a pending
    edit): stored as ``check`` cleans it and audited, or refused with nothing written
    (invalid, or a duplicate of another record's ``unique`` field)."""
    current = row(db, table, rid)
    clean = expect(check, value)
    taken = names_in(db, table, unique, exclude_id=rid)
    if edits:
        edit = Update(entity, rid, current["version"], {field: value})
        attempt = Attempt(db, lambda s: changes.apply_edits(s, [edit]), via_edits=True)
    else:
        attempt = Attempt(db, lambda s: update(s, rid, **{field: value}))
    if clean is INVALID:
        assert isinstance(attempt.error, ValidationError), attempt.error
        return attempt.assert_refused_cleanly()
    if field == unique and is_taken(clean, taken):
        assert isinstance(attempt.error, DuplicateError), attempt.error
        return attempt.assert_refused_cleanly()
    assert attempt.error is None, attempt.error
    if clean == current[field]:
        return attempt.assert_refused_cleanly()  # nothing to change: nothing written
    entry = attempt.assert_stored(table, "update")
    assert row(db, table, rid)[field] == clean
    assert entry.before == {field: current[field]} and entry.after == {field: clean}


_TARGETS: dict[str, int] = {}


def _edit_target(db: Database, table: str) -> int:
    """The record the edit tests keep renaming (found by its first name, then by id)."""
    if table not in _TARGETS:
        _TARGETS[table] = target_id(db, table, "name", "Edit target")
    return _TARGETS[table]


@EXAMPLES
@given(field=st.sampled_from(["name", "description"]), value=hostile_text, edits=st.booleans())
def test_update_role(hostile_db: Database, field: str, value: str, edits: bool) -> None:
    _named_update(
        hostile_db,
        "roles",
        Entity.ROLE,
        validation.role_name,
        rbac.update_role,
        field,
        value,
        edits,
    )


@EXAMPLES
@given(field=st.sampled_from(["name", "description"]), value=hostile_text, edits=st.booleans())
def test_update_resource(hostile_db: Database, field: str, value: str, edits: bool) -> None:
    _named_update(
        hostile_db,
        "resources",
        Entity.RESOURCE,
        validation.resource_name,
        rbac.update_resource,
        field,
        value,
        edits,
    )


@EXAMPLES
@given(field=st.sampled_from(["action", "description"]), value=half_hostile(action_like))
def test_update_permission(hostile_db: Database, field: str, value: str) -> None:
    db = hostile_db
    with db.engine.connect() as conn:
        pid, resource_id = conn.exec_driver_sql(
            "SELECT p.id, p.resource_id FROM permissions p JOIN resources r "
            "ON r.id = p.resource_id WHERE r.id = ? ORDER BY p.id LIMIT 1",
            (_edit_target(db, "resources"),),
        ).one()
        others = {
            r[0]
            for r in conn.exec_driver_sql(
                "SELECT action FROM permissions WHERE resource_id = ? AND id <> ?",
                (resource_id, pid),
            )
        }
    current = row(db, "permissions", pid)
    clean = expect(validation.action if field == "action" else validation.description, value)
    attempt = Attempt(db, lambda s: rbac.update_permission(s, pid, **{field: value}))
    if clean is INVALID:
        assert isinstance(attempt.error, ValidationError), attempt.error
        return attempt.assert_refused_cleanly()
    if field == "action" and clean in others:
        assert isinstance(attempt.error, DuplicateError), attempt.error
        return attempt.assert_refused_cleanly()
    assert attempt.error is None, attempt.error
    if clean == current[field]:
        return attempt.assert_refused_cleanly()
    entry = attempt.assert_stored("permissions", "update")
    assert row(db, "permissions", pid)[field] == clean
    assert entry.after == {field: clean}


# ---------------------------------------------------------------------- lookups, passwords


@EXAMPLES
@given(user=hostile_text, role=hostile_text)
def test_references_by_name_find_the_record_or_nothing(
    hostile_db: Database, user: str, role: str
) -> None:
    """A name typed into a lookup is a name, never SQL: it finds that record or none."""
    db = hostile_db

    def find(table: str, column: str, ref: str) -> int | None:
        key = unique_key(unicodedata.normalize("NFC", ref).strip())
        with db.engine.connect() as conn:
            rows = conn.exec_driver_sql(f"SELECT id, {column} FROM {table}").fetchall()
        hits = [id_ for id_, name in rows if unique_key(name) == key]
        return hits[0] if hits else None

    with db.read() as s:
        for table, column, getter, ref in (
            ("users", "username", rbac.get_user, user),
            ("roles", "name", rbac.get_role, role),
            ("resources", "name", rbac.get_resource, role),
        ):
            expected = find(table, column, ref)
            try:
                got = getter(s, ref).id
            except NotFoundError:
                got = None
            assert got == expected


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(password=st.one_of(st.text(max_size=40), st.sampled_from(SQL_FRAGMENTS + ONE_MB[:1])))
def test_set_password_stores_only_a_hash_of_exactly_that_password(
    hostile_db: Database, password: str
) -> None:
    db = hostile_db
    valid = expect(validation.password, password)
    attempt = Attempt(db, lambda s: rbac.set_password(s, "alice", password))
    if valid is INVALID:
        assert isinstance(attempt.error, ValidationError), attempt.error
        return attempt.assert_refused_cleanly()
    assert attempt.error is None, attempt.error
    stored = row(db, "users", target_id(db, "users", "username", "alice"))["password_hash"]
    assert stored.startswith("$argon2id$") and stored != password
    assert [e.after for e in attempt.entries] == [{"password_hash": "(set)"}]
    with db.read() as s:
        assert rbac.verify_password(s, "alice", password)
        assert not rbac.verify_password(s, "alice", password + "x")
