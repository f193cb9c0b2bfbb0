"""The read API and the run-level metric definitions, on tiny hand-written datasets whose
expected numbers are worked out by hand here, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from cipulse.accounts.service import AccountService
from cipulse.storage.database import Database
from cipulse.storage.schema import api_keys
from tests.builders import TRUNK_EXAMPLE, runwatch_run
from tests.conftest import Tenant, make_tenant

WINDOW = {"since": "2024-01-01T00:00:00Z", "until": "2024-01-08T00:00:00Z"}


def attempt(
    run_id: int,
    attempt_number: int,
    status: str,
    started_at: str,
    duration: float | None = None,
    compute: float | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A RunWatch run attempt without jobs; ``duration`` None leaves it unknown."""
    return runwatch_run(
        run_id=run_id,
        run_attempt=attempt_number,
        status=status,
        started_at=started_at,
        completed_at=None,
        duration_seconds=duration,
        compute_seconds=compute,
        jobs=[],
        **extra,
    )


#: Nine attempts in the window (2024-01-01 .. 2024-01-08), one before it, one after it.
DATASET = [
    attempt(1, 1, "success", "2024-01-01T10:00:00Z", 100, 200),
    attempt(2, 1, "failure", "2024-01-02T10:00:00Z", 50, 80),
    attempt(2, 2, "success", "2024-01-02T11:00:00Z", 120, 220),  # run 2 is flaky
    attempt(3, 1, "cancelled", "2024-01-03T10:00:00Z", 10, 5),
    attempt(4, 1, "timed_out", "2024-01-04T10:00:00Z", 300, 300),
    attempt(5, 1, "success", "2024-01-05T10:00:00Z"),  # unknown duration and compute
    attempt(6, 1, "skipped", "2024-01-06T10:00:00Z"),
    attempt(7, 1, "running", "2024-01-07T10:00:00Z"),
    attempt(8, 1, "failure", "2023-12-31T23:00:00Z", 30, 40),  # previous window
    attempt(8, 2, "success", "2024-01-01T01:00:00Z", 90, 150),  # run 8 is flaky, counted here
    attempt(9, 1, "success", "2024-01-08T00:00:00Z", 60, 60),  # until is exclusive
]


@pytest.fixture
def reader(accounts: AccountService, tenant: Tenant) -> Tenant:
    return Tenant(name="acme", key=accounts.create_key("acme", scopes=("read",)).key)


@pytest.fixture
def seeded(client: TestClient, tenant: Tenant) -> None:
    for payload in DATASET:
        response = client.post(
            "/functions/v1/ingest", json=payload, headers=tenant.runwatch_headers
        )
        assert response.status_code == 200, response.text


def get(client: TestClient, reader: Tenant, path: str, **params: Any) -> Any:
    response = client.get(path, params=params, headers={"X-API-Key": reader.key})
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.usefixtures("seeded")
def test_summary_numbers_worked_out_by_hand(client: TestClient, reader: Tenant) -> None:
    summary = get(client, reader, "/api/v1/analytics/summary", **WINDOW)
    assert summary["runs"] == 9
    assert summary["by_status"] == {
        "success": 4,
        "failure": 1,
        "cancelled": 1,
        "running": 1,
        "queued": 0,
        "pending": 0,
        "skipped": 1,
        "timed_out": 1,
    }
    assert summary["success_rate"] == pytest.approx(4 / 6)  # cancelled/skipped/running left out
    assert summary["first_attempt_success_rate"] == pytest.approx(2 / 4)  # runs 1, 2, 4, 5
    assert summary["p50_duration_seconds"] == 100  # successes of known duration: 90, 100, 120
    assert summary["p95_duration_seconds"] == 120
    assert summary["mean_duration_seconds"] == pytest.approx(310 / 3)
    assert summary["compute_seconds"] == 955  # 200+80+220+5+300+150
    assert summary["throughput_per_day"] == pytest.approx(9 / 7)
    assert summary["flaky_runs"] == 2  # runs 2 and 8 (its failing attempt is before the window)
    assert summary["flaky_rate"] == pytest.approx(
        2 / 5
    )  # runs with a decided attempt: 1, 2, 4, 5, 8
    assert summary["retry_compute_seconds"] == 120  # 80 + 40
    previous = summary["previous"]
    assert previous["window"] == {
        "since": "2023-12-25T00:00:00Z",
        "until": "2024-01-01T00:00:00Z",
        "days": 7.0,
    }
    assert (previous["runs"], previous["success_rate"], previous["flaky_runs"]) == (1, 0.0, 0)


@pytest.mark.usefixtures("seeded")
def test_a_status_filter_chooses_the_durations(client: TestClient, reader: Tenant) -> None:
    summary = get(client, reader, "/api/v1/analytics/summary", status="failure,timed_out", **WINDOW)
    assert summary["runs"] == 2
    assert (summary["p50_duration_seconds"], summary["p95_duration_seconds"]) == (50, 300)


@pytest.mark.usefixtures("seeded")
def test_filters_narrow_the_attempts(client: TestClient, reader: Tenant) -> None:
    assert get(client, reader, "/api/v1/analytics/summary", branch="main", **WINDOW)["runs"] == 9
    assert get(client, reader, "/api/v1/analytics/summary", branch="dev", **WINDOW)["runs"] == 0
    assert (
        get(client, reader, "/api/v1/analytics/summary", repository="ACME/Cool-Project", **WINDOW)[
            "runs"
        ]
        == 9
    )
    assert (
        get(client, reader, "/api/v1/analytics/summary", pipeline="CI Pipeline", **WINDOW)["runs"]
        == 9
    )
    empty = get(client, reader, "/api/v1/analytics/summary", actor="nobody", **WINDOW)
    assert (empty["runs"], empty["success_rate"], empty["p50_duration_seconds"]) == (0, None, None)


@pytest.mark.usefixtures("seeded")
def test_runs_are_paged_newest_first(client: TestClient, reader: Tenant) -> None:
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params = {"limit": 4, **WINDOW, **({"cursor": cursor} if cursor else {})}
        page = get(client, reader, "/api/v1/runs", **params)
        seen += [item["started_at"] for item in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert len(seen) == 9
    assert seen == sorted(seen, reverse=True)


@pytest.mark.usefixtures("seeded")
def test_a_run_with_its_other_attempts(client: TestClient, reader: Tenant, tenant: Tenant) -> None:
    run_id = client.post(
        "/functions/v1/ingest", json=DATASET[2], headers=tenant.runwatch_headers
    ).json()["pipeline_run_id"]
    detail = get(client, reader, f"/api/v1/runs/{run_id}")
    assert (detail["attempt"], detail["status"], detail["run_key"]) == (2, "success", "2")
    assert [(a["attempt"], a["status"]) for a in detail["attempts"]] == [
        (1, "failure"),
        (2, "success"),
    ]


def test_trunk_runs_show_their_job_tree(client: TestClient, reader: Tenant, tenant: Tenant) -> None:
    from tests.builders import trunk_event, trunk_request

    events = trunk_request(
        trunk_event("root", "chain", kind="pipeline", created_at=1704100000000),
        trunk_event("stage", "chain", parent="root", kind="stage"),
        trunk_event("step", "chain", parent="stage", kind="step", metrics={"tests": 12}),
    )
    client.post("/v1/metrics/trackEvents", json=events, headers=tenant.trunk_headers)
    (run,) = get(client, reader, "/api/v1/runs", since="2024-01-01T00:00:00Z")["items"]
    detail = get(client, reader, f"/api/v1/runs/{run['id']}")
    (stage,) = detail["jobs"]
    assert (stage["kind"], [c["kind"] for c in stage["children"]]) == ("stage", ["step"])
    assert stage["children"][0]["metrics"] == {"tests": 12}


@pytest.mark.usefixtures("seeded")
def test_repositories_and_pipelines_carry_their_metrics(client: TestClient, reader: Tenant) -> None:
    (repository,) = get(client, reader, "/api/v1/repositories", **WINDOW)["items"]
    assert (repository["full_name"], repository["runs"], repository["flaky_runs"]) == (
        "acme/cool-project",
        9,
        2,
    )
    (pipeline,) = get(client, reader, "/api/v1/pipelines", **WINDOW)["items"]
    assert (pipeline["name"], pipeline["runs"]) == ("CI Pipeline", 9)
    assert pipeline["success_rate"] == pytest.approx(4 / 6)


@pytest.mark.usefixtures("seeded")
def test_csv(client: TestClient, reader: Tenant) -> None:
    response = client.get(
        "/api/v1/runs",
        params={"format": "csv", "limit": 2, **WINDOW},
        headers={"X-API-Key": reader.key},
    )
    assert response.headers["content-type"].startswith("text/csv")
    lines = response.text.strip().splitlines()
    assert len(lines) == 3 and lines[0].startswith("id,repository,")
    assert "x-next-cursor" in response.headers
    summary = client.get(
        "/api/v1/analytics/summary",
        params={"format": "csv", **WINDOW},
        headers={"X-API-Key": reader.key},
    )
    assert "previous.runs" in summary.text.splitlines()[0]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"since": "yesterday"}, "since: not an ISO 8601 time"),
        ({"until": "2024-13-01"}, "until: not an ISO 8601 time"),
        (
            {"since": "2024-02-01T00:00:00Z", "until": "2024-01-01T00:00:00Z"},
            "since: must be before until",
        ),
        ({"status": "green"}, "status: must be one of success, failure"),
        ({"tag": "novalue"}, "tag: must be key:value"),
        ({"format": "xml"}, "format: must be json or csv"),
        ({"limit": "0"}, "limit: must be from 1 to 1000"),
        ({"limit": "many"}, "limit:"),
        ({"cursor": "!!!"}, "cursor: not a cursor this API returned"),
    ],
)
def test_bad_parameters_get_400_naming_them(
    client: TestClient, reader: Tenant, params: dict[str, str], message: str
) -> None:
    response = client.get("/api/v1/runs", params=params, headers={"X-API-Key": reader.key})
    assert response.status_code == 400
    assert message in response.json()["error"]


def test_keys_need_the_read_scope(client: TestClient, tenant: Tenant) -> None:
    assert client.get("/api/v1/runs").status_code == 401
    assert client.get("/api/v1/runs", headers={"X-API-Key": "cip_0_nope"}).status_code == 401
    forbidden = client.get("/api/v1/runs", headers={"X-API-Key": tenant.key})
    assert (forbidden.status_code, forbidden.json()) == (
        403,
        {"error": "API key lacks the 'read' scope", "code": "forbidden"},
    )


@pytest.mark.usefixtures("seeded")
def test_tenants_never_read_each_other(
    client: TestClient, reader: Tenant, tenant: Tenant, accounts: AccountService
) -> None:
    other = make_tenant(accounts, "globex", scopes=("ingest", "read"))
    assert get(client, other, "/api/v1/analytics/summary", **WINDOW)["runs"] == 0
    assert get(client, other, "/api/v1/runs", **WINDOW)["items"] == []
    assert get(client, other, "/api/v1/repositories", **WINDOW)["items"] == []
    assert get(client, other, "/api/v1/pipelines", **WINDOW)["items"] == []
    run_id = get(client, reader, "/api/v1/runs", **WINDOW)["items"][0]["id"]
    missing = client.get(f"/api/v1/runs/{run_id}", headers={"X-API-Key": other.key})
    assert missing.status_code == 404


def test_unknown_run_id(client: TestClient, reader: Tenant) -> None:
    for run_id in ("not-a-uuid", "00000000-0000-0000-0000-000000000000"):
        response = client.get(f"/api/v1/runs/{run_id}", headers={"X-API-Key": reader.key})
        assert response.status_code == 404


def test_trunk_example_summary(client: TestClient, reader: Tenant, tenant: Tenant) -> None:
    client.post("/v1/metrics/trackEvents", json=TRUNK_EXAMPLE, headers=tenant.trunk_headers)
    summary = get(
        client,
        reader,
        "/api/v1/analytics/summary",
        since="2023-09-01T00:00:00Z",
        until="2023-10-01T00:00:00Z",
    )
    assert summary["runs"] == 2
    assert summary["p50_duration_seconds"] is None  # finishedAt before createdAt: unknown
    tagged = get(
        client,
        reader,
        "/api/v1/analytics/summary",
        since="2023-09-01T00:00:00Z",
        until="2023-10-01T00:00:00Z",
        tag="sha:88962a71bcfa92e5950670fc7e3f2b9f8d993b87",
    )
    assert tagged["runs"] == 2


@pytest.mark.usefixtures("seeded")
def test_timeseries_by_day_with_empty_buckets(client: TestClient, reader: Tenant) -> None:
    series = get(
        client, reader, "/api/v1/analytics/timeseries", metric="runs", interval="day", **WINDOW
    )
    assert [p["start"][:10] for p in series["points"]] == [f"2024-01-0{d}" for d in range(1, 8)]
    assert [p["value"] for p in series["points"]] == [2, 2, 1, 1, 1, 1, 1]
    flaky = get(
        client,
        reader,
        "/api/v1/analytics/timeseries",
        metric="flaky_runs",
        interval="day",
        **WINDOW,
    )
    assert [p["value"] for p in flaky["points"]] == [1, 1, 0, 0, 0, 0, 0]
    rate = get(
        client,
        reader,
        "/api/v1/analytics/timeseries",
        metric="success_rate",
        interval="day",
        **WINDOW,
    )
    assert [p["value"] for p in rate["points"]] == [1.0, 0.5, None, 0.0, 1.0, None, None]
    hours = get(
        client, reader, "/api/v1/analytics/timeseries", metric="runs", interval="hour", **WINDOW
    )
    assert len(hours["points"]) == 7 * 24
    assert sum(p["value"] for p in hours["points"]) == 9
    # 2024-01-01 is a Monday: one weekly bucket holds the whole window.
    weeks = get(
        client, reader, "/api/v1/analytics/timeseries", metric="runs", interval="week", **WINDOW
    )
    assert [(p["start"], p["value"]) for p in weeks["points"]] == [("2024-01-01T00:00:00Z", 9)]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"metric": "speed"}, "metric: must be one of runs, success_rate"),
        ({"interval": "minute"}, "interval: must be one of hour, day, week"),
        (
            {"interval": "hour", "since": "2020-01-01T00:00:00Z", "until": "2024-01-01T00:00:00Z"},
            "interval:",
        ),
    ],
)
def test_timeseries_parameters(
    client: TestClient, reader: Tenant, params: dict[str, str], message: str
) -> None:
    response = client.get(
        "/api/v1/analytics/timeseries", params=params, headers={"X-API-Key": reader.key}
    )
    assert response.status_code == 400
    assert message in response.json()["error"]


def outcome(run_id: int, status: str, completed_at: str, branch: str = "main") -> dict[str, Any]:
    """A run that ended at ``completed_at`` (and started ten minutes before)."""
    from datetime import datetime, timedelta

    completed = datetime.fromisoformat(completed_at.replace("Z", "+00:00"))
    started = (completed - timedelta(minutes=10)).isoformat().replace("+00:00", "Z")
    return runwatch_run(
        run_id=run_id,
        status=status,
        started_at=started,
        completed_at=completed_at,
        duration_seconds=None,
        jobs=[],
        branch=branch,
    )


RED_AND_GREEN = [
    outcome(1, "failure", "2023-12-31T20:00:00Z"),  # starts the history: red since then
    outcome(2, "success", "2024-01-01T00:10:00Z"),  # recovers: 4h10m = 15000 s, in the window
    outcome(3, "failure", "2024-01-02T00:00:00Z"),
    outcome(4, "failure", "2024-01-02T06:00:00Z"),
    outcome(5, "success", "2024-01-02T12:00:00Z"),  # 12 h = 43200 s
    outcome(6, "timed_out", "2024-01-05T00:00:00Z"),
    outcome(7, "cancelled", "2024-01-05T00:30:00Z"),  # neither red nor green
    outcome(8, "success", "2024-01-05T01:00:00Z"),  # 1 h = 3600 s
    outcome(9, "failure", "2024-01-07T00:00:00Z"),  # red now
    outcome(10, "failure", "2024-01-03T00:00:00Z", branch="dev"),  # red now, other branch
]


def test_recovery_worked_out_by_hand(client: TestClient, reader: Tenant, tenant: Tenant) -> None:
    for payload in RED_AND_GREEN:
        assert (
            client.post(
                "/functions/v1/ingest", json=payload, headers=tenant.runwatch_headers
            ).status_code
            == 200
        )
    recovery = get(client, reader, "/api/v1/analytics/recovery", **WINDOW)
    assert recovery["mttr_seconds"] == pytest.approx((15000 + 43200 + 3600) / 3)
    # Newest first.
    assert [(p["branch"], p["seconds"], p["failing_attempts"]) for p in recovery["periods"]] == [
        ("main", 3600, 1),
        ("main", 43200, 2),
        ("main", 15000, 1),
    ]
    assert (recovery["recovered_periods"], recovery["red_at_end_count"]) == (3, 2)
    first = get(client, reader, "/api/v1/analytics/recovery", limit=1, **WINDOW)
    shown = (len(first["periods"]), first["recovered_periods"], len(first["red_at_end"]))
    assert shown == (1, 3, 1)
    assert [(p["branch"], p["red_since"]) for p in recovery["red_at_end"]] == [
        ("dev", "2024-01-03T00:00:00Z"),
        ("main", "2024-01-07T00:00:00Z"),
    ]
    summary = get(client, reader, "/api/v1/analytics/summary", **WINDOW)
    assert summary["mttr_seconds"] == pytest.approx(20600)
    assert summary["red_at_end"] == 2 and summary["red_now"] is None
    # A window that ends before the last recoveries: the red period crossing its edge is open.
    early = get(
        client,
        reader,
        "/api/v1/analytics/recovery",
        since="2024-01-01T00:00:00Z",
        until="2024-01-02T09:00:00Z",
    )
    assert early["mttr_seconds"] == 15000
    assert [p["red_since"] for p in early["red_at_end"]] == ["2024-01-02T00:00:00Z"]
    main_only = get(client, reader, "/api/v1/analytics/recovery", branch="dev", **WINDOW)
    assert (main_only["mttr_seconds"], len(main_only["red_at_end"])) == (None, 1)


def job(name: str, status: str, start: str, end: str) -> dict[str, Any]:
    return {"name": name, "status": status, "started_at": start, "completed_at": end}


WITH_JOBS = [
    runwatch_run(
        run_id=1,
        run_attempt=1,
        status="success",
        started_at="2024-01-01T10:00:00Z",
        completed_at="2024-01-01T10:05:00Z",
        compute_seconds=390,
        jobs=[
            job("build", "success", "2024-01-01T10:00:00Z", "2024-01-01T10:02:00Z"),
            job("test", "success", "2024-01-01T10:01:00Z", "2024-01-01T10:05:00Z"),
            job("lint", "success", "2024-01-01T10:00:00Z", "2024-01-01T10:00:30Z"),
        ],
    ),
    runwatch_run(
        run_id=2,
        run_attempt=1,
        status="failure",
        started_at="2024-01-02T10:00:00Z",
        completed_at="2024-01-02T10:02:40Z",
        compute_seconds=160,
        jobs=[
            job("build", "success", "2024-01-02T10:00:00Z", "2024-01-02T10:01:00Z"),
            job("test", "failure", "2024-01-02T10:01:00Z", "2024-01-02T10:02:40Z"),
        ],
    ),
    runwatch_run(
        run_id=2,
        run_attempt=2,
        status="success",
        started_at="2024-01-02T11:00:00Z",
        completed_at="2024-01-02T11:04:20Z",
        compute_seconds=260,
        jobs=[
            job("build", "success", "2024-01-02T11:00:00Z", "2024-01-02T11:01:00Z"),
            job("test", "success", "2024-01-02T11:01:00Z", "2024-01-02T11:04:20Z"),
        ],
    ),
]


@pytest.fixture
def seeded_jobs(client: TestClient, tenant: Tenant) -> None:
    for payload in WITH_JOBS:
        assert (
            client.post(
                "/functions/v1/ingest", json=payload, headers=tenant.runwatch_headers
            ).status_code
            == 200
        )


@pytest.mark.usefixtures("seeded_jobs")
def test_job_metrics_worked_out_by_hand(client: TestClient, reader: Tenant) -> None:
    jobs = {
        row["job"]: row for row in get(client, reader, "/api/v1/analytics/jobs", **WINDOW)["items"]
    }
    assert set(jobs) == {"build", "lint", "test"}
    test = jobs["test"]
    assert (test["runs"], test["failure_count"], test["flaky_count"]) == (3, 1, 1)
    assert test["success_rate"] == pytest.approx(2 / 3)
    assert (test["p50_duration_seconds"], test["p95_duration_seconds"]) == (200, 240)
    assert test["mean_duration_seconds"] == 220
    assert test["total_duration_seconds"] == 540
    assert test["exclusive_seconds"] == 180 + 100 + 200  # alone after build ends, each attempt
    build = jobs["build"]
    assert (build["runs"], build["success_rate"], build["flaky_count"]) == (3, 1.0, 0)
    assert (build["p50_duration_seconds"], build["p95_duration_seconds"]) == (60, 120)
    assert build["exclusive_seconds"] == 30 + 60 + 60
    assert build["total_duration_seconds"] == 240
    assert jobs["lint"]["exclusive_seconds"] == 0  # always ran beside build
    assert test["pipeline"] == "CI Pipeline" and test["repository"] == "acme/cool-project"


@pytest.mark.usefixtures("seeded_jobs")
def test_flaky_jobs_ranking(client: TestClient, reader: Tenant) -> None:
    (flaky,) = get(client, reader, "/api/v1/analytics/flaky", **WINDOW)["items"]
    assert (flaky["job"], flaky["flaky_count"], flaky["runs"]) == ("test", 1, 3)
    assert flaky["flaky_rate"] == pytest.approx(1 / 3)
    assert flaky["retry_compute_seconds"] == 160
    assert flaky["last_flaky_at"] == "2024-01-02T11:00:00Z"
    summary = get(client, reader, "/api/v1/analytics/summary", **WINDOW)
    assert (summary["flaky_runs"], summary["retry_compute_seconds"]) == (1, 160)


def test_custom_metrics_by_day_and_by_tag(
    client: TestClient, reader: Tenant, tenant: Tenant
) -> None:
    from tests.builders import trunk_event, trunk_request

    day1, day2 = 1704103200000, 1704189600000  # 2024-01-01T10:00Z, 2024-01-02T10:00Z
    events = trunk_request(
        trunk_event(
            "r1",
            "c1",
            kind="pipeline",
            created_at=day1,
            finished_at=day1 + 60_000,
            metrics={"coverage": 80},
            tags={"runner": "linux"},
        ),
        trunk_event(
            "n1",
            "c1",
            parent="r1",
            created_at=day1 + 300_000,
            finished_at=day1 + 360_000,
            metrics={"coverage": 90},
            tags={"runner": "mac"},
        ),
        trunk_event(
            "r2",
            "c2",
            kind="pipeline",
            created_at=day2,
            finished_at=day2 + 60_000,
            metrics={"coverage": 70, "tests": 5},
            tags={"runner": "linux"},
        ),
        trunk_event(
            "r3",
            "c3",
            kind="pipeline",
            created_at=day2 + 7_200_000,
            finished_at=day2 + 7_260_000,
            metrics={"coverage": 60},
        ),
    )
    assert (
        client.post(
            "/v1/metrics/trackEvents", json=events, headers=tenant.trunk_headers
        ).status_code
        == 200
    )
    keys = get(client, reader, "/api/v1/analytics/custom-metrics/keys", **WINDOW)
    assert keys == {"metrics": ["coverage", "tests"], "tags": ["runner"]}
    (overall,) = get(client, reader, "/api/v1/analytics/custom-metrics", key="coverage", **WINDOW)[
        "groups"
    ]
    first, second, third = overall["points"][:3]
    assert (first["count"], first["sum"], first["mean"], first["p50"], first["p95"]) == (
        2,
        170,
        85,
        80,
        90,
    )
    assert (second["count"], second["sum"], second["p50"], second["p95"]) == (2, 130, 60, 70)
    assert (third["count"], third["mean"]) == (0, None)
    assert len(overall["points"]) == 7
    grouped = get(
        client,
        reader,
        "/api/v1/analytics/custom-metrics",
        key="coverage",
        group_by="tag:runner",
        **WINDOW,
    )
    summary = {g["group"]: [p["sum"] for p in g["points"][:2]] for g in grouped["groups"]}
    assert summary == {"linux": [80, 70], "mac": [90, 0], None: [0, 60]}
    bad = client.get(
        "/api/v1/analytics/custom-metrics",
        params={"key": "coverage", "group_by": "runner"},
        headers={"X-API-Key": reader.key},
    )
    assert (bad.status_code, bad.json()["error"]) == (
        400,
        "group_by: must be tag:<tag key> (e.g. group_by=tag:runner)",
    )
    missing = client.get("/api/v1/analytics/custom-metrics", headers={"X-API-Key": reader.key})
    assert missing.status_code == 400 and missing.json()["error"].startswith("key: required")


@pytest.mark.parametrize(
    ("path", "params", "message"),
    [
        ("/api/v1/pipelines", {"sort": "colour"}, "sort: must be one of name, full_name, runs"),
        ("/api/v1/analytics/jobs", {"sort": "-nope"}, "sort: must be one of job, pipeline, runs"),
        ("/api/v1/analytics/flaky", {"limit": "1001"}, "limit: must be from 1 to 1000"),
        ("/api/v1/repositories", {"cursor": "bm9wZQ=="}, "cursor: not a cursor"),
        ("/api/v1/analytics/summary", {"days": "0"}, "days: must be a whole number"),
        ("/api/v1/analytics/summary", {"days": "x"}, "days: must be a whole number"),
        (
            "/api/v1/analytics/summary",
            {"days": "7", "since": "2024-01-01T00:00:00Z"},
            "days: give since or days, not both",
        ),
    ],
)
def test_list_and_window_parameters_get_400_naming_them(
    client: TestClient, reader: Tenant, path: str, params: dict[str, str], message: str
) -> None:
    response = client.get(path, params=params, headers={"X-API-Key": reader.key})
    assert response.status_code == 400, response.text
    assert message in response.json()["error"]


@pytest.mark.usefixtures("seeded_jobs")
def test_analytics_lists_are_sorted_and_paged(client: TestClient, reader: Tenant) -> None:
    everything = get(client, reader, "/api/v1/analytics/jobs", **WINDOW)
    assert everything["next_cursor"] is None
    by_time = [row["total_duration_seconds"] for row in everything["items"]]
    assert by_time == sorted(by_time, reverse=True)  # where CI time goes, first
    seen, cursor = [], None
    while True:
        params: dict[str, Any] = {"limit": 1, "sort": "job", **WINDOW}
        if cursor:
            params["cursor"] = cursor
        page = get(client, reader, "/api/v1/analytics/jobs", **params)
        seen += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert [row["job"] for row in seen] == ["build", "lint", "test"]
    assert [row["p50_duration_seconds"] for row in seen] == [
        row["p50_duration_seconds"]
        for row in sorted(everything["items"], key=lambda row: row["job"])
    ]
    slowest = get(client, reader, "/api/v1/analytics/jobs", sort="-p95_duration_seconds", **WINDOW)
    p95 = [row["p95_duration_seconds"] for row in slowest["items"]]
    assert p95 == sorted(p95, reverse=True)


@pytest.mark.usefixtures("seeded")
def test_the_default_window_is_whole_days_ending_today(client: TestClient, reader: Tenant) -> None:
    from datetime import UTC, datetime, timedelta

    tomorrow = datetime.now(UTC).date() + timedelta(days=1)
    window = get(client, reader, "/api/v1/analytics/summary")["window"]
    assert window["until"] == f"{tomorrow.isoformat()}T00:00:00Z"
    assert window["days"] == 30
    week = get(client, reader, "/api/v1/analytics/summary", days=7)["window"]
    assert (week["until"], week["days"]) == (window["until"], 7)
    assert week["since"] == f"{(tomorrow - timedelta(days=7)).isoformat()}T00:00:00Z"


def test_a_read_key_records_its_use_at_most_once_a_minute(
    client: TestClient, accounts: AccountService, database: Database
) -> None:
    """Its "last used" is written when it reads and the stored time is over a minute old,
    not on every read."""
    reader = make_tenant(accounts, "readers", scopes=("read",))
    (key,) = accounts.keys("readers")
    assert key.last_used_at is None

    def read() -> datetime | None:
        response = client.get("/api/v1/analytics/summary", headers={"X-API-Key": reader.key})
        assert response.status_code == 200, response.text
        (used,) = accounts.keys("readers")
        return used.last_used_at

    first = read()
    assert first is not None
    assert read() == first  # within the minute: nothing written
    with database.write() as conn:  # as if the last use were two minutes ago
        conn.execute(
            sa.update(api_keys)
            .where(api_keys.c.prefix == key.prefix)
            .values(last_used_at_ms=int(first.timestamp() * 1000) - 120_000)
        )
    again = read()
    assert again is not None and again >= first
