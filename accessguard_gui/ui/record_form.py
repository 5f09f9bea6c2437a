"""The record form (double-click / Enter / Ctrl+N): every field, its rule's message beside it.

OK stays disabled while any field is invalid, so the form never hands back a value the core
would refuse for its shape (duplicates are found when saving). Tests drive the widgets and
replace ``RecordForm.ask`` instead of running the modal loop.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QCompleter,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from ..core.changes import Entity
from . import theme
from .fields import ENTITY_NOUN, FIELDS, FieldKind, FormField


def error_style() -> str:
    """Style of an error text beside a field (the scheme's red, ui/theme.py)."""
    return f"color: {theme.css('error')};"


class RecordForm(QDialog):
    """Add or edit one record.

    Args:
        entity: which kind of record.
        initial: the record's current values (with pending edits applied), or None to add.
        choices: the values offered by choice fields (resource names for a new permission).
        read_only: show the values without letting them change (read-only database).
        focus: the field that has the keyboard focus when the form opens (the cell the
            user double-clicked); the first field if None or not in this form.
    """

    def __init__(
        self,
        entity: Entity,
        initial: Mapping[str, Any] | None = None,
        *,
        choices: Sequence[str] = (),
        read_only: bool = False,
        creating: bool | None = None,
        choices_complete: bool = True,
        focus: str | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        # When ``choices`` lists every allowed value, anything else is refused at once.
        self._allowed = {c.casefold() for c in choices} if choices and choices_complete else None
        self.entity = entity
        # A pending new record reopens as "creating" with its values filled in.
        self.creating = initial is None if creating is None else creating
        self.initial: dict[str, Any] = dict(initial or {})
        self.read_only = read_only
        noun = ENTITY_NOUN[entity]
        if self.creating and initial is None:
            self.setWindowTitle(f"Add {noun}")
        elif self.creating:
            self.setWindowTitle(f"New {noun} (not saved yet)")
        else:
            label = (
                self.initial.get("username")
                or self.initial.get("name")
                or self.initial.get("action", "")
            )
            self.setWindowTitle(f"{'View' if read_only else 'Edit'} {noun} {label}".rstrip())
        self.fields: tuple[FormField, ...] = FIELDS[entity]
        self.editors: dict[str, QWidget] = {}
        self.errors: dict[str, QLabel] = {}

        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
        for item in self.fields:
            editor = self._make_editor(item, choices)
            self.editors[item.name] = editor
            error = QLabel("")
            error.setTextFormat(Qt.TextFormat.PlainText)  # may quote what was typed
            error.setObjectName(f"error_{item.name}")
            error.setStyleSheet(error_style())
            error.setWordWrap(True)
            error.setVisible(False)
            self.errors[item.name] = error
            box = QVBoxLayout()
            box.setSpacing(2)
            box.addWidget(editor)
            box.addWidget(error)
            holder = QWidget()
            holder.setLayout(box)
            box.setContentsMargins(0, 0, 0, 0)
            caption = QLabel(f"&{item.label}:")
            caption.setBuddy(editor)
            form.addRow(caption, holder)

        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.buttons)
        self.setMinimumWidth(540)
        self._touched: set[str] = set()
        self.revalidate()
        self.focus_field(focus)

    def focus_field(self, name: str | None) -> None:
        """Give ``name``'s editor the focus, its text selected (typing replaces it)."""
        editor = self.editors.get(name or "")
        if editor is None or not editor.isEnabled():
            return
        editor.setFocus(Qt.FocusReason.OtherFocusReason)
        if isinstance(editor, QLineEdit):
            editor.selectAll()
        elif isinstance(editor, QComboBox) and editor.lineEdit() is not None:
            line = editor.lineEdit()
            assert line is not None
            line.selectAll()

    # ------------------------------------------------------------ editors

    def _make_editor(self, item: FormField, choices: Sequence[str]) -> QWidget:
        value = self.initial.get(item.name)
        locked = self.read_only or (item.on_create_only and not self.creating)
        editor: QWidget
        if item.kind is FieldKind.BOOL:
            box = QCheckBox()
            box.setChecked(True if value is None and self.creating else bool(value))
            box.setEnabled(not locked)
            box.toggled.connect(lambda _=False, n=item.name: self._edited(n))
            editor = box
        elif item.kind is FieldKind.MULTILINE:
            text = QPlainTextEdit(str(value or ""))
            text.setTabChangesFocus(True)
            text.setFixedHeight(80)
            text.setReadOnly(locked)
            text.textChanged.connect(lambda n=item.name: self._edited(n))
            editor = text
        elif item.kind is FieldKind.CHOICE:
            combo = QComboBox()
            combo.setEditable(True)
            combo.addItems(list(choices))
            combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
            completer = QCompleter(list(choices), combo)
            completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
            completer.setFilterMode(Qt.MatchFlag.MatchContains)
            combo.setCompleter(completer)
            combo.setCurrentText(str(value or ""))
            combo.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
            line_edit = combo.lineEdit()
            if line_edit is not None:
                line_edit.setPlaceholderText(f"type to find a {item.label.lower()}")
            combo.setEnabled(not locked)
            combo.currentTextChanged.connect(lambda _="", n=item.name: self._edited(n))
            editor = combo
        else:
            line = QLineEdit(str(value or ""))
            line.setPlaceholderText(item.hint)
            line.setReadOnly(locked)
            line.setClearButtonEnabled(not locked)
            line.textChanged.connect(lambda _="", n=item.name: self._edited(n))
            editor = line
        editor.setObjectName(f"field_{item.name}")
        return editor

    def _edited(self, name: str) -> None:
        self._touched.add(name)
        self.revalidate()

    def raw_value(self, name: str) -> Any:
        editor = self.editors[name]
        if isinstance(editor, QCheckBox):
            return editor.isChecked()
        if isinstance(editor, QPlainTextEdit):
            return editor.toPlainText()
        if isinstance(editor, QComboBox):
            return editor.currentText()
        assert isinstance(editor, QLineEdit)
        return editor.text()

    # ------------------------------------------------------------ validation

    def revalidate(self) -> bool:
        """Check every field; show messages beside fields the user touched (or that hold
        a value), and enable OK only when all are fine and something is to be done."""
        valid = True
        for item in self.fields:
            if item.on_create_only and not self.creating:
                continue
            value = self.raw_value(item.name)
            message = item.validate(value, creating=self.creating)
            if (
                message is None
                and item.kind is FieldKind.CHOICE
                and self._allowed is not None
                and str(value).strip().casefold() not in self._allowed
            ):
                message = (
                    f"There is no {item.label.lower()} named \u201c{str(value).strip()}\u201d."
                )
            label = self.errors[item.name]
            shown = message is not None and (
                item.name in self._touched or (not self.creating) or bool(str(value).strip())
            )
            label.setText(message or "")
            label.setVisible(bool(shown))
            if message is not None:
                valid = False
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setEnabled(
            valid and not self.read_only and (self.creating or bool(self.changed_values()))
        )
        self._fit()
        return valid

    def _fit(self) -> None:
        """Grow (never shrink) when a message appears, so no message is cut off."""
        layout = self.layout()
        if layout is None:
            return
        layout.activate()
        wanted = layout.totalHeightForWidth(self.width())
        if wanted < 0:
            wanted = self.sizeHint().height()
        if wanted > self.height():
            self.resize(self.width(), wanted)

    def error_text(self, name: str) -> str:
        label = self.errors[name]
        return label.text() if not label.isHidden() else ""

    def is_valid(self) -> bool:
        return self.buttons.button(QDialogButtonBox.StandardButton.Ok).isEnabled()

    # ------------------------------------------------------------ results

    def values(self) -> dict[str, Any]:
        """Every field, shaped for the core (empty optional fields left out or None)."""
        out: dict[str, Any] = {}
        for item in self.fields:
            value = self.raw_value(item.name)
            if isinstance(value, str):
                value = value.strip()
                if item.name == "email" and not value:
                    value = None
                if self.creating and item.optional_on_create and not value:
                    continue
            out[item.name] = value
        return out

    def changed_values(self) -> dict[str, Any]:
        """For an existing record: only what differs from what the user saw."""
        if self.creating:
            return self.values()
        changed: dict[str, Any] = {}
        for name, value in self.values().items():
            item = next(f for f in self.fields if f.name == name)
            if item.on_create_only:
                continue
            before = self.initial.get(name)
            if item.kind is FieldKind.BOOL:
                differs = bool(before) != bool(value)
            else:
                differs = (before or None) != (value or None)
            if differs:
                changed[name] = value
        return changed

    @classmethod
    def ask(
        cls,
        parent: QWidget | None,
        entity: Entity,
        initial: Mapping[str, Any] | None = None,
        *,
        choices: Sequence[str] = (),
        read_only: bool = False,
        creating: bool | None = None,
        choices_complete: bool = True,
        focus: str | None = None,
    ) -> dict[str, Any] | None:
        """Show the form; the values to add / the changed values, or None if cancelled."""
        dialog = cls(
            entity,
            initial,
            choices=choices,
            read_only=read_only,
            creating=creating,
            choices_complete=choices_complete,
            focus=focus,
            parent=parent,
        )
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return None
        return dialog.changed_values()
