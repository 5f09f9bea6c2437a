"""A role's whole story (issue 12, item 8): who holds it directly and through
inheritance, and every permission it has, own and inherited, with a "Hide inherited"
toggle as identity consoles have.

Figures and lists come from core/role_stats.py (SQL over the inheritance closure, members
read a page at a time) and show the role as it will be once the pending edits are saved.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QCheckBox,
    QGroupBox,
    QHBoxLayout,
    QListWidget,
    QListWidgetItem,
    QVBoxLayout,
    QWidget,
)
from sqlalchemy.orm import Session

from ...core import impact, rbac, role_stats
from ...core.database import Database
from ...core.errors import AccessGuardError
from ...core.lookup import Page
from ..pending import PendingStore
from ..plain_text import plain_tooltip
from .assignments import RoleDetailsPanel
from .common import GREY, RED, plain_label

MEMBERS_PER_PAGE = 200
PERMISSIONS_PER_PAGE = 200  # a role's permissions, read a page at a time as scrolled


@dataclass(frozen=True)
class _Story:
    name: str
    counts: role_stats.MemberCounts
    permission_counts: tuple[int, int]
    members: Page
    permissions: Page  # the first page of EffectivePermission rows


def members_title(counts: role_stats.MemberCounts) -> str:
    """The Members box title: direct and effective, so "0" never hides 293 inheritors."""
    return f"Members ({counts.direct:,} direct, {counts.total:,} in all)"


class RoleDetailsWithCounts(RoleDetailsPanel):
    """The role details panel whose Members title counts direct and effective members."""

    def refresh(self) -> None:
        super().refresh()
        if self._role_ref is None:
            return
        ref = self._role_ref

        def read(s: Session) -> role_stats.MemberCounts:
            return role_stats.member_counts(s, rbac.get_role(s, ref).id)

        try:
            counts, _problems = impact.with_pending(self._db, self._store.edits_for_save(), read)
        except AccessGuardError:
            return
        self.members_box.setTitle(members_title(counts))


class RoleStoryPanel(QWidget):
    """Effective members and permissions of one role.

    Attributes:
        summary: "Staff: 0 direct, 293 in all · 2 own permissions, 5 in all".
        hide_inherited: the toggle; when ticked both lists show only direct entries.
        members, permissions: the two lists; inherited entries are grey and say "via".
    """

    def __init__(self, db: Database, store: PendingStore, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._db = db
        self._store = store
        self._role_ref: int | str | None = None
        self._members_after: str | None = None
        self._permissions_after: tuple[str, str] | None = None
        self._holders = 0  # how many hold the role as shown: picks the member-page plan
        self.summary = plain_label("No role chosen")
        font = QFont()
        font.setBold(True)
        self.summary.setFont(font)
        self.hide_inherited = QCheckBox("Hide inherited")
        self.hide_inherited.setToolTip(
            "Show only users assigned to this role and permissions granted to it directly."
        )
        self.members = QListWidget()
        self.permissions = QListWidget()
        for lst in (self.members, self.permissions):
            lst.setUniformItemSizes(True)
            # Long "inherited from …" lines end in "…" (full text on hover), no side scroll.
            lst.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
            lst.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.members_box = QGroupBox("Members")
        self.permissions_box = QGroupBox("Permissions")
        for box, lst in (
            (self.members_box, self.members),
            (self.permissions_box, self.permissions),
        ):
            QVBoxLayout(box).addWidget(lst)
        self.message = plain_label()
        self.message.setStyleSheet(f"color: {RED.name()};")
        self.message.hide()
        top = QHBoxLayout()
        top.addWidget(self.summary, 1)
        top.addWidget(self.hide_inherited)
        # One above the other: the details pane is tall and narrow.
        lists = QVBoxLayout()
        lists.addWidget(self.members_box, 1)
        lists.addWidget(self.permissions_box, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addLayout(lists, 1)
        layout.addWidget(self.message)
        self.hide_inherited.toggled.connect(self.refresh)
        self.members.verticalScrollBar().valueChanged.connect(self._members_scrolled)
        self.permissions.verticalScrollBar().valueChanged.connect(self._permissions_scrolled)

    # ------------------------------------------------------------ API

    def set_role(self, role: int | str) -> None:
        self._role_ref = role
        self.refresh()

    def refresh(self) -> None:
        if self._role_ref is None:
            return
        direct_only = self.hide_inherited.isChecked()
        try:
            story = self._read(self._role_ref, direct_only)
        except AccessGuardError as exc:
            self._say(exc.message)
            self.members.clear()
            self.permissions.clear()
            return
        self.message.hide()
        counts = story.counts
        self._holders = counts.direct if direct_only else counts.total
        own, total = story.permission_counts
        self.summary.setText(
            f"{counts.sentence(story.name)} · {own:,} own permissions, {total:,} in all"
        )
        self.members_box.setTitle(members_title(counts))
        self.permissions_box.setTitle(f"Permissions ({own:,} own, {total:,} in all)")
        self.members.clear()
        self._add_members(story.members)
        self.permissions.clear()
        self._add_permissions(story.permissions)
        if not story.permissions.rows:
            self._add(
                self.permissions,
                "No permissions yet: grant some in the Members and inheritance tab.",
                True,
            )

    def fetch_more_members(self) -> bool:
        """Read the next page of members; False when the list is already whole."""
        after = self._members_after
        if after is None or self._role_ref is None:
            return False
        ref, direct_only = self._role_ref, self.hide_inherited.isChecked()
        holders = self._holders

        def read(s: Session) -> Page:
            role_id = rbac.get_role(s, ref).id
            return role_stats.effective_members_page(
                s, role_id, after, MEMBERS_PER_PAGE, direct_only=direct_only, holders=holders
            )

        page = self._next_page(read)
        if page is not None:
            self._add_members(page)
        return page is not None

    def _next_page(self, read: Callable[[Session], Page]) -> Page | None:
        """A next page, read as if the pending edits were saved; None (said) on failure."""
        try:
            page, _problems = impact.with_pending(self._db, self._store.edits_for_save(), read)
        except AccessGuardError as exc:
            self._say(exc.message)
            return None
        return page

    def texts(self, which: QListWidget) -> list[str]:
        return [which.item(i).text() for i in range(which.count())]

    # ------------------------------------------------------------ internals

    def _read(self, ref: int | str, direct_only: bool) -> _Story:
        def read(s: Session) -> _Story:
            role = rbac.get_role(s, ref)
            counts = role_stats.member_counts(s, role.id)
            holders = counts.direct if direct_only else counts.total
            return _Story(
                role.name,
                counts,
                role_stats.permission_counts(s, role.id),
                role_stats.effective_members_page(
                    s, role.id, None, MEMBERS_PER_PAGE, direct_only=direct_only, holders=holders
                ),
                role_stats.effective_permissions_page(
                    s, role.id, None, PERMISSIONS_PER_PAGE, direct_only=direct_only
                ),
            )

        story, _problems = impact.with_pending(self._db, self._store.edits_for_save(), read)
        return story

    def fetch_more_permissions(self) -> bool:
        """Read the next page of permissions; False when the list is already whole."""
        after = self._permissions_after
        if after is None or self._role_ref is None:
            return False
        ref, direct_only = self._role_ref, self.hide_inherited.isChecked()

        def read(s: Session) -> Page:
            role_id = rbac.get_role(s, ref).id
            return role_stats.effective_permissions_page(
                s, role_id, after, PERMISSIONS_PER_PAGE, direct_only=direct_only
            )

        page = self._next_page(read)
        if page is not None:
            self._add_permissions(page)
        return page is not None

    def _add_permissions(self, page: Page) -> None:
        self._permissions_after = page.next_after
        for perm in page.rows:
            self._add(self.permissions, perm.label, perm.direct)

    def _permissions_scrolled(self, value: int) -> None:
        if value >= self.permissions.verticalScrollBar().maximum() and self._permissions_after:
            self.fetch_more_permissions()

    def _add_members(self, page: Page) -> None:
        self._members_after = page.next_after
        for member in page.rows:
            self._add(self.members, member.label, member.direct)
        if self.members.count() == 0:
            self._add(
                self.members,
                "Nobody holds this role yet: add members in the Members and inheritance tab.",
                True,
            )

    @staticmethod
    def _add(lst: QListWidget, text: str, direct: bool) -> None:
        item = QListWidgetItem(text)
        item.setToolTip(plain_tooltip(text if direct else "Inherited: " + text))
        if not direct:
            item.setForeground(GREY)
        lst.addItem(item)

    def _members_scrolled(self, value: int) -> None:
        if value >= self.members.verticalScrollBar().maximum() and self._members_after:
            self.fetch_more_members()

    def _say(self, text: str) -> None:
        self.message.setText(text)
        self.message.show()
