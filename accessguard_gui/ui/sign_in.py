"""Sign in: who is at the keyboard of a database that requires it (issue 14).

Shown by ``opening.open_database`` after a file that requires sign-in is opened, and by
File > Switch operator… / Sign out…. Cancel means the file is not shown at all: the
caller closes it. Wrong names and passwords slow down in the core (``SignInError``
carries how long to wait); the dialog counts down on its Sign in button instead of
letting the user click into a refusal.

The dialog says plainly what sign-in is and is not on a file: it keeps the audit trail
honest about who changed what and keeps people from changes they are not meant to make;
anyone who can write the file can still change it without AccessGuard, and the audit
chain makes such changes detectable.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ..core import validation
from ..core.database import Database
from ..core.errors import AccessGuardError, SignInError
from ..core.operators import OperatorAccess
from . import theme
from .record_form import error_style

#: The core's "Try again in 4 seconds." (SignInError), left out while the button counts.
_WAIT_SENTENCE = re.compile(r"\s*Try again in \d+ seconds?\.")

#: How often the countdown on the Sign in button is brought up to date.
TICK_MS = 200

SIGN_IN_TEXT = "Sign in"

FILE_LIMIT = (
    "Sign-in records who makes each change and keeps people from changes they are not "
    "meant to make. It is not a lock on the file: anyone who can write the file can "
    "change it without AccessGuard. The audit trail's hash chain makes such changes "
    "detectable (File \u2192 Check database)."
)
SERVER_LIMIT = (
    "Sign-in records who makes each change and keeps people from changes they are not "
    "meant to make. On a database server, the server's own logins and rights decide what "
    "a connection may do."
)


def note_style() -> str:
    """A note beside a form: the scheme's muted colour, still easy to read."""
    return f"color: {theme.css('muted')};"


def limit_text(db: Database) -> str:
    """The honest limit of sign-in on this kind of database, in one short paragraph."""
    return FILE_LIMIT if db.path is not None else SERVER_LIMIT


class SignInDialog(QDialog):
    """User name, password (never echoed), Sign in / Cancel, the refusal and its back-off.

    Args:
        db: the opened database that requires sign-in; ``db.sign_in`` checks the password.
        parent: the window it belongs to (None at start-up).
        clock: seconds on a monotonic clock; tests pass their own to step the countdown.
        title: the window title ("Sign in", "Switch operator").

    Attributes:
        access: what the signed-in operator may do, once Sign in succeeded (else None).
        retry_at: the clock time from which the next attempt is allowed (0: now).
    """

    def __init__(
        self,
        db: Database,
        parent: QWidget | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        title: str = "Sign in",
    ) -> None:
        super().__init__(parent)
        self.setObjectName("sign_in_dialog")
        self._db = db
        self._clock = clock
        self.access: OperatorAccess | None = None
        self.retry_at = 0.0
        self.setWindowTitle(f"{title} \u2014 AccessGuard")
        where = db.path.name if db.path is not None else db.display_name
        intro = QLabel(
            f"{where} asks who you are. Sign in with your AccessGuard user name and password."
        )
        intro.setObjectName("intro")
        intro.setTextFormat(Qt.TextFormat.PlainText)  # a file name is data
        intro.setWordWrap(True)
        self.username = QLineEdit()
        self.username.setObjectName("username")
        self.username.setAccessibleName("User name")
        self.username.setMaxLength(validation.USERNAME_MAX)
        self.password = QLineEdit()
        self.password.setObjectName("password")
        self.password.setAccessibleName("Password")
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.password.setMaxLength(validation.PASSWORD_MAX)
        form = QFormLayout()
        form.addRow("&User name:", self.username)
        form.addRow("&Password:", self.password)
        self.error = QLabel("")
        self.error.setObjectName("error")
        self.error.setTextFormat(Qt.TextFormat.PlainText)
        self.error.setStyleSheet(error_style())
        self.error.setWordWrap(True)  # empty until a refusal: the dialog does not jump
        self.limit = QLabel(limit_text(db))
        self.limit.setObjectName("limit")
        self.limit.setTextFormat(Qt.TextFormat.PlainText)
        self.limit.setWordWrap(True)
        self.limit.setStyleSheet(note_style())  # quieter: a note, not a warning
        # Static text of ours, so rich text is safe here.
        self.learn_more = QLabel('<a href="#operators">Learn more about sign-in</a>')
        self.learn_more.setObjectName("learn_more")
        self.learn_more.setTextFormat(Qt.TextFormat.RichText)
        self.learn_more.setTextInteractionFlags(
            Qt.TextInteractionFlag.LinksAccessibleByMouse
            | Qt.TextInteractionFlag.LinksAccessibleByKeyboard
        )
        self.learn_more.linkActivated.connect(lambda _link: self.show_guide())
        self.buttons = QDialogButtonBox()
        self.sign_in_button = QPushButton(SIGN_IN_TEXT)
        self.sign_in_button.setObjectName("sign_in")
        self.sign_in_button.setDefault(True)
        self.buttons.addButton(self.sign_in_button, QDialogButtonBox.ButtonRole.AcceptRole)
        self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.sign_in_button.clicked.connect(self.try_sign_in)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)
        layout.addSpacing(6)
        layout.addWidget(self.limit)
        layout.addWidget(self.learn_more)
        QWidget.setTabOrder(self.password, self.sign_in_button)  # the link comes last
        self.countdown = QTimer(self)
        self.countdown.setInterval(TICK_MS)
        self.countdown.timeout.connect(self.tick)
        self.username.textChanged.connect(self._update_button)
        self.password.textChanged.connect(self._update_button)
        self.setMinimumWidth(460)
        self._update_button()

    # ------------------------------------------------------------ signing in

    def try_sign_in(self) -> bool:
        """Check the name and password in the core; on success accept the dialog.

        A refusal shows the core's message and, when the core asks to wait, disables Sign
        in with a countdown. The password field is cleared either way: it is never kept.
        """
        if not self.sign_in_button.isEnabled():
            return False  # Enter during the countdown: the core would refuse anyway
        username = self.username.text().strip()
        password = self.password.text()
        self.password.clear()
        QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)  # Argon2 takes a moment
        try:
            self.access = self._db.sign_in(username, password)
        except SignInError as exc:
            self._refused(exc.message, exc.retry_after)
            return False
        except AccessGuardError as exc:
            self._refused(exc.message, 0.0)
            return False
        finally:
            QApplication.restoreOverrideCursor()
        self.error.clear()
        self.accept()
        return True

    def _refused(self, message: str, retry_after: float) -> None:
        if retry_after > 0:  # the button counts down: a fixed number would go stale
            message = _WAIT_SENTENCE.sub("", message).strip()
        self.error.setText(message)
        self.retry_at = self._clock() + max(retry_after, 0.0)
        if retry_after > 0:
            self.countdown.start()
        self._update_button()
        self.password.setFocus(Qt.FocusReason.OtherFocusReason)

    def seconds_left(self) -> int:
        """Whole seconds until the next attempt is allowed (0: now)."""
        return max(0, math.ceil(self.retry_at - self._clock()))

    def tick(self) -> None:
        """Bring the countdown on the Sign in button up to date (every TICK_MS)."""
        if self.seconds_left() == 0:
            self.countdown.stop()
        self._update_button()

    def _update_button(self) -> None:
        left = self.seconds_left()
        if left > 0:
            self.sign_in_button.setText(f"Try again in {left} s")
            self.sign_in_button.setEnabled(False)
            return
        self.sign_in_button.setText(SIGN_IN_TEXT)
        self.sign_in_button.setEnabled(bool(self.username.text().strip() and self.password.text()))

    # ------------------------------------------------------------ help

    def show_guide(self) -> QWidget:
        """The guide's section on operators and sign-in (Learn more)."""
        from .help import GuideDialog

        guide = GuideDialog([], self)
        guide.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        guide.browser.scrollToAnchor("operators")
        guide.show()
        return guide

    @classmethod
    def ask(
        cls, parent: QWidget | None, db: Database, title: str = "Sign in"
    ) -> OperatorAccess | None:
        """Who signed in (and what they may do), or None if the user cancelled."""
        dialog = cls(db, parent, title=title)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return None
        return dialog.access


def ensure_signed_in(parent: QWidget | None, db: Database) -> bool:
    """After opening ``db``: if it requires sign-in and nobody is signed in, ask.

    Returns False when the user cancelled: the caller closes the file, and nothing of
    it is shown. (On PostgreSQL the server login is the operator: no dialog.)
    """
    if not db.access.awaits_sign_in:
        return True
    return SignInDialog.ask(parent, db) is not None
