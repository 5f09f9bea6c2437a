"""The command line: import, export and publish without a display; exit codes and
reports on stderr."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest
from core.interchange.csvdirs import ORG, table_rows, write_dir

from accessguard_gui import cli
from accessguard_gui.core import rbac
from accessguard_gui.core.database import Database


def run(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(list(args), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_import_creates_the_database_and_reports(tmp_path: Path) -> None:
    folder = write_dir(tmp_path / "org", ORG)
    target = tmp_path / "new.db"
    code, out, err = run("import", str(folder), "--into", str(target))
    assert (code, err) == (0, "")
    assert "Imported org into" in out and "Added: 3 users" in out
    with Database(target) as db, db.read() as s:
        assert rbac.check_access(s, "alice", "Ledger", "write").allowed


def test_a_dry_run_prints_every_row_and_creates_nothing(tmp_path: Path) -> None:
    folder = write_dir(tmp_path / "org", ORG)
    target = tmp_path / "new.db"
    code, out, _err = run("import", str(folder), "--into", str(target), "--dry-run")
    assert code == 0
    assert "users.csv:2\tadd\tuser alice" in out
    assert "Nothing was written." in out
    assert not target.exists()


def test_a_refused_import_exits_non_zero_with_the_rows_on_stderr(tmp_path: Path) -> None:
    target = tmp_path / "org.db"
    with Database(target, operator="tester") as db:
        with db.action("Setup") as s:
            rbac.add_user(s, "alice")
        before = table_rows(db)
    folder = write_dir(tmp_path / "bad", {"users.csv": [["username"], ["Alice"], ["bob!"]],
                                          "user_roles.csv": [["username", "role"],
                                                             ["alice", "Ghost"]]})
    report = tmp_path / "report.csv"
    code, out, err = run("import", str(folder), "--into", str(target), "--mode", "add",
                         "--report", str(report))
    assert code == 1
    assert "refused: 2 rows refused; nothing was written." in err
    assert "users.csv:3: user bob!: Username may contain only" in err
    assert "user_roles.csv:2: assignment alice \u2192 Ghost: Unknown role \u201cGhost\u201d" in err
    assert "Imported" not in out
    assert "user_roles.csv,2,refuse,assignment" in report.read_text("utf-8")
    with Database(target) as db:
        assert table_rows(db) == before


def test_a_malformed_source_exits_non_zero(tmp_path: Path) -> None:
    folder = write_dir(tmp_path / "org", {"users.csv": [["username"], ["alice"]]})
    (folder / "users.csv").write_bytes(b"username\n\xff\xfe\n")
    target = tmp_path / "x.db"
    code, _out, err = run("import", str(folder), "--into", str(target))
    assert code == 1
    assert "users.csv:2: not UTF-8 text" in err and "Nothing was written." in err


def test_an_unrecognised_source_asks_for_a_format(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello", "utf-8")
    code, _out, err = run("import", str(tmp_path / "notes.txt"), "--into",
                          str(tmp_path / "x.db"))
    assert code == 1 and "name one with --format" in err
    assert not (tmp_path / "x.db").exists()


def test_export_then_import_round_trips(tmp_path: Path) -> None:
    source = tmp_path / "a.db"
    code, _out, _err = run("import", str(write_dir(tmp_path / "org", ORG)), "--into",
                           str(source))
    assert code == 0
    out_dir = tmp_path / "exported"
    code, out, err = run("export", str(source), "--to", str(out_dir), "--format", "csv-dir")
    assert (code, err) == (0, "") and "Exported" in out
    copy = tmp_path / "b.db"
    assert run("import", str(out_dir), "--into", str(copy))[0] == 0
    again = tmp_path / "again"
    assert run("export", str(copy), "--to", str(again))[0] == 0
    for name in ("users.csv", "user_roles.csv", "role_parents.csv", "ssd_set_roles.csv"):
        assert (again / name).read_bytes() == (out_dir / name).read_bytes()


def test_export_with_password_hashes_warns(tmp_path: Path) -> None:
    source = tmp_path / "a.db"
    with Database(source) as db, db.action("Setup") as s:
        rbac.add_user(s, "alice", password="correct horse")
    code, _out, err = run("export", str(source), "--to", str(tmp_path / "o"),
                          "--with-password-hashes")
    assert code == 0 and "Warning: the export holds password hashes" in err
    assert "$argon2id$" in (tmp_path / "o" / "users.csv").read_text("utf-8")


def test_export_of_a_missing_database_fails(tmp_path: Path) -> None:
    code, _out, err = run("export", str(tmp_path / "none.db"), "--to", str(tmp_path / "o"))
    assert code == 1 and "does not exist" in err
    assert not (tmp_path / "none.db").exists()


@pytest.mark.parametrize("command", ["import", "export", "publish"])
def test_each_command_has_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main([command, "--help"]) == 0
    assert f"usage: python -m accessguard_gui {command}" in capsys.readouterr().out


def test_a_usage_error_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["import", "somewhere"]) == 2
    assert "--into" in capsys.readouterr().err


def test_the_command_line_never_imports_qt(tmp_path: Path) -> None:
    folder = write_dir(tmp_path / "org", ORG)
    script = (
        "import runpy, sys\n"
        f"sys.argv = ['accessguard_gui', 'import', {str(folder)!r}, '--into', "
        f"{str(tmp_path / 'q.db')!r}]\n"
        "try:\n"
        "    runpy.run_module('accessguard_gui', run_name='__main__')\n"
        "except SystemExit as exc:\n"
        "    code = exc.code\n"
        "print(code, any(m.startswith('PySide6') for m in sys.modules))\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}, timeout=120)
    assert proc.stdout.strip().splitlines()[-1] == "0 False", proc.stderr


def test_a_dry_run_leaves_an_existing_file_byte_for_byte(tmp_path: Path) -> None:
    target = tmp_path / "org.db"
    with Database(target) as db, db.action("Setup") as s:
        rbac.add_user(s, "alice")
    before = target.read_bytes()
    folder = write_dir(tmp_path / "src", ORG)
    code, out, err = run("import", str(folder), "--into", str(target), "--dry-run",
                         "--mode", "mirror")
    assert code == 0, err
    assert "users.csv:2\tchange\tuser alice" in out
    assert "Nothing was written." in out
    # The file itself; reading a WAL database may leave its -shm/-wal side files, empty
    # of changes, as any reader does.
    assert target.read_bytes() == before


# ---------------------------------------------------------------------- operators (issue 14)

OPERATOR_PASSWORD = "correct horse battery staple"


def _requiring_sign_in(path: Path) -> Path:
    """A file that requires sign-in: olga administers, victor may only view (names the imported organisation does not use)."""
    from accessguard_gui.core import changes, operators
    from accessguard_gui.core.operators import AppAction, SetSignInRequired

    with Database(path, operator="os-user") as db, db.action("Set up") as s:
        for name in ("olga", "victor"):
            rbac.add_user(s, name, password=OPERATOR_PASSWORD)
        changes.apply_edits(s, operators.setup_edits(s, "olga"))
        rbac.add_role(s, "Viewers")
        rbac.grant_permission(s, "Viewers", (operators.APP_RESOURCE, AppAction.VIEW.value))
        rbac.assign_user(s, "victor", "Viewers")
        changes.apply_edits(s, [SetSignInRequired(True)])
    return path


@pytest.mark.parametrize("command", ["export", "publish", "import"])
def test_a_file_requiring_sign_in_refuses_a_command_without_an_operator(
    tmp_path: Path, command: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = _requiring_sign_in(tmp_path / "a.db")
    monkeypatch.setenv(cli.PASSWORD_VARIABLE, OPERATOR_PASSWORD)
    if command == "import":
        args = ["import", str(write_dir(tmp_path / "org", ORG)), "--into", str(source)]
    else:
        args = [command, str(source), "--to", str(tmp_path / "out")]
    code, _out, err = run(*args)
    assert code == cli.EXIT_REFUSED
    assert "requires sign-in: give --operator NAME" in err


def test_export_signs_the_operator_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = _requiring_sign_in(tmp_path / "a.db")
    monkeypatch.setenv(cli.PASSWORD_VARIABLE, "wrong")
    code, _out, err = run("export", str(source), "--to", str(tmp_path / "o"), "--operator", "victor")
    assert code == cli.EXIT_REFUSED and "Wrong user name or password" in err
    monkeypatch.setenv(cli.PASSWORD_VARIABLE, OPERATOR_PASSWORD)
    code, out, err = run("export", str(source), "--to", str(tmp_path / "o"), "--operator", "victor")
    assert (code, err) == (0, "") and "Exported" in out
    # Password hashes are for administrators only.
    code, _out, err = run("export", str(source), "--to", str(tmp_path / "h"), "--operator", "victor",
                          "--with-password-hashes")
    assert code == cli.EXIT_REFUSED and "who may not administer AccessGuard" in err


def test_without_a_password_and_no_terminal_the_command_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = _requiring_sign_in(tmp_path / "a.db")
    monkeypatch.delenv(cli.PASSWORD_VARIABLE, raising=False)
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    code, _out, err = run("export", str(source), "--to", str(tmp_path / "o"), "--operator", "victor")
    assert code == cli.EXIT_REFUSED
    assert f"no password was given: set ${cli.PASSWORD_VARIABLE}" in err


def test_import_and_publish_need_an_administrator(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from accessguard_gui.core import audit

    source = _requiring_sign_in(tmp_path / "a.db")
    monkeypatch.setenv(cli.PASSWORD_VARIABLE, OPERATOR_PASSWORD)
    folder = str(write_dir(tmp_path / "org", ORG))
    code, _out, err = run("import", folder, "--into", str(source), "--operator", "victor")
    assert code == cli.EXIT_REFUSED and "who may not administer AccessGuard" in err
    code, _out, err = run("import", folder, "--into", str(source), "--operator", "olga")
    assert (code, err) == (0, "")
    with Database(source) as db:
        db.sign_in("olga", OPERATOR_PASSWORD)
        with db.read() as s:
            entries = audit.audit_entries(s, 5)
    assert {e.operator for e in entries if e.action.startswith("Import")} == {"olga"}
    service = tmp_path / "service.db"
    code, _out, err = run("publish", str(source), "--to", str(service), "--operator", "victor")
    assert code == cli.EXIT_REFUSED and "who may not administer AccessGuard" in err
    assert not service.exists()
    code, _out, err = run("publish", str(source), "--to", str(service), "--operator", "olga")
    assert (code, err) == (0, "") and service.exists()
