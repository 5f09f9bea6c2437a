"""Demo databases for the access views, built through core.rbac in one db.action."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import pytest
from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot

from accessguard_gui.core import lookup, rbac
from accessguard_gui.core.database import Database
from accessguard_gui.ui.access.common import PickerDialog

SHOTS = Path("/tmp/shots/access")
PAST = datetime(2020, 1, 1, tzinfo=UTC)
FUTURE = datetime.now(UTC) + timedelta(days=365)
W = TypeVar("W", bound=QWidget)


def shown(qtbot: QtBot, widget: W, width: int, height: int) -> W:
    """``widget`` closed by qtbot at the end of the test, sized and shown."""
    qtbot.addWidget(widget)
    widget.resize(width, height)
    widget.show()
    return widget


def answer_picker(monkeypatch: pytest.MonkeyPatch, labels: list[str]) -> list[str]:
    """Replace the modal picker: build the real dialog, search for and tick each of
    ``labels`` through it. Returns the titles the picker was opened with."""
    titles: list[str] = []

    def ask(cls, parent, title, search: Callable[[str], list[lookup.Choice]], *, multi=True):  # type: ignore[no-untyped-def]
        titles.append(title)
        dialog = cls(title, search, parent, multi=multi)
        for label in labels:
            dialog.filter.setText(label)
            dialog.refresh()
            dialog.set_checked(label)
        chosen = dialog.chosen()
        dialog.deleteLater()
        return chosen

    monkeypatch.setattr(PickerDialog, "ask", classmethod(ask))
    return titles


def build_demo(db: Database) -> None:
    """A small office: Auditor inherits from Staff; Admin from Staff and Operator (a
    diamond through Staff ← Base); one expired assignment, one inactive user, one SSD set."""
    with db.action("demo") as s:
        for name in ("Base", "Staff", "Operator", "Auditor", "Admin", "Payments", "Approvals"):
            rbac.add_role(s, name, f"The {name} role")
        rbac.add_inheritance(s, "Staff", "Base")
        rbac.add_inheritance(s, "Operator", "Base")
        rbac.add_inheritance(s, "Auditor", "Staff")
        rbac.add_inheritance(s, "Admin", "Staff")
        rbac.add_inheritance(s, "Admin", "Operator")
        for res, acts in (
            ("Door B2.14", ("open",)),
            ("Ledger", ("read", "write")),
            ("Server room", ("open", "audit")),
        ):
            rbac.add_resource(s, res)
            for act in acts:
                rbac.add_permission(s, res, act)
        rbac.grant_permission(s, "Base", ("Door B2.14", "open"))
        rbac.grant_permission(s, "Staff", ("Ledger", "read"))
        rbac.grant_permission(s, "Auditor", ("Server room", "audit"))
        rbac.grant_permission(s, "Operator", ("Server room", "open"))
        rbac.grant_permission(s, "Payments", ("Ledger", "write"))
        rbac.add_user(s, "alice", "Alice Adams", email="alice@example.org")
        rbac.add_user(s, "bob", "Bob Brown")
        rbac.add_user(s, "carol", "Carol Clark", active=False)
        rbac.add_user(s, "dave", "Dave Davis")
        rbac.assign_user(s, "alice", "Admin", granted_by="root")
        rbac.assign_user(s, "bob", "Auditor", expires_at=FUTURE, granted_by="root")
        rbac.assign_user(s, "bob", "Payments", expires_at=PAST, granted_by="root")
        rbac.assign_user(s, "carol", "Staff")
        rbac.assign_user(s, "dave", "Payments")
        rbac.create_ssd_set(s, "Pay and approve", ["Payments", "Approvals"], 2)


def build_generated(db: Database, seed: int, users: int = 40) -> dict[str, list[str]]:
    """Six layers of roles, each inheriting from one or two roles of the next layer
    (inheritance depth 5, diamonds wherever two picks share a junior); random grants,
    assignments (some expired) and inactive users. Returns the names used."""
    rng = random.Random(seed)
    layers = [[f"R{d}x{i}" for i in range(5)] for d in range(6)]
    resources = [f"res{r}" for r in range(6)]
    actions = ["read", "write", "open"]
    usernames = [f"user{u:03d}" for u in range(users)]
    with db.action("generate") as s:
        for layer in layers:
            for name in layer:
                rbac.add_role(s, name)
        for d in range(5):
            for name in layers[d]:
                for junior in rng.sample(layers[d + 1], rng.choice((1, 2, 2))):
                    rbac.add_inheritance(s, name, junior)
        every_role = [n for layer in layers for n in layer]
        for res in resources:
            rbac.add_resource(s, res)
            for act in actions:
                rbac.add_permission(s, res, act)
                for holder in rng.sample(every_role, rng.choice((0, 1, 2))):
                    rbac.grant_permission(s, holder, (res, act))
        for name in usernames:
            rbac.add_user(s, name, active=rng.random() > 0.1)
            for role in rng.sample(layers[0] + layers[1] + layers[3], rng.choice((0, 1, 2))):
                expiry = PAST if rng.random() < 0.2 else None
                rbac.assign_user(s, name, role, expires_at=expiry)
    return {"users": usernames, "resources": resources, "actions": actions, "roles": every_role}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The offscreen platform warns on every shown top-level window; that warning says
    nothing about our code, every other Qt warning still fails the test."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.qt_log_ignore("This plugin does not support"))


@pytest.fixture
def demo_db(db: Database) -> Database:
    build_demo(db)
    return db
