"""Failed sign-ins counted per e-mail and per client address.

Failed sign-ins, counted in memory per email address and per client address: after
``limit`` failures within ``window_seconds`` the email (or the client) is refused until the
oldest of them is that old, whatever the password. Guessing one user's password then takes
years instead of hours, and so does trying one password on many users from one address; a
person who mistyped waits minutes at most. Each server process counts its own (behind a load
balancer the limits are per server): the cost of argon2id remains the first line."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

#: Failures allowed per email address within the window.
SIGN_IN_FAILURES = 10
SIGN_IN_WINDOW_SECONDS = 15 * 60
#: Failures allowed per client address within the window (an office behind one NAT shares
#: it: five times what one user may mistype, times ten).
CLIENT_FAILURES = 50
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


class SignInThrottle:
    """The two limits of sign-in: per email address and per client address. A successful
    sign-in forgets the email's failures, not the client's: one valid account must not let
    a client reset its count."""

    def __init__(
        self,
        per_email: FailureThrottle | None = None,
        per_client: FailureThrottle | None = None,
    ) -> None:
        self.per_email = per_email or FailureThrottle()
        self.per_client = per_client or FailureThrottle(limit=CLIENT_FAILURES)

    def wait_seconds(self, email: str, client: str) -> tuple[float, str]:
        """How long to wait before trying again (0: now), and which limit says so:
        ``"email"`` or ``"client"``."""
        by_email = self.per_email.wait_seconds(email)
        by_client = self.per_client.wait_seconds(client)
        if by_client > by_email:
            return by_client, "client"
        return by_email, "email"

    def failed(self, email: str, client: str) -> None:
        self.per_email.failed(email)
        self.per_client.failed(client)

    def succeeded(self, email: str) -> None:
        self.per_email.succeeded(email)
