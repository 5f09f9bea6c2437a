"""Which formats AccessGuard reads and writes, and telling them apart by looking.

Registering a format is one line — in the format's own module (found automatically:
every module of this package defining ``FORMAT`` is registered when the registry is
first used)::

    FORMAT = Format("json", "AccessGuard JSON document", detect=looks_like, reader=JsonSource,
                    writer=write, target="file")

or anywhere with ``register(Format(...))``. ``detect(path)`` answers whether a path holds
the format (cheaply: a look at names or the first bytes); ``reader(path)`` returns an
import ``Source``; ``writer(records, target, options)`` writes an export.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InterchangeError, SourceFormatError
from .records import Record, Source

Detector = Callable[[Path], bool]
Reader = Callable[[Path], Source]
Writer = Callable[[Iterable[Record], Path, Any], Any]


@dataclass(frozen=True)
class Format:
    """An import/export format.

    Attributes:
        name: what ``--format`` takes ("csv-dir").
        title: what a format chooser shows ("AccessGuard CSV directory").
        detect: True if a path holds this format; None: never detected, only chosen.
        reader: makes an import ``Source`` of a path; None: export only.
        writer: writes records to a target path; None: import only.
        target: "directory" or "file": what the writer's target is.
        priority: detection order (lower first): a service database is recognised
            before anything looser.
    """

    name: str
    title: str
    detect: Detector | None = None
    reader: Reader | None = None
    writer: Writer | None = None
    target: str = "file"
    priority: int = 50

    def require_reader(self) -> Reader:
        if self.reader is None:
            raise InterchangeError(f"AccessGuard cannot import the {self.title} format.")
        return self.reader

    def require_writer(self) -> Writer:
        if self.writer is None:
            raise InterchangeError(f"AccessGuard cannot export to the {self.title} format.")
        return self.writer


_REGISTRY: dict[str, Format] = {}
_LOADED = False


def register(fmt: Format) -> Format:
    """Add (or replace) a format."""
    _REGISTRY[fmt.name] = fmt
    return fmt


def unregister(name: str) -> None:
    """Remove a format (tests, plug-ins being unloaded)."""
    _REGISTRY.pop(name, None)


def _load_builtins() -> None:
    global _LOADED
    if _LOADED:
        return
    _LOADED = True
    from . import csv_dir

    register(Format(
        "csv-dir", "AccessGuard CSV directory", detect=csv_dir.looks_like_csv_directory,
        reader=csv_dir.CsvDirectorySource, writer=csv_dir.write, target="directory",
    ))
    for adapter in (_service_db, _json_doc, _casbin):
        try:
            adapter()
        except ImportError:
            pass  # that format's module is not there (yet)
    package = __name__.rsplit(".", 1)[0]
    for info in pkgutil.iter_modules(importlib.import_module(package).__path__):
        if info.name.startswith("_") or info.name == "formats":
            continue
        try:
            module = importlib.import_module(f"{package}.{info.name}")
        except ImportError:
            continue
        declared = getattr(module, "FORMAT", None)
        if isinstance(declared, Format):
            register(declared)


def _service_db() -> None:
    from . import service_db

    register(Format(
        "service-db", "AccessGuard service database",
        detect=lambda p: p.is_file() and service_db.looks_like_service_database(p),
        reader=lambda p: service_db.ServiceSource(p), priority=10,
    ))


def _head(path: Path, size: int = 4096) -> bytes:
    if not path.is_file():
        return b""
    try:
        with open(path, "rb") as handle:
            return handle.read(size)
    except OSError:
        return b""


def _json_doc() -> None:
    from . import json_doc

    def write(records: Iterable[Record], target: Path, _options: Any) -> Any:
        return json_doc.write_file(records, target)

    register(Format(
        "json", "AccessGuard JSON document",
        detect=lambda p: json_doc.looks_like_document(_head(p)),
        reader=lambda p: json_doc.JsonSource(p), writer=write,
    ))


def _casbin() -> None:
    from . import casbin

    def write(records: Iterable[Record], target: Path, _options: Any) -> Any:
        return casbin.write_files(records, target)

    register(Format(
        "casbin", "Casbin RBAC policy (.csv with its model .conf)",
        detect=lambda p: casbin.looks_like_policy(_head(p)),
        reader=lambda p: casbin.CasbinSource(p), writer=write, priority=60,
    ))


def all_formats() -> list[Format]:
    """Every registered format, in detection order."""
    _load_builtins()
    return sorted(_REGISTRY.values(), key=lambda f: (f.priority, f.name))


def get_format(name: str) -> Format:
    _load_builtins()
    found = _REGISTRY.get(name)
    if found is None:
        known = ", ".join(f.name for f in all_formats())
        raise InterchangeError(f"Unknown format “{name}” (known: {known}).")
    return found


def detect_format(path: str | Path) -> Format:
    """The format of what ``path`` holds.

    Raises:
        SourceFormatError: nothing there, or no format recognises it.
    """
    where = Path(path)
    if not where.exists():
        raise SourceFormatError(str(where), 0, "does not exist")
    for fmt in all_formats():
        if fmt.detect is None or fmt.reader is None:
            continue
        try:
            if fmt.detect(where):
                return fmt
        except OSError:
            continue
    names = ", ".join(f.name for f in all_formats() if f.reader is not None)
    raise SourceFormatError(
        str(where), 0, f"is in no format AccessGuard can import (tried {names}); "
        "name one with --format"
    )


def open_source(path: str | Path, format_name: str | None = None) -> Source:
    """An import ``Source`` for ``path``, its format detected unless named."""
    fmt = get_format(format_name) if format_name else detect_format(path)
    return fmt.require_reader()(Path(path))
