"""GitLab Pipeline Hook / Job Hook events → domain (pure).

GitLab Pipeline Hook / Job Hook events → domain. Pure: no I/O, same input gives the same
output.

A GitLab pipeline is a run keyed by its id within the project (so that job events, which
name only the pipeline id, find it); a project has one pipeline definition (its CI
configuration), so every run of a project belongs to one cipulse pipeline. GitLab retries a
job, not a pipeline: each try of a job is a job of its own (a new job id), in the run attempt
of its retry round (``retries_count`` + 1; ``domain/retry_rounds.py`` derives the attempts).

The Pipeline Hook carries the run and its jobs as they stand; the Job Hook one job. Jobs a
Pipeline Hook lists only fill in what the jobs' own events have not finished, so the jobs
stored do not depend on the order the events arrive in."""

from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import urlsplit

from cipulse.domain import changes
from cipulse.domain.changes import Change
from cipulse.domain.ci_statuses import GITLAB_PIPELINE_STATUS, gitlab_status
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
from cipulse.domain.runners import NO_RUNNER
from cipulse.domain.runners import Runner as RunnerFacts
from cipulse.domain.status import FINISHED_STATUSES, Status
from cipulse.domain.timings import TimingNames, Where, settle_duration
from cipulse.ingestion.gitlab.schema import (
    Build,
    JobEvent,
    PipelineEvent,
    Project,
    RepositoryInfo,
    Runner,
    repository_name,
)

PROVIDER = "gitlab"
DEFAULT_CONFIG_PATH = ".gitlab-ci.yml"


def repository_of(project: Project | None, repository: RepositoryInfo | None) -> RepositoryRef:
    """The project, by its path (``group/subgroup/name``) on its GitLab host."""
    web_url = (project.web_url if project else None) or (
        repository.homepage if repository else None
    )
    host = (urlsplit(web_url).hostname or "gitlab.com").lower() if web_url else "gitlab.com"
    full_name = repository_name(project.path_with_namespace if project else None, web_url)
    assert full_name is not None  # the events' schemas make sure
    return RepositoryRef(host=host, full_name=full_name)


def _pipeline_ref(project: Project | None) -> PipelineRef:
    path = (project.ci_config_path if project else None) or DEFAULT_CONFIG_PATH
    return PipelineRef(key="gitlab-ci", name=path)


def _runner_tags(runner: Runner | None) -> dict[str, TagValue]:
    if runner is None:
        return {}
    tags: dict[str, TagValue] = {}
    if runner.description:
        tags["runner_name"] = runner.description
    if runner.tags:
        tags["runner_tags"] = ",".join(runner.tags)
    return tags


def _job_tags(
    runner: Runner | None, stage: str | None, allow_failure: bool | None, reason: str | None
) -> dict[str, TagValue]:
    tags = _runner_tags(runner)
    if stage:
        tags["stage"] = stage
    if allow_failure:
        tags["allow_failure"] = "true"
    if reason:
        tags["failure_reason"] = reason
    return tags


def _runner(runner: Runner | None) -> RunnerFacts:
    if runner is None:
        return NO_RUNNER
    return RunnerFacts.of(runner.tags, runner.description, id=runner.id)


#: Where the times are in a Pipeline Hook (a pipeline starts when it stops queueing) and in a
#: Job Hook (``builds[i]`` in a Pipeline Hook has the same fields without ``build_``).
_PIPELINE_TIMES = TimingNames("created_at + queued_duration", "finished_at", "duration")
_PIPELINE_QUEUE = TimingNames("created_at", "started_at", "queued_duration")
_JOB_TIMES = TimingNames("build_started_at", "build_finished_at", "build_duration")
_JOB_QUEUE = TimingNames("build_created_at", "build_started_at", "build_queued_duration")
_BUILD_TIMES = TimingNames("started_at", "finished_at", "duration")
_BUILD_QUEUE = TimingNames("created_at", "started_at", "queued_duration")
_PIPELINE = "object_attributes"


def job_node_key(job_id: int) -> str:
    return f"job:{job_id}"


def _queue_time(
    names: TimingNames, where: Where, queued: float | None, warnings: list[str]
) -> float | None:
    """GitLab's queue time as sent; a negative one is unknown (with a warning)."""
    return settle_duration(names, None, None, queued, warnings, where=where, what="queue time")


def _job_span(
    *,
    times: TimingNames,
    queue: TimingNames,
    where: Where,
    warnings: list[str],
    job_id: int,
    name: str,
    stage: str | None,
    raw_status: str,
    started: datetime | None,
    finished: datetime | None,
    duration: float | None,
    queued: float | None,
    allow_failure: bool | None,
    failure_reason: str | None,
    runner: Runner | None,
    web_url: str | None,
) -> JobSpan:
    status = gitlab_status(raw_status)
    if status not in FINISHED_STATUSES:
        finished = duration = None  # GitLab's duration so far: not a duration yet
    duration = settle_duration(times, started, finished, duration, warnings, where=where)
    queued = _queue_time(queue, where, queued, warnings)
    # GitLab sends ``unknown_failure`` for jobs that did not fail too.
    if not (failure_reason and status in (Status.FAILURE, Status.TIMED_OUT)):
        failure_reason = None
    return JobSpan(
        node_key=job_node_key(job_id),
        name=name,
        definition_key=name,
        kind="job",
        status=status,
        raw_status=raw_status,
        started_at=started,
        completed_at=finished,
        duration_seconds=duration,
        url=f"{web_url}/-/jobs/{job_id}" if web_url else None,
        external_id=str(job_id),
        tags=_job_tags(runner, stage, allow_failure, failure_reason),
        metrics={} if queued is None else {"queue_seconds": queued},
        failure_reason=failure_reason,
        queue_seconds=queued,
        runner=_runner(runner),
    )


def _web_url(project: Project | None, repository: RepositoryInfo | None = None) -> str | None:
    url = (project.web_url if project else None) or (repository.homepage if repository else None)
    return url.rstrip("/") if url else None


def convert_pipeline(event: PipelineEvent) -> Submission:
    pipeline = event.object_attributes
    repository = repository_of(event.project, None)
    web_url = _web_url(event.project)
    warnings: list[str] = []
    attempt = _pipeline_attempt(event, repository, web_url, warnings)
    spans = [
        DetachedSpan(
            repository=repository,
            run_key=str(pipeline.id),
            span=_build_span(index, build, web_url, warnings),
            attempt=round_number,
            fallback=True,
        )
        for index, build, round_number in _rounds_of(event.builds)
    ]
    submission = Submission(
        from_webhooks=True,
        attempts=[attempt],
        detached_spans=spans,
        retry_round_runs=[(repository, str(pipeline.id))],
        warnings=warnings,
    )
    if event.project.default_branch:
        submission.default_branches[repository] = event.project.default_branch
    return submission


def _pipeline_attempt(
    event: PipelineEvent, repository: RepositoryRef, web_url: str | None, warnings: list[str]
) -> RunAttempt:
    """The pipeline as attempt 1 of its run (``domain/retry_rounds.py`` derives the rest);
    it starts when it stops queueing."""
    pipeline = event.object_attributes
    status = gitlab_status(pipeline.status, GITLAB_PIPELINE_STATUS)
    queued = _queue_time(_PIPELINE_QUEUE, _PIPELINE, pipeline.queued_duration, warnings)
    started = pipeline.created_at + timedelta(seconds=queued or 0)
    finished = pipeline.finished_at if status in FINISHED_STATUSES else None
    sent = pipeline.duration if finished is not None else None
    duration = settle_duration(_PIPELINE_TIMES, started, finished, sent, warnings, where=_PIPELINE)
    tags: dict[str, TagValue] = {}
    if pipeline.sha:
        tags["commit_sha"] = pipeline.sha
    if pipeline.tag:
        tags["git_tag"] = "true"
    return RunAttempt(
        repository=repository,
        pipeline=_pipeline_ref(event.project),
        run_key=str(pipeline.id),
        run_key_scope=RunKeyScope.REPOSITORY,
        attempt=1,
        status=status,
        raw_status=pipeline.status,
        provider=PROVIDER,
        source_format=SourceFormat.GITLAB,
        started_at=started,
        completed_at=finished,
        duration_seconds=duration,
        run_number=pipeline.iid,
        run_name=pipeline.name or None,
        run_url=pipeline.url or (f"{web_url}/-/pipelines/{pipeline.id}" if web_url else None),
        triggered_by=pipeline.source or None,
        actor=event.user.username if event.user else None,
        branch=pipeline.ref or None,
        tags=tags,
        metrics={} if queued is None else {"queue_seconds": queued},
        jobs=[],
        jobs_are_snapshot=False,
        change=change_of(event),
        queue_seconds=queued,
    )


def change_of(event: PipelineEvent) -> Change:
    """The commit, merge request and event of a Pipeline Hook."""
    pipeline, commit, request = event.object_attributes, event.commit, event.merge_request
    author = commit.author if commit else None
    return Change(
        commit_sha=changes.commit_sha(pipeline.sha),
        commit_message=changes.first_line(commit.message if commit else None),
        commit_author=changes.text(author.name if author else None),
        pull_request_number=request.iid if request else None,
        pull_request_title=changes.text(request.title if request else None),
        pull_request_url=changes.text(request.url if request else None),
        pull_request_source_branch=changes.text(request.source_branch if request else None),
        pull_request_target_branch=changes.text(request.target_branch if request else None),
        event_kind=changes.gitlab_event_kind(pipeline.source, tag=pipeline.tag, ref=pipeline.ref),
    )


def _rounds_of(builds: list[Build]) -> list[tuple[int, Build, int]]:
    """Each job (with its place in ``builds``) with its retry round: the tries of one job, in
    the order of their ids. (A pipeline event may list only each job's latest try: then its
    own event says its round.)"""
    tries: dict[str, int] = {}
    found = []
    for index, build in sorted(enumerate(builds), key=lambda item: item[1].id):
        tries[build.name] = tries.get(build.name, 0) + 1
        found.append((index, build, tries[build.name]))
    return found


def _build_span(index: int, build: Build, web_url: str | None, warnings: list[str]) -> JobSpan:
    return _job_span(
        times=_BUILD_TIMES,
        queue=_BUILD_QUEUE,
        where=("builds", index),
        warnings=warnings,
        job_id=build.id,
        name=build.name,
        stage=build.stage,
        raw_status=build.status,
        started=build.started_at,
        finished=build.finished_at,
        duration=build.duration,
        queued=build.queued_duration,
        allow_failure=build.allow_failure,
        failure_reason=build.failure_reason,
        runner=build.runner,
        web_url=web_url,
    )


def convert_job(event: JobEvent) -> Submission:
    repository = repository_of(event.project, event.repository)
    warnings: list[str] = []
    span = _job_span(
        times=_JOB_TIMES,
        queue=_JOB_QUEUE,
        where="",
        warnings=warnings,
        job_id=event.build_id,
        name=event.build_name,
        stage=event.build_stage,
        raw_status=event.build_status,
        started=event.build_started_at,
        finished=event.build_finished_at,
        duration=event.build_duration,
        queued=event.build_queued_duration,
        allow_failure=event.build_allow_failure,
        failure_reason=event.build_failure_reason,
        runner=event.runner,
        web_url=_web_url(event.project, event.repository),
    )
    run_key = str(event.pipeline_id)
    submission = Submission(
        from_webhooks=True,
        detached_spans=[
            DetachedSpan(
                repository=repository,
                run_key=run_key,
                span=span,
                attempt=(event.retries_count or 0) + 1,
            )
        ],
        retry_round_runs=[(repository, run_key)],
        warnings=warnings,
    )
    if event.project and event.project.default_branch:
        submission.default_branches[repository] = event.project.default_branch
    return submission
