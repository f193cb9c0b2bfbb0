"""Every converter, run twice on the same input, gives the same result and leaves its input as
it was (snuba's ``test_processors_idempotency.py``): the wire-format converters of
``ingestion/`` (their submissions, and the rows those resolve into) and the reporters'
converters (their RunWatch payloads). Pure: no database, no network."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from pydantic import BaseModel

from cipulse.domain.model import Submission
from cipulse.ingestion.github import converter as github
from cipulse.ingestion.github.schema import WorkflowJobEvent, WorkflowRunEvent
from cipulse.ingestion.gitlab import converter as gitlab
from cipulse.ingestion.gitlab.schema import JobEvent, PipelineEvent
from cipulse.ingestion.runwatch import converter as runwatch
from cipulse.ingestion.runwatch.schema import RunWatchRun
from cipulse.ingestion.trunk import converter as trunk
from cipulse.ingestion.trunk.schema import TrackEventsRequest
from cipulse.reporters import github_convert, gitlab_convert
from cipulse.reporters.github_convert import OwnJob
from cipulse.reporters.github_schema import Job as GitHubJob
from cipulse.reporters.github_schema import WorkflowRun
from cipulse.reporters.gitlab_schema import Job as GitLabJob
from cipulse.reporters.gitlab_schema import Pipeline
from cipulse.storage.rows import resolve
from tests.builders import (
    REAL_FIXTURES,
    RUNWATCH_EXAMPLE,
    TRUNK_EXAMPLE,
    real_fixture,
    runwatch_job,
    runwatch_run,
    trunk_event,
    trunk_request,
)
from tests.fake_ci_apis import (
    GITHUB_JOBS,
    GITLAB_PROJECT_PATH,
    github_jobs,
    github_run,
    gitlab_job,
    gitlab_pipeline,
)
from tests.webhooks import sequence

NOW_MS = 1_767_323_045_000


def _converts_alike_twice(
    model: type[BaseModel], convert: Callable[[Any], Submission], payload: Any
) -> None:
    validated = model.model_validate_json(json.dumps(payload))  # as the receivers do
    before = validated.model_dump()
    first, second = convert(validated), convert(validated)
    assert first == second
    assert validated.model_dump() == before  # the input is left as it was
    assert resolve("org", first, NOW_MS) == resolve("org", second, NOW_MS)  # the same rows


def _runwatch_payloads() -> list[Any]:
    folder = REAL_FIXTURES / "runwatch-github-reporter"
    return [
        RUNWATCH_EXAMPLE,
        runwatch_run(),
        runwatch_run(
            status="running",
            completed_at=None,
            jobs=[runwatch_job("build"), runwatch_job("test", "failure"), runwatch_job("test")],
        ),
    ] + [real_fixture(f"runwatch-github-reporter/{p.name}") for p in sorted(folder.glob("v*"))]


@pytest.mark.parametrize("payload", _runwatch_payloads())
def test_runwatch(payload: Any) -> None:
    _converts_alike_twice(RunWatchRun, runwatch.convert, payload)


@pytest.mark.parametrize(
    "payload",
    [
        TRUNK_EXAMPLE,
        real_fixture("trunk-jenkins-plugin-1.4.0.trackEvents.TrackEventsRequestTest.json"),
        trunk_request(
            trunk_event("root", "chain", kind="pipeline"),
            trunk_event("child", "chain", parent="root", finished_at=None, conclusion=None),
        ),
    ],
)
def test_trunk(payload: Any) -> None:
    _converts_alike_twice(TrackEventsRequest, trunk.convert, payload)
    validated = TrackEventsRequest.model_validate_json(json.dumps(payload))
    assert trunk.convert(validated, "jenkins") == trunk.convert(validated, "jenkins")


def _webhook_deliveries(event: str) -> list[Any]:
    recorded = [
        delivery.body
        for folder in sorted(p.name for p in (REAL_FIXTURES / "cimonitor").iterdir())
        for delivery in sequence(folder)
        if delivery.event == event
    ]
    assert recorded, event
    return recorded


GITHUB_RUNS = [
    real_fixture(f"github-workflow_run.{name}.json")
    for name in (
        "completed",
        "completed.with-pull-requests",
        "requested",
        "requested.with-conclusion",
    )
]
GITHUB_JOB_EVENTS = [
    real_fixture(f"github-workflow_job.{name}.json")
    for name in (
        "completed.failure.with-organization",
        "completed.success.with-organization",
        "in_progress",
        "in_progress.with-queued-steps",
        "queued",
        "queued.with-deployment",
        "waiting",
    )
]


@pytest.mark.parametrize("payload", GITHUB_RUNS + _webhook_deliveries("workflow_run"))
def test_github_workflow_run(payload: Any) -> None:
    _converts_alike_twice(WorkflowRunEvent, github.convert_run, payload)


@pytest.mark.parametrize("payload", GITHUB_JOB_EVENTS + _webhook_deliveries("workflow_job"))
def test_github_workflow_job(payload: Any) -> None:
    _converts_alike_twice(WorkflowJobEvent, github.convert_job, payload)


@pytest.mark.parametrize(
    "payload",
    [
        real_fixture("gitlab-docs.pipeline-event.json"),
        real_fixture("gitlab-go-gitlab-testdata.pipeline.json"),
        *_webhook_deliveries("Pipeline Hook"),
    ],
)
def test_gitlab_pipeline(payload: Any) -> None:
    _converts_alike_twice(PipelineEvent, gitlab.convert_pipeline, payload)


@pytest.mark.parametrize(
    "payload",
    [
        real_fixture("gitlab-docs.job-event.json"),
        real_fixture("gitlab-go-gitlab-testdata.job.json"),
        real_fixture("gitlab-go-gitlab-testdata.build.json"),
        *_webhook_deliveries("Job Hook"),
    ],
)
def test_gitlab_job(payload: Any) -> None:
    _converts_alike_twice(JobEvent, gitlab.convert_job, payload)


def _frozen(values: list[BaseModel]) -> list[dict[str, Any]]:
    return [copy.deepcopy(value.model_dump()) for value in values]


@pytest.mark.parametrize("mode", ["external", "inline"])
def test_the_github_reporter(mode: Any) -> None:
    run = WorkflowRun.model_validate(github_run(status="in_progress", conclusion=None))
    start = run.run_started_at or run.created_at
    jobs = [GitHubJob.model_validate(job) for job in GITHUB_JOBS["jobs"]]
    jobs += [
        GitHubJob.model_validate(job)
        for job in github_jobs(3, first_started=start + timedelta(minutes=1))
    ]
    before = _frozen([run, *jobs])
    own = OwnJob(name=jobs[-1].name) if mode == "inline" else None
    convert = github_convert.convert
    first = convert(run, jobs, repository="octo-org/octo-repo", mode=mode, own=own)
    second = convert(run, jobs, repository="octo-org/octo-repo", mode=mode, own=own)
    assert first == second
    assert _frozen([run, *jobs]) == before
    assert [github_convert.convert_job(job) for job in jobs] == [
        github_convert.convert_job(job) for job in jobs
    ]


@pytest.mark.parametrize("mode", ["external", "inline"])
def test_the_gitlab_reporter(mode: Any) -> None:
    pipeline = Pipeline.model_validate(
        gitlab_pipeline(1000, status="success", finished_at="2024-05-06T10:30:00.000Z")
    )
    start = pipeline.started_at or pipeline.created_at
    tries = [
        (1, "build", "success", 1),
        (2, "test", "failed", 3),
        (3, "test", "failed", 10),
        (4, "test", "success", 20),
        (5, "report", "running", 25),
    ]
    jobs = [
        GitLabJob.model_validate(
            gitlab_job(
                job_id, name, status, pipeline_id=1000, started=start + timedelta(minutes=minute)
            )
        )
        for job_id, name, status, minute in tries
    ]
    before = _frozen([pipeline, *jobs])
    own = 5 if mode == "inline" else None

    def convert() -> Any:
        return gitlab_convert.convert(
            pipeline, jobs, repository=GITLAB_PROJECT_PATH, mode=mode, own_job_id=own
        )

    assert convert() == convert()
    assert len(convert().payloads) == 3  # three retry rounds: three attempts
    assert _frozen([pipeline, *jobs]) == before
