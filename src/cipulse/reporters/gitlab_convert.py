"""A GitLab pipeline and its jobs → RunWatch payloads per attempt.

A GitLab CI pipeline and its jobs, as the REST API gives them (retried jobs included) → one
RunWatch payload per attempt. Pure: no I/O, no clock; the same input gives the same payloads.

GitLab retries a job, not a pipeline: a retry is a new job (a new id) with the same name in
the same pipeline. As cipulse's GitLab webhook receiver does (``domain/retry_rounds.py``),
the reporter counts **retry rounds** as the run's attempts: the first try of each job is in
attempt 1, the second tries are attempt 2, and so on. Each attempt holds its round's tries
only (so each try's cost is counted once), and its status is the pipeline's as it stood after
that round: each job at its latest try up to the round, a failed job that may fail
(``allow_failure``) not failing it. A pipeline that went green after a retry is then a run
with a failing attempt and a successful one: a flaky run, and the retried job a flaky job. A
pipeline nobody retried is one attempt with GitLab's own status.

Inline mode (the reporter is a job of the pipeline, in ``.post``): its own job (``CI_JOB_ID``)
is left out, and since the pipeline is still running, the last attempt's status counts only
the jobs that have finished and its end is when the last of its tries finished. A job that has
not finished is reported with its current status."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from cipulse.domain.changes import gitlab_event_kind
from cipulse.domain.ci_statuses import GITLAB_PIPELINE_STATUS, gitlab_status
from cipulse.domain.retry_rounds import pipeline_status
from cipulse.domain.status import Status
from cipulse.reporters.gitlab_schema import Job, Pipeline
from cipulse.reporters.outcome import is_finished
from cipulse.reporters.payload import (
    Attempt,
    ChangeReport,
    Conversion,
    JobReport,
    JobWait,
    Mode,
    RunHeader,
    job_report,
    run_payload,
    unfinished_notes,
)

PROVIDER = "gitlab"
#: A project has one pipeline definition, its CI configuration: one cipulse pipeline, keyed
#: and named as the webhook receiver does.
PIPELINE_KEY = "gitlab-ci"
DEFAULT_CONFIG_PATH = ".gitlab-ci.yml"

#: A job's status, and a pipeline's (``PIPELINE_STATUS``), as the webhook receiver maps them.
status_of = gitlab_status
PIPELINE_STATUS = GITLAB_PIPELINE_STATUS


def rounds_of(jobs: Sequence[Job]) -> list[list[Job]]:
    """The jobs by retry round: the n-th try of each job (by name, in the order of ids) is
    in round n. Always at least one round."""
    rounds: list[list[Job]] = [[]]
    tries: dict[str, int] = {}
    for job in sorted(jobs, key=lambda job: job.id):
        tries[job.name] = tries.get(job.name, 0) + 1
        while len(rounds) < tries[job.name]:
            rounds.append([])
        rounds[tries[job.name] - 1].append(job)
    return rounds


def latest_tries(rounds: Sequence[Sequence[Job]]) -> list[Job]:
    latest: dict[str, Job] = {}
    for jobs in rounds:
        for job in jobs:
            latest[job.name] = job
    return list(latest.values())


def status_after(latest: Sequence[Job], *, finished_only: bool) -> Status:
    """The pipeline's status given each job's latest try, as the webhook receiver decides
    it (``domain/retry_rounds.pipeline_status``)."""
    return pipeline_status(
        ((status_of(job.status), bool(job.allow_failure)) for job in latest),
        finished_only=finished_only,
    )


def _report(job: Job) -> JobReport:
    status = status_of(job.status)
    # Times as GitLab gives them, even an end before the start: the server keeps them and
    # stores the duration as unknown, with a warning.
    return job_report(
        name=job.name,
        job_id=job.id,
        status=status,
        url=job.web_url,
        started=job.started_at,
        completed=job.finished_at if is_finished(status) else None,
        waited=JobWait(
            queued_seconds=job.queued_duration,
            runner_labels=tuple(job.tag_list),
            runner_name=job.runner.description if job.runner else None,
            runner_id=job.runner.id if job.runner else None,
        ),
    )


def convert(
    pipeline: Pipeline,
    jobs: Sequence[Job],
    *,
    repository: str,
    config_path: str | None = None,
    mode: Mode,
    own_job_id: int | None = None,
    change: ChangeReport | None = None,
) -> Conversion:
    """``pipeline`` and its ``jobs`` (every try) → one RunWatch payload per retry round, for
    ``repository`` (the project's path); the pipeline is named ``config_path``. ``change``:
    what the CI job's variables say of the commit and merge request (the pipeline's own
    SHA and event are read from it)."""
    inline = mode == "inline"
    rounds = rounds_of([job for job in jobs if not (inline and job.id == own_job_id)])
    header = _header(pipeline, repository, config_path, change or ChangeReport())
    notes: list[str] = []
    if len(rounds) > 1:
        notes.append(f"jobs were retried: {len(rounds)} retry rounds, reported as attempts")
    attempts: list[Attempt] = []
    for number in range(1, len(rounds) + 1):
        previous = attempts[-1] if attempts else None
        attempts.append(
            _attempt(pipeline, rounds[:number], previous, inline=inline, retried=len(rounds) > 1)
        )
    if inline and not is_finished(status_of(pipeline.status, PIPELINE_STATUS)):
        notes += unfinished_notes(attempts[-1].reports, "pipeline's")
    return Conversion([run_payload(header, attempt, mode) for attempt in attempts], notes)


def _attempt(
    pipeline: Pipeline,
    rounds: Sequence[Sequence[Job]],
    previous: Attempt | None,
    *,
    inline: bool,
    retried: bool,
) -> Attempt:
    """The attempt of the last of ``rounds`` (those up to it), after ``previous``: it starts
    with the pipeline, else with its first try (else where ``previous`` ended)."""
    reports = [_report(job) for job in rounds[-1]]
    status, end = _round_outcome(pipeline, rounds, reports, inline=inline, retried=retried)
    if previous is None:
        start = pipeline.started_at or pipeline.created_at
    else:
        previous_end = previous.completed or previous.started
        start = min((r.started for r in reports if r.started is not None), default=previous_end)
    return Attempt(len(rounds), status, start, end, reports)


def _round_outcome(
    pipeline: Pipeline,
    rounds: Sequence[Sequence[Job]],
    reports: Sequence[JobReport],
    *,
    inline: bool,
    retried: bool,
) -> tuple[Status, datetime | None]:
    """The status and end of the last of ``rounds``: GitLab's own for a pipeline nobody
    retried (unless it is still running, inline), else as the webhook receiver decides it."""
    own_status = status_of(pipeline.status, PIPELINE_STATUS)
    if not retried and (is_finished(own_status) or not inline):
        return own_status, pipeline.finished_at if is_finished(own_status) else None
    status = status_after(latest_tries(rounds), finished_only=inline)
    ends = [r.completed for r in reports if r.completed is not None]
    return status, max(ends, default=None) if is_finished(status) else None


def _header(
    pipeline: Pipeline, repository: str, config_path: str | None, change: ChangeReport
) -> RunHeader:
    kind = gitlab_event_kind(pipeline.source, tag=pipeline.tag, ref=pipeline.ref)
    return RunHeader(
        provider=PROVIDER,
        repository=repository,
        pipeline_id=PIPELINE_KEY,
        pipeline_name=config_path or DEFAULT_CONFIG_PATH,
        run_id=pipeline.id,
        triggered_by=pipeline.source or "",
        actor=pipeline.user.username if pipeline.user else "",
        run_name=pipeline.name,
        run_url=pipeline.web_url,
        branch=pipeline.ref,
        change=replace(
            change,
            commit_sha=pipeline.sha or change.commit_sha,
            event=kind.value if kind else change.event,
        ),
    )
