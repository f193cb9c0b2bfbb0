"""GitHub workflow_run / workflow_job events → domain (pure).

GitHub ``workflow_run`` / ``workflow_job`` events → domain. Pure: no I/O, same input gives
the same output.

A workflow run is a run keyed by its id within the repository (so that job events, which do
not name the workflow, find it); ``run_attempt`` is the attempt. The run event carries the
run's own fields and no jobs; each job event is a node of that attempt's job tree (its steps
are the job's children), stored whether or not the run has arrived yet."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlsplit

from cipulse.domain import changes
from cipulse.domain.changes import Change
from cipulse.domain.ci_statuses import github_status
from cipulse.domain.model import (
    DetachedSpan,
    JobSpan,
    PipelineRef,
    RepositoryRef,
    RunAttempt,
    RunKeyScope,
    SourceFormat,
    Submission,
    TagValue,
)
from cipulse.domain.runners import Runner
from cipulse.domain.status import FINISHED_STATUSES, Status
from cipulse.domain.timings import TimingNames, Where, settle_duration
from cipulse.ingestion.github.schema import (
    Repository,
    Step,
    WorkflowJob,
    WorkflowJobEvent,
    WorkflowRun,
    WorkflowRunEvent,
)

PROVIDER = "github"


def status_of(status: str | None, conclusion: str | None) -> tuple[Status, str | None]:
    """Our status (``domain/ci_statuses.py``) and the raw value kept: the conclusion once
    there is one, else the status."""
    return github_status(status, conclusion), conclusion or status


def repository_of(repository: Repository) -> RepositoryRef:
    """github.com, or the GitHub Enterprise Server host the repository's page is on."""
    host = "github.com"
    if repository.html_url:
        host = (urlsplit(repository.html_url).hostname or host).lower()
    return RepositoryRef(host=host, full_name=repository.full_name)


def convert_run(event: WorkflowRunEvent) -> Submission:
    run = event.workflow_run
    repository = repository_of(event.repository)
    status, raw_status = status_of(run.status, run.conclusion)
    started = run.run_started_at or run.created_at
    completed = run.updated_at if status in FINISHED_STATUSES else None
    start_name = "run_started_at" if run.run_started_at else "created_at"
    warnings: list[str] = []
    duration = settle_duration(
        TimingNames(start_name, "updated_at"),
        started,
        completed,
        None,
        warnings,
        where="workflow_run",
    )
    actor = run.triggering_actor or run.actor
    attempt = RunAttempt(
        repository=repository,
        pipeline=PipelineRef(key=str(run.workflow_id), name=run.name or run.path or "workflow"),
        run_key=str(run.id),
        run_key_scope=RunKeyScope.REPOSITORY,
        attempt=run.run_attempt,
        status=status,
        raw_status=raw_status,
        provider=PROVIDER,
        source_format=SourceFormat.GITHUB,
        started_at=started,
        completed_at=completed,
        duration_seconds=duration,
        run_number=run.run_number,
        run_name=run.display_title or None,
        run_url=run.html_url,
        triggered_by=run.event or None,
        actor=actor.login if actor else None,
        branch=run.head_branch or None,
        tags=_run_tags(run),
        jobs=[],
        jobs_are_snapshot=False,
        change=change_of(run, event.repository),
    )
    submission = Submission(attempts=[attempt], from_webhooks=True, warnings=warnings)
    if event.repository.default_branch:
        submission.default_branches[repository] = event.repository.default_branch
    return submission


def change_of(run: WorkflowRun, repository: Repository) -> Change:
    """The commit, pull request and event of a workflow run. GitHub lists the pull requests
    whose head is the run's commit: the one from the run's branch is taken, else the first.
    Its page is the repository's ``/pull/{number}`` (GitHub sends only the API's URL)."""
    commit = run.head_commit
    author = commit.author if commit else None
    pull = next(
        (p for p in run.pull_requests if p.head and p.head.ref == run.head_branch),
        run.pull_requests[0] if run.pull_requests else None,
    )
    return Change(
        commit_sha=changes.commit_sha(run.head_sha),
        commit_message=changes.first_line(commit.message if commit else None),
        commit_author=changes.text(author.name if author else None),
        pull_request_number=pull.number if pull else None,
        pull_request_url=changes.github_pull_request_page(
            pull.url, pull.number, repository.html_url
        )
        if pull
        else None,
        pull_request_source_branch=changes.text(pull.head.ref if pull and pull.head else None),
        pull_request_target_branch=changes.text(pull.base.ref if pull and pull.base else None),
        event_kind=changes.github_event_kind(run.event),
    )


def _run_tags(run: WorkflowRun) -> dict[str, TagValue]:
    """The workflow file and the commit, when the event names them."""
    tags: dict[str, TagValue] = {}
    if run.path:
        tags["workflow_path"] = run.path
    if run.head_sha:
        tags["commit_sha"] = run.head_sha
    return tags


def _started(status: Status, started_at: datetime | None) -> datetime | None:
    """GitHub fills ``started_at`` of queued jobs and steps too; it means nothing yet."""
    return started_at if status not in (Status.QUEUED, Status.PENDING) else None


def _job_name(job: WorkflowJob) -> str:
    return job.name or f"job {job.id}"


def job_node_key(job_id: int) -> str:
    return f"job:{job_id}"


def _times(
    status: str | None,
    conclusion: str | None,
    started_at: datetime | None,
    completed_at: datetime | None,
) -> tuple[Status, str | None, datetime | None, datetime | None]:
    """Status, raw status, start and end of a job or step: no start while it waits, no end
    until it has finished."""
    found, raw_status = status_of(status, conclusion)
    return (
        found,
        raw_status,
        _started(found, started_at),
        completed_at if found in FINISHED_STATUSES else None,
    )


#: Where a job's times are in a ``workflow_job`` event.
_JOB = TimingNames("started_at", "completed_at")
_QUEUE = TimingNames("created_at", "started_at")


def _settled(
    names: TimingNames,
    started: datetime | None,
    completed: datetime | None,
    warnings: list[str],
    where: Where = "workflow_job",
    what: str = "duration",
) -> float | None:
    return settle_duration(names, started, completed, None, warnings, where=where, what=what)


def _job_span(job: WorkflowJob, warnings: list[str]) -> JobSpan:
    status, raw_status, started, completed = _times(
        job.status, job.conclusion, job.started_at, job.completed_at
    )
    tags: dict[str, TagValue] = {}
    if job.runner_name:
        tags["runner_name"] = job.runner_name
    if job.runner_group_name:
        tags["runner_group"] = job.runner_group_name
    if job.labels:
        tags["runner_labels"] = ",".join(job.labels)
    metrics = {}
    queued = _settled(_QUEUE, job.created_at, started, warnings, what="queue time")
    if queued is not None:
        metrics["queue_seconds"] = queued
    name = _job_name(job)
    return JobSpan(
        node_key=job_node_key(job.id),
        name=name,
        definition_key=name,
        kind="job",
        status=status,
        raw_status=raw_status,
        started_at=started,
        completed_at=completed,
        duration_seconds=_settled(_JOB, started, completed, warnings),
        url=job.html_url,
        external_id=str(job.id),
        tags=tags,
        metrics=metrics,
        failing_step=failing_step_of(job),
        queue_seconds=queued,
        runner=Runner.of(job.labels, job.runner_name, job.runner_group_name, job.runner_id),
    )


def failing_step_of(job: WorkflowJob) -> str | None:
    """The first step GitHub concluded ``failure`` (later ones are skipped, or cleanup)."""
    return next(
        (step.name or f"step {step.number}" for step in job.steps if step.conclusion == "failure"),
        None,
    )


def _step_span(job: WorkflowJob, index: int, step: Step, warnings: list[str]) -> JobSpan:
    status, raw_status, started, completed = _times(
        step.status, step.conclusion, step.started_at, step.completed_at
    )
    name = f"{_job_name(job)} / {step.name or f'step {step.number}'}"
    return JobSpan(
        node_key=f"{job_node_key(job.id)}/step:{step.number}",
        name=name,
        definition_key=name,
        kind="step",
        status=status,
        raw_status=raw_status,
        started_at=started,
        completed_at=completed,
        duration_seconds=_settled(
            _JOB, started, completed, warnings, where=("workflow_job.steps", index)
        ),
        url=f"{job.html_url}#step:{step.number}:1" if job.html_url else None,
        parent_node_key=job_node_key(job.id),
    )


def convert_job(event: WorkflowJobEvent) -> Submission:
    job = event.workflow_job
    repository = repository_of(event.repository)
    warnings: list[str] = []
    spans = [_job_span(job, warnings)]
    spans += [_step_span(job, index, step, warnings) for index, step in enumerate(job.steps)]
    submission = Submission(
        from_webhooks=True,
        warnings=warnings,
        detached_spans=[
            DetachedSpan(
                repository=repository, run_key=str(job.run_id), span=span, attempt=job.run_attempt
            )
            for span in spans
        ],
    )
    if event.repository.default_branch:
        submission.default_branches[repository] = event.repository.default_branch
    return submission
