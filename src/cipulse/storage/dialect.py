"""Where SQLite and PostgreSQL differ: upserts, bulk writes, locks.

The few places where SQLite and PostgreSQL differ, in one module: the ``insert`` construct
with ``ON CONFLICT``, bulk statements on the driver (``?`` or ``%s`` placeholders), a member
of a JSON object by any key, and the locks that serialise writers of the same run."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement


def insert_for(conn: Connection) -> Any:
    """The dialect's ``insert`` construct, which has ``on_conflict_do_*``."""
    return postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert


def column_names(table: sa.Table) -> tuple[str, ...]:
    """The order of the values in the row tuples that ``bulk_insert`` takes."""
    return tuple(column.name for column in table.columns)


@functools.cache
def _placeholder(dialect: str) -> str:
    return "%s" if dialect == "postgresql" else "?"


def placeholder(conn: Connection) -> str:
    """The driver's parameter marker: ``%s`` (psycopg) or ``?`` (sqlite3)."""
    return _placeholder(conn.dialect.name)


@functools.cache
def _insert_sql(dialect: str, table: str, columns: tuple[str, ...], on_conflict: str) -> str:
    values = ", ".join([_placeholder(dialect)] * len(columns))
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({values}) {on_conflict}".rstrip()


def bulk_insert(
    conn: Connection, table: sa.Table, rows: Sequence[tuple[Any, ...]], on_conflict: str = ""
) -> None:
    """Insert many rows (tuples in ``column_names(table)`` order) with one driver
    ``executemany``: the hot path of ingest, so no per-row SQLAlchemy processing. JSON
    values must already be serialised. ``on_conflict`` is the same SQL on both databases."""
    if rows:
        sql = _insert_sql(conn.dialect.name, table.name, column_names(table), on_conflict)
        conn.exec_driver_sql(sql, list(rows))


def upsert_clause(table: sa.Table, keys: Sequence[str], update: Iterable[str] | None) -> str:
    """``ON CONFLICT (keys) DO NOTHING`` or ``… DO UPDATE SET c = excluded.c, …``."""
    target = f"ON CONFLICT ({', '.join(keys)})"
    columns = list(update or [])
    if not columns:
        return f"{target} DO NOTHING"
    assignments = ", ".join(f"{c} = excluded.{c}" for c in columns)
    return f"{target} DO UPDATE SET {assignments}"


def bulk_update(
    conn: Connection,
    table: sa.Table,
    columns: Sequence[str],
    keys: Sequence[str],
    rows: Sequence[tuple[Any, ...]],
) -> None:
    """``UPDATE table SET columns WHERE keys``: each row holds the ``columns`` values, then
    the ``keys`` values."""
    if not rows:
        return
    mark = _placeholder(conn.dialect.name)
    assignments = ", ".join(f"{c} = {mark}" for c in columns)
    condition = " AND ".join(f"{k} = {mark}" for k in keys)
    conn.exec_driver_sql(f"UPDATE {table.name} SET {assignments} WHERE {condition}", list(rows))


def bulk_delete(
    conn: Connection, table: sa.Table, keys: Sequence[str], rows: Sequence[tuple[Any, ...]]
) -> None:
    if not rows:
        return
    mark = _placeholder(conn.dialect.name)
    condition = " AND ".join(f"{k} = {mark}" for k in keys)
    conn.exec_driver_sql(f"DELETE FROM {table.name} WHERE {condition}", list(rows))


class json_member(FunctionElement[Any]):
    """``json_member(column, key)``: the member ``key`` of the JSON object in ``column``, as
    ``->>`` (PostgreSQL) or ``json_extract`` (SQLite) give it, for any key. A JSON path
    (``$."key"``) cannot name every key on SQLite: a quote in the key breaks it."""

    inherit_cache = True
    name = "json_member"


@compiles(json_member, "postgresql")
def _json_member_postgresql(element: json_member, compiler: SQLCompiler, **kw: Any) -> str:
    column, key = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"({column} ->> CAST({key} AS TEXT))"


@compiles(json_member)
def _json_member_sqlite(element: json_member, compiler: SQLCompiler, **kw: Any) -> str:
    column, key = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"(SELECT value FROM json_each({column}) WHERE key = {key})"


def lock_key(identifier: str) -> int:
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
    keys = sorted({lock_key(identifier) for identifier in identifiers})
    if keys:
        conn.execute(
            sa.text("SELECT pg_advisory_xact_lock(k) FROM unnest(CAST(:keys AS bigint[])) AS k"),
            {"keys": keys},
        )
