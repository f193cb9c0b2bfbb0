"""Background upkeep: the SQLite log checkpointed, memory trimmed.

Keeping a database in shape from a background thread while a server (or a bulk import)
runs, and the process's memory with it.

SQLite's write-ahead log is bounded. In WAL mode a checkpoint copies logged pages into the
database file; the log starts over from its beginning only once a checkpoint has copied all
of it and no reader still reads from it. Under steady ingest beside readers that never
happens by itself (a reader always holds some old snapshot), so the log grew without bound,
and every read got slower with it. Every ``CHECKPOINT_EVERY_SECONDS`` the thread runs a
``PASSIVE`` checkpoint (it never waits), or a ``TRUNCATE`` one, which copies the rest of the
log and empties the file once the readers of older snapshots have finished, holding off new
writes while it waits (and the process's new reads: ``ReadGate``, so that it can complete):

- when nothing was written since the last tick (no one waits);
- when the log has reached ``WAL_TRUNCATE_BYTES``, waiting at most ``SHORT_WAIT_MS``; one that
  could not complete (a long read or refresh held on) is tried again after a second, then
  after twice as long each time, up to ``MAX_BACKOFF_SECONDS``;
- when the log has reached ``WAL_LIMIT_BYTES``, whatever the backoff, waiting at most
  ``LONG_WAIT_MS``: the bound. While such a checkpoint waits nothing is written, so the log
  never grows much past it.

The writer also keeps the log's file at most ``WAL_SIZE_LIMIT_BYTES`` when it starts over
(``journal_size_limit``).

Planner statistics: ``ANALYZE`` (sampling ``ANALYSIS_LIMIT`` rows per index) at the start,
every ten minutes and at the end: without them SQLite picks plans that scan every job of an
organisation. PostgreSQL: ``ANALYZE`` the tables that grow and ``VACUUM`` those that churn,
a few seconds in, every minute and at the end, as autovacuum would (it may be off, and a bulk
import outgrows its statistics long before autovacuum's next round). Memory: freed pages are
given back to the system every ``TRIM_EVERY_SECONDS`` (``cipulse.memory``)."""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from cipulse import memory

log = logging.getLogger(__name__)

CHECKPOINT_EVERY_SECONDS = 0.25
#: The log's size at which a checkpoint waits a moment for readers to empty it, and the size
#: at which it waits as long as it takes (up to ``LONG_WAIT_MS``).
WAL_TRUNCATE_BYTES = 16 * 1024 * 1024
WAL_LIMIT_BYTES = 40 * 1024 * 1024
SHORT_WAIT_MS = 500
#: Below the writer's own wait for the lock (``CIPULSE_SQLITE_BUSY_TIMEOUT_MS``, 5 s by
#: default), so that ingest waits for the checkpoint rather than failing.
LONG_WAIT_MS = 3_000
#: The longest a new read transaction waits for such a checkpoint.
GATE_SECONDS = LONG_WAIT_MS / 1000
#: The longest a checkpoint that could not complete waits before it tries again.
MAX_BACKOFF_SECONDS = 8.0
#: What the writer truncates the log's file to when it starts over.
WAL_SIZE_LIMIT_BYTES = 4 * 1024 * 1024
OPTIMIZE_EVERY_SECONDS = 600
ANALYSIS_LIMIT = 1000
TRIM_EVERY_SECONDS = 10

#: PostgreSQL: how often the server analyses the tables that grow.
POSTGRES_ANALYZE_EVERY_SECONDS = 60
#: Every round: statistics of the growing tables, and the marks table vacuumed (it churns:
#: every ingest batch inserts marks, every refresh deletes them). Every tenth round: the
#: rollup tables, which refreshes rewrite. PostgreSQL's autovacuum does the same when it is on;
#: without it, dead rows slow every read of these tables.
POSTGRES_MAINTENANCE = (
    "ANALYZE run_attempts, jobs",
    "VACUUM (ANALYZE) rollup_dirty",
)
POSTGRES_SLOW_MAINTENANCE = (
    "VACUUM (ANALYZE) run_rollups, job_rollups, metric_rollups, rollup_repeats, red_periods, "
    "runner_rollups",
)


class ReadGate:
    """Holds a process's new read transactions back while a checkpoint empties the log."""

    def __init__(self) -> None:
        self._open = threading.Event()
        self._open.set()

    def wait(self) -> None:
        self._open.wait(GATE_SECONDS)

    @contextmanager
    def closed(self) -> Iterator[None]:
        self._open.clear()
        try:
            yield
        finally:
            self._open.set()


class SqliteLog:
    """The write-ahead log of one SQLite file, checkpointed by the policy above."""

    def __init__(self, path: str, gate: ReadGate) -> None:
        self.path = path
        self.gate = gate
        self._connection: sqlite3.Connection | None = None
        self._data_version: int | None = None
        self._backoff = 0.0
        self._next_wait = 0.0  # monotonic: when a waiting checkpoint may be tried again

    def _connect(self) -> sqlite3.Connection:
        if self._connection is None:
            self._connection = sqlite3.connect(
                self.path, timeout=SHORT_WAIT_MS / 1000, check_same_thread=False
            )
            self._connection.isolation_level = None
        return self._connection

    def size(self) -> int:
        try:
            return Path(f"{self.path}-wal").stat().st_size
        except OSError:
            return 0

    def checkpoint(self, *, final: bool = False) -> None:
        """One tick of the policy (``final``: empty the log, the server is stopping)."""
        try:
            connection = self._connect()
            version = connection.execute("PRAGMA data_version").fetchone()[0]
            idle = version == self._data_version
            self._data_version = version
            size = self.size()
            if not size:
                return
            if size >= WAL_LIMIT_BYTES:
                self._truncate(connection, LONG_WAIT_MS)
            elif size >= WAL_TRUNCATE_BYTES and time.monotonic() >= self._next_wait:
                self._truncate(connection, SHORT_WAIT_MS)
            else:
                mode = "TRUNCATE" if final or idle else "PASSIVE"
                connection.execute(f"PRAGMA wal_checkpoint({mode})").fetchone()
        except sqlite3.Error as exc:  # busy, or gone: the next tick tries again
            log.debug("checkpoint skipped: %s", exc)

    def _truncate(self, connection: sqlite3.Connection, wait_ms: int) -> None:
        """Empty the log, waiting at most ``wait_ms`` for older readers and the writer, new
        reads held back meanwhile; back off when it could not complete."""
        connection.execute(f"PRAGMA busy_timeout = {wait_ms}")
        try:
            with self.gate.closed():
                result = connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        finally:
            connection.execute(f"PRAGMA busy_timeout = {SHORT_WAIT_MS}")
        if result is not None and result[0]:  # busy: readers or the writer held on
            self._backoff = min(max(1.0, self._backoff * 2), MAX_BACKOFF_SECONDS)
            self._next_wait = time.monotonic() + self._backoff
            log.debug("log not emptied (busy); next try in %.0f s", self._backoff)
        else:
            self._backoff = 0.0

    def analyze(self) -> None:
        try:
            connection = sqlite3.connect(self.path, timeout=1)
            try:
                connection.execute(f"PRAGMA analysis_limit = {ANALYSIS_LIMIT}")
                connection.execute("ANALYZE")
            finally:
                connection.close()
        except sqlite3.Error as exc:
            log.debug("ANALYZE skipped: %s", exc)

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


class PostgresMaintenance:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._rounds = 0

    def analyze(self) -> None:
        self._rounds += 1
        statements: tuple[str, ...] = POSTGRES_MAINTENANCE
        if self._rounds % 10 == 1:
            statements += POSTGRES_SLOW_MAINTENANCE
        try:
            with self.engine.connect() as connection:
                autocommit = connection.execution_options(isolation_level="AUTOCOMMIT")
                for statement in statements:
                    autocommit.exec_driver_sql(statement)
        except sa.exc.DBAPIError as exc:
            log.debug("maintenance skipped: %s", exc)


@contextmanager
def running(target: SqliteLog | PostgresMaintenance) -> Iterator[None]:
    """While the block runs, maintain ``target`` from a thread of its own."""
    stop = threading.Event()
    sqlite = isinstance(target, SqliteLog)
    every = OPTIMIZE_EVERY_SECONDS if sqlite else POSTGRES_ANALYZE_EVERY_SECONDS
    tick = CHECKPOINT_EVERY_SECONDS if sqlite else 1.0

    def run() -> None:
        next_analysis = time.monotonic() + (every if sqlite else 5.0)
        next_trim = time.monotonic() + TRIM_EVERY_SECONDS
        while not stop.wait(tick):
            if isinstance(target, SqliteLog):
                target.checkpoint()
            now = time.monotonic()
            if now >= next_analysis:
                target.analyze()
                next_analysis = now + every
            if now >= next_trim:
                memory.trim()
                next_trim = now + TRIM_EVERY_SECONDS

    if sqlite:
        target.analyze()
    thread = threading.Thread(target=run, name="cipulse-maintenance", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        if isinstance(target, SqliteLog):
            target.checkpoint(final=True)
            target.close()
        target.analyze()
