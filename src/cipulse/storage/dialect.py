"""The few places where SQLite and PostgreSQL differ, in one module."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection


def insert_for(conn: Connection) -> Any:
    """The dialect's ``insert`` construct, which has ``on_conflict_do_*``."""
    return postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert


def _lock_key(identifier: str) -> int:
    """A signed 64-bit advisory-lock key from the first 16 hex digits of a UUID."""
    value = int(identifier.replace("-", "")[:16], 16)
    return value - (1 << 64) if value >= (1 << 63) else value


def lock_natural_keys(conn: Connection, identifiers: Iterable[str]) -> None:
    """Serialise writers of the same runs across servers until the transaction ends.

    SQLite needs nothing: its write transactions start with ``BEGIN IMMEDIATE`` and so hold
    the database's one write lock. On PostgreSQL, transaction-scoped advisory locks taken in
    a fixed order (sorted, so two batches never deadlock) make "read the stored state, then
    write" safe when many servers ingest the same run at once."""
    if conn.dialect.name != "postgresql":
        return
    keys = sorted({_lock_key(identifier) for identifier in identifiers})
    if keys:
        conn.execute(
            sa.text("SELECT pg_advisory_xact_lock(k) FROM unnest(CAST(:keys AS bigint[])) AS k"),
            {"keys": keys},
        )
