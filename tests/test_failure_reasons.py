"""Why jobs and runs failed: the classification of raw reasons (plain values), and the
reason, class and failed step of each source's real payloads (``tests/fixtures/real``:
CIMonitor's recorded GitHub and GitLab deliveries, GitLab's documented Pipeline Hook,
go-gitlab's Job Hook, the Jenkins plugin's event, RunWatch's extension fields), read back
through the HTTP API on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cipulse.accounts.service import AccountService
from cipulse.domain.failure_reasons import (
    KNOWN_REASONS,
    FailureClass,
    failure_class,
    failure_reason,
)
from cipulse.domain.status import Status
from cipulse.storage.database import Database
from tests.builders import real_fixture, runwatch_run
from tests.webhooks import Hooked, hooked_org, post_github, post_gitlab, read, sequence

WINDOW = {"since": "2016-01-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"}
EPOCH = {"since": "1970-01-01T00:00:00Z", "until": "1970-01-02T00:00:00Z"}
JENKINS = "trunk-jenkins-plugin-1.4.0.trackEvents.TrackEventsRequestTest.json"


# --- The classification, on plain values ---------------------------------------------------


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        ("script_failure", FailureClass.CODE),
        ("runner_system_failure", FailureClass.INFRASTRUCTURE),
        ("api_failure", FailureClass.INFRASTRUCTURE),
        ("stuck_or_timeout_failure", FailureClass.TIMEOUT),
        ("job_execution_timeout", FailureClass.TIMEOUT),
        ("unknown_failure", FailureClass.UNKNOWN),
        ("failure", FailureClass.CODE),
        ("timed_out", FailureClass.TIMEOUT),
        ("cancelled", FailureClass.CANCELLED),
        ("startup_failure", FailureClass.INFRASTRUCTURE),
        ("FAILURE", FailureClass.CODE),
        ("TIMED_OUT", FailureClass.TIMEOUT),
        ("UNSTABLE", FailureClass.CODE),
        ("ABORTED", FailureClass.CANCELLED),
        ("NOT_BUILT", FailureClass.CANCELLED),
        ("canceled", FailureClass.CANCELLED),
        ("failed", FailureClass.CODE),
        (" Out_Of_Memory ", FailureClass.INFRASTRUCTURE),
        ("the cat sat on the keyboard", FailureClass.UNKNOWN),
        ("", FailureClass.UNKNOWN),
    ],
)
def test_a_raw_reason_has_one_class(reason: str, expected: FailureClass) -> None:
    assert failure_class(reason) is expected


def test_no_reason_has_no_class() -> None:
    assert failure_class(None) is None


def test_every_known_reason_is_lower_case_and_classed() -> None:
    assert all(reason == reason.strip().lower() for reason in KNOWN_REASONS)
    assert {found for found, _ in KNOWN_REASONS.values()} == set(FailureClass)


@pytest.mark.parametrize(
    ("status", "stated", "raw", "expected"),
    [
        (Status.FAILURE, "script_failure", "failed", "script_failure"),
        (Status.FAILURE, None, "failed", "failed"),
        (Status.FAILURE, "  ", "failure", "failure"),
        (Status.CANCELLED, None, "canceled", "canceled"),
        (Status.TIMED_OUT, None, "timed_out", "timed_out"),
        (Status.FAILURE, None, None, None),
        (Status.SUCCESS, "unknown_failure", "success", None),
        (Status.SKIPPED, None, "NOT_BUILT", None),
        (Status.RUNNING, "script_failure", "running", None),
    ],
)
def test_only_what_did_not_succeed_keeps_a_reason(
    status: Status, stated: str | None, raw: str | None, expected: str | None
) -> None:
    assert failure_reason(status, stated, raw) == expected


# --- Real payloads over HTTP ---------------------------------------------------------------


@pytest.fixture
def org(database: Database) -> Hooked:
    return hooked_org(database)


@pytest.fixture
def ingest_key(database: Database, org: Hooked) -> str:
    return AccountService(database).create_key(org.name, scopes=("ingest",)).key


def _nodes(nodes: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for node in nodes:
        yield node
        yield from _nodes(node["children"])


def failures(detail: dict[str, Any]) -> dict[str, tuple[Any, ...]]:
    """Each node of a run's job tree by name: its status, reason, class and failed step."""
    return {
        node["name"]: (
            node["status"],
            node["failure_reason"],
            node["failure_class"],
            node["failing_step"],
        )
        for node in _nodes(detail["jobs"])
    }


def only_detail(client: TestClient, org: Hooked, **window: str) -> dict[str, Any]:
    (item,) = read(client, org, "/api/v1/runs", **(window or WINDOW))["items"]
    detail = read(client, org, f"/api/v1/runs/{item['id']}")
    assert (item["failure_reason"], item["failure_class"]) == (
        detail["failure_reason"],
        detail["failure_class"],
    )
    return detail  # type: ignore[no-any-return]


def test_github_recorded_failed_push_names_the_failing_jobs_and_steps(
    client: TestClient, org: Hooked
) -> None:
    """CIMonitor's recorded push: ESLint and the backend typecheck fail in one step each,
    so the run fails; its build job is skipped."""
    for delivery in sequence("github-push-failed"):
        response = post_github(client, org.name, delivery.event, delivery.body)
        assert response.is_success, response.text
    detail = only_detail(client, org)
    assert (detail["status"], detail["failure_reason"], detail["failure_class"]) == (
        "failure",
        "failure",
        "code",
    )
    found = failures(detail)
    assert found["Test / ESLint"] == ("failure", "failure", "code", "Run eslint check")
    assert found["Test / ESLint / Run eslint check"] == ("failure", "failure", "code", None)
    assert found["Test / Backend typescript"] == (
        "failure",
        "failure",
        "code",
        "Check backend typescript",
    )
    assert found["Test / Frontend typescript"] == ("success", None, None, None)
    assert found["Build"] == ("skipped", None, None, None)


def test_github_timed_out_and_startup_failure_are_classed(client: TestClient, org: Hooked) -> None:
    payload = real_fixture("github-workflow_run.completed.json")
    for conclusion, expected in (("startup_failure", "infrastructure"), ("timed_out", "timeout")):
        payload["workflow_run"]["conclusion"] = conclusion
        payload["workflow_run"]["updated_at"] = (
            "2020-01-22T19:34:00Z" if conclusion == "startup_failure" else "2020-01-22T19:35:00Z"
        )
        assert post_github(client, org.name, "workflow_run", payload).is_success
        detail = only_detail(client, org)
        assert (detail["failure_reason"], detail["failure_class"]) == (conclusion, expected)


def test_gitlab_documented_pipeline_names_its_failed_job(client: TestClient, org: Hooked) -> None:
    """GitLab's Pipeline Hook example: test-build failed with script_failure."""
    body = real_fixture("gitlab-docs.pipeline-event.json")
    assert post_gitlab(client, org.name, "Pipeline Hook", body).is_success
    found = failures(only_detail(client, org))
    assert found["test-build"] == ("failure", "script_failure", "code", None)
    assert found["test-image"] == ("success", None, None, None)
    assert found["production"] == ("skipped", None, None, None)


def test_gitlab_job_hook_keeps_its_stated_reason(client: TestClient, org: Hooked) -> None:
    """go-gitlab's Job Hook, failed with each reason GitLab states; then the same job
    succeeding keeps none, though GitLab still sends ``unknown_failure``."""
    pipeline = real_fixture("gitlab-docs.pipeline-event.json")
    job = real_fixture("gitlab-go-gitlab-testdata.build.json")
    pipeline["object_attributes"]["id"] = job["pipeline_id"]
    pipeline["builds"] = []
    assert post_gitlab(client, org.name, "Pipeline Hook", pipeline).is_success
    reasons = (
        ("runner_system_failure", "infrastructure"),
        ("job_execution_timeout", "timeout"),
        ("a reason from a newer GitLab", "unknown"),
    )
    for end, (reason, expected) in enumerate(reasons, start=1):
        job.update(build_status="failed", build_failure_reason=reason)
        job["build_finished_at"] = f"2021-02-23T02:4{end}:00Z"
        assert post_gitlab(client, org.name, "Job Hook", job).is_success
        (found,) = failures(only_detail(client, org)).values()
        assert found == ("failure", reason, expected, None)
    job.update(build_status="success", build_failure_reason="unknown_failure")
    job["build_finished_at"] = "2021-02-23T02:49:00Z"
    assert post_gitlab(client, org.name, "Job Hook", job).is_success
    (found,) = failures(only_detail(client, org)).values()
    assert found == ("success", None, None, None)


def test_gitlab_recorded_canceled_pipeline_is_cancelled(client: TestClient, org: Hooked) -> None:
    for delivery in sequence("gitlab-canceled-pipeline"):
        response = post_gitlab(client, org.name, delivery.event, delivery.body)
        assert response.is_success, response.text
    detail = only_detail(client, org)
    assert (detail["failure_reason"], detail["failure_class"]) == ("canceled", "cancelled")
    found = failures(detail)
    assert found["codestyle"] == ("cancelled", "canceled", "cancelled", None)
    assert found["typescript"] == ("success", None, None, None)


@pytest.mark.parametrize(
    ("conclusion", "expected"),
    [("FAILURE", ("failure", "code")), ("TIMED_OUT", ("timed_out", "timeout"))],
)
def test_jenkins_plugin_event_keeps_its_conclusion_as_reason(
    client: TestClient, org: Hooked, ingest_key: str, conclusion: str, expected: tuple[str, str]
) -> None:
    request = real_fixture(JENKINS)
    event = request["events"][0]
    del event["parent"]  # its one event, made the run of its chain
    event["conclusion"] = conclusion
    headers = {"x-api-token": ingest_key}
    response = client.post("/v1/metrics/trackEvents", json=request, headers=headers)
    assert response.status_code == 200, response.text
    detail = only_detail(client, org, **EPOCH)
    assert (detail["status"], detail["failure_reason"], detail["failure_class"]) == (
        expected[0],
        conclusion,
        expected[1],
    )


def test_runwatch_extension_fields_name_the_reason_and_step(
    client: TestClient, org: Hooked, ingest_key: str
) -> None:
    payload = runwatch_run(status="failure", failure_reason="runner_lost")
    payload["jobs"][0].update(
        status="failure", failure_reason="runner_system_failure", failing_step="Install"
    )
    response = client.post("/api/v1/ingest", json=payload, headers={"X-API-Key": ingest_key})
    assert response.status_code == 200, response.text
    detail = only_detail(client, org)
    assert (detail["failure_reason"], detail["failure_class"]) == ("runner_lost", "infrastructure")
    name = payload["jobs"][0]["name"]
    assert failures(detail)[name] == (
        "failure",
        "runner_system_failure",
        "infrastructure",
        "Install",
    )


def test_runwatch_failure_reason_of_a_wrong_type_is_refused(
    client: TestClient, org: Hooked, ingest_key: str
) -> None:
    payload = runwatch_run(failure_reason=["oom"])
    response = client.post("/api/v1/ingest", json=payload, headers={"X-API-Key": ingest_key})
    assert response.status_code == 400
    assert "failure_reason: must be a string" in response.json()["error"]


def test_the_documented_table_is_the_classification() -> None:
    """docs/api.md's "Failure classes" lists every known reason with its class and sources."""
    text = (Path(__file__).parent.parent / "docs" / "api.md").read_text()
    text = text.split("#### Failure classes", 1)[1].split("\n#", 1)[0]
    rows = re.findall(r"^\| `([a-z_]+)` \| `([a-z]+)` \| ([^|]+) \|$", text, re.M)
    documented = {reason: (found, sources.strip()) for reason, found, sources in rows}
    assert documented == {
        reason: (found.value, sources) for reason, (found, sources) in KNOWN_REASONS.items()
    }
