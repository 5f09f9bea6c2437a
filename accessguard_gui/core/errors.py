"""Typed errors the core raises; every message is written to be shown to a person as-is."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


class AccessGuardError(Exception):
    """Base of every expected failure. ``str(error)`` is the message for the user."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ValidationError(AccessGuardError):
    """A value does not meet the rules (empty, too long, bad characters, bad e-mail...).

    Attributes:
        field: the name of the offending field, so a form can show the message beside it.
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class DuplicateError(AccessGuardError):
    """A record with the same unique key already exists."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class NotFoundError(AccessGuardError):
    """A referenced record does not exist (any more)."""


class CycleError(AccessGuardError):
    """A role inheritance would create a cycle.

    Attributes:
        cycle: role names along the cycle, first == last ("Auditor", "Staff", "Auditor").
    """

    def __init__(self, cycle: Sequence[str]) -> None:
        self.cycle = tuple(cycle)
        if len(self.cycle) <= 2:
            text = f"A role cannot inherit from itself ({self.cycle[0]})."
        else:
            text = "This inheritance would create a cycle: " + " \u2192 ".join(self.cycle) + "."
        super().__init__(text)


class SeparationOfDutyError(AccessGuardError):
    """A change would authorize a user for too many roles of a separation-of-duty set.

    Attributes:
        ssd_set: the name of the violated set.
        cardinality: the set's limit n (no user may hold n or more of its roles).
        violations: username -> the roles of the set that user would be authorized for.
        complete: False when ``violations`` lists only some of the users (the check stops
            after a few); the message then says "at least".
    """

    def __init__(
        self,
        ssd_set: str,
        cardinality: int,
        violations: Mapping[str, Sequence[str]],
        *,
        complete: bool = True,
    ) -> None:
        self.ssd_set = ssd_set
        self.cardinality = cardinality
        self.violations = {user: tuple(roles) for user, roles in violations.items()}
        self.complete = complete
        shown = list(self.violations.items())[:3]
        parts = [f"{user} would hold {', '.join(roles)}" for user, roles in shown]
        more = len(self.violations) - len(shown)
        if complete:
            tail = f" (and {more} more users)" if more > 0 else ""
        else:
            tail = f" (and at least {more + 1} more users)"
        super().__init__(
            f"Separation of duty \u201c{ssd_set}\u201d allows fewer than {cardinality} of its "
            f"roles per user: {'; '.join(parts)}{tail}."
        )


class ConflictError(AccessGuardError):
    """Someone else changed or deleted the record since it was read.

    Attributes:
        record: a human label of the record ("user alice").
        theirs: the record's current values in the database, or None if it was deleted.
    """

    def __init__(self, record: str, theirs: Mapping[str, Any] | None) -> None:
        self.record = record
        self.theirs = dict(theirs) if theirs is not None else None
        if theirs is None:
            text = f"The {record} was deleted by someone else since you loaded it."
        else:
            text = f"The {record} was changed by someone else since you loaded it."
        super().__init__(text)


class DatabaseError(AccessGuardError):
    """Base of failures about the database file or server itself."""


class DatabaseBusyError(DatabaseError):
    """Another program holds the write lock longer than we are willing to wait."""

    def __init__(self, message: str = "The database is busy \u2014 try again.") -> None:
        super().__init__(message)


class ReadOnlyDatabaseError(DatabaseError):
    """The database was opened read-only (or the file cannot be written)."""

    def __init__(
        self, message: str = "The database is open read-only; changes cannot be saved."
    ) -> None:
        super().__init__(message)


class DatabaseOpenError(DatabaseError):
    """The database cannot be opened; the file is left untouched.

    Attributes:
        path: the file (or URL) that was refused.
    """

    def __init__(self, message: str, path: str) -> None:
        super().__init__(message)
        self.path = path


class NotADatabaseError(DatabaseOpenError):
    """The file is not an SQLite database at all."""


class CorruptDatabaseError(DatabaseOpenError):
    """The file looks like SQLite but is damaged."""


class ForeignDatabaseError(DatabaseOpenError):
    """A valid SQLite database, but not an AccessGuard one."""


class ServiceDatabaseFound(ForeignDatabaseError):
    """The file is the AccessGuard web service's own ``accessguard.db``: not opened as a
    desktop database, but not refused either — the caller offers linked editing or an
    import (core/interchange/service_db.py). The file was not written.

    Attributes:
        summary: "an AccessGuard service database: 1,204 users, 37 roles, …".
        notes: its oddities in plain words (NULL active flags, duplicate rows, …).
    """

    def __init__(self, path: str, summary: str, notes: Sequence[str] = ()) -> None:
        super().__init__(
            f"{path} is {summary}. AccessGuard can edit it (linked to a companion "
            "database) or import it.",
            path,
        )
        self.summary = summary
        self.notes = tuple(notes)


class NewerSchemaError(DatabaseOpenError):
    """The file was written by a newer AccessGuard than this one."""


class MigrationError(DatabaseOpenError):
    """Upgrading an older file failed; the original was restored from the backup."""


class SpecialFileError(DatabaseOpenError):
    """Not a regular file (a FIFO, a device, a socket, a dangling link): never read from,
    never written to, no side files made next to it."""


class EmptyFileError(DatabaseOpenError):
    """An existing 0-byte file was asked to be opened (not created): the user decides
    whether it becomes a new database (open it again with ``create=True``)."""


class HotJournalError(DatabaseOpenError):
    """Another SQLite program stopped mid-write and left a rollback journal that must be
    played back, which needs write access to the file and its folder."""


class InterchangeError(AccessGuardError):
    """Base of import/export failures (core/interchange); nothing was written."""


class SourceFormatError(InterchangeError):
    """An import source is malformed (encoding, quoting, a line too long, missing files).

    Attributes:
        file: the file (inside the source) at fault; line: its 1-based line, or 0.
    """

    def __init__(self, file: str, line: int, message: str) -> None:
        where = f"{file}:{line}" if line else file
        super().__init__(f"{where}: {message}")
        self.file = file
        self.line = line


class ImportRefusedError(InterchangeError):
    """An import found refused rows; nothing was written. ``plan`` holds the report."""

    def __init__(self, message: str, plan: Any = None) -> None:
        super().__init__(message)
        self.plan = plan


class ImportCancelledError(InterchangeError):
    """The user cancelled an import or export; nothing was written."""

    def __init__(self, message: str = "The import was cancelled; nothing was written.") -> None:
        super().__init__(message)


class QueryStoppedError(AccessGuardError):
    """A long query (a search or count) was stopped: cancelled by the user, or it ran past
    the time it was given (``browse.bounded``). Nothing was changed.

    Attributes:
        timed_out: True if the time ran out, False if the user cancelled.
    """

    def __init__(self, message: str, *, timed_out: bool = False) -> None:
        super().__init__(message)
        self.timed_out = timed_out


class HistoryNotCoveredError(AccessGuardError):
    """The audit trail of the file starts after the moment asked about (or is empty), so
    the access at that moment cannot be reconstructed (core/governance/history.py).

    Attributes:
        moment: the moment asked about. start: when the trail begins (None: no entries).
    """

    def __init__(self, moment: Any, start: Any) -> None:
        when = f"{moment:%Y-%m-%d %H:%M} UTC"
        if start is None:
            text = f"This file has no audit trail, so it cannot say what was true on {when}."
        else:
            text = (
                f"This file's audit trail starts on {start:%Y-%m-%d %H:%M} UTC; it cannot say "
                f"what was true on {when}."
            )
        super().__init__(text)
        self.moment = moment
        self.start = start


class OperatorError(AccessGuardError):
    """Base of refusals about who is at the keyboard (core/operators.py)."""


class OperatorPermissionError(OperatorError):
    """The operator may not do this: the change was refused and the file left unchanged.

    Attributes:
        operator: who tried ("bob").
        action: the AccessGuard action it needs ("edit users").
    """

    def __init__(self, operator: str, action: str, message: str | None = None) -> None:
        super().__init__(
            message
            or f"Signed in as {operator}, who may not {action} (needs AccessGuard: {action})."
        )
        self.operator = operator
        self.action = action


class SignInError(OperatorError):
    """A sign-in was refused. The same message for a wrong name, a wrong password, an
    inactive user and a user without AccessGuard: view, so that the answer never tells
    which names exist.

    Attributes:
        retry_after: seconds to wait before the next attempt is checked at all (0: now).
    """

    def __init__(self, retry_after: float = 0.0, message: str | None = None) -> None:
        self.retry_after = max(0.0, float(retry_after))
        if message is None:
            message = "Wrong user name or password, or this user may not sign in."
            if self.retry_after > 0:
                message += f" Try again in {_seconds(self.retry_after)}."
        super().__init__(message)


class SignInRequiredError(OperatorError):
    """The database requires sign-in and nobody is signed in."""

    def __init__(
        self, message: str = "This database requires sign-in: sign in as an operator first."
    ) -> None:
        super().__init__(message)


class LockoutError(OperatorError):
    """A change would leave a database that requires sign-in without anyone able to
    administer it (nobody could switch sign-in off or grant rights again)."""


def _seconds(value: float) -> str:
    whole = max(1, int(value + 0.999))
    return f"{whole} second{'s' if whole != 1 else ''}"
