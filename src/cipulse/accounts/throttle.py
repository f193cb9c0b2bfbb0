"""Failed sign-ins, counted per email address in memory: after ``limit`` failures within
``window_seconds`` the address is refused until the oldest of them is that old, whatever the
password. Guessing a password then takes years instead of hours; a person who mistyped
waits minutes at most. Each server counts its own (behind a load balancer the limit is per
server): the cost of argon2id remains the first line."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

#: Failures allowed per address within the window.
SIGN_IN_FAILURES = 10
SIGN_IN_WINDOW_SECONDS = 15 * 60
#: Addresses tracked at most (oldest forgotten first): memory stays bounded under a flood.
MAX_TRACKED = 100_000


class FailureThrottle:
    def __init__(
        self,
        limit: int = SIGN_IN_FAILURES,
        window_seconds: float = SIGN_IN_WINDOW_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self.window = window_seconds
        self.clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def wait_seconds(self, key: str) -> float:
        """How long ``key`` must wait before trying again (0: it may try now)."""
        now = self.clock()
        with self._lock:
            failures = self._recent(key, now)
            if failures is None or len(failures) < self.limit:
                return 0.0
            return max(0.0, failures[0] + self.window - now)

    def failed(self, key: str) -> None:
        now = self.clock()
        with self._lock:
            failures = self._recent(key, now)
            if failures is None:
                if len(self._failures) >= MAX_TRACKED:
                    self._failures.pop(next(iter(self._failures)))
                failures = self._failures[key] = deque(maxlen=self.limit)
            failures.append(now)

    def succeeded(self, key: str) -> None:
        with self._lock:
            self._failures.pop(key, None)

    def _recent(self, key: str, now: float) -> deque[float] | None:
        failures = self._failures.get(key)
        if failures is None:
            return None
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        return failures
