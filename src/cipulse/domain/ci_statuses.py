"""GitHub's and GitLab's run and job statuses onto cipulse's eight (docs/integrations.md,
"Status mapping"). One table per CI system, shared by the webhook receivers
(``ingestion/github``, ``ingestion/gitlab``) and the reporters (``reporters/``), so that a run
reported either way gets the same status."""

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

#: GitHub ``conclusion`` of a completed run, job or step.
GITHUB_CONCLUSION = {
    "success": Status.SUCCESS,
    "failure": Status.FAILURE,
    "cancelled": Status.CANCELLED,
    "timed_out": Status.TIMED_OUT,
    "skipped": Status.SKIPPED,
    "neutral": Status.SKIPPED,
    "stale": Status.CANCELLED,
    "action_required": Status.FAILURE,
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
