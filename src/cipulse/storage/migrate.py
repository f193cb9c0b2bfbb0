"""Runs the migrations (under an advisory lock on PostgreSQL).

Runs the Alembic migrations programmatically (``cipulse migrate``, and every start of
``cipulse serve``). On PostgreSQL an advisory lock lets many servers start at once safely."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from cipulse.errors import ConfigurationError, InvalidRequest
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
    _known_revision(database, revisions())
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


def revisions() -> list[str]:
    """Every revision, oldest first."""
    script = ScriptDirectory.from_config(alembic_config())
    return [revision.revision for revision in reversed(list(script.walk_revisions()))]


def migrate_to(database: Database, revision: str) -> str | None:
    """Upgrade or downgrade the schema to ``revision`` ("head": the newest); returns the
    revision it was at. A downgrade drops what later revisions added (a rollback: see
    docs/deployment.md)."""
    known = revisions()
    target = known[-1] if revision == "head" else revision
    if target not in known:
        raise InvalidRequest(f"revision: must be one of {', '.join(known)} or head")
    before = _known_revision(database, known)
    config = alembic_config()
    with database.write() as connection:
        if not database.is_sqlite:
            connection.execute(
                sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK}
            )
        config.attributes["connection"] = connection
        if before is not None and known.index(target) < known.index(before):
            command.downgrade(config, target)
        else:
            command.upgrade(config, target)
    return before


def _known_revision(database: Database, known: list[str]) -> str | None:
    """The database's revision, which must be one of this version's."""
    current = current_revision(database)
    if current is not None and current not in known:
        raise ConfigurationError(
            f"the database schema is at revision {current}, which this version of cipulse "
            "does not know: a newer version migrated it. Run that version, or roll it back "
            f"first with that version's `cipulse migrate --revision {known[-1]}` "
            "(docs/deployment.md, Upgrades and rollback)"
        )
    return current
