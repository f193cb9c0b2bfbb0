"""The wire-format converters are pure: these tests touch no database."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import get_args

from cipulse.domain import ids
from cipulse.domain.ci_statuses import RUNWATCH_STATUSES, runwatch_status
from cipulse.domain.model import RunKeyScope
from cipulse.domain.status import Status
from cipulse.ingestion.formats import parse_runwatch, parse_trunk
from cipulse.ingestion.runwatch.schema import WireStatus
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


def body(payload: object) -> bytes:
    return json.dumps(payload).encode()


def test_runwatch_example_converts_field_by_field() -> None:
    (attempt,) = parse_runwatch(body(RUNWATCH_EXAMPLE)).attempts
    assert attempt.repository.host == "github.com"
    assert attempt.repository.full_name == "acme/cool-project"
    assert (attempt.pipeline.key, attempt.pipeline.name) == ("CI Pipeline", "CI Pipeline")
    assert (attempt.run_key, attempt.run_number, attempt.attempt) == ("789012345", 789012345, 1)
    assert attempt.status is Status.SUCCESS
    assert attempt.started_at == datetime(2024, 1, 15, 10, 30, tzinfo=UTC)
    assert attempt.completed_at == datetime(2024, 1, 15, 10, 35, 12, tzinfo=UTC)
    assert (attempt.duration_seconds, attempt.compute_seconds) == (312, 245)
    assert (attempt.triggered_by, attempt.actor, attempt.branch, attempt.mode) == (
        "push",
        "octocat",
        "main",
        "inline",
    )
    assert [(j.name, j.external_id, j.status, j.duration_seconds) for j in attempt.jobs] == [
        ("build", "456789", Status.SUCCESS, 120),
        ("test", "456790", Status.SUCCESS, 125),
    ]
    assert attempt.jobs_are_snapshot


def test_runwatch_conversion_is_deterministic() -> None:
    assert parse_runwatch(body(RUNWATCH_EXAMPLE)) == parse_runwatch(body(RUNWATCH_EXAMPLE))


def test_missing_durations_are_computed_from_timestamps_and_jobs() -> None:
    payload = runwatch_run(
        duration_seconds=None,
        compute_seconds=None,
        jobs=[
            runwatch_job(
                "a", started_at="2024-01-15T10:30:00Z", completed_at="2024-01-15T10:31:30Z"
            ),
            runwatch_job("b", duration_seconds=10.5),
            runwatch_job("c", status="running", started_at="2024-01-15T10:30:00Z"),
        ],
    )
    (attempt,) = parse_runwatch(body(payload)).attempts
    assert attempt.duration_seconds == 312  # 10:30:00 → 10:35:12
    assert [j.duration_seconds for j in attempt.jobs] == [90, 10.5, None]
    assert attempt.compute_seconds == 100.5


def test_unknown_durations_stay_unknown() -> None:
    payload = runwatch_run(
        status="running",
        duration_seconds=None,
        compute_seconds=None,
        completed_at=None,
        jobs=[runwatch_job("a", status="queued")],
    )
    (attempt,) = parse_runwatch(body(payload)).attempts
    assert attempt.duration_seconds is None
    assert attempt.compute_seconds is None


def test_legacy_field_names_of_older_reporters() -> None:
    payload = runwatch_run(
        pipeline_name=None, run_id=None, workflow_id=42, workflow_name="Build", workflow_run_id=777
    )
    (attempt,) = parse_runwatch(body(payload)).attempts
    assert (attempt.pipeline.key, attempt.pipeline.name, attempt.run_key) == ("42", "Build", "777")


def test_pipeline_is_keyed_by_pipeline_id_when_given() -> None:
    (attempt,) = parse_runwatch(body(runwatch_run(pipeline_id="ci.yml"))).attempts
    assert attempt.pipeline.key == "ci.yml"
    assert attempt.pipeline.name == "CI Pipeline"


def test_jobs_without_ids_are_matched_by_name_and_order() -> None:
    payload = runwatch_run(
        jobs=[runwatch_job("lint"), runwatch_job("lint"), runwatch_job("x", job_id=7)]
    )
    (attempt,) = parse_runwatch(body(payload)).attempts
    assert [j.node_key for j in attempt.jobs] == ["name:lint", "name:lint#2", "id:7"]


def test_repository_host_of_self_hosted_gitlab_comes_from_the_run_url() -> None:
    payload = runwatch_run(
        provider="gitlab",
        repository="platform/tools/ci",
        run_url="https://gitlab.example.com/platform/tools/ci/-/pipelines/12",
    )
    (attempt,) = parse_runwatch(body(payload)).attempts
    assert attempt.repository.host == "gitlab.example.com"
    (public,) = parse_runwatch(body(runwatch_run(provider="gitlab", run_url=None))).attempts
    assert public.repository.host == "gitlab.com"


def test_same_repository_from_both_formats_has_one_identity() -> None:
    (runwatch,) = parse_runwatch(body(runwatch_run(repository="Acme/App"))).attempts
    trunk = parse_trunk(body(trunk_request(trunk_event("r", "r"), owner="acme", name="app")))
    assert ids.repository_id("org", runwatch.repository) == ids.repository_id(
        "org", trunk.attempts[0].repository
    )


def test_trunk_spec_example() -> None:
    submission = parse_trunk(body(TRUNK_EXAMPLE), ingest_source="curl-sample")
    root, nested = submission.attempts
    assert submission.detached_spans == []
    assert submission.ingest_source == "curl-sample"
    # The first event has no parent: it is the run of chain b0ea8b0d.
    assert root.run_key == "b0ea8b0d-6574-4421-a63b-56f04eab9738"
    assert root.run_key_scope is RunKeyScope.REPOSITORY
    assert (root.pipeline.key, root.pipeline.name) == (
        "test-pipeline",
        "Trying out a test pipeline",
    )
    assert root.provider == "jenkins"
    assert root.branch == "merge-PR-1"
    assert root.tags == {
        "label": "self-hosted",
        "branch": "merge-PR-1",
        "sha": "88962a71bcfa92e5950670fc7e3f2b9f8d993b87",
    }
    assert root.metrics == {"duration_ms": 1000, "api_latency": 500}
    # finishedAt is before createdAt in the spec's example: stored, duration unknown.
    assert root.started_at == datetime.fromtimestamp(1694616487, tz=UTC)
    assert root.completed_at == datetime.fromtimestamp(1694615487, tz=UTC)
    assert root.duration_seconds is None
    # The second event's id is its chainId: a nested pipeline run linked to its parent.
    assert nested.run_key == "test-workflow-a-1"
    assert nested.parent_run_key == root.run_key
    assert nested.parent_node_key == "fba555ee-90ce-42ca-a60c-38d200e9290e"


def test_trunk_jenkins_plugin_fixture() -> None:
    fixture = real_fixture("trunk-jenkins-plugin-1.4.0.trackEvents.TrackEventsRequestTest.json")
    submission = parse_trunk(body(fixture))
    (detached,) = submission.detached_spans
    assert detached.run_key == "test-chain-id"
    span = detached.span
    assert (span.node_key, span.parent_node_key) == ("test-event-id", "test-parent-event-id")
    assert (span.name, span.definition_key, span.kind) == (
        "test-sequence-name",
        "test-sequence-key",
        "pipeline",
    )
    assert span.metrics == {"test-metric-key": 1.0}
    assert span.tags == {
        "test-sequence-tag-key": "test-sequence-tag-value",
        "test-tag-key": "test-tag-value",
    }
    assert span.duration_seconds == 0.001


def test_trunk_conclusions_map_onto_our_statuses() -> None:
    expected = {
        "SUCCESS": "success",
        "FAILURE": "failure",
        "CANCELLED": "cancelled",
        "TIMED_OUT": "timed_out",
        "SKIPPED": "skipped",
        "NEUTRAL": "skipped",
        "ACTION_REQUIRED": "pending",
        "STALE": "cancelled",
        "STARTUP_FAILURE": "failure",
        "UNSPECIFIED": "skipped",
        "success": "success",
    }
    for conclusion, status in expected.items():
        (run,) = parse_trunk(
            body(trunk_request(trunk_event("r", "r", conclusion=conclusion)))
        ).attempts
        assert (run.status.value, run.raw_status) == (status, conclusion)
    started = trunk_event("r", "r", conclusion="UNSPECIFIED", finished_at=None)
    (run,) = parse_trunk(body(trunk_request(started))).attempts
    assert run.status is Status.RUNNING
    (run,) = parse_trunk(
        body(trunk_request(trunk_event("r", "r", conclusion=None, finished_at=None)))
    ).attempts
    assert run.status is Status.RUNNING


def test_trunk_nested_kinds_are_normalised() -> None:
    request = trunk_request(trunk_event("c", "chain", parent="root", kind="Nested-Pipeline"))
    (detached,) = parse_trunk(body(request)).detached_spans
    assert detached.span.kind == "nested_pipeline"


def test_derived_ids_are_standard_uuid5() -> None:
    import uuid

    namespace = uuid.UUID("6f1d3c52-5d0b-4c7e-9a57-0c2b1f0e8a11")
    assert ids.job_id("a", "b") == str(uuid.uuid5(namespace, "job\x1fa\x1fb"))


def test_circleci_runs_name_the_code_host_they_build_from() -> None:
    payload = runwatch_run(
        provider="circleci",
        repository="acme/app",
        run_url="https://app.circleci.com/pipelines/github/acme/app/123/workflows/abc",
    )
    (attempt,) = parse_runwatch(body(payload)).attempts
    assert attempt.repository.host == "github.com"
    (unknown,) = parse_runwatch(body(runwatch_run(provider="circleci", run_url=None))).attempts
    assert unknown.repository.host == "circleci"


def test_the_real_reporters_payloads_convert_alike_twice() -> None:
    folder = REAL_FIXTURES / "runwatch-github-reporter"
    for path in sorted(folder.glob("v*.json")):
        assert parse_runwatch(path.read_bytes()) == parse_runwatch(path.read_bytes()), path.name


def test_the_runwatch_schema_takes_exactly_the_mapped_statuses() -> None:
    assert get_args(WireStatus) == RUNWATCH_STATUSES
    for raw in RUNWATCH_STATUSES:
        assert {runwatch_status(raw, finished=f) for f in (True, False)} <= set(Status)
