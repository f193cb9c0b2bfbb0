"""GitLab webhooks: ``POST /webhooks/gitlab/{org}`` with the real payloads of
``tests/fixtures/real`` (GitLab's documented examples, go-gitlab's test data and
CIMonitor's recorded deliveries), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import TypeAdapter, ValidationError

from cipulse.accounts.service import AccountService
from cipulse.domain import ids
from cipulse.domain.model import RepositoryRef
from cipulse.ingestion.gitlab.schema import Timestamp
from cipulse.storage.database import Database
from tests.builders import real_fixture
from tests.conftest import count, rows
from tests.webhooks import Delivery, Hooked, hooked_org, post_gitlab, read, replayed_alike, sequence

WINDOW = {"since": "2016-01-01T00:00:00Z", "until": "2025-01-01T00:00:00Z"}


@pytest.fixture
def org(database: Database) -> Hooked:
    return hooked_org(database)


def test_deliveries_without_the_right_token_store_nothing(
    client: TestClient, org: Hooked, database: Database
) -> None:
    payload = real_fixture("gitlab-docs.pipeline-event.json")
    missing = post_gitlab(client, org.name, "Pipeline Hook", payload, token=None)
    wrong = post_gitlab(client, org.name, "Pipeline Hook", payload, token="guess")
    assert (missing.status_code, wrong.status_code) == (401, 401)
    assert "X-Gitlab-Token" in missing.json()["error"]
    assert count(database, "run_attempts") == count(database, "jobs") == 0


def test_other_events_are_acknowledged_and_ignored(
    client: TestClient, org: Hooked, database: Database
) -> None:
    deployment = next(d for d in sequence("gitlab-pipeline") if d.event == "Deployment Hook")
    response = post_gitlab(client, org.name, deployment.event, deployment.body)
    assert (response.status_code, response.json()["ignored"]) == (202, "Deployment Hook")
    assert count(database, "run_attempts") == 0


@pytest.mark.parametrize(
    ("name", "event"),
    [
        ("gitlab-docs.pipeline-event.json", "Pipeline Hook"),
        ("gitlab-go-gitlab-testdata.pipeline.json", "Pipeline Hook"),
        ("gitlab-docs.job-event.json", "Job Hook"),
        ("gitlab-go-gitlab-testdata.job.json", "Job Hook"),
        ("gitlab-go-gitlab-testdata.build.json", "Job Hook"),
    ],
)
def test_every_real_example_is_stored(
    client: TestClient, org: Hooked, database: Database, name: str, event: str
) -> None:
    response = post_gitlab(client, org.name, event, real_fixture(name))
    assert response.status_code == 200, response.text
    assert count(database, "jobs") >= 1


def test_the_documented_pipeline_event_in_the_read_api(client: TestClient, org: Hooked) -> None:
    payload = real_fixture("gitlab-docs.pipeline-event.json")
    assert post_gitlab(client, org.name, "Pipeline Hook", payload).status_code == 200
    (run,) = read(client, org, "/api/v1/runs", **WINDOW)["items"]
    detail = read(client, org, f"/api/v1/runs/{run['id']}")
    attributes = payload["object_attributes"]
    assert (detail["run_key"], detail["status"], detail["raw_status"]) == (
        "31",
        "success",
        "success",
    )
    assert (detail["repository"], detail["repository_host"]) == (
        "gitlab-org/gitlab-test",
        "192.168.64.1",
    )
    assert (detail["branch"], detail["triggered_by"], detail["run_name"]) == (
        "master",
        "merge_request_event",
        attributes["name"],
    )
    assert detail["duration_seconds"] == 63
    assert detail["started_at"] == "2016-08-12T15:23:28Z"
    assert detail["completed_at"] == "2016-08-12T15:26:29Z"
    assert detail["url"] == attributes["url"]
    jobs = {job["name"]: job for job in detail["jobs"]}
    assert {name: job["status"] for name, job in jobs.items()} == {
        build["name"]: {
            "success": "success",
            "skipped": "skipped",
            "created": "queued",
            "failed": "failure",
        }[build["status"]]
        for build in payload["builds"]
    }
    assert all(job["tags"]["stage"] for job in jobs.values())


def test_a_job_event_of_a_retry(client: TestClient, org: Hooked, database: Database) -> None:
    payload = real_fixture("gitlab-go-gitlab-testdata.job.json")
    assert post_gitlab(client, org.name, "Job Hook", payload).status_code == 200
    (job,) = rows(database, "jobs")
    assert (job["name"], job["status"], job["external_id"]) == (
        "auto_deploy:start",
        "success",
        "3580121225",
    )
    assert job["duration_seconds"] == pytest.approx(49.503592)
    assert job["metrics"] == {"queue_seconds": pytest.approx(0.193009)}
    # Its second try (retries_count 1): the run's attempt 2, the round of first retries.
    repository = ids.repository_id(
        job["org_id"], RepositoryRef("gitlab.com", "jsmithy2/release-tools-fake")
    )
    assert job["attempt_id"] == ids.chain_attempt_id(repository, "743121198", 2)
    assert job["tags"]["runner_tags"] == "linux,docker"
    (repository,) = rows(database, "repositories")
    assert (repository["host"], repository["full_name"]) == (
        "gitlab.com",
        "jsmithy2/release-tools-fake",
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-01-15 10:30:00 UTC", datetime(2024, 1, 15, 10, 30, tzinfo=UTC)),
        ("2021-02-23T02:41:37.886Z", datetime(2021, 2, 23, 2, 41, 37, 886000, tzinfo=UTC)),
        ("2021-02-23T02:41:37Z", datetime(2021, 2, 23, 2, 41, 37, tzinfo=UTC)),
        (
            "2024-01-15 10:30:00 +0100",
            datetime(2024, 1, 15, 10, 30, tzinfo=timezone(timedelta(hours=1))),
        ),
        ("2024-01-15T10:30:00.123+02:00", datetime(2024, 1, 15, 8, 30, 0, 123000, tzinfo=UTC)),
    ],
)
def test_gitlab_timestamps_in_every_form(text: str, expected: datetime) -> None:
    assert TypeAdapter(Timestamp).validate_python(text) == expected


def test_a_timestamp_in_no_known_form_is_refused_naming_the_field(
    client: TestClient, org: Hooked, database: Database
) -> None:
    with pytest.raises(ValidationError):
        TypeAdapter(Timestamp).validate_python("yesterday")
    payload = real_fixture("gitlab-docs.pipeline-event.json")
    payload["object_attributes"]["created_at"] = "15/01/2024 10:30"
    response = post_gitlab(client, org.name, "Pipeline Hook", payload)
    assert response.status_code == 400
    assert "object_attributes.created_at" in response.json()["error"]
    assert count(database, "run_attempts") == 0


def test_redeliveries_with_an_idempotency_key_are_stored_once(
    client: TestClient, org: Hooked, database: Database
) -> None:
    payload = real_fixture("gitlab-go-gitlab-testdata.job.json")
    first = post_gitlab(client, org.name, "Job Hook", payload, idempotency_key="k-1")
    again = post_gitlab(client, org.name, "Job Hook", payload, idempotency_key="k-1")
    assert "duplicate" not in first.json()
    assert again.json() == {"success": True, "duplicate": True}


@pytest.mark.parametrize("folder", ["gitlab-pipeline", "gitlab-canceled-pipeline"])
def test_recorded_deliveries_in_order_and_shuffled_store_the_same(
    client: TestClient, database: Database, folder: str
) -> None:
    deliveries = sequence(folder)
    reader = replayed_alike(client, database, deliveries, seeds=(1, 2, 3))
    check_numbers(client, reader, deliveries)


def check_numbers(client: TestClient, org: Hooked, deliveries: list[Delivery]) -> None:
    """The read API says what the last pipeline event said, and each job what its own last
    event said (a job's own event wins over the pipeline's list)."""
    pipeline = [d.body for d in deliveries if d.event == "Pipeline Hook"][-1]
    attributes = pipeline["object_attributes"]
    expected_jobs: dict[str, dict[str, Any]] = {}
    for build in pipeline["builds"]:
        expected_jobs[build["name"]] = {"status": build["status"], "duration": build["duration"]}
    for delivery in deliveries:
        body = delivery.body
        if delivery.event == "Job Hook" and body["build_status"] in (
            "success",
            "failed",
            "canceled",
            "skipped",
        ):
            expected_jobs[body["build_name"]] = {
                "status": body["build_status"],
                "duration": body["build_duration"],
            }
    (item,) = read(client, org, "/api/v1/runs", **WINDOW)["items"]
    detail = read(client, org, f"/api/v1/runs/{item['id']}")
    assert detail["raw_status"] == attributes["status"]
    assert detail["duration_seconds"] == attributes["duration"]
    assert detail["pipeline"] == ".gitlab-ci.yml"
    stored = {job["name"]: job for job in detail["jobs"]}
    assert {name: job["raw_status"] for name, job in stored.items()} == {
        name: job["status"] for name, job in expected_jobs.items()
    }
    for name, job in expected_jobs.items():
        if job["duration"] is not None:
            assert stored[name]["duration_seconds"] == pytest.approx(job["duration"]), name
    compute = sum(job["duration_seconds"] or 0 for job in stored.values())
    assert detail["compute_seconds"] == pytest.approx(compute)
    jobs_page = read(client, org, "/api/v1/analytics/jobs", **WINDOW)["items"]
    assert {job["job"] for job in jobs_page} == set(expected_jobs)


FIRST_TRY_ID = 2228389600


def _earlier(text: str | None, minutes: int = 3) -> str | None:
    if text is None:
        return None
    moment = datetime.strptime(text, "%Y-%m-%d %H:%M:%S %Z") - timedelta(minutes=minutes)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def retried_sequence() -> list[Delivery]:
    """The recorded pipeline, but its job "api tests" failed at first and passed when
    retried: its recorded events become those of the retry (retries_count 1), each preceded
    by the same event of the first try (another job id, three minutes earlier, failing where
    the retry succeeded). Pipeline events list each job's latest try, as GitLab's do."""
    found = []
    for delivery in sequence("gitlab-pipeline"):
        body = delivery.body
        if delivery.event == "Job Hook" and body["build_name"] == "api tests":
            first = {
                **body,
                "build_id": FIRST_TRY_ID,
                "retries_count": 0,
                "build_status": "failed"
                if body["build_status"] == "success"
                else body["build_status"],
                "build_started_at": _earlier(body["build_started_at"]),
                "build_finished_at": _earlier(body["build_finished_at"]),
            }
            found.append(Delivery(f"{delivery.name}-first", delivery.event, first))
            body = {**body, "retries_count": 1}
        found.append(Delivery(delivery.name, delivery.event, body))
    return found


def test_a_retried_job_makes_a_second_attempt_and_a_flaky_run(
    client: TestClient, database: Database
) -> None:
    reader = replayed_alike(client, database, retried_sequence(), seeds=(1, 2))
    from cipulse.storage.clock import month_of, now_ms

    # Both attempts count in the plan usage: the pipeline's and its retry round.
    assert AccountService(database).usage("in-order", month_of(now_ms())) == (1, 2)
    items = read(client, reader, "/api/v1/runs", **WINDOW)["items"]
    assert sorted((run["attempt"], run["status"]) for run in items) == [
        (1, "failure"),
        (2, "success"),
    ]
    latest = next(run for run in items if run["attempt"] == 2)
    detail = read(client, reader, f"/api/v1/runs/{latest['id']}")
    assert [(a["attempt"], a["status"]) for a in detail["attempts"]] == [
        (1, "failure"),
        (2, "success"),
    ]
    (retry,) = detail["jobs"]
    assert (retry["name"], retry["status"], retry["duration_seconds"]) == (
        "api tests",
        "success",
        pytest.approx(60.156573),
    )
    first = read(client, reader, f"/api/v1/runs/{detail['attempts'][0]['id']}")
    assert first["raw_status"] == "retried"
    first_jobs = {job["name"]: job["status"] for job in first["jobs"]}
    assert first_jobs["api tests"] == "failure"
    assert len(first_jobs) == 15  # every job once: the retry is in attempt 2 only
    summary = read(client, reader, "/api/v1/analytics/summary", **WINDOW)
    assert (summary["runs"], summary["flaky_runs"]) == (2, 1)  # runs counts attempts
    flaky = read(client, reader, "/api/v1/analytics/flaky", **WINDOW)["items"]
    assert [job["job"] for job in flaky] == ["api tests"]


def test_a_pipeline_event_listing_every_try_puts_each_in_its_round() -> None:
    from cipulse.ingestion.gitlab.converter import convert_pipeline
    from cipulse.ingestion.gitlab.schema import PipelineEvent

    payload = real_fixture("gitlab-go-gitlab-testdata.pipeline.json")
    retried = {**payload["builds"][0], "id": payload["builds"][0]["id"] + 1000}
    payload["builds"].append(retried)
    submission = convert_pipeline(PipelineEvent.model_validate(payload))
    rounds = {(d.span.external_id, d.attempt) for d in submission.detached_spans}
    first = str(payload["builds"][0]["id"])
    assert (first, 1) in rounds and (str(retried["id"]), 2) in rounds


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        (["success", "skipped"], "success"),
        (["success", "failure"], "failure"),
        (["success", "failure:allowed"], "success"),
        (["running", "success"], "running"),
        (["running", "failure"], "failure"),
        (["cancelled", "success"], "cancelled"),
        (["timed_out", "success"], "failure"),
    ],
)
def test_a_rounds_status_is_decided_as_gitlab_decides_a_pipelines(
    statuses: list[str], expected: str
) -> None:
    from cipulse.domain.retry_rounds import pipeline_status

    jobs = [(s.split(":")[0], ":" in s) for s in statuses]
    assert pipeline_status(jobs) == expected


def test_an_earlier_finished_state_arriving_late_changes_nothing(
    client: TestClient, org: Hooked, database: Database
) -> None:
    """Events come out of order: a pipeline that failed and then passed (retried) whose
    failure arrives last, and a job skipped before it ran whose skip arrives last, keep what
    ended last."""
    passed = real_fixture("gitlab-docs.pipeline-event.json")
    passed["builds"] = []
    failed = {**passed, "object_attributes": {**passed["object_attributes"], "status": "failed"}}
    failed["object_attributes"]["finished_at"] = "2016-08-12 15:24:00 UTC"
    job = real_fixture("gitlab-go-gitlab-testdata.job.json")
    skipped = {**job, "build_status": "skipped", "build_finished_at": None, "build_duration": None}
    for event, payload in (
        ("Pipeline Hook", passed),
        ("Pipeline Hook", failed),
        ("Job Hook", job),
        ("Job Hook", skipped),
    ):
        assert post_gitlab(client, org.name, event, payload).status_code == 200
    assert [a["status"] for a in rows(database, "run_attempts")] == ["success"]
    (stored_job,) = rows(database, "jobs")
    assert (stored_job["status"], stored_job["duration_seconds"]) == (
        "success",
        pytest.approx(49.503592),
    )


def test_negative_durations_are_stored_as_unknown_with_warnings(
    client: TestClient, org: Hooked, database: Database
) -> None:
    """A negative duration or queue time (refused before) is kept out of the figures, and
    the job stored with its times as sent."""
    payload = real_fixture("gitlab-go-gitlab-testdata.job.json")
    payload.update(build_duration=-49.5, build_queued_duration=-0.2)
    response = post_gitlab(client, org.name, "Job Hook", payload)
    assert response.status_code == 200, response.text
    assert response.json()["warnings"] == [
        "build_duration: -49.5 is impossible (negative); stored as unknown",
        "build_queued_duration: -0.2 is impossible (negative); stored as unknown",
    ]
    (job,) = rows(database, "jobs")
    assert (job["duration_seconds"], job["metrics"]) == (None, None)
    assert (job["started_at_ms"], job["completed_at_ms"]) == (1673358605000, 1673358654000)


def test_a_pipeline_that_ends_before_it_starts_is_stored_with_a_warning(
    client: TestClient, org: Hooked, database: Database
) -> None:
    payload = real_fixture("gitlab-docs.pipeline-event.json")
    payload["object_attributes"]["finished_at"] = "2016-08-12 15:20:00 UTC"
    response = post_gitlab(client, org.name, "Pipeline Hook", payload)
    assert response.status_code == 200, response.text
    assert response.json()["warnings"] == [
        "object_attributes.duration: 63 is impossible (finished_at is before created_at + "
        "queued_duration); stored as unknown"
    ]
    (attempt,) = rows(database, "run_attempts")
    assert attempt["duration_seconds"] is None
    assert attempt["completed_at_ms"] == 1471015200000
