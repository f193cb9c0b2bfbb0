"""The final status of a run the reporter is a job of (inline mode).

The final status of a run that is still in progress because the reporter is one of its
jobs (inline mode): computed from the statuses of its other jobs that have finished (GitHub;
a GitLab pipeline's is ``domain/retry_rounds.pipeline_status``).

    1. failure    when a job failed
    2. timed_out  else, when a job timed out
    3. cancelled  else, when a job was cancelled
    4. success    else, when a job succeeded
    5. skipped    else (every finished job was skipped, or none finished)

A failure decides over the jobs it cancelled (fail-fast matrices, interruptible jobs), as it
does for GitHub's and GitLab's own run status."""

from __future__ import annotations

from collections.abc import Iterable

from cipulse.domain.status import FINISHED_STATUSES, Status

_PRECEDENCE = (Status.FAILURE, Status.TIMED_OUT, Status.CANCELLED, Status.SUCCESS)


def final_status(job_statuses: Iterable[Status]) -> Status:
    """The rule above."""
    finished = {status for status in job_statuses if status in FINISHED_STATUSES}
    for status in _PRECEDENCE:
        if status in finished:
            return status
    return Status.SKIPPED


def is_finished(status: Status) -> bool:
    return status in FINISHED_STATUSES
