"""An organisation's rate card: prices per minute by provider, label set.

One row per organisation, provider (``*``: every provider), label-set pattern and effective
day (``domain/billing.py`` says which row prices a job). Money is stored as integer
micro-units of the organisation's currency (``organisations.currency``), never as a float,
so sums are exact on SQLite and PostgreSQL alike (``domain/money.py``)."""

from __future__ import annotations

import sqlalchemy as sa

from cipulse.storage.schema_types import Millis, metadata
from cipulse.storage.schema_types import org_id_column as _org_id

rates = sa.Table(
    "rates",
    metadata,
    _org_id(),
    sa.Column("provider", sa.String(100), nullable=False, comment="* for every provider"),
    sa.Column("pattern", sa.String(500), nullable=False, comment="a label set, or with *"),
    sa.Column("effective_day", sa.Integer, nullable=False, comment="days since the epoch, UTC"),
    sa.Column("price_micros", sa.BigInteger, nullable=False, comment="a minute, micro-units"),
    sa.Column("platform_micros", sa.BigInteger, nullable=False, comment="a minute, on top"),
    sa.Column("created_at_ms", Millis, nullable=False),
    sa.PrimaryKeyConstraint("org_id", "provider", "pattern", "effective_day"),
    sa.ForeignKeyConstraint(["org_id"], ["organisations.id"]),
)
