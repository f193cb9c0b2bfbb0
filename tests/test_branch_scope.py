"""The branch scope filter (``branches=default|other``) on every read path, on a small
dataset worked out by hand, on SQLite and PostgreSQL: before the rollups are refreshed (red
periods recomputed on read) and after (red periods read from the table).

Two repositories: ``acme/app`` names no default branch (main and master count as default),
``acme/lib`` names ``develop`` (set as an operator would, with ``cipulse repos
set-default-branch``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from starlette.testclient import TestClient

from cipulse.accounts.repositories import RepositoryService
from cipulse.accounts.service import AccountService
from cipulse.analytics.refresh import refresh_all
from cipulse.domain.window import in_branch_scope, on_default_branch
from cipulse.storage.database import Database
from cipulse.storage.rollups import set_aside as rollup_failures
from tests.builders import runwatch_run, trunk_event, trunk_request
from tests.conftest import Tenant

WINDOW = {"since": "2024-01-01T00:00:00Z", "until": "2024-01-08T00:00:00Z"}
APP, LIB = "acme/app", "acme/lib"


def attempt(
    repository: str,
    run_id: int,
    attempt_number: int,
    status: str,
    started_at: str,
    branch: str | None,
    duration: int,
) -> dict[str, Any]:
    """A RunWatch attempt of the repository's one pipeline (``CI`` in app, ``Build`` in lib)
    that took ``duration`` seconds, with two jobs: ``build`` (20 s, success) and ``test``
    (the rest, with the attempt's status). ``branch`` None sends no branch."""
    started = datetime.fromisoformat(started_at.replace("Z", "+00:00"))
    middle, completed = started + timedelta(seconds=20), started + timedelta(seconds=duration)
    return runwatch_run(
        repository=repository,
        pipeline_name="CI" if repository == APP else "Build",
        run_id=run_id,
        run_attempt=attempt_number,
        status=status,
        started_at=started_at,
        completed_at=_iso(completed),
        duration_seconds=duration,
        compute_seconds=duration,
        branch=branch,
        jobs=[
            _job("build", "success", started, middle),
            _job("test", status, middle, completed),
        ],
    )


def refresh_everything(database: Database) -> None:
    """Refresh every marked partition: this call, or the server's own refresher (the client's
    app runs one) if it got there first on a slow machine; either way nothing stays stale."""
    refresh_all(database)
    with database.read() as conn:
        backlog = rollup_failures.status(conn)
    assert (backlog.partitions, backlog.failing) == (0, 0)


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _job(name: str, status: str, start: datetime, end: datetime) -> dict[str, Any]:
    return {"name": name, "status": status, "started_at": _iso(start), "completed_at": _iso(end)}


#: In app, default = main and master; in lib, default = develop.
DATASET = [
    attempt(APP, 1, 1, "success", "2024-01-01T10:00:00Z", "main", 100),  # default
    attempt(APP, 2, 1, "failure", "2024-01-02T10:00:00Z", "master", 50),  # default
    attempt(APP, 2, 2, "success", "2024-01-02T11:00:00Z", "master", 100),  # default, flaky
    attempt(APP, 3, 1, "success", "2024-01-02T12:00:00Z", "develop", 60),  # other
    attempt(APP, 4, 1, "failure", "2024-01-03T10:00:00Z", "feature/x", 50),  # other
    attempt(APP, 4, 2, "success", "2024-01-03T11:00:00Z", "feature/x", 100),  # other, flaky
    attempt(APP, 5, 1, "success", "2024-01-04T10:00:00Z", None, 100),  # other
    attempt(APP, 6, 1, "failure", "2024-01-06T10:00:00Z", "main", 50),  # default, red now
    attempt(LIB, 11, 1, "success", "2024-01-01T12:00:00Z", "main", 100),  # other
    attempt(LIB, 12, 1, "failure", "2024-01-02T09:00:00Z", "develop", 50),  # default
    attempt(LIB, 13, 1, "success", "2024-01-03T09:00:00Z", "develop", 100),  # default
    attempt(LIB, 14, 1, "failure", "2024-01-05T09:00:00Z", "develop", 50),  # default, red now
    attempt(LIB, 15, 1, "failure", "2024-01-06T09:00:00Z", "master", 50),  # other, red now
    attempt(LIB, 16, 1, "failure", "2024-01-06T10:00:00Z", None, 50),  # other, red now
]


@pytest.fixture
def reader(accounts: AccountService, tenant: Tenant) -> Tenant:
    return Tenant(name="acme", key=accounts.create_key("acme", scopes=("read",)).key)


def name_lib_default(database: Database, branch: str) -> None:
    RepositoryService(database).set_default_branch("acme", LIB, branch)


@pytest.fixture
def seeded(client: TestClient, tenant: Tenant, database: Database) -> None:
    for payload in DATASET:
        response = client.post(
            "/functions/v1/ingest", json=payload, headers=tenant.runwatch_headers
        )
        assert response.status_code == 200, response.text
    name_lib_default(database, "develop")


def get(client: TestClient, reader: Tenant, path: str, **params: Any) -> Any:
    response = client.get(path, params=params, headers={"X-API-Key": reader.key})
    assert response.status_code == 200, response.text
    return response.json()


SCOPES = ("default", "other", None)


def scoped(scope: str | None) -> dict[str, str]:
    return {**WINDOW, **({"branches": scope} if scope else {})}


def test_the_definition() -> None:
    assert on_default_branch("main", None) and on_default_branch("master", "")
    assert not on_default_branch("develop", None)
    assert on_default_branch("develop", "develop") and not on_default_branch("main", "develop")
    assert not on_default_branch(None, None) and not on_default_branch(None, "develop")
    assert in_branch_scope(None, None, "other") and in_branch_scope("x", "y", None)
    assert not in_branch_scope("main", None, "other")


def check_run_figures(client: TestClient, reader: Tenant) -> None:
    summaries = {s: get(client, reader, "/api/v1/analytics/summary", **scoped(s)) for s in SCOPES}
    expected = {"default": (7, 3, 4, 1), "other": (7, 4, 3, 1), None: (14, 7, 7, 2)}
    for scope, (runs, successes, failures, flaky) in expected.items():
        summary = summaries[scope]
        assert (
            summary["runs"],
            summary["by_status"]["success"],
            summary["by_status"]["failure"],
            summary["flaky_runs"],
        ) == (runs, successes, failures, flaky), scope
    assert summaries["default"]["compute_seconds"] == 100 + 50 + 100 + 50 + 50 + 100 + 50
    assert summaries["other"]["compute_seconds"] == 60 + 50 + 100 + 100 + 100 + 50 + 50
    for name in ("runs", "compute_seconds", "flaky_runs", "retry_compute_seconds"):
        assert summaries["default"][name] + summaries["other"][name] == summaries[None][name]

    for scope, app_runs, lib_runs in (("default", 4, 3), ("other", 4, 3), (None, 8, 6)):
        pipelines = get(client, reader, "/api/v1/pipelines", **scoped(scope))["items"]
        assert {(p["repository"], p["name"], p["runs"]) for p in pipelines} == {
            (APP, "CI", app_runs),
            (LIB, "Build", lib_runs),
        }, scope
        repositories = get(client, reader, "/api/v1/repositories", **scoped(scope))["items"]
        assert {(r["full_name"], r["runs"]) for r in repositories} == {
            (APP, app_runs),
            (LIB, lib_runs),
        }, scope

    runs = {s: get(client, reader, "/api/v1/runs", **scoped(s))["items"] for s in SCOPES}
    assert sorted(
        (r["repository"], r["branch"], r["run_key"], r["attempt"]) for r in runs["default"]
    ) == [
        (APP, "main", "1", 1),
        (APP, "main", "6", 1),
        (APP, "master", "2", 1),
        (APP, "master", "2", 2),
        (LIB, "develop", "12", 1),
        (LIB, "develop", "13", 1),
        (LIB, "develop", "14", 1),
    ]
    assert sorted((r["repository"], r["branch"] or "", r["run_key"]) for r in runs["other"]) == [
        (APP, "", "5"),
        (APP, "develop", "3"),
        (APP, "feature/x", "4"),
        (APP, "feature/x", "4"),
        (LIB, "", "16"),
        (LIB, "main", "11"),
        (LIB, "master", "15"),
    ]
    assert {r["id"] for r in runs["default"]} | {r["id"] for r in runs["other"]} == {
        r["id"] for r in runs[None]
    }

    by_day = {
        "default": [1, 3, 1, 0, 1, 1, 0],
        "other": [1, 1, 2, 1, 0, 2, 0],
        None: [2, 4, 3, 1, 1, 3, 0],
    }
    for scope, counts in by_day.items():
        for interval in ("day", "hour"):
            series = get(
                client,
                reader,
                "/api/v1/analytics/timeseries",
                metric="runs",
                interval=interval,
                **scoped(scope),
            )
            values = [p["value"] for p in series["points"]]
            if interval == "day":
                assert values == counts, scope
            assert sum(values) == sum(counts), (scope, interval)


def check_jobs(client: TestClient, reader: Tenant) -> None:
    def jobs(scope: str | None) -> dict[tuple[str, str], tuple[int, int, int]]:
        items = get(client, reader, "/api/v1/analytics/jobs", **scoped(scope))["items"]
        return {
            (j["pipeline"], j["job"]): (j["runs"], j["failure_count"], j["flaky_count"])
            for j in items
        }

    assert jobs("default") == {
        ("CI", "build"): (4, 0, 0),
        ("CI", "test"): (4, 2, 1),  # run 2's retry
        ("Build", "build"): (3, 0, 0),
        ("Build", "test"): (3, 2, 0),
    }
    assert jobs("other") == {
        ("CI", "build"): (4, 0, 0),
        ("CI", "test"): (4, 1, 1),  # run 4's retry
        ("Build", "build"): (3, 0, 0),
        ("Build", "test"): (3, 2, 0),
    }
    assert jobs(None)[("CI", "test")] == (8, 3, 2)
    for scope, last_flaky in (
        ("default", "2024-01-02T11:00:00Z"),
        ("other", "2024-01-03T11:00:00Z"),
    ):
        (flaky,) = get(client, reader, "/api/v1/analytics/flaky", **scoped(scope))["items"]
        assert (flaky["pipeline"], flaky["job"], flaky["flaky_count"], flaky["runs"]) == (
            "CI",
            "test",
            1,
            4,
        )
        assert flaky["last_flaky_at"] == last_flaky
        assert flaky["retry_compute_seconds"] == 50
    assert len(get(client, reader, "/api/v1/analytics/flaky", **WINDOW)["items"]) == 1


#: (repository, branch, red since, recovered at, seconds) per scope.
PERIODS = {
    "default": [
        (LIB, "develop", "2024-01-02T09:00:50Z", "2024-01-03T09:01:40Z", 86450.0),
        (APP, "master", "2024-01-02T10:00:50Z", "2024-01-02T11:01:40Z", 3650.0),
    ],
    "other": [(APP, "feature/x", "2024-01-03T10:00:50Z", "2024-01-03T11:01:40Z", 3650.0)],
}
#: (repository, branch, red since) per scope, longest red first.
RED_NOW = {
    "default": [(LIB, "develop", "2024-01-05T09:00:50Z"), (APP, "main", "2024-01-06T10:00:50Z")],
    "other": [(LIB, "master", "2024-01-06T09:00:50Z"), (LIB, None, "2024-01-06T10:00:50Z")],
}


def check_recovery(client: TestClient, reader: Tenant, **extra: str) -> None:
    found = {}
    for scope in SCOPES:
        recovery = get(client, reader, "/api/v1/analytics/recovery", **scoped(scope), **extra)
        found[scope] = recovery
        if scope is None:
            continue
        periods = [
            (p["repository"], p["branch"], p["red_since"], p["recovered_at"], p["seconds"])
            for p in recovery["periods"]
        ]
        assert sorted(periods) == sorted(PERIODS[scope]), (scope, extra)
        red_now = [(p["repository"], p["branch"], p["red_since"]) for p in recovery["red_at_end"]]
        assert red_now == RED_NOW[scope], (scope, extra)
        assert (recovery["recovered_periods"], recovery["red_at_end_count"]) == (
            len(PERIODS[scope]),
            len(RED_NOW[scope]),
        )
    assert found["default"]["mttr_seconds"] == pytest.approx((86450 + 3650) / 2)
    assert found["other"]["mttr_seconds"] == pytest.approx(3650)
    assert found[None]["recovered_periods"] == 3 and found[None]["red_at_end_count"] == 4
    for scope, red_now in (("default", 2), ("other", 2)):
        summary = get(client, reader, "/api/v1/analytics/summary", **scoped(scope), **extra)
        assert summary["red_at_end"] == red_now, (scope, extra)
    mttr = get(
        client,
        reader,
        "/api/v1/analytics/timeseries",
        metric="mttr_seconds",
        **scoped("default"),
        **extra,
    )
    assert [p["value"] for p in mttr["points"]][1:3] == [3650, 86450]


@pytest.mark.usefixtures("seeded")
def test_every_read_path_respects_the_branch_scope(
    client: TestClient, reader: Tenant, database: Database
) -> None:
    """Before the refresh every figure is computed from the raw rows and red periods are
    recomputed on read; after it, they come from the tables (the scope still reads raw)."""
    for refreshed in (False, True):
        if refreshed:
            refresh_everything(database)
        check_run_figures(client, reader)
        check_jobs(client, reader)
        check_recovery(client, reader)
        # A filter recovery cannot take from the red periods table: outcomes read raw.
        check_recovery(client, reader, provider="github")


@pytest.mark.usefixtures("seeded")
def test_a_changed_default_branch_applies_at_once(
    client: TestClient, reader: Tenant, database: Database
) -> None:
    """Changing a repository's default branch moves its attempts and red periods between the
    scopes at once: its partitions are marked, so they are read raw until the refresher has
    stored them again by their new scope."""
    refresh_all(database)
    for refreshed in (False, True):
        name_lib_default(database, "master")
        if refreshed:
            refresh_everything(database)
        summary = get(client, reader, "/api/v1/analytics/summary", **scoped("default"))
        assert summary["runs"] == 4 + 1  # app: main and master; lib: run 15 on master
        other = get(client, reader, "/api/v1/analytics/summary", **scoped("other"))
        assert other["runs"] == 4 + 5  # app: develop, feature/x, none; lib: all but run 15
        red_now = get(client, reader, "/api/v1/analytics/recovery", **scoped("default"))
        assert [(p["repository"], p["branch"]) for p in red_now["red_at_end"]] == [
            (LIB, "master"),
            (APP, "main"),
        ]
        name_lib_default(database, "")  # empty: main and master
        if refreshed:
            refresh_everything(database)
        summary = get(client, reader, "/api/v1/analytics/summary", **scoped("default"))
        assert summary["runs"] == 4 + 2  # lib: runs 11 (main) and 15 (master)


def test_custom_metrics_respect_the_branch_scope(
    client: TestClient, reader: Tenant, tenant: Tenant, database: Database
) -> None:
    day1, day2 = 1704103200000, 1704189600000  # 2024-01-01T10:00Z, 2024-01-02T10:00Z

    def run(chain: str, created: int, metrics: dict[str, float], branch: str | None) -> Any:
        return trunk_event(
            f"r-{chain}",
            chain,
            kind="pipeline",
            created_at=created,
            finished_at=created + 60_000,
            metrics=metrics,
            tags={"branch": branch} if branch else None,
        )

    app = trunk_request(
        run("c1", day1, {"coverage": 80}, "main"),  # default
        trunk_event(
            "n1",
            "c1",
            parent="r-c1",
            created_at=day1 + 1000,
            finished_at=day1 + 2000,
            metrics={"coverage": 90},  # counted with its run: default
        ),
        run("c2", day2, {"coverage": 70}, "develop"),  # other
        name="app",
    )
    lib = trunk_request(
        run("c3", day2, {"coverage": 60}, "develop"),  # default
        run("c4", day2, {"coverage": 50, "tests": 3}, None),  # other
        name="lib",
    )
    for body in (app, lib):
        response = client.post("/v1/metrics/trackEvents", json=body, headers=tenant.trunk_headers)
        assert response.status_code == 200, response.text
    name_lib_default(database, "develop")
    for refreshed in (False, True):
        if refreshed:
            refresh_all(database)
        totals = {}
        for scope in SCOPES:
            (group,) = get(
                client,
                reader,
                "/api/v1/analytics/custom-metrics",
                key="coverage",
                **scoped(scope),
            )["groups"]
            points = group["points"]
            totals[scope] = [(p["count"], p["sum"]) for p in points[:2]]
        assert totals["default"] == [(2, 170), (1, 60)]
        assert totals["other"] == [(0, 0), (2, 120)]
        assert totals[None] == [(2, 170), (3, 180)]
        keys = {
            scope: get(client, reader, "/api/v1/analytics/custom-metrics/keys", **scoped(scope))[
                "metrics"
            ]
            for scope in SCOPES
        }
        assert keys == {
            "default": ["coverage"],
            "other": ["coverage", "tests"],
            None: ["coverage", "tests"],
        }


@pytest.mark.parametrize(
    "path", ["/api/v1/runs", "/api/v1/analytics/summary", "/api/v1/analytics/recovery"]
)
def test_an_unknown_scope_gets_400_naming_branches(
    client: TestClient, reader: Tenant, path: str
) -> None:
    response = client.get(path, params={"branches": "bogus"}, headers={"X-API-Key": reader.key})
    assert response.status_code == 400
    assert response.json()["error"].startswith("branches: must be default or other")
    empty = client.get(path, params={"branches": ""}, headers={"X-API-Key": reader.key})
    assert empty.status_code == 200, empty.text


@pytest.mark.usefixtures("seeded")
def test_the_latest_runs_of_a_pipeline_respect_the_branch_scope(database: Database) -> None:
    """The pipelines page's sparklines: a pipeline's latest attempts in the scope."""
    from cipulse.analytics.window import window_from
    from tests.presented import PresentedService

    now = datetime(2024, 1, 8, tzinfo=UTC)

    service = PresentedService(database)
    org_id = AccountService(database).organisation("acme").id
    pipelines = {
        row["repository"]: row["id"]
        for row in service.pipelines(org_id, window_from(WINDOW, now))[0]
    }
    expected = {
        ("default", APP): ["main", "master", "master", "main"],
        ("other", APP): ["develop", "feature/x", "feature/x", None],
        ("default", LIB): ["develop", "develop", "develop"],
        ("other", LIB): ["main", "master", None],
        (None, LIB): ["main", "develop", "develop", "develop", "master", None],
    }
    for (scope, repository), branches in expected.items():
        window = window_from({**WINDOW, **({"branches": scope} if scope else {})}, now)
        latest = service.latest_runs(org_id, [pipelines[repository]], window)
        assert [run["branch"] for run in latest[pipelines[repository]]] == branches, scope
