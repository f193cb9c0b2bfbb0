"""Ordered CPU-bound work in worker processes, for the bulk paths.

Running CPU-bound work in worker processes, results in input order, a few tasks ahead of
the consumer and no more (bounded memory). Used by the bulk paths (``cipulse ingest``,
``cipulse demo seed``), whose consuming process stores while the workers prepare."""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from multiprocessing import get_context
from typing import Any, TypeVar

R = TypeVar("R")


def default_workers() -> int:
    """One core stays with the process that consumes (stores) the results; at most 4."""
    return max(1, min(4, (os.cpu_count() or 1) - 1))


def ordered_map(
    function: Callable[..., R],
    arguments: Iterable[tuple[Any, ...]],
    workers: int,
    received: Callable[[Future[R]], R] = Future.result,
) -> Iterator[R]:
    """``function(*args)`` for each tuple of ``arguments``, in order. With ``workers`` > 0 in
    that many processes (spawned: no inherited database connections), with 0 here.
    ``received`` takes each result from its future (e.g. to unpickle with the garbage
    collector paused)."""
    if workers <= 0:
        for args in arguments:
            yield function(*args)
        return
    with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
        pending: deque[Future[R]] = deque()
        for args in arguments:
            pending.append(pool.submit(function, *args))
            if len(pending) > workers * 2:
                yield received(pending.popleft())
        while pending:
            yield received(pending.popleft())
