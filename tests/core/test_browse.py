"""core.browse: keyset pages in every order, literal search on both plans, counts, anchors."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accessguard_gui.core import browse, rbac
from accessguard_gui.core.browse import FIRST_CELL, ID, SORT, BrowseQuery, Plan
from accessguard_gui.core.database import Database

USERS = browse.USERS
NAMES = [
    ("alice", "Alice Adams", "alice@example.org", True),
    ("Bob", "bob brown", None, True),
    ("carol", "Carol O'Brien", "carol@example.org", False),
    ("dave_x", 'Dave "the" Dev', "dave@example.org", True),
    ("erin", "100% Erin", None, False),
    ("frank", "Frank a_b", "frank@example.org", True),
    ("grace", "Grace back\\slash", "g@example.org", True),
    ("heidi", "Heidi axb", "h@example.org", True),
    ("ivan", "Ivan 100 sure", "ivan@example.org", True),
]


@pytest.fixture
def people(db: Database) -> Database:
    with db.action("Seed") as s:
        for username, shown, email, active in NAMES:
            rbac.add_user(s, username, shown, email=email, active=active)
    return db


def walk(db: Database, query: BrowseQuery, page: int, plan: Plan | None = None) -> list[Any]:
    """Every row of the query, page by page through keyset seeks."""
    out: list[Any] = []
    after = None
    with db.read() as s:
        while True:
            rows = browse.fetch_page(s, USERS, query, after=after, limit=page, plan=plan)
            out += rows
            if len(rows) < page:
                return out
            after = (rows[-1][SORT], rows[-1][ID])


def usernames(rows: list[Any]) -> list[str]:
    return [r[FIRST_CELL] for r in rows]


SORTABLE = [c.key for c in USERS.columns if c.sortable]


@pytest.mark.parametrize("key", SORTABLE)
@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize("page", [1, 2, 4])
def test_keyset_pages_cover_every_row_once_in_order(
    people: Database, key: str, descending: bool, page: int
) -> None:
    query = BrowseQuery(sort=key, descending=descending)
    rows = walk(people, query, page)
    with people.read() as s:
        everything = browse.fetch_page(s, USERS, query, limit=1000)
    assert [r[ID] for r in rows] == [r[ID] for r in everything]
    assert len({r[ID] for r in rows}) == len(NAMES)
    # The order is the column's order (NULL e-mails together), ties broken by id.
    keys = [(r[SORT] is not None, r[SORT], r[ID]) for r in everything]
    assert keys == sorted(keys, reverse=descending)


def test_backwards_and_from_end_reads_match_forward_pages(people: Database) -> None:
    query = BrowseQuery(sort="email")
    with people.read() as s:
        everything = browse.fetch_page(s, USERS, query, limit=100)
        last = everything[5]
        before = browse.fetch_page(s, USERS, query, before=(last[SORT], last[ID]), limit=3)
        tail = browse.fetch_page(s, USERS, query, from_end=True, offset=1, limit=2)
    assert before == everything[2:5]
    assert tail == everything[-3:-1]


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        ("%", ["erin"]),
        ("_", ["dave_x", "frank"]),
        ("a_b", ["frank"]),
        ("\\", ["grace"]),
        ("k\\s", ["grace"]),
        ("'", ["carol"]),
        ("O'B", ["carol"]),
        ('"', ["dave_x"]),
        ('"the"', ["dave_x"]),
        ("100%", ["erin"]),
        ("ALICE", ["alice"]),
        ("bOb", ["Bob"]),
        ("example.org", ["alice", "carol", "dave_x", "frank", "g", "h", "ivan"]),
        ("xyz", []),
    ],
)
def test_search_is_literal_and_case_insensitive(
    people: Database, term: str, expected: list[str]
) -> None:
    expected = [e if e != "g" else "grace" for e in expected]
    expected = [e if e != "h" else "heidi" for e in expected]
    for plan in (None, Plan.SCAN, Plan.INDEXED) if len(term) >= 3 else (None,):
        query = BrowseQuery(sort="username", search=term)
        rows = walk(people, query, 2, plan)
        assert usernames(rows) == expected, plan
        with people.read() as s:
            assert browse.count(s, USERS, query, plan=plan) == len(expected)


def test_filters_combine_with_search(people: Database) -> None:
    query = BrowseQuery(sort="username").filtered(active=False)
    assert usernames(walk(people, query, 10)) == ["carol", "erin"]
    assert usernames(walk(people, query.searching("erin"), 10)) == ["erin"]
    assert query.filtered(active=None).filters == ()


def test_position_of_is_the_row_number_in_the_order(people: Database) -> None:
    for query in (BrowseQuery("email"), BrowseQuery("display_name", True),
                  BrowseQuery("username", search="example")):
        rows = walk(people, query, 100)
        with people.read() as s:
            for position, row in enumerate(rows):
                assert browse.position_of(s, USERS, query, row[ID]) == position
            hidden = browse.position_of(s, USERS, query.searching("nobody-at-all"), rows[0][ID])
    assert hidden is None


def test_page_anchors_end_every_page(people: Database) -> None:
    query = BrowseQuery("email", descending=True)
    rows = walk(people, query, 100)
    with people.read() as s:
        keys = browse.page_anchors(s, USERS, query, page_size=2, pages=3)
        more = browse.page_anchors(s, USERS, query, after=keys[-1], page_size=2, pages=3)
    assert keys + more == [(r[SORT], r[ID]) for r in rows[1::2]]


def test_records_hold_stored_values(people: Database) -> None:
    with people.read() as s:
        row = browse.fetch_page(s, USERS, BrowseQuery("username", search="bob"))[0]
        fetched = browse.fetch_record(s, USERS, row[ID])
    record = browse.to_record(USERS, row)
    assert record == fetched
    assert record.values["email"] is None and record.values["active"] is True
    assert record.values["created_at"].tzinfo is not None
    assert record.version == 1


@pytest.mark.parametrize("spec", list(browse.SPECS.values()), ids=list(browse.SPECS))
def test_every_table_pages_and_counts(people: Database, spec: browse.TableSpec) -> None:
    with people.action("More") as s:
        rbac.add_role(s, "Staff")
        rbac.add_resource(s, "Door A1")
        rbac.add_permission(s, "Door A1", "open")
        rbac.assign_user(s, "alice", "Staff")
    with people.read() as s:
        for col in spec.columns:
            if col.sortable:
                for desc in (False, True):
                    query = BrowseQuery(col.key, desc)
                    rows = browse.fetch_page(s, spec, query)
                    assert len(rows) == browse.count(s, spec, query) > 0
                    assert all(len(r) == FIRST_CELL + len(spec.columns) + len(spec.raw_columns)
                               for r in rows)


# ---------------------------------------------------------------------- plans at scale


def test_every_users_sort_walks_an_index(people: Database) -> None:
    """A sort by any users column must not sort the table (EXPLAIN QUERY PLAN)."""
    for key in SORTABLE:
        for desc in (False, True):
            plan = _explain(people, BrowseQuery(key, desc))
            assert "TEMP B-TREE" not in plan, (key, desc, plan)
            assert "INDEX" in plan, (key, plan)


def _explain(db: Database, query: BrowseQuery, **kw: Any) -> str:
    with db.read() as s:
        rows = browse.fetch_page(s, USERS, query, explain=True, **kw)
    return " | ".join(str(r[-1]) for r in rows)


def test_keyset_seeks_use_the_index_from_the_anchor(people: Database) -> None:
    for key in SORTABLE:
        plan = _explain(people, BrowseQuery(key), after=("m", 3))
        assert "TEMP B-TREE" not in plan and ">" in plan, (key, plan)


def test_a_search_with_few_candidates_starts_from_the_search_index(people: Database) -> None:
    plan = _explain(people, BrowseQuery("username", search="brown"), plan=Plan.INDEXED)
    assert "search_users VIRTUAL TABLE" in plan


@given(st.text(min_size=1, max_size=6))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_search_matches_a_python_substring_check(people: Database, term: str) -> None:
    """Whatever the text, the rows found are those containing it (ASCII case folded)."""
    def fold(text: str | None) -> str:
        return "".join(c.lower() if c.isascii() else c for c in (text or ""))

    expected = sorted(
        u.lower() for u, shown, email, _ in NAMES
        if "\x00" not in term and any(fold(term.strip()) in fold(v) for v in (u, shown, email))
    ) if term.strip() else sorted(u.lower() for u, *_ in NAMES)
    rows = walk(people, BrowseQuery("username", search=term), 4)
    assert sorted(u.lower() for u in usernames(rows)) == expected


def test_search_index_follows_inserts_updates_and_deletes(people: Database) -> None:
    with people.action("Rename") as s:
        rbac.update_user(s, "heidi", display_name="Heidi Zebrafinch")
        rbac.delete_user(s, "ivan")

    def found(term: str) -> list[str]:
        return usernames(walk(people, BrowseQuery("username", search=term), 10))

    assert found("zebrafinch") == ["heidi"]
    assert found("axb") == []
    assert found("ivan@") == []
    path = Path(str(people.path))
    con = sqlite3.connect(path)
    assert con.execute("INSERT INTO search_users(search_users) VALUES ('integrity-check')")
    con.close()


def test_counting_in_slices_adds_up_to_the_count(people: Database) -> None:
    for query in (BrowseQuery("username", search="example"), BrowseQuery("email", search="a"),
                  BrowseQuery("username").filtered(active=True)):
        with people.read() as s:
            low, high = browse.id_bounds(s, USERS)
            parts = [browse.count_range(s, USERS, query, lo, min(lo + 2, high))
                     for lo in range(low, high, 2)]
            assert sum(parts) == browse.count(s, USERS, query) > 0


@pytest.mark.parametrize("term", ["Ärzte", "ärzte", "ÄRZTE", "rzt", "ÄRZ"])
def test_a_search_for_other_letters_ignores_their_case_too(db: Database, term: str) -> None:
    with db.action("Seed") as s:
        rbac.add_role(s, "Ärzte")
        rbac.add_role(s, "Pflege")
    query = BrowseQuery("name", search=term)
    with db.read() as s:
        rows = browse.fetch_page(s, browse.ROLES, query)
        assert [r[FIRST_CELL] for r in rows] == ["Ärzte"]
        assert browse.count(s, browse.ROLES, query) == 1


def test_the_audit_log_is_searched_through_its_own_index(people: Database) -> None:
    with people.action("Rename heidi") as s:
        rbac.update_user(s, "heidi", display_name="Heidi Q")
    query = BrowseQuery("at", descending=True, search="rename HEI")
    with people.read() as s:
        assert browse.choose_plan(s, browse.AUDIT, query) is Plan.INDEXED
        rows = browse.fetch_page(s, browse.AUDIT, query)
        newest = browse.fetch_page(s, browse.AUDIT, BrowseQuery("at", descending=True))[0]
    assert [r[ID] for r in rows] == [newest[ID]]
    action = browse.AUDIT.index_of("action")
    assert rows[0][FIRST_CELL + action] == "Rename heidi"


def test_matching_ids_and_fetch_ids_give_the_indexed_search_in_order(people: Database) -> None:
    for query in (BrowseQuery("email", search="example"),
                  BrowseQuery("display_name", True, search="example")):
        expected = walk(people, query, 3, Plan.INDEXED)
        with people.read() as s:
            ids = browse.matching_ids(s, USERS, query)
            assert ids == [r[ID] for r in expected]
            assert browse.fetch_ids(s, USERS, ids[::-1] + [10_000], query) == expected[::-1]
