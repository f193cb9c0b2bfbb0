"""Whether this server can read and write its database (/healthz).

Whether this server can read and write its database, checked cheaply and without writing
anything: what ``GET /healthz`` reports.

Each check answers ``"ok"`` or, in one line, what is wrong. ``read``: a new connection
answers a query. ``write``: SQLite takes the write lock and gives it back
(``BEGIN IMMEDIATE; ROLLBACK``: a read-only file or directory fails), its file system has
``CIPULSE_MIN_FREE_DISK_MIB`` free; PostgreSQL is not a read-only standby; and on both, the
last write of this server did not fail for want of space or permission (``failures.py``)."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from urllib.parse import quote

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from cipulse.storage.diagnosis import diagnose_postgres, diagnose_sqlite
from cipulse.storage.failures import FailureRecord

OK = "ok"
NOT_CHECKED = "not checked: the database cannot be read"
MIB = 1024 * 1024
#: How long the write check waits for SQLite's write lock; a lock still held is a busy writer.
LOCK_WAIT_MS = 100


def sqlite_checks(
    path: str | None, timeout_seconds: float, min_free_mib: int, failures: FailureRecord
) -> dict[str, str]:
    if not path or path == ":memory:":
        return {"read": OK, "write": OK}
    try:
        connection = sqlite3.connect(
            f"file:{quote(path)}?mode=rw", uri=True, timeout=timeout_seconds, isolation_level=None
        )
    except sqlite3.Error as exc:
        return {"read": diagnose_sqlite(exc, path).cause, "write": NOT_CHECKED}
    try:
        try:
            connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.Error as exc:
            return {"read": diagnose_sqlite(exc, path).cause, "write": NOT_CHECKED}
        return {"read": OK, "write": _sqlite_write(connection, path, min_free_mib, failures)}
    finally:
        connection.close()


def _sqlite_write(
    connection: sqlite3.Connection, path: str, min_free_mib: int, failures: FailureRecord
) -> str:
    try:
        # The server's own writer may hold the lock for a batch: do not queue behind it.
        connection.execute(f"PRAGMA busy_timeout = {LOCK_WAIT_MS}")
        connection.execute("BEGIN IMMEDIATE")
        connection.execute("ROLLBACK")
    except sqlite3.OperationalError as exc:
        if "locked" not in str(exc).lower():  # locked: another writer is at work
            return diagnose_sqlite(exc, path).cause
    directory = Path(path).resolve().parent
    if min_free_mib:
        stats = os.statvfs(directory)
        free_mib = stats.f_bavail * stats.f_frsize // MIB
        if free_mib < min_free_mib:
            return (
                f"disk almost full: {free_mib} MiB free in {directory} "
                f"(CIPULSE_MIN_FREE_DISK_MIB is {min_free_mib})"
            )
    return failures.write_failure() or OK


def postgres_checks(probe: Engine, url: sa.URL, failures: FailureRecord) -> dict[str, str]:
    try:
        with probe.connect() as connection:
            standby, read_only = connection.execute(
                sa.text(
                    "SELECT pg_is_in_recovery(), current_setting('default_transaction_read_only')"
                )
            ).one()
    except sa.exc.DBAPIError as exc:
        return {"read": diagnose_postgres(exc.orig or exc, url).cause, "write": NOT_CHECKED}
    if standby:
        write = "the database is a read-only standby (in recovery)"
    elif read_only == "on":
        write = "the database is read-only (default_transaction_read_only is on)"
    else:
        write = failures.write_failure() or OK
    return {"read": OK, "write": write}
