"""The migrations build exactly the schema declared in ``storage/schema.py``."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from click.testing import CliRunner

from cipulse.cli.main import cli
from cipulse.settings import Settings
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
    from cipulse.domain.window import Window
    from cipulse.storage.migrate import alembic_config
    from tests.presented import PresentedService
    from tests.test_analytics_consistency import START, ingest, ms, random_attempts, store_org

    ingest(database, tenant, random_attempts(11, 60))
    org_id = store_org(database)
    window = Window(ms(START), ms(START) + 40 * 86_400_000)
    # Downgrading past 0017 drops the attempts' failure reasons: their classes are not compared.
    expected = without_classes(PresentedService(database).summary(org_id, window))
    config = alembic_config()
    with database.write() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0002")
    migrate(database)
    assert rows(database, "rollup_dirty") and not rows(database, "run_rollups")
    assert rounded(without_classes(PresentedService(database).summary(org_id, window))) == (
        rounded(expected)
    )
    assert refresh_all(database) > 0
    assert rows(database, "run_rollups") and not rows(database, "rollup_dirty")
    assert rounded(without_classes(PresentedService(database).summary(org_id, window))) == (
        rounded(expected)
    )


def without_classes(summary: dict[str, Any]) -> dict[str, Any]:
    """A summary without its failures by class (nor its previous window's)."""
    previous = {k: v for k, v in summary["previous"].items() if k != "failures_by_class"}
    kept = {k: v for k, v in summary.items() if k != "failures_by_class"}
    return {**kept, "previous": previous}


def rounded(value: object) -> object:
    """Figures as compared: sums added in another order may differ in the last bit."""
    if isinstance(value, float):
        return round(value, 6)
    if isinstance(value, dict):
        return {key: rounded(item) for key, item in value.items()}
    return value


def test_migrate_to_a_revision_rolls_back_and_forward(
    settings: Settings, database: Database
) -> None:
    """`cipulse migrate --revision` as docs/deployment.md's rollback uses it; a database
    migrated by a newer version is named as such instead of failing obscurely."""
    runner = CliRunner()
    base = ["--database-url", settings.database_url, "migrate"]
    newest = head_revision()
    down = runner.invoke(cli, [*base, "--revision", "0009"])
    assert down.exit_code == 0, down.output
    assert f"revision {newest} -> 0009" in down.stderr
    assert "purged_before_day" not in columns(database, "organisations")
    up = runner.invoke(cli, base)
    assert up.exit_code == 0, up.output
    assert current_revision(database) == newest
    assert "purged_before_day" in columns(database, "organisations")
    unknown = runner.invoke(cli, [*base, "--revision", "0042"])
    assert unknown.exit_code == 1 and "revision: must be one of 0001," in unknown.stderr
    with database.write() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '9999'"))
    try:
        newer = runner.invoke(cli, base)
        assert newer.exit_code == 1
        assert "revision 9999, which this version of cipulse does not know" in newer.stderr
    finally:  # the PostgreSQL database is the session's: leave it as it was
        with database.write() as conn:
            conn.execute(sa.text(f"UPDATE alembic_version SET version_num = '{newest}'"))


def columns(database: Database, table: str) -> set[str]:
    with database.engine.connect() as conn:
        return {column["name"] for column in sa.inspect(conn).get_columns(table)}
