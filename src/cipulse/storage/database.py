"""Engines, transactions, snapshots and locks on both databases.

Engines and transactions for SQLite and PostgreSQL. Driver failures are translated into
cipulse errors by ``failures.py``; PostgreSQL's engines and their time limits are in
``postgres.py``.

SQLite is set up the way it works best for a server: WAL so readers never block the writer,
``busy_timeout`` so concurrent processes queue for the write lock instead of failing,
``foreign_keys=ON``, and write transactions that take the lock up front (``BEGIN IMMEDIATE``)
so two writers never deadlock half-way."""

from __future__ import annotations

import fcntl
import logging
import os
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

from cipulse.domain.ids import refresher_lock_id
from cipulse.errors import ConfigurationError, Unavailable
from cipulse.settings import Settings
from cipulse.storage import health, maintenance
from cipulse.storage.dialect import lock_key
from cipulse.storage.failures import FailureRecord, location_of
from cipulse.storage.postgres import postgres_engine

log = logging.getLogger(__name__)

#: The first bytes of every SQLite database file.
SQLITE_HEADER = b"SQLite format 3\x00"

#: Page cache of SQLite's one writer connection: random UUID keys touch many index pages.
SQLITE_CACHE_KIB = 32 * 1024
#: Page cache of each read connection, and how many there may be: the file system caches the
#: file too, and a server's memory is bounded by these (8 times 4 MiB beside the writer's 32).
SQLITE_READER_CACHE_KIB = 4 * 1024
SQLITE_READERS = 8


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def normalise_url(url: str) -> sa.URL:
    if url.startswith("postgres://"):
        url = "postgresql://" + url.removeprefix("postgres://")
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    try:
        return sa.make_url(url)
    except sa.exc.ArgumentError as exc:
        raise ConfigurationError(f"database_url: not a database URL ({exc})") from exc


def redacted(url: str) -> str:
    """The URL with its password hidden, for logs and messages."""
    return normalise_url(url).render_as_string(hide_password=True)


def database_location(url: str) -> str:
    """Where the data lives, for messages (``failures.location_of``)."""
    return location_of(normalise_url(url))


class Database:
    """The engines of one database. Build it once per process (app factory, CLI command)."""

    def __init__(self, settings: Settings, *, background_checkpoints: bool = False) -> None:
        """``background_checkpoints``: on SQLite, a long-running writer (the server, a bulk
        import) checkpoints the WAL from a thread of its own; see ``checkpointing``."""
        self.settings = settings
        self._background_checkpoints = background_checkpoints
        self.url = normalise_url(settings.database_url)
        self.dialect = self.url.get_backend_name()
        self._writer_lock: WriterLock | NoLock = NoLock()
        self._memory_locks: dict[str, threading.Lock] = {}
        #: SQLite: new reads wait while a checkpoint empties a full log (maintenance.py).
        self.read_gate = maintenance.ReadGate()
        self.failures = FailureRecord(settings, self.url)
        if self.dialect == "sqlite":
            if self.url.database and self.url.database != ":memory:":
                check_sqlite_path(Path(self.url.database))
                self._writer_lock = WriterLock(f"{self.url.database}-writer.lock")
            self._writer = self._sqlite_engine(immediate=True)
            self._reader = self._sqlite_engine(immediate=False)
        elif self.dialect == "postgresql":
            self._writer = postgres_engine(self.url, settings, "writer")
            self._reader = postgres_engine(self.url, settings, "reader")
            self._probe = postgres_engine(self.url, settings, "probe")
        else:
            raise ConfigurationError(f"database_url: unsupported database {self.dialect!r}")

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @property
    def writer_threads(self) -> int:
        """How many threads may usefully write at once: SQLite has one writer."""
        if self.is_sqlite:
            return 1
        return self.settings.ingest_writers

    @property
    def engine(self) -> Engine:
        """The engine migrations and administrative commands use."""
        return self._writer

    def _sqlite_engine(self, *, immediate: bool) -> Engine:
        engine = sa.create_engine(
            self.url,
            json_serializer=_json_dumps,
            json_deserializer=orjson.loads,
            connect_args={"check_same_thread": False, "isolation_level": None},
            pool_size=1 if immediate else SQLITE_READERS // 2,
            max_overflow=0 if immediate else SQLITE_READERS - SQLITE_READERS // 2,
        )
        busy_timeout = self.settings.sqlite_busy_timeout_ms

        @event.listens_for(engine, "connect")
        def _configure(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout)}")
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
            cursor.execute("PRAGMA foreign_keys = ON")
            cache_kib = SQLITE_CACHE_KIB if immediate else SQLITE_READER_CACHE_KIB
            cursor.execute(f"PRAGMA cache_size = -{cache_kib}")
            if not immediate:
                cursor.execute("PRAGMA query_only = ON")  # readers read, the writer writes
            else:
                cursor.execute(f"PRAGMA journal_size_limit = {maintenance.WAL_SIZE_LIMIT_BYTES}")
                if self._background_checkpoints:
                    # Checkpoints (the only fsyncs in WAL mode) run in their own thread
                    # (storage/maintenance.py), not inside whichever commit crosses the
                    # threshold.
                    cursor.execute("PRAGMA wal_autocheckpoint = 0")
            cursor.close()

        begin = "BEGIN IMMEDIATE" if immediate else "BEGIN"

        @event.listens_for(engine, "begin")
        def _begin(connection: Connection) -> None:
            connection.exec_driver_sql(begin)

        return engine

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction: committed when the block ends, rolled back on error."""
        with (
            self.failures.translating(writing=True),
            self._writer_lock.held(),
            self._writer.begin() as connection,
        ):
            yield connection

    @contextmanager
    def read(self) -> Iterator[Connection]:
        self.read_gate.wait()
        with self.failures.translating(writing=False), self._reader.connect() as connection:
            yield connection

    @contextmanager
    def snapshot(self) -> Iterator[Connection]:
        """A read transaction that sees one consistent state of the database throughout:
        SQLite's read transactions do; on PostgreSQL, ``REPEATABLE READ``. Keep it short:
        on SQLite a reader holds back the checkpoint of what was written after it began."""
        self.read_gate.wait()
        with self.failures.translating(writing=False), self._reader.connect() as connection:
            if not self.is_sqlite:
                connection = connection.execution_options(isolation_level="REPEATABLE READ")
            with connection.begin():
                yield connection

    @contextmanager
    def refresher_lock(self, org_id: str, *, wait: bool = False) -> Iterator[bool]:
        """Become the one rollup refresher of the organisation (``exclusive``; on SQLite one
        refresher for the whole file)."""
        with self.exclusive("refresher", refresher_lock_id(org_id), wait=wait) as held:
            yield held

    @contextmanager
    def exclusive(self, name: str, lock_id: str, *, wait: bool = False) -> Iterator[bool]:
        """Become the one holder of a lock across threads, processes and (PostgreSQL)
        servers, waiting for it or (without ``wait``) not; yields whether it did. SQLite: an
        exclusive ``flock`` on ``<database>-<name>.lock``. PostgreSQL: a session advisory
        lock on ``lock_id`` (a UUID's text), on a connection held meanwhile (released if the
        process dies)."""
        if self.is_sqlite:
            with self._file_lock(name, wait) as held:
                yield held
            return
        with self.failures.translating(writing=False), self._writer.connect() as connection:
            key = lock_key(lock_id)
            if wait:
                connection.execute(sa.text("SELECT pg_advisory_lock(:key)"), {"key": key})
                held = True
            else:
                query = sa.text("SELECT pg_try_advisory_lock(:key)")
                held = bool(connection.execute(query, {"key": key}).scalar_one())
            connection.commit()
            try:
                yield held
            finally:
                if held:
                    connection.execute(sa.text("SELECT pg_advisory_unlock(:key)"), {"key": key})
                    connection.commit()

    @contextmanager
    def _file_lock(self, name: str, wait: bool) -> Iterator[bool]:
        path = self.url.database
        if not path or path == ":memory:":
            mutex = self._memory_locks.setdefault(name, threading.Lock())
            held = mutex.acquire(blocking=wait)
            try:
                yield held
            finally:
                if held:
                    mutex.release()
            return
        fd = os.open(f"{path}-{name}.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            yield True
        finally:
            os.close(fd)  # closing the descriptor releases its lock

    @contextmanager
    def checkpointing(self) -> Iterator[None]:
        """While the block runs, keep the database in shape from a background thread
        (``storage/maintenance.py``: the SQLite log bounded, planner statistics, vacuum).
        Nothing for a database built without ``background_checkpoints``."""
        if not self._background_checkpoints:
            yield
            return
        target: maintenance.SqliteLog | maintenance.PostgresMaintenance
        if self.is_sqlite:
            target = maintenance.SqliteLog(self.url.database or ":memory:", self.read_gate)
        else:
            target = maintenance.PostgresMaintenance(self._writer)
        with maintenance.running(target):
            yield

    def health(self) -> dict[str, str]:
        """``read`` and ``write``: ``"ok"`` or what is wrong (``health.py``). Blocking: a
        frozen database holds it until the probe's connect or statement timeout."""
        if self.is_sqlite:
            checks = health.sqlite_checks(
                self.url.database,
                self.settings.health_timeout_seconds,
                self.settings.min_free_disk_mib,
                self.failures,
            )
        else:
            checks = health.postgres_checks(self._probe, self.url, self.failures)
        if checks["read"] == health.OK:
            self.failures.outages.recovered()
        return checks

    def dispose(self) -> None:
        self._writer.dispose()
        if self._reader is not self._writer:
            self._reader.dispose()
        if not self.is_sqlite:
            self._probe.dispose()
        self._writer_lock.close()


class NoLock:
    @contextmanager
    def held(self) -> Iterator[None]:
        yield

    def close(self) -> None:
        pass


class WriterLock:
    """An exclusive ``flock`` on a file beside the SQLite database, held around every write
    transaction, so that several server processes hand the write lock to each other as soon
    as it is free (the kernel wakes the waiter) instead of through SQLite's busy handler,
    which sleeps up to 100 ms between tries and starves writers under load: with two
    workers it took p99 from seconds to tens of milliseconds. (Not the database file itself:
    closing another descriptor of it would drop SQLite's own POSIX locks.) Writers that do
    not take it, such as the sqlite3 shell, are still kept out by SQLite's lock and
    ``busy_timeout``. The wait is not bounded here; the server bounds how long a request
    waits for its write (``CIPULSE_WRITE_TIMEOUT_SECONDS``)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._fd: int | None = None
        self._mutex = threading.Lock()  # flock does not exclude threads sharing a descriptor

    def _descriptor(self) -> int:
        if self._fd is None:
            try:
                self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as exc:
                raise Unavailable(
                    "database unavailable, retry later",
                    cause=f"cannot open {self.path}: {exc.strerror}",
                    retryable=False,
                ) from None
        return self._fd

    @contextmanager
    def held(self) -> Iterator[None]:
        with self._mutex:
            fd = self._descriptor()
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def check_sqlite_path(path: Path) -> None:
    """A SQLite database needs an existing directory it may write in (for the file, its WAL
    and the writer lock), and a file it may write when it exists. One clear line otherwise."""
    directory = path.resolve().parent
    if not directory.is_dir():
        raise ConfigurationError(
            f"database_url: the directory {directory} does not exist "
            "(SQLite creates the file, not its directory)"
        )
    if path.is_file() and path.stat().st_size and not _has_sqlite_header(path):
        raise ConfigurationError(f"database_url: {path} is not a SQLite database")
    for target in (directory, path):
        if target.exists() and not os.access(target, os.W_OK):
            kind = "directory" if target is directory else "database file"
            raise ConfigurationError(
                f"database_url: cannot write the {kind} {target}: {_why_not_writable(target)} "
                "(SQLite writes the database, its WAL and a lock file there)"
            )


def _has_sqlite_header(path: Path) -> bool:
    try:
        with path.open("rb") as file:
            return file.read(len(SQLITE_HEADER)) == SQLITE_HEADER
    except OSError:
        return True  # unreadable: let SQLite say why


def _why_not_writable(target: Path) -> str:
    """The system's reason, found by trying: an unnamed temporary file in a directory (nothing
    appears in it), or opening the file for writing."""
    try:
        if target.is_dir():
            tempfile.TemporaryFile(dir=target).close()
        else:
            target.open("r+b").close()
    except OSError as exc:
        return exc.strerror or str(exc)
    return "not writable"
