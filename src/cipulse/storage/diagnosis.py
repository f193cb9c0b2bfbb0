"""A driver's message → a cause someone can act on, retryable or not.

A database failure said so that whoever reads it knows what to fix: ``connection refused at
db.internal:5432``, ``authentication failed for user ci``, ``database ci does not exist at
db.internal:5432``, ``/var/lib/cipulse/cipulse.db is not a SQLite database``; and whether
trying again later may help without anyone acting (``retryable``). The drivers' own messages
are read for this: libpq reports connection failures without an error code."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa


@dataclass(frozen=True)
class Diagnosis:
    cause: str
    retryable: bool


_SERVER_AT = re.compile(r'connection to server at "([^"]+)"(?: \([^)]*\))?, port (\d+) failed: ')

#: (pattern of the driver's message, what it means, retryable). ``{where}`` is host:port,
#: ``{user}`` and ``{database}`` those of the URL, ``{0}``... the pattern's groups.
_POSTGRES_RULES: list[tuple[re.Pattern[str], str, bool]] = [
    (re.compile(r"Connection refused"), "connection refused at {where}", True),
    (re.compile(r"timeout expired"), "no answer from {where} (connect timeout)", True),
    (
        re.compile(r'role "([^"]+)" does not exist'),
        "authentication failed for user {0} at {where}: no such role",
        False,
    ),
    (
        re.compile(r'password authentication failed for user "([^"]+)"'),
        "authentication failed for user {0} at {where}: wrong password",
        False,
    ),
    (
        re.compile(r"no password supplied"),
        "authentication failed for user {user} at {where}: the server wants a password "
        "and the URL has none",
        False,
    ),
    (
        re.compile(r'no pg_hba\.conf entry for host "[^"]+", user "([^"]+)"'),
        "authentication failed for user {0} at {where}: no pg_hba.conf entry lets it in "
        "from this host",
        False,
    ),
    (
        re.compile(r'database "([^"]+)" does not exist'),
        "database {0} does not exist at {where}",
        False,
    ),
    (
        re.compile(r"failed to resolve host '([^']+)'|could not translate host name \"([^\"]+)\""),
        "unknown host {host}",
        False,
    ),
    (
        re.compile(r"the database system is ([a-z ]+)"),
        "PostgreSQL at {where}: the database system is {0}",
        True,
    ),
    (
        re.compile(r"too many clients|remaining connection slots"),
        "PostgreSQL at {where} has no connection left (max_connections)",
        True,
    ),
    (
        re.compile(r"server closed the connection|terminating connection|consuming input failed"),
        "connection to {where} lost",
        True,
    ),
]

_SQLITE_RULES: list[tuple[str, Callable[[str], str], bool]] = [
    ("file is not a database", lambda path: f"{path} is not a SQLite database", False),
    (
        "database disk image is malformed",
        lambda path: f"{path} is damaged (database disk image is malformed)",
        False,
    ),
    (
        "database is locked",
        lambda path: f"{path} is locked by another program (CIPULSE_SQLITE_BUSY_TIMEOUT_MS)",
        True,
    ),
    ("database table is locked", lambda path: f"{path} is locked by another program", True),
    ("database or disk is full", lambda path: f"database or disk is full: {path}", False),
    (
        "attempt to write a readonly database",
        lambda path: f"{path} is read-only (attempt to write a readonly database)",
        False,
    ),
    ("unable to open database file", lambda path: f"cannot open {path}", False),
    ("disk i/o error", lambda path: f"disk I/O error on {path}", False),
]


def first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def diagnose_sqlite(error: sqlite3.Error, path: str) -> Diagnosis:
    message = str(error).lower()
    for text, cause, retryable in _SQLITE_RULES:
        if text in message:
            return Diagnosis(cause(path), retryable)
    return Diagnosis(f"{first_line(error)} ({path})", True)


def diagnose_postgres(error: BaseException, url: sa.URL) -> Diagnosis:
    message = str(error)
    found = _SERVER_AT.search(message)
    host, port = (found.group(1), found.group(2)) if found else (url.host, url.port or 5432)
    where = f"{host}:{port}" if host else "the local socket"
    names = {"where": where, "host": url.host or "", "user": url.username or ""}
    for pattern, cause, retryable in _POSTGRES_RULES:
        match = pattern.search(message)
        if match:
            groups = [group for group in match.groups() if group is not None]
            return Diagnosis(cause.format(*groups, **names), retryable)
    text = first_line(error).removeprefix("connection failed: ")
    return Diagnosis(text, True)


def diagnose(error: BaseException, url: sa.URL) -> Diagnosis:
    """What ``error`` (the driver's exception) means for the database at ``url``."""
    if isinstance(error, sqlite3.Error):
        return diagnose_sqlite(error, url.database or ":memory:")
    return diagnose_postgres(error, url)
