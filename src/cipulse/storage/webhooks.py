"""Webhook secrets (one per organisation and code host) and the deliveries already stored."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cipulse.storage.dialect import insert_for
from cipulse.storage.schema import webhook_deliveries, webhook_secrets

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


def remember_deliveries(
    conn: Connection, deliveries: list[tuple[str, str, str]], now_ms: int
) -> None:
    """Remember stored deliveries (org id, provider, delivery id), and forget their
    organisations' old ones."""
    d = webhook_deliveries
    rows = sorted(set(deliveries))
    conn.execute(
        insert_for(conn)(d).on_conflict_do_nothing(),
        [
            {"org_id": org, "provider": provider, "delivery_id": delivery, "received_at_ms": now_ms}
            for org, provider, delivery in rows
        ],
    )
    for org_id in sorted({org for org, _, _ in rows}):
        conn.execute(
            sa.delete(d).where(
                d.c.org_id == org_id, d.c.received_at_ms < now_ms - DELIVERY_MEMORY_MS
            )
        )
