"""Validation rules: trimming, empty, too long, character sets, e-mail shape, duplicates."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable

import pytest

from accessguard_gui.core import rbac, validation
from accessguard_gui.core.database import Database
from accessguard_gui.core.errors import DuplicateError, ValidationError


def _refused(check: Callable[[object], object], value: object) -> ValidationError:
    with pytest.raises(ValidationError) as info:
        check(value)
    return info.value


# ---------------------------------------------------------------------- usernames


@pytest.mark.parametrize(
    ("raw", "clean"),
    [("  alice ", "alice"), ("a.smith-2@corp", "a.smith-2@corp"), ("7eleven", "7eleven")],
)
def test_username_accepted_and_trimmed(raw: str, clean: str) -> None:
    assert validation.username(raw) == clean


def test_username_limits() -> None:
    assert validation.username("a" * 64) == "a" * 64
    err = _refused(validation.username, "a" * 65)
    assert str(err) == "Username is too long: 65 characters, at most 64 allowed."
    assert err.field == "username"
    assert str(_refused(validation.username, "   ")) == "Username must not be empty."
    assert str(_refused(validation.username, None)) == "Username must be text."


@pytest.mark.parametrize("bad", ["al ice", "j\u00f6rg", ".alice", "-bob", "bob!", "a\tb", "_x"])
def test_username_bad_characters(bad: str) -> None:
    err = _refused(validation.username, bad)
    assert str(err).startswith("Username may contain only letters A\u2013Z, digits and . _ @ -")


# ---------------------------------------------------------------------- names


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("  Sales  ", "Sales"),
        ("Sales   and  Marketing", "Sales and Marketing"),  # inner runs of spaces collapse
        ("\u00c4rzte & Pflege (Nord)", "\u00c4rzte & Pflege (Nord)"),
        ("\u55b6\u696d\u90e8", "\u55b6\u696d\u90e8"),
        ("Door B2.14 / north", "Door B2.14 / north"),
        ("O'Brien's team #2 + 1: a-b, c", "O'Brien's team #2 + 1: a-b, c"),
    ],
)
def test_role_names_accepted(raw: str, clean: str) -> None:
    assert validation.role_name(raw) == clean
    assert validation.resource_name(raw) == clean
    assert validation.ssd_name(raw) == clean


@pytest.mark.parametrize(
    "bad", ["-Sales", "_Sales", "Sales; DROP", 'The "A" team', "a<b", "x\ty"]
)
def test_role_names_bad_characters(bad: str) -> None:
    err = _refused(validation.role_name, bad)
    assert err.field == "name"
    assert "Role name may contain letters, digits, spaces" in str(err)


def test_role_names_with_invisible_characters_say_which() -> None:
    err = _refused(validation.role_name, "a\u200bb")
    assert err.field == "name"
    assert str(err).startswith("Role name contains an invisible character (U+200B ZERO WIDTH")


def test_operator_names_are_bounded_and_made_visible() -> None:
    assert validation.safe_operator("alice") == ("alice", None)
    shown, why = validation.safe_operator("bob\u202eevil\x07")
    assert shown == "bob\\u202eevil\\u0007"
    assert why is not None and "U+202E RIGHT-TO-LEFT OVERRIDE" in why
    shown, why = validation.safe_operator("x" * 1_000_000)
    assert len(shown) == validation.OPERATOR_MAX and shown.endswith("\u2026")
    assert why is not None and "too long" in why
    assert validation.safe_operator("  ")[0] == "unknown"


def test_names_decomposed_accents_are_the_same_name() -> None:
    decomposed = unicodedata.normalize("NFD", "Caf\u00e9 Z\u00fcrich")
    assert validation.role_name(decomposed) == "Caf\u00e9 Z\u00fcrich"
    assert validation.display_name(decomposed) == "Caf\u00e9 Z\u00fcrich"


def test_name_limits() -> None:
    assert validation.role_name("r" * 100) == "r" * 100
    assert "at most 100 allowed" in str(_refused(validation.role_name, "r" * 101))
    assert validation.resource_name("r" * 200) == "r" * 200
    assert "at most 200 allowed" in str(_refused(validation.resource_name, "r" * 201))
    assert "at most 100 allowed" in str(_refused(validation.ssd_name, "s" * 101))
    assert str(_refused(validation.role_name, "")) == "Role name must not be empty."
    assert str(_refused(validation.resource_name, " \t ")) == "Resource name must not be empty."
    # Collapsing inner spaces happens before the length check.
    assert len(validation.role_name("a" * 50 + "  " + "b" * 49)) == 100


def test_display_names() -> None:
    assert (
        validation.display_name("  Zo\u00eb M\u00fcller-O'Brien ") == "Zo\u00eb M\u00fcller-O'Brien"
    )
    assert str(_refused(validation.display_name, "a\nb")) == (
        "Display name contains control characters."
    )
    assert "at most 200" in str(_refused(validation.display_name, "d" * 201))
    assert _refused(validation.display_name, "").field == "display_name"


# ---------------------------------------------------------------------- e-mail, action


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        (None, None),
        ("", None),
        ("   ", None),
        (" alice@example.org ", "alice@example.org"),
        ("a.b+tag@mail.example.co.uk", "a.b+tag@mail.example.co.uk"),
    ],
)
def test_email_accepted(raw: str | None, clean: str | None) -> None:
    assert validation.email(raw) == clean


@pytest.mark.parametrize(
    "bad",
    [
        "alice",
        "alice@",
        "@example.org",
        "alice@example",
        "a b@example.org",
        "a@b@c.org",
        "alice@.org",
        "alice@example.org.",
        "al\u0007ice@example.org",
    ],
)
def test_email_shape(bad: str) -> None:
    err = _refused(validation.email, bad)
    assert err.field == "email"
    assert str(err) == f"\u201c{bad.strip()}\u201d is not an e-mail address."


def test_email_limits() -> None:
    long = "a" * 250 + "@x.org"
    assert str(_refused(validation.email, long)) == "E-mail is too long: at most 254 characters."
    assert str(_refused(validation.email, 42)) == "E-mail must be text."


def test_actions() -> None:
    assert validation.action("  Approve-Invoice ") == "approve-invoice"
    assert validation.action("read:all_v2.x") == "read:all_v2.x"
    for bad in ("9lives", "open door", "_x", "\u00f6ffnen"):
        err = _refused(validation.action, bad)
        assert err.field == "action"
        assert str(err).startswith("Action may contain only letters a\u2013z")
    assert "at most 64" in str(_refused(validation.action, "a" * 65))


def test_descriptions() -> None:
    assert validation.description(None) == ""
    assert validation.description("  two\nlines\tand a tab ") == "two\nlines\tand a tab"
    assert validation.description("windows\r\nline ends\r") == "windows\nline ends"
    assert str(_refused(validation.description, "bell\x07")) == (
        "Description contains control characters."
    )
    assert "at most 2000" in str(_refused(validation.description, "d" * 2001))
    assert str(_refused(validation.description, 5)) == "Description must be text."


def test_cardinality() -> None:
    assert validation.cardinality(2) == 2
    assert validation.cardinality(10) == 10
    for small in (1, 0, -3):
        assert _refused(validation.cardinality, small).field == "cardinality"
    for bad in (True, 2.0, "2", None):
        assert str(_refused(validation.cardinality, bad)) == "Cardinality must be a whole number."


def test_passwords_are_not_trimmed() -> None:
    assert validation.password("  spaced out  ") == "  spaced out  "
    assert validation.password("x" * 1024) == "x" * 1024


# ---------------------------------------------------------------------- through the rules


def test_the_rules_report_the_field(db: Database) -> None:
    with db.action("x") as s:
        with pytest.raises(ValidationError) as info:
            rbac.add_user(s, "alice", email="nope")
        assert info.value.field == "email"
        with pytest.raises(ValidationError) as info:
            rbac.add_user(s, "alice", display_name="bad\x00name")
        assert info.value.field == "display_name"
        with pytest.raises(ValidationError) as info:
            rbac.add_role(s, "Ok", description="x" * 2001)
        assert info.value.field == "description"


def test_stored_names_are_the_cleaned_ones(db: Database) -> None:
    decomposed = unicodedata.normalize("NFD", "Caf\u00e9  Team")
    with db.action("x") as s:
        rbac.add_role(s, decomposed)
    with db.read() as s:
        role = rbac.get_role(s, "Caf\u00e9 Team")
        assert role.name == "Caf\u00e9 Team"
        # Lookups normalise too.
        assert rbac.get_role(s, unicodedata.normalize("NFD", "caf\u00e9 team")).id == role.id


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("Sales", "sales"),
        ("SALES TEAM", "sales  team"),
        ("Caf\u00e9", unicodedata.normalize("NFD", "CAF\u00e9")),
    ],
)
def test_duplicate_names_ignore_case_and_spacing(db: Database, first: str, second: str) -> None:
    with db.action("x") as s:
        rbac.add_role(s, first)
        rbac.add_resource(s, first)
        rbac.add_role(s, "Other")
        rbac.create_ssd_set(s, first, [first, "Other"], 2)
    with db.action("y") as s:
        with pytest.raises(DuplicateError):
            rbac.add_role(s, second)
        with pytest.raises(DuplicateError):
            rbac.add_resource(s, second)
        with pytest.raises(DuplicateError):
            rbac.create_ssd_set(s, second, [first, "Other"], 2)


def test_duplicate_usernames_ignore_case(db: Database) -> None:
    with db.action("x") as s:
        rbac.add_user(s, "Alice.Smith")
    with db.action("y") as s, pytest.raises(DuplicateError, match="already exists"):
        rbac.add_user(s, "alice.smith ")


def test_underscores_inside_names_stay_allowed() -> None:
    assert validation.role_name("Pay_roll") == "Pay_roll"
    assert "must start with a letter or digit" in str(_refused(validation.role_name, "_Pay"))
