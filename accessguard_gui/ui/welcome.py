"""First launch with no database: create a new one, open one, or open the demo."""

from __future__ import annotations

import enum

from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from .icons import app_icon


class WelcomeChoice(enum.Enum):
    NEW = "new"
    OPEN = "open"
    DEMO = "demo"
    QUIT = "quit"


class WelcomeDialog(QDialog):
    """Three big buttons; Esc quits."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Welcome to AccessGuard")
        self.setWindowIcon(app_icon())
        self.choice = WelcomeChoice.QUIT
        logo = QLabel()
        logo.setPixmap(app_icon().pixmap(QSize(72, 72)))
        heading = QLabel("<h2>Welcome to AccessGuard</h2>")
        text = QLabel(
            "AccessGuard keeps your users, roles and permissions in one database file. "
            "Where would you like to start?"
        )
        text.setWordWrap(True)
        head = QHBoxLayout()
        head.addWidget(logo, 0, Qt.AlignmentFlag.AlignTop)
        words = QVBoxLayout()
        words.addWidget(heading)
        words.addWidget(text)
        head.addLayout(words, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(head)
        self.buttons: dict[WelcomeChoice, QPushButton] = {}
        for choice, label, tip in (
            (WelcomeChoice.NEW, "&Create a new database…", "An empty database file you name"),
            (WelcomeChoice.OPEN, "&Open a database…", "A file you already have"),
            (WelcomeChoice.DEMO, "Open the &demo", "A small example organisation to explore"),
        ):
            button = QPushButton(label)
            button.setToolTip(tip)
            button.setMinimumHeight(36)
            button.clicked.connect(lambda _c=False, c=choice: self._choose(c))
            layout.addWidget(button)
            self.buttons[choice] = button
        self.buttons[WelcomeChoice.DEMO].setDefault(True)
        self.setMinimumWidth(440)

    def _choose(self, choice: WelcomeChoice) -> None:
        self.choice = choice
        self.accept()

    @classmethod
    def ask(cls, parent: QWidget | None = None) -> WelcomeChoice:
        dialog = cls(parent)
        dialog.exec()
        return dialog.choice
