"""The migrations build exactly the schema declared in ``storage/schema.py``."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from cipulse.storage.database import Database
from cipulse.storage.migrate import current_revision, head_revision, migrate
from cipulse.storage.schema import metadata
from tests.conftest import Tenant, rows


def test_migrated_database_matches_the_declared_schema(database: Database) -> None:
    assert current_revision(database) == head_revision()
    with database.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, metadata) == []


def test_migrating_twice_changes_nothing(database: Database) -> None:
    migrate(database)
    assert current_revision(database) == head_revision()


def test_upgrading_a_database_with_runs_fills_the_rollups(
    database: Database, tenant: Tenant
) -> None:
    """Runs stored before the rollups existed are marked by the migration, read exactly
    meanwhile, and refreshed."""
    from alembic import command

    from cipulse.analytics.refresh import refresh_all
    from cipulse.analytics.service import AnalyticsService
    from cipulse.domain.window import Window
    from cipulse.storage.migrate import alembic_config
    from tests.test_analytics_consistency import START, ingest, ms, random_attempts, store_org

    ingest(database, tenant, random_attempts(11, 60))
    org_id = store_org(database)
    window = Window(ms(START), ms(START) + 40 * 86_400_000)
    expected = AnalyticsService(database).summary(org_id, window)
    config = alembic_config()
    with database.write() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0002")
    migrate(database)
    assert rows(database, "rollup_dirty") and not rows(database, "run_rollups")
    assert rounded(AnalyticsService(database).summary(org_id, window)) == rounded(expected)
    assert refresh_all(database) > 0
    assert rows(database, "run_rollups") and not rows(database, "rollup_dirty")
    assert rounded(AnalyticsService(database).summary(org_id, window)) == rounded(expected)


def rounded(value: object) -> object:
    """Figures as compared: sums added in another order may differ in the last bit."""
    if isinstance(value, float):
        return round(value, 6)
    if isinstance(value, dict):
        return {key: rounded(item) for key, item in value.items()}
    return value
