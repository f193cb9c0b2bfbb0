"""RunWatch payload → domain RunAttempt, with timing warnings (pure).

RunWatch payload → domain ``RunAttempt``, with warnings about the times that could not be
taken as sent (``domain/timings.py``). Pure: no I/O, same input gives the same output."""

from __future__ import annotations

import hashlib
from urllib.parse import urlsplit

from cipulse.domain import changes
from cipulse.domain.changes import Change
from cipulse.domain.ci_statuses import runwatch_status
from cipulse.domain.model import (
    PROVIDER_HOSTS,
    JobSpan,
    PipelineRef,
    RepositoryRef,
    RunAttempt,
    RunKeyScope,
    SourceFormat,
    Submission,
)
from cipulse.domain.runners import Runner
from cipulse.domain.timings import TimingNames, Where, settle_compute, settle_duration
from cipulse.ingestion.runwatch.schema import RunWatchJob, RunWatchRun

_SELF_HOSTABLE = {"github", "gitlab"}
MAX_PLAIN_NAME_KEY = 200


#: CircleCI is not a code host: its run URLs name the one it builds from,
#: ``https://app.circleci.com/pipelines/github/acme/app/123``.
_CIRCLECI_VCS_HOSTS = {
    "github": "github.com",
    "gh": "github.com",
    "bitbucket": "bitbucket.org",
    "bb": "bitbucket.org",
}


def repository_host(provider: str, repository: str, run_url: str | None) -> str:
    """The code host of the repository.

    GitHub Enterprise and self-managed GitLab report ``provider: github|gitlab`` too; when the
    run URL points at another host under the same repository path, that host is the one. For
    CircleCI the run URL names the code host it builds from."""
    default = PROVIDER_HOSTS.get(provider, provider)
    if not run_url:
        return default
    parts = urlsplit(run_url)
    path = parts.path.lower()
    if provider in _SELF_HOSTABLE:
        if parts.hostname and path.startswith(f"/{repository.lower()}/"):
            return parts.hostname.lower()
    elif provider == "circleci":
        segments = path.strip("/").split("/")
        if len(segments) >= 4 and segments[0] == "pipelines":
            owner_name = "/".join(segments[2:4])
            if segments[1] in _CIRCLECI_VCS_HOSTS and owner_name == repository.lower():
                return _CIRCLECI_VCS_HOSTS[segments[1]]
    return default


def _name_key(name: str) -> str:
    """Jobs without an id are matched by name; long names are hashed so the key stays short
    enough for a unique index on both databases."""
    if len(name) <= MAX_PLAIN_NAME_KEY:
        return f"name:{name}"
    return "name-sha256:" + hashlib.sha256(name.encode()).hexdigest()


#: The timing fields of a run (and, under ``jobs[i]``, of a job).
_TIMES = TimingNames("started_at", "completed_at", "duration_seconds")
_QUEUE = TimingNames("created_at", "started_at", "queued_seconds")


def _job_spans(jobs: list[RunWatchJob], warnings: list[str]) -> tuple[list[JobSpan], list[str]]:
    """The jobs, and the paths of those whose sent duration was impossible."""
    spans = []
    impossible = []
    used: set[str] = set()
    occurrences: dict[str, int] = {}
    for index, job in enumerate(jobs):
        base_key = f"id:{job.job_id}" if job.job_id is not None else _name_key(job.name)
        # Two jobs with the same id or name are told apart by their order: #2, #3, … (skipping
        # a suffix that a job's own name already took).
        node_key = base_key
        while node_key in used:
            occurrences[base_key] = occurrences.get(base_key, 1) + 1
            node_key = f"{base_key}#{occurrences[base_key]}"
        used.add(node_key)
        sent = job.duration_seconds
        duration = settle_duration(
            _TIMES, job.started_at, job.completed_at, sent, warnings, where=("jobs", index)
        )
        if duration is None and sent is not None:
            impossible.append(f"jobs[{index}]")
        spans.append(
            JobSpan(
                node_key=node_key,
                name=job.name,
                definition_key=job.name,
                kind="job",
                status=runwatch_status(job.status, finished=job.completed_at is not None),
                raw_status=job.status,
                started_at=job.started_at,
                completed_at=job.completed_at,
                duration_seconds=duration,
                url=job.job_url,
                external_id=None if job.job_id is None else str(job.job_id),
                failure_reason=job.failure_reason or None,
                failing_step=job.failing_step or None,
                queue_seconds=_queue_seconds(job, warnings, ("jobs", index)),
                runner=Runner.of(
                    job.runner_labels, job.runner_name, job.runner_group, job.runner_id
                ),
            )
        )
    return spans, impossible


def _queue_seconds(
    thing: RunWatchJob | RunWatchRun, warnings: list[str], where: Where = ""
) -> float | None:
    """The queue time sent (``queued_seconds``), else from ``created_at`` to ``started_at``."""
    if thing.created_at is None and thing.queued_seconds is None:
        return None
    return settle_duration(
        _QUEUE,
        thing.created_at,
        thing.started_at,
        thing.queued_seconds,
        warnings,
        where=where,
        what="queue time",
    )


def convert(run: RunWatchRun) -> Submission:
    warnings: list[str] = []
    duration = settle_duration(
        _TIMES, run.started_at, run.completed_at, run.duration_seconds, warnings
    )
    jobs, impossible = _job_spans(run.jobs, warnings)
    known = [job.duration_seconds for job in jobs if job.duration_seconds is not None]
    compute = settle_compute(run.compute_seconds, known, impossible, warnings)
    pipeline_key = str(run.pipeline_id) if run.pipeline_id is not None else run.pipeline_name
    attempt = RunAttempt(
        repository=RepositoryRef(
            host=repository_host(run.provider, run.repository, run.run_url),
            full_name=run.repository,
        ),
        pipeline=PipelineRef(key=pipeline_key, name=run.pipeline_name),
        run_key=str(run.run_id),
        run_key_scope=RunKeyScope.PIPELINE,
        run_number=run.run_id,
        attempt=run.run_attempt,
        status=runwatch_status(run.status, finished=run.completed_at is not None),
        raw_status=run.status,
        provider=run.provider,
        source_format=SourceFormat.RUNWATCH,
        started_at=run.started_at,
        completed_at=run.completed_at,
        duration_seconds=duration,
        compute_seconds=compute,
        run_name=run.run_name,
        run_url=run.run_url,
        triggered_by=run.triggered_by or None,
        actor=run.actor or None,
        branch=run.branch or None,
        mode=run.mode,
        jobs=jobs,
        jobs_are_snapshot=True,
        change=change_of(run, warnings),
        failure_reason=run.failure_reason or None,
        queue_seconds=_queue_seconds(run, warnings),
    )
    return Submission(attempts=[attempt], warnings=warnings)


def change_of(run: RunWatchRun, warnings: list[str]) -> Change:
    """The change cipulse's extension fields name. Without ``event``, a ``triggered_by``
    that is a GitHub event or a GitLab pipeline source says the kind (any other: unknown).
    A ``commit_sha`` that is no SHA is stored as unknown, with a warning."""
    warning = changes.sha_warning("commit_sha", run.commit_sha)
    if warning:
        warnings.append(warning)
    return Change(
        commit_sha=changes.commit_sha(run.commit_sha),
        commit_message=changes.first_line(run.commit_message),
        commit_author=changes.text(run.commit_author),
        pull_request_number=run.pull_request_number,
        pull_request_title=changes.text(run.pull_request_title),
        pull_request_url=changes.text(run.pull_request_url),
        pull_request_source_branch=changes.text(run.pull_request_source_branch),
        pull_request_target_branch=changes.text(run.pull_request_target_branch),
        event_kind=changes.named_event_kind(run.event)
        if changes.text(run.event)
        else changes.known_event_kind(run.triggered_by),
    )
