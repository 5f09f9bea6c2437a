"""Linked editing: "Open and edit" a service file like any AccessGuard database.

AccessGuard cannot edit the service's six tables in place (they have no room for display
names, inheritance, expiries, separation of duty or an audit trail), so it keeps a
*companion* AccessGuard database for each service file and keeps the two in step:

* **Refresh** (on open, and on View > Refresh) imports what the service added or changed
  since the last sync, through the ordinary import pipeline with its dry-run report;
* **Save** saves into the companion, then publishes it into the service file.

Where: ``<user data dir>/AccessGuard/linked/<name>-<hash>/`` (``linked_root()``), one
folder per service file, keyed by the file's real path (a hash of it, so the same file
reached through a symbolic link is the same link). The folder holds

* ``companion.db``  the AccessGuard database the window edits;
* ``baseline.db``   the service tables as AccessGuard last saw them (after the last import
  or publish): what tells "added through the service since" from "deleted in AccessGuard";
* ``link.json``     the service file's path and the sync state (last sync, unpublished
  changes, the last error).

When the service file cannot be brought up to date (busy, locked, moved), the companion
keeps every saved change and ``link.json`` says so; the next Save or Publish catches up.
The service's own additions since the last sync are kept by every publish (baseline), so
nothing is lost on either side.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import platformdirs

from .. import file_lock
from ..database import APP_NAME, Database
from ..errors import (
    AccessGuardError,
    ConflictError,
    DatabaseBusyError,
    ImportRefusedError,
    ReadOnlyDatabaseError,
)
from .pipeline import ImportPlan, ImportResult, Mode, apply_import, plan_import
from .publish import PublishOptions, PublishPlan, PublishResult, preview_publish, publish
from .service_db import ServiceSource, snapshot_to
from .service_plan import Progress
from .staging import ProgressCallback

LINK_FILE = "link.json"
SYNC_LOCK = "sync.lock"
#: How long a refresh or publish waits for another AccessGuard syncing the same link.
SYNC_WAIT_S = 30.0
COMPANION = "companion.db"
BASELINE = "baseline.db"
INCOMING = "incoming.db"


def linked_root() -> Path:
    """Where companions live: ``~/.local/share/AccessGuard/linked`` on Linux."""
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)) / "linked"


def folder_name(service: Path) -> str:
    """``accessguard-1a2b3c4d5e6f`` for a service file: readable, and unique per real path."""
    real = str(service.resolve())
    digest = hashlib.sha256(real.encode("utf-8", "surrogatepass")).hexdigest()[:12]
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", service.stem)[:40] or "service"
    return f"{stem}-{digest}"


class NotSyncedError(AccessGuardError):
    """A linked file was never read into its companion: publishing it is refused."""


@dataclass
class LinkState:
    """What ``link.json`` remembers.

    Attributes:
        service: the service file's real path.
        last_sync: when the companion and the service file last agreed (ISO, UTC).
        unpublished: True when saved changes have not reached the service file yet.
        last_error: why the last publish or refresh failed ("" when it did not).
        last_reason: the same in a few words, for the status line ("it was busy").
    """

    service: str
    last_sync: str | None = None
    unpublished: bool = False
    last_error: str = ""
    last_reason: str = ""


@dataclass(frozen=True, slots=True)
class RefreshPlan:
    """The dry run of a refresh: what the service changed since the last sync."""

    plan: ImportPlan
    incoming: Path
    baseline_stamp: tuple[int, int] | None

    def close(self) -> None:
        self.plan.close()
        self.incoming.unlink(missing_ok=True)


class ServiceLink:
    """One service file and its companion.

    Attributes:
        folder: the link's folder (see the module docstring).
        service: the service file.
    """

    def __init__(self, folder: Path, state: LinkState) -> None:
        self.folder = folder
        self.state = state
        self.service = Path(state.service)

    # ------------------------------------------------------------------ finding links

    @classmethod
    def for_service(
        cls, service: str | os.PathLike[str], *, root: Path | None = None
    ) -> ServiceLink:
        """The link of a service file, made (folder and state) if it is new."""
        real = Path(service).expanduser().resolve()
        folder = (root or linked_root()) / folder_name(real)
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        existing = cls.load(folder)
        if existing is not None:
            return existing
        link = cls(folder, LinkState(service=str(real)))
        link.save_state()
        return link

    @classmethod
    def load(cls, folder: Path) -> ServiceLink | None:
        try:
            data = json.loads((folder / LINK_FILE).read_text(encoding="utf-8"))
            return cls(folder, LinkState(**data))
        except (OSError, ValueError, TypeError):
            return None

    @classmethod
    def of_database(cls, db: Database) -> ServiceLink | None:
        """The link whose companion ``db`` is, or None for an ordinary database."""
        if db.path is None or db.path.name != COMPANION:
            return None
        return cls.load(db.path.parent)

    # ------------------------------------------------------------------ files and state

    @property
    def companion(self) -> Path:
        return self.folder / COMPANION

    @property
    def baseline(self) -> Path:
        return self.folder / BASELINE

    @property
    def synced_once(self) -> bool:
        """False until the first import from the service file has been applied."""
        return self.baseline.exists()

    def save_state(self) -> None:
        tmp = self.folder / (LINK_FILE + ".partial")
        tmp.write_text(json.dumps(asdict(self.state), indent=2), encoding="utf-8")
        os.replace(tmp, self.folder / LINK_FILE)

    def _sync_turn(self) -> contextlib.AbstractContextManager[None]:
        """Take turns with other AccessGuard processes linked to the same service file.

        Each reads the baseline, changes the service file or the companion, then writes
        the baseline and ``link.json``; two doing that at once would each keep their own
        baseline and lose what the other saw. The lock is a file in the link's folder
        (core/file_lock.py: flock, never on a database file)."""
        return file_lock.exclusive(
            self.folder / SYNC_LOCK,
            timeout=SYNC_WAIT_S,
            busy_message=(
                f"Another AccessGuard window is bringing {self.service.name} up to date; "
                "nothing was changed. Try again in a moment."
            ),
        )

    def _reload_state(self) -> None:
        """What another process recorded since this one read ``link.json``."""
        fresh = ServiceLink.load(self.folder)
        if fresh is not None:
            self.state = fresh.state

    def _record(
        self, *, synced: bool | None = None, error: str | None = None, reason: str = ""
    ) -> None:
        self._reload_state()
        if synced is not None:
            self.state.unpublished = not synced
            if synced:
                self.state.last_sync = datetime.now(UTC).isoformat(timespec="seconds")
        if error is not None:
            self.state.last_error = error
            self.state.last_reason = reason if error else ""
        self.save_state()

    def _failed(self, exc: AccessGuardError, *, synced: bool | None = None) -> None:
        self._record(synced=synced, error=str(exc), reason=short_reason(exc))

    def open_companion(self, *, operator: str | None = None, read_only: bool = False) -> Database:
        """The companion database (made on first use)."""
        return Database(self.companion, create=True, operator=operator, read_only=read_only)

    def status(self) -> str:
        """One line for the window: in step, or what is behind and how to catch up (the
        full reason of the last failure is ``state.last_error``)."""
        name = self.service.name
        if not self.service.exists():
            return (
                f"{name} is not there any more (moved or deleted): your changes are kept "
                "here; File > Publish to service database… writes them where you choose."
            )
        reason = self.state.last_reason or "an error"
        if self.state.unpublished:
            return (
                f"Saved changes are not in {name} yet ({reason}): Save again or use "
                "File > Publish to service database… to catch up."
            )
        if self.state.last_error:
            return f"{name} could not be read in ({reason}): Refresh (F5) to try again."
        return f"Linked to {name}; in step since {_local(self.state.last_sync)}."

    # ------------------------------------------------------------------ refresh

    def plan_refresh(
        self,
        db: Database,
        *,
        progress: ProgressCallback | None = None,
        cancelled: Callable[[], bool] | None = None,
    ) -> RefreshPlan:
        """The dry run of importing what the service added or changed since the last sync
        (everything, the first time). Writes nothing but a private snapshot."""
        incoming = self.folder / INCOMING
        try:
            snapshot_to(self.service, incoming)
        except AccessGuardError as exc:
            self._failed(exc)
            raise
        source = ServiceSource(
            incoming,
            since=self.baseline if self.synced_once else None,
            snapshot=False,
            name=self.service.name,
        )
        try:
            plan = plan_import(db, source, Mode.UPDATE, progress=progress, cancelled=cancelled)
        except BaseException:
            incoming.unlink(missing_ok=True)
            raise
        return RefreshPlan(plan, incoming, self._baseline_stamp())

    def _baseline_stamp(self) -> tuple[int, int] | None:
        try:
            st = self.baseline.stat()
        except OSError:
            return None
        return st.st_mtime_ns, st.st_size

    def apply_refresh(
        self,
        db: Database,
        refresh: RefreshPlan,
        *,
        progress: ProgressCallback | None = None,
        cancelled: Callable[[], bool] | None = None,
    ) -> ImportResult:
        """Apply a refresh's plan; then the snapshot it read becomes the baseline.

        Raises:
            ConflictError: a publish happened since the plan was made (its snapshot is
                older than what the service file holds now): refresh again.
        """
        with self._sync_turn():
            if self._baseline_stamp() != refresh.baseline_stamp:
                error = ConflictError("service file", {})
                error.message = (
                    f"{self.service.name} was published to since these changes were read; "
                    "nothing was imported. Refresh again to see what the service changed."
                )
                raise error
            try:
                result = apply_import(db, refresh.plan, progress=progress, cancelled=cancelled)
            except AccessGuardError as exc:
                self._failed(exc)
                raise
            os.replace(refresh.incoming, self.baseline)
            self._reload_state()
            self._record(synced=not self.state.unpublished, error="")
        return result

    # ------------------------------------------------------------------ publish

    def _require_synced(self) -> None:
        if not self.synced_once:
            raise NotSyncedError(
                f"{self.service.name} has not been read into AccessGuard yet, so publishing "
                "could undo what the service holds. Refresh (F5) first."
            )

    def options(self) -> PublishOptions:
        return PublishOptions(
            baseline=self.baseline if self.synced_once else None, create=False
        )

    def preview_publish(self, db: Database, *, progress: Progress | None = None) -> PublishPlan:
        self._require_synced()
        return preview_publish(db, self.service, self.options(), progress=progress)

    def publish(
        self,
        db: Database,
        *,
        expected: PublishPlan | None = None,
        progress: Progress | None = None,
        cancelled: Callable[[], bool] | None = None,
    ) -> PublishResult:
        """Publish the companion into the service file; on failure the companion keeps
        everything and the link remembers that the service file is behind."""
        try:
            with self._sync_turn():
                self._require_synced()
                result = publish(
                    db,
                    self.service,
                    self.options(),
                    expected=expected,
                    progress=progress,
                    cancelled=cancelled,
                    baseline_out=self.baseline,
                )
                self._record(synced=True, error="")
        except AccessGuardError as exc:
            self._failed(exc, synced=False)
            raise
        return result

    def mark_unpublished(self) -> None:
        """Saved changes exist that have not been published (called before publishing,
        so a crash in between is remembered)."""
        self._record(synced=False)


def short_reason(exc: AccessGuardError) -> str:
    """A failure in a few words for the status line."""
    text = str(exc).lower()
    if isinstance(exc, DatabaseBusyError):
        return "it was busy"
    if "not there any more" in text:
        return "it was moved or deleted"
    if isinstance(exc, ReadOnlyDatabaseError) or "cannot be written" in text:
        return "it cannot be written"
    if isinstance(exc, ConflictError):
        return "it changed meanwhile"
    if isinstance(exc, NotSyncedError):
        return "it was never read in"
    if isinstance(exc, ImportRefusedError):
        return "rows were refused"
    return "an error; see the tooltip"


def _local(moment: str | None) -> str:
    if not moment:
        return "never"
    try:
        return datetime.fromisoformat(moment).astimezone().strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return moment
