"""Runs the Alembic migrations programmatically (``cipulse migrate``, and every start of
``cipulse serve``). On PostgreSQL an advisory lock lets many servers start at once safely."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from cipulse.storage.database import Database

MIGRATIONS = Path(__file__).with_name("migrations")
_MIGRATION_LOCK = 0x0C1B_0015E  # arbitrary, constant across releases


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(database: Database) -> str | None:
    with database.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def migrate(database: Database) -> None:
    """Bring the schema to the newest revision. Idempotent."""
    config = alembic_config()
    with database.write() as connection:
        if not database.is_sqlite:
            # Writers give up on a lock after CIPULSE_WRITE_TIMEOUT_SECONDS; servers starting
            # together wait for each other's migrations as long as they take.
            connection.execute(sa.text("SET LOCAL lock_timeout = 0"))
            connection.execute(
                sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK}
            )
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
