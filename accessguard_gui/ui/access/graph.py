"""The inheritance graph of a role: the roles it inherits from above it, the roles that
inherit from it below, drawn with Qt's graphics view. An arrow goes from a role to a role
it inherits from, so every permission flows down the page."""

from __future__ import annotations

import html

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import (
    QBrush,
    QColor,
    QFont,
    QFontMetrics,
    QPainter,
    QPainterPath,
    QPen,
    QPolygonF,
)
from PySide6.QtWidgets import (
    QGraphicsItem,
    QGraphicsPathItem,
    QGraphicsScene,
    QGraphicsSceneMouseEvent,
    QGraphicsSimpleTextItem,
    QGraphicsView,
    QLabel,
    QVBoxLayout,
    QWidget,
)

from ...core import lookup
from ...core.database import Database
from ...core.errors import AccessGuardError
from .. import theme
from ..plain_text import plain_tooltip
from .common import open_window

LEVEL_GAP = 90
NODE_GAP = 24
NODE_H = 34
PAD = 14
CENTER_FILL = theme.shared_color("graph_center")
ABOVE_FILL = theme.shared_color("graph_above")
BELOW_FILL = theme.shared_color("graph_below")
EDGE = theme.shared_color("graph_edge")


class RoleNode(QGraphicsPathItem):
    """One role box; double-click re-centres the graph on it."""

    def __init__(
        self, role_id: int, name: str, rect: QRectF, fill: QColor, view: RoleGraphView
    ) -> None:
        path = QPainterPath()
        path.addRoundedRect(rect, 8, 8)
        super().__init__(path)
        self.role_id = role_id
        self.name = name
        self._view = view
        self.setBrush(QBrush(fill))
        self.setPen(QPen(fill.darker(150), 1.2))
        self.setToolTip(plain_tooltip(name))
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable, True)

    def mouseDoubleClickEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        self._view.role_activated.emit(self.name)
        self._view.set_role(self.role_id)


class RoleGraphView(QWidget):
    """Inheritance graph around one role.

    Args:
        db: the open database.

    Signals:
        role_activated(str): a role box was double-clicked (the graph re-centres on it).

    Attributes:
        view: the QGraphicsView; scene: its scene; caption: the reading help above it.
        nodes: role name -> its box, for tests and for selecting.
    """

    role_activated = Signal(str)

    def __init__(self, db: Database, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._db = db
        self.scene = QGraphicsScene(self)
        self.view = QGraphicsView(self.scene)
        self.view.setRenderHint(QPainter.RenderHint.Antialiasing)
        self.view.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.caption = QLabel()
        self.caption.setWordWrap(True)
        self.caption.setTextFormat(Qt.TextFormat.RichText)  # role names are escaped
        self.nodes: dict[str, RoleNode] = {}
        self.edges: list[tuple[str, str]] = []
        layout = QVBoxLayout(self)
        layout.addWidget(self.caption)
        layout.addWidget(self.view, 1)

    def set_role(self, role: int | str) -> None:
        """Draw the graph around ``role``."""
        try:
            with self._db.read() as s:
                graph = lookup.role_graph(s, role)
        except AccessGuardError as exc:
            self.scene.clear()
            self.nodes.clear()
            self.edges.clear()
            self.caption.setText(html.escape(exc.message))
            return
        self._draw(graph)

    # ------------------------------------------------------------ drawing

    def _draw(self, graph: lookup.RoleGraph) -> None:
        self.scene.clear()
        self.nodes = {}
        center = html.escape(graph.names[graph.center])  # shown in the rich-text caption
        font = QFont()
        bold = QFont(font)
        bold.setBold(True)
        metrics = QFontMetrics(bold)
        by_level: dict[int, list[int]] = {}
        for rid, level in graph.levels.items():
            by_level.setdefault(level, []).append(rid)
        order = self._order(graph, by_level)
        positions: dict[int, QRectF] = {}
        for level, ids in order.items():
            widths = [metrics.horizontalAdvance(graph.names[i]) + 2 * PAD for i in ids]
            total = sum(widths) + NODE_GAP * (len(ids) - 1)
            x = -total / 2
            y = level * LEVEL_GAP
            for rid, w in zip(ids, widths, strict=True):
                positions[rid] = QRectF(x, y, w, NODE_H)
                x += w + NODE_GAP
        pen = QPen(EDGE, 1.4)
        self.edges = []
        for a, b in graph.edges:  # a inherits from b: arrow from a up to b
            start = positions[a]
            end = positions[b]
            p1 = QPointF(start.center().x(), start.top())
            p2 = QPointF(end.center().x(), end.bottom())
            path = QPainterPath(p1)
            mid = (p1.y() + p2.y()) / 2
            path.cubicTo(QPointF(p1.x(), mid), QPointF(p2.x(), mid), p2)
            edge = self.scene.addPath(path, pen)
            edge.setZValue(-1)
            edge.setToolTip(
                plain_tooltip(
                    f"{graph.names[a]} inherits from {graph.names[b]} "
                    f"({graph.names[a]} gets every permission of {graph.names[b]})"
                )
            )
            head = QPolygonF([p2, QPointF(p2.x() - 5, p2.y() + 9), QPointF(p2.x() + 5, p2.y() + 9)])
            self.scene.addPolygon(head, pen, QBrush(EDGE))
            self.edges.append((graph.names[a], graph.names[b]))
        for rid, rect in positions.items():
            level = graph.levels[rid]
            fill = CENTER_FILL if level == 0 else ABOVE_FILL if level < 0 else BELOW_FILL
            node = RoleNode(rid, graph.names[rid], rect, fill, self)
            self.scene.addItem(node)
            label = QGraphicsSimpleTextItem(graph.names[rid], node)
            label.setFont(bold if level == 0 else font)
            if level == 0:
                label.setBrush(QBrush(QColor("white")))
            br = label.boundingRect()
            label.setPos(rect.center().x() - br.width() / 2, rect.center().y() - br.height() / 2)
            self.nodes[graph.names[rid]] = node
        above = sum(1 for lv in graph.levels.values() if lv < 0)
        below = sum(1 for lv in graph.levels.values() if lv > 0)

        def roles(n: int) -> str:
            return f"{n} role{'' if n == 1 else 's'}"

        if above:
            text = (
                f"<b>{center}</b> inherits from the {roles(above)} above it, directly or "
                "through another, and gets every permission they have. "
            )
        else:
            text = f"<b>{center}</b> inherits from no other role. "
        if below:
            text += (
                f"The {roles(below)} below inherit from {center} and get every permission "
                f"{center} has. "
            )
        else:
            text += f"No role inherits from {center}. "
        text += "Arrows point to the role inherited from; double-click a role to centre on it."
        if graph.truncated:
            text += " The graph is large: only part of it is drawn."
        self.caption.setText(text)
        rect = self.scene.itemsBoundingRect().adjusted(-20, -20, 20, 20)
        self.scene.setSceneRect(rect)
        self.view.centerOn(positions[graph.center].center())

    @staticmethod
    def _order(graph: lookup.RoleGraph, by_level: dict[int, list[int]]) -> dict[int, list[int]]:
        """Names in each level, then one barycentre pass outward from the centre so that
        connected roles sit near each other (fewer crossing arrows)."""
        order = {
            lv: sorted(ids, key=lambda i: graph.names[i].lower()) for lv, ids in by_level.items()
        }
        neighbours: dict[int, list[int]] = {}
        for a, b in graph.edges:
            neighbours.setdefault(a, []).append(b)
            neighbours.setdefault(b, []).append(a)
        for step in (-1, 1):
            level = step
            while level in order:
                prev = {rid: i for i, rid in enumerate(order[level - step])}

                def weight(rid: int, prev: dict[int, int] = prev) -> float:
                    near = [prev[n] for n in neighbours.get(rid, []) if n in prev]
                    return sum(near) / len(near) if near else float(len(prev))

                order[level] = sorted(
                    order[level], key=lambda r: (weight(r), graph.names[r].lower())
                )
                level += step
        return order


def show_role_graph(db: Database, role: int | str, parent: QWidget | None = None) -> RoleGraphView:
    view = RoleGraphView(db, parent)
    view.set_role(role)
    return open_window(view, f"Inheritance of {role}", (760, 520))
