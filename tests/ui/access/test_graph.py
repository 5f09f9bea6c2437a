"""Inheritance graph: roles inherited from above, inheriting roles below."""

from __future__ import annotations

from pytestqt.qtbot import QtBot

from accessguard_gui.core import rbac
from accessguard_gui.core.database import Database
from accessguard_gui.ui.access.common import save_png
from accessguard_gui.ui.access.graph import RoleGraphView

from .conftest import SHOTS, shown


def _view(qtbot: QtBot, db: Database) -> RoleGraphView:
    return shown(qtbot, RoleGraphView(db), 760, 460)


def test_staff_graph_places_parents_above_children_below(qtbot: QtBot, demo_db: Database) -> None:
    view = _view(qtbot, demo_db)
    view.set_role("Staff")
    assert set(view.nodes) == {"Staff", "Base", "Auditor", "Admin"}
    y = {name: node.sceneBoundingRect().center().y() for name, node in view.nodes.items()}
    assert y["Base"] < y["Staff"] < y["Auditor"] == y["Admin"]
    assert sorted(view.edges) == [("Admin", "Staff"), ("Auditor", "Staff"), ("Staff", "Base")]
    assert "Staff</b> inherits from the 1 role above" in view.caption.text()
    assert "The 2 roles below inherit from Staff" in view.caption.text()
    save_png(view, SHOTS / "graph_staff.png")


def test_diamond_and_recentre(qtbot: QtBot, demo_db: Database) -> None:
    view = _view(qtbot, demo_db)
    view.set_role("Admin")
    assert set(view.nodes) == {"Admin", "Staff", "Operator", "Base"}
    assert sorted(view.edges) == [
        ("Admin", "Operator"),
        ("Admin", "Staff"),
        ("Operator", "Base"),
        ("Staff", "Base"),
    ]
    save_png(view, SHOTS / "graph_admin_diamond.png")
    with qtbot.waitSignal(view.role_activated) as blocker:
        view.nodes["Base"].mouseDoubleClickEvent(None)  # type: ignore[arg-type]
    assert blocker.args == ["Base"]
    assert set(view.nodes) == {"Base", "Staff", "Operator", "Auditor", "Admin"}
    y = {name: node.sceneBoundingRect().center().y() for name, node in view.nodes.items()}
    # Admin inherits from Staff (level 1): drawn at its longest distance, below Staff.
    assert y["Base"] < y["Staff"] == y["Operator"] < y["Admin"] == y["Auditor"]
    save_png(view, SHOTS / "graph_base.png")


def test_deep_chain(qtbot: QtBot, db: Database) -> None:
    with db.action("chain") as s:
        for i in range(6):
            rbac.add_role(s, f"L{i}")
        for i in range(5):
            rbac.add_inheritance(s, f"L{i}", f"L{i + 1}")
    view = _view(qtbot, db)
    view.set_role("L2")
    y = [view.nodes[f"L{i}"].sceneBoundingRect().center().y() for i in range(6)]
    assert y == sorted(y, reverse=True)
    view.set_role("nope")
    assert view.nodes == {} and "nope" in view.caption.text()
