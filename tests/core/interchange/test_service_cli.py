"""The two commands for scripts and cron: import a service file, publish into one; exit
status 0, or non-zero with the reason on stderr; names clashing only by case refuse."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from sqlalchemy import select

from accessguard_gui import cli
from accessguard_gui.core import rbac
from accessguard_gui.core.database import Database
from accessguard_gui.core.models import User

from .service_files import FAST, folder_fingerprint, make_service_file, odd_service_file

pytestmark = pytest.mark.sqlite_only


def run(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(list(args), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_import_then_publish_from_the_command_line(tmp_path: Path) -> None:
    folder = tmp_path / "service"
    folder.mkdir()
    service = odd_service_file(folder / "accessguard.db")
    org = tmp_path / "org.db"
    before = folder_fingerprint(folder)
    code, out, err = run("import", str(service), "--into", str(org), "--dry-run")
    assert (code, err) == (0, "") and "permissions:4\tadd\tresource Door" in out
    assert not org.exists()
    code, out, err = run("import", str(service), "--into", str(org))
    assert (code, err) == (0, "") and "Added: 3 users" in out
    assert folder_fingerprint(folder) == before  # importing wrote nothing there
    with Database(org) as db, db.read() as s:
        assert rbac.verify_password(s, "bob", "bob-password")  # the $argon2i$ hash
        assert rbac.check_access(s, "bob", "Door", "open").allowed
    code, out, err = run("publish", str(org), "--to", str(service), "--dry-run")
    assert (code, err) == (0, "") and "Dry run: nothing was written." in out
    assert folder_fingerprint(folder) == before
    code, out, err = run("publish", str(org), "--to", str(service))
    assert (code, err) == (0, "") and "backed up to" in out
    code, _out, err = run("publish", str(org), "--to", str(org))
    assert code != 0 and "not an AccessGuard service database" in err


def test_names_clashing_only_by_case_are_listed_and_refuse_the_import(tmp_path: Path) -> None:
    service = make_service_file(
        tmp_path / "accessguard.db",
        users=[("alice", FAST.hash("a"), 1), ("Alice", FAST.hash("b"), 1)],
        roles=["Staff", "staff"],
        resources=[("Wiki", None)],
        permissions=[("Wiki", "read"), ("wiki", "read")],
    )
    org = tmp_path / "org.db"
    code, out, err = run("import", str(service), "--into", str(org))
    assert code != 0 and "nothing was written" in err.lower()
    assert "Alice" in err and "ignoring case" in err
    Database(org).close()
    code, out, err = run("import", str(service), "--into", str(org), "--dry-run")
    assert code != 0
    for clash in ("user Alice", "role staff", "resource wiki"):
        assert clash in out + err
    with Database(org) as db, db.read() as s:
        assert s.execute(select(User.id)).first() is None  # nothing imported


def test_publish_keeps_service_only_users_unless_asked_to_remove_them(tmp_path: Path) -> None:
    folder = tmp_path / "service"
    folder.mkdir()
    service = odd_service_file(folder / "accessguard.db")
    org = tmp_path / "org.db"
    assert run("import", str(service), "--into", str(org))[0] == 0
    import sqlite3

    conn = sqlite3.connect(service)  # someone registers through the service meanwhile
    conn.execute(
        "INSERT INTO users (username, hashed_password, is_active) VALUES ('newcomer', ?, 1)",
        (FAST.hash("x"),),
    )
    conn.commit()
    conn.close()

    def service_users() -> set[str]:
        c = sqlite3.connect(service)
        try:
            return {r[0] for r in c.execute("SELECT username FROM users")}
        finally:
            c.close()

    assert run("publish", str(org), "--to", str(service))[0] == 0
    assert "newcomer" in service_users()  # kept by default
    code, out, err = run("publish", str(org), "--to", str(service), "--remove-service-only")
    assert (code, err) == (0, "")
    assert "newcomer" not in service_users()
