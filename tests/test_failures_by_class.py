"""Failures by class as figures: per organisation, pipeline and job, in the summary, the
lists and their CSV, the overview's "most failing" lists split by class, on a dataset
whose numbers are worked out by hand, on SQLite and PostgreSQL, read raw and from the
refreshed rollups (the same numbers)."""

from __future__ import annotations

import copy
import csv
import io
import re
from typing import Any

import pytest
from starlette.testclient import TestClient

from cipulse.accounts.service import AccountService
from cipulse.analytics.refresh import refresh_all
from cipulse.storage.database import Database
from tests.builders import real_fixture, runwatch_job, runwatch_run
from tests.conftest import Tenant
from tests.test_dashboard import ingest, signed_in, users

__all__ = ["signed_in", "users"]  # fixtures, used by name

WINDOW = {"since": "2024-01-01T00:00:00Z", "until": "2024-01-08T00:00:00Z"}
JENKINS = "trunk-jenkins-plugin-1.4.0.trackEvents.TrackEventsRequestTest.json"
CLASSES = ("code", "infrastructure", "timeout", "cancelled", "unknown")


def attempt(
    run_id: int, status: str, day: int, jobs: list[dict[str, Any]], **fields: Any
) -> dict[str, Any]:
    return runwatch_run(
        run_id=run_id,
        run_attempt=1,
        status=status,
        started_at=f"2024-01-0{day}T10:00:00Z",
        completed_at=f"2024-01-0{day}T10:05:00Z",
        duration_seconds=300,
        jobs=jobs,
        **fields,
    )


def job(name: str, status: str, reason: str | None = None) -> dict[str, Any]:
    extra = {} if reason is None else {"failure_reason": reason}
    return runwatch_job(name, status, duration_seconds=60, **extra)


OK = [job("build", "success"), job("test", "success")]
#: CI Pipeline: 7 attempts; failures: code 2 (a failure without reason, a test_failure),
#: infrastructure 2 (runner_lost, out_of_memory), timeout 1, cancelled 1.
#: Deploy: 2 attempts, one failed for a reason cipulse does not know (unknown).
DATASET = [
    attempt(1, "success", 1, OK),
    attempt(2, "failure", 1, [job("build", "success"), job("test", "failure")]),
    attempt(3, "failure", 2, [job("build", "success"), job("test", "failure", "test_failure")],
            failure_reason="test_failure"),
    attempt(4, "failure", 2, [job("build", "failure", "runner_lost")],
            failure_reason="runner_lost"),
    attempt(5, "failure", 3, [job("build", "failure", "out_of_memory")],
            failure_reason="out_of_memory"),
    attempt(6, "timed_out", 4, [job("build", "success"), job("test", "timed_out")]),
    attempt(7, "cancelled", 5, [job("build", "cancelled")]),
    attempt(8, "success", 5, OK, pipeline_name="Deploy"),
    attempt(9, "failure", 6, [job("deploy", "failure", "quota gone")], pipeline_name="Deploy",
            failure_reason="quota gone"),
]  # fmt: skip


@pytest.fixture
def reader(accounts: AccountService, tenant: Tenant) -> Tenant:
    return Tenant(name="acme", key=accounts.create_key("acme", scopes=("read",)).key)


@pytest.fixture(params=["raw", "rollups"])
def seeded(
    request: pytest.FixtureRequest, client: TestClient, tenant: Tenant, database: Database
) -> None:
    for payload in DATASET:
        response = client.post(
            "/functions/v1/ingest", json=payload, headers=tenant.runwatch_headers
        )
        assert response.status_code == 200, response.text
    if request.param == "rollups":
        assert refresh_all(database) > 0


def get(client: TestClient, reader: Tenant, path: str, **params: Any) -> Any:
    response = client.get(path, params={**WINDOW, **params}, headers={"X-API-Key": reader.key})
    assert response.status_code == 200, response.text
    return response.json() if params.get("format") != "csv" else response.text


def classes(*counts: int) -> dict[str, int]:
    return dict(zip(CLASSES, counts, strict=True))


@pytest.mark.usefixtures("seeded")
def test_the_summary_counts_failures_by_class(client: TestClient, reader: Tenant) -> None:
    summary = get(client, reader, "/api/v1/analytics/summary")
    assert summary["failures_by_class"] == classes(2, 2, 1, 1, 1)
    assert summary["previous"]["failures_by_class"] == classes(0, 0, 0, 0, 0)
    ci = get(client, reader, "/api/v1/analytics/summary", pipeline="CI Pipeline")
    assert ci["failures_by_class"] == classes(2, 2, 1, 1, 0)
    deploy = get(client, reader, "/api/v1/analytics/summary", pipeline="Deploy")
    assert deploy["failures_by_class"] == classes(0, 0, 0, 0, 1)
    (row,) = list(csv.DictReader(io.StringIO(get(client, reader, "/api/v1/analytics/summary",
                                                 format="csv"))))  # fmt: skip
    assert [row[f"failures_by_class.{name}"] for name in CLASSES] == ["2", "2", "1", "1", "1"]


@pytest.mark.usefixtures("seeded")
def test_pipelines_and_jobs_count_failures_by_class(client: TestClient, reader: Tenant) -> None:
    pipelines = get(client, reader, "/api/v1/pipelines")["items"]
    assert {row["name"]: row["failures_by_class"] for row in pipelines} == {
        "CI Pipeline": classes(2, 2, 1, 1, 0),
        "Deploy": classes(0, 0, 0, 0, 1),
    }
    jobs = get(client, reader, "/api/v1/analytics/jobs", sort="job")["items"]
    assert {(row["pipeline"], row["job"]): row["failures_by_class"] for row in jobs} == {
        ("CI Pipeline", "build"): classes(0, 2, 0, 1, 0),  # runner_lost, out_of_memory; cancelled
        ("CI Pipeline", "test"): classes(2, 0, 1, 0, 0),  # failure, test_failure; timed_out
        ("Deploy", "build"): classes(0, 0, 0, 0, 0),
        ("Deploy", "test"): classes(0, 0, 0, 0, 0),
        ("Deploy", "deploy"): classes(0, 0, 0, 0, 1),
    }
    by_infra = get(client, reader, "/api/v1/analytics/jobs", sort="-failed_infrastructure")
    assert by_infra["items"][0]["job"] == "build"
    text = get(client, reader, "/api/v1/analytics/jobs", sort="job", format="csv")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert sorted(row["failures_by_class.code"] for row in rows) == ["0", "0", "0", "0", "2"]
    assert sorted(row["failures_by_class.infrastructure"] for row in rows)[-1] == "2"


@pytest.mark.usefixtures("seeded")
def test_a_sort_by_an_unknown_class_is_refused(client: TestClient, reader: Tenant) -> None:
    response = client.get(
        "/api/v1/analytics/jobs",
        params={**WINDOW, "sort": "-failed_gremlins"},
        headers={"X-API-Key": reader.key},
    )
    assert response.status_code == 400
    assert "failed_infrastructure" in response.json()["error"]


def test_the_dashboard_shows_failures_by_class(signed_in: TestClient, tenant: Tenant) -> None:
    """The overview and a pipeline's page break failures down by class; the Jobs page has a
    column per class; the overview's most failing lists split by one class."""
    ingest(signed_in, tenant, DATASET)
    view = "since=2024-01-01&until=2024-01-07"
    overview = signed_in.get(f"/?{view}")
    assert overview.status_code == 200
    breakdown = re.search(r"<p class=\"failure-classes\".*?</p>", overview.text, re.S)
    assert breakdown is not None
    text = re.sub(r"<[^>]+>|\s+", " ", breakdown.group(0))
    assert "code 2 · infrastructure 2 · timeout 1 · cancelled 1 · unknown 1" in " ".join(
        text.split()
    )
    infra = signed_in.get(f"/?{view}&failure_class=infrastructure")
    failing = infra.text.split('aria-label="Most failing jobs"')[1].split("</section>")[0]
    assert "2 infrastructure failures" in failing and ">build<" in failing
    assert "sort=-failed_infrastructure" in failing
    pipelines = infra.text.split('aria-label="Most failing pipelines"')[1].split("</section>")[0]
    assert "CI Pipeline" in pipelines and "infrastructure failures" in pipelines
    jobs = signed_in.get(f"/jobs?{view}&sort=-failed_infrastructure")
    assert jobs.status_code == 200
    assert 'data-field="failed_infrastructure">2<' in jobs.text
    bad = signed_in.get(f"/?{view}&failure_class=gremlins")
    assert bad.status_code == 400
    assert "failure_class: must be one of code, infrastructure" in bad.text


def test_a_trunk_stage_names_its_failed_nested_stage(
    client: TestClient, tenant: Tenant, reader: Tenant
) -> None:
    """From the Jenkins plugin's real event: the run, a stage "Build" that failed, and two
    stages nested in it, "Lint" (passed) and "Unit tests" (failed): the run's job "Build"
    names "Unit tests" as its failing step, as a GitHub job names its failed step."""
    request = real_fixture(JENKINS)
    run = request["events"][0]
    del run["parent"]  # the run event of its chain
    run["conclusion"] = "FAILURE"

    def stage(event_id: str, parent: str, name: str, conclusion: str, start: int) -> Any:
        event = copy.deepcopy(run)
        event.update(id=event_id, conclusion=conclusion, parent={"eventId": parent})
        event["createdAt"] = event["createdAt"] + start
        event["sequence"] = {**event["sequence"], "kind": "stage", "key": event_id, "name": name}
        return event

    request["events"] += [
        stage("build", run["id"], "Build", "FAILURE", 1),
        stage("lint", "build", "Lint", "SUCCESS", 2),
        stage("unit", "build", "Unit tests", "FAILURE", 3),
    ]
    response = client.post("/v1/metrics/trackEvents", json=request, headers=tenant.trunk_headers)
    assert response.status_code == 200, response.text
    epoch = {"since": "1970-01-01T00:00:00Z", "until": "1970-01-02T00:00:00Z"}
    (item,) = get(client, reader, "/api/v1/runs", **epoch)["items"]
    jobs = get(client, reader, f"/api/v1/runs/{item['id']}")["jobs"]
    (build,) = jobs
    assert (build["name"], build["failing_step"], build["failure_class"]) == (
        "Build",
        "Unit tests",
        "code",
    )
    assert [(c["name"], c["failing_step"]) for c in build["children"]] == [
        ("Lint", None),
        ("Unit tests", None),
    ]
