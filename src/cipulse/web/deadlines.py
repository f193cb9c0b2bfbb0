"""Every request answers within a known time, whatever the database does.

A frozen database (PostgreSQL stopped with SIGSTOP, a hung disk) answers nothing and raises
nothing: its kernel still acknowledges TCP, so keepalives and server-side timeouts never fire.
So the server keeps its own deadlines:

- ``DatabaseWork`` runs the blocking database work of requests (read API, dashboard, sign-in,
  webhooks) in a fixed set of threads; a request waits at most
  ``CIPULSE_REQUEST_TIMEOUT_SECONDS`` for a thread and its answer, then gets 503 with
  ``Retry-After``. Work it gave up on runs on and keeps its thread until the database
  answers, so a frozen database holds at most ``threads`` threads and connections; once all
  of them have waited past the deadline, requests get 503 at once.
- ``HealthProbe`` runs one database probe at a time (``Database.health``) in a thread of its
  own; every ``/healthz`` that arrives while it runs, or within ``FRESH_SECONDS`` after,
  shares its answer, and none waits more than ``CIPULSE_HEALTH_TIMEOUT_SECONDS``.

(Ingest has its own bound: ``ingestion/batching.py``.)"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import itertools
import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from starlette.types import ASGIApp, Receive, Scope, Send

from cipulse.errors import CipulseError, Unavailable
from cipulse.storage.database import Database
from cipulse.storage.health import NOT_CHECKED, OK
from cipulse.storage.rollups import set_aside as rollup_failures

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Request threads per server process: as many as the PostgreSQL read pool has connections.
REQUEST_THREADS = 20
#: How long one health probe's answer serves the ``/healthz`` requests that follow.
FRESH_SECONDS = 1.0

_Job = tuple[
    contextvars.Context,
    Callable[..., Any],
    tuple[Any, ...],
    "asyncio.Future[Any]",
    asyncio.AbstractEventLoop,
]


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


class DatabaseWork:
    def __init__(self, threads: int, timeout_seconds: float, retry_after: int) -> None:
        self.threads = threads
        self.timeout = timeout_seconds
        self.retry_after = retry_after
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._slots = asyncio.Semaphore(threads)
        self._running: dict[int, float] = {}  # job number -> when it started (loop time)
        self._numbers = itertools.count()

    def start(self) -> None:
        for number in range(self.threads):
            # Daemon threads: one stuck on a frozen database must not hold up the exit.
            name = f"cipulse-request-{number}"
            threading.Thread(target=self._work, name=name, daemon=True).start()

    def stop(self) -> None:
        for _ in range(self.threads):
            self._jobs.put(None)

    def _late(self) -> Unavailable:
        return Unavailable(
            f"database did not answer within {self.timeout:g} s, retry later",
            self.retry_after,
            f"no answer from the database within {self.timeout:g} s "
            "(CIPULSE_REQUEST_TIMEOUT_SECONDS)",
        )

    def _all_stuck(self, now: float) -> bool:
        return len(self._running) >= self.threads and all(
            now - started >= self.timeout for started in self._running.values()
        )

    async def run(self, function: Callable[..., T], *args: Any) -> T:
        """``function(*args)`` in a request thread, or ``Unavailable`` past the deadline."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        if self._slots.locked() and self._all_stuck(loop.time()):
            raise self._late()
        try:
            async with asyncio.timeout_at(deadline):
                await self._slots.acquire()
        except TimeoutError:
            raise self._late() from None
        number = next(self._numbers)
        self._running[number] = loop.time()
        future: asyncio.Future[T] = loop.create_future()
        future.add_done_callback(lambda done: self._finished(number, done))
        self._jobs.put((contextvars.copy_context(), function, args, future, loop))
        finished, _ = await asyncio.wait({future}, timeout=max(0.0, deadline - loop.time()))
        if not finished:
            raise self._late()
        return future.result()

    def _finished(self, number: int, future: asyncio.Future[Any]) -> None:
        del self._running[number]
        self._slots.release()
        if not future.cancelled():
            future.exception()  # retrieved: an abandoned job's error is not logged as lost

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            context, function, args, future, loop = job
            result, error = None, None
            try:
                result = context.run(function, *args)
            except BaseException as exc:  # handed to the request, which raises it
                error = exc
            with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits any more
                loop.call_soon_threadsafe(_settle, future, result, error)


_current_work: contextvars.ContextVar[DatabaseWork] = contextvars.ContextVar("database_work")


async def run_in_database_thread(function: Callable[..., T], *args: Any) -> T:
    """``function(*args)``, blocking database work, within the deadline of the request being
    served (``starlette.concurrency.run_in_threadpool`` without the deadline)."""
    return await _current_work.get().run(function, *args)


class RequestDeadlines:
    """Makes the app's ``DatabaseWork`` the one ``run_in_database_thread`` uses while a
    request is served."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        work = getattr(scope["app"].state, "database_work", None) if "app" in scope else None
        if scope["type"] != "http" or work is None:
            await self.app(scope, receive, send)
            return
        token = _current_work.set(work)
        try:
            await self.app(scope, receive, send)
        finally:
            _current_work.reset(token)


@dataclass(frozen=True, slots=True)
class Health:
    """What a probe found: the checks (``read``, ``write``: ``"ok"`` or what is wrong, see
    ``storage/health.py``) and, when the database can be read, the rollup refresher's
    backlog (which never makes a server unhealthy: answers stay exact meanwhile)."""

    checks: dict[str, str]
    rollups: rollup_failures.Status | None = None


class HealthProbe:
    """One probe of the database at a time, its answer shared for ``FRESH_SECONDS``."""

    def __init__(self, database: Database, timeout_seconds: float) -> None:
        self.database = database
        self.timeout = timeout_seconds
        self._probe: asyncio.Future[Health] | None = None
        self._started = 0.0
        self._answered = 0.0

    async def checks(self) -> Health:
        """The database's health, from a probe running now or finished within a second."""
        loop = asyncio.get_running_loop()
        now = loop.time()
        probe = self._probe
        if probe is None or (probe.done() and now - self._answered >= FRESH_SECONDS):
            probe = self._probe = loop.create_future()
            self._started = now
            threading.Thread(
                target=self._run, args=(probe, loop), name="cipulse-health", daemon=True
            ).start()
        if not probe.done():
            wait = self._started + self.timeout - now
            await asyncio.wait({probe}, timeout=max(0.0, wait))
        if probe.done():
            return probe.result()
        return Health(
            {"read": f"no answer from the database within {self.timeout:g} s", "write": NOT_CHECKED}
        )

    def _run(self, probe: asyncio.Future[Health], loop: asyncio.AbstractEventLoop) -> None:
        try:
            checks = self.database.health()
            found = Health(checks, self._rollups() if checks["read"] == OK else None)
        except Exception as exc:  # a bug of ours; the probe must answer all the same
            log.exception("health probe failed")
            found = Health({"read": f"{type(exc).__name__}: {exc}", "write": NOT_CHECKED})

        def answer() -> None:
            self._answered = loop.time()
            _settle(probe, found, None)

        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(answer)

    def _rollups(self) -> rollup_failures.Status | None:
        try:
            with self.database.read() as conn:
                return rollup_failures.status(conn)
        except CipulseError:
            return None
