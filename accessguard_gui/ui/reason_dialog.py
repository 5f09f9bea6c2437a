"""File > Save with reason…: why these changes are made, stored with every audit entry of
the save (Ctrl+S saves at once, without asking)."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from ..core.audit import REASON_MAX


class ReasonDialog(QDialog):
    """One line of text (a ticket number, "leaver: J. Doe") and Save / Cancel."""

    def __init__(self, count: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("reason_dialog")
        noun = "change" if count == 1 else "changes"
        self.setWindowTitle("Save with reason")
        label = QLabel(
            f"Why are these {count:,} {noun} made? The reason is kept with each of their "
            "audit entries (optional)."
        )
        label.setWordWrap(True)
        self.reason = QLineEdit()
        self.reason.setObjectName("reason")
        self.reason.setMaxLength(REASON_MAX)
        self.reason.setPlaceholderText("e.g. ticket 4711: J. Doe moves to Finance")
        self.reason.setAccessibleName("Reason")
        label.setBuddy(self.reason)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(label)
        layout.addWidget(self.reason)
        layout.addWidget(buttons)
        self.resize(460, self.sizeHint().height())

    @classmethod
    def ask(cls, parent: QWidget | None, count: int) -> str | None:
        """The reason typed ("" for none), or None if the save was cancelled."""
        dialog = cls(count, parent)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return None
        return dialog.reason.text().strip()
