"""Tallies and facts that analytics adds up and storage reads and writes.

The types both analytics (which computes and adds them up) and storage (which reads the raw
facts and stores the tallies in the rollup tables) know: an attempt's facts, a red period's
outcome, the run and job tallies, and the grains of the stored periods. Plain data; no I/O."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from enum import IntEnum

from cipulse.domain.histogram import Histogram


class Grain(IntEnum):
    """The length of a stored rollup period (``grain`` in the rollup tables; ``period``
    counts hours for ``HOUR``, days otherwise: the first day of a block)."""

    HOUR = 0
    DAY = 1
    WEEK = 7
    FOUR_WEEKS = 28


#: The failure classes (``domain.failure_reasons.FailureClass``), in the order of the rollup
#: columns ``failed_<class>`` and of every answer.
FAILURE_CLASSES = ("code", "infrastructure", "timeout", "cancelled", "unknown")

#: The stored periods longer than a day, longest first.
BLOCK_GRAINS = (Grain.FOUR_WEEKS, Grain.WEEK)


@dataclass(frozen=True, slots=True)
class AttemptFacts:
    """What the metric definitions need of one run attempt."""

    id: str
    repository_id: str
    pipeline_id: str
    run_key: str
    attempt: int
    status: str
    branch: str | None
    started_at_ms: int | None
    completed_at_ms: int | None
    duration_seconds: float | None
    compute_seconds: float | None
    root_node_key: str | None
    #: ``domain.failure_reasons.FailureClass`` of a finished attempt that did not succeed.
    failure_class: str | None = None

    @property
    def run(self) -> tuple[str, str]:
        """The run this attempt belongs to: (pipeline, run key)."""
        return (self.pipeline_id, self.run_key)


@dataclass(frozen=True, slots=True)
class Outcome:
    """A finished attempt's verdict, for red periods."""

    pipeline_id: str
    branch: str | None
    status: str
    completed_at_ms: int
    attempt_id: str


@dataclass(slots=True)
class RunTally:
    """Counts and sums over run attempts, from which the run metrics follow."""

    by_status: Counter[str] = field(default_factory=Counter)
    first_by_status: Counter[str] = field(default_factory=Counter)
    compute_seconds: float = 0.0
    #: The durations (of the statuses the window's filter names, or of successes).
    durations: Histogram = field(default_factory=Histogram)
    decided_runs: int = 0
    flaky_runs: int = 0
    retry_compute_seconds: float = 0.0
    #: As ``JobTally.duration_top_bucket``: no duration percentile exceeds its upper edge.
    duration_top_bucket: int | None = None
    #: Attempts that failed, per failure class (``FAILURE_CLASSES``).
    failed_by_class: Counter[str] = field(default_factory=Counter)


@dataclass(slots=True)
class JobTally:
    """Counts and sums over the executions of one job (pipeline, definition key)."""

    name: str = ""
    by_status: Counter[str] = field(default_factory=Counter)
    total_duration_seconds: float = 0.0
    exclusive_seconds: float = 0.0
    #: The durations (of the statuses the window's filter names, or of successes).
    durations: Histogram = field(default_factory=Histogram)
    flaky_count: int = 0
    #: Failing executions (failure, timed_out) after which the job ended success in a later
    #: attempt of the same run: counted with the failing execution's attempt.
    failures_passed_on_retry: int = 0
    retry_compute_seconds: float = 0.0
    last_flaky_at_ms: int | None = None
    #: The histogram bucket of the longest duration (None: no duration): no percentile of the
    #: durations exceeds its upper edge (``Histogram.upper_edge``), even when the histogram
    #: itself is not read.
    duration_top_bucket: int | None = None
    #: ``domain.compute.LEVELS``: job, stage or step (None: stored before levels were kept,
    #: read as job).
    level: str | None = None
    #: Per key of the executions' ``metrics`` (``queue_seconds``, custom metrics), the
    #: histogram of the values of the executions that carry it: its count is the metric's
    #: sample (an execution without the key is unknown, not 0).
    metrics: dict[str, Histogram] = field(default_factory=dict)
    #: Executions that failed, per failure class (``FAILURE_CLASSES``).
    failed_by_class: Counter[str] = field(default_factory=Counter)
