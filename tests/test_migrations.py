"""The migrations build exactly the schema declared in ``storage/schema.py``."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from cipulse.storage.database import Database
from cipulse.storage.migrate import current_revision, head_revision, migrate
from cipulse.storage.schema import metadata


def test_migrated_database_matches_the_declared_schema(database: Database) -> None:
    assert current_revision(database) == head_revision()
    with database.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, metadata) == []


def test_migrating_twice_changes_nothing(database: Database) -> None:
    migrate(database)
    assert current_revision(database) == head_revision()
