"""One search behaviour for every picker and completer (issue 12, item 3): a literal,
case-insensitive substring over the fields a person remembers, name prefixes first."""

from __future__ import annotations

import pytest

from accessguard_gui.core import lookup, rbac
from accessguard_gui.core.database import Database


@pytest.fixture
def people(db: Database) -> Database:
    with db.action("setup") as s:
        rbac.add_user(s, "adam.zimmermann", display_name="Adam Zimmermann",
                      email="adam@corp.example")
        rbac.add_user(s, "aschulz", display_name="Anna Schulz", email="anna.s@corp.example")
        rbac.add_user(s, "bkeller", display_name="Bernd Keller", email="b.schulz@home.example")
        rbac.add_user(s, "schulze", display_name="Paul Schulze")
        rbac.add_user(s, "pay_roll", display_name="Payroll Robot")
        rbac.add_user(s, "payxroll", display_name="Not a match for the underscore")
        rbac.add_user(s, "percent", display_name="100% sure")
        rbac.add_user(s, "joerg", display_name="Jörg Ärztlich")
        rbac.add_role(s, "Auditors", "Read the audit log")
        rbac.add_role(s, "Staff", "Everyone employed")
        rbac.add_role(s, "Payroll admins", "Run payroll")
        rbac.add_resource(s, "documents", "Shared drive")
        rbac.add_resource(s, "payroll", "Salaries")
        for res, act in (("documents", "read"), ("documents", "write"), ("payroll", "read"),
                         ("payroll", "approve")):
            rbac.add_permission(s, res, act)
    return db


def _labels(choices: list[lookup.Choice]) -> list[str]:
    return [c.label.split(" (")[0] for c in choices]


def test_users_are_found_by_any_part_of_username_display_name_or_email(people: Database) -> None:
    with people.read() as s:
        # Prefix first (schulze), then the others in username order.
        assert _labels(lookup.search_users(s, "schulz")) == ["schulze", "aschulz", "bkeller"]
        assert _labels(lookup.search_users(s, "SCHULZ")) == ["schulze", "aschulz", "bkeller"]
        assert _labels(lookup.search_users(s, "zimmer")) == ["adam.zimmermann"]
        assert _labels(lookup.search_users(s, "home.example")) == ["bkeller"]
        assert _labels(lookup.search_users(s, "ärzt")) == ["joerg"]
        assert _labels(lookup.search_users(s, "nobody")) == []


def test_user_search_is_literal(people: Database) -> None:
    with people.read() as s:
        assert _labels(lookup.search_users(s, "y_r")) == ["pay_roll"]
        assert _labels(lookup.search_users(s, "0%")) == ["percent"]
        assert _labels(lookup.search_users(s, "%")) == ["percent"]


def test_user_choices_show_display_name_and_email(people: Database) -> None:
    with people.read() as s:
        (choice,) = lookup.search_users(s, "anna")
        assert choice.label == "aschulz (Anna Schulz, anna.s@corp.example)"
        (hint,) = lookup.suggest_users(s, "anna")
        assert hint.value == "aschulz"
        assert "Anna Schulz" in hint.label
        assert lookup.complete_usernames(s, "keller") == ["bkeller"]


def test_short_terms_find_substrings_too(people: Database) -> None:
    with people.read() as s:
        assert "aschulz" in lookup.complete_usernames(s, "sc")
        assert lookup.complete_usernames(s, "sc")[0] == "schulze"  # the prefix match first


def test_roles_and_resources_match_name_or_description(people: Database) -> None:
    with people.read() as s:
        assert [c.label for c in lookup.search_roles(s, "audit")] == ["Auditors"]
        assert [c.label for c in lookup.search_roles(s, "EMPLOYED")] == ["Staff"]
        assert [c.label for c in lookup.search_roles(s, "payroll")] == ["Payroll admins"]
        assert [c.label for c in lookup.search_roles(s, "run")] == ["Payroll admins"]
        assert [c.label for c in lookup.search_resources(s, "drive")] == ["documents"]
        assert lookup.complete_resources(s, "roll") == ["payroll"]
        assert lookup.complete_roles(s, "tors") == ["Auditors"]


def test_permissions_match_resource_colon_action(people: Database) -> None:
    with people.read() as s:
        assert [c.label for c in lookup.search_permissions(s, "read")] == [
            "documents: read", "payroll: read"]
        assert [c.label for c in lookup.search_permissions(s, "ument")] == [
            "documents: read", "documents: write"]
        assert [c.label for c in lookup.search_permissions(s, "roll: app")] == [
            "payroll: approve"]
        assert [c.label for c in lookup.search_permissions(s, "PAYROLL:")] == [
            "payroll: approve", "payroll: read"]
        assert lookup.complete_actions(s, "payroll", "prov") == ["approve"]


def test_every_search_is_bounded(people: Database) -> None:
    with people.read() as s:
        assert len(lookup.search_users(s, "a", limit=2)) == 2
        assert len(lookup.search_users(s, "corp", limit=1)) == 1
        assert len(lookup.search_roles(s, "", limit=2)) == 2
        assert len(lookup.search_permissions(s, "", limit=3)) == 3
