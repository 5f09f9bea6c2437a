"""Importing an organisation: plan → dry-run report → apply, for every format.

    plan = plan_import(db, source, Mode.UPDATE)      # stage + check; writes nothing
    for row in plan.rows(): ...                      # the dry run, row by row (file:line)
    result = apply_import(db, plan)                  # one transaction, or ImportRefusedError
    plan.close()

``import_source`` does both in one go (the command line). The source is read once, into
a staging file (``staging.py``); the checks (``checks.py``) run again inside the write
transaction of ``apply_import`` against the database as it is then, so a change made
between the dry run and the import cannot slip past them. Any refused row refuses the
whole import: nothing is written. The writes (``apply.py``) are set-based and audited as
one action, "Import from <source>", with one entry per record.

Progress callbacks receive ``Progress`` values between batches; a ``cancelled`` callable
returning True stops the work (ImportCancelledError) with nothing written.
"""

from __future__ import annotations

import csv
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self, TextIO

from sqlalchemy import Connection

from .. import operators
from ..database import Database
from ..errors import ImportRefusedError
from ..operators import AppAction
from .apply import apply
from .cells import neutralise
from .checks import KEYS, Checker, Mode
from .records import Origin, Source
from .staging import KINDS, CancelCheck, Progress, ProgressCallback, Staging

__all__ = [
    "ImportPlan",
    "ImportResult",
    "Mode",
    "Progress",
    "ReportRow",
    "apply_import",
    "import_source",
    "plan_import",
]

VERDICTS = ("add", "change", "leave", "remove", "refuse", "warn")
VERDICT_WORDS = {
    "add": "would be added",
    "change": "would be changed",
    "leave": "left alone",
    "remove": "would be removed",
    "refuse": "refused",
    "warn": "warnings",
}
# What one row of each staged table is called in the report and the summary.
TABLE_WORDS = {
    "users": ("user", "users"),
    "roles": ("role", "roles"),
    "role_parents": ("inheritance", "inheritances"),
    "resources": ("resource", "resources"),
    "permissions": ("permission", "permissions"),
    "user_roles": ("assignment", "assignments"),
    "role_permissions": ("grant", "grants"),
    "ssd_sets": ("separation-of-duty set", "separation-of-duty sets"),
    "ssd_set_roles": ("set member", "set members"),
}


@dataclass(frozen=True, slots=True)
class ReportRow:
    """One line of the dry run.

    Attributes:
        origin: the source row (file:line); None for what mirror mode would remove.
        verdict: add, change, leave, remove, refuse or warn.
        table: the staged table ("users", "user_roles", …; a file problem: "").
        key: the record in words ("alice", "alice → Staff").
        detail: why it is refused, what changes (old → new), or a note.
    """

    origin: Origin | None
    verdict: str
    table: str
    key: str
    detail: str

    @property
    def where(self) -> str:
        """``file:line``, the file alone for a whole file, "(database)" for removals."""
        if self.origin is None:
            return "(database)"
        return str(self.origin) if self.origin.line else self.origin.file

    @property
    def record(self) -> str:
        """The kind of record in words ("user")."""
        return TABLE_WORDS.get(self.table, (self.table, self.table))[0]


@dataclass
class ImportResult:
    """What an applied import wrote: (table, verdict) → rows."""

    source_name: str
    mode: Mode
    counts: dict[tuple[str, str], int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def summary(self) -> str:
        return _summary_text(self.counts, past=True) or "Nothing to change."


class ImportPlan:
    """The dry run of one import: the staged source, checked against the database.

    Attributes:
        source_name: the source's name ("Import from <source_name>").
        mode: the import mode it was checked for.
    """

    def __init__(self, staging: Staging, mode: Mode) -> None:
        self.staging = staging
        self.mode = mode
        self.source_name = staging.source_name
        self._counts: dict[tuple[str, str], int] | None = None

    # ------------------------------------------------------------------ facts

    def counts(self) -> dict[tuple[str, str], int]:
        """(table, verdict) → rows, refusals and warnings included."""
        if self._counts is None:
            st = self.staging
            counts: dict[tuple[str, str], int] = {}
            for kind in KINDS:
                for verdict, n in st.rows(
                    f"SELECT verdict, count(*) FROM s_{kind} GROUP BY verdict"
                ):
                    counts[(kind, verdict or "leave")] = n
            for kind, n in st.rows("SELECT kind, count(*) FROM s_removals GROUP BY kind"):
                counts[(kind, "remove")] = n
            for kind, refuses, n in st.rows(
                "SELECT kind, refuses, count(*) FROM s_notes GROUP BY kind, refuses"
            ):
                verdict = "refuse" if refuses else "warn"
                counts[(kind, verdict)] = counts.get((kind, verdict), 0) + n
            self._counts = counts
        return dict(self._counts)

    def total(self, verdict: str) -> int:
        return sum(n for (_k, v), n in self.counts().items() if v == verdict)

    @property
    def refused(self) -> int:
        return self.total("refuse")

    @property
    def clean(self) -> bool:
        """True when nothing is refused: the import can be applied."""
        return self.refused == 0

    @property
    def changes(self) -> int:
        return self.total("add") + self.total("change") + self.total("remove")

    def summary(self) -> str:
        """One paragraph: what would be added, changed, removed, left alone, refused."""
        return _summary_text(self.counts(), past=False) or "The source holds no records."

    # ------------------------------------------------------------------ the report

    def rows(self, verdicts: Collection[str] | None = None) -> Iterator[ReportRow]:
        """The dry run row by row, in source order (file, line), then what mirror mode
        would remove. Streams from the staging file: fine for millions of rows."""
        wanted = set(verdicts) if verdicts is not None else set(VERDICTS)
        parts: list[str] = []
        for kind, (_keys, _word, shown) in KEYS.items():
            parts.append(
                f"SELECT file, line, seq, coalesce(verdict, 'leave') AS verdict, "
                f"'{kind}' AS kind, {shown} AS shown, coalesce(detail, '') AS detail "
                f"FROM s_{kind}"
            )
        parts.append(
            "SELECT file, line, seq, CASE WHEN refuses THEN 'refuse' ELSE 'warn' END, kind, "
            "'', message FROM s_notes"
        )
        marks = ",".join("?" * len(wanted))
        sql = (
            f"SELECT coalesce(f.name, ''), x.line, x.verdict, x.kind, coalesce(x.shown, ''), "
            f"x.detail FROM ({' UNION ALL '.join(parts)}) x LEFT JOIN s_files f "
            f"ON f.id = x.file WHERE x.verdict IN ({marks}) ORDER BY x.file, x.line, x.seq"
        )
        for name, line, verdict, kind, shown, detail in self.staging.rows(sql, sorted(wanted)):
            origin = Origin(name, line) if name else None
            if verdict == "leave" and not detail:
                detail = "Already in the database."
            yield ReportRow(origin, verdict, kind, shown, detail)
        if "remove" in wanted:
            covered = self.staging.covered
            for kind, label in self.staging.rows(
                "SELECT kind, label FROM s_removals ORDER BY seq"
            ):
                why = (
                    "Not in the source (mirror mode removes what the source lacks)."
                    if kind in covered
                    else "Goes with a record mirror mode removes."
                )
                yield ReportRow(None, "remove", kind, label, why)

    def write_report(self, out: TextIO, verdicts: Collection[str] | None = None) -> int:
        """The dry run as plain text lines (``where  verdict  record key: detail``)."""
        n = 0
        for row in self.rows(verdicts):
            out.write(f"{row.where}\t{row.verdict}\t{row.record} {row.key}"
                      f"{': ' + row.detail if row.detail else ''}\n")
            n += 1
        return n

    def save_report_csv(self, path: str | Path) -> None:
        """The dry run as a CSV file (formula cells neutralised)."""
        with open(path, "w", encoding="utf-8", newline="") as out:
            writer = csv.writer(out)
            writer.writerow(["file", "line", "verdict", "record", "key", "detail"])
            for row in self.rows():
                origin = row.origin
                writer.writerow([
                    neutralise(origin.file if origin else ""),
                    origin.line if origin else "",
                    row.verdict,
                    row.record,
                    neutralise(row.key),
                    neutralise(row.detail),
                ])

    def refusal_message(self, shown: int = 5) -> str:
        lines = [f"Import from {self.source_name} refused: {self.refused:,} "
                 f"row{'s' if self.refused != 1 else ''} refused; nothing was written."]
        for row in self.rows({"refuse"}):
            if shown == 0:
                break
            lines.append(f"{row.where}: {row.record} {row.key}: {row.detail}".replace(" : ", ": "))
            shown -= 1
        return "\n".join(lines)

    # ------------------------------------------------------------------ lifetime

    def close(self) -> None:
        self.staging.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _recheck(self, db: Database, conn: Connection) -> None:
        self._counts = None
        _check(self.staging, db, conn, self.mode)


def _summary_text(counts: dict[tuple[str, str], int], *, past: bool) -> str:
    words = {
        "add": "added" if past else "to add",
        "change": "changed" if past else "to change",
        "remove": "removed" if past else "to remove",
        "leave": "left alone",
        "refuse": "refused",
        "warn": "warnings",
    }
    parts = []
    for verdict in ("add", "change", "remove", "leave", "refuse", "warn"):
        items = [
            f"{n:,} {TABLE_WORDS.get(kind, (kind, kind))[0 if n == 1 else 1]}"
            for (kind, v), n in sorted(counts.items(), key=lambda kv: _order(kv[0][0]))
            if v == verdict and n
        ]
        if items:
            parts.append(f"{words[verdict].capitalize()}: {', '.join(items)}.")
    return " ".join(parts)


def _order(kind: str) -> int:
    return KINDS.index(kind) if kind in KINDS else len(KINDS)


def _check(staging: Staging, db: Database, conn: Connection, mode: Mode) -> None:
    """Attach (or copy) the target's committed state and run every check."""
    if db.dialect == "sqlite" and db.path is not None:
        staging.attach_target_file(db.path)
    else:
        staging.copy_target(conn)
    Checker(staging, mode).run()


def stage(
    source: Source,
    *,
    progress: ProgressCallback | None = None,
    cancelled: CancelCheck | None = None,
) -> Staging:
    """Read ``source`` into a new staging file (the caller closes it)."""
    staging = Staging(source.name)
    try:
        staging.load(source, progress=progress, cancelled=cancelled)
    except BaseException:
        staging.close()
        raise
    return staging


def plan_import(
    db: Database,
    source: Source,
    mode: Mode | str = Mode.UPDATE,
    *,
    progress: ProgressCallback | None = None,
    cancelled: CancelCheck | None = None,
) -> ImportPlan:
    """The dry run: read the source and check it against the database; writes nothing.

    Raises:
        SourceFormatError: the source is too malformed to read (file:line in the message).
        ImportCancelledError: ``cancelled`` returned True.
    """
    staging = stage(source, progress=progress, cancelled=cancelled)
    try:
        if progress is not None:
            progress(Progress("Checking", 0, None))
        with db.read() as session:
            _check(staging, db, session.connection(), Mode(mode))
        staging.detach_target()
    except BaseException:
        staging.close()
        raise
    return ImportPlan(staging, Mode(mode))


def apply_import(
    db: Database,
    plan: ImportPlan,
    *,
    progress: ProgressCallback | None = None,
    cancelled: CancelCheck | None = None,
) -> ImportResult:
    """Apply a plan in one transaction, audited as "Import from <source>".

    The checks run again on the database as it is inside the transaction; the plan's
    report is refreshed with their outcome.

    Raises:
        ImportRefusedError: a row is refused (``error.plan`` holds the report).
        ImportCancelledError: ``cancelled`` returned True; nothing was written.
        DatabaseError subclasses: busy, read-only, … (nothing was written).
    """
    result = ImportResult(plan.source_name, plan.mode)
    try:
        with db.action(f"Import from {plan.source_name}") as session:
            # Set-based writes bypass the operator gate: an import can rewrite anything
            # (mirror mode removes), so it is the administrators' (core/operators.py).
            operators.require(session, AppAction.ADMINISTER)
            conn = session.connection()  # takes the write lock before the checks read
            if progress is not None:
                progress(Progress("Checking", 0, None))
            plan._recheck(db, conn)
            if not plan.clean:
                raise ImportRefusedError(plan.refusal_message(), plan)
            stats = apply(
                plan.staging,
                conn,
                operator=str(session.info.get("operator", db.operator)),
                action=str(session.info.get("action")),
                progress=progress,
                cancelled=cancelled,
            )
            result.counts = stats.counts
    finally:
        plan.staging.detach_target()
    return result


def import_source(
    db: Database,
    source: Source,
    mode: Mode | str = Mode.UPDATE,
    *,
    progress: ProgressCallback | None = None,
    cancelled: CancelCheck | None = None,
) -> tuple[ImportPlan, ImportResult]:
    """Read, check and apply in one go (no separate dry-run pass over the database).

    Returns the plan (its report: the caller closes it) and what was written.
    """
    staging = stage(source, progress=progress, cancelled=cancelled)
    plan = ImportPlan(staging, Mode(mode))
    try:
        result = apply_import(db, plan, progress=progress, cancelled=cancelled)
    except ImportRefusedError:
        raise  # the report stays readable through the error's plan: the caller closes it
    except BaseException:
        plan.close()
        raise
    return plan, result


def summary_counts(counts: dict[tuple[str, str], int]) -> dict[str, Any]:
    """Counts per verdict (for machine-readable output)."""
    out: dict[str, Any] = {}
    for (kind, verdict), n in counts.items():
        out.setdefault(verdict, {})[kind] = n
    return out
