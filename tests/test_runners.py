"""Runner label sets (issue 16 §2): the runner rollup and ``/analytics/runners``.

A tiny dataset whose figures are worked out by hand below, read before the refresh (raw
pieces and new runs) and after it (the stored ``runner_rollups``), on SQLite and
PostgreSQL; a retry and a late job move the stored figures; the rollup read and a read of
the raw rows agree on a window with partial days."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from starlette.testclient import TestClient

from cipulse.accounts.service import AccountService
from cipulse.analytics import runner_figures, runner_metrics
from cipulse.analytics.refresh import refresh_all
from cipulse.domain.window import Window
from cipulse.storage.database import Database
from tests.builders import runwatch_run
from tests.conftest import Tenant, rows

WINDOW = {"since": "2024-01-01T00:00:00Z", "until": "2024-01-08T00:00:00Z"}
UBUNTU = "ubuntu-latest"
GPU = "gpu,self-hosted"  # sent as ["self-hosted", "gpu"]


def job(
    name: str,
    status: str,
    start: str,
    end: str,
    seconds: float,
    labels: list[str] | None,
    queued: float | None = None,
    **fields: Any,
) -> dict[str, Any]:
    found: dict[str, Any] = {
        "name": name,
        "status": status,
        "started_at": f"2024-01-0{start}Z",
        "completed_at": f"2024-01-0{end}Z",
        "duration_seconds": seconds,
        **fields,
    }
    if labels is not None:
        found["runner_labels"] = labels
    if queued is not None:
        found["queued_seconds"] = queued
    return found


def attempt(
    run_id: int, number: int, status: str, start: str, end: str, jobs: list[dict[str, Any]]
) -> dict[str, Any]:
    return runwatch_run(
        run_id=run_id,
        run_attempt=number,
        status=status,
        started_at=f"2024-01-0{start}Z",
        completed_at=f"2024-01-0{end}Z",
        duration_seconds=None,
        jobs=jobs,
    )


SELF_GPU = ["self-hosted", "gpu"]
#: Run 1 failed (its test job lost its runner: infrastructure) and passed on a retry; run 2
#: was cancelled, its one job on no named runner.
DATASET = [
    attempt(1, 1, "failure", "2T10:00:00", "2T11:01:00", [
        job("build", "success", "2T10:00:00", "2T10:01:30", 90, [UBUNTU], 30),
        job("test", "failure", "2T10:02:00", "2T10:03:01", 61, [UBUNTU], 10,
            failure_reason="runner_lost"),
        job("gpu", "success", "2T10:59:00", "2T11:01:00", 120, SELF_GPU, 200),
    ]),
    attempt(1, 2, "success", "2T12:00:00", "2T12:04:00", [
        job("build", "success", "2T12:00:00", "2T12:01:00", 60, [UBUNTU], 20),
        job("test", "success", "2T12:01:00", "2T12:02:00", 60, [UBUNTU]),
        job("gpu", "success", "2T12:02:00", "2T12:04:00", 120, SELF_GPU, 100),
    ]),
    attempt(2, 1, "cancelled", "3T10:00:00", "3T10:00:30", [
        job("lint", "cancelled", "3T10:00:00", "3T10:00:30", 30, None),
    ]),
]  # fmt: skip


def hours(**by_hour: float) -> list[float]:
    found = [0.0] * 24
    for hour, seconds in by_hour.items():
        found[int(hour.removeprefix("h"))] = seconds / 3600
    return found


#: By hand (docs/metrics.md, "Runners"): durations of successes, nearest rank; waste is
#: attempt 1 of run 1 (failed, and retried) and run 2 (cancelled); minutes rounded up per job.
EXPECTED = {
    UBUNTU: {
        "jobs": 4,
        "by_status": {"failure": 1, "success": 3},
        "decided_jobs": 4,
        "failure_rate": 0.25,
        "infrastructure_failure_rate": 0.25,
        "duration_sample": 3,
        "p50_duration_seconds": 60.0,  # of 60, 60, 90
        "p95_duration_seconds": 90.0,
        "waited_jobs": 3,
        "p50_queue_seconds": 20.0,  # of 10, 20, 30
        "p95_queue_seconds": 30.0,
        "total_queue_seconds": 60.0,
        "busy_hours_by_hour": hours(h10=90 + 61, h12=120),
        "job_seconds": 271.0,
        "billable_minutes": 6,  # 2 + 2 + 1 + 1
        "waste_job_seconds": 151.0,
        "waste_billable_minutes": 4,
    },
    GPU: {
        "jobs": 2,
        "by_status": {"success": 2},
        "decided_jobs": 2,
        "failure_rate": 0.0,
        "infrastructure_failure_rate": 0.0,
        "duration_sample": 2,
        "p50_duration_seconds": 120.0,
        "p95_duration_seconds": 120.0,
        "waited_jobs": 2,
        "p50_queue_seconds": 100.0,
        "p95_queue_seconds": 200.0,
        "total_queue_seconds": 300.0,
        "busy_hours_by_hour": hours(h10=60, h11=60, h12=120),  # 10:59-11:01 cut at 11:00
        "job_seconds": 240.0,
        "billable_minutes": 4,
        "waste_job_seconds": 120.0,
        "waste_billable_minutes": 2,
    },
    None: {
        "jobs": 1,
        "by_status": {"cancelled": 1},
        "decided_jobs": 0,
        "failure_rate": None,
        "infrastructure_failure_rate": None,
        "duration_sample": 0,
        "p50_duration_seconds": None,
        "p95_duration_seconds": None,
        "waited_jobs": 0,
        "p50_queue_seconds": None,
        "p95_queue_seconds": None,
        "total_queue_seconds": None,  # unknown, not 0
        "busy_hours_by_hour": hours(h10=30),
        "job_seconds": 30.0,
        "billable_minutes": 1,
        "waste_job_seconds": 30.0,
        "waste_billable_minutes": 1,
    },
}


@pytest.fixture
def reader(accounts: AccountService, tenant: Tenant) -> Tenant:
    return Tenant(name="acme", key=accounts.create_key("acme", scopes=("read",)).key)


def post(client: TestClient, tenant: Tenant, *payloads: dict[str, Any]) -> None:
    for payload in payloads:
        response = client.post(
            "/functions/v1/ingest", json=payload, headers=tenant.runwatch_headers
        )
        assert response.status_code == 200, response.text


def get(client: TestClient, reader: Tenant, path: str, **params: Any) -> Any:
    response = client.get(path, params={**WINDOW, **params}, headers={"X-API-Key": reader.key})
    assert response.status_code == 200, response.text
    return response.json() if params.get("format") != "csv" else response.text


def by_label_set(items: list[dict[str, Any]]) -> dict[str | None, dict[str, Any]]:
    return {item["label_set"]: item for item in items}


def approx(found: dict[str, Any], expected: dict[str, Any]) -> None:
    for name, value in expected.items():
        assert found[name] == pytest.approx(value), name


@pytest.mark.parametrize("refreshed", [False, True], ids=["raw", "rollups"])
def test_label_set_figures_by_hand(
    client: TestClient, tenant: Tenant, reader: Tenant, database: Database, refreshed: bool
) -> None:
    post(client, tenant, *DATASET)
    if refreshed:
        assert refresh_all(database) > 0
        stored = rows(database, "runner_rollups", grain=1, branch_scope=0)
        assert {row["label_set"] for row in stored} == {UBUNTU, GPU, ""}
    found = by_label_set(get(client, reader, "/api/v1/analytics/runners")["items"])
    assert set(found) == set(EXPECTED)
    for label_set, expected in EXPECTED.items():
        approx(found[label_set], expected)
    assert found[None]["label_set_name"] == "unknown"
    assert found[UBUNTU]["failures_by_class"]["infrastructure"] == 1
    # Hour 10 occurs 7 times in the 7-day window: 151 s / 7 busy on average.
    assert found[UBUNTU]["mean_busy_runners_by_hour"][10] == pytest.approx(151 / 3600 / 7)
    order = get(client, reader, "/api/v1/analytics/runners", sort="-p95_queue_seconds")
    assert [item["label_set"] for item in order["items"]] == [GPU, UBUNTU, None]


@pytest.mark.parametrize("refreshed", [False, True], ids=["raw", "rollups"])
def test_queue_by_hour_of_day(
    client: TestClient, tenant: Tenant, reader: Tenant, database: Database, refreshed: bool
) -> None:
    """Each wait counts in the hour its job was queued (start less wait): 09:59:30 (30 s),
    10:01:50 (10 s) and 10:55:40 (200 s), 11:59:40 (20 s), 12:00:20 (100 s)."""
    post(client, tenant, *DATASET)
    if refreshed:
        refresh_all(database)
    found = get(client, reader, "/api/v1/analytics/runners/hours")["hours"]
    assert len(found) == 24
    waited = {h["hour"]: (h["waited_jobs"], h["p50_queue_seconds"], h["total_queue_seconds"])
              for h in found if h["waited_jobs"]}  # fmt: skip
    assert waited == {9: (1, 30.0, 30.0), 10: (2, 10.0, 210.0), 11: (1, 20.0, 20.0),
                      12: (1, 100.0, 100.0)}  # fmt: skip
    gpu = get(client, reader, "/api/v1/analytics/runners/hours", label_set=GPU)["hours"]
    assert [h["hour"] for h in gpu if h["waited_jobs"]] == [10, 12]
    table = list(csv.DictReader(io.StringIO(
        get(client, reader, "/api/v1/analytics/runners/hours", format="csv"))))  # fmt: skip
    assert len(table) == 24 and table[10]["total_queue_seconds"] == "210.0"


def test_a_label_sets_runners_by_name(client: TestClient, tenant: Tenant, reader: Tenant) -> None:
    """One label set's runners from the raw rows: two named runners and one unnamed."""
    jobs = [
        job("a", "success", "2T10:00:00", "2T10:01:00", 60, [UBUNTU], runner_name="r1"),
        job("b", "failure", "2T10:00:00", "2T10:02:00", 120, [UBUNTU], runner_name="r1"),
        job("c", "success", "2T10:00:00", "2T10:03:00", 180, [UBUNTU], runner_name="r2"),
        job("d", "success", "2T10:00:00", "2T10:03:00", 180, [UBUNTU]),
        job("e", "success", "2T10:00:00", "2T10:03:00", 180, [GPU], runner_name="g"),
    ]
    post(client, tenant, attempt(9, 1, "failure", "2T10:00:00", "2T10:03:00", jobs))
    found = get(client, reader, "/api/v1/analytics/runners/names", label_set=UBUNTU)
    assert (found["sampled_attempts"], found["sampled_executions"]) == (1, 4)
    named = {r["runner_name"]: (r["jobs"], r["failure_rate"], r["busy_seconds"])
             for r in found["runners"]}  # fmt: skip
    assert named == {"r1": (2, 0.5, 180.0), "r2": (1, 0.0, 180.0), None: (1, 0.0, 180.0)}
    assert found["runners"][0]["runner_name"] == "r1"
    unknown = get(client, reader, "/api/v1/analytics/runners/names", label_set="")
    assert unknown["sampled_executions"] == 0 and unknown["label_set_name"] == "unknown"


def test_bad_runner_requests_are_400_naming_the_field(client: TestClient, reader: Tenant) -> None:
    headers = {"X-API-Key": reader.key}
    for path, params, field in (
        ("/api/v1/analytics/runners", {"sort": "nope"}, "sort"),
        ("/api/v1/analytics/runners/names", {}, "label_set"),
        ("/api/v1/analytics/runners/names", {"label_set": "x" * 1001}, "label_set"),
        ("/api/v1/analytics/runners/hours", {"format": "xml"}, "format"),
    ):
        response = client.get(path, params=params, headers=headers)
        assert response.status_code == 400, (path, response.text)
        assert field in response.text


def labelled(database: Database, org_id: str, window: Window) -> dict[str, Any]:
    with database.read() as conn:
        stored = runner_figures.by_label_set(conn, org_id, window)
        raw = runner_figures.by_label_set(conn, org_id, window, stored=False)
    assert stored.keys() == raw.keys()
    for key, tally in stored.items():
        other = raw[key]
        assert tally.by_status == other.by_status
        assert tally.busy_seconds == pytest.approx(other.busy_seconds)
        assert (tally.billable_minutes, tally.waste_billable_minutes) == (
            other.billable_minutes,
            other.waste_billable_minutes,
        )
        assert tally.queue.total == pytest.approx(other.queue.total)
        assert tally.durations.percentile(95) == other.durations.percentile(95)
    return stored


def test_a_retry_and_a_late_job_update_the_stored_rollup(
    client: TestClient, tenant: Tenant, reader: Tenant, database: Database
) -> None:
    """Run 5 passed; its re-run makes attempt 1's job waste (superseded), and a job that
    arrives late with attempt 2 adds to the label set, each after a refresh."""
    first = job("build", "success", "4T08:00:00", "4T08:01:00", 60, ["linux"])
    post(client, tenant, attempt(5, 1, "success", "4T08:00:00", "4T08:01:00", [first]))
    refresh_all(database)
    (org,) = rows(database, "organisations")
    # Partial days at both ends: raw edges beside the stored days.
    window = Window(WINDOW_MS[0] + 3 * 3600_000, WINDOW_MS[1] - 5 * 3600_000)
    linux = labelled(database, org["id"], window)["linux"]
    assert (linux.billable_minutes, linux.waste_billable_minutes) == (1, 0)
    second = job("build", "success", "4T09:00:00", "4T09:01:30", 90, ["linux"])
    post(client, tenant, attempt(5, 2, "success", "4T09:00:00", "4T09:01:30", [second]))
    refresh_all(database)
    linux = labelled(database, org["id"], window)["linux"]
    assert (linux.billable_minutes, linux.waste_billable_minutes) == (3, 1)
    late = job("docs", "success", "4T09:00:00", "4T09:00:10", 10, ["linux"])
    post(client, tenant, attempt(5, 2, "success", "4T09:00:00", "4T09:01:30", [second, late]))
    refresh_all(database)
    linux = labelled(database, org["id"], window)["linux"]
    assert sum(linux.by_status.values()) == 3 and linux.billable_minutes == 4
    stored = rows(database, "runner_rollups", grain=1, branch_scope=0, label_set="linux")
    # The pipeline's row and the organisation's (every pipeline added up).
    assert [(r["billable_minutes"], r["waste_billable_minutes"]) for r in stored] == [(4, 1)] * 2


WINDOW_MS = (1_704_067_200_000, 1_704_672_000_000)  # 2024-01-01 and 2024-01-08, UTC


def test_runner_arithmetic() -> None:
    assert [runner_metrics.billable_minutes(s) for s in (None, 0, 1, 60, 60.5, 121)] == [
        0, 0, 1, 1, 2, 3,
    ]  # fmt: skip
    hour = 3600_000
    assert runner_metrics.busy_by_hour(23 * hour + 1800_000, 24 * hour + 900_000) == [
        (23, 1800.0),
        (0, 900.0),
    ]
    assert runner_metrics.hours_in_window(0, 24 * hour) == [1] * 24
    assert runner_metrics.hours_in_window(22 * hour, 26 * hour) == [1, 1] + [0] * 20 + [1, 1]


@pytest.mark.parametrize("refreshed", [False, True], ids=["raw", "rollups"])
def test_pipelines_list_their_jobs_waits(
    client: TestClient, tenant: Tenant, reader: Tenant, database: Database, refreshed: bool
) -> None:
    """CI Pipeline's five waits, every label set: 10, 20, 30, 100, 200 (p50 the 3rd)."""
    post(client, tenant, *DATASET)
    if refreshed:
        refresh_all(database)
    (row,) = get(client, reader, "/api/v1/pipelines")["items"]
    waits = ("waited_jobs", "p50_queue_seconds", "p95_queue_seconds", "total_queue_seconds")
    assert [row[name] for name in waits] == [5, 30.0, 200.0, 360.0]
    (line,) = csv.DictReader(io.StringIO(get(client, reader, "/api/v1/pipelines", format="csv")))
    assert line["total_queue_seconds"] == "360.0"


#: Two more pipelines: "Nightly" waited once 500 s (p95 500, total 500), "Docs" never.
OTHER_PIPELINES = [
    {
        **attempt(30, 1, "success", "4T10:00:00", "4T10:20:00", [
            job("all", "success", "4T10:10:00", "4T10:20:00", 600, [UBUNTU], 500),
        ]),
        "pipeline_name": "Nightly",
    },
    {
        **attempt(31, 1, "success", "4T11:00:00", "4T11:01:00", [
            job("docs", "success", "4T11:00:00", "4T11:01:00", 60, [UBUNTU]),
        ]),
        "pipeline_name": "Docs",
    },
]  # fmt: skip


@pytest.mark.parametrize("refreshed", [False, True], ids=["raw", "rollups"])
def test_pipelines_sort_by_their_jobs_waits(
    client: TestClient, tenant: Tenant, reader: Tenant, database: Database, refreshed: bool
) -> None:
    """By hand: CI Pipeline p95 200 s and total 360 s (above), Nightly 500 s and 500 s,
    Docs none (unknown: last either way). Each page of one row keeps the order."""
    post(client, tenant, *DATASET, *OTHER_PIPELINES)
    if refreshed:
        refresh_all(database)

    def names(sort: str, **params: Any) -> list[str]:
        items = get(client, reader, "/api/v1/pipelines", sort=sort, **params)["items"]
        return [item["name"] for item in items]

    assert names("-p95_queue_seconds") == ["Nightly", "CI Pipeline", "Docs"]
    assert names("p95_queue_seconds") == ["CI Pipeline", "Nightly", "Docs"]
    assert names("-total_queue_seconds") == ["Nightly", "CI Pipeline", "Docs"]
    assert names("-waited_jobs") == ["CI Pipeline", "Nightly", "Docs"]  # 5, 1, 0
    first = get(client, reader, "/api/v1/pipelines", sort="-p95_queue_seconds", limit=1)
    second = get(
        client, reader, "/api/v1/pipelines", sort="-p95_queue_seconds", limit=1,
        cursor=first["next_cursor"],
    )  # fmt: skip
    assert [first["items"][0]["name"], second["items"][0]["name"]] == ["Nightly", "CI Pipeline"]
    table = get(client, reader, "/api/v1/pipelines", sort="-total_queue_seconds", format="csv")
    assert [line["name"] for line in csv.DictReader(io.StringIO(table))] == [
        "Nightly",
        "CI Pipeline",
        "Docs",
    ]


def test_a_runs_time_split_into_waiting_and_running(
    client: TestClient, tenant: Tenant, reader: Tenant
) -> None:
    """Run 1's first attempt: waits 30 + 10 + 200 = 240 s, durations 90 + 61 + 120 = 271 s;
    run 2's one job said no wait: unknown, not 0."""
    post(client, tenant, *DATASET)
    items = get(client, reader, "/api/v1/runs")["items"]
    ids = {(item["run_key"], item["attempt"]): item["id"] for item in items}
    first = get(client, reader, f"/api/v1/runs/{ids[('1', 1)]}")["time_split"]
    assert first == {
        "jobs": 3,
        "waited_jobs": 3,
        "waiting_seconds": 240.0,
        "running_seconds": 271.0,
        "waiting_share": pytest.approx(240 / 511),
    }
    cancelled = get(client, reader, f"/api/v1/runs/{ids[('2', 1)]}")["time_split"]
    assert (cancelled["waiting_seconds"], cancelled["waiting_share"]) == (None, None)
    assert cancelled["running_seconds"] == 30.0


def with_runners(database: Database) -> None:
    """Give most jobs a label set and a queue time fixed by the job's id (so a job keeps
    them however often this runs: stored rollups stay true), none for some."""
    import zlib

    import sqlalchemy as sa

    from cipulse.storage.schema import jobs

    with database.write() as conn:
        stored = conn.execute(
            sa.select(jobs.c.org_id, jobs.c.attempt_id, jobs.c.node_key, jobs.c.id)
        )
        updates = []
        for org_id, attempt_id, node_key, job_id in stored.all():
            drawn = zlib.crc32(str(job_id).encode())
            labels = (None, UBUNTU, UBUNTU, GPU, "linux")[drawn % 5]
            queue = None if drawn % 7 == 0 else drawn % 1201 / 4
            updates.append({"o": org_id, "a": attempt_id, "n": node_key, "l": labels, "q": queue})
        conn.execute(
            sa.update(jobs)
            .where(
                jobs.c.org_id == sa.bindparam("o"),
                jobs.c.attempt_id == sa.bindparam("a"),
                jobs.c.node_key == sa.bindparam("n"),
            )
            .values(runner_labels=sa.bindparam("l"), queue_seconds=sa.bindparam("q")),
            updates,
        )


def test_stored_runner_figures_equal_the_raw_ones(database: Database, tenant: Tenant) -> None:
    """A random history (retries, every status, several pipelines and branches): the rollup
    read equals the raw read on windows with partial days and branch scopes, before and
    after refreshes, with new runs added and re-posts that move attempts between days."""
    from tests.test_analytics_consistency import WINDOWS, ingest, random_attempts, store_org

    ingest(database, tenant, random_attempts(5, 60, with_jobs=True))
    with_runners(database)
    org_id = store_org(database)

    def check() -> None:
        for window in WINDOWS:
            labelled(database, org_id, window)

    check()
    refresh_all(database)
    check()
    ingest(database, tenant, random_attempts(6, 40, with_jobs=True, first_run=10_000))
    ingest(database, tenant, random_attempts(5, 60, with_jobs=True, variant=1))
    with_runners(database)
    check()
    refresh_all(database)
    check()
    assert rows(database, "runner_rollups")
