"""When to try a request again, and how long to wait first.

When to try a request again, and how long to wait first. Pure: the random draw and the
clock are the caller's.

A request is tried again after a connection error, a timeout, a 429 or a 5xx, never after
another 4xx (the same request would be refused the same way). The n-th retry waits a random
time between half and all of ``backoff * 2^(n-1)`` seconds (at most ``MAX_DELAY_SECONDS``),
or what the server's ``Retry-After`` asks when that is longer. The tries are bounded twice:
at most ``retries`` retries, and no wait that would end past ``max_total_seconds`` after the
first try started."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

#: The longest wait between two tries that the backoff alone leads to.
MAX_DELAY_SECONDS = 60.0


def is_retryable_status(status_code: int) -> bool:
    return status_code == 429 or status_code >= 500


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    retries: int = 5
    backoff_seconds: float = 1.0
    max_total_seconds: float = 300.0

    def delay(self, retry: int, retry_after: float | None, draw: Callable[[], float]) -> float:
        """Seconds to wait before retry number ``retry`` (1 for the first retry); ``draw``
        returns a number in [0, 1)."""
        ceiling = min(MAX_DELAY_SECONDS, self.backoff_seconds * 2.0 ** (retry - 1))
        backoff = ceiling / 2 + draw() * ceiling / 2
        return max(backoff, retry_after) if retry_after is not None else backoff


def retry_after_seconds(value: str | None, now: datetime) -> float | None:
    """``Retry-After`` as seconds: a number of seconds or an HTTP date; None when absent or
    unreadable."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return seconds if math.isfinite(seconds) and seconds >= 0 else None
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - now).total_seconds())
