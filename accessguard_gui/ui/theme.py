"""Colours that follow the light or dark scheme of the desktop.

Qt's own widgets follow the system's scheme through the platform theme; the few colours
AccessGuard adds (pending and failed rows, Allowed/Denied, inherited cells, the read-only
banner) must follow it too, or a dark desktop shows white text on pale yellow. Every such
colour is named here with a light and a dark value.

Views take shared ``brush(name)`` objects once (cheap in ``data()``); when the scheme
changes, ``refresh()`` recolours those very brushes in place and repaints, so nothing has
to be rebuilt. ``--color-scheme light|dark`` forces a scheme (Fusion with our palette)
where the desktop does not say.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication, QStyleFactory

# name: (light, dark)
COLOURS: dict[str, tuple[str, str]] = {
    # Row and cell backgrounds (text stays the palette's text colour).
    "changed_bg": ("#fff3c4", "#4d4000"),
    "new_bg": ("#d6f5d6", "#1f4a24"),
    "deleted_bg": ("#ebebeb", "#3c3c3c"),
    "failed_bg": ("#ffd6d6", "#5c2020"),
    "inherited_bg": ("#dde8f7", "#25364d"),
    "pending_bg": ("#fff1c2", "#4d4000"),
    # Text on the window's own background.
    "allowed": ("#1b7f3b", "#7bd88f"),
    "denied": ("#b3261e", "#ff8a80"),
    "muted": ("#6b6b6b", "#a6a6a6"),
    "pending": ("#8a5a00", "#f0c060"),
    "error": ("#b3261e", "#ff8a80"),
    "info": ("#1f5fa8", "#7fb2ff"),
    # The read-only banner.
    "banner_bg": ("#fff4ce", "#4d4000"),
    "banner_fg": ("#5c4400", "#ffe9a6"),
    "banner_border": ("#e0c46c", "#8a7420"),
    # The inheritance graph.
    "graph_center": ("#1f5fa8", "#3d7fd0"),
    "graph_above": ("#e4eefa", "#28384d"),
    "graph_below": ("#eaf5e6", "#263d25"),
    "graph_edge": ("#555555", "#b0b0b0"),
}

_brushes: dict[str, QBrush] = {}
_colours: dict[str, QColor] = {}
_forced: str | None = None


def is_dark() -> bool:
    """True when the application's palette is dark (whatever made it so)."""
    app = QGuiApplication.instance()
    if not isinstance(app, QGuiApplication):
        return False
    return QGuiApplication.palette().color(QPalette.ColorRole.Window).lightness() < 128


def color(name: str) -> QColor:
    light, dark = COLOURS[name]
    return QColor(dark if is_dark() else light)


def css(name: str) -> str:
    """The colour as #rrggbb, for style sheets (built when the widget is styled)."""
    return color(name).name()


def brush(name: str) -> QBrush:
    """A shared brush of the named colour, recoloured in place when the scheme changes:
    take it once and keep it (``data()`` hands out the same object on every call)."""
    found = _brushes.get(name)
    if found is None:
        found = _brushes[name] = QBrush(color(name))
    return found


def shared_color(name: str) -> QColor:
    """A shared colour object, changed in place when the scheme changes: for module
    constants that views read whenever they draw or build a row."""
    found = _colours.get(name)
    if found is None:
        found = _colours[name] = color(name)
    return found


def banner_style() -> str:
    return (
        f"background: {css('banner_bg')}; color: {css('banner_fg')}; "
        f"border: 1px solid {css('banner_border')}; padding: 6px 10px;"
    )


def refresh() -> None:
    """Recolour every shared brush for the current scheme, re-apply style sheets (a
    styled widget keeps the palette it was styled with) and repaint the windows."""
    for name, shared in _brushes.items():
        shared.setColor(color(name))
    for name, value in _colours.items():
        value.setRgba(color(name).rgba())
    app = QApplication.instance()
    if isinstance(app, QApplication):
        for widget in app.allWidgets():
            sheet = widget.styleSheet()
            if sheet:
                widget.setStyleSheet(sheet)
        for widget in app.topLevelWidgets():
            widget.update()
    if _notifier is not None:
        _notifier.changed.emit()


def _dark_palette() -> QPalette:
    palette = QPalette()
    window, base, text = QColor("#2b2b2b"), QColor("#1e1e1e"), QColor("#e6e6e6")
    for role, value in (
        (QPalette.ColorRole.Window, window),
        (QPalette.ColorRole.WindowText, text),
        (QPalette.ColorRole.Base, base),
        (QPalette.ColorRole.AlternateBase, QColor("#262626")),
        (QPalette.ColorRole.Text, text),
        (QPalette.ColorRole.Button, QColor("#353535")),
        (QPalette.ColorRole.ButtonText, text),
        (QPalette.ColorRole.ToolTipBase, QColor("#3a3a3a")),
        (QPalette.ColorRole.ToolTipText, text),
        (QPalette.ColorRole.PlaceholderText, QColor("#8c8c8c")),
        (QPalette.ColorRole.Highlight, QColor("#3d7fd0")),
        (QPalette.ColorRole.HighlightedText, QColor("#ffffff")),
        (QPalette.ColorRole.Link, QColor("#7fb2ff")),
        (QPalette.ColorRole.BrightText, QColor("#ff8a80")),
    ):
        palette.setColor(role, value)
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText,
                 QPalette.ColorRole.WindowText):
        palette.setColor(QPalette.ColorGroup.Disabled, role, QColor("#7a7a7a"))
    return palette


class _Notifier(QObject):
    """Recolours when the desktop switches between light and dark while we run.

    Signals:
        changed(): after the colours changed; style sheets built from them are rebuilt
            by whoever listens (``on_change``).
    """

    changed = Signal()

    def on_scheme_changed(self, _scheme: Qt.ColorScheme) -> None:
        if _forced is None:
            refresh()


_notifier: _Notifier | None = None


def on_change(callback: Callable[[], None]) -> None:
    """Call ``callback`` whenever the scheme's colours change (after ``install``)."""
    if _notifier is not None:
        _notifier.changed.connect(callback)


def install(app: QApplication, scheme: str | None = None) -> None:
    """Follow the desktop's scheme, or force ``scheme`` ("light" or "dark")."""
    global _forced, _notifier
    _forced = scheme if scheme in ("light", "dark") else None
    if _forced is not None:
        style = QStyleFactory.create("Fusion")
        if style is not None:
            app.setStyle(style)
        app.setPalette(_dark_palette() if _forced == "dark" else style.standardPalette()
                       if style is not None else QPalette())
    if _notifier is None:
        _notifier = _Notifier(app)
        app.styleHints().colorSchemeChanged.connect(_notifier.on_scheme_changed)
    refresh()
