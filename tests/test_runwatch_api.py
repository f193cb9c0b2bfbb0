"""The RunWatch-compatible endpoint, over the real app, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any

import pytest
from starlette.testclient import TestClient

from cipulse.accounts.service import AccountService
from cipulse.storage.database import Database
from tests.builders import RUNWATCH_EXAMPLE, runwatch_job, runwatch_run
from tests.conftest import Tenant, count, make_tenant, rows

INGEST = "/functions/v1/ingest"


def post(client: TestClient, tenant: Tenant, payload: Any, path: str = INGEST) -> Any:
    return client.post(path, json=payload, headers=tenant.runwatch_headers)


def test_spec_example_is_stored(client: TestClient, tenant: Tenant, database: Database) -> None:
    response = post(client, tenant, RUNWATCH_EXAMPLE)
    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True
    (attempt,) = rows(database, "run_attempts")
    assert body["pipeline_run_id"] == attempt["id"]
    assert attempt["status"] == "success"
    assert attempt["raw_status"] == "success"
    assert attempt["source_format"] == "runwatch"
    assert attempt["provider"] == "github"
    assert attempt["run_key"] == "789012345"
    assert attempt["started_at_ms"] == 1705314600000
    assert attempt["completed_at_ms"] == 1705314912000
    assert (attempt["duration_seconds"], attempt["compute_seconds"]) == (312, 245)
    assert (attempt["branch"], attempt["actor"], attempt["triggered_by"]) == (
        "main",
        "octocat",
        "push",
    )
    (repository,) = rows(database, "repositories")
    assert (repository["host"], repository["full_name"]) == ("github.com", "acme/cool-project")
    (pipeline,) = rows(database, "pipelines")
    assert pipeline["name"] == "CI Pipeline"
    jobs = sorted(rows(database, "jobs"), key=lambda j: j["name"])
    assert [
        (j["name"], j["external_id"], j["duration_seconds"], j["attempt_id"]) for j in jobs
    ] == [
        ("build", "456789", 120, attempt["id"]),
        ("test", "456790", 125, attempt["id"]),
    ]
    assert jobs[0]["url"] == RUNWATCH_EXAMPLE["jobs"][0]["job_url"]


@pytest.mark.parametrize("path", ["/functions/v1/ingest", "/api/v1/ingest", "/v1/ingest"])
def test_every_path_alias_ingests(client: TestClient, tenant: Tenant, path: str) -> None:
    assert post(client, tenant, RUNWATCH_EXAMPLE, path).status_code == 200


def test_bearer_authorization_is_accepted(client: TestClient, tenant: Tenant) -> None:
    response = client.post(
        INGEST, json=RUNWATCH_EXAMPLE, headers={"Authorization": f"Bearer {tenant.key}"}
    )
    assert response.status_code == 200


def test_reposting_returns_the_same_id_and_updates(
    client: TestClient, tenant: Tenant, database: Database
) -> None:
    running = runwatch_run(
        status="running",
        completed_at=None,
        duration_seconds=None,
        jobs=[runwatch_job("build", job_id="456789", status="running")],
    )
    first = post(client, tenant, running).json()["pipeline_run_id"]
    second = post(client, tenant, RUNWATCH_EXAMPLE).json()["pipeline_run_id"]
    assert first == second
    (attempt,) = rows(database, "run_attempts")
    assert attempt["status"] == "success"
    assert attempt["duration_seconds"] == 312
    assert count(database, "jobs") == 2
    assert post(client, tenant, RUNWATCH_EXAMPLE).json()["pipeline_run_id"] == first
    assert count(database, "run_attempts") == 1
    assert count(database, "jobs") == 2


def test_each_post_is_a_full_snapshot_of_the_job_set(
    client: TestClient, tenant: Tenant, database: Database
) -> None:
    post(
        client, tenant, runwatch_run(jobs=[runwatch_job("lint"), runwatch_job("unit", job_id="9")])
    )
    jobs_before = {j["name"]: j["id"] for j in rows(database, "jobs")}
    post(
        client,
        tenant,
        runwatch_run(
            jobs=[runwatch_job("unit", job_id="9", status="failure"), runwatch_job("e2e")]
        ),
    )
    jobs_after = {j["name"]: j for j in rows(database, "jobs")}
    assert set(jobs_after) == {"unit", "e2e"}
    assert jobs_after["unit"]["id"] == jobs_before["unit"]  # matched by job_id
    assert jobs_after["unit"]["status"] == "failure"


def test_a_late_stale_post_never_reopens_a_finished_attempt(
    client: TestClient, tenant: Tenant, database: Database
) -> None:
    first = post(client, tenant, RUNWATCH_EXAMPLE).json()["pipeline_run_id"]
    stale = runwatch_run(
        status="running",
        completed_at=None,
        jobs=[runwatch_job("build", job_id="456789", status="running")],
    )
    response = post(client, tenant, stale)
    assert response.status_code == 200
    assert response.json()["pipeline_run_id"] == first
    (attempt,) = rows(database, "run_attempts")
    assert attempt["status"] == "success"
    assert count(database, "jobs") == 2


def test_a_finished_status_may_still_be_corrected(
    client: TestClient, tenant: Tenant, database: Database
) -> None:
    post(client, tenant, runwatch_run(status="failure"))
    post(client, tenant, runwatch_run(status="success"))
    assert rows(database, "run_attempts")[0]["status"] == "success"


def test_attempts_of_one_run_are_separate(
    client: TestClient, tenant: Tenant, database: Database
) -> None:
    one = post(client, tenant, runwatch_run(status="failure")).json()["pipeline_run_id"]
    two = post(client, tenant, runwatch_run(run_attempt=2)).json()["pipeline_run_id"]
    assert one != two
    assert sorted(a["attempt"] for a in rows(database, "run_attempts")) == [1, 2]


def test_legacy_field_names(client: TestClient, tenant: Tenant, database: Database) -> None:
    payload = runwatch_run(
        pipeline_name=None,
        run_id=None,
        workflow_id="ci.yml",
        workflow_name="CI",
        workflow_run_id=55,
    )
    assert post(client, tenant, payload, "/v1/ingest").status_code == 200
    (pipeline,) = rows(database, "pipelines")
    assert (pipeline["pipeline_key"], pipeline["name"]) == ("ci.yml", "CI")
    assert rows(database, "run_attempts")[0]["run_key"] == "55"


def test_unknown_fields_are_ignored(client: TestClient, tenant: Tenant) -> None:
    payload = runwatch_run(commit_sha="abc", jobs=[{**RUNWATCH_EXAMPLE["jobs"][0], "runner": "x"}])
    assert post(client, tenant, payload).status_code == 200


def test_gitlab_subgroups_and_offsets(
    client: TestClient, tenant: Tenant, database: Database
) -> None:
    payload = runwatch_run(
        provider="gitlab",
        repository="group/sub/name",
        started_at="2024-01-15T12:30:00+02:00",
        completed_at="2024-01-15T10:35:12.500Z",
        duration_seconds=None,
    )
    assert post(client, tenant, payload).status_code == 200
    (attempt,) = rows(database, "run_attempts")
    assert attempt["started_at_ms"] == 1705314600000
    assert attempt["duration_seconds"] == 312.5
    assert rows(database, "repositories")[0]["host"] == "gitlab.com"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"provider": "jenkins"},
            "provider: must be one of github, gitlab, bitbucket, circleci, other",
        ),
        ({"repository": "just-a-name"}, "repository: must be owner/name"),
        ({"repository": None}, "repository: required"),
        ({"pipeline_name": None}, "pipeline_name: required"),
        ({"run_id": "abc"}, "run_id: must be an integer"),
        ({"run_id": 1.5}, "run_id: must be an integer"),
        ({"run_attempt": 0}, "run_attempt: must be >= 1"),
        ({"status": "done"}, "status: must be one of success, failure, cancelled, running, queued"),
        ({"mode": "batch"}, "mode: must be one of inline, external"),
        ({"duration_seconds": 1e11}, "duration_seconds: must be <= 10000000000"),
        ({"compute_seconds": "lots"}, "compute_seconds: must be a number"),
        ({"started_at": "yesterday"}, "started_at: must be an ISO 8601 timestamp"),
        (
            {"started_at": "2024-01-15T10:30:00"},
            "started_at: must be an ISO 8601 timestamp with Z or an offset",
        ),
        ({"completed_at": "soon"}, "completed_at: must be an ISO 8601 timestamp"),
        ({"triggered_by": None}, "triggered_by: required"),
        ({"actor": None}, "actor: required"),
        ({"jobs": "build"}, "jobs: must be an array"),
        (
            {"jobs": [runwatch_job("a"), runwatch_job("b"), runwatch_job("c", status="broken")]},
            "jobs[2].status: must be one of success, failure",
        ),
        ({"jobs": [{"status": "success"}]}, "jobs[0].name: required"),
        (
            {"jobs": [runwatch_job("a", duration_seconds="5")]},
            "jobs[0].duration_seconds: must be a number",
        ),
    ],
)
def test_schema_errors_name_the_field(
    client: TestClient, tenant: Tenant, database: Database, change: dict[str, Any], message: str
) -> None:
    response = post(client, tenant, runwatch_run(**change))
    assert response.status_code == 400
    assert message in response.json()["error"]
    assert count(database, "run_attempts") == 0
    assert count(database, "jobs") == 0


def test_a_clean_payload_gets_the_documented_answer_only(
    client: TestClient, tenant: Tenant
) -> None:
    assert set(post(client, tenant, RUNWATCH_EXAMPLE).json()) == {"success", "pipeline_run_id"}


#: A job of the spec example that GitHub ended a second before it started.
_REVERSED = {"started_at": "2024-01-15T10:34:16Z", "completed_at": "2024-01-15T10:34:15Z"}


@pytest.mark.parametrize(
    ("change", "warnings"),
    [
        (
            {"jobs": [runwatch_job("deploy", "skipped", duration_seconds=-1, **_REVERSED)]},
            [
                "jobs[0].duration_seconds: -1 is impossible (negative; completed_at is before "
                "started_at); stored as unknown",
                "compute_seconds: 245 was sent with impossible job durations (jobs[0]); "
                "stored as unknown",
            ],
        ),
        (
            {"compute_seconds": None, "jobs": [runwatch_job("deploy", "skipped", **_REVERSED)]},
            [
                "jobs[0].completed_at: 2024-01-15T10:34:15Z is before started_at "
                "2024-01-15T10:34:16Z; both kept as sent, the duration stored as unknown"
            ],
        ),
        (
            {
                "compute_seconds": None,
                "jobs": [
                    runwatch_job(
                        "build",
                        duration_seconds=500,
                        started_at="2024-01-15T10:30:05Z",
                        completed_at="2024-01-15T10:32:05Z",
                    )
                ],
            },
            [
                "jobs[0].duration_seconds: 500 is impossible (longer than the 120 s from "
                "started_at to completed_at); stored as unknown"
            ],
        ),
        (
            {"duration_seconds": -312.5},
            ["duration_seconds: -312.5 is impossible (negative); stored as unknown"],
        ),
        (
            {"duration_seconds": None, "completed_at": "2024-01-15T10:29:00Z"},
            [
                "completed_at: 2024-01-15T10:29:00Z is before started_at 2024-01-15T10:30:00Z; "
                "both kept as sent, the duration stored as unknown"
            ],
        ),
        (
            {"compute_seconds": -1},
            [
                "compute_seconds: -1 is negative; stored as the sum of the jobs' known "
                "durations, 245"
            ],
        ),
    ],
)
def test_impossible_timings_are_stored_with_warnings(
    client: TestClient,
    tenant: Tenant,
    database: Database,
    change: dict[str, Any],
    warnings: list[str],
) -> None:
    payload = runwatch_run(**change)
    response = post(client, tenant, payload)
    assert response.status_code == 200
    assert response.json()["warnings"] == warnings
    (attempt,) = rows(database, "run_attempts")
    assert response.json()["pipeline_run_id"] == attempt["id"]
    # The raw timestamps are kept; only the figures they contradict are unknown.
    assert attempt["completed_at_ms"] == _ms(payload["completed_at"])
    run_warned = any(w.startswith(("duration_seconds", "completed_at")) for w in warnings)
    assert (attempt["duration_seconds"] is None) is run_warned
    for job, sent in zip(rows(database, "jobs"), payload["jobs"], strict=True):
        assert (job["started_at_ms"], job["completed_at_ms"]) == (
            _ms(sent.get("started_at")),
            _ms(sent.get("completed_at")),
        )
        job_warned = any(w.startswith("jobs[0].") for w in warnings)
        assert (job["duration_seconds"] is None) is job_warned
        assert job["status"] == sent["status"]


def _ms(stamp: str | None) -> int | None:
    if stamp is None:
        return None
    return int(datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp() * 1000)


def test_warnings_are_logged_at_debug_level_only(
    client: TestClient, tenant: Tenant, caplog: pytest.LogCaptureFixture
) -> None:
    """A reporter whose every payload has the same quirk must not flood the log."""
    caplog.set_level(logging.DEBUG, logger="cipulse")
    job = runwatch_job("deploy", "skipped", duration_seconds=-1, **_REVERSED)
    for _ in range(3):
        assert "warnings" in post(client, tenant, runwatch_run(jobs=[job])).json()
    logged = [r for r in caplog.records if "warnings" in r.getMessage()]
    assert len(logged) == 3
    assert {r.levelno for r in logged} == {logging.DEBUG}
    assert [r for r in caplog.records if r.levelno >= logging.INFO] == []


def test_durations_within_a_second_of_their_timestamps_are_kept(
    client: TestClient, tenant: Tenant, database: Database
) -> None:
    """Reporters round and timestamps have whole seconds: 121 s over 120.4 s is no conflict."""
    job = runwatch_job(
        "build",
        duration_seconds=121,
        started_at="2024-01-15T10:30:05.300Z",
        completed_at="2024-01-15T10:32:05.700Z",
    )
    assert "warnings" not in post(client, tenant, runwatch_run(jobs=[job])).json()
    assert rows(database, "jobs")[0]["duration_seconds"] == 121


@pytest.mark.parametrize(
    ("sent", "completed", "expected"),
    [
        ("unknown", None, "running"),
        ("unknown", "2024-01-15T10:32:05Z", "failure"),
        ("neutral", "2024-01-15T10:32:05Z", "skipped"),
        ("stale", "2024-01-15T10:32:05Z", "cancelled"),
        ("action_required", None, "pending"),
        ("startup_failure", "2024-01-15T10:32:05Z", "failure"),
        ("timed_out", "2024-01-15T10:32:05Z", "timed_out"),
    ],
)
def test_statuses_real_reporters_send_are_mapped_and_kept(
    client: TestClient,
    tenant: Tenant,
    database: Database,
    sent: str,
    completed: str | None,
    expected: str,
) -> None:
    job = runwatch_job("build", sent, started_at="2024-01-15T10:30:05Z", completed_at=completed)
    payload = runwatch_run(status=sent, completed_at=completed, duration_seconds=None, jobs=[job])
    response = post(client, tenant, payload)
    assert response.status_code == 200, response.text
    (attempt,) = rows(database, "run_attempts")
    (stored,) = rows(database, "jobs")
    assert (attempt["status"], attempt["raw_status"]) == (expected, sent)
    assert (stored["status"], stored["raw_status"]) == (expected, sent)


def test_every_problem_is_reported_at_once(client: TestClient, tenant: Tenant) -> None:
    response = post(client, tenant, runwatch_run(run_attempt=0, actor=None, status="x"))
    error = response.json()["error"]
    assert "run_attempt:" in error and "actor: required" in error and "status:" in error


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"{not json", "body: not valid JSON"),
        (b"[1, 2]", "body: must be an object"),
        (b"", "body: not valid JSON"),
    ],
)
def test_malformed_bodies(client: TestClient, tenant: Tenant, content: bytes, message: str) -> None:
    response = client.post(INGEST, content=content, headers=tenant.runwatch_headers)
    assert response.status_code == 400
    assert response.json()["error"].startswith(message)


def test_missing_unknown_and_revoked_keys_get_401(
    client: TestClient, tenant: Tenant, accounts: AccountService, database: Database
) -> None:
    missing = client.post(INGEST, json=RUNWATCH_EXAMPLE)
    assert missing.status_code == 401
    assert missing.json() == {
        "error": "missing API key: send it in the X-API-Key header",
        "code": "unauthenticated",
    }
    unknown = client.post(INGEST, json=RUNWATCH_EXAMPLE, headers={"X-API-Key": "cip_00000000_nope"})
    assert (unknown.status_code, unknown.json()) == (
        401,
        {"error": "invalid API key", "code": "unauthenticated"},
    )
    (key,) = accounts.keys("acme")
    accounts.revoke_key(key.prefix)
    revoked = post(client, tenant, RUNWATCH_EXAMPLE)
    assert (revoked.status_code, revoked.json()) == (
        401,
        {"error": "API key has been revoked", "code": "unauthenticated"},
    )
    assert count(database, "run_attempts") == 0


def test_a_read_only_key_cannot_ingest(client: TestClient, accounts: AccountService) -> None:
    reader = make_tenant(accounts, "readers", scopes=("read",))
    response = post(client, reader, RUNWATCH_EXAMPLE)
    assert response.status_code == 403
    assert "ingest" in response.json()["error"]


def test_key_use_is_recorded(client: TestClient, tenant: Tenant, accounts: AccountService) -> None:
    assert accounts.keys("acme")[0].last_used_at is None
    post(client, tenant, RUNWATCH_EXAMPLE)
    assert accounts.keys("acme")[0].last_used_at is not None


def test_bodies_over_the_limit_get_413(
    client: TestClient, tenant: Tenant, database: Database
) -> None:
    huge = runwatch_run(run_name="x" * (1024 * 1024))
    response = post(client, tenant, huge)
    assert response.status_code == 413
    assert "limit of 1048576 bytes" in response.json()["error"]
    assert count(database, "run_attempts") == 0


def test_cors_preflight_and_headers(client: TestClient) -> None:
    preflight = client.options(
        INGEST,
        headers={
            "Origin": "https://ci.example.org",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type, x-api-key, authorization",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "*"
    allowed = preflight.headers["access-control-allow-headers"].lower()
    for header in ("content-type", "x-api-key", "x-api-token", "x-source", "authorization"):
        assert header in allowed
    simple = client.post(INGEST, json={}, headers={"Origin": "https://ci.example.org"})
    assert simple.headers["access-control-allow-origin"] == "*"


def test_jobs_whose_names_look_like_suffixes_do_not_collide(
    client: TestClient, tenant: Tenant, database: Database
) -> None:
    jobs = [
        runwatch_job("lint"),
        runwatch_job("lint"),
        runwatch_job("lint#2"),
        runwatch_job("x", job_id="7"),
        runwatch_job("y", job_id="7"),
        runwatch_job("z", job_id="7#2"),
    ]
    assert post(client, tenant, runwatch_run(jobs=jobs)).status_code == 200
    assert post(client, tenant, runwatch_run(jobs=jobs)).status_code == 200
    assert sorted(j["name"] for j in rows(database, "jobs")) == [
        "lint",
        "lint",
        "lint#2",
        "x",
        "y",
        "z",
    ]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"run_id": True}, "run_id: must be an integer"),
        ({"run_attempt": False}, "run_attempt: must be an integer"),
        ({"started_at": 1705314600}, "started_at: must be an ISO 8601 timestamp"),
    ],
)
def test_no_lax_coercions(
    client: TestClient, tenant: Tenant, change: dict[str, Any], message: str
) -> None:
    response = post(client, tenant, runwatch_run(**change))
    assert response.status_code == 400
    assert message in response.json()["error"]


def test_run_id_as_a_string_of_digits_is_accepted(
    client: TestClient, tenant: Tenant, database: Database
) -> None:
    assert post(client, tenant, runwatch_run(run_id="789012345")).status_code == 200
    assert rows(database, "run_attempts")[0]["run_number"] == 789012345


def test_escaped_backslash_before_u0000_is_plain_text(client: TestClient, tenant: Tenant) -> None:
    body = json.dumps(runwatch_run(run_name="path C:\\u0000"))
    assert "\\\\u0000" in body
    response = client.post(
        INGEST,
        content=body,
        headers={**tenant.runwatch_headers, "content-type": "application/json"},
    )
    assert response.status_code == 200


def test_thousands_of_jobs_with_one_name_are_all_kept(
    client: TestClient, tenant: Tenant, database: Database
) -> None:
    jobs = [{"name": "a", "status": "success"}] * 5000
    response = post(client, tenant, runwatch_run(jobs=jobs))
    assert response.status_code == 200
    assert count(database, "jobs") == 5000


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"pipeline_id": True}, "pipeline_id:"),
        ({"jobs": [runwatch_job("a", job_id=False)]}, "jobs[0].job_id:"),
        ({"duration_seconds": True}, "duration_seconds: must be a number"),
        ({"compute_seconds": "245"}, "compute_seconds: must be a number"),
    ],
)
def test_numbers_and_ids_are_not_booleans_or_strings(
    client: TestClient, tenant: Tenant, change: dict[str, Any], message: str
) -> None:
    response = post(client, tenant, runwatch_run(**change))
    assert response.status_code == 400
    assert message in response.json()["error"]
