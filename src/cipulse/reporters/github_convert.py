"""A GitHub Actions run attempt and its jobs → a RunWatch payload.

A GitHub Actions workflow run attempt and its jobs, as the REST API gives them → one
RunWatch payload. Pure: no I/O, no clock; the same input gives the same payload.

Inline mode (the reporter is the last job of the run it reports): the reporter's own job is
left out, and since the run is still in progress its status is computed from the other jobs
that have finished (``outcome.py``) and its end is when the last of them finished. A job other
than the reporter's that has not finished yet (it is not in the reporter's ``needs``) is
reported with its current status and no end, and does not count in the run's status."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cipulse.domain import changes
from cipulse.domain.ci_statuses import github_status
from cipulse.domain.status import Status
from cipulse.reporters.github_schema import HeadCommit, Job, PullRequest, WorkflowRun
from cipulse.reporters.outcome import final_status, is_finished
from cipulse.reporters.payload import (
    Attempt,
    ChangeReport,
    Conversion,
    JobReport,
    JobWait,
    Mode,
    RunHeader,
    RunWatchJob,
    job_report,
    run_payload,
    unfinished_notes,
)

PROVIDER = "github"

#: A run's or job's status (``status`` / ``conclusion``), as the webhook receiver maps it.
status_of = github_status


@dataclass(frozen=True, slots=True)
class OwnJob:
    """How the reporter recognises its own job among the run's unfinished ones: by name
    (``--job-name``, else ``GITHUB_JOB``, which is the name of a job without ``name:``) or
    by the runner it runs on (``RUNNER_NAME``)."""

    name: str | None = None
    runner_name: str | None = None

    def matches(self, job: Job) -> bool:
        return bool(
            (self.name and job.name == self.name)
            or (self.runner_name and job.runner_name == self.runner_name)
        )


def own_jobs(jobs: Sequence[Job], own: OwnJob) -> tuple[set[int], list[str]]:
    """The ids of the reporter's own job (unfinished, matching ``own``; else the only job in
    progress), and a note when it cannot be told."""
    unfinished = [job for job in jobs if not is_finished(status_of(job.status, job.conclusion))]
    matched = {job.id for job in unfinished if own.matches(job)}
    if matched:
        return matched, []
    return _only_in_progress([job for job in unfinished if job.status == "in_progress"])


def _only_in_progress(in_progress: Sequence[Job]) -> tuple[set[int], list[str]]:
    """The one job in progress, taken for the reporter's own; none (with a note) if several."""
    if len(in_progress) == 1:
        return {in_progress[0].id}, []
    if not in_progress:
        return set(), []
    names = ", ".join(sorted(job.name for job in in_progress))
    return set(), [
        f"could not tell which of the jobs in progress ({names}) is this one; all are "
        "reported (give its name with --job-name)"
    ]


def convert_job(job: Job) -> RunWatchJob:
    return _report(job).job


def _report(job: Job) -> JobReport:
    status = status_of(job.status, job.conclusion)
    # GitHub fills started_at of queued jobs too; it means nothing until the job runs.
    started = job.started_at if status not in (Status.QUEUED, Status.PENDING) else None
    # Times as GitHub gives them, even an end before the start (skipped jobs have them): the
    # server keeps them and stores the duration as unknown, with a warning.
    completed = job.completed_at if is_finished(status) else None
    return job_report(
        name=job.name,
        job_id=job.id,
        status=status,
        url=job.html_url,
        started=started,
        completed=completed,
        waited=JobWait(
            created=job.created_at if started is not None else None,
            runner_labels=tuple(job.labels),
            runner_name=job.runner_name,
            runner_group=job.runner_group_name,
            runner_id=job.runner_id,
        ),
    )


def convert(
    run: WorkflowRun,
    jobs: Sequence[Job],
    *,
    repository: str,
    mode: Mode,
    own: OwnJob | None = None,
) -> Conversion:
    """``run`` (one attempt) and its ``jobs`` → a RunWatch payload for ``repository``."""
    notes: list[str] = []
    excluded: set[int] = set()
    if mode == "inline":
        excluded, notes = own_jobs(jobs, own or OwnJob())
    reports = [
        _report(job) for job in sorted(jobs, key=lambda job: job.id) if job.id not in excluded
    ]
    status, completed, unfinished = _outcome(run, reports, mode)
    started = run.run_started_at or run.created_at
    attempt = Attempt(run.run_attempt, status, started, completed, reports)
    return Conversion([run_payload(_header(run, repository), attempt, mode)], notes + unfinished)


def _outcome(
    run: WorkflowRun, reports: Sequence[JobReport], mode: Mode
) -> tuple[Status, datetime | None, list[str]]:
    """The run's status and end, and a note per job not counted in them: a run still in
    progress, reported inline, is judged by its jobs that have finished."""
    status = status_of(run.status, run.conclusion)
    if is_finished(status):
        return status, run.updated_at, []
    if mode != "inline":
        return status, None, []
    completed = max((r.completed for r in reports if r.completed is not None), default=None)
    status = final_status(report.status for report in reports)
    return status, completed, unfinished_notes(reports, "run's")


def _header(run: WorkflowRun, repository: str) -> RunHeader:
    actor = run.triggering_actor or run.actor
    return RunHeader(
        provider=PROVIDER,
        repository=repository,
        pipeline_id=run.workflow_id,
        pipeline_name=run.name or run.path or "workflow",
        run_id=run.id,
        triggered_by=run.event or "",
        actor=actor.login if actor else "",
        run_name=run.display_title,
        run_url=run.html_url,
        branch=run.head_branch,
        change=change_of(run, repository),
    )


def _pull_of(run: WorkflowRun) -> PullRequest | None:
    """The pull request from the run's branch, else the first GitHub lists."""
    pulls = run.pull_requests
    same_branch = (p for p in pulls if p.head and p.head.ref == run.head_branch)
    return next(same_branch, pulls[0] if pulls else None)


def _pull_fields(pull: PullRequest | None, repository_page: str) -> dict[str, Any]:
    if pull is None:
        return {}
    return {
        "pull_request_number": pull.number,
        "pull_request_url": changes.github_pull_request_page(
            pull.url, pull.number, repository_page
        ),
        "pull_request_source_branch": pull.head.ref if pull.head else None,
        "pull_request_target_branch": pull.base.ref if pull.base else None,
    }


def change_of(run: WorkflowRun, repository: str) -> ChangeReport:
    """The commit, pull request and event of the run, as the webhook receiver reads them
    (``ingestion/github/converter.py``)."""
    commit = run.head_commit or HeadCommit()
    page = (run.repository.html_url if run.repository else None) or (
        f"https://github.com/{repository}"
    )
    return ChangeReport(
        commit_sha=run.head_sha,
        commit_message=commit.message,
        commit_author=commit.author.name if commit.author else None,
        event=run.event,
        **_pull_fields(_pull_of(run), page),
    )
