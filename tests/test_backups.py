"""Backups and restore, as docs/deployment.md describes them: `cipulse backup` of a real SQLite
server under ingest load, restored by the documented recipe, answers the same figures as a
reference computed from the backup's own raw rows; on PostgreSQL, `cipulse backup` (pg_dump)
restored with pg_restore into a new database answers the same figures as the original."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psycopg
import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from cipulse.accounts.service import AccountService
from cipulse.analytics.window import window_from
from cipulse.cli.main import cli
from cipulse.domain.window import Window
from cipulse.settings import Settings
from cipulse.storage.database import Database
from cipulse.storage.migrate import head_revision, migrate
from tests.builders import runwatch_run
from tests.conftest import POSTGRES_ADMIN_URL, empty_database, make_tenant
from tests.presented import PresentedService
from tests.test_analytics_consistency import assert_same, ingest, random_attempts, reference
from tests.test_e2e import CIPULSE, KEY_PATTERN, serve

WINDOW = "since=2023-12-25T00:00:00Z&until=2024-03-01T00:00:00Z"  # holds every run posted


class Load:
    """A thread posting runs to a server over loopback until stopped."""

    def __init__(self, base_url: str, key: str) -> None:
        self.base_url = base_url
        self.key = key
        self.stored = 0
        self.failed: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Load:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=60)

    def _run(self) -> None:
        payloads = random_attempts(3, 2_000, with_jobs=True)
        with httpx.Client(base_url=self.base_url, timeout=30) as client:
            for payload in payloads:
                if self._stop.is_set():
                    return
                response = client.post(
                    "/functions/v1/ingest", json=payload, headers={"X-API-Key": self.key}
                )
                if response.status_code == 200:
                    self.stored += 1
                else:
                    self.failed.append(response.text)

    def wait_for(self, stored: int) -> None:
        while self.stored < stored and self._thread.is_alive():
            self._stop.wait(0.05)
        assert self.stored >= stored, self.failed[:3]


def cipulse(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("CIPULSE_")}
    return subprocess.run(
        [CIPULSE, *args], cwd=cwd, env=environment, capture_output=True, text=True, timeout=120
    )


@pytest.mark.e2e
def test_a_sqlite_backup_taken_under_load_restores_to_the_same_figures(tmp_path: Path) -> None:
    with serve(tmp_path) as (base_url, log):
        (ingest_key,) = KEY_PATTERN.findall(log.read_text())
        read_key = cipulse(tmp_path, "keys", "create", "--org", "default", "--scope", "read")
        assert read_key.returncode == 0, read_key.stderr
        with Load(base_url, ingest_key) as load:
            load.wait_for(40)
            backup = cipulse(tmp_path, "backup", "backup.db")
            assert backup.returncode == 0, backup.stderr
            assert "backed up to backup.db" in backup.stderr
            load.wait_for(load.stored + 20)  # it went on ingesting meanwhile
        assert not load.failed
        stored = load.stored
    # The recipe of docs/deployment.md: servers stopped, the backup copied over the database
    # file, the old WAL files removed.
    shutil.copy(tmp_path / "backup.db", tmp_path / "cipulse.db")
    for leftover in ("cipulse.db-wal", "cipulse.db-shm"):
        (tmp_path / leftover).unlink(missing_ok=True)
    database = Database(Settings(database_url=f"sqlite:///{tmp_path / 'backup.db'}"))
    try:
        org_id = AccountService(database).organisation("default").id
        with database.read() as conn:
            attempts = conn.execute(sa.text("SELECT count(*) FROM run_attempts")).scalar_one()
        assert 0 < attempts <= stored
        window = PresentedService(database).summary(org_id, window_of(WINDOW))["window"]
        expected = reference(database, org_id, window_of(WINDOW))
    finally:
        database.dispose()
    with serve(tmp_path) as (base_url, _):
        answer = httpx.get(
            f"{base_url}/api/v1/analytics/summary?{WINDOW}",
            headers={"X-API-Key": read_key.stdout.strip()},
        )
    assert answer.status_code == 200, answer.text
    got = answer.json()
    assert got["window"] == window and got["runs"] == attempts
    assert_same(got, expected, WINDOW)


def window_of(query: str) -> Window:
    params: dict[str, str | None] = dict(part.split("=") for part in query.split("&"))
    return window_from(params, datetime.now(UTC))


@pytest.fixture
def scratch_databases() -> Iterator[list[str]]:
    """Names for PostgreSQL databases on the shared server, each dropped afterwards."""
    names: list[str] = []
    yield names
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        for name in names:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def scratch(names: list[str]) -> str:
    name = f"cipulse_backup_{uuid.uuid4().hex[:10]}"
    names.append(name)
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    return sa.make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(False)


@pytest.mark.skipif(shutil.which("pg_restore") is None, reason="no pg_restore on PATH")
def test_a_postgresql_backup_restores_with_pg_restore(
    tmp_path: Path, scratch_databases: list[str], postgres_database: str
) -> None:
    empty_database(postgres_database)  # the session's database, migrated: the source
    source_url = postgres_database
    source = Database(Settings(database_url=source_url, bootstrap_org=""))
    try:
        tenant = make_tenant(AccountService(source), "acme")
        ingest(source, tenant, random_attempts(4, 120, with_jobs=True))
        backup = CliRunner().invoke(
            cli, ["--database-url", source_url, "backup", str(tmp_path / "cipulse.dump")]
        )
        assert backup.exit_code == 0, backup.output
        assert "running: pg_dump --format=custom" in backup.stderr
        assert f"schema revision {head_revision()}" in backup.stderr
        org_id = AccountService(source).organisation("acme").id
        expected = PresentedService(source).summary(org_id, window_of(WINDOW))
    finally:
        source.dispose()
    target_url = scratch(scratch_databases)
    # The recipe of docs/deployment.md.
    restored = subprocess.run(
        ["pg_restore", "--no-owner", f"--dbname={target_url}", str(tmp_path / "cipulse.dump")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert restored.returncode == 0, restored.stderr
    target = Database(Settings(database_url=target_url, bootstrap_org=""))
    try:
        migrate(target)  # already at the newest revision: nothing to do
        assert PresentedService(target).summary(org_id, window_of(WINDOW)) == expected
    finally:
        target.dispose()


def test_backup_refuses_to_overwrite_and_names_what_it_needs(
    settings: Settings, database: Database, tmp_path: Path
) -> None:
    runner = CliRunner()
    base = ["--database-url", settings.database_url, "backup"]
    existing = tmp_path / "taken.db"
    existing.write_text("keep me")
    refused = runner.invoke(cli, [*base, str(existing)])
    assert refused.exit_code == 1 and "exists; name another file, or give --force" in refused.stderr
    assert existing.read_text() == "keep me"
    missing = runner.invoke(cli, [*base, str(tmp_path / "nowhere" / "b.db")])
    assert missing.exit_code == 1 and "does not exist" in missing.stderr
    if database.is_sqlite:
        ingest(database, make_tenant(AccountService(database), "acme"), [runwatch_run()])
        forced = runner.invoke(cli, [*base, str(existing), "--force"])
        assert forced.exit_code == 0, forced.output
        copy = Database(Settings(database_url=f"sqlite:///{existing}"))
        try:
            with copy.read() as conn:
                assert conn.execute(sa.text("SELECT count(*) FROM run_attempts")).scalar() == 1
        finally:
            copy.dispose()
        assert not (tmp_path / "taken.db.partial").exists()
    else:
        without = runner.invoke(cli, [*base, str(tmp_path / "b.dump")], env={"PATH": ""})
        assert without.exit_code == 1
        assert "pg_dump: not found on PATH" in without.stderr
        assert "pg_dump --format=custom --no-owner" in without.stderr
        assert "@" in without.stderr and ":***@" not in without.stderr
