"""The Trunk-compatible endpoint, over the real app, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
from starlette.testclient import TestClient

from cipulse.storage.database import Database
from tests.builders import TRUNK_EXAMPLE, real_fixture, trunk_event, trunk_request
from tests.conftest import Tenant, count, rows

TRACK = "/v1/metrics/trackEvents"


def track(client: TestClient, tenant: Tenant, payload: Any, path: str = TRACK) -> Any:
    return client.post(path, json=payload, headers=tenant.trunk_headers)


def test_spec_example_is_stored(client: TestClient, tenant: Tenant, database: Database) -> None:
    response = track(client, tenant, TRUNK_EXAMPLE)
    reversed_times = (
        "finishedAt: 2023-09-13T14:31:27Z is before createdAt 2023-09-13T14:48:07Z; both kept "
        "as sent, the duration stored as unknown"
    )
    assert (response.status_code, response.json()) == (
        200,
        {
            "success": True,
            "events": 2,
            "warnings": [f"events[0].{reversed_times}", f"events[1].{reversed_times}"],
        },
    )
    attempts = {a["run_key"]: a for a in rows(database, "run_attempts")}
    root = attempts["b0ea8b0d-6574-4421-a63b-56f04eab9738"]
    assert root["source_format"] == "trunk"
    assert root["provider"] == "jenkins"
    assert root["status"] == "success"
    assert root["raw_status"] == "SUCCESS"
    assert root["started_at_ms"] == 1694616487000
    assert root["completed_at_ms"] == 1694615487000  # as sent, although before createdAt
    assert root["duration_seconds"] is None  # and so the duration is unknown
    assert root["metrics"] == {"duration_ms": 1000, "api_latency": 500}
    assert root["tags"]["sha"] == "88962a71bcfa92e5950670fc7e3f2b9f8d993b87"
    assert root["branch"] == "merge-PR-1"
    assert root["ingest_source"] == "jenkins-plugin"
    nested = attempts["test-workflow-a-1"]
    assert nested["parent_run_key"] == root["run_key"]
    pipelines = {p["pipeline_key"]: p["name"] for p in rows(database, "pipelines")}
    assert pipelines == {
        "test-pipeline": "Trying out a test pipeline",
        "test-pipeline/nested-pipeline": "Trying out a test nested pipeline",
    }
    (repository,) = rows(database, "repositories")
    assert (repository["host"], repository["full_name"]) == (
        "github.com",
        "trunk-io/jenkins-plugin",
    )


def test_singular_path_alias_and_x_api_key(client: TestClient, tenant: Tenant) -> None:
    response = client.post(
        "/v1/metrics/trackEvent", json=TRUNK_EXAMPLE, headers={"X-API-Key": tenant.key}
    )
    assert response.status_code == 200


def test_real_jenkins_plugin_payload(
    client: TestClient, tenant: Tenant, database: Database
) -> None:
    fixture = real_fixture("trunk-jenkins-plugin-1.4.0.trackEvents.TrackEventsRequestTest.json")
    assert track(client, tenant, fixture).json() == {"success": True, "events": 1}
    (job,) = rows(database, "jobs")
    assert (job["node_key"], job["parent_node_key"], job["name"]) == (
        "test-event-id",
        "test-parent-event-id",
        "test-sequence-name",
    )
    assert job["metrics"] == {"test-metric-key": 1.0}


def test_started_then_completed_event_is_one_upserted_row(
    client: TestClient, tenant: Tenant, database: Database
) -> None:
    root_started = trunk_event(
        "run-1", "run-1", kind="pipeline", conclusion="UNSPECIFIED", finished_at=None
    )
    job_started = trunk_event(
        "job-1", "run-1", parent="run-1", conclusion="UNSPECIFIED", finished_at=None
    )
    track(client, tenant, trunk_request(root_started, job_started))
    assert rows(database, "run_attempts")[0]["status"] == "running"
    assert rows(database, "jobs")[0]["status"] == "running"
    root_done = trunk_event("run-1", "run-1", kind="pipeline", conclusion="FAILURE")
    job_done = trunk_event("job-1", "run-1", parent="run-1", conclusion="FAILURE")
    track(client, tenant, trunk_request(root_done, job_done))
    assert [(a["status"], a["raw_status"]) for a in rows(database, "run_attempts")] == [
        ("failure", "FAILURE")
    ]
    assert [(j["status"], j["duration_seconds"]) for j in rows(database, "jobs")] == [
        ("failure", 60)
    ]
    # A started event delivered late changes nothing.
    track(client, tenant, trunk_request(root_started, job_started))
    assert rows(database, "run_attempts")[0]["status"] == "failure"
    assert rows(database, "jobs")[0]["status"] == "failure"
    assert (count(database, "run_attempts"), count(database, "jobs")) == (1, 1)


def _tree(database: Database) -> dict[str, str | None]:
    return {j["node_key"]: j["parent_node_key"] for j in rows(database, "jobs")}


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_events_in_any_order_and_separate_requests_link_up(
    client: TestClient, tenant: Tenant, database: Database, seed: int
) -> None:
    events = [
        trunk_event("root", "chain", kind="pipeline"),
        trunk_event("stage", "chain", parent="root", kind="stage"),
        trunk_event("step-a", "chain", parent="stage", kind="step"),
        trunk_event("step-b", "chain", parent="stage", kind="step", conclusion="FAILURE"),
    ]
    random.Random(seed).shuffle(events)
    for event in events:
        assert track(client, tenant, trunk_request(event)).status_code == 200
    (attempt,) = rows(database, "run_attempts")
    assert attempt["run_key"] == "chain"
    assert _tree(database) == {"stage": "root", "step-a": "stage", "step-b": "stage"}
    assert {j["attempt_id"] for j in rows(database, "jobs")} == {attempt["id"]}


def test_a_chain_whose_root_never_arrives_loses_nothing(
    client: TestClient, tenant: Tenant, database: Database
) -> None:
    child = trunk_event("child", "orphan-chain", parent="missing-root")
    assert track(client, tenant, trunk_request(child)).status_code == 200
    assert count(database, "run_attempts") == 0
    (job,) = rows(database, "jobs")
    assert job["node_key"] == "child"
    # When the root turns up, the stored child already belongs to it.
    track(
        client, tenant, trunk_request(trunk_event("missing-root", "orphan-chain", kind="pipeline"))
    )
    (attempt,) = rows(database, "run_attempts")
    assert rows(database, "jobs")[0]["attempt_id"] == attempt["id"]


def test_any_code_host_is_accepted(client: TestClient, tenant: Tenant, database: Database) -> None:
    for host in ("gitlab.com", "bitbucket.org", "git.example.internal"):
        assert (
            track(
                client, tenant, trunk_request(trunk_event("r", f"r-{host}"), host=host)
            ).status_code
            == 200
        )
    assert sorted(r["host"] for r in rows(database, "repositories")) == [
        "bitbucket.org",
        "git.example.internal",
        "gitlab.com",
    ]


def test_a_bad_event_fails_the_whole_request_naming_every_bad_one(
    client: TestClient, tenant: Tenant, database: Database
) -> None:
    good = trunk_event("ok", "c1")
    no_created = trunk_event("bad-1", "c2")
    del no_created["createdAt"]
    bad_conclusion = trunk_event("bad-2", "c3", conclusion="MAYBE")
    bad_metric = trunk_event("bad-3", "c4", metrics={"m": 1})
    bad_metric["payload"]["metrics"][0]["v"] = "fast"
    response = track(
        client, tenant, trunk_request(good, no_created, good, bad_conclusion, bad_metric)
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert "events[1].createdAt: required" in error
    assert "events[3].conclusion: must be one of SUCCESS, FAILURE" in error
    assert "events[4].payload.metrics[0].v: must be a number" in error
    assert count(database, "run_attempts") + count(database, "jobs") == 0


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"events": []}, "repo: required"),
        ({"repo": {"host": "github.com", "owner": "a"}, "events": []}, "repo.name: required"),
        (trunk_request(), None),
        (
            {"repo": {"host": "github.com", "owner": "a", "name": "b"}, "events": [{"id": "x"}]},
            "events[0].chainId: required",
        ),
        (
            {
                "repo": {"host": "github.com", "owner": "a", "name": "b"},
                "events": [{"id": "x", "chainId": "x", "createdAt": "soon"}],
            },
            "events[0].createdAt: must be an integer",
        ),
    ],
)
def test_schema_errors(
    client: TestClient, tenant: Tenant, payload: Any, message: str | None
) -> None:
    response = track(client, tenant, payload)
    if message is None:
        assert response.json() == {"success": True, "events": 0}
    else:
        assert response.status_code == 400
        assert message in response.json()["error"]


def test_legacy_fact_payload_is_told_to_upgrade(
    client: TestClient, tenant: Tenant, database: Database
) -> None:
    legacy = real_fixture(
        "trunk-jenkins-plugin-1.3.0.trackEvents.legacy-fact.TrackEventsRequestTest.json"
    )
    response = track(client, tenant, legacy)
    assert response.status_code == 400
    assert "upgrade the Trunk Jenkins plugin to 1.4.0" in response.json()["error"]
    assert count(database, "jobs") == 0


def test_missing_token_gets_401(client: TestClient) -> None:
    response = client.post(TRACK, json=TRUNK_EXAMPLE)
    assert response.status_code == 401
    assert "x-api-token" in response.json()["error"].lower()


def test_runwatch_and_trunk_runs_with_the_same_keys_coexist(
    client: TestClient, tenant: Tenant, database: Database
) -> None:
    from tests.builders import runwatch_run

    runwatch = runwatch_run(repository="acme/app", pipeline_name="build", run_id=42)
    assert (
        client.post(
            "/functions/v1/ingest", json=runwatch, headers=tenant.runwatch_headers
        ).status_code
        == 200
    )
    trunk = trunk_request(trunk_event("42", "42", key="build", kind="pipeline"))
    assert track(client, tenant, trunk).status_code == 200
    assert sorted(a["source_format"] for a in rows(database, "run_attempts")) == [
        "runwatch",
        "trunk",
    ]
    assert count(database, "repositories") == 1  # one repository, seen from both formats


def test_run_event_id_other_than_chain_id_is_the_tree_root(
    client: TestClient, tenant: Tenant, database: Database
) -> None:
    track(client, tenant, TRUNK_EXAMPLE)
    root = next(a for a in rows(database, "run_attempts") if a["run_key"].startswith("b0ea8b0d"))
    assert root["root_node_key"] == "fba555ee-90ce-42ca-a60c-38d200e9290e"


def test_detached_events_count_against_the_repository_limit(
    client: TestClient, tenant: Tenant, database: Database
) -> None:
    from cipulse.accounts.service import AccountService

    AccountService(database).set_limits("acme", 1, None)
    assert (
        track(
            client, tenant, trunk_request(trunk_event("c", "chain", parent="p"), name="one")
        ).status_code
        == 200
    )
    assert count(database, "repositories") == 1
    refused = track(
        client, tenant, trunk_request(trunk_event("c", "chain", parent="p"), name="two")
    )
    assert refused.status_code == 402


def test_booleans_are_not_numbers(client: TestClient, tenant: Tenant) -> None:
    tagged = trunk_event("r", "r", tags={"flag": True})
    response = track(client, tenant, trunk_request(tagged))
    assert response.status_code == 400
    assert "events[0].payload.tags[0].v" in response.json()["error"]


def test_non_finite_tag_values_are_refused(client: TestClient, tenant: Tenant) -> None:
    body = json.dumps(trunk_request(trunk_event("r", "r", tags={"x": 1.5}))).replace("1.5", "NaN")
    response = client.post(
        TRACK, content=body, headers={**tenant.trunk_headers, "content-type": "application/json"}
    )
    assert response.status_code == 400
