"""Organisations, API keys and plan usage."""

from __future__ import annotations

import os
import threading
import uuid
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cipulse.domain.model import ApiKeyInfo, Organisation
from cipulse.storage.clock import from_ms
from cipulse.storage.dialect import insert_for, placeholder
from cipulse.storage.schema import api_keys, organisations, repositories, usage_counters


@dataclass(frozen=True, slots=True)
class Principal:
    """Who an API key speaks for, with what the ingest path needs to know about its
    organisation, fetched in one query."""

    key_id: str
    org_id: str
    scopes: frozenset[str]
    revoked: bool
    last_used_at_ms: int | None
    max_repositories: int | None
    max_runs_per_month: int | None

    @property
    def has_limits(self) -> bool:
        return bool(self.max_repositories) or bool(self.max_runs_per_month)


def organisation_of(row: Any) -> Organisation:
    """An organisation from a row with the ``organisations`` columns."""
    created = from_ms(row.created_at_ms)
    assert created is not None
    return Organisation(
        id=row.id,
        name=row.name,
        created_at=created,
        max_repositories=row.max_repositories,
        max_runs_per_month=row.max_runs_per_month,
    )


def create_organisation(conn: Connection, name: str, now_ms: int) -> Organisation | None:
    """Create the organisation; ``None`` when the name is taken (concurrent starts race)."""
    org_id = str(uuid.uuid4())
    dialect_insert = insert_for(conn)
    inserted = conn.execute(
        dialect_insert(organisations)
        .values(id=org_id, name=name, created_at_ms=now_ms)
        .on_conflict_do_nothing()
        .returning(organisations.c.id)
    ).first()
    if inserted is None:
        return None
    return find_organisation(conn, name)


def find_organisation(conn: Connection, name: str) -> Organisation | None:
    row = conn.execute(sa.select(organisations).where(organisations.c.name == name)).first()
    return None if row is None else organisation_of(row)


def list_organisations(conn: Connection) -> list[Organisation]:
    rows = conn.execute(sa.select(organisations).order_by(organisations.c.name))
    return [organisation_of(row) for row in rows]


def count_organisations(conn: Connection) -> int:
    return conn.execute(sa.select(sa.func.count()).select_from(organisations)).scalar_one()


def set_limits(
    conn: Connection, org_id: str, max_repositories: int | None, max_runs_per_month: int | None
) -> None:
    conn.execute(
        organisations.update()
        .where(organisations.c.id == org_id)
        .values(max_repositories=max_repositories, max_runs_per_month=max_runs_per_month)
    )


def insert_api_key(
    conn: Connection,
    *,
    org_id: str,
    prefix: str,
    key_hash: str,
    name: str | None,
    scopes: tuple[str, ...],
    now_ms: int,
) -> str:
    key_id = str(uuid.uuid4())
    conn.execute(
        api_keys.insert().values(
            org_id=org_id,
            id=key_id,
            prefix=prefix,
            key_hash=key_hash,
            name=name,
            scopes=",".join(scopes),
            created_at_ms=now_ms,
        )
    )
    return key_id


def list_api_keys(conn: Connection, org_id: str | None = None) -> list[ApiKeyInfo]:
    query = (
        sa.select(api_keys, organisations.c.name.label("org_name"))
        .join(organisations, organisations.c.id == api_keys.c.org_id)
        .order_by(organisations.c.name, api_keys.c.created_at_ms)
    )
    if org_id is not None:
        query = query.where(api_keys.c.org_id == org_id)
    keys = []
    for row in conn.execute(query):
        created = from_ms(row.created_at_ms)
        assert created is not None
        keys.append(
            ApiKeyInfo(
                id=row.id,
                org_id=row.org_id,
                org_name=row.org_name,
                prefix=row.prefix,
                name=row.name,
                scopes=tuple(row.scopes.split(",")),
                created_at=created,
                last_used_at=from_ms(row.last_used_at_ms),
                revoked_at=from_ms(row.revoked_at_ms),
            )
        )
    return keys


def revoke_api_keys(conn: Connection, prefix: str, now_ms: int) -> int:
    """Revoke the keys with this prefix; returns how many were still active."""
    result = conn.execute(
        api_keys.update()
        .where(api_keys.c.prefix == prefix, api_keys.c.revoked_at_ms.is_(None))
        .values(revoked_at_ms=now_ms)
    )
    return result.rowcount


def principals_by_hash(conn: Connection, key_hashes: list[str]) -> dict[str, Principal]:
    rows = conn.execute(
        sa.select(
            api_keys.c.key_hash,
            api_keys.c.id,
            api_keys.c.org_id,
            api_keys.c.scopes,
            api_keys.c.revoked_at_ms,
            api_keys.c.last_used_at_ms,
            organisations.c.max_repositories,
            organisations.c.max_runs_per_month,
        )
        .join(organisations, organisations.c.id == api_keys.c.org_id)
        .where(api_keys.c.key_hash.in_(key_hashes))
    )
    return {
        row.key_hash: Principal(
            key_id=row.id,
            org_id=row.org_id,
            scopes=frozenset(row.scopes.split(",")),
            revoked=row.revoked_at_ms is not None,
            last_used_at_ms=row.last_used_at_ms,
            max_repositories=row.max_repositories,
            max_runs_per_month=row.max_runs_per_month,
        )
        for row in rows
    }


def touch_api_keys(conn: Connection, principals: list[Principal], now_ms: int) -> None:
    conn.execute(
        api_keys.update()
        .where(api_keys.c.org_id == sa.bindparam("b_org_id"), api_keys.c.id == sa.bindparam("b_id"))
        .values(last_used_at_ms=now_ms),
        [
            {"b_org_id": p.org_id, "b_id": p.key_id}
            for p in sorted(principals, key=lambda p: p.key_id)
        ],
    )


def runs_created_in_month(conn: Connection, org_id: str, month: str) -> int:
    value = conn.execute(
        sa.select(sa.func.sum(usage_counters.c.new_run_attempts)).where(
            usage_counters.c.org_id == org_id, usage_counters.c.month == month
        )
    ).scalar()
    return int(value or 0)


USAGE_SLOTS = 16

_ADD_RUNS_CREATED = (
    "INSERT INTO usage_counters (org_id, month, slot, new_run_attempts) "
    "VALUES ({mark}, {mark}, {mark}, {mark}) "
    "ON CONFLICT (org_id, month, slot) DO UPDATE "
    "SET new_run_attempts = usage_counters.new_run_attempts + excluded.new_run_attempts"
)


def _usage_slot() -> int:
    """Spread concurrent writers (threads, processes, servers) over the month's rows."""
    return hash((os.getpid(), threading.get_ident())) % USAGE_SLOTS


def add_runs_created(conn: Connection, counts: dict[str, int], month: str) -> None:
    """Count newly stored run attempts towards the month's usage (one statement per batch)."""
    mark = placeholder(conn)
    slot = _usage_slot()
    rows = [(org, month, slot, n) for org, n in sorted(counts.items()) if n]
    if rows:
        conn.exec_driver_sql(_ADD_RUNS_CREATED.format(mark=mark), rows)


def repository_ids(conn: Connection, org_id: str) -> set[str]:
    rows = conn.execute(sa.select(repositories.c.id).where(repositories.c.org_id == org_id))
    return {row.id for row in rows}
