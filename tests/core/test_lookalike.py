"""Look-alike names: a name that reads like an existing one is refused, naming it; real
scripts with combining marks are accepted; invisible characters are refused."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from accessguard_gui.core import rbac, validation
from accessguard_gui.core.database import Database
from accessguard_gui.core.errors import DuplicateError, ValidationError
from accessguard_gui.core.lookalike import skeleton_key

ADMINS = "Admins"


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("Admins", "\u0410dmins"),
        ("Admins", "\U0001d400dmins"),
        ("Admins", "\uff21\uff44\uff4d\uff49\uff4e\uff53"),
        ("Admins", "Adrnins"),
        ("Ops", "\u039fps"),
        ("paypal", "paypa1"),
        ("alice", "aIice"),
        ("Staff", "St\u0430ff"),
    ],
)
def test_look_alikes_share_a_skeleton_key(first: str, second: str) -> None:
    assert skeleton_key(first) == skeleton_key(second)


@pytest.mark.parametrize(("first", "second"), [("Admins", "Admin"), ("Sales", "Sale5x")])
def test_different_names_have_different_keys(first: str, second: str) -> None:
    assert skeleton_key(first) != skeleton_key(second)


@pytest.mark.parametrize(
    ("add", "kind"),
    [
        (lambda s, n: rbac.add_role(s, n), "role"),
        (lambda s, n: rbac.add_resource(s, n), "resource"),
    ],
)
@pytest.mark.parametrize(
    "lookalike",
    ["\u0410dmins", "\U0001d400dmins", "\uff21\uff44\uff4d\uff49\uff4e\uff53", "Adrnins"],
)
def test_a_look_alike_of_an_existing_name_is_refused_naming_it(
    db: Database, add: object, kind: str, lookalike: str
) -> None:
    with db.action("Add") as s:
        add(s, ADMINS)  # type: ignore[operator]
    with pytest.raises(DuplicateError) as info, db.action("Add look-alike") as s:
        add(s, lookalike)  # type: ignore[operator]
    message = str(info.value)
    assert f"looks the same as the existing {kind} \u201cAdmins\u201d" in message
    assert info.value.field == "name"
    table = "roles" if kind == "role" else "resources"
    with db.read() as s:
        assert s.execute(text(f"SELECT name FROM {table}")).scalars().all() == [ADMINS]


def test_the_message_names_the_differing_characters(db: Database) -> None:
    with db.action("Add") as s:
        rbac.add_role(s, ADMINS)
    with pytest.raises(DuplicateError, match="U\\+0410 Cyrillic Capital Letter A"), db.action(
        "Add"
    ) as s:
        rbac.add_role(s, "\u0410dmins")


def test_renaming_to_a_look_alike_is_refused_but_a_record_may_look_like_itself(
    db: Database,
) -> None:
    with db.action("Add") as s:
        rbac.add_role(s, ADMINS)
        rbac.add_role(s, "Auditors")
    with pytest.raises(DuplicateError, match="Admins"), db.action("Rename") as s:
        rbac.update_role(s, "Auditors", name="\u0410dmins")
    with db.action("Rename") as s:
        rbac.update_role(s, ADMINS, name="ADMINS")  # a change of case only
    with db.read() as s:
        assert sorted(s.execute(text("SELECT name FROM roles")).scalars()) == [
            "ADMINS",
            "Auditors",
        ]


def test_separation_of_duty_sets_and_users_are_checked_too(db: Database) -> None:
    with db.action("Add") as s:
        rbac.add_role(s, "Buyer")
        rbac.add_role(s, "Payer")
        rbac.create_ssd_set(s, "Purchasing", ["Buyer", "Payer"], 2)
        rbac.add_user(s, "paypal")
    with pytest.raises(DuplicateError, match="separation-of-duty set \u201cPurchasing\u201d"), db.action(
        "Add"
    ) as s:
        rbac.create_ssd_set(s, "Purch\u0430sing", ["Buyer", "Payer"], 2)
    with pytest.raises(DuplicateError, match="user \u201cpaypal\u201d") as info, db.action(
        "Add"
    ) as s:
        rbac.add_user(s, "paypa1")
    assert info.value.field == "username"


def test_the_skeleton_is_stored_for_every_writer(db: Database) -> None:
    with db.action("Add") as s:
        rbac.add_role(s, "\u0410dmins")
    with db.read() as s:
        stored = s.execute(text("SELECT name_skeleton FROM roles")).scalar()
    assert stored == skeleton_key("Admins")


# ---------------------------------------------------------------------- scripts and marks


@pytest.mark.parametrize(
    "name",
    [
        "\u092a\u094d\u0930\u0936\u093e\u0938\u0915",  # Hindi प्रशासक
        "\u0ba8\u0bbf\u0bb0\u0bcd\u0bb5\u0bbe\u0b95\u0bbf",  # Tamil நிர்வாகி
        "\u0e1c\u0e39\u0e49\u0e14\u0e39\u0e41\u0e25",  # Thai ผู้ดูแล
        "\u0645\u064f\u062f\u0650\u064a\u0631",  # Arabic مُدِير with vowel marks
        "\u05de\u05b0\u05e0\u05b7\u05d4\u05b5\u05dc",  # Hebrew מְנַהֵל with niqqud
        "Ti\u1ebfng Vi\u1ec7t",
    ],
)
def test_names_in_scripts_with_combining_marks_are_accepted(db: Database, name: str) -> None:
    assert validation.role_name(name) == name
    with db.action("Add") as s:
        rbac.add_role(s, name)
        rbac.add_resource(s, name)
    with db.read() as s:
        assert s.execute(text("SELECT name FROM roles")).scalar() == name


@pytest.mark.parametrize(
    "hidden",
    ["\u200b", "\u200d", "\u2060", "\ufeff", "\u3164", "\u115f", "\u2800", "\u202e", "\u00ad"],
)
def test_invisible_characters_and_fillers_are_refused(hidden: str) -> None:
    with pytest.raises(ValidationError) as info:
        validation.role_name(f"Ad{hidden}mins")
    assert "invisible character" in str(info.value) or "may contain letters" in str(info.value)
    assert info.value.field == "name"


def test_a_pile_of_combining_marks_is_refused() -> None:
    with pytest.raises(ValidationError):
        validation.role_name("Admins" + "\u0301" * 6)  # NFC takes one: five in a row stay
    assert validation.role_name("Admin\u0301s") == "Admi\u0144s"  # NFC: n + acute = ń


@pytest.mark.parametrize(
    "name",
    [
        "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645",  # Persian می‌خواهم (ZWNJ)
        "\u06a9\u062a\u0627\u0628\u200c\u0647\u0627",  # Persian کتاب‌ها
        "\u0915\u094d\u200d\u0937",  # Devanagari half-form: ka virama ZWJ ssa
        "\u0d28\u0d4d\u200d",  # Malayalam chillu written na virama ZWJ
        "\u0915\u094d\u200c\u0937",  # Devanagari explicit virama: ZWNJ after virama
    ],
)
def test_joiners_that_shape_letters_are_accepted(db: Database, name: str) -> None:
    assert validation.role_name(name) == name
    assert validation.display_name(name) == name
    with db.action("Add") as s:
        rbac.add_role(s, name)
    with db.read() as s:
        assert s.execute(text("SELECT name FROM roles")).scalar() == name


@pytest.mark.parametrize(
    "name",
    [
        "Ad\u200cmins",  # Latin letters do not join: the ZWNJ shows nothing
        "Ad\u200dmins",
        "\u0627\u200c\u0628",  # alef joins only on the right: nothing to break
        "\u0645\u06cc\u200d\u062e",  # ZWJ between Arabic letters changes nothing visible
        "\u0645\u06cc\u200c",  # a trailing joiner
    ],
)
def test_joiners_that_show_nothing_are_refused(name: str) -> None:
    with pytest.raises(ValidationError):
        validation.role_name(name)


def test_a_joiner_does_not_make_a_second_name(db: Database) -> None:
    """The skeleton drops joiners: with and without one is the same name to a reader."""
    with db.action("Add") as s:
        rbac.add_role(s, "\u0645\u06cc\u062e\u0648\u0627\u0647\u0645")
    with pytest.raises(DuplicateError), db.action("Add") as s:
        rbac.add_role(s, "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645")
