"""Webhook secrets and the deliveries already stored.

Webhook secrets (one per organisation and code host) and the deliveries already stored."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cipulse.domain.model import Organisation
from cipulse.storage.accounts import organisation_of
from cipulse.storage.dialect import insert_for
from cipulse.storage.schema import organisations, webhook_deliveries, webhook_secrets

#: Deliveries are remembered this long: GitHub lets a delivery be redelivered for three days.
DELIVERY_MEMORY_MS = 7 * 86_400_000


@dataclass(frozen=True, slots=True)
class WebhookSecret:
    """GitHub's secret as it is (``None`` for GitLab), and its SHA-256."""

    secret: str | None
    secret_hash: str


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


@dataclass(frozen=True, slots=True)
class Verification:
    """What verifying a delivery needs, from one query: the organisation and its secret for
    the provider (None: none set)."""

    organisation: Organisation
    secret: WebhookSecret | None


_o, _w = organisations, webhook_secrets
#: Built once: verifying runs for every delivery.
_VERIFICATION = (
    sa.select(*_o.c, _w.c.secret, _w.c.secret_hash)
    .select_from(
        _o.outerjoin(_w, sa.and_(_w.c.org_id == _o.c.id, _w.c.provider == sa.bindparam("provider")))
    )
    .where(_o.c.name == sa.bindparam("name"))
)


def verification_of(conn: Connection, org_name: str, provider: str) -> Verification | None:
    """None when there is no organisation of that name."""
    row = conn.execute(_VERIFICATION, {"name": org_name, "provider": provider}).first()
    if row is None:
        return None
    secret = None if row.secret_hash is None else WebhookSecret(row.secret, row.secret_hash)
    return Verification(organisation_of(row), secret)


def secrets_of(conn: Connection, org_id: str) -> dict[str, int]:
    """When each of the organisation's secrets was set, by provider."""
    w = webhook_secrets
    query = sa.select(w.c.provider, w.c.created_at_ms).where(w.c.org_id == org_id)
    return {row.provider: row.created_at_ms for row in conn.execute(query)}


def deliveries_seen(
    conn: Connection, org_id: str, deliveries: set[tuple[str, str]]
) -> set[tuple[str, str]]:
    """Which of the deliveries (provider, delivery id) of the organisation were stored."""
    d = webhook_deliveries
    found: set[tuple[str, str]] = set()
    for provider in sorted({provider for provider, _ in deliveries}):
        wanted = sorted(delivery for p, delivery in deliveries if p == provider)
        query = sa.select(d.c.delivery_id).where(
            d.c.org_id == org_id, d.c.provider == provider, d.c.delivery_id.in_(wanted)
        )
        found.update((provider, delivery) for delivery in conn.execute(query).scalars())
    return found


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
