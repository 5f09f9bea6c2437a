"""Help > Guide: the ideas behind AccessGuard, in people's words, and the shortcuts.

A new administrator meets RBAC words (roles, inheritance, separation of duty) and our own
way of working (nothing is written until Save). The guide explains each in a few lines.
It is static text written here — nothing from a database is ever put into its HTML; the
shortcut list is built from the window's own actions and escaped.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTextBrowser, QVBoxLayout, QWidget

from .. import __version__

IDEAS = """
<h2>AccessGuard {version}</h2>
<p>AccessGuard keeps the records of <b>who may do what</b>: users, roles, resources and
permissions, and the audit trail of every change, in one database file.</p>

<h3>Users, roles and permissions</h3>
<p>A <b>permission</b> is an action on a resource (<i>Payroll: approve</i>). Permissions are
granted to <b>roles</b> (<i>Payroll clerk</i>), never to people directly; <b>users</b> are
assigned roles. A user may do an action on a resource when one of their active, unexpired
role assignments leads to a role holding that permission. An inactive user may do nothing.</p>

<h3>Role inheritance</h3>
<p>A role can <b>inherit from</b> another: <i>Payroll manager</i> inherits from <i>Payroll
clerk</i> and so holds every permission of the clerk, plus its own. Inheritance can go
several levels deep but never in a circle — AccessGuard refuses a link that would make one.
The access check and Effective access show the path that grants each permission.</p>

<h3>Separation of duty</h3>
<p>A <b>separation-of-duty set</b> names roles that no single person may hold too many of
(for example: nobody may both <i>create</i> and <i>approve</i> payments). AccessGuard refuses
an assignment that would break a set, and Access &gt; Separation of duty lists violations
in existing data.</p>

<h3>Nothing is written until you save</h3>
<p>Every edit — in a table, a form or an access window — stays <b>pending</b>: marked in the
table and with a * in the title. <b>Review changes</b> (Ctrl+Shift+S) shows what access each
user would gain or lose. <b>Save</b> (Ctrl+S) writes all pending edits in one transaction
with their audit entries, or nothing at all if any of them is refused; <b>Undo</b> (Ctrl+Z)
and <b>Revert</b> take edits back before saving.</p>

<h3>Working from the keyboard</h3>
<p>The keyboard starts in the table. <b>Typing</b> a name jumps to the first row whose sorted
column starts with it — it never changes a cell. <b>F2</b> edits the current cell;
<b>Enter</b> or a double-click opens the record's form on that field. <b>Tab</b> moves on to
the details pane and the navigation list, <b>Shift+Tab</b> back. In the search box,
<b>Enter</b> or <b>Down</b> goes to the results and <b>Escape</b> clears it. <b>Escape</b> or
<b>Ctrl+W</b> closes an access window.</p>

<h3>The audit trail</h3>
<p>Every saved change is recorded: who, when, which record, the values before and after.
Entries are chained by hashes, so File &gt; Check database notices an entry changed or
removed behind AccessGuard's back.</p>

<h3><a name="operators"></a>Operators and sign-in</h3>
<p>A database can <b>require sign-in</b> (File &gt; Operators and sign-in…). Operators are
users of the same database and sign in with their password; what each may change —
view, edit users, edit roles and permissions, assign roles, edit separation of duty,
review, administer — is granted through roles on the resource <i>AccessGuard</i>, like any
other permission. Whatever an operator may not do is greyed out, with the reason on hover.
Wrong passwords slow the next attempt down, and every save names the signed-in operator in
the audit trail.</p>
<p><b>What sign-in is not:</b> on a database file it is no lock. Anyone who can write the
file can change it without AccessGuard. Sign-in gives accountability and protection from
mistakes; the audit trail's hash chain makes changes made behind AccessGuard's back
detectable (File &gt; Check database). Keep the file where only administrators can write
it. On a database server, the server's own logins decide what a connection may do.</p>

<h3>Your files are safe</h3>
<p>A file of an older AccessGuard is upgraded after a backup next to it. A file that is
damaged, read-only, of another application or of a newer version is refused and left as it
was. If two people edit the same record, the second save is stopped and asks.</p>
"""


def guide_html(actions: Sequence[QAction]) -> str:
    """The guide with the window's keyboard shortcuts appended (escaped)."""
    rows = "".join(
        # iconText: "Undo", not the pending change the menu names ("Undo Change user …").
        f"<tr><td>{html.escape(a.iconText().replace('&', '').rstrip('…'))}</td>"
        f"<td>&nbsp;&nbsp;{html.escape(a.shortcut().toString())}</td></tr>"
        for a in actions
        if not a.shortcut().isEmpty()
    )
    return IDEAS.format(version=__version__) + f"<h3>Keyboard shortcuts</h3><table>{rows}</table>"


class GuideDialog(QDialog):
    """Help > Guide (F1): the ideas and the shortcuts, in a scrollable page."""

    def __init__(self, actions: Sequence[QAction], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("AccessGuard guide")
        self.resize(640, 720)
        self.browser = QTextBrowser(self)
        self.browser.setOpenLinks(False)
        self.browser.setHtml(guide_html(actions))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.browser)
        layout.addWidget(buttons)
