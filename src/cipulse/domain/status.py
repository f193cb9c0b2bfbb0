"""The one status enum every CI system's statuses are normalised into."""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    # In the order of the RunWatch spec, which error messages list them in.
    SUCCESS = "success"
    FAILURE = "failure"
    CANCELLED = "cancelled"
    RUNNING = "running"
    QUEUED = "queued"
    PENDING = "pending"
    SKIPPED = "skipped"
    TIMED_OUT = "timed_out"


#: Member → text without the ``.value`` descriptor, which is slow and runs once per job.
STATUS_TEXT = {status: status.value for status in Status}

FINISHED_STATUSES = frozenset(
    {Status.SUCCESS, Status.FAILURE, Status.CANCELLED, Status.TIMED_OUT, Status.SKIPPED}
)
UNFINISHED_STATUSES = frozenset({Status.RUNNING, Status.QUEUED, Status.PENDING})


def is_stale(stored: str, incoming: str) -> bool:
    """A post is stale when it would turn a finished run or job back into an unfinished one.

    CI reporters retry and deliver out of order: a late ``running`` snapshot must never undo
    the ``success`` that was already stored."""
    return stored in FINISHED_STATUSES and incoming in UNFINISHED_STATUSES
