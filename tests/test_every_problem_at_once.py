"""A 400 names every problem of a payload at once, for every wire format and webhook: the
schema's, a header's, NUL characters, and the checks across fields (job-tree depth, a GitLab
start out of range, a project without a name), which used to wait until the rest was fixed.
Nothing is stored. On SQLite and PostgreSQL, through the real app."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from cipulse.storage.database import Database
from tests.builders import real_fixture, runwatch_job, runwatch_run, trunk_event, trunk_request
from tests.conftest import Tenant, count
from tests.webhooks import Hooked, hooked_org, post_github, post_gitlab


def _refused(response: Any, database: Database, expected: list[str]) -> None:
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert [problem for problem in expected if problem not in error] == []
    assert error.count("; ") >= len(expected) - 1
    assert count(database, "run_attempts") == count(database, "jobs") == 0


def test_runwatch(client: TestClient, tenant: Tenant, database: Database) -> None:
    payload = runwatch_run(
        actor="octo\u0000cat",
        run_attempt=0,
        status="done",
        completed_at="soon",
        jobs=[runwatch_job("build", duration_seconds="120"), runwatch_job("", "running")],
    )
    response = client.post("/functions/v1/ingest", json=payload, headers=tenant.runwatch_headers)
    _refused(
        response,
        database,
        [
            "actor: contains a NUL character",
            "run_attempt: must be >= 1",
            "status: must be one of success,",
            "completed_at: must be an ISO 8601 timestamp",
            "jobs[0].duration_seconds: must be a number",
            "jobs[1].name: must not be empty",
        ],
    )


def test_trunk(client: TestClient, tenant: Tenant, database: Database) -> None:
    events = [trunk_event("run", "chain", name="pipe\u0000line")]
    parent = "run"
    for level in range(66):  # levels 65 and 66 are too deep
        events.append(trunk_event(f"node-{level}", "chain", parent=parent))
        parent = f"node-{level}"
    events.append(trunk_event("bad", "chain", conclusion="GREEN", created_at="yesterday"))  # type: ignore[arg-type]
    headers = {**tenant.trunk_headers, "x-source": "s" * 201}
    response = client.post("/v1/metrics/trackEvents", json=trunk_request(*events), headers=headers)
    _refused(
        response,
        database,
        [
            "x-source: must be at most 200 characters",
            "events[0].sequence.name: contains a NUL character",
            "events[67].conclusion: must be one of SUCCESS",
            "events[67].createdAt: must be an integer",
            "events[65].parent: nests the job tree more than 64 levels deep",
            "events[66].parent: nests the job tree more than 64 levels deep",
        ],
    )


@pytest.fixture
def org(database: Database) -> Hooked:
    return hooked_org(database)


def test_github_webhook(client: TestClient, org: Hooked, database: Database) -> None:
    payload = real_fixture("github-workflow_job.completed.success.with-organization.json")
    job = payload["workflow_job"]
    job.update(name="lint\u0000", run_id="one", started_at="2021-08-05")
    del job["id"]
    response = post_github(client, org.name, "workflow_job", payload)
    _refused(
        response,
        database,
        [
            "workflow_job.name: contains a NUL character",
            "workflow_job.run_id: must be an integer",
            "workflow_job.id: required",
            "workflow_job.started_at:",
        ],
    )


def test_gitlab_pipeline_webhook(client: TestClient, org: Hooked, database: Database) -> None:
    payload = real_fixture("gitlab-docs.pipeline-event.json")
    payload["object_attributes"].update(status=None, queued_duration=9e9)
    payload["project"].update(path_with_namespace=None, web_url=None, name="tools\u0000")
    payload["builds"][0]["id"] = "x"
    response = post_gitlab(client, org.name, "Pipeline Hook", payload)
    _refused(
        response,
        database,
        [
            "project.name: contains a NUL character",
            "object_attributes.status: must be a string",
            "object_attributes.queued_duration: created_at plus queued_duration must be from",
            "builds[0].id: must be an integer",
            "project.path_with_namespace: required (or project.web_url or repository.homepage",
        ],
    )


def test_gitlab_job_webhook(client: TestClient, org: Hooked, database: Database) -> None:
    payload = real_fixture("gitlab-go-gitlab-testdata.job.json")
    payload.update(build_status=None, pipeline_id="p", build_started_at="later")
    payload["repository"] = {"name": "release-tools"}  # no homepage, and no project
    response = post_gitlab(client, org.name, "Job Hook", payload)
    _refused(
        response,
        database,
        [
            "build_status: must be a string",
            "pipeline_id: must be an integer",
            "build_started_at: must be a timestamp",
            "project.path_with_namespace: required",
        ],
    )
