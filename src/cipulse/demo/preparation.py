"""Seeding's CPU-bound half: generate and resolve in worker processes.

The CPU-bound half of seeding: generate a chunk of the demo history and resolve it into
rows, in worker processes, while the caller stores what they prepared. A worker needs only the
plan and the chunk index, so nothing large crosses into it; plain rows come back."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, field

from cipulse.demo.generator import (
    DemoPlan,
    attempt_count,
    generate_chunk_with_tests,
    job_count,
)
from cipulse.demo.test_reports import DemoReport
from cipulse.domain.write_plan import ResolvedSubmission
from cipulse.parallel import ordered_map
from cipulse.storage.clock import now_ms
from cipulse.storage.rows import resolve


@dataclass(frozen=True, slots=True)
class PreparedChunk:
    """A chunk's submissions resolved into rows, with how many run attempts and jobs."""

    submissions: list[ResolvedSubmission]
    runs: int
    jobs: int
    #: The JUnit reports of the chunk's tested pipelines (``demo/test_reports.py``).
    test_reports: list[DemoReport] = field(default_factory=list)


@contextmanager
def collection_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a chunk is built or stored. A chunk is some
    100,000 fresh objects without a reference cycle among them (reference counting frees
    them): the collector would only scan them again and again, which costs a fifth of the
    time of generating or storing. It runs again between chunks, for what else there is."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def prepare_chunk(plan: DemoPlan, org_id: str, index: int) -> PreparedChunk:
    with collection_paused():
        submissions, reports = generate_chunk_with_tests(plan, index)
        now = now_ms()
        return PreparedChunk(
            submissions=[resolve(org_id, submission, now) for submission in submissions],
            runs=attempt_count(submissions),
            jobs=job_count(submissions),
            test_reports=reports,
        )


def prepared_chunks(plan: DemoPlan, org_id: str, workers: int) -> Iterator[PreparedChunk]:
    """Every chunk of the plan, prepared, in order, in ``workers`` processes (or here with
    0)."""
    arguments = ((plan, org_id, index) for index in range(plan.chunk_count))
    return ordered_map(prepare_chunk, arguments, workers, _received)


def _received(future: Future[PreparedChunk]) -> PreparedChunk:
    with collection_paused():  # unpickling builds the chunk's objects here
        return future.result()
