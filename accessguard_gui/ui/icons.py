"""The application icon: the SVG and PNG sizes from resources/, else the installed theme icon."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from PySide6.QtGui import QIcon

# resources/ sits beside the package in a source checkout (editable install).
RESOURCES = Path(__file__).resolve().parents[2] / "resources"


@cache
def app_icon() -> QIcon:
    """Every size we ship, so Qt picks a crisp one on HiDPI screens (SVG scales freely).

    Made once (the application and each window ask for it; reading the files took ~9 ms
    of every start); QIcon is implicitly shared, so callers never change this copy."""
    icon = QIcon()
    icons = RESOURCES / "icons"
    svg = icons / "accessguard.svg"
    if svg.is_file():
        icon.addFile(str(svg))
    for png in sorted(icons.glob("hicolor/*/apps/accessguard.png")):
        icon.addFile(str(png))
    if icon.isNull():
        # Installed without the source tree: the desktop entry's installed theme icon.
        icon = QIcon.fromTheme("accessguard")
    return icon
