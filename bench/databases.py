"""Fresh databases for each scenario, an organisation and ingest key in them, and the count
of what got stored (to check the benchmark's numbers against the database).

PostgreSQL is reached through an administrative URL (``BENCH_POSTGRES_ADMIN_URL``, default
``postgresql://postgres@127.0.0.1:5432/test``); the benchmark drops and re-creates the
database ``cipulse_bench`` on the same server for every scenario."""

from __future__ import annotations

import os
import sqlite3
import subprocess
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

from bench.servers import REPOSITORY, Code, cipulse_command

ADMIN_URL = os.environ.get("BENCH_POSTGRES_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/test")
BENCH_DATABASE = "cipulse_bench"
ORG = "bench"
_CONNECT_TIMEOUT_SECONDS = 3


@dataclass(frozen=True, slots=True)
class BenchDatabase:
    kind: str  # "sqlite" or "postgresql"
    url: str


@dataclass(frozen=True, slots=True)
class Stored:
    runs: int
    jobs: int


def fresh_sqlite(directory: Path, name: str) -> BenchDatabase:
    path = directory / f"{name}.db"
    for leftover in (path, path.with_suffix(".db-wal"), path.with_suffix(".db-shm")):
        leftover.unlink(missing_ok=True)
    return BenchDatabase("sqlite", f"sqlite:///{path.resolve()}")


def postgres_problem() -> str | None:
    """Why PostgreSQL cannot be used, or None when it answers."""
    try:
        with psycopg.connect(ADMIN_URL, connect_timeout=_CONNECT_TIMEOUT_SECONDS) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return f"PostgreSQL at {_redacted(ADMIN_URL)} is not reachable ({first_line})"
    return None


def fresh_postgres() -> BenchDatabase:
    with psycopg.connect(
        ADMIN_URL, autocommit=True, connect_timeout=_CONNECT_TIMEOUT_SECONDS
    ) as conn:
        name = sql.Identifier(BENCH_DATABASE)
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(name))
    return BenchDatabase("postgresql", _with_database(ADMIN_URL, BENCH_DATABASE))


def drop_postgres() -> None:
    with psycopg.connect(
        ADMIN_URL, autocommit=True, connect_timeout=_CONNECT_TIMEOUT_SECONDS
    ) as conn:
        name = sql.Identifier(BENCH_DATABASE)
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))


def environment(database: BenchDatabase, code: Code | None = None) -> dict[str, str]:
    """What cipulse processes need to use ``database``, quietly and without bootstrapping,
    running ``code`` (default: the cipulse this Python imports)."""
    return {
        "CIPULSE_DATABASE_URL": database.url,
        "CIPULSE_LOG_LEVEL": "warning",
        "CIPULSE_BOOTSTRAP_ORG": "",
        **(code.environment() if code is not None else {}),
    }


def provision(database: BenchDatabase, code: Code | None = None) -> str:
    """Migrate (with ``code``'s own migrations), create the organisation, and return a new
    ingest key for it."""
    _cipulse(database, code, "migrate")
    _cipulse(database, code, "orgs", "create", ORG)
    return _cipulse(database, code, "keys", "create", "--org", ORG).strip()


def stored(database: BenchDatabase) -> Stored:
    query = "SELECT (SELECT count(*) FROM run_attempts), (SELECT count(*) FROM jobs)"
    if database.kind == "sqlite":
        with closing(sqlite3.connect(database.url.removeprefix("sqlite:///"))) as conn:
            runs, jobs = conn.execute(query).fetchone()
    else:
        with psycopg.connect(database.url, connect_timeout=_CONNECT_TIMEOUT_SECONDS) as conn:
            row = conn.execute(query).fetchone()
            assert row is not None
            runs, jobs = row
    return Stored(int(runs), int(jobs))


def _cipulse(database: BenchDatabase, code: Code | None, *arguments: str) -> str:
    completed = subprocess.run(
        cipulse_command(*arguments),
        cwd=REPOSITORY,
        env={**os.environ, **environment(database, code)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(
            f"cipulse {' '.join(arguments)} failed ({completed.returncode}):\n{completed.stderr}"
        )
    return completed.stdout


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def _redacted(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return url
