"""Render resources/icons/accessguard.svg to the hicolor PNG sizes (run from the repo root)."""
import sys
from pathlib import Path
from PySide6.QtGui import QGuiApplication, QImage, QPainter
from PySide6.QtSvg import QSvgRenderer
from PySide6.QtCore import Qt
app = QGuiApplication(sys.argv)
src = Path("resources/icons/accessguard.svg")
r = QSvgRenderer(str(src))
for size in (16, 24, 32, 48, 64, 128, 256, 512):
    img = QImage(size, size, QImage.Format.Format_ARGB32)
    img.fill(Qt.GlobalColor.transparent)
    p = QPainter(img); p.setRenderHint(QPainter.RenderHint.Antialiasing); r.render(p); p.end()
    out = Path(f"resources/icons/hicolor/{size}x{size}/apps/accessguard.png")
    out.parent.mkdir(parents=True, exist_ok=True)
    img.save(str(out))
print("ok")
