"""The command line for scripts and cron: import, export and publish, without a display.

    python -m accessguard_gui import SOURCE --into DB [--dry-run] [--mode add|update|mirror]
                                           [--format F] [--report FILE]
    python -m accessguard_gui export DB --to TARGET [--format csv-dir|casbin|json]
                                           [--with-password-hashes]
    python -m accessguard_gui publish DB --to SERVICE_DB [--dry-run] [--remove-service-only]
    python -m accessguard_gui enforce URL [--grant LOGIN]… [--revoke LOGIN]… [--remove]

Exit status 0 on success; 1 when anything is refused or fails (the report on stderr);
2 for a usage error. Never imports Qt.

A database that requires sign-in (core/operators.py) is used as an operator: give
``--operator NAME``; the password comes from the environment variable
ACCESSGUARD_PASSWORD, or is asked for when a terminal is attached. Without them the
command is refused (exit status 1, the reason on stderr).
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

EXIT_OK = 0
EXIT_REFUSED = 1
EXIT_USAGE = 2
SHOWN_REFUSALS = 200  # refused rows printed on stderr; --report FILE holds them all
PASSWORD_VARIABLE = "ACCESSGUARD_PASSWORD"
_OPERATOR_HELP = (
    "the operator to sign in as when the database requires sign-in (the password from "
    f"${PASSWORD_VARIABLE} or a prompt)"
)

_MODE_HELP = (
    "add: only add what the database lacks; update (default): also change existing "
    "records to the source's values; mirror: also remove what the source lacks "
    "(in the tables it holds)"
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m accessguard_gui",
        description="AccessGuard on the command line: import, export and publish "
        "(run without a subcommand for the desktop app).",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    imp = sub.add_parser(
        "import",
        help="import an organisation into a database",
        description="Import users, roles, resources, permissions, assignments, inheritance "
        "and separation-of-duty sets into an AccessGuard database (created if missing). "
        "The source's format is detected (an AccessGuard CSV directory, JSON document, "
        "Casbin policy or AccessGuard service database) unless --format names it. All or "
        "nothing: if any row is refused, nothing is written and the refused rows are "
        "listed on stderr with file:line.",
    )
    imp.add_argument("source", help="the file or folder to import")
    imp.add_argument("--into", required=True, metavar="DB",
                     help="the AccessGuard database file (or URL) to import into")
    imp.add_argument("--dry-run", action="store_true",
                     help="only report, row by row, what the import would do; write nothing")
    imp.add_argument("--mode", choices=("add", "update", "mirror"), default="update",
                     help=_MODE_HELP)
    imp.add_argument("--format", metavar="F", help="the source's format (default: detected)")
    imp.add_argument("--report", metavar="FILE", type=Path,
                     help="also save the full row-by-row report as CSV")
    imp.add_argument("--operator", help="the name the audit trail records (default: you); "
                     + _OPERATOR_HELP)

    exp = sub.add_parser(
        "export",
        help="export a database",
        description="Write the whole organisation of an AccessGuard database to a CSV "
        "directory, a JSON document or a Casbin policy. Password hashes are left out "
        "unless --with-password-hashes is given.",
    )
    exp.add_argument("database", metavar="DB", help="the AccessGuard database file (or URL)")
    exp.add_argument("--to", required=True, metavar="TARGET", type=Path,
                     help="the folder (csv-dir) or file to write")
    exp.add_argument("--format", metavar="F",
                     help="csv-dir, json or casbin (default: json for a .json target, "
                     "casbin for .csv, otherwise csv-dir)")
    exp.add_argument("--with-password-hashes", action="store_true",
                     help="include users' password hashes (keep the export safe!)")
    exp.add_argument("--operator", metavar="NAME", help=_OPERATOR_HELP)

    pub = sub.add_parser(
        "publish",
        help="publish a database to an AccessGuard service database",
        description="Write the database into the AccessGuard service's own database file "
        "so that the service answers access checks as AccessGuard does (inheritance "
        "flattened, expired assignments and inactive users left out). A timestamped "
        "backup of the service file is taken first.",
    )
    pub.add_argument("database", metavar="DB", help="the AccessGuard database file (or URL)")
    pub.add_argument("--to", required=True, metavar="SERVICE_DB",
                     help="the service database file (created if missing)")
    pub.add_argument("--dry-run", action="store_true",
                     help="only show what would change in the service file")
    pub.add_argument("--remove-service-only", action="store_true",
                     help="also delete users, roles and grants that exist only in the service "
                     "file (by default they are kept, and the preview says what that means)")
    pub.add_argument("--operator", metavar="NAME", help=_OPERATOR_HELP)
    enf = sub.add_parser(
        "enforce",
        help="make a PostgreSQL server enforce what each operator may do",
        description="Run as the database's owner: put server-side checks on an "
        "AccessGuard database on PostgreSQL, so that any connection (the app's or a "
        "hand-made one) can do no more than its login's AccessGuard user may, reads "
        "nothing without AccessGuard: view, and is recorded in the audit trail as its "
        "login. Run it again after every upgrade of the schema. Logins become operators "
        "with --grant (members of the group role accessguard_operators).",
    )
    enf.add_argument("url", metavar="URL", help="the database's URL (postgresql://owner@host/db)")
    enf.add_argument("--grant", metavar="LOGIN", action="append", default=[],
                     help="make this server login an operator (repeatable)")
    enf.add_argument("--revoke", metavar="LOGIN", action="append", default=[],
                     help="end this login's operator membership (repeatable)")
    enf.add_argument("--remove", action="store_true",
                     help="take the server-side checks off again (the app still checks)")
    return parser


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None,
         err: TextIO | None = None) -> int:
    """Run one command; returns the exit status."""
    stdout = out or sys.stdout
    stderr = err or sys.stderr
    parser = _parser()
    try:
        args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    except SystemExit as exc:  # --help (0) or a usage error (2), already printed
        return int(exc.code or 0)
    if args.command == "import":
        return run_import(args, stdout, stderr)
    if args.command == "export":
        return run_export(args, stdout, stderr)
    if args.command == "enforce":
        return run_enforce(args, stdout, stderr)
    return run_publish(args, stdout, stderr)


def _is_url(target: str) -> bool:
    return "://" in target


def _signer(args: argparse.Namespace) -> Callable[[Any], None]:
    """Signs the operator in to a database that requires it (nothing otherwise).

    The returned function raises SignInRequiredError when no --operator or no password
    was given, SignInError when the sign-in is refused: printed like any refusal.
    """

    def sign_in(db: Any) -> None:
        from .core import operators
        from .core.errors import SignInRequiredError

        if db.dialect == "postgresql" or not operators.sign_in_required(db):
            return  # PostgreSQL: the server login is the operator
        name = getattr(args, "operator", None)
        if not name:
            raise SignInRequiredError(
                f"{db.display_name} requires sign-in: give --operator NAME (the password "
                f"is read from ${PASSWORD_VARIABLE}, or asked for in a terminal)."
            )
        password = os.environ.get(PASSWORD_VARIABLE)
        if password is None:
            if not sys.stdin.isatty():
                raise SignInRequiredError(
                    f"{db.display_name} requires sign-in and no password was given: set "
                    f"${PASSWORD_VARIABLE} or run the command in a terminal."
                )
            password = getpass.getpass(f"Password of {name} for {db.display_name}: ")
        db.sign_in(name, password)

    return sign_in


def _progress_printer(err: TextIO) -> Callable[[Any], None] | None:
    """Progress on one updating line of a terminal (nothing when stderr is a file)."""
    isatty = getattr(err, "isatty", None)
    if isatty is None or not isatty():
        return None
    last = [0.0]

    def show(progress: Any) -> None:
        now = time.monotonic()
        if now - last[0] < 0.5 and progress.done != progress.total:
            return
        last[0] = now
        total = f" of {progress.total:,}" if progress.total else ""
        err.write(f"\r\033[K{progress.phase}: {progress.done:,}{total}")
        if progress.total is not None and progress.done >= progress.total:
            err.write("\n")
        err.flush()

    return show


def run_import(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from .core.database import Database
    from .core.errors import AccessGuardError, ImportRefusedError
    from .core.interchange import formats
    from .core.interchange.pipeline import ImportPlan, apply_import, plan_import, stage

    target = str(args.into)
    try:
        source = formats.open_source(args.source, args.format)
    except AccessGuardError as exc:
        err.write(f"error: {exc}\n")
        return EXIT_REFUSED
    plan: ImportPlan | None = None
    try:
        if args.dry_run:
            # A dry run writes nothing, not even a new file: a missing database is
            # checked as an empty one.
            missing = not _is_url(target) and not Path(target).exists()
            db = (Database("sqlite://", operator=args.operator) if missing
                  else Database(target, create=False, read_only=True, operator=args.operator))
            with db:
                _signer(args)(db)
                plan = plan_import(db, source, args.mode, progress=_progress_printer(err))
                _report(plan, args, out)
                out.write(f"Dry run of the import from {plan.source_name} into {target} "
                          f"({args.mode} mode): {plan.summary()}\n")
                if not plan.clean:
                    _refusals(plan, err)
                    return EXIT_REFUSED
                out.write("Nothing was written.\n")
                return EXIT_OK
        with Database(target, create=True, operator=args.operator) as db:
            from .core.interchange.pipeline import ImportPlan as Plan

            _signer(args)(db)

            show = _progress_printer(err)
            plan = Plan(stage(source, progress=show), args.mode)
            try:
                result = apply_import(db, plan, progress=show)
            except ImportRefusedError:
                _report(plan, args, out, only_file=True)
                _refusals(plan, err)
                return EXIT_REFUSED
            _report(plan, args, out, only_file=True)
            out.write(f"Imported {plan.source_name} into {target} ({args.mode} mode): "
                      f"{result.summary()}\n")
            return EXIT_OK
    except AccessGuardError as exc:
        err.write(f"error: {exc}\n")
        err.write("Nothing was written.\n")
        return EXIT_REFUSED
    finally:
        if plan is not None:
            plan.close()


def _report(plan: object, args: argparse.Namespace, out: TextIO, *,
            only_file: bool = False) -> None:
    from .core.interchange.pipeline import ImportPlan

    assert isinstance(plan, ImportPlan)
    if args.report is not None:
        plan.save_report_csv(args.report)
    if not only_file:
        plan.write_report(out)


def _refusals(plan: object, err: TextIO) -> None:
    from .core.interchange.pipeline import ImportPlan

    assert isinstance(plan, ImportPlan)
    err.write(f"Import from {plan.source_name} refused: {plan.refused:,} "
              f"row{'s' if plan.refused != 1 else ''} refused; nothing was written.\n")
    shown = 0
    for row in plan.rows({"refuse"}):
        if shown == SHOWN_REFUSALS:
            err.write(f"… and {plan.refused - shown:,} more (--report FILE lists them all).\n")
            break
        err.write(f"{row.where}: {row.record} {row.key}: {row.detail}\n"
                  if row.key else f"{row.where}: {row.detail}\n")
        shown += 1
    err.write(plan.summary() + "\n")


def _export_format(args: argparse.Namespace) -> str:
    if args.format:
        return str(args.format)
    suffix = args.to.suffix.lower()
    if suffix == ".json":
        return "json"
    if suffix == ".csv":
        return "casbin"
    return "csv-dir"


def run_export(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from .core.database import Database
    from .core.errors import AccessGuardError
    from .core.interchange.export import PASSWORD_WARNING, ExportOptions, export_database

    target = str(args.database)
    if not _is_url(target) and not Path(target).exists():
        err.write(f"error: {target} does not exist.\n")
        return EXIT_REFUSED
    name = _export_format(args)
    try:
        # Opened as the app opens it: a file of an older AccessGuard is upgraded first
        # (after a backup); the export itself only reads.
        with Database(target, create=False) as db:
            if db.backup_path is not None:
                err.write(f"{target} was upgraded to this version of AccessGuard first; "
                          f"the original is kept as {db.backup_path}.\n")
            _signer(args)(db)
            export_database(db, args.to, name,
                            ExportOptions(with_password_hashes=args.with_password_hashes))
    except AccessGuardError as exc:
        err.write(f"error: {exc}\n")
        return EXIT_REFUSED
    if args.with_password_hashes:
        err.write(PASSWORD_WARNING + "\n")
    out.write(f"Exported {target} to {args.to} ({name}).\n")
    return EXIT_OK


def run_publish(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from .core.interchange.publish import publish_command

    return publish_command(
        str(args.database), str(args.to), bool(args.dry_run), out, err,
        remove_service_only=bool(args.remove_service_only), sign_in=_signer(args),
    )


def run_enforce(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from .core import server_enforcement
    from .core.database import Database
    from .core.errors import AccessGuardError

    if not str(args.url).startswith(("postgresql:", "postgresql+")):
        err.write("enforce needs a PostgreSQL URL: an SQLite file has no server to enforce "
                  "anything (the app checks operators there).\n")
        return EXIT_USAGE
    try:
        with Database(str(args.url)) as db:  # creates or upgrades the schema first
            if args.remove:
                server_enforcement.uninstall(db.engine)
                out.write(f"Server-side checks removed from {db.display_name}.\n")
            else:
                server_enforcement.install(db.engine)
                out.write(f"Server-side checks installed on {db.display_name}.\n")
            for login in args.grant:
                server_enforcement.grant_operator(db.engine, login)
            for login in args.revoke:
                server_enforcement.revoke_operator(db.engine, login)
            logins = server_enforcement.operator_logins(db.engine)
    except AccessGuardError as exc:
        err.write(f"{exc}\n")
        return EXIT_REFUSED
    out.write("Operators (logins in accessguard_operators): "
              f"{', '.join(logins) if logins else 'none yet (--grant LOGIN)'}.\n")
    return EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
