"""File > Check database: the file's health, its schema objects and the audit chain.

The checks run on a worker thread (``CheckWorker``): SQLite's integrity check and the
chain walk take seconds on a large file, and the window must stay painted, with progress
and Cancel. The result is plain text (it quotes names from the file). The chain head is
shown in a selectable field with a Copy button, and the whole report can be saved to a
text file: a head kept outside the file is what reveals a rewrite of the whole chain.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from PySide6.QtCore import Qt, QThread, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ..core import integrity
from ..core.database import Database
from ..core.errors import AccessGuardError, QueryStoppedError
from . import messages


@dataclass
class CheckResult:
    """Everything one run of the checks found (plain values, built on the worker)."""

    database: str
    file_problems: list[str] = field(default_factory=list)
    schema: list[integrity.SchemaFinding] = field(default_factory=list)
    lookalikes: list[str] = field(default_factory=list)
    chain: integrity.ChainReport | None = None
    error: str = ""
    cancelled: bool = False

    @property
    def healthy(self) -> bool:
        return (
            not self.error
            and not self.cancelled
            and not self.file_problems
            and not self.schema
            and self.chain is not None
            and self.chain.intact
        )

    def headline(self) -> str:
        """One or two sentences: what is wrong first, then the state of the chain."""
        if self.error:
            return f"The check could not finish: {self.error}"
        if self.cancelled and self.chain is None:
            return "The check was cancelled."
        parts = []
        if self.file_problems:
            parts.append(f"The file has {len(self.file_problems):,} problem(s).")
        if self.schema:
            parts.append(
                f"{len(self.schema):,} schema object(s) not as AccessGuard created them."
            )
        if self.chain is not None:
            parts.append(self.chain.summary())
        if not self.healthy:
            parts.append("Details below.")
        return " ".join(parts)

    def report(self) -> str:
        """The report as text to read, copy or save."""
        now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        lines = [f"AccessGuard database check of {self.database}, {now}", ""]
        if self.error:
            lines += [f"The check could not finish: {self.error}", ""]
        if self.chain is not None:
            lines.append(self.chain.summary())
            if self.chain.head_hash and not self.chain.cancelled:
                lines.append(
                    f"Chain head: entry {self.chain.head_id:,}, {self.chain.head_hash}"
                )
            lines += [f"  {line}" for line in self.chain.details()]
            lines.append("")
        if self.file_problems:
            lines.append(f"The file has {len(self.file_problems):,} problem(s):")
            lines += [f"  {p}" for p in self.file_problems[:50]]
        else:
            lines.append("File structure and references: no problems found.")
        if self.schema:
            lines.append(
                f"{len(self.schema):,} schema object(s) not as AccessGuard created them:"
            )
            lines += [f"  {finding.describe()}" for finding in self.schema]
        else:
            lines.append("Schema objects: exactly those AccessGuard creates.")
        if self.lookalikes:
            lines.append("Names that look the same (allowed before this version):")
            lines += [f"  {text}" for text in self.lookalikes]
        return "\n".join(lines) + "\n"


class CheckWorker(QThread):
    """Runs every check on a thread of its own; each step opens its own short sessions.

    Signals:
        progress(str, int, int): what is being checked, entries done, entries in all.
        done(object): the CheckResult.
    """

    progress = Signal(str, int, int)
    done = Signal(object)

    def __init__(
        self, db: Database, expected_head: str | None = None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.db = db
        self.expected_head = expected_head
        self.cancel = threading.Event()

    def run(self) -> None:  # the worker thread
        result = CheckResult(self.db.display_name)
        try:
            self.progress.emit("Checking the file structure\u2026", 0, 0)
            result.file_problems = self.db.check(cancel=self.cancel)
            result.schema = integrity.schema_findings(self.db)
            result.lookalikes = integrity.lookalike_names(self.db)

            def step(done: int, total: int) -> bool:
                self.progress.emit("Checking the audit trail\u2026", done, total)
                return not self.cancel.is_set()

            result.chain = integrity.verify_audit_chain(
                self.db, expected_head=self.expected_head, progress=step, cancel=self.cancel
            )
        except QueryStoppedError:
            result.cancelled = True
        except AccessGuardError as exc:
            result.error = exc.message
        except Exception as exc:  # noqa: BLE001 - a damaged file can fail in many ways
            result.error = str(exc) or type(exc).__name__
        self.done.emit(result)


class CheckDialog(QDialog):
    """Progress while the checks run, then the report, the head and what to do with it."""

    def __init__(self, db: Database, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.db = db
        self.outcome: CheckResult | None = None
        self.worker: CheckWorker | None = None
        self.setWindowTitle("Check database")
        self.status = QLabel("")
        self.status.setObjectName("status")
        self.status.setTextFormat(Qt.TextFormat.PlainText)  # quotes the file's content
        self.status.setWordWrap(True)
        self.progress_bar = QProgressBar()
        self.report_view = QPlainTextEdit()
        self.report_view.setObjectName("report")
        self.report_view.setReadOnly(True)
        self.report_view.setMinimumHeight(160)
        self.head = QLineEdit()
        self.head.setObjectName("head")
        self.head.setReadOnly(True)
        self.head.setPlaceholderText("the newest entry's hash appears here")
        self.copy_head = QPushButton("&Copy head")
        self.copy_head.clicked.connect(self.copy_head_to_clipboard)
        self.kept = QLineEdit()
        self.kept.setObjectName("kept")
        self.kept.setPlaceholderText("paste a head you kept earlier, then Compare")
        self.compare = QPushButton("Com&pare")
        self.compare.clicked.connect(lambda: self.start(self.kept.text().strip() or None))
        self.save_report = QPushButton("&Save report\u2026")
        self.save_report.clicked.connect(self.save_report_to_file)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.buttons.rejected.connect(self.cancel_or_close)
        self.buttons.addButton(self.save_report, QDialogButtonBox.ButtonRole.ActionRole)

        head_row = QHBoxLayout()
        head_row.addWidget(QLabel("Chain head:"))
        head_row.addWidget(self.head, 1)
        head_row.addWidget(self.copy_head)
        kept_row = QHBoxLayout()
        kept_row.addWidget(QLabel("Kept head:"))
        kept_row.addWidget(self.kept, 1)
        kept_row.addWidget(self.compare)
        hint = QLabel(
            "Keep a copy of the chain head outside this file (paste it into a ticket, "
            "print it, or save the report elsewhere). If the audit trail is ever rewritten "
            "as a whole, the head you kept will no longer be found in it."
        )
        hint.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(self.status)
        layout.addWidget(self.progress_bar)
        layout.addWidget(self.report_view, 1)
        layout.addLayout(head_row)
        layout.addWidget(hint)
        layout.addLayout(kept_row)
        layout.addWidget(self.buttons)
        self.resize(720, 460)

    # ------------------------------------------------------------------ running

    def start(self, expected_head: str | None = None) -> None:
        """Run the checks (again) on the worker thread."""
        if self.worker is not None and self.worker.isRunning():
            return
        self.outcome = None
        self._set_running(True)
        self.status.setText("Checking\u2026")
        self.worker = CheckWorker(self.db, expected_head, self)
        self.worker.progress.connect(self._on_progress)
        self.worker.done.connect(self._on_done)
        self.worker.start()

    @property
    def running(self) -> bool:
        return self.worker is not None and self.worker.isRunning() and self.outcome is None

    def _set_running(self, running: bool) -> None:
        self.progress_bar.setVisible(running)
        for widget in (self.copy_head, self.compare, self.save_report, self.kept):
            widget.setEnabled(not running)
        button = self.buttons.button(QDialogButtonBox.StandardButton.Cancel)
        button.setText("Cancel" if running else "Close")

    def _on_progress(self, what: str, done: int, total: int) -> None:
        self.status.setText(f"{what} {done:,} of {total:,} entries" if total else what)
        self.progress_bar.setRange(0, max(total, 0))
        self.progress_bar.setValue(min(done, total))

    def _on_done(self, result: CheckResult) -> None:
        self.outcome = result
        if self.worker is not None:
            self.worker.wait()
        self._set_running(False)
        chain = result.chain
        self.status.setText(result.headline())
        self.head.setText(chain.head_hash or "" if chain is not None and not chain.cancelled else "")
        self.head.setCursorPosition(0)
        self.copy_head.setEnabled(bool(self.head.text()))
        self.report_view.setPlainText(result.report())

    def cancel_or_close(self) -> None:
        if self.running and self.worker is not None:
            self.worker.cancel.set()
            self.status.setText("Cancelling\u2026")
            return
        self.reject()

    def reject(self) -> None:
        if self.worker is not None and self.worker.isRunning():
            self.worker.cancel.set()
            self.worker.wait()
        super().reject()

    # ------------------------------------------------------------------ the head

    def copy_head_to_clipboard(self) -> None:
        if self.head.text():
            QGuiApplication.clipboard().setText(self.head.text())
            self.status.setText("The chain head was copied. Keep it outside this file.")

    def save_report_to_file(self) -> None:
        if self.outcome is None:
            return
        suggested = "accessguard-check.txt"
        if self.db.path is not None:
            stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M")
            suggested = str(self.db.path.with_name(f"{self.db.path.stem}-check-{stamp}.txt"))
        path = messages.ask_save_path(self, "Save check report", suggested)
        if not path:
            return
        try:
            Path(path).write_text(self.outcome.report(), encoding="utf-8")
        except OSError as exc:
            messages.show_error(self, "Save report", f"The report could not be written: {exc}")
            return
        self.status.setText(f"Report saved to {path}.")

    @classmethod
    def show_for(cls, parent: QWidget | None, db: Database) -> CheckDialog:
        """Open the dialog (not modal: the checks run while the user works) and start."""
        dialog = cls(db, parent)
        dialog.show()
        dialog.start()
        return dialog
