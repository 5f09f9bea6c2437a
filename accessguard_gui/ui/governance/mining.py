"""Governance > Suggest a role structure: the fewest roles that reproduce every active
user's effective permissions exactly, proposed as a pending restructure whose Review
shows that nobody gains or loses anything."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QHBoxLayout, QPushButton, QTableView, QWidget

from ...core.database import Database
from ...core.governance import mining
from ...core.governance.mining import MiningResult
from ...core.operators import AppAction
from .. import messages
from ..access.common import RowsModel, open_window, plain_label
from ..pending import PendingStore
from .common import GovernanceWindow
from .tasks import Task, read_in

SHOWN_PERMISSIONS = 6


class RoleMiningWindow(GovernanceWindow):
    """Mine, look at the roles, propose the restructure.

    Attributes:
        result: the last mining result; ``roles``: its roles as rows; ``figures``.
    """

    FIX_NEEDS = (AppAction.EDIT_ROLES, AppAction.ASSIGN_ROLES)

    def __init__(self, db: Database, store: PendingStore, parent: QWidget | None = None) -> None:
        super().__init__(db, store, parent)
        self.result: MiningResult | None = None
        self.current_roles = 0
        self.ssd_sets = 0
        self.figures = plain_label(
            "Mining reads every active user's effective permissions and looks for the "
            "fewest roles that give each of them exactly those permissions."
        )
        self.mine_button = QPushButton("Suggest roles")
        self.mine_button.setDefault(True)
        self.propose_button = QPushButton("Make the restructure pending\u2026")
        self.propose_button.setToolTip(
            "Create the roles, grant their permissions and move every active user onto "
            "them, as pending edits: Review changes shows that nobody gains or loses access"
        )
        self.propose_button.setEnabled(False)
        self.roles = RowsModel(("Role", "Users", "Permissions", "Some of them"), self)
        self.table = QTableView()
        self.table.setModel(self.roles)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setColumnWidth(0, 140)
        buttons = QHBoxLayout()
        buttons.addWidget(self.mine_button)
        buttons.addStretch(1)
        buttons.addWidget(self.propose_button)
        self.layout_box.addWidget(self.figures)
        self.layout_box.addLayout(buttons)
        self.layout_box.addWidget(self.table, 1)
        self.fix_buttons = [self.propose_button]
        self.finish_layout()
        self.mine_button.clicked.connect(self.mine)
        self.propose_button.clicked.connect(self.propose_restructure)

    def mine(self) -> None:
        db = self.db

        def work(task: Task[Any]) -> tuple[MiningResult, int, int]:
            def read(session: Any) -> tuple[dict[str, frozenset[str]], int, int]:
                task.report("Reading every active user's effective permissions\u2026")
                data = mining.effective_assignment(session)
                roles, sets = mining.role_model_size(session)
                return data, roles, sets

            data, roles, sets = read_in(db, task, read)
            return mining.mine(data, progress=task.report, check=task.check), roles, sets

        self.propose_button.setEnabled(False)
        self.work("Mining roles\u2026", work, self._mined)

    def _mined(self, found: tuple[MiningResult, int, int]) -> None:
        result, self.current_roles, self.ssd_sets = found
        self.result = result
        self.figures.setText(
            f"{len(result.roles):,} roles reproduce the permissions of {result.users:,} active "
            f"users exactly (the file has {self.current_roles:,} roles). {result.distinct_users:,} "
            f"distinct permission sets over {result.distinct_permissions:,} distinct permissions; "
            f"{result.exact:,} of the roles are forced by the data, the rest chosen greedily."
        )
        rows = []
        for number, role in enumerate(result.roles, start=1):
            perms = sorted(role.permissions)
            sample = ", ".join(perms[:SHOWN_PERMISSIONS]) + (" \u2026" if len(perms) > SHOWN_PERMISSIONS else "")
            rows.append((f"Mined role {number}", f"{len(role.users):,}", f"{len(perms):,}", sample))
        self.roles.set_rows(rows)
        self.propose_button.setEnabled(bool(result.roles) and not self.read_only)
        self.lock_fixes()

    def propose_restructure(self) -> None:
        result = self.result
        if result is None:
            return
        db = self.db
        warning = ""
        if self.ssd_sets:
            warning = (
                f" Note: {self.ssd_sets:,} separation-of-duty set"
                f"{'s name' if self.ssd_sets != 1 else ' names'} the current roles; users moved "
                "onto the mined roles are no longer bound by them."
            )
            if not messages.confirm(self, "Restructure", warning.strip() + " Continue?", "Continue"):
                return

        def work(task: Task[Any]) -> list[Any]:
            task.report("Writing the restructure as edits\u2026")
            return read_in(db, task, lambda s: mining.restructure(s, result))

        def made(edits: list[Any]) -> None:
            self.propose(edits, done=lambda _n: self.say(self.message.text() + warning))

        self.work("Preparing the restructure\u2026", work, made)


def show_mining(db: Database, store: PendingStore, parent: QWidget) -> RoleMiningWindow:
    return open_window(RoleMiningWindow(db, store, parent), "Suggest a role structure", (900, 600))
