"""The application icon: the SVG from resources/ (its PNG renderings where Qt has no SVG icon
engine), else the installed theme icon."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from PySide6.QtGui import QIcon

# resources/ sits beside the package in a source checkout (editable install).
RESOURCES = Path(__file__).resolve().parents[2] / "resources"


@cache
def app_icon() -> QIcon:
    """The SVG, which Qt's SVG icon engine draws crisp at every size; without that engine
    the PNG sizes (renderings of the same SVG: resources/render_icons.py); else the
    installed theme icon.

    Made once (the application and each window ask for it) and from one file: reading
    the eight PNGs' headers took 7-18 ms of every start (issue 11). QIcon is implicitly
    shared, so callers never change this copy."""
    icons = RESOURCES / "icons"
    svg = icons / "accessguard.svg"
    if svg.is_file():
        icon = QIcon(str(svg))
        if not icon.isNull():
            return icon
    icon = QIcon()
    for png in sorted(icons.glob("hicolor/*/apps/accessguard.png")):
        icon.addFile(str(png))
    if icon.isNull():
        # Installed without the source tree: the desktop entry's installed theme icon.
        icon = QIcon.fromTheme("accessguard")
    return icon
