"""Group commit: many concurrent HTTP requests, one transaction.

Request handlers (on the event loop) put their request on a queue and await a future. One
writer thread per process takes whatever has queued up (at most ``max_batch``), stores it in
one transaction through ``IngestService.ingest_batch`` and resolves each future with its own
outcome. Under light load a batch is a single request, so latency stays that of one commit;
under heavy load batches grow and the per-commit cost (writing the WAL and taking the lock on
SQLite, a round trip and a WAL flush on PostgreSQL) is shared. This is the single-writer
design SQLite wants (datasette does the same).

The queue is bounded (``queue_limit``): when the database stops answering, requests do not
pile up in memory; beyond the limit they get 503 with ``Retry-After`` at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading

from cipulse.errors import CipulseError, InternalError, Unavailable
from cipulse.ingestion.service import IngestOutcome, IngestRequest, IngestService, Result

log = logging.getLogger(__name__)

_Pending = tuple[IngestRequest, asyncio.Future[IngestOutcome], asyncio.AbstractEventLoop]
_STOP = object()


class GroupCommitter:
    def __init__(
        self,
        service: IngestService,
        *,
        max_batch: int,
        writers: int,
        timeout_seconds: float,
        retry_after: int,
        queue_limit: int,
    ) -> None:
        """``writers`` threads take batches from one queue. More than one only makes sense
        where the database lets transactions overlap (PostgreSQL); writers of the same run
        then serialise on its advisory lock. At most ``queue_limit`` requests wait."""
        self.service = service
        self.max_batch = max_batch
        self.writers = writers
        self.timeout_seconds = timeout_seconds
        self.retry_after = retry_after
        self.queue_limit = queue_limit
        self._queue: queue.SimpleQueue[_Pending | object] = queue.SimpleQueue()
        self._waiting = 0  # requests in the queue; changed under _count_lock
        self._count_lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for number in range(self.writers):
            thread = threading.Thread(
                target=self._run, name=f"cipulse-writer-{number}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        """Finish what is queued, then stop the writer threads. A writer still waiting for
        the database after ``timeout_seconds`` is left behind (a daemon thread): what it
        holds was answered 503 and will be sent again."""
        for _ in self._threads:
            self._queue.put(_STOP)
        for thread in self._threads:
            thread.join(self.timeout_seconds)
        if any(thread.is_alive() for thread in self._threads):
            log.warning(
                "stopping with %d ingest requests not stored: the database does not answer",
                self._waiting,
            )
        self._threads = []

    async def submit(self, request: IngestRequest) -> IngestOutcome:
        with self._count_lock:
            if self._waiting >= self.queue_limit:
                raise Unavailable(
                    "too many writes waiting, retry later",
                    self.retry_after,
                    f"ingest queue full: {self._waiting} requests wait for the database "
                    "(CIPULSE_INGEST_QUEUE_LIMIT)",
                )
            self._waiting += 1
        loop = asyncio.get_running_loop()
        future: asyncio.Future[IngestOutcome] = loop.create_future()
        self._queue.put((request, future, loop))
        try:
            # Shielded: a request that gives up waiting is still stored when its turn comes.
            return await asyncio.wait_for(asyncio.shield(future), self.timeout_seconds)
        except TimeoutError:
            raise Unavailable("database busy, retry later", self.retry_after) from None

    def _run(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is _STOP:
                break
            batch: list[_Pending] = [first]  # type: ignore[list-item]
            while len(batch) < self.max_batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    stopping = True
                    break
                batch.append(item)  # type: ignore[arg-type]
            with self._count_lock:
                self._waiting -= len(batch)
            self._process(batch)

    def _process(self, batch: list[_Pending]) -> None:
        requests = [request for request, _, _ in batch]
        results = self._results(requests)
        by_loop: dict[
            asyncio.AbstractEventLoop, list[tuple[asyncio.Future[IngestOutcome], Result]]
        ] = {}
        for (_, future, loop), result in zip(batch, results, strict=True):
            by_loop.setdefault(loop, []).append((future, result))
        for loop, settled in by_loop.items():
            # A closed loop (RuntimeError) means nobody is waiting any more.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_settle, settled)

    def _results(self, requests: list[IngestRequest]) -> list[Result]:
        try:
            return self.service.ingest_batch(requests)
        except CipulseError as exc:  # e.g. Unavailable: the same answer for everyone
            return [exc] * len(requests)
        except Exception:
            if len(requests) == 1:
                log.exception("ingest failed")
                return [InternalError("internal error while storing the run")]
            # One bad request must not fail its neighbours: retry them one by one.
            log.warning("batch of %d failed; retrying one by one", len(requests))
            return [r for request in requests for r in self._results([request])]


def _settle(settled: list[tuple[asyncio.Future[IngestOutcome], Result]]) -> None:
    for future, result in settled:
        if future.done():  # the client went away; what it sent is stored all the same
            continue
        if isinstance(result, BaseException):
            future.set_exception(result)
        else:
            future.set_result(result)
