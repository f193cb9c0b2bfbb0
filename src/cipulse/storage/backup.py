"""Backups: SQLite's online backup API; pg_dump for PostgreSQL.

Backups: SQLite through its online backup API (consistent, safe while servers write),
PostgreSQL through ``pg_dump`` (docs/deployment.md, "Backups and restore")."""

from __future__ import annotations

import os
import shlex
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path

from cipulse.errors import ConfigurationError, InvalidRequest, Unavailable
from cipulse.storage.database import Database
from cipulse.storage.migrate import current_revision


@dataclass(frozen=True, slots=True)
class Backup:
    """A backup written: where, how large, and the schema revision it holds."""

    path: Path
    size_bytes: int
    revision: str | None


def checked_target(target: Path, *, overwrite: bool) -> Path:
    target = target.expanduser()
    if target.exists() and not overwrite:
        raise InvalidRequest(f"path: {target} exists; name another file, or give --force")
    if not target.parent.is_dir():
        raise InvalidRequest(f"path: the directory {target.parent} does not exist")
    return target


def backup_sqlite(database: Database, target: Path) -> Backup:
    """Copy the database into ``target`` with SQLite's backup API in one step: one read
    transaction, so the copy is the database as it was at one instant, while servers go on
    writing (WAL: readers and the writer do not block each other). Written beside the target
    and renamed into place, so ``target`` is never half a backup; checked with
    ``PRAGMA quick_check``; a single file (rollback journal mode) to copy anywhere."""
    source_path = database.url.database
    if not source_path or source_path == ":memory:":
        raise InvalidRequest("database_url: an in-memory database has nothing to back up")
    if not Path(source_path).is_file():
        raise ConfigurationError(f"database_url: no SQLite database at {source_path}")
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    timeout = database.settings.sqlite_busy_timeout_ms / 1000
    try:
        source = sqlite3.connect(source_path, timeout=timeout)
        copy = sqlite3.connect(partial)
        try:
            source.backup(copy)  # pages=-1: every page in one step, from one snapshot
            copy.execute("PRAGMA journal_mode = DELETE")
            problem = copy.execute("PRAGMA quick_check").fetchone()[0]
            if problem != "ok":
                raise Unavailable(f"the backup failed its check: {problem}", 5)
            revision = _revision(copy)
        finally:
            copy.close()
            source.close()
        os.replace(partial, target)
    except sqlite3.Error as exc:
        partial.unlink(missing_ok=True)
        raise Unavailable(f"backup failed: {exc}", database.settings.retry_after_seconds) from exc
    return Backup(target, target.stat().st_size, revision)


def _revision(connection: sqlite3.Connection) -> str | None:
    try:
        row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.Error:
        return None
    return None if row is None else str(row[0])


def pg_dump_command(database: Database, target: Path) -> list[str]:
    """The ``pg_dump`` that writes a backup of the database to ``target`` (custom format,
    which ``pg_restore`` reads). The password, if any, is not in it: pg_dump takes it from
    ``PGPASSWORD`` (or ``~/.pgpass``)."""
    url = database.url.set(drivername="postgresql", password=None)
    return [
        "pg_dump",
        "--format=custom",
        "--no-owner",
        f"--file={target}",
        f"--dbname={url.render_as_string(hide_password=False)}",
    ]


def printable(command: list[str]) -> str:
    return shlex.join(command)


def backup_postgresql(database: Database, target: Path) -> Backup:
    """Run ``pg_dump`` (it must be on PATH, of the server's major version or newer)."""
    command = pg_dump_command(database, target)
    executable = shutil.which("pg_dump")
    if executable is None:
        raise ConfigurationError(
            "pg_dump: not found on PATH (install the PostgreSQL client); the backup is:\n"
            f"  {printable(command)}"
        )
    environment = dict(os.environ)
    if database.url.password:
        environment["PGPASSWORD"] = str(database.url.password)
    partial = target.with_name(target.name + ".partial")
    command[3] = f"--file={partial}"
    finished = subprocess.run(
        [executable, *command[1:]], env=environment, capture_output=True, text=True, check=False
    )
    if finished.returncode != 0:
        partial.unlink(missing_ok=True)
        error = finished.stderr.strip().replace(str(database.url.password or "\0"), "***")
        raise Unavailable(
            f"pg_dump of {database.url.render_as_string(hide_password=True)} failed: {error}",
            database.settings.retry_after_seconds,
        )
    os.replace(partial, target)
    return Backup(target, target.stat().st_size, current_revision(database))
