"""``cipulse report github`` and ``cipulse report gitlab``: the pure converters on their own,
then the real commands against a fake of the GitHub and GitLab REST APIs (GitHub's own example
payloads, lists split over pages) posting to a real cipulse server (SQLite and PostgreSQL),
checked through the read API."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from click.testing import CliRunner, Result

from cipulse.accounts.service import AccountService
from cipulse.cli.main import cli
from cipulse.domain.status import Status
from cipulse.ingestion.runwatch.schema import RunWatchRun
from cipulse.reporters import github_convert, gitlab_convert
from cipulse.reporters.github_convert import OwnJob
from cipulse.reporters.github_schema import Job as GitHubJob
from cipulse.reporters.github_schema import WorkflowRun
from cipulse.reporters.gitlab_schema import Job as GitLabJob
from cipulse.reporters.gitlab_schema import Pipeline
from cipulse.reporters.outcome import final_status
from cipulse.reporters.payload import Conversion
from cipulse.settings import Settings
from tests.builders import REAL_FIXTURES, real_fixture
from tests.conftest import Tenant
from tests.fake_ci_apis import (
    GITHUB_JOB,
    GITHUB_JOBS,
    GITHUB_TOKEN,
    GITLAB_JOB_TOKEN,
    GITLAB_PROJECT_ID,
    GITLAB_PROJECT_PATH,
    GITLAB_TOKEN,
    GITLAB_WEB,
    Answer,
    FakeCI,
    fake_ci_apis,
    github_jobs,
    github_run,
    gitlab_job,
    gitlab_pipeline,
)
from tests.servers import threaded_server

REPOSITORY = "octo-org/octo-repo"
RUN_ID = 30433642  # GitHub's example run
RUN_START = datetime(2020, 1, 22, 19, 33, 8, tzinfo=UTC)  # its run_started_at
EVENT_FILE = REAL_FIXTURES / "github-workflow_run.completed.json"
EVENT_RUN_ID = 289782451  # workflow_run.id of that event
GITHUB_WITH_PULL_REQUESTS = "github-workflow_run.completed.with-pull-requests.json"
CHANGE_FIELDS = (
    "commit_sha",
    "commit_message",
    "commit_author",
    "pull_request_number",
    "pull_request_title",
    "pull_request_url",
    "pull_request_source_branch",
    "pull_request_target_branch",
    "event_kind",
)
API_KEY = "cip_0badc0de_thisIsTheSecretPartOfTheKey"
SECRETS = (API_KEY, GITHUB_TOKEN, GITLAB_TOKEN, GITLAB_JOB_TOKEN)

#: Every variable the commands read, unset unless a test sets it (CI runners set many).
CLEAN_ENV: dict[str, str | None] = dict.fromkeys(
    [
        "CIPULSE_URL",
        "CIPULSE_API_KEY",
        "CIPULSE_RETRY_BACKOFF",
        "GITHUB_TOKEN",
        "GITHUB_API_URL",
        "GITHUB_REPOSITORY",
        "GITHUB_RUN_ID",
        "GITHUB_RUN_ATTEMPT",
        "GITHUB_EVENT_NAME",
        "GITHUB_EVENT_PATH",
        "GITHUB_JOB",
        "RUNNER_NAME",
        "CI_API_V4_URL",
        "CI_PROJECT_ID",
        "CI_PROJECT_PATH",
        "CI_PIPELINE_ID",
        "CI_JOB_ID",
        "CI_CONFIG_PATH",
        "CIPULSE_GITLAB_TOKEN",
        "GITLAB_TOKEN",
        "CI_JOB_TOKEN",
    ]
)


def report(*args: str, env: dict[str, str]) -> Result:
    result = CliRunner().invoke(
        cli, ["report", *args], env={**CLEAN_ENV, **env}, catch_exceptions=False
    )
    for secret in SECRETS:
        assert secret not in result.output
    return result


def valid(conversion: Conversion) -> list[dict[str, Any]]:
    """The payloads, each checked with the server's own schema, as JSON."""
    payloads = [json.dumps(payload) for payload in conversion.payloads]
    for payload in payloads:
        RunWatchRun.model_validate_json(payload)
    return [json.loads(payload) for payload in payloads]


def at(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


# --- GitHub: the converter --------------------------------------------------------------------


def gh_run(**changes: Any) -> WorkflowRun:
    return WorkflowRun.model_validate(github_run(**changes))


def gh_job(
    job_id: int, name: str, status: str, conclusion: str | None, **changes: Any
) -> GitHubJob:
    return GitHubJob.model_validate(
        {**GITHUB_JOB, "id": job_id, "name": name, "status": status, "conclusion": conclusion}
        | changes
    )


@pytest.mark.parametrize(
    ("status", "conclusion", "expected"),
    [
        ("completed", "success", Status.SUCCESS),
        ("completed", "failure", Status.FAILURE),
        ("completed", "cancelled", Status.CANCELLED),
        ("completed", "timed_out", Status.TIMED_OUT),
        ("completed", "skipped", Status.SKIPPED),
        ("completed", "neutral", Status.SKIPPED),
        ("completed", "stale", Status.CANCELLED),
        ("completed", "action_required", Status.PENDING),
        ("completed", "startup_failure", Status.FAILURE),
        ("completed", "something_new", Status.FAILURE),
        ("completed", None, Status.SUCCESS),
        ("queued", None, Status.QUEUED),
        ("requested", None, Status.QUEUED),
        ("waiting", None, Status.PENDING),
        ("pending", None, Status.PENDING),
        ("in_progress", None, Status.RUNNING),
    ],
)
def test_github_statuses(status: str, conclusion: str | None, expected: Status) -> None:
    assert github_convert.status_of(status, conclusion) is expected


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        ([Status.SUCCESS, Status.FAILURE, Status.CANCELLED], Status.FAILURE),
        ([Status.SUCCESS, Status.TIMED_OUT, Status.CANCELLED], Status.TIMED_OUT),
        ([Status.SUCCESS, Status.CANCELLED, Status.SKIPPED], Status.CANCELLED),
        ([Status.SUCCESS, Status.SKIPPED, Status.RUNNING], Status.SUCCESS),
        ([Status.SKIPPED, Status.QUEUED], Status.SKIPPED),
        ([], Status.SKIPPED),
    ],
)
def test_the_final_status_of_a_run_in_progress(statuses: list[Status], expected: Status) -> None:
    assert final_status(statuses) is expected


def test_github_completed_run_external() -> None:
    run = gh_run(status="completed", conclusion="success", updated_at="2020-01-22T19:40:00Z")
    jobs = [GitHubJob.model_validate(job) for job in GITHUB_JOBS["jobs"]]
    conversion = github_convert.convert(run, jobs, repository=REPOSITORY, mode="external")
    assert valid(conversion) == [
        {
            "provider": "github",
            "repository": REPOSITORY,
            "pipeline_id": 159038,
            "pipeline_name": "Build",
            "run_id": RUN_ID,
            "run_attempt": 1,
            "run_name": "Update README.md",
            "run_url": f"https://github.com/{REPOSITORY}/actions/runs/{RUN_ID}",
            "status": "success",
            "mode": "external",
            "started_at": "2020-01-22T19:33:08Z",
            "completed_at": "2020-01-22T19:40:00Z",
            "triggered_by": "push",
            "actor": "octocat",
            "branch": "main",
            # cipulse's extensions: the change, from the REST API's run (no pull request).
            "commit_sha": "acb5820ced9479c074f688cc328bf03f341a511d",
            "commit_message": "Create linter.yaml",
            "commit_author": "Octo Cat",
            "event": "push",
            "jobs": [
                {
                    "name": "build",
                    "job_id": 399444496,
                    "job_url": "https://github.com/octo-org/octo-repo/runs/29679449/jobs/399444496",
                    "status": "success",
                    "started_at": "2020-01-20T17:42:40Z",
                    "completed_at": "2020-01-20T17:44:39Z",
                    # cipulse's extensions: the runner (the REST example has no created_at).
                    "runner_labels": ["self-hosted", "foo", "bar"],
                    "runner_name": "my runner",
                    "runner_group": "my runner group",
                    "runner_id": 1,
                }
            ],
        }
    ]
    assert conversion.notes == []
    # Pure: the same input, the same payload.
    again = github_convert.convert(run, jobs, repository=REPOSITORY, mode="external")
    assert again == conversion


def test_github_inline_leaves_out_its_own_job_and_decides_the_status() -> None:
    run = gh_run(status="in_progress", conclusion=None)
    start = RUN_START + timedelta(minutes=1)
    end = start + timedelta(minutes=2)
    jobs = [
        gh_job(1, "build", "completed", "success", started_at=at(start), completed_at=at(end)),
        gh_job(2, "test", "completed", "failure", started_at=at(start), completed_at=at(start)),
        gh_job(3, "docs", "completed", "skipped", started_at=at(end), completed_at=at(end)),
        gh_job(4, "Report to cipulse", "in_progress", None, runner_name="GitHub Actions 7"),
    ]
    by_runner = github_convert.convert(
        run, jobs, repository=REPOSITORY, mode="inline", own=OwnJob("report", "GitHub Actions 7")
    )
    (payload,) = valid(by_runner)
    assert [job["name"] for job in payload["jobs"]] == ["build", "test", "docs"]
    assert (payload["status"], payload["completed_at"]) == ("failure", at(end))
    assert by_runner.notes == []
    by_name = github_convert.convert(
        run, jobs, repository=REPOSITORY, mode="inline", own=OwnJob("Report to cipulse")
    )
    assert by_name == by_runner
    # Neither name nor runner known: the only job in progress is this one.
    assert github_convert.convert(run, jobs, repository=REPOSITORY, mode="inline") == by_runner


def test_github_inline_reports_other_unfinished_jobs_as_they_are() -> None:
    run = gh_run(status="in_progress", conclusion=None)
    started = at(RUN_START + timedelta(minutes=1))
    jobs = [
        gh_job(1, "build", "completed", "success", started_at=started, completed_at=started),
        gh_job(2, "slow", "in_progress", None, started_at=started, completed_at=None),
        gh_job(3, "later", "queued", None, started_at=started, completed_at=None),
        gh_job(4, "report", "in_progress", None, started_at=started, completed_at=None),
    ]
    conversion = github_convert.convert(
        run, jobs, repository=REPOSITORY, mode="inline", own=OwnJob("report")
    )
    (payload,) = valid(conversion)
    assert payload["status"] == "success"
    assert [(job["name"], job["status"]) for job in payload["jobs"]] == [
        ("build", "success"),
        ("slow", "running"),
        ("later", "queued"),
    ]
    assert "started_at" not in payload["jobs"][2]  # GitHub fills it for queued jobs too
    assert conversion.notes == [
        "job 'slow' is still running: reported so, and not counted in the run's status",
        "job 'later' is still queued: reported so, and not counted in the run's status",
    ]
    # Two jobs in progress and no name to tell them apart: both reported, and said so.
    unknown = github_convert.convert(run, jobs, repository=REPOSITORY, mode="inline")
    assert len(unknown.payloads[0]["jobs"]) == 4
    assert unknown.notes[0].startswith(
        "could not tell which of the jobs in progress (report, slow)"
    )


def test_github_odd_values_still_make_a_valid_payload() -> None:
    run = gh_run(name="", display_title="", event=None, actor=None, triggering_actor=None)
    jobs = [
        gh_job(
            1,
            "build",
            "completed",
            "success",
            started_at="2020-01-22T19:40:00Z",
            completed_at="2020-01-22T19:39:00Z",  # before its start
        )
    ]
    (payload,) = valid(github_convert.convert(run, jobs, repository=REPOSITORY, mode="external"))
    assert payload["pipeline_name"] == ".github/workflows/build.yml@main"
    assert (payload["actor"], payload["triggered_by"]) == ("", "")
    assert "run_name" not in payload
    # The times as GitHub gave them: the server stores them, the duration as unknown.
    assert (payload["jobs"][0]["started_at"], payload["jobs"][0]["completed_at"]) == (
        "2020-01-22T19:40:00Z",
        "2020-01-22T19:39:00Z",
    )
    assert payload["status"] == "queued" and "completed_at" not in payload


# --- GitLab: the converter --------------------------------------------------------------------

T0 = datetime(2024, 5, 6, 10, 0, 0, tzinfo=UTC)
PIPELINE_ID = 1000


def gl_pipeline(**changes: Any) -> Pipeline:
    return Pipeline.model_validate(gitlab_pipeline(PIPELINE_ID, **changes))


def gl_job(
    job_id: int, name: str, status: str, minute: int | None, **changes: Any
) -> dict[str, Any]:
    started = T0 + timedelta(minutes=minute) if minute is not None else None
    return gitlab_job(job_id, name, status, pipeline_id=PIPELINE_ID, started=started, **changes)


def gl_jobs(*jobs: dict[str, Any]) -> list[GitLabJob]:
    return [GitLabJob.model_validate(job) for job in jobs]


def test_gitlab_pipeline_without_retries_keeps_gitlabs_status() -> None:
    pipeline = gl_pipeline(status="success", finished_at="2024-05-06T10:09:00.000Z")
    jobs = gl_jobs(
        gl_job(1, "build", "success", 1),
        gl_job(2, "lint", "failed", 2, allow_failure=True),
        gl_job(3, "deploy", "manual", None),
    )
    conversion = gitlab_convert.convert(
        pipeline, jobs, repository=GITLAB_PROJECT_PATH, mode="external"
    )
    (payload,) = valid(conversion)
    assert {k: v for k, v in payload.items() if k != "jobs"} == {
        "provider": "gitlab",
        "repository": GITLAB_PROJECT_PATH,
        "pipeline_id": "gitlab-ci",
        "pipeline_name": ".gitlab-ci.yml",
        "run_id": PIPELINE_ID,
        "run_attempt": 1,
        "run_name": "Build pipeline",
        "run_url": f"https://gitlab.example.com/{GITLAB_PROJECT_PATH}/-/pipelines/{PIPELINE_ID}",
        "status": "success",
        "mode": "external",
        "started_at": "2024-05-06T10:00:05Z",
        "completed_at": "2024-05-06T10:09:00Z",
        "triggered_by": "push",
        "actor": "root",
        "branch": "main",
        "commit_sha": "959e04d7c7a30600c894bd3c0cd0e1ce7f42c11d",
        "event": "push",
    }
    assert [(job["name"], job["job_id"], job["status"]) for job in payload["jobs"]] == [
        ("build", 1, "success"),
        ("lint", 2, "failure"),
        ("deploy", 3, "skipped"),
    ]
    assert payload["jobs"][0]["job_url"].endswith(f"{GITLAB_PROJECT_PATH}/-/jobs/1")
    assert "started_at" not in payload["jobs"][2]
    assert (
        gitlab_convert.convert(pipeline, jobs, repository=GITLAB_PROJECT_PATH, mode="external")
        == conversion
    )


def test_gitlab_retry_rounds_are_attempts() -> None:
    pipeline = gl_pipeline(status="success", finished_at="2024-05-06T10:30:00.000Z")
    jobs = gl_jobs(
        gl_job(1, "build", "success", 1),
        gl_job(2, "test", "failed", 3),
        gl_job(3, "lint", "failed", 3, allow_failure=True),
        gl_job(4, "test", "failed", 10),
        gl_job(5, "test", "success", 20),
        gl_job(6, "lint", "success", 21),
    )
    conversion = gitlab_convert.convert(
        pipeline, jobs, repository=GITLAB_PROJECT_PATH, config_path="ci/main.yml", mode="external"
    )
    first, second, third = valid(conversion)
    summary = [
        (p["run_attempt"], p["status"], p["started_at"], p.get("completed_at"))
        for p in (first, second, third)
    ]
    assert summary == [
        (1, "failure", "2024-05-06T10:00:05Z", "2024-05-06T10:04:00Z"),
        (2, "failure", "2024-05-06T10:10:00Z", "2024-05-06T10:22:00Z"),
        (3, "success", "2024-05-06T10:20:00Z", "2024-05-06T10:21:00Z"),
    ]
    assert [[job["job_id"] for job in p["jobs"]] for p in (first, second, third)] == [
        [1, 2, 3],
        [4, 6],
        [5],
    ]
    assert {p["pipeline_name"] for p in (first, second, third)} == {"ci/main.yml"}
    assert conversion.notes == ["jobs were retried: 3 retry rounds, reported as attempts"]


def test_gitlab_inline_leaves_out_its_own_job() -> None:
    pipeline = gl_pipeline(status="running")
    jobs = gl_jobs(
        gl_job(1, "build", "success", 1),
        gl_job(2, "e2e", "failed", 2, allow_failure=True, failure_reason="script_failure"),
        gl_job(3, "review", "running", 3),
        gl_job(4, "cipulse-report", "running", 9, stage=".post"),
    )
    conversion = gitlab_convert.convert(
        pipeline, jobs, repository=GITLAB_PROJECT_PATH, mode="inline", own_job_id=4
    )
    (payload,) = valid(conversion)
    assert [job["name"] for job in payload["jobs"]] == ["build", "e2e", "review"]
    assert (payload["status"], payload["completed_at"]) == ("success", "2024-05-06T10:03:00Z")
    assert conversion.notes == [
        "job 'review' is still running: reported so, and not counted in the pipeline's status"
    ]
    jobs.append(gl_jobs(gl_job(5, "unit", "failed", 2))[0])
    failing = gitlab_convert.convert(
        pipeline, jobs, repository=GITLAB_PROJECT_PATH, mode="inline", own_job_id=4
    )
    assert failing.payloads[0]["status"] == "failure"


@pytest.mark.parametrize(
    ("raw", "job", "pipeline"),
    [
        ("created", Status.QUEUED, Status.QUEUED),
        ("scheduled", Status.QUEUED, Status.QUEUED),
        ("preparing", Status.PENDING, Status.PENDING),
        ("running", Status.RUNNING, Status.RUNNING),
        ("failed", Status.FAILURE, Status.FAILURE),
        ("canceled", Status.CANCELLED, Status.CANCELLED),
        ("canceling", Status.CANCELLED, Status.CANCELLED),
        ("manual", Status.SKIPPED, Status.PENDING),
        ("something_new", Status.RUNNING, Status.RUNNING),
    ],
)
def test_gitlab_statuses(raw: str, job: Status, pipeline: Status) -> None:
    assert gitlab_convert.status_of(raw) is job
    assert gitlab_convert.status_of(raw, gitlab_convert.PIPELINE_STATUS) is pipeline


# --- The commands, against the fake APIs and a real cipulse server -----------------------------


@pytest.fixture(scope="module")
def fake_server() -> Iterator[FakeCI]:
    with fake_ci_apis() as fake:
        yield fake


@pytest.fixture
def fake(fake_server: FakeCI) -> FakeCI:
    for table in (
        fake_server.github_runs,
        fake_server.github_jobs,
        fake_server.gitlab_pipelines,
        fake_server.gitlab_jobs,
    ):
        table.clear()
    fake_server.ingest_answers.clear()
    fake_server.ingest_posts.clear()
    fake_server.api_requests.clear()
    return fake_server


@pytest.fixture
def reader(accounts: AccountService, tenant: Tenant) -> dict[str, str]:
    return {"X-API-Key": accounts.create_key(tenant.name, scopes=("read",)).key}


def read_run(url: str, reader: dict[str, str], stdout: str) -> dict[str, Any]:
    """The stored attempt whose id the command printed (the last line: the last post)."""
    answer = json.loads(stdout.strip().splitlines()[-1])
    response = httpx.get(f"{url}/api/v1/runs/{answer['pipeline_run_id']}", headers=reader)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def github_env(fake: FakeCI, **values: str) -> dict[str, str]:
    return {
        "GITHUB_API_URL": fake.github_api,
        "GITHUB_REPOSITORY": REPOSITORY,
        "GITHUB_TOKEN": GITHUB_TOKEN,
        "CIPULSE_API_KEY": API_KEY,
        "CIPULSE_RETRY_BACKOFF": "0.01",
        **values,
    }


def serve_inline_run(fake: FakeCI) -> None:
    """Attempt 2 of GitHub's example run, in progress: 125 jobs that passed, one that failed,
    and the reporter's own job, 127 in all: two pages of jobs."""
    fake.github_runs[(REPOSITORY, RUN_ID, 2)] = github_run(
        status="in_progress", conclusion=None, run_attempt=2
    )
    builds = github_jobs(125, first_started=RUN_START)
    (lint,) = github_jobs(
        1,
        first_started=RUN_START,
        seconds=30,
        id=GITHUB_JOB["id"] + 126,
        name="lint",
        conclusion="failure",
    )
    own = copy.deepcopy(lint)
    own.update(
        id=GITHUB_JOB["id"] + 127,
        name="Report to cipulse",
        status="in_progress",
        conclusion=None,
        completed_at=None,
        runner_name="GitHub Actions 7",
    )
    fake.github_jobs[(REPOSITORY, RUN_ID, 2)] = [*builds, lint, own]


def test_github_inline_and_external_runs_are_stored(
    fake: FakeCI, settings: Settings, tenant: Tenant, reader: dict[str, str]
) -> None:
    serve_inline_run(fake)
    # The run of a pull request: its pull_requests[] as octokit's workflow_run example has it.
    pulls = real_fixture(GITHUB_WITH_PULL_REQUESTS)["workflow_run"]["pull_requests"]
    fake.github_runs[(REPOSITORY, RUN_ID, 2)].update(event="pull_request", pull_requests=pulls)
    fake.github_runs[(REPOSITORY, EVENT_RUN_ID, 1)] = github_run(
        id=EVENT_RUN_ID,
        status="completed",
        conclusion="success",
        updated_at="2020-01-22T19:40:00Z",
    )
    fake.github_jobs[(REPOSITORY, EVENT_RUN_ID, 1)] = GITHUB_JOBS["jobs"]
    with threaded_server(settings) as url:
        inline = report(
            "github",
            env=github_env(
                fake,
                CIPULSE_URL=url,
                CIPULSE_API_KEY=tenant.key,
                GITHUB_RUN_ID=str(RUN_ID),
                GITHUB_RUN_ATTEMPT="2",
                GITHUB_EVENT_NAME="push",
                GITHUB_JOB="report",
                RUNNER_NAME="GitHub Actions 7",
            ),
        )
        assert inline.exit_code == 0, inline.output
        external = report(
            "github",
            env=github_env(
                fake,
                CIPULSE_URL=url,
                CIPULSE_API_KEY=tenant.key,
                GITHUB_RUN_ID="999",  # the reporting workflow's own run: not the one reported
                GITHUB_EVENT_NAME="workflow_run",
                GITHUB_EVENT_PATH=str(EVENT_FILE),
            ),
        )
        assert external.exit_code == 0, external.output
        inline_run = read_run(url, reader, inline.stdout)
        external_run = read_run(url, reader, external.stdout)
    assert tenant.key not in inline.output + external.output

    assert f"/repos/{REPOSITORY}/actions/runs/{RUN_ID}/attempts/2/jobs?per_page=100&page=2" in (
        fake.api_requests
    )
    assert (inline_run["run_key"], inline_run["attempt"], inline_run["status"]) == (
        str(RUN_ID),
        2,
        "failure",
    )
    assert (inline_run["repository"], inline_run["pipeline"], inline_run["branch"]) == (
        REPOSITORY,
        "Build",
        "main",
    )
    assert (inline_run["provider"], inline_run["actor"], inline_run["triggered_by"]) == (
        "github",
        "octocat",
        "pull_request",  # the run's event, made a pull request's above
    )
    assert len(inline_run["jobs"]) == 126
    assert "Report to cipulse" not in {job["name"] for job in inline_run["jobs"]}
    # Job n starts n minutes after the run and lasts 119 s; lint lasts 30 s.
    assert inline_run["compute_seconds"] == 125 * 119 + 30
    assert inline_run["started_at"].startswith("2020-01-22T19:33:08")
    assert inline_run["duration_seconds"] == 125 * 60 + 119
    assert [a["attempt"] for a in inline_run["attempts"]] == [2]

    assert (external_run["run_key"], external_run["attempt"], external_run["status"]) == (
        str(EVENT_RUN_ID),
        1,
        "success",
    )
    assert external_run["duration_seconds"] == 412  # 19:33:08 to 19:40:00
    assert [(job["name"], job["duration_seconds"]) for job in external_run["jobs"]] == [
        ("build", 119)
    ]
    assert external_run["pipeline_id"] == inline_run["pipeline_id"]  # the same workflow
    # The change, as the REST API's run gives it (GitHub's example commit).
    commit = {
        "commit_sha": "acb5820ced9479c074f688cc328bf03f341a511d",
        "commit_message": "Create linter.yaml",
        "commit_author": "Octo Cat",
    }
    assert {k: external_run[k] for k in (*commit, "pull_request_number", "event_kind")} == {
        **commit,
        "pull_request_number": None,
        "event_kind": "push",
    }
    assert {k: inline_run[k] for k in CHANGE_FIELDS} == {
        **commit,
        "pull_request_number": 2,
        "pull_request_title": None,
        "pull_request_url": "https://github.com/Codertocat/Hello-World/pull/2",
        "pull_request_source_branch": "changes",
        "pull_request_target_branch": "master",
        "event_kind": "pull_request",
    }


def test_github_jobs_ending_before_they_start_are_stored_with_warnings(
    fake: FakeCI, settings: Settings, tenant: Tenant, reader: dict[str, str]
) -> None:
    """GitHub ends some skipped jobs before they start: the reporter sends the times as they
    are, the server keeps them, stores the duration as unknown, and the command prints the
    server's warning."""
    fake.github_runs[(REPOSITORY, EVENT_RUN_ID, 1)] = github_run(
        id=EVENT_RUN_ID, status="completed", conclusion="success", updated_at="2020-01-22T19:50:00Z"
    )
    skipped = copy.deepcopy(GITHUB_JOB)
    skipped.update(
        id=GITHUB_JOB["id"] + 1,
        name="deploy",
        conclusion="skipped",
        started_at="2020-01-22T19:45:00Z",
        completed_at="2020-01-20T08:00:00Z",
    )
    fake.github_jobs[(REPOSITORY, EVENT_RUN_ID, 1)] = [GITHUB_JOB, skipped]
    with threaded_server(settings) as url:
        result = report(
            "github",
            env=github_env(
                fake,
                CIPULSE_URL=url,
                CIPULSE_API_KEY=tenant.key,
                GITHUB_RUN_ID="999",
                GITHUB_EVENT_NAME="workflow_run",
                GITHUB_EVENT_PATH=str(EVENT_FILE),
            ),
        )
        assert result.exit_code == 0, result.output
        run = read_run(url, reader, result.stdout)
    assert (
        "warning: jobs[1].completed_at: 2020-01-20T08:00:00Z is before started_at "
        "2020-01-22T19:45:00Z; both kept as sent, the duration stored as unknown"
    ) in result.stderr
    deploy = next(job for job in run["jobs"] if job["name"] == "deploy")
    assert (deploy["status"], deploy["duration_seconds"]) == ("skipped", None)
    assert (deploy["started_at"], deploy["completed_at"]) == (
        "2020-01-22T19:45:00Z",
        "2020-01-20T08:00:00Z",
    )
    assert run["compute_seconds"] == 119  # the build's alone


def serve_gitlab_pipeline(fake: FakeCI) -> None:
    """A running pipeline of 116 jobs (two pages): build; 110 rspec jobs; an integration job
    that failed and passed on its retry; lint, failed but allowed to; a manual deploy; and the
    reporter's own job."""
    fake.gitlab_pipelines[(GITLAB_PROJECT_ID, PIPELINE_ID)] = gitlab_pipeline(PIPELINE_ID)
    jobs = [gl_job(2001, "build", "success", 0, seconds=120, stage="build")]
    jobs[0]["started_at"] = "2024-05-06T10:00:10Z"
    jobs[0]["finished_at"] = "2024-05-06T10:02:10Z"
    jobs += [gl_job(2001 + n, f"rspec {n}/110", "success", 3) for n in range(1, 111)]
    jobs += [
        gl_job(2112, "integration", "failed", 5, seconds=30),
        gl_job(2113, "integration", "success", 6, seconds=45),
        gl_job(2114, "lint", "failed", 2, seconds=20, allow_failure=True),
        gl_job(2115, "deploy", "manual", None, stage="deploy"),
        gl_job(2116, "cipulse-report", "running", 7, stage=".post"),
    ]
    fake.gitlab_jobs[(GITLAB_PROJECT_ID, PIPELINE_ID)] = jobs


def gitlab_env(fake: FakeCI, **values: str) -> dict[str, str]:
    return {
        "CI_API_V4_URL": fake.gitlab_api,
        "CI_PROJECT_ID": GITLAB_PROJECT_ID,
        "CI_PROJECT_PATH": GITLAB_PROJECT_PATH,
        "CI_PIPELINE_ID": str(PIPELINE_ID),
        "CI_JOB_ID": "2116",
        "CIPULSE_GITLAB_TOKEN": GITLAB_TOKEN,
        "CIPULSE_API_KEY": API_KEY,
        "CIPULSE_RETRY_BACKOFF": "0.01",
        **values,
    }


def test_gitlab_pipeline_with_a_retried_job_is_stored_as_two_attempts(
    fake: FakeCI, settings: Settings, tenant: Tenant, reader: dict[str, str]
) -> None:
    serve_gitlab_pipeline(fake)
    fake.gitlab_pipelines[(GITLAB_PROJECT_ID, PIPELINE_ID)]["source"] = "merge_request_event"
    merge_request = {
        "CI_COMMIT_TITLE": "Retry the flaky integration test",
        "CI_COMMIT_AUTHOR": "Ada Lovelace <ada@example.com>",
        "CI_MERGE_REQUEST_IID": "7",
        "CI_MERGE_REQUEST_TITLE": "Make integration green",
        "CI_MERGE_REQUEST_PROJECT_URL": GITLAB_WEB,
        "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME": "green",
        "CI_MERGE_REQUEST_TARGET_BRANCH_NAME": "main",
    }
    with threaded_server(settings) as url:
        env = gitlab_env(fake, CIPULSE_URL=url, CIPULSE_API_KEY=tenant.key, **merge_request)
        result = report("gitlab", env=env)
        assert result.exit_code == 0, result.output
        second = read_run(url, reader, result.stdout)
        first_id = next(a["id"] for a in second["attempts"] if a["attempt"] == 1)
        first = httpx.get(f"{url}/api/v1/runs/{first_id}", headers=reader).json()
        summary = httpx.get(
            f"{url}/api/v1/analytics/summary",
            params={"since": "2024-05-01T00:00:00Z", "until": "2024-06-01T00:00:00Z"},
            headers=reader,
        ).json()
    assert tenant.key not in result.output
    jobs_path = f"/api/v4/projects/{GITLAB_PROJECT_ID}/pipelines/{PIPELINE_ID}/jobs"
    assert f"{jobs_path}?per_page=100&include_retried=true&page=2" in fake.api_requests

    assert (first["run_key"], first["attempt"], first["status"]) == (str(PIPELINE_ID), 1, "failure")
    assert (first["repository"], first["pipeline"], first["provider"]) == (
        GITLAB_PROJECT_PATH,
        ".gitlab-ci.yml",
        "gitlab",
    )
    assert len(first["jobs"]) == 114  # every first try but the reporter's own
    assert first["compute_seconds"] == 120 + 110 * 60 + 30 + 20
    assert first["duration_seconds"] == 325  # 10:00:05 to the failed integration's 10:05:30
    assert (second["attempt"], second["status"]) == (2, "success")
    assert [(job["name"], job["duration_seconds"]) for job in second["jobs"]] == [
        ("integration", 45)
    ]
    assert [(a["attempt"], a["status"]) for a in second["attempts"]] == [
        (1, "failure"),
        (2, "success"),
    ]
    assert summary["flaky_runs"] == 1
    # Every attempt is of the merge request's commit; its author by name only.
    for attempt in (first, second):
        assert {k: attempt[k] for k in CHANGE_FIELDS} == {
            "commit_sha": "959e04d7c7a30600c894bd3c0cd0e1ce7f42c11d",
            "commit_message": "Retry the flaky integration test",
            "commit_author": "Ada Lovelace",
            "pull_request_number": 7,
            "pull_request_title": "Make integration green",
            "pull_request_url": f"{GITLAB_WEB}/-/merge_requests/7",
            "pull_request_source_branch": "green",
            "pull_request_target_branch": "main",
            "event_kind": "pull_request",
        }


# --- The commands: what goes wrong -------------------------------------------------------------


def test_github_dry_run_prints_the_payload(fake: FakeCI) -> None:
    serve_inline_run(fake)
    env = github_env(fake, GITHUB_RUN_ID=str(RUN_ID), GITHUB_RUN_ATTEMPT="2")
    result = report("github", "--dry-run", env=env)
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert (payload["run_id"], payload["run_attempt"], len(payload["jobs"])) == (RUN_ID, 2, 126)
    assert f"{REPOSITORY} run {RUN_ID} attempt 2: failure, 126 jobs (inline)" in result.stderr
    assert fake.ingest_posts == []


def test_github_run_id_given_is_reported_externally(fake: FakeCI) -> None:
    fake.github_runs[(REPOSITORY, EVENT_RUN_ID, 1)] = github_run(id=EVENT_RUN_ID)
    fake.github_runs[(REPOSITORY, EVENT_RUN_ID, 3)] = github_run(id=EVENT_RUN_ID, run_attempt=3)
    fake.github_jobs[(REPOSITORY, EVENT_RUN_ID, 3)] = GITHUB_JOBS["jobs"]
    result = report(
        "github", "--run-id", str(EVENT_RUN_ID), env=github_env(fake, CIPULSE_URL=fake.url)
    )
    assert result.exit_code == 0, result.output
    (post,) = fake.ingest_posts
    payload = json.loads(post.body)
    assert (payload["run_attempt"], payload["mode"], payload["status"]) == (3, "external", "queued")
    assert post.path == "/api/v1/ingest" and post.headers["x-api-key"] == API_KEY


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"GITHUB_TOKEN": "ghs_wrong"},
            "HTTP 401: Bad credentials (is GITHUB_TOKEN a valid token?)",
        ),
        ({"GITHUB_RUN_ID": "1"}, "HTTP 404: Not Found (is octo-org/octo-repo the right repository"),
    ],
)
def test_github_api_refusals_exit_4(fake: FakeCI, env: dict[str, str], message: str) -> None:
    serve_inline_run(fake)
    result = report(
        "github",
        env=github_env(
            fake, CIPULSE_URL=fake.url, GITHUB_RUN_ID=str(RUN_ID), GITHUB_RUN_ATTEMPT="2"
        )
        | env,
    )
    assert result.exit_code == 4
    assert message in result.stderr
    assert fake.ingest_posts == []


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "GITHUB_RUN_ID is not set"),
        ({"GITHUB_RUN_ID": "5", "GITHUB_TOKEN": ""}, "GITHUB_TOKEN is not set"),
        ({"GITHUB_REPOSITORY": ""}, "set GITHUB_REPOSITORY or --repository"),
        ({"GITHUB_EVENT_NAME": "workflow_run"}, "external mode needs --run-id"),
        (
            {
                "GITHUB_EVENT_NAME": "workflow_run",
                "GITHUB_EVENT_PATH": str(REAL_FIXTURES / "github-workflow_job.queued.json"),
            },
            "is not a workflow_run event",
        ),
    ],
)
def test_github_outside_a_workflow_is_a_usage_error(
    fake: FakeCI, env: dict[str, str], message: str
) -> None:
    result = report("github", env=github_env(fake, CIPULSE_URL=fake.url) | env)
    assert result.exit_code == 2
    assert message in result.stderr


def test_gitlab_reads_with_the_job_token_when_no_other(fake: FakeCI) -> None:
    serve_gitlab_pipeline(fake)
    env = gitlab_env(fake, CIPULSE_GITLAB_TOKEN="", CI_JOB_TOKEN=GITLAB_JOB_TOKEN)
    result = report("gitlab", "--dry-run", env=env)
    assert result.exit_code == 0, result.output
    first, second = (json.loads(line) for line in result.stdout.splitlines())
    assert (first["run_attempt"], len(first["jobs"])) == (1, 114)
    assert (second["run_attempt"], len(second["jobs"])) == (2, 1)
    assert "jobs were retried: 2 retry rounds, reported as attempts" in result.stderr


def test_gitlab_refusals(fake: FakeCI) -> None:
    serve_gitlab_pipeline(fake)
    env = gitlab_env(fake, CIPULSE_URL=fake.url)
    wrong = report("gitlab", env=env | {"CIPULSE_GITLAB_TOKEN": "glpat-wrong"})
    assert wrong.exit_code == 4
    assert "HTTP 401: 401 Unauthorized (is CIPULSE_GITLAB_TOKEN a valid token?)" in wrong.stderr
    no_token = report("gitlab", env=env | {"CIPULSE_GITLAB_TOKEN": ""})
    assert no_token.exit_code == 2
    assert "no GitLab token: set CIPULSE_GITLAB_TOKEN" in no_token.stderr
    outside = report("gitlab", env=env | {"CI_PIPELINE_ID": ""})
    assert outside.exit_code == 2
    assert "CI_PIPELINE_ID is not set" in outside.stderr
    assert fake.ingest_posts == []


def test_without_a_url_nothing_is_read(fake: FakeCI) -> None:
    serve_gitlab_pipeline(fake)
    result = report("gitlab", env=gitlab_env(fake))
    assert result.exit_code == 2
    assert "--url or CIPULSE_URL" in result.stderr
    assert fake.api_requests == []


def test_a_refusal_of_the_server_stops_the_report(fake: FakeCI) -> None:
    serve_gitlab_pipeline(fake)
    fake.ingest_answers.append(Answer(402, {"error": "plan limit exceeded: max_runs_per_month"}))
    result = report("gitlab", env=gitlab_env(fake, CIPULSE_URL=fake.url))
    assert result.exit_code == 1
    assert "plan limit exceeded: max_runs_per_month" in result.stderr
    assert len(fake.ingest_posts) == 1  # attempt 2 is not posted after attempt 1 was refused


# --- The GitHub Action and the GitLab component ------------------------------------------------

INTEGRATIONS = Path(__file__).resolve().parents[1] / "integrations"


def test_the_github_action_uses_only_its_inputs_and_reports_github() -> None:
    text = (INTEGRATIONS / "github-action" / "action.yml").read_text()
    action = yaml.safe_load(text)
    used = set(re.findall(r"\$\{\{ inputs\.([\w-]+) \}\}", text))
    assert used == set(action["inputs"])
    assert {name for name, spec in action["inputs"].items() if spec.get("required")} == {
        "url",
        "api-key",
    }
    assert action["runs"]["using"] == "composite"
    script = action["runs"]["steps"][-1]["run"]
    assert "report github" in script and "${{" not in script  # inputs only through env


def test_the_gitlab_component_reports_from_post_whatever_happened() -> None:
    text = (INTEGRATIONS / "gitlab" / "templates" / "cipulse-report.yml").read_text()
    header, jobs = yaml.safe_load_all(text)
    inputs = header["spec"]["inputs"]
    assert set(re.findall(r"\$\[\[ inputs\.([\w-]+) \]\]", text)) == set(inputs)
    assert {name for name, spec in inputs.items() if "default" not in spec} == {"url", "package"}
    assert inputs["stage"]["default"] == ".post"
    (job,) = jobs.values()
    assert job["when"] == "always"
    assert any("cipulse report gitlab" in line for line in job["script"])
