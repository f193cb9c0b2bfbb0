"""Every figure endpoint under the filters of the change (commit, pull request, author,
event kind, part of the branch), on a tiny dataset whose numbers are worked out by hand,
on SQLite and PostgreSQL, with the rollups refreshed (a change filter must not read them)."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from cipulse.accounts.service import AccountService
from cipulse.analytics import read_plan
from cipulse.analytics.refresh import refresh_all
from cipulse.storage.database import Database
from tests.builders import runwatch_job, runwatch_run, trunk_event, trunk_request
from tests.conftest import Tenant

WINDOW = {"since": "2024-01-01T00:00:00Z", "until": "2024-01-08T00:00:00Z"}
SHA_A = "aaaa1111" + "0" * 32
SHA_B = "bbbb2222" + "0" * 32
SHA_C = "cccc3333" + "0" * 32
SHA_D = "dddd4444" + "0" * 32
GRACE = {"commit_sha": SHA_A, "commit_author": "Grace Hopper", "pull_request_number": 42}
PR = {**GRACE, "event": "pull_request", "branch": "feature/Cache"}


def attempt(
    run_id: int,
    number: int,
    status: str,
    day: int,
    hour: int,
    seconds: int,
    jobs: list[dict[str, Any]],
    **change: Any,
) -> dict[str, Any]:
    started = f"2024-01-0{day}T{hour:02d}:00:00Z"
    completed = f"2024-01-0{day}T{hour:02d}:{seconds // 60:02d}:{seconds % 60:02d}Z"
    return runwatch_run(
        run_id=run_id,
        run_attempt=number,
        status=status,
        started_at=started,
        completed_at=completed,
        duration_seconds=seconds,
        compute_seconds=seconds,
        jobs=jobs,
        **change,
    )


def job(name: str, status: str, seconds: int) -> dict[str, Any]:
    return runwatch_job(name, status, duration_seconds=seconds)


TURING = {"commit_author": "Alan Turing", "event": "push", "branch": "main"}
NIGHTLY = {"commit_sha": SHA_D, "commit_author": "Ada Lovelace", "event": "schedule"}
BUILD, TEST = job("build", "success", 40), job("test", "success", 60)

RED = [job("build", "success", 30), job("test", "failure", 20)]
GREEN = [job("build", "success", 50), job("test", "success", 70)]
BROKEN = [job("build", "failure", 80)]
FIXED = [BUILD, job("test", "success", 50)]
DEPLOY = {"branch": "main", "pipeline_name": "Deploy", **NIGHTLY}

#: Run 2 is flaky (its test job too); main goes red at run 3 and green at run 4.
DATASET = [
    attempt(1, 1, "success", 1, 10, 100, [BUILD, TEST], **PR),
    attempt(2, 1, "failure", 2, 10, 50, RED, **PR),
    attempt(2, 2, "success", 2, 11, 120, GREEN, **PR),
    attempt(3, 1, "failure", 3, 10, 80, BROKEN, commit_sha=SHA_B, **TURING),
    attempt(4, 1, "success", 4, 10, 90, FIXED, commit_sha=SHA_C, **TURING),
    attempt(5, 1, "success", 5, 10, 200, [job("build", "success", 200)], **DEPLOY),
]


@pytest.fixture
def reader(accounts: AccountService, tenant: Tenant) -> Tenant:
    return Tenant(name="acme", key=accounts.create_key("acme", scopes=("read",)).key)


@pytest.fixture
def seeded(client: TestClient, tenant: Tenant, database: Database) -> None:
    for payload in DATASET:
        response = client.post(
            "/functions/v1/ingest", json=payload, headers=tenant.runwatch_headers
        )
        assert response.status_code == 200, response.text
    refresh_all(database)


def get(client: TestClient, reader: Tenant, path: str, **params: Any) -> Any:
    response = client.get(path, params={**WINDOW, **params}, headers={"X-API-Key": reader.key})
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.usefixtures("seeded")
@pytest.mark.parametrize(
    ("params", "runs", "failures", "flaky", "compute"),
    [
        ({}, 6, 2, 1, 640),
        ({"commit": "AAAA11"}, 3, 1, 1, 270),
        ({"pull_request": "#42"}, 3, 1, 1, 270),
        ({"author": "hopper"}, 3, 1, 1, 270),
        ({"author": "turing"}, 2, 1, 0, 170),
        ({"event_kind": "push"}, 2, 1, 0, 170),
        ({"event_kind": "push,schedule"}, 3, 1, 0, 370),
        ({"branch_contains": "CACHE"}, 3, 1, 1, 270),
        ({"branch_contains": "ai"}, 3, 1, 0, 370),  # main
        ({"commit": "bbbb", "event_kind": "pull_request"}, 0, 0, 0, 0),
    ],
)
def test_summary_under_a_change_filter(
    client: TestClient,
    reader: Tenant,
    params: dict[str, str],
    runs: int,
    failures: int,
    flaky: int,
    compute: int,
) -> None:
    summary = get(client, reader, "/api/v1/analytics/summary", **params)
    assert (summary["runs"], summary["by_status"]["failure"]) == (runs, failures)
    assert (summary["flaky_runs"], summary["compute_seconds"] or 0) == (flaky, compute)
    decided = runs
    expected_rate = (runs - failures) / decided if decided else None
    assert summary["success_rate"] == pytest.approx(expected_rate)


@pytest.mark.usefixtures("seeded")
def test_timeseries_under_a_change_filter(client: TestClient, reader: Tenant) -> None:
    series = get(client, reader, "/api/v1/analytics/timeseries", event_kind="push")
    assert [point["value"] for point in series["points"]] == [0, 0, 1, 1, 0, 0, 0]
    pr = get(client, reader, "/api/v1/analytics/timeseries", pull_request="42")
    assert [point["value"] for point in pr["points"]] == [1, 2, 0, 0, 0, 0, 0]
    rate = get(client, reader, "/api/v1/analytics/timeseries", metric="success_rate", author="al")
    assert [point["value"] for point in rate["points"]][2:4] == [0.0, 1.0]


@pytest.mark.usefixtures("seeded")
def test_recovery_under_a_change_filter(client: TestClient, reader: Tenant) -> None:
    """Main goes red when run 3 completes (01-03 10:01:20) and green when run 4 does
    (01-04 10:01:30): 86,410 s; run 3's commit alone leaves main red at the window's end."""
    push = get(client, reader, "/api/v1/analytics/recovery", event_kind="push")
    assert (push["recovered_periods"], push["mttr_seconds"]) == (1, 86_410)
    alone = get(client, reader, "/api/v1/analytics/recovery", commit="bbbb2222")
    assert (alone["recovered_periods"], alone["red_at_end_count"]) == (0, 1)
    (period,) = alone["red_at_end"]
    assert period["red_since"] == "2024-01-03T10:01:20Z"
    prs = get(client, reader, "/api/v1/analytics/recovery", author="grace")
    # run 2's branch: red from 01-02 10:00:50 to 11:02:00
    assert (prs["recovered_periods"], prs["mttr_seconds"], prs["red_at_end_count"]) == (1, 3670, 0)


@pytest.mark.usefixtures("seeded")
def test_lists_under_a_change_filter(client: TestClient, reader: Tenant) -> None:
    def runs_of(**params: str) -> dict[str, int]:
        rows = get(client, reader, "/api/v1/pipelines", **params)["items"]
        return {row["name"]: row["runs"] for row in rows}

    assert runs_of(event_kind="schedule") == {"CI Pipeline": 0, "Deploy": 1}
    assert runs_of(author="turing") == {"CI Pipeline": 2, "Deploy": 0}
    (repository,) = get(client, reader, "/api/v1/repositories", commit="aaaa")["items"]
    assert repository["runs"] == 3
    jobs = get(client, reader, "/api/v1/analytics/jobs", event_kind="push", sort="job")["items"]
    assert [(row["job"], row["runs"], row["success_rate"]) for row in jobs] == [
        ("build", 2, 0.5),
        ("test", 1, 1.0),
    ]
    flaky = get(client, reader, "/api/v1/analytics/flaky", pull_request="42")["items"]
    assert [(row["job"], row["flaky_count"]) for row in flaky] == [("test", 1)]
    assert get(client, reader, "/api/v1/analytics/flaky", event_kind="push")["items"] == []


def test_custom_metrics_under_a_change_filter(
    client: TestClient, tenant: Tenant, reader: Tenant, database: Database
) -> None:
    day = 1_704_103_200_000  # 2024-01-01T10:00:00Z
    events = trunk_request(
        *(
            trunk_event(
                f"r{i}",
                f"c{i}",
                kind="pipeline",
                created_at=day + i * 60_000,
                finished_at=day + i * 60_000 + 30_000,
                metrics={"coverage": value},
                tags={"sha": sha},
            )
            for i, (value, sha) in enumerate([(80, SHA_A), (60, SHA_B), (70, SHA_A)])
        )
    )
    response = client.post("/v1/metrics/trackEvents", json=events, headers=tenant.trunk_headers)
    assert response.status_code == 200, response.text
    refresh_all(database)
    answer = get(client, reader, "/api/v1/analytics/custom-metrics", key="coverage", commit="aaaa")
    (group,) = answer["groups"]
    first = group["points"][0]
    assert (first["count"], first["sum"]) == (2, 150)
    keys = get(client, reader, "/api/v1/analytics/custom-metrics/keys", commit="bbbb")
    assert keys["metrics"] == ["coverage"]
    assert get(client, reader, "/api/v1/analytics/custom-metrics/keys", commit="cccc") == {
        "metrics": [],
        "tags": [],
    }


@pytest.mark.usefixtures("seeded")
@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/analytics/summary",
        "/api/v1/analytics/timeseries",
        "/api/v1/analytics/recovery",
        "/api/v1/analytics/jobs",
        "/api/v1/pipelines",
    ],
)
def test_bad_change_filters_are_refused_everywhere(
    client: TestClient, reader: Tenant, path: str
) -> None:
    response = client.get(
        path,
        params={**WINDOW, "commit": "xyz", "pull_request": "no", "event_kind": "merge"},
        headers={"X-API-Key": reader.key},
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert "commit:" in error


@pytest.mark.usefixtures("seeded")
def test_unindexed_change_filters_are_bounded(
    client: TestClient, reader: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Figures under author, branch_contains or event_kind alone are refused, naming each,
    when more attempts match than ``RAW_CHANGE_LIMIT`` (1 here: two pushes match); over a
    window of more attempts than that, they are computed when few match; with a commit or
    a pull request, or over a pipeline with fewer runs, they are computed; the runs list is
    never bounded (it reads a page)."""
    monkeypatch.setattr(read_plan, "RAW_CHANGE_LIMIT", 1)
    response = client.get(
        "/api/v1/analytics/summary",
        params={**WINDOW, "event_kind": "push", "branch_contains": "a"},
        headers={"X-API-Key": reader.key},
    )
    assert response.status_code == 400
    assert response.json()["error"] == (
        "branch_contains: figures under this filter are computed from at most 1 runs and "
        "more match; narrow the window, choose a pipeline or repository, or add commit or "
        "pull_request; event_kind: figures under this filter are computed from at most 1 "
        "runs and more match; narrow the window, choose a pipeline or repository, or add "
        "commit or pull_request"
    )
    for path in ("/api/v1/analytics/jobs", "/api/v1/pipelines", "/api/v1/analytics/recovery"):
        refused = client.get(
            path, params={**WINDOW, "event_kind": "push"}, headers={"X-API-Key": reader.key}
        )
        assert refused.status_code == 400, path
    assert get(client, reader, "/api/v1/analytics/summary", author="nobody")["runs"] == 0
    with_pr = get(client, reader, "/api/v1/analytics/summary", event_kind="push", pull_request="42")
    assert with_pr["runs"] == 0
    deploy = get(
        client, reader, "/api/v1/analytics/summary", event_kind="schedule", pipeline="Deploy"
    )
    assert deploy["runs"] == 1
    assert len(get(client, reader, "/api/v1/runs", event_kind="push")["items"]) == 2


@pytest.mark.usefixtures("seeded")
def test_change_filters_search_a_bounded_window(
    client: TestClient, reader: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Over more attempts than ``SEARCHED_CHANGE_LIMIT`` (3 here: the window holds 6), each
    is not searched for the few that match: refused, naming the filter, matches or not."""
    monkeypatch.setattr(read_plan, "RAW_CHANGE_LIMIT", 1)
    monkeypatch.setattr(read_plan, "SEARCHED_CHANGE_LIMIT", 3)
    response = client.get(
        "/api/v1/analytics/summary",
        params={**WINDOW, "author": "nobody"},
        headers={"X-API-Key": reader.key},
    )
    assert response.status_code == 400
    assert response.json()["error"] == (
        "author: figures under this filter are searched in at most 3 runs and this window "
        "holds more; narrow the window, choose a pipeline or repository, or add commit or "
        "pull_request"
    )
