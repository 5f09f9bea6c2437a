"""Schema versions: the Alembic migrations shipped in ``core/migrations``."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Connection

MIGRATIONS = "accessguard_gui.core:migrations"


@dataclass(frozen=True)
class SchemaState:
    """What an existing file holds: its table names and Alembic revision (None: not ours)."""

    tables: list[str] = field(default_factory=list)
    revision: str | None = None


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", MIGRATIONS)
    if connection is not None:
        config.attributes["connection"] = connection
    return config


@cache
def _script() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def head_revision() -> str:
    head = _script().get_current_head()
    assert head is not None
    return head


def known_revisions() -> frozenset[str]:
    return frozenset(rev.revision for rev in _script().walk_revisions())


def upgrade(connection: Connection, target: str = "head") -> None:
    """Migrate the database behind ``connection`` (inside the caller's transaction)."""
    command.upgrade(alembic_config(connection), target)


def downgrade(connection: Connection, target: str) -> None:
    command.downgrade(alembic_config(connection), target)
