"""Engines and transactions for SQLite and PostgreSQL, and the translation of driver failures
into ``Unavailable`` (503, retryable).

SQLite is set up the way it works best for a server: WAL so readers never block the writer,
``busy_timeout`` so concurrent processes queue for the write lock instead of failing,
``foreign_keys=ON``, and write transactions that take the lock up front (``BEGIN IMMEDIATE``)
so two writers never deadlock half-way."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

from cipulse.errors import ConfigurationError, Unavailable
from cipulse.settings import Settings

log = logging.getLogger(__name__)


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


class Database:
    """The engines of one database. Build it once per process (app factory, CLI command)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.url = normalise_url(settings.database_url)
        self.dialect = self.url.get_backend_name()
        if self.dialect == "sqlite":
            self._writer = self._sqlite_engine(immediate=True)
            self._reader = self._sqlite_engine(immediate=False)
        elif self.dialect == "postgresql":
            self._writer = sa.create_engine(
                self.url,
                json_serializer=_json_dumps,
                json_deserializer=orjson.loads,
                pool_size=10,
                max_overflow=10,
                pool_pre_ping=True,
                connect_args={
                    "connect_timeout": max(1, int(settings.database_timeout_seconds)),
                    "application_name": "cipulse",
                },
            )
            self._reader = self._writer
        else:
            raise ConfigurationError(f"database_url: unsupported database {self.dialect!r}")

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

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
            pool_size=1 if immediate else 5,
            max_overflow=0 if immediate else 10,
        )
        busy_timeout = self.settings.sqlite_busy_timeout_ms

        @event.listens_for(engine, "connect")
        def _configure(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout)}")
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
            cursor.execute("PRAGMA foreign_keys = ON")
            cursor.close()

        begin = "BEGIN IMMEDIATE" if immediate else "BEGIN"

        @event.listens_for(engine, "begin")
        def _begin(connection: Connection) -> None:
            connection.exec_driver_sql(begin)

        return engine

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction: committed when the block ends, rolled back on error."""
        with translate_unavailable(self.settings), self._writer.begin() as connection:
            yield connection

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with translate_unavailable(self.settings), self._reader.connect() as connection:
            yield connection

    def ping(self) -> bool:
        try:
            with self.read() as connection:
                connection.execute(sa.text("SELECT 1"))
        except Unavailable:
            return False
        return True

    def dispose(self) -> None:
        self._writer.dispose()
        if self._reader is not self._writer:
            self._reader.dispose()


@contextmanager
def translate_unavailable(settings: Settings) -> Iterator[None]:
    """Connection failures, lock time-outs and lost connections are retryable: 503."""
    try:
        yield
    except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
        log.warning("database unavailable: %s", type(exc.orig).__name__ if exc.orig else exc)
        raise Unavailable(
            "database unavailable, retry later", settings.retry_after_seconds
        ) from exc
    except sa.exc.DBAPIError as exc:
        if exc.connection_invalidated:
            raise Unavailable(
                "database connection lost, retry later", settings.retry_after_seconds
            ) from exc
        raise
