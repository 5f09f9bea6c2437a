"""Schema versions: the Alembic migrations shipped in ``core/migrations``."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING

from sqlalchemy import Connection

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

MIGRATIONS = "accessguard_gui.core:migrations"
# The newest migration, pinned so that opening an up-to-date file never imports Alembic
# (~110 ms of a cold start). tests/core/test_migrations.py checks it equals Alembic's head.
SCHEMA_HEAD = "0009"


@dataclass(frozen=True)
class SchemaState:
    """What an existing file holds: its table names and Alembic revision (None: not ours)."""

    tables: list[str] = field(default_factory=list)
    revision: str | None = None


def alembic_config(connection: Connection | None = None) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", MIGRATIONS)
    if connection is not None:
        config.attributes["connection"] = connection
    return config


@cache
def _script() -> ScriptDirectory:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config())


def head_revision() -> str:
    return SCHEMA_HEAD


def alembic_head() -> str:
    """The head according to the migration scripts themselves (slow: imports Alembic)."""
    head = _script().get_current_head()
    assert head is not None
    return head


def is_known_revision(revision: str) -> bool:
    """True for a schema this version of AccessGuard can open (possibly after upgrading)."""
    return revision == SCHEMA_HEAD or revision in known_revisions()


def known_revisions() -> frozenset[str]:
    return frozenset(rev.revision for rev in _script().walk_revisions())


def upgrade(connection: Connection, target: str = "head") -> None:
    """Migrate the database behind ``connection`` (inside the caller's transaction)."""
    from alembic import command

    command.upgrade(alembic_config(connection), target)


def downgrade(connection: Connection, target: str) -> None:
    from alembic import command

    command.downgrade(alembic_config(connection), target)
