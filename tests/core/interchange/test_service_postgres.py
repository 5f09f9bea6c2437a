"""Publishing from an AccessGuard database on PostgreSQL into a service file (the service
file is always SQLite; the organisation may live on a server). Skipped without a server
(AG_TEST_POSTGRES_URL, see tests/core/conftest.py)."""

from __future__ import annotations

from pathlib import Path

from accessguard_gui.core.database import Database
from accessguard_gui.core.interchange.publish import PublishOptions, publish

from .test_service_publish import NOW, build_org, everything_matches


def test_a_postgresql_database_publishes_like_a_file(pg_db: Database, tmp_path: Path) -> None:
    build_org(pg_db)
    target = tmp_path / "accessguard.db"
    publish(pg_db, target, PublishOptions(now=NOW))
    everything_matches(pg_db, target)
