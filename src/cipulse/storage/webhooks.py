"""Webhook secrets (one per organisation and code host) and the deliveries already stored."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cipulse.storage.dialect import insert_for
from cipulse.storage.schema import repositories, webhook_deliveries, webhook_secrets

#: Deliveries are remembered this long: GitHub lets a delivery be redelivered for three days.
DELIVERY_MEMORY_MS = 7 * 86_400_000


@dataclass(frozen=True, slots=True)
class WebhookSecret:
    org_id: str
    provider: str
    secret: str | None
    secret_hash: str
    created_at_ms: int


def set_secret(
    conn: Connection,
    org_id: str,
    provider: str,
    secret: str | None,
    secret_hash: str,
    now_ms: int,
) -> None:
    values = {
        "org_id": org_id,
        "provider": provider,
        "secret": secret,
        "secret_hash": secret_hash,
        "created_at_ms": now_ms,
    }
    insert = insert_for(conn)(webhook_secrets).values(**values)
    conn.execute(
        insert.on_conflict_do_update(
            index_elements=["org_id", "provider"],
            set_={k: v for k, v in values.items() if k not in ("org_id", "provider")},
        )
    )


def secret_of(conn: Connection, org_id: str, provider: str) -> WebhookSecret | None:
    w = webhook_secrets
    row = conn.execute(
        sa.select(w.c.secret, w.c.secret_hash, w.c.created_at_ms).where(
            w.c.org_id == org_id, w.c.provider == provider
        )
    ).first()
    if row is None:
        return None
    return WebhookSecret(org_id, provider, row.secret, row.secret_hash, row.created_at_ms)


def secrets_of(conn: Connection, org_id: str) -> dict[str, int]:
    """When each of the organisation's secrets was set, by provider."""
    w = webhook_secrets
    query = sa.select(w.c.provider, w.c.created_at_ms).where(w.c.org_id == org_id)
    return {row.provider: row.created_at_ms for row in conn.execute(query)}


def delivery_seen(conn: Connection, org_id: str, provider: str, delivery_id: str) -> bool:
    d = webhook_deliveries
    query = sa.select(d.c.received_at_ms).where(
        d.c.org_id == org_id, d.c.provider == provider, d.c.delivery_id == delivery_id
    )
    return conn.execute(query).first() is not None


def remember_delivery(
    conn: Connection, org_id: str, provider: str, delivery_id: str, now_ms: int
) -> None:
    """Remember a stored delivery, and forget the organisation's old ones."""
    d = webhook_deliveries
    insert = insert_for(conn)(d).values(
        org_id=org_id, provider=provider, delivery_id=delivery_id, received_at_ms=now_ms
    )
    conn.execute(insert.on_conflict_do_nothing())
    conn.execute(
        sa.delete(d).where(d.c.org_id == org_id, d.c.received_at_ms < now_ms - DELIVERY_MEMORY_MS)
    )


def default_branch_of(conn: Connection, org_id: str, repository_id: str) -> str | None:
    r = repositories
    query = sa.select(r.c.default_branch).where(r.c.org_id == org_id, r.c.id == repository_id)
    return conn.execute(query).scalar_one_or_none()
