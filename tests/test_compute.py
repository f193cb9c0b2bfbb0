"""Compute for every source (issue 13 §2), on SQLite and PostgreSQL: RunWatch reports it
(or, when it sends none, its flat jobs sum to it); Trunk events and webhooks report none, and
get the sum of their job-level nodes' durations
(stages and steps nested in a job are inside its time, not added again). Expected figures
are worked out here from the payloads sent, not from what cipulse stored."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cipulse.accounts.service import AccountService
from cipulse.analytics.refresh import refresh_all
from cipulse.domain.compute import Node, derived_compute, job_level
from cipulse.storage.database import Database
from tests.builders import real_fixture, runwatch_job, runwatch_run, trunk_event, trunk_request
from tests.webhooks import hooked_org, post_github, read, sequence

WINDOW = {"since": "2019-01-01T00:00:00Z", "until": "2028-01-01T00:00:00Z"}
T0 = 1_700_000_000_000  # 2023-11-14, in the window


def test_the_rule_counts_the_job_level_only() -> None:
    nodes = [
        Node("build", "root", 100.0),  # under the run's own node: job level
        Node("build/compile", "build", 80.0),  # nested: inside build's time
        Node("build/test", "build", 90.0),  # parallel with compile
        Node("deploy", None, None),  # job level, unknown duration: adds 0
        Node("lint", "gone", 5.0),  # its parent is not among the nodes: job level
    ]
    assert [n.node_key for n in job_level(nodes)] == ["build", "deploy", "lint"]
    assert derived_compute(nodes) == 105.0
    assert derived_compute([Node("a", None, None)]) is None  # unknown, not zero
    assert derived_compute([]) is None


def trunk_tree(chain: str, start: int) -> tuple[list[dict[str, Any]], float]:
    """A Jenkins run: two stages under the run, the first with two parallel steps and a
    stage nested in it; and the compute expected: the two top stages' durations."""

    def event(event_id: str, parent: str | None, kind: str, begin: int, end: int) -> Any:
        return trunk_event(
            f"{chain}-{event_id}",
            chain,
            parent=None if parent is None else f"{chain}-{parent}",
            kind=kind,
            key=f"{chain}-{event_id}",
            name=event_id,
            created_at=start + begin * 1000,
            finished_at=start + end * 1000,
        )

    nodes = [
        event("build", "run", "stage", 0, 100),
        event("compile", "build", "step", 0, 80),
        event("test", "build", "step", 5, 95),
        event("inner", "build", "stage", 10, 60),
        event("deploy", "run", "stage", 100, 130),
    ]
    run = event("run", None, "pipeline", 0, 130)
    return [run, *nodes], 100.0 + 30.0


def post(client: TestClient, path: str, key: str, payload: Any, **headers: str) -> None:
    response = client.post(path, json=payload, headers={"X-API-Key": key, **headers})
    assert response.status_code == 200, response.text


def seconds(start: str, end: str) -> float:
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()


def test_compute_of_mixed_sources_reconciles_with_the_job_level(
    client: TestClient, database: Database
) -> None:
    org = hooked_org(database, "acme")
    key = AccountService(database).create_key("acme", scopes=("ingest",)).key
    expected: dict[str, float | None] = {}

    # RunWatch reports compute: it is kept as sent, even when jobs sum to something else.
    started = datetime.fromtimestamp(T0 / 1000, UTC).isoformat()
    jobs = [runwatch_job("build", duration_seconds=40), runwatch_job("test", duration_seconds=50)]
    post(
        client,
        "/functions/v1/ingest",
        key,
        runwatch_run(run_id=1, started_at=started, compute_seconds=90, jobs=jobs),
    )
    expected["runwatch 1"] = 90.0
    # …and when it sends none, the sum of its jobs' durations (its jobs are all job level).
    post(
        client,
        "/functions/v1/ingest",
        key,
        runwatch_run(run_id=2, started_at=started, compute_seconds=None, jobs=jobs),
    )
    expected["runwatch 2"] = 40.0 + 50.0

    # Trunk: the nodes first, the run after (events come in any order), one more stage later.
    events, trunk_compute = trunk_tree("chain-1", T0)
    trunk = {"x-api-token": key, "x-source": "jenkins-plugin"}
    post(client, "/v1/metrics/trackEvents", key, trunk_request(*events[1:3]), **trunk)
    post(client, "/v1/metrics/trackEvents", key, trunk_request(events[0]), **trunk)
    post(client, "/v1/metrics/trackEvents", key, trunk_request(*events[3:]), **trunk)
    expected["trunk"] = trunk_compute

    # GitHub webhooks: the jobs (with their steps nested) of a recorded push.
    deliveries = sequence("github-push-organisation")
    for delivery in deliveries:
        assert post_github(client, org.name, delivery.event, delivery.body).status_code < 300
    github_jobs = {
        d.body["workflow_job"]["id"]: d.body["workflow_job"]
        for d in deliveries
        if d.event == "workflow_job"
    }
    expected["github"] = sum(
        seconds(job["started_at"], job["completed_at"]) for job in github_jobs.values()
    )

    items = read(client, org, "/api/v1/runs", limit=100, **WINDOW)["items"]
    got: dict[str, float | None] = {}
    job_level_time = 0.0
    for item in items:
        detail = read(client, org, f"/api/v1/runs/{item['id']}")
        name = {"runwatch": f"runwatch {detail['run_key']}"}.get(
            detail["source_format"], detail["source_format"]
        )
        got[name] = detail["compute_seconds"]
        if detail["source_format"] != "runwatch":
            # What the run page shows at the job level adds up to the compute.
            job_level_time += sum(job["duration_seconds"] or 0 for job in detail["jobs"])
    assert got == pytest.approx(expected)
    assert job_level_time == pytest.approx(expected["trunk"] + expected["github"])

    total = 90.0 + 90.0 + trunk_compute + expected["github"]
    for refreshed in (False, True):
        if refreshed:
            refresh_all(database)
        summary = read(client, org, "/api/v1/analytics/summary", **WINDOW)
        assert summary["compute_seconds"] == pytest.approx(total)
        by_provider = {
            row["name"]: row["compute_seconds"]
            for row in read(client, org, "/api/v1/pipelines", **WINDOW)["items"]
        }
        assert sum(by_provider.values()) == pytest.approx(total)
        check_job_levels(client, org, total)


def jobs_at(client: TestClient, org: Any, level: str | None) -> list[dict[str, Any]]:
    params = {"limit": 1000, **WINDOW, **({"level": level} if level else {})}
    return read(client, org, "/api/v1/analytics/jobs", **params)["items"]


def check_job_levels(client: TestClient, org: Any, total_compute: float) -> None:
    """Job lists count the job level by default: their total time is the compute (every
    attempt here has its jobs' durations as compute); stages and steps nested in them are
    listed at their own level, on request."""
    jobs = jobs_at(client, org, None)
    assert {row["level"] for row in jobs} == {"job"}
    assert jobs == jobs_at(client, org, "job")
    assert sum(row["total_duration_seconds"] for row in jobs) == pytest.approx(total_compute)
    trunk = {
        row["job"]: row["total_duration_seconds"]
        for row in jobs
        if row["job"] in ("build", "deploy")
    }
    assert trunk["deploy"] == 30
    stages = jobs_at(client, org, "stage")
    assert [(row["job"], row["level"]) for row in stages] == [("inner", "stage")]
    steps = {row["job"] for row in jobs_at(client, org, "step")}
    assert {"compile", "test"} <= steps and all(
        row["level"] == "step" for row in jobs_at(client, org, "step")
    )
    every = jobs_at(client, org, "all")
    assert len(every) == len(jobs) + len(stages) + len(steps)
    bad = client.get(
        "/api/v1/analytics/jobs", params={"level": "task"}, headers={"X-API-Key": org.read_key}
    )
    assert bad.status_code == 400 and "level" in bad.text


def test_flaky_lists_count_the_job_level_unless_asked(
    client: TestClient, database: Database
) -> None:
    """A GitHub job that failed in attempt 1 and passed in attempt 2 is flaky, and so are the
    steps nested in it that did: the Flaky list (API, CSV and page) shows the job by default,
    the steps at ``level=step``, as the Jobs list does."""
    org = hooked_org(database, "acme")
    failed = real_fixture("github-workflow_job.completed.failure.with-organization.json")
    passed = real_fixture("github-workflow_job.completed.failure.with-organization.json")
    job = passed["workflow_job"]
    job.update(run_attempt=2, id=job["id"] + 1, conclusion="success")
    for step in job["steps"]:
        step["conclusion"] = "success"
    runs = []
    for attempt, conclusion in ((1, "failure"), (2, "success")):
        run = real_fixture("github-workflow_run.completed.json")
        run["workflow_run"].update(
            id=failed["workflow_job"]["run_id"], run_attempt=attempt, conclusion=conclusion
        )
        run["repository"] = failed["repository"]
        runs.append(run)
    for event, body in (
        ("workflow_run", runs[0]),
        ("workflow_job", failed),
        ("workflow_run", runs[1]),
        ("workflow_job", passed),
    ):
        assert post_github(client, org.name, event, body).status_code < 300
    refresh_all(database)

    def flaky(level: str | None) -> set[tuple[str, str]]:
        params = {"limit": 1000, **WINDOW, **({"level": level} if level else {})}
        items = read(client, org, "/api/v1/analytics/flaky", **params)["items"]
        return {(row["job"], row["level"]) for row in items}

    def flaky_in_jobs(level: str) -> set[tuple[str, str]]:
        return {(r["job"], r["level"]) for r in jobs_at(client, org, level) if r["flaky_count"]}

    assert flaky(None) == flaky("job") == {("linters", "job")} == flaky_in_jobs("job")
    steps = flaky("step")
    assert steps == {("linters / Run yarn run format-check", "step")} == flaky_in_jobs("step")
    assert flaky("all") == flaky("job") | steps
