"""An organisation's rate card and currency, read and written.

The rows of ``rates`` as ``domain/billing.Rate`` values (effective days as dates), upserted
by their natural key (provider, pattern, effective day), and the organisation's currency.
Deciding what is valid is the service's (``accounts/rates.py``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cipulse.domain.billing import Rate
from cipulse.storage.dialect import insert_for
from cipulse.storage.schema import organisations, rates

EPOCH_DAY = date(1970, 1, 1)


def day_number(day: date) -> int:
    return (day - EPOCH_DAY).days


def day_of_number(number: int) -> date:
    return EPOCH_DAY + timedelta(days=number)


def rate_card(conn: Connection, org_id: str) -> list[Rate]:
    """The organisation's rates by provider, pattern and effective day."""
    t = rates
    query = (
        sa.select(t.c.provider, t.c.pattern, t.c.effective_day, t.c.price_micros)
        .add_columns(t.c.platform_micros)
        .where(t.c.org_id == org_id)
        .order_by(t.c.provider, t.c.pattern, t.c.effective_day)
    )
    found = [
        Rate(row.provider, row.pattern, day_of_number(row.effective_day), *row[3:])
        for row in conn.execute(query)
    ]
    return sorted(found, key=lambda rate: rate.key)  # by code point on either database


def put_rates(conn: Connection, org_id: str, new: Sequence[Rate], now_ms: int) -> None:
    """Store the rates, each replacing the one of the same provider, pattern and day (the
    last of ``new`` with a key wins: one statement may not upsert a row twice)."""
    new = list({rate.key: rate for rate in new}.values())
    if not new:
        return
    statement = insert_for(conn)(rates).values(
        [
            {
                "org_id": org_id,
                "provider": rate.provider,
                "pattern": rate.pattern,
                "effective_day": day_number(rate.effective),
                "price_micros": rate.price_micros,
                "platform_micros": rate.platform_micros,
                "created_at_ms": now_ms,
            }
            for rate in new
        ]
    )
    excluded = statement.excluded
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=["org_id", "provider", "pattern", "effective_day"],
            set_={
                "price_micros": excluded.price_micros,
                "platform_micros": excluded.platform_micros,
                "created_at_ms": excluded.created_at_ms,
            },
        )
    )


def remove_rates(
    conn: Connection, org_id: str, provider: str, pattern: str, effective: date | None
) -> int:
    """Remove the rates of a provider and pattern (of one effective day, or every one);
    returns how many were removed."""
    t = rates
    query = sa.delete(t).where(t.c.org_id == org_id, t.c.provider == provider)
    query = query.where(t.c.pattern == pattern)
    if effective is not None:
        query = query.where(t.c.effective_day == day_number(effective))
    return conn.execute(query).rowcount or 0


def remove_every_rate(conn: Connection, org_id: str) -> int:
    return conn.execute(sa.delete(rates).where(rates.c.org_id == org_id)).rowcount or 0


def currency(conn: Connection, org_id: str) -> str:
    o = organisations
    found = conn.execute(sa.select(o.c.currency).where(o.c.id == org_id)).scalar_one_or_none()
    return str(found or "USD")


def set_currency(conn: Connection, org_id: str, code: str) -> None:
    o = organisations
    conn.execute(sa.update(o).where(o.c.id == org_id).values(currency=code))
