"""Test fixtures: real databases (SQLite and PostgreSQL, built by the migrations), the real
app in-process, and organisations with keys.

Storage tests take the ``database_url`` fixture, which runs them once on SQLite and once on
PostgreSQL. The PostgreSQL half needs a server: ``CIPULSE_TEST_POSTGRES_URL`` (default
``postgresql://postgres@127.0.0.1:5432/test``). Without one those tests are skipped with the
reason, unless ``CIPULSE_TEST_REQUIRE_POSTGRES=1`` (CI), where they fail instead."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from cipulse.accounts.service import AccountService
from cipulse.settings import Settings
from cipulse.storage.database import Database
from cipulse.storage.migrate import migrate
from cipulse.storage.schema import metadata
from cipulse.web.app import create_app
from tests import remembered_passwords

POSTGRES_ADMIN_URL = os.environ.get(
    "CIPULSE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
REQUIRE_POSTGRES = os.environ.get("CIPULSE_TEST_REQUIRE_POSTGRES") == "1"

remembered_passwords.install()  # argon2id once per password, not per sign-in


def _postgres_problem() -> str | None:
    try:
        with psycopg.connect(POSTGRES_ADMIN_URL, connect_timeout=3):
            return None
    except psycopg.Error as exc:
        return (
            f"no PostgreSQL at {POSTGRES_ADMIN_URL} ({type(exc).__name__}); "
            "set CIPULSE_TEST_POSTGRES_URL"
        )


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file built once by the migrations; each test gets a copy."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    database = Database(Settings(database_url=f"sqlite:///{path}"))
    migrate(database)
    database.dispose()
    return path


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A PostgreSQL database of this test session, built by the migrations."""
    problem = _postgres_problem()
    if problem:
        if REQUIRE_POSTGRES:
            pytest.fail(problem)
        pytest.skip(problem)
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    name = f"cipulse_test_{worker}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        # A test database need not survive a crash of the server: commits do not wait for
        # the log to reach the disk (the same SQL, the same isolation; tests ~2x faster).
        admin.execute(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
    url = sa.make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    database = Database(Settings(database_url=url))
    migrate(database)
    database.dispose()
    yield url
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


#: Emptying every table, children first: DELETE takes ~5 ms on a test's few rows where
#: TRUNCATE takes ~150 ms (it creates new files for 19 tables), before every test.
_EMPTY_EVERY_TABLE = "; ".join(
    f'DELETE FROM "{table.name}"' for table in reversed(metadata.sorted_tables)
)


def empty_database(url: str) -> None:
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        conn.execute(_EMPTY_EVERY_TABLE)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty, migrated database: once SQLite, once PostgreSQL."""
    if request.param == "sqlite":
        path = tmp_path / "cipulse.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("postgres_database")
    empty_database(url)
    return url


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, bootstrap_org="")


@pytest.fixture
def database(settings: Settings) -> Iterator[Database]:
    database = Database(settings)
    yield database
    database.dispose()


@pytest.fixture
def accounts(database: Database) -> AccountService:
    return AccountService(database)


@dataclass
class Tenant:
    """An organisation with an ingest key, as a client of the API sees it."""

    name: str
    key: str

    @property
    def runwatch_headers(self) -> dict[str, str]:
        return {"X-API-Key": self.key}

    @property
    def trunk_headers(self) -> dict[str, str]:
        return {"x-api-token": self.key, "x-source": "jenkins-plugin"}


def make_tenant(
    accounts: AccountService, name: str, scopes: tuple[str, ...] = ("ingest",)
) -> Tenant:
    accounts.create_organisation(name)
    return Tenant(name=name, key=accounts.create_key(name, scopes=scopes).key)


@pytest.fixture
def tenant(accounts: AccountService) -> Tenant:
    return make_tenant(accounts, "acme")


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    """The real app, in-process, with its lifespan (database, ingest writer thread)."""
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client


def rows(database: Database, table: str, **where: Any) -> list[dict[str, Any]]:
    """Every row of ``table`` matching ``where``, as dicts (test inspection helper)."""
    selected = metadata.tables[table]
    query = sa.select(selected)
    for column, value in where.items():
        query = query.where(selected.c[column] == value)
    with database.read() as conn:
        return [dict(row._mapping) for row in conn.execute(query)]


def count(database: Database, table: str) -> int:
    with database.read() as conn:
        return conn.execute(
            sa.select(sa.func.count()).select_from(metadata.tables[table])
        ).scalar_one()
