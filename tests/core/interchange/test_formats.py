"""The format registry: detection by looking, one-line registration, export by name."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

from accessguard_gui.core.database import Database
from accessguard_gui.core.errors import InterchangeError, SourceFormatError
from accessguard_gui.core.interchange import formats
from accessguard_gui.core.interchange.csv_dir import CsvDirectorySource
from accessguard_gui.core.interchange.export import ExportOptions, export_database
from accessguard_gui.core.interchange.pipeline import import_source
from accessguard_gui.core.interchange.records import Origin, Record, RoleRecord, SourceProblem

from .csvdirs import ORG, write_dir


def test_a_csv_directory_is_detected(tmp_path: Path) -> None:
    folder = write_dir(tmp_path / "org", {"roles.csv": ORG["roles.csv"]})
    assert formats.detect_format(folder).name == "csv-dir"


def test_exported_files_are_detected_as_their_format(db: Database, tmp_path: Path) -> None:
    plan, _ = import_source(db, CsvDirectorySource(write_dir(tmp_path / "org", ORG)))
    plan.close()
    names = {f.name for f in formats.all_formats() if f.writer is not None}
    for name in sorted(names):
        fmt = formats.get_format(name)
        target = tmp_path / "out" / (name + ("" if fmt.target == "directory" else ".out"))
        target.parent.mkdir(exist_ok=True)
        export_database(db, target, name, ExportOptions())
        if fmt.detect is not None and fmt.reader is not None:
            assert formats.detect_format(target).name == name


def test_something_unknown_is_refused_with_a_hint(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("dear diary", "utf-8")
    with pytest.raises(SourceFormatError, match="--format"):
        formats.detect_format(tmp_path / "notes.txt")
    with pytest.raises(SourceFormatError, match="does not exist"):
        formats.detect_format(tmp_path / "missing")
    with pytest.raises(InterchangeError, match="Unknown format"):
        formats.get_format("xlsx-2099")


class _OneRole:
    name = "one"

    def __init__(self, path: Path) -> None:
        self.path = path

    def records(self) -> Iterator[tuple[Origin, Record | SourceProblem]]:
        yield Origin(self.path.name, 1), RoleRecord(self.path.read_text("utf-8").strip())


def test_registering_a_format_is_one_line(db: Database, tmp_path: Path) -> None:
    written: list[Record] = []

    def write(records: Iterable[Record], target: Path, options: Any) -> None:
        written.extend(records)

    formats.register(formats.Format("one-role", "One role per file", detect=lambda p:
                     p.suffix == ".role", reader=_OneRole, writer=write, priority=5))
    try:
        (tmp_path / "x.role").write_text("Guard\n", "utf-8")
        source = formats.open_source(tmp_path / "x.role")
        assert [r for _o, r in source.records()] == [RoleRecord("Guard")]
        export_database(db, tmp_path / "ignored", "one-role")
        assert written == []
    finally:
        formats.unregister("one-role")
