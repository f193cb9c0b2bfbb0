"""Every source's statuses onto the enum: the one mapping table.

Every CI system's run and job statuses onto cipulse's eight: the one mapping table
(docs/integrations.md, "Status mapping"), shared by the wire formats (``ingestion/``) and the
reporters (``reporters/``), so that a run reported any way gets the same status. The value
as sent is always kept beside it (``raw_status``)."""

from __future__ import annotations

from cipulse.domain.status import Status

#: GitHub ``status`` of a run, job or step that is not ``completed``.
GITHUB_STATUS = {
    "requested": Status.QUEUED,
    "queued": Status.QUEUED,
    "pending": Status.PENDING,
    "waiting": Status.PENDING,
    "in_progress": Status.RUNNING,
}

#: GitHub ``conclusion`` of a completed run, job or step (Trunk's conclusions are the same
#: words in upper case).
GITHUB_CONCLUSION = {
    "success": Status.SUCCESS,
    "failure": Status.FAILURE,
    "cancelled": Status.CANCELLED,
    "timed_out": Status.TIMED_OUT,
    "skipped": Status.SKIPPED,
    # Finished without a verdict (GitHub lets it pass a required check because it did not
    # fail): on neither side of a success rate, as a skipped job.
    "neutral": Status.SKIPPED,
    # Left unfinished for 14 days and closed by GitHub: given up on, as a cancelled run.
    "stale": Status.CANCELLED,
    # Waiting for a maintainer to approve the run (a fork's pull request): nothing ran and
    # nothing failed yet; once approved, GitHub runs it and sends its real outcome.
    "action_required": Status.PENDING,
    # The run could not start (an invalid workflow file, a missing runner group): a failure,
    # of the set-up rather than of the code; raw_status says which.
    "startup_failure": Status.FAILURE,
}


def github_status(status: str | None, conclusion: str | None) -> Status:
    """A conclusion decides (GitHub sends one with ``requested`` for runs that need
    approval; an unknown one counts as a failure); without one, the status (``completed``
    alone as success, an unknown one as queued)."""
    if conclusion:
        return GITHUB_CONCLUSION.get(conclusion, Status.FAILURE)
    if status == "completed":
        return Status.SUCCESS
    return GITHUB_STATUS.get(status or "", Status.QUEUED)


#: Trunk ``conclusion`` (any letter case) that carries no verdict.
TRUNK_NO_VERDICT = "UNSPECIFIED"


def trunk_status(conclusion: str | None, finished: bool) -> Status:
    """A Trunk conclusion as GitHub's; one that carries no verdict (``UNSPECIFIED``, or none)
    means still running while the event has no ``finishedAt``, and skipped once it has."""
    found = GITHUB_CONCLUSION.get((conclusion or TRUNK_NO_VERDICT).lower())
    if found is not None:
        return found
    return Status.SKIPPED if finished else Status.RUNNING


#: RunWatch ``status`` for a run or job whose reporter could not name it. The RunWatch GitHub
#: reporter before v1.0.1 sends it for jobs that have not finished and for every conclusion
#: but success, failure, cancelled and skipped (timed_out, neutral, action_required, stale,
#: startup_failure).
RUNWATCH_UNKNOWN = "unknown"
#: Every RunWatch ``status`` accepted: the spec's eight (cipulse's own), then what real
#: reporters send beyond them.
RUNWATCH_STATUSES = (
    *(status.value for status in Status),
    RUNWATCH_UNKNOWN,
    *(c for c in GITHUB_CONCLUSION if c not in {status.value for status in Status}),
)


#: The RunWatch statuses but ``unknown``: the spec's are ours, GitHub's other conclusions map
#: as GitHub's do (a dict: this runs for every job).
_RUNWATCH_STATUS = {**{status.value: status for status in Status}, **GITHUB_CONCLUSION}


def runwatch_status(raw: str, finished: bool) -> Status:
    """``unknown`` is running until the run or job has a ``completed_at`` (``finished``),
    and a failure once it has: what the reporter could not name is then, in practice, a job
    that timed out or a run that failed to start, which count as failures too."""
    found = _RUNWATCH_STATUS.get(raw)
    if found is not None:
        return found
    if raw == RUNWATCH_UNKNOWN:
        return Status.FAILURE if finished else Status.RUNNING
    raise ValueError(f"not a RunWatch status: {raw!r}")  # the schema lets none through


#: GitLab job statuses (and pipeline statuses, but for ``manual``).
GITLAB_STATUS = {
    "created": Status.QUEUED,
    "waiting_for_resource": Status.QUEUED,
    "scheduled": Status.QUEUED,
    "preparing": Status.PENDING,
    "pending": Status.PENDING,
    "running": Status.RUNNING,
    "success": Status.SUCCESS,
    "failed": Status.FAILURE,
    "canceled": Status.CANCELLED,
    "canceling": Status.CANCELLED,
    "skipped": Status.SKIPPED,
    "manual": Status.SKIPPED,  # a manual job nobody started did not run
}
#: A pipeline waiting on a manual job ("blocked") may still go on.
GITLAB_PIPELINE_STATUS = {**GITLAB_STATUS, "manual": Status.PENDING}


def gitlab_status(raw: str, table: dict[str, Status] = GITLAB_STATUS) -> Status:
    """Unknown statuses count as running until a known one comes."""
    return table.get(raw, Status.RUNNING)
