"""The one status enum every CI system's statuses are normalised into."""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    SUCCESS = "success"
    FAILURE = "failure"
    CANCELLED = "cancelled"
    TIMED_OUT = "timed_out"
    SKIPPED = "skipped"
    RUNNING = "running"
    QUEUED = "queued"
    PENDING = "pending"


FINISHED_STATUSES = frozenset(
    {Status.SUCCESS, Status.FAILURE, Status.CANCELLED, Status.TIMED_OUT, Status.SKIPPED}
)
UNFINISHED_STATUSES = frozenset({Status.RUNNING, Status.QUEUED, Status.PENDING})


def is_stale(stored: str, incoming: str) -> bool:
    """A post is stale when it would turn a finished run or job back into an unfinished one.

    CI reporters retry and deliver out of order: a late ``running`` snapshot must never undo
    the ``success`` that was already stored."""
    return stored in FINISHED_STATUSES and incoming in UNFINISHED_STATUSES
