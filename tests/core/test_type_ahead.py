"""Type-ahead: the first row, in the view's order, whose sorted column starts with a prefix."""

from __future__ import annotations

import pytest

from accessguard_gui.core import browse, rbac
from accessguard_gui.core.changes import Entity, SetPasswordHash, Update
from accessguard_gui.core.database import Database
from accessguard_gui.core.type_ahead import can_jump_by_prefix, first_with_prefix

NAMES = [
    ("adam.zimmermann", "Adam Zimmermann", "adam@example.org"),
    ("Ada.Lovelace", "ada Lovelace", None),
    ("bob", "Bob Baker", "bob@example.org"),
    ("zeno", "Zeno of Elea", "zeno@example.org"),
    ("zimbo", "zimbo lower", "zimbo@example.org"),
]


@pytest.fixture
def people(db: Database) -> Database:
    with db.action("Seed") as s:
        for username, display, email in NAMES:
            rbac.add_user(s, username, display, email=email)
    return db


def _names(db: Database, query: browse.BrowseQuery) -> list[str]:
    with db.read() as s:
        rows = browse.fetch_page(s, browse.USERS, query)
    return [browse.to_record(browse.USERS, r)["username"] for r in rows]


def _jump(db: Database, query: browse.BrowseQuery, prefix: str) -> str | None:
    with db.read() as s:
        row = first_with_prefix(s, browse.USERS, query, prefix)
    return None if row is None else _names(db, query)[row]


def test_the_first_match_in_username_order_any_case(people: Database) -> None:
    query = browse.USERS.default_query()
    assert _jump(people, query, "ad") == "Ada.Lovelace"
    assert _jump(people, query, "ADAM") == "adam.zimmermann"
    assert _jump(people, query, "z") == "zeno"
    assert _jump(people, query, "zi") == "zimbo"
    assert _jump(people, query, "q") is None
    assert _jump(people, query, "zz") is None  # after the last row
    assert _jump(people, query, "") is None


def test_descending_order_finds_the_first_shown(people: Database) -> None:
    query = browse.USERS.default_query().sorted_by("username", descending=True)
    assert _jump(people, query, "z") == "zimbo"
    assert _jump(people, query, "ad") == "adam.zimmermann"
    assert _jump(people, query, "a") == "adam.zimmermann"


def test_a_plain_text_column_matches_every_casing(people: Database) -> None:
    query = browse.USERS.default_query().sorted_by("display_name")
    # The column sorts by its stored text: "Adam Z…" is shown before "ada L…".
    assert _jump(people, query, "ADA") == "adam.zimmermann"
    assert _jump(people, query, "ada L") == "Ada.Lovelace"  # as stored: "ada Lovelace"
    assert _jump(people, query, "ZENO OF") == "zeno"  # capitalised: "Zeno of Elea"
    assert _jump(people, query, "bob baker") == "bob"  # each word capitalised
    assert _jump(people, query, "zim") == "zimbo"
    assert _jump(people, query, "Z") == "zeno"  # "Zeno…" sorts before "zimbo…"
    query = query.sorted_by("display_name", descending=True)
    assert _jump(people, query, "z") == "zimbo"


def test_the_search_and_filters_of_the_view_apply(people: Database) -> None:
    query = browse.USERS.default_query().searching("example.org")
    assert _jump(people, query, "ad") == "adam.zimmermann"  # Ada has no e-mail
    with people.action("Off") as s:
        rbac.update_user(s, "zeno", active=False)
    query = browse.USERS.default_query().filtered(active=True)
    assert _jump(people, query, "z") == "zimbo"


def test_columns_without_text_cannot_be_searched(people: Database) -> None:
    query = browse.USERS.default_query().sorted_by("created_at")
    assert not can_jump_by_prefix(browse.USERS, query)
    assert _jump(people, query, "2") is None
    assert can_jump_by_prefix(browse.USERS, browse.USERS.default_query())


def test_a_change_is_described_old_to_new_and_never_shows_a_password() -> None:
    edit = Update(
        Entity.USER, 7, 1, {"username": "adam.zimmerman", "active": False},
        "adam.zimmermann", before={"username": "adam.zimmermann", "active": True},
    )
    assert edit.describe() == (
        "Change user adam.zimmermann: username adam.zimmermann \u2192 adam.zimmerman; "
        "active yes \u2192 no"
    )
    secret = Update(Entity.USER, 7, 1, {"password_hash": "$argon2id$x"}, "adam",
                    before={"password_hash": "$argon2id$old"})
    assert secret.describe() == "Change user adam: password: changed"
    assert "argon" not in secret.describe()
    assert SetPasswordHash("adam", "$argon2id$x").describe() == "Set password of adam"
    # Edits stored before ``before`` existed still describe themselves.
    assert Update(Entity.USER, 7, 1, {"email": None}, "adam").describe() == (
        "Change user adam: email \u2192 (none)"
    )
    long = Update(Entity.ROLE, 3, 1, {"description": "x" * 200}, "Staff", before={"description": ""})
    assert long.describe().endswith("(empty) \u2192 " + "x" * 59 + "\u2026")
