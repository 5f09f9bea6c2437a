"""Set or reset a user's password: typed twice, masked, hashed at once, never shown again.

The dialog hands back only the Argon2id hash; the plain password leaves memory with the
dialog and never reaches the pending edits, the audit log or the screen.
"""

from __future__ import annotations

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from ..core import passwords, validation
from ..core.errors import ValidationError
from .record_form import error_style


class PasswordDialog(QDialog):
    """Two masked fields; OK only when the password meets the rules and both match."""

    def __init__(self, username: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Set password of {username}")
        intro = QLabel(
            f"Type the new password for <b>{username}</b> twice. It is stored only as a "
            "secure hash and cannot be shown again. It takes effect when you save."
        )
        intro.setWordWrap(True)
        self.password = QLineEdit()
        self.password.setObjectName("password")
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.confirm = QLineEdit()
        self.confirm.setObjectName("confirm")
        self.confirm.setEchoMode(QLineEdit.EchoMode.Password)
        self.error = QLabel("")
        self.error.setStyleSheet(error_style())
        self.error.setWordWrap(True)
        form = QFormLayout()
        form.addRow("&New password:", self.password)
        form.addRow("&Repeat:", self.confirm)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)
        self.setMinimumWidth(420)
        self.password.textChanged.connect(self.revalidate)
        self.confirm.textChanged.connect(self.revalidate)
        self.revalidate()

    def revalidate(self) -> bool:
        message = ""
        first = self.password.text()
        try:
            validation.password(first)
        except ValidationError as exc:
            message = exc.message if first else ""
            ok = False
        else:
            ok = first == self.confirm.text()
            if not ok and self.confirm.text():
                message = "The two passwords differ."
        self.error.setText(message)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(ok)
        return ok

    def password_hash(self) -> str:
        """Hash what was typed and clear the fields (called once, after OK)."""
        digest = passwords.hash_password(self.password.text())
        self.password.clear()
        self.confirm.clear()
        return digest

    @classmethod
    def ask(cls, parent: QWidget | None, username: str) -> str | None:
        """The Argon2id hash of the new password, or None if cancelled."""
        dialog = cls(username, parent)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return None
        return dialog.password_hash()
