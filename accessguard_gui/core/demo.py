"""The demo organisation: Meridian Works, a few hundred people, built deterministically.

Everything is created through the RBAC functions inside ``db.action(...)`` so the demo
file looks exactly like one a person built by hand: validated names, separation of duty
enforced, and every record in the audit trail. Departments are roles that inherit from
"Staff"; managers inherit from their department and from "Manager" (a diamond over
Staff); doors and business systems are resources with actions. Some people have left
(inactive), some contractors' assignments have expired, others expire soon.

The same seed gives the same people, roles and assignments every time; expiry dates are
whole days before or after the reference moment (``now``), so "expired" and "expiring"
keep meaning the same thing whenever the demo is built.

Demo passwords (three users only, Argon2 is deliberately slow): ``DEMO_PASSWORD``.
"""

from __future__ import annotations

import os
import random
import sqlite3
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import platformdirs
from sqlalchemy.orm import Session

from . import rbac
from .database import APP_NAME, Database
from .errors import DatabaseOpenError
from .models import utcnow
from .names import FIRST_NAMES, LAST_NAMES, ascii_fold
from .sqlite_files import sync_folder

DEMO_FILENAME = "demo.db"
DEMO_SEED = 20261125
DEMO_DOMAIN = "meridian-works.example"
DEMO_PASSWORD = "meridian-demo-2026"
DEMO_OPERATOR = "demo-builder"

# Resource -> (description, actions). Doors first, then business systems.
RESOURCES: dict[str, tuple[str, tuple[str, ...]]] = {
    "Door: Main Entrance": ("Front door of the head office", ("open", "open_after_hours")),
    "Door: Canteen": ("Canteen, ground floor", ("open",)),
    "Door: Parking Garage": ("Staff car park barrier", ("open",)),
    "Door: Finance Office": ("Finance department, 2nd floor", ("open",)),
    "Door: HR Office": ("Human resources, 2nd floor", ("open",)),
    "Door: Server Room": ("Data centre room B0.12", ("open", "open_after_hours")),
    "Door: IT Workshop": ("Hardware workshop", ("open",)),
    "Door: Lab B2": ("Engineering lab, building B", ("open", "open_after_hours")),
    "Door: Warehouse Gate": ("Warehouse personnel gate", ("open", "open_after_hours")),
    "Door: Loading Dock": ("Goods in / goods out", ("open",)),
    "Door: Board Room": ("Board room, 5th floor", ("open",)),
    "Door: Executive Floor": ("5th floor", ("open",)),
    "Door: Archive Room": ("Paper archive, basement", ("open",)),
    "Door: Security Control Room": ("Security desk and CCTV", ("open", "lock")),
    "E-mail": ("Mail and calendars", ("read", "send")),
    "Intranet": ("Company news, policies, phone book", ("read", "write")),
    "Timesheets": ("Working hours", ("submit", "read", "approve")),
    "Expense Claims": ("Travel and expense claims", ("submit", "approve", "pay")),
    "Helpdesk": ("IT and facilities tickets", ("submit", "resolve", "admin")),
    "ERP Finance": ("General ledger, invoices, payments", ("read", "write", "approve", "admin")),
    "Vendor Master": ("Supplier records and bank details", ("read", "write")),
    "Banking Portal": ("Outgoing payments", ("read", "approve", "admin")),
    "Budget Planning": ("Annual budgets and forecasts", ("read", "write", "approve")),
    "HR System": ("Employee records", ("read", "write", "approve", "admin")),
    "Payroll": ("Salaries", ("read", "write", "approve")),
    "CRM": ("Customers, offers, discounts", ("read", "write", "approve", "export")),
    "Source Code": ("Git repositories", ("read", "write", "admin")),
    "CI Pipeline": ("Builds and releases", ("run", "deploy")),
    "Production Servers": ("Customer-facing systems", ("read", "deploy", "admin")),
    "Active Directory": ("Accounts and groups", ("read", "admin")),
    "Backup System": ("Backups and restores", ("read", "restore", "admin")),
    "Inventory": ("Stock levels", ("read", "write", "approve")),
    "Shipping": ("Consignments and carriers", ("read", "write")),
    "CCTV": ("Camera recordings", ("view", "export")),
    "Document Archive": ("Contracts and signed documents", ("read", "write")),
    "Reports": ("Management reports", ("read",)),
    "Audit Log": ("Access and change logs of all systems", ("read", "export")),
}


@dataclass(frozen=True)
class RoleSpec:
    name: str
    description: str
    inherits_from: tuple[str, ...]
    grants: tuple[tuple[str, str], ...]


def _g(resource: str, *actions: str) -> tuple[tuple[str, str], ...]:
    return tuple((resource, a) for a in actions)


# In dependency order: every parent is defined before the roles that inherit from it.
ROLES: tuple[RoleSpec, ...] = (
    RoleSpec("Staff", "Everyone employed by Meridian Works", (), (
        *_g("Door: Main Entrance", "open"), *_g("Door: Canteen", "open"),
        *_g("Door: Parking Garage", "open"), *_g("E-mail", "read", "send"),
        *_g("Intranet", "read"), *_g("Timesheets", "submit"), *_g("Expense Claims", "submit"),
        *_g("Helpdesk", "submit"),
    )),
    RoleSpec("Contractor", "External staff on a fixed-term contract", (), (
        *_g("Door: Main Entrance", "open"), *_g("Door: Canteen", "open"),
        *_g("E-mail", "read", "send"), *_g("Intranet", "read"), *_g("Timesheets", "submit"),
        *_g("Helpdesk", "submit"),
    )),
    RoleSpec("Manager", "People managers: approve hours and expenses", ("Staff",), (
        *_g("Timesheets", "read", "approve"), *_g("Expense Claims", "approve"),
        *_g("Door: Board Room", "open"), *_g("Reports", "read"),
        *_g("Door: Main Entrance", "open_after_hours"), *_g("Budget Planning", "read"),
    )),
    RoleSpec("Finance Staff", "Finance department", ("Staff",), (
        *_g("Door: Finance Office", "open"), *_g("ERP Finance", "read"),
        *_g("Vendor Master", "read"), *_g("Budget Planning", "read"), *_g("Reports", "read"),
        *_g("Document Archive", "read"), *_g("Expense Claims", "pay"),
    )),
    RoleSpec("Accounts Payable", "Enters supplier invoices and supplier bank details",
             ("Finance Staff",), (
        *_g("ERP Finance", "write"), *_g("Vendor Master", "write"),
        *_g("Door: Archive Room", "open"), *_g("Document Archive", "write"),
    )),
    RoleSpec("Payment Approval", "Releases outgoing payments", ("Finance Staff",), (
        *_g("Banking Portal", "read", "approve"), *_g("ERP Finance", "approve"),
    )),
    RoleSpec("Finance Manager", "Head of finance", ("Finance Staff", "Manager"), (
        *_g("Budget Planning", "write", "approve"), *_g("Banking Portal", "read"),
        *_g("Payroll", "read"),
    )),
    RoleSpec("HR Staff", "Human resources", ("Staff",), (
        *_g("Door: HR Office", "open"), *_g("HR System", "read", "write"),
        *_g("Document Archive", "read"), *_g("Intranet", "write"),
    )),
    RoleSpec("Payroll Officer", "Runs the monthly payroll", ("HR Staff",), (
        *_g("Payroll", "read", "write"),
    )),
    RoleSpec("HR Manager", "Head of human resources", ("HR Staff", "Manager"), (
        *_g("HR System", "approve"), *_g("Payroll", "read", "approve"),
    )),
    RoleSpec("IT Staff", "IT operations and service desk", ("Staff",), (
        *_g("Door: IT Workshop", "open"), *_g("Door: Server Room", "open"),
        *_g("Helpdesk", "resolve"), *_g("Active Directory", "read"),
        *_g("Production Servers", "read"), *_g("Backup System", "read"),
        *_g("Source Code", "read"),
    )),
    RoleSpec("IT Administrator", "Administrators of the core systems", ("IT Staff",), (
        *_g("Active Directory", "admin"), *_g("Production Servers", "admin", "deploy"),
        *_g("Backup System", "restore", "admin"), *_g("Helpdesk", "admin"),
        *_g("Door: Server Room", "open_after_hours"), *_g("ERP Finance", "admin"),
        *_g("HR System", "admin"),
    )),
    RoleSpec("Engineering Staff", "Product engineering", ("Staff",), (
        *_g("Door: Lab B2", "open"), *_g("Source Code", "read", "write"),
        *_g("CI Pipeline", "run"), *_g("Production Servers", "read"),
        *_g("Helpdesk", "resolve"),
    )),
    RoleSpec("Engineering Lead", "Team leads in engineering", ("Engineering Staff", "Manager"), (
        *_g("CI Pipeline", "deploy"), *_g("Door: Lab B2", "open_after_hours"),
        *_g("Source Code", "admin"),
    )),
    RoleSpec("Sales Staff", "Sales and account management", ("Staff",), (
        *_g("CRM", "read", "write"), *_g("Reports", "read"), *_g("Document Archive", "read"),
    )),
    RoleSpec("Sales Manager", "Regional sales managers", ("Sales Staff", "Manager"), (
        *_g("CRM", "approve", "export"),
    )),
    RoleSpec("Customer Support", "Customer service desk", ("Staff",), (
        *_g("CRM", "read"), *_g("Helpdesk", "resolve"), *_g("Shipping", "read"),
        *_g("Inventory", "read"),
    )),
    RoleSpec("Warehouse Staff", "Warehouse and dispatch", ("Staff",), (
        *_g("Door: Warehouse Gate", "open"), *_g("Door: Loading Dock", "open"),
        *_g("Inventory", "read", "write"), *_g("Shipping", "read", "write"),
    )),
    RoleSpec("Warehouse Supervisor", "Shift supervisors", ("Warehouse Staff", "Manager"), (
        *_g("Inventory", "approve"), *_g("Door: Warehouse Gate", "open_after_hours"),
    )),
    RoleSpec("Facilities", "Building services", ("Staff",), (
        *_g("Door: Warehouse Gate", "open"), *_g("Door: Loading Dock", "open"),
        *_g("Door: Archive Room", "open"), *_g("Door: IT Workshop", "open"),
        *_g("Helpdesk", "resolve"), *_g("Door: Main Entrance", "open_after_hours"),
    )),
    RoleSpec("Security Officer", "Site security", ("Staff",), (
        *_g("Door: Security Control Room", "open", "lock"), *_g("CCTV", "view", "export"),
        *_g("Door: Main Entrance", "open_after_hours"), *_g("Door: Server Room", "open"),
        *_g("Door: Warehouse Gate", "open", "open_after_hours"),
        *_g("Door: Lab B2", "open_after_hours"),
    )),
    RoleSpec("Auditor", "Internal audit: reads everything financial, changes nothing",
             ("Staff",), (
        *_g("ERP Finance", "read"), *_g("Vendor Master", "read"), *_g("Banking Portal", "read"),
        *_g("Payroll", "read"), *_g("HR System", "read"), *_g("Audit Log", "read", "export"),
        *_g("Document Archive", "read"), *_g("Door: Archive Room", "open"),
        *_g("Door: Finance Office", "open"), *_g("Reports", "read"),
    )),
    RoleSpec("Executive", "Management board", ("Manager",), (
        *_g("Door: Executive Floor", "open"), *_g("Budget Planning", "approve"),
        *_g("CRM", "read"), *_g("Audit Log", "read"),
    )),
)

# (set name, description, roles, cardinality): no person may hold that many of the roles.
SSD_SETS: tuple[tuple[str, str, tuple[str, ...], int], ...] = (
    ("Payables vs. payment approval",
     "Whoever enters invoices and supplier bank details must not release payments.",
     ("Accounts Payable", "Payment Approval"), 2),
    ("Payroll vs. HR approval", "Payroll changes are approved by someone else.",
     ("Payroll Officer", "HR Manager"), 2),
    ("Audit independence", "Auditors do not operate the systems they audit.",
     ("Auditor", "Accounts Payable", "Payment Approval", "IT Administrator"), 2),
)

# (department role, head count, specialist role, specialists, manager role, managers)
DEPARTMENTS: tuple[tuple[str, int, str | None, int, str | None, int], ...] = (
    ("Finance Staff", 16, "Accounts Payable", 5, "Finance Manager", 1),
    ("Finance Staff", 0, "Payment Approval", 3, None, 0),
    ("HR Staff", 10, "Payroll Officer", 3, "HR Manager", 1),
    ("IT Staff", 20, "IT Administrator", 5, None, 0),
    ("Engineering Staff", 74, None, 0, "Engineering Lead", 6),
    ("Sales Staff", 46, None, 0, "Sales Manager", 4),
    ("Customer Support", 30, None, 0, None, 0),
    ("Warehouse Staff", 51, None, 0, "Warehouse Supervisor", 4),
    ("Facilities", 10, None, 0, None, 0),
    ("Security Officer", 6, None, 0, None, 0),
    ("Auditor", 3, None, 0, None, 0),
    ("Executive", 5, None, 0, None, 0),
)
CONTRACTORS = 16
INACTIVE = 12  # people who left; their records are kept, they are granted nothing


def demo_database_path() -> Path:
    """``demo.db`` in the per-user data directory of AccessGuard (created if needed)."""
    folder = Path(platformdirs.user_data_dir(APP_NAME, appauthor=False, ensure_exists=True))
    return folder / DEMO_FILENAME


def _people(rng: random.Random, count: int) -> list[tuple[str, str, str]]:
    """(username, display name, e-mail) of ``count`` distinct, believable people."""
    pairs = rng.sample([(f, s) for f in FIRST_NAMES for s in LAST_NAMES], count)
    taken: set[str] = set()
    people = []
    for first, last in pairs:
        base = f"{ascii_fold(first)}.{ascii_fold(last)}"
        username, n = base, 1
        while username in taken:
            n += 1
            username = f"{base}{n}"
        taken.add(username)
        people.append((username, f"{first} {last}", f"{username}@{DEMO_DOMAIN}"))
    return people


def build_demo(db: Database, *, now: datetime | None = None, seed: int = DEMO_SEED) -> None:
    """Fill an empty database with the demo organisation, through the RBAC rules.

    Args:
        db: an open, empty AccessGuard database.
        now: the reference moment for expiry dates (default: the current time).
        seed: the random seed; the same seed gives the same organisation.
    """
    rng = random.Random(seed)
    moment = now or utcnow()
    day = moment.replace(hour=0, minute=0, second=0, microsecond=0)

    with db.action("Demo: doors, systems and their actions") as s:
        for resource, (description, actions) in RESOURCES.items():
            rbac.add_resource(s, resource, description)
            for action in actions:
                rbac.add_permission(s, resource, action)

    with db.action("Demo: roles, inheritance and separation of duty") as s:
        for spec in ROLES:
            rbac.add_role(s, spec.name, spec.description)
            for parent in spec.inherits_from:
                rbac.add_inheritance(s, spec.name, parent)
            for grant in spec.grants:
                rbac.grant_permission(s, spec.name, grant, granted_by=DEMO_OPERATOR)
        for name, description, roles, cardinality in SSD_SETS:
            rbac.create_ssd_set(s, name, roles, cardinality, description)

    plan: list[str] = []  # one role per employee, in hiring order
    for dept, staff, specialist, n_specialists, manager, n_managers in DEPARTMENTS:
        plan += [dept] * staff
        plan += [specialist] * n_specialists if specialist else []
        plan += [manager] * n_managers if manager else []
    people = _people(rng, len(plan) + CONTRACTORS)
    employees, contractors = people[: len(plan)], people[len(plan):]
    with_password = {  # the first IT administrator, auditor and HR manager
        next(i for i, role in enumerate(plan) if role == wanted)
        for wanted in ("IT Administrator", "Auditor", "HR Manager")
    }
    leavers = set(rng.sample([i for i in range(len(employees)) if i not in with_password],
                             INACTIVE))

    with db.action("Demo: people") as s:
        for i, (username, shown, email) in enumerate(employees):
            rbac.add_user(
                s,
                username,
                shown,
                email=email,
                active=i not in leavers,
                password=DEMO_PASSWORD if i in with_password else None,
            )
        for username, shown, email in contractors:
            rbac.add_user(s, username, shown, email=email)

    with db.action("Demo: role assignments") as s:
        for (username, _, _), role in zip(employees, plan, strict=True):
            rbac.assign_user(s, username, role, granted_by=DEMO_OPERATOR)
        _extra_assignments(s, rng, employees, plan, day)
        for k, (username, _, _) in enumerate(contractors):
            # A third ended weeks ago, the rest run for a few more weeks or months.
            offset = -rng.randint(5, 90) if k % 3 == 0 else rng.randint(7, 180)
            rbac.assign_user(
                s, username, "Contractor", expires_at=day + timedelta(days=offset),
                granted_by=DEMO_OPERATOR,
            )
            if k % 4 == 1:
                rbac.assign_user(
                    s, username, "Engineering Staff", expires_at=day + timedelta(days=offset),
                    granted_by=DEMO_OPERATOR,
                )


def _extra_assignments(
    s: Session,
    rng: random.Random,
    employees: Sequence[tuple[str, str, str]],
    plan: Sequence[str],
    day: datetime,
) -> None:
    """Second roles people really have: on-call support, project access (some expired,
    some expiring), a deputy manager. None of them breaks a separation-of-duty set."""
    engineers = [e[0] for e, r in zip(employees, plan, strict=True) if r == "Engineering Staff"]
    sales = [e[0] for e, r in zip(employees, plan, strict=True) if r == "Sales Staff"]
    support = [e[0] for e, r in zip(employees, plan, strict=True) if r == "Customer Support"]
    for username in rng.sample(engineers, 8):  # on-call rota
        rbac.assign_user(s, username, "Customer Support", granted_by=DEMO_OPERATOR)
    for k, username in enumerate(rng.sample(support, 6)):  # a project with the engineers
        offset = -rng.randint(3, 60) if k % 2 == 0 else rng.randint(10, 120)
        rbac.assign_user(
            s, username, "Engineering Staff", expires_at=day + timedelta(days=offset),
            granted_by=DEMO_OPERATOR,
        )
    for username in rng.sample(sales, 2):  # covering for a manager on leave
        rbac.assign_user(
            s, username, "Sales Manager", expires_at=day + timedelta(days=rng.randint(5, 30)),
            granted_by=DEMO_OPERATOR,
        )


def _is_empty_or_missing(path: Path) -> bool:
    """True when there is nothing worth keeping: no file, an empty file, or an
    AccessGuard database without a single user. Anything else (even a file that is not
    a database) is left alone; opening it reports what is wrong."""
    if not path.exists():
        return True
    if path.stat().st_size == 0:
        return True
    try:
        conn = sqlite3.connect(path.as_uri() + "?mode=ro", uri=True)
        try:
            (count,) = conn.execute("SELECT count(*) FROM users").fetchone()
            return bool(count == 0)
        finally:
            conn.close()
    except sqlite3.Error:
        return False


def ensure_demo_database(path: Path | str | None = None) -> Path:
    """The demo database file, built first if it is missing or empty.

    The demo is built into a temporary file in the same folder and renamed into place
    when complete, so a crash or a refused step never leaves a half-built demo behind.

    Args:
        path: where the demo lives (default: ``demo_database_path()``).

    Returns:
        The path of the (now complete) demo database.

    Raises:
        DatabaseOpenError: the folder cannot be written.
    """
    target = Path(path) if path is not None else demo_database_path()
    if not _is_empty_or_missing(target):
        return target
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=".demo-", suffix=".building", dir=target.parent)
    except OSError as exc:
        raise DatabaseOpenError(
            f"The demo cannot be created in {target.parent}: {exc.strerror or exc}.", str(target)
        ) from exc
    os.close(fd)
    tmp = Path(name)
    try:
        with Database(tmp, operator=DEMO_OPERATOR) as db:
            build_demo(db)
            with db.engine.connect() as conn:
                # Everything into the main file: the rename must carry all of it.
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        _fsync(tmp)
        for suffix in ("-wal", "-shm", "-journal"):  # stale side files of an old target
            Path(str(target) + suffix).unlink(missing_ok=True)
        os.replace(tmp, target)
        sync_folder(target.parent)
    finally:
        for leftover in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm"), Path(f"{tmp}-journal")):
            leftover.unlink(missing_ok=True)
    return target


def _fsync(path: Path) -> None:
    """Flush a file to disk before it is renamed into place."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
