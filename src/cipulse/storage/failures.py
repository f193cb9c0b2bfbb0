"""What a failure of the database means, said in one line.

Driver errors become cipulse errors here: connection failures, time-outs, locks, a full or
read-only disk are ``Unavailable`` (503, ``Retry-After``), with their ``cause`` for the
operator; a database without our tables is a set-up mistake; anything else (an SQL error: a
bug of ours) is raised as it is, so that it is a 500 and not a misleading 503.

``FailureRecord`` keeps what the health check needs to know: the outage log (``outages.py``)
and the last failed write (a full disk shows there first)."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from cipulse.errors import ConfigurationError, Unavailable
from cipulse.settings import Settings
from cipulse.storage.diagnosis import diagnose
from cipulse.storage.outages import OutageLog

#: SQLite reports SQL mistakes as OperationalError too; only these mean "try again later".
_SQLITE_UNAVAILABLE = (
    "database is locked",
    "unable to open database file",
    "disk i/o error",
    "database or disk is full",
    "database table is locked",
    "attempt to write a readonly database",
)
#: SQLite failures after which this server cannot write until someone acts (or, locked: until
#: another program lets go of the write lock it held for CIPULSE_SQLITE_BUSY_TIMEOUT_MS).
_SQLITE_WRITE_FAILURES = (
    "database is locked",
    "database or disk is full",
    "attempt to write a readonly database",
    "disk i/o error",
)
#: PostgreSQL SQLSTATEs that are retryable although psycopg does not class them as
#: operational: a read-only transaction (a standby, after a fail-over).
_POSTGRES_RETRYABLE = {"25006"}
#: PostgreSQL failures after which this server cannot write: disk full, out of memory or
#: other insufficient resources (class 53), read-only transaction, I/O error.
_POSTGRES_WRITE_FAILURES = ("53", "25006", "58030")
#: A statement cancelled by ``statement_timeout`` or ``lock_timeout``: busy, not down.
_POSTGRES_TIMEOUTS = {"57014", "55P03"}

#: How long a failed write counts against health without another failure to renew it: a
#: server taken out of rotation gets no writes to find out that the disk has room again.
WRITE_FAILURE_MEMORY_SECONDS = 60.0


#: SQLite files that are not a database cipulse can use: a set-up mistake, said as such.
_SQLITE_NOT_USABLE = ("file is not a database", "database disk image is malformed")


def _sqlstate(exc: sa.exc.DBAPIError) -> str:
    return str(getattr(exc.orig, "sqlstate", None) or "")


def _unavailable(exc: sa.exc.DBAPIError) -> bool:
    if isinstance(exc.orig, sqlite3.Error):
        message = str(exc.orig).lower()
        return any(text in message for text in _SQLITE_UNAVAILABLE)
    if _sqlstate(exc) in _POSTGRES_RETRYABLE:
        return True
    return isinstance(exc, (sa.exc.OperationalError, sa.exc.InterfaceError))


def is_write_failure(exc: sa.exc.DBAPIError) -> bool:
    if isinstance(exc.orig, sqlite3.Error):
        message = str(exc.orig).lower()
        return any(text in message for text in _SQLITE_WRITE_FAILURES)
    return _sqlstate(exc).startswith(_POSTGRES_WRITE_FAILURES)


def _schema_missing(exc: sa.exc.DBAPIError) -> bool:
    text = f"{type(exc.orig).__name__}: {exc.orig}"
    return ("relation" in text and "does not exist" in text) or "no such table" in text


def location_of(url: sa.URL) -> str:
    """Where the data lives, for messages: a SQLite file's absolute path (a relative
    ``sqlite:///./cipulse.db`` means a different file in every folder), else the URL with
    its password hidden."""
    if url.get_backend_name() != "sqlite":
        return url.render_as_string(hide_password=True)
    if not url.database or url.database == ":memory:":
        return "SQLite in memory"
    return str(Path(url.database).resolve())


def translated(exc: sa.exc.DBAPIError, settings: Settings, url: sa.URL) -> Exception:
    """The cipulse error ``exc`` stands for, or ``exc`` itself when it is a bug of ours."""
    if _schema_missing(exc):
        return ConfigurationError(
            f"the database {location_of(url)} has no cipulse schema yet: run `cipulse migrate` "
            "(`cipulse serve` migrates on start)"
        )
    diagnosis = diagnose(exc.orig if exc.orig is not None else exc, url)
    if isinstance(exc.orig, sqlite3.Error) and str(exc.orig).lower().startswith(_SQLITE_NOT_USABLE):
        return ConfigurationError(f"database_url: {diagnosis.cause}")
    if _sqlstate(exc) in _POSTGRES_TIMEOUTS:
        message = "database busy, retry later"
    elif _unavailable(exc):
        message = "database unavailable, retry later"
    elif exc.connection_invalidated:
        message = "database connection lost, retry later"
    else:
        return exc
    return Unavailable(
        message, settings.retry_after_seconds, diagnosis.cause, retryable=diagnosis.retryable
    )


@dataclass(frozen=True)
class WriteFailure:
    cause: str
    at: float  # time.monotonic()


class FailureRecord:
    """The failures of one ``Database``: the outage log and the last failed write."""

    def __init__(self, settings: Settings, url: sa.URL) -> None:
        self.settings = settings
        self.url = url
        self.outages = OutageLog()
        self._write_failure: WriteFailure | None = None

    @contextmanager
    def translating(self, *, writing: bool) -> Iterator[None]:
        """Driver errors raised in the block become cipulse errors; a block that ends well
        is a sign of life (and, when ``writing``, a write that succeeded)."""
        try:
            yield
        except sa.exc.TimeoutError as exc:  # no pooled connection came free in time
            raise Unavailable(
                "database busy, retry later",
                self.settings.retry_after_seconds,
                f"no free database connection within {self.settings.database_timeout_seconds:g} s",
            ) from exc
        except sa.exc.DBAPIError as exc:
            error = translated(exc, self.settings, self.url)
            if writing and is_write_failure(exc) and isinstance(error, Unavailable):
                self._write_failure = WriteFailure(error.cause, time.monotonic())
            if error is exc:
                raise
            raise error from exc
        if writing:
            self._write_failure = None
        self.outages.recovered()

    def write_failure(self) -> str | None:
        """Why the last write failed, while it is recent and no write succeeded since."""
        failure = self._write_failure
        if failure is None:
            return None
        age = time.monotonic() - failure.at
        if age > WRITE_FAILURE_MEMORY_SECONDS:
            return None
        return f"{failure.cause} ({age:.0f} s ago)"
