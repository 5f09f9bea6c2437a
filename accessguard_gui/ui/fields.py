"""Which fields a person edits for each kind of record, with the core rule that checks each.

Shared by the record form and the in-place cell editors, so a cell and the form refuse the
same values with the same words (the words come from ``core.validation``).
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..core import validation
from ..core.changes import Entity
from ..core.errors import ValidationError


class FieldKind(enum.Enum):
    TEXT = "text"
    MULTILINE = "multiline"
    BOOL = "bool"
    CHOICE = "choice"  # one of a list (e.g. the resource of a new permission)
    DATE = "date"


def _optional_display_name(value: object) -> str:
    return validation.display_name(value)


def _required_choice(label: str) -> Callable[[object], str]:
    def check(value: object) -> str:
        text = value.strip() if isinstance(value, str) else ""
        if not text:
            raise ValidationError("resource", f"Choose a {label.lower()}.")
        return text

    return check


@dataclass(frozen=True)
class FormField:
    """One editable field.

    Attributes:
        name: the keyword the core's add/update function takes.
        label: what the form shows.
        kind: which editor to use.
        check: the core rule; raises ValidationError with a message for the user.
        on_create_only: shown when adding, read-only afterwards (a permission's resource).
        optional_on_create: may be left empty when adding (a user's display name).
        hint: placeholder text.
    """

    name: str
    label: str
    kind: FieldKind
    check: Callable[[Any], Any] | None = None
    on_create_only: bool = False
    optional_on_create: bool = False
    hint: str = ""

    def validate(self, value: Any, *, creating: bool) -> str | None:
        """The message to show beside the field, or None if the value is fine."""
        if self.check is None:
            return None
        if creating and self.optional_on_create and (value is None or str(value).strip() == ""):
            return None
        try:
            self.check(value)
        except ValidationError as exc:
            return exc.message
        return None


FIELDS: dict[Entity, tuple[FormField, ...]] = {
    Entity.USER: (
        FormField(
            "username", "Username", FieldKind.TEXT, validation.username, hint="e.g. alice.smith"
        ),
        FormField(
            "display_name",
            "Display name",
            FieldKind.TEXT,
            _optional_display_name,
            optional_on_create=True,
            hint="defaults to the username",
        ),
        FormField("email", "E-mail", FieldKind.TEXT, validation.email, hint="optional"),
        FormField("active", "Active", FieldKind.BOOL),
    ),
    Entity.ROLE: (
        FormField("name", "Name", FieldKind.TEXT, validation.role_name, hint="e.g. Accountant"),
        FormField("description", "Description", FieldKind.MULTILINE, validation.description),
    ),
    Entity.RESOURCE: (
        FormField("name", "Name", FieldKind.TEXT, validation.resource_name, hint="e.g. Door B2.14"),
        FormField("description", "Description", FieldKind.MULTILINE, validation.description),
    ),
    Entity.PERMISSION: (
        FormField(
            "resource",
            "Resource",
            FieldKind.CHOICE,
            _required_choice("Resource"),
            on_create_only=True,
        ),
        FormField("action", "Action", FieldKind.TEXT, validation.action, hint="e.g. open, read"),
        FormField("description", "Description", FieldKind.MULTILINE, validation.description),
    ),
}


def field(entity: Entity, name: str) -> FormField | None:
    for item in FIELDS.get(entity, ()):
        if item.name == name:
            return item
    return None


ENTITY_NOUN: dict[Entity, str] = {
    Entity.USER: "user",
    Entity.ROLE: "role",
    Entity.RESOURCE: "resource",
    Entity.PERMISSION: "permission",
}
