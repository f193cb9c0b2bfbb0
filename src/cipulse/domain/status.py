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


def ended_earlier(stored: tuple[str, int | None], incoming: tuple[str, int | None]) -> bool:
    """For sources whose events may repeat a finished state out of order (webhooks): a
    finished post that ended before the stored finished one is older news. Each is (status,
    end in ms); an end not known counts as earliest."""
    (stored_status, stored_end), (incoming_status, incoming_end) = stored, incoming
    return (
        stored_status in FINISHED_STATUSES
        and incoming_status in FINISHED_STATUSES
        and (incoming_end if incoming_end is not None else -1)
        < (stored_end if stored_end is not None else -1)
    )
