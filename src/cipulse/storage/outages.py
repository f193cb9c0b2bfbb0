"""The outage log: one line when it starts, counts, one when it ends.

The log of database outages: a few lines per outage, however many requests it refuses.

An outage starts with the first request refused with 503: one ERROR line with its cause
(what operators alert on). While it lasts, refusals are only counted; the next refusal after
``summary_seconds`` logs a WARNING ``still unavailable: N requests refused in the last M s``.
It ends at the first success of the database (a transaction, a health probe) once no request
has been refused for ``quiet_seconds``, with one WARNING line saying how long it lasted: so a
database that flaps under load makes one outage, not a pair of lines per refusal. No
tracebacks: an outage is an expected condition, not a bug."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger("cipulse.outages")

SUMMARY_SECONDS = 60.0
QUIET_SECONDS = 5.0


class OutageLog:
    def __init__(
        self,
        summary_seconds: float = SUMMARY_SECONDS,
        quiet_seconds: float = QUIET_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.summary_seconds = summary_seconds
        self.quiet_seconds = quiet_seconds
        self.clock = clock
        self._lock = threading.Lock()
        self._started: float | None = None  # None: no outage
        self._last_refusal = 0.0
        self._last_summary = 0.0
        self._refused_since_summary = 0
        self._refused_total = 0

    @property
    def in_outage(self) -> bool:
        return self._started is not None

    def refused(self, cause: str) -> None:
        """A request was answered 503 because of ``cause`` (one line)."""
        now = self.clock()
        with self._lock:
            self._last_refusal = now
            self._refused_total += 1
            if self._started is None:
                self._started = self._last_summary = now
                self._refused_total = 1
                self._refused_since_summary = 0
                log.error("database unavailable: %s; answering 503 until it recovers", cause)
                return
            self._refused_since_summary += 1
            if now - self._last_summary >= self.summary_seconds:
                log.warning(
                    "still unavailable: %d requests refused in the last %.0f s (%s)",
                    self._refused_since_summary,
                    now - self._last_summary,
                    cause,
                )
                self._last_summary = now
                self._refused_since_summary = 0

    def recovered(self) -> None:
        """The database answered. Cheap when there is no outage (every transaction calls it)."""
        if self._started is None:
            return
        now = self.clock()
        with self._lock:
            if self._started is None or now - self._last_refusal < self.quiet_seconds:
                return
            log.warning(
                "database available again after %.0f s; %d requests were refused",
                now - self._started,
                self._refused_total,
            )
            self._started = None
