"""Aware datetimes ↔ the epoch milliseconds stored in ``*_ms``.

Conversions between aware datetimes and the epoch milliseconds stored in ``*_ms`` columns."""

from __future__ import annotations

import time
from datetime import UTC, datetime


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def to_ms(value: datetime | None) -> int | None:
    if value is None:
        return None
    return int(value.timestamp() * 1000)


def from_ms(value: int | None) -> datetime | None:
    if value is None:
        return None
    return datetime.fromtimestamp(value / 1000, tz=UTC)


def month_of(ms: int) -> str:
    """The calendar month (UTC) an instant falls in, as ``YYYY-MM``."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m")
