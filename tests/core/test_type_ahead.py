"""Type-ahead: the first row, in the view's order, whose sorted column starts with a prefix."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from accessguard_gui.core import browse, rbac, type_ahead
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


def _first_shown(db: Database, query: browse.BrowseQuery, key: str, prefix: str) -> str | None:
    """What a person finds reading the view from the top: the truth to compare with (in
    the database's own order: its collation decides where "Adam" and "ada" stand)."""
    with db.read() as s:
        rows = browse.fetch_page(s, browse.USERS, query)
    for row in rows:
        record = browse.to_record(browse.USERS, row)
        if str(record[key] or "").casefold().startswith(prefix.casefold()):
            return str(record["username"])
    return None


def _check(db: Database, query: browse.BrowseQuery, key: str, prefix: str) -> str | None:
    expected = _first_shown(db, query, key, prefix)
    assert _jump(db, query, prefix) == expected, (query, prefix)
    return expected


def test_the_first_match_in_username_order_any_case(people: Database) -> None:
    query = browse.USERS.default_query()
    assert _check(people, query, "username", "ad") == "Ada.Lovelace"
    assert _check(people, query, "username", "ADAM") == "adam.zimmermann"
    assert _check(people, query, "username", "z") == "zeno"
    assert _check(people, query, "username", "zi") == "zimbo"
    assert _check(people, query, "username", "q") is None
    assert _check(people, query, "username", "zz") is None  # after the last row
    assert _jump(people, query, "") is None


def test_descending_order_finds_the_first_shown(people: Database) -> None:
    query = browse.USERS.default_query().sorted_by("username", descending=True)
    assert _check(people, query, "username", "z") == "zimbo"
    assert _check(people, query, "username", "ad") == "adam.zimmermann"
    assert _check(people, query, "username", "b") == "bob"
    assert _check(people, query, "username", "c") is None


@pytest.mark.parametrize("descending", [False, True])
def test_a_plain_text_column_matches_every_casing(people: Database, descending: bool) -> None:
    query = browse.USERS.default_query().sorted_by("display_name", descending)
    for prefix in ("ADA", "ada", "ada L", "ZENO OF", "zim", "Z", "bob baker", "q"):
        _check(people, query, "display_name", prefix)
    assert _jump(people, query, "ZENO OF") == "zeno"  # capitalised: "Zeno of Elea"
    assert _jump(people, query, "bob baker") == "bob"  # each word capitalised
    assert _jump(people, query, "ada L") == "Ada.Lovelace"  # as stored: "ada Lovelace"


def test_descending_without_code_point_order_walks_the_matches(
    people: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where a collation may ignore U+10FFFF (PostgreSQL), the descending seek is a LIKE
    walk from the end; tried here on SQLite by pretending to be another database."""
    monkeypatch.setattr(type_ahead, "_dialect", lambda _s: SimpleNamespace(name="other"))
    for key in ("username", "display_name"):
        query = browse.USERS.default_query().sorted_by(key, descending=True)
        for prefix in ("z", "ad", "ADA", "b", "c", "zim", "50%"):
            _check(people, query, key, prefix)


def test_the_search_and_filters_of_the_view_apply(people: Database) -> None:
    query = browse.USERS.default_query().searching("example.org")
    assert _check(people, query, "username", "ad") == "adam.zimmermann"  # Ada has no e-mail
    with people.action("Off") as s:
        rbac.update_user(s, "zeno", active=False)
    query = browse.USERS.default_query().filtered(active=True)
    assert _check(people, query, "username", "z") == "zimbo"


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
