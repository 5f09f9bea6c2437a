"""The CSV directory format: malformed sources say file:line and write nothing;
Excel's BOM and CRLF are read; exports neutralise formulas and import back losslessly."""

from __future__ import annotations

import copy
import csv
from pathlib import Path

import pytest

from accessguard_gui.core import rbac
from accessguard_gui.core.database import Database
from accessguard_gui.core.errors import ImportRefusedError, InterchangeError, SourceFormatError
from accessguard_gui.core.interchange import cells
from accessguard_gui.core.interchange.csv_dir import (
    MAX_LINE_BYTES,
    CsvDirectorySource,
    write,
)
from accessguard_gui.core.interchange.export import ExportOptions, database_records
from accessguard_gui.core.interchange.pipeline import import_source
from accessguard_gui.core.interchange.records import RoleRecord, UserRecord

from .csvdirs import ORG, table_rows, write_dir


def _import(db: Database, folder: Path) -> None:
    plan, _ = import_source(db, CsvDirectorySource(folder))
    plan.close()


def _format_error(db: Database, folder: Path) -> str:
    before = table_rows(db)
    with pytest.raises(SourceFormatError) as caught:
        import_source(db, CsvDirectorySource(folder))
    assert table_rows(db) == before
    return str(caught.value)


def _refusals(db: Database, folder: Path) -> list[str]:
    before = table_rows(db)
    with pytest.raises(ImportRefusedError) as caught:
        import_source(db, CsvDirectorySource(folder))
    with caught.value.plan as plan:
        lines = [f"{r.where} {r.detail}" for r in plan.rows({"refuse"})]
    assert table_rows(db) == before
    return lines


def test_bad_encoding_names_file_and_line(db: Database, tmp_path: Path) -> None:
    folder = write_dir(tmp_path / "org", {"users.csv": [["username"], ["alice"]]})
    with open(folder / "users.csv", "ab") as out:
        out.write(b"j\xe9r\xf4me\n")
    assert _format_error(db, folder).startswith("users.csv:3: not UTF-8 text")


def test_a_huge_line_is_refused_without_reading_it_whole(db: Database, tmp_path: Path) -> None:
    folder = write_dir(tmp_path / "org", {"users.csv": [["username"], ["alice"]]})
    with open(folder / "users.csv", "ab") as out:
        out.write(b"x" * (MAX_LINE_BYTES * 3))
    assert "users.csv:3: the line is longer than 1 MiB" in _format_error(db, folder)


def test_an_unclosed_quote_is_refused(db: Database, tmp_path: Path) -> None:
    folder = tmp_path / "org"
    folder.mkdir()
    (folder / "roles.csv").write_text('name,description\nStaff,"never closed\n', "utf-8")
    assert _format_error(db, folder).startswith("roles.csv:2: not valid CSV")


def test_ragged_rows_are_refused_row_by_row(db: Database, tmp_path: Path) -> None:
    folder = tmp_path / "org"
    folder.mkdir()
    (folder / "roles.csv").write_text("name,description\nStaff,a,b\nClerk\nOk,fine\n", "utf-8")
    assert _refusals(db, folder) == [
        "roles.csv:2 The row has 3 fields, the header 2.",
        "roles.csv:3 The row has 1 fields, the header 2.",
    ]


def test_bom_and_crlf_as_excel_writes_them_are_read(db: Database, tmp_path: Path) -> None:
    folder = tmp_path / "org"
    folder.mkdir()
    (folder / "users.csv").write_bytes(
        b"\xef\xbb\xbfusername,display_name\r\nalice,\"Alice, Archer\"\r\nbob,Bob\r\n"
    )
    (folder / "roles.csv").write_bytes(b"name,description\r\nStaff,\"two\r\nlines\"\r\n")
    _import(db, folder)
    with db.read() as s:
        assert rbac.get_user(s, "alice").display_name == "Alice, Archer"
        assert rbac.get_user(s, "bob").display_name == "Bob"
        assert rbac.get_role(s, "Staff").description == "two\nlines"


def test_a_misnamed_file_is_refused(db: Database, tmp_path: Path) -> None:
    folder = write_dir(tmp_path / "org", {"roles.csv": [["name"], ["Staff"]],
                                          "Users.csv": [["username"], ["alice"]]})
    assert _refusals(db, folder) == [
        "Users.csv Unknown file Users.csv: did you mean users.csv? Nothing in it would be "
        "imported."
    ]


def test_a_folder_without_any_known_file_is_refused(tmp_path: Path) -> None:
    folder = write_dir(tmp_path / "org", {"people.csv": [["username"], ["alice"]]})
    with pytest.raises(SourceFormatError, match="not an AccessGuard CSV directory"):
        CsvDirectorySource(folder)


def test_missing_required_column_and_empty_file(db: Database, tmp_path: Path) -> None:
    folder = write_dir(tmp_path / "a", {"users.csv": [["name", "email"], ["alice", ""]]})
    assert "users.csv:1: the header lacks the column \u201cusername\u201d" in _format_error(
        db, folder)
    empty = tmp_path / "b"
    empty.mkdir()
    (empty / "roles.csv").write_bytes(b"")
    assert _format_error(db, empty).startswith("roles.csv:1: is empty")


def test_unknown_columns_are_reported_not_refused(db: Database, tmp_path: Path) -> None:
    folder = write_dir(tmp_path / "org", {"users.csv": [["username", "phone"], ["alice", "1"]]})
    plan, _ = import_source(db, CsvDirectorySource(folder))
    with plan:
        warnings = [f"{r.where} {r.detail}" for r in plan.rows({"warn"})]
    assert warnings == ["users.csv:1 Unknown column \u201cphone\u201d ignored "
                        "(known: username, display_name, email, active, password_hash)."]


def test_bad_values_are_refused_with_their_line(db: Database, tmp_path: Path) -> None:
    folder = write_dir(tmp_path / "org", {
        "users.csv": [["username", "active"], ["alice", "maybe"]],
        "ssd_sets.csv": [["name", "cardinality"], ["S", "two"]],
        "user_roles.csv": [["username", "role", "expires_at"], ["alice", "R", "next week"]],
    })
    lines = _refusals(db, folder)
    assert "users.csv:2 \u201cmaybe\u201d is not true or false." in lines
    assert "ssd_sets.csv:2 Cardinality \u201ctwo\u201d is not a whole number." in lines
    assert any(line.startswith("user_roles.csv:2 \u201cnext week\u201d is not a date")
               for line in lines)


@pytest.mark.parametrize(
    "text",
    ["=1+1", "+49 30", "-x", "@SUM(A1)", "\tx", "\rx", "'=1", "''+", "'plain", "plain", ""],
)
def test_neutralising_is_reversible(text: str) -> None:
    written = cells.neutralise(text)
    assert not written[:1] or written[0] not in cells.FORMULA_TRIGGERS
    assert cells.restore(written) == text


@pytest.mark.parametrize("risky_at", [None, 0, 2_049, 4_199])
def test_a_formula_anywhere_in_a_large_export_is_neutralised(
    tmp_path: Path, risky_at: int | None
) -> None:
    """Batches without a cell that starts like a formula are written as they are; one
    such cell anywhere (first, across a batch boundary, last) is neutralised, and every
    row reads exactly as the cell-by-cell writing gives it. A NUL inside a cell is
    only text."""
    users = [UserRecord(f"user{i:05d}", f"User {i}", None, i % 7 != 0) for i in range(4_200)]
    users[17] = UserRecord("user00017", "nul\x00=inside", "a@b.example", True)
    if risky_at is not None:
        users[risky_at] = UserRecord(users[risky_at].username, "=HYPERLINK(1)", "-x@y.example")
    roles = [RoleRecord(f"Role {i}", "@risk" if i == 3 else None) for i in range(10)]
    out = tmp_path / "export"
    write([*users, *roles], out, ExportOptions())
    with open(out / "users.csv", encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))[1:]
    assert rows == [
        [cells.neutralise(u.username), cells.neutralise(u.display_name or ""),
         cells.neutralise(u.email or ""), "false" if u.active is False else "true"]
        for u in users
    ]
    if risky_at is not None:
        assert rows[risky_at][1:3] == ["'=HYPERLINK(1)", "'-x@y.example"]
    assert rows[17][1] == "nul\x00=inside"
    with open(out / "roles.csv", encoding="utf-8", newline="") as handle:
        assert list(csv.reader(handle))[4] == ["Role 3", "'@risk"]


def test_export_neutralises_formulas_and_imports_back(
    db: Database, tmp_path: Path
) -> None:
    with db.action("Setup") as s:
        rbac.add_user(s, "alice", "=HYPERLINK(\"http://x\")", email="-alice@example.org")
        rbac.add_role(s, "Staff", "@risk +1")
    out = tmp_path / "export"
    write(database_records(db), out, ExportOptions())
    with open(out / "users.csv", encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[1][:3] == ["alice", "'=HYPERLINK(\"http://x\")", "'-alice@example.org"]
    other = Database(tmp_path / "copy.db", operator="tester")
    with other:
        _import(other, out)
        with other.read() as s:
            assert rbac.get_user(s, "alice").display_name == "=HYPERLINK(\"http://x\")"
            assert rbac.get_role(s, "Staff").description == "@risk +1"


def test_password_hashes_are_exported_only_when_asked(db: Database, tmp_path: Path) -> None:
    with db.action("Setup") as s:
        rbac.add_user(s, "alice", password="correct horse")
    write(database_records(db), tmp_path / "plain", ExportOptions())
    assert "argon2" not in (tmp_path / "plain" / "users.csv").read_text("utf-8")
    assert "password_hash" not in (tmp_path / "plain" / "users.csv").read_text("utf-8")
    write(database_records(db, with_password_hashes=True), tmp_path / "full",
          ExportOptions(with_password_hashes=True))
    assert "$argon2id$" in (tmp_path / "full" / "users.csv").read_text("utf-8")


def test_export_refuses_a_folder_holding_other_files(db: Database, tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "thesis.odt").write_text("precious", "utf-8")
    with pytest.raises(InterchangeError, match="holds other files"):
        write(database_records(db), tmp_path / "docs", ExportOptions())
    assert (tmp_path / "docs" / "thesis.odt").read_text("utf-8") == "precious"
    assert sorted(p.name for p in (tmp_path / "docs").iterdir()) == ["thesis.odt"]


def test_export_writes_every_file_and_reexport_replaces(db: Database, tmp_path: Path) -> None:
    rows = copy.deepcopy(ORG)
    _import(db, write_dir(tmp_path / "org", rows))
    out = tmp_path / "out"
    write(database_records(db), out, ExportOptions())
    first = {p.name: p.read_bytes() for p in out.iterdir()}
    write(database_records(db), out, ExportOptions())
    assert {p.name: p.read_bytes() for p in out.iterdir()} == first
    assert len(first) == 9
    assert first["ssd_set_roles.csv"] == b"set,role\r\nPayables,Approver\r\nPayables,Clerk\r\n"


def test_every_row_of_every_table_is_exported(db: Database, tmp_path: Path) -> None:
    _import(db, write_dir(tmp_path / "org", ORG))
    counts = write(database_records(db), tmp_path / "out", ExportOptions())
    assert counts == {name: len(rows) - 1 for name, rows in ORG.items()}
    for name, rows in ORG.items():
        with open(tmp_path / "out" / name, encoding="utf-8", newline="") as handle:
            assert len(list(csv.reader(handle))) == len(rows)
