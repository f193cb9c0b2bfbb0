"""A job's page and API (``/jobs/{pipeline}/{job}``, ``/api/v1/jobs/{pipeline}/{job}``) on
a tiny dataset whose figures are worked out by hand here, on SQLite and PostgreSQL: the same
figures as the Jobs page's, per day, failures by class with the latest ones, the branches
and runners; odd job names round-trip through the URL; unknown jobs and other
organisations' are 404; the Jobs page's and the job list's search."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from html import unescape
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from starlette.testclient import TestClient

from cipulse.accounts.service import AccountService
from cipulse.accounts.users import UserService
from cipulse.analytics.questions.job_page import runner_of
from cipulse.storage.database import Database
from cipulse.storage.job_store import Place
from cipulse.web.job_paths import job_path
from tests.builders import runwatch_job, runwatch_run, trunk_event, trunk_request
from tests.conftest import Tenant, make_tenant
from tests.test_dashboard import PASSWORD, sign_in

WINDOW = {"since": "2024-01-01T00:00:00Z", "until": "2024-01-08T00:00:00Z"}
ODD = "lint / unit tests ünï 100%"


def _at(day: int, hour: int, minute: int = 0) -> str:
    return f"2024-01-{day:02d}T{hour:02d}:{minute:02d}:00Z"


def _run(
    run_id: int,
    attempt: int,
    status: str,
    day: int,
    branch: str,
    build: tuple[str, int, str | None],
    odd: tuple[str, int] = ("success", 10),
) -> dict[str, Any]:
    """An attempt whose ``build`` (status, seconds, reason) and then the odd job run one
    after the other, from 10:00 (attempt 2: from 11:00) of the day."""
    hour = 9 + attempt
    build_status, build_seconds, reason = build
    odd_status, odd_seconds = odd
    build_end = _at(day, hour, build_seconds // 60)
    return runwatch_run(
        pipeline_name="CI Pipeline",
        run_id=run_id,
        run_attempt=attempt,
        status=status,
        branch=branch,
        started_at=_at(day, hour),
        completed_at=None,
        duration_seconds=None,
        jobs=[
            runwatch_job(
                "build",
                build_status,
                duration_seconds=build_seconds,
                started_at=_at(day, hour),
                completed_at=build_end,
                **({"failure_reason": reason, "failing_step": "Set up job"} if reason else {}),
            ),
            runwatch_job(
                ODD,
                odd_status,
                duration_seconds=odd_seconds,
                started_at=_at(day, hour + 1),
                completed_at=_at(day, hour + 1, 1),
            ),
        ],
    )


#: build: r1 success 60 s (day 1); r2 failure 120 s, runner_system_failure (day 2), then
#: attempt 2 success 180 s (flaky); r3 failure 60 s, script_failure (day 3, feature);
#: r4 cancelled 0 s (day 4, feature); r5 success before the window.
DATASET = [
    _run(1, 1, "success", 1, "main", ("success", 60, None)),
    _run(2, 1, "failure", 2, "main", ("failure", 120, "runner_system_failure")),
    _run(2, 2, "success", 2, "main", ("success", 180, None)),
    _run(3, 1, "failure", 3, "feature/x", ("failure", 60, "script_failure"), ("timed_out", 60)),
    _run(4, 1, "cancelled", 4, "feature/x", ("cancelled", 0, None)),
    {
        **_run(5, 1, "success", 1, "main", ("success", 999, None)),
        "started_at": "2023-12-20T10:00:00Z",
    },
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


def get(client: TestClient, reader: Tenant, path: str, expect: int = 200, **params: Any) -> Any:
    if params:  # kept beside a query the path has (a key of dots only: ?job=)
        path += ("&" if "?" in path else "?") + urlencode(params)
    response = client.get(path, headers={"X-API-Key": reader.key})
    assert response.status_code == expect, response.text
    return response.json() if "json" in response.headers["content-type"] else response.text


def _jobs(client: TestClient, reader: Tenant, **params: Any) -> dict[str, Any]:
    found = get(client, reader, "/api/v1/analytics/jobs", **WINDOW, level="all", **params)
    return {row["job"]: row for row in found["items"]}


def _job(client: TestClient, reader: Tenant, pipeline_id: str, key: str, **params: Any) -> Any:
    return get(client, reader, "/api/v1" + job_path(pipeline_id, key), **{**WINDOW, **params})


@pytest.mark.usefixtures("seeded")
def test_a_jobs_figures_worked_out_by_hand(client: TestClient, reader: Tenant) -> None:
    listed = _jobs(client, reader)["build"]
    job = _job(client, reader, listed["pipeline_id"], "build")
    figures = job["figures"]
    assert job["job"] == "build" and job["pipeline"]["name"] == "CI Pipeline"
    assert figures["runs"] == 5
    assert figures["by_status"]["success"] == 2 and figures["by_status"]["cancelled"] == 1
    assert figures["success_rate"] == 0.5  # 2 / (2 + 2): cancelled on neither side
    assert figures["failure_count"] == 2
    assert figures["flaky_count"] == 1  # run 2: failed in attempt 1, passed in attempt 2
    assert figures["p50_duration_seconds"] == 60  # successes 60 and 180: rank ⌈0.5·2⌉ = 1
    assert figures["p95_duration_seconds"] == 180  # rank ⌈0.95·2⌉ = 2
    assert figures["total_duration_seconds"] == 60 + 120 + 180 + 60 + 0
    assert figures["exclusive_seconds"] == 60 + 120 + 180 + 60  # alone; 0 s adds nothing
    # The Jobs page's figures for the same window, to the last field.
    assert figures == listed


@pytest.mark.usefixtures("seeded")
def test_a_jobs_series_per_day(client: TestClient, reader: Tenant) -> None:
    pipeline_id = _jobs(client, reader)["build"]["pipeline_id"]
    series = _job(client, reader, pipeline_id, "build")["series"]
    assert [b["start"][:10] for b in series] == [f"2024-01-0{d}" for d in range(1, 8)]
    assert [b["runs"] for b in series] == [1, 2, 1, 1, 0, 0, 0]
    assert [b["success_rate"] for b in series] == [1.0, 0.5, 0.0, None, None, None, None]
    assert [b["flaky_count"] for b in series] == [0, 1, 0, 0, 0, 0, 0]
    assert [b["flaky_runs_per_execution"] for b in series] == [0, 0.5, 0, 0, None, None, None]
    assert [b["p50_duration_seconds"] for b in series][:3] == [60, 180, None]
    # The days add up to the window's figures.
    assert sum(b["runs"] for b in series) == 5
    weekly = _job(client, reader, pipeline_id, "build", interval="week")["series"]
    assert sum(b["runs"] for b in weekly) == 5
    hourly = _job(client, reader, pipeline_id, "build", interval="hour")["series"]
    assert len(hourly) == 7 * 24 and sum(b["runs"] for b in hourly) == 5
    assert [b["start"] for b in hourly if b["runs"]][:2] == [
        "2024-01-01T10:00:00Z",
        "2024-01-02T10:00:00Z",
    ]
    # A filter the rollups do not split by: the raw rows, the same figures as the list's.
    failed = _job(client, reader, pipeline_id, "build", status="failure")
    assert [b["runs"] for b in failed["series"]] == [0, 1, 1, 0, 0, 0, 0]
    assert failed["figures"] == _jobs(client, reader, status="failure")["build"]


@pytest.mark.usefixtures("seeded")
def test_failures_by_class_and_the_latest_failures(client: TestClient, reader: Tenant) -> None:
    pipeline_id = _jobs(client, reader)["build"]["pipeline_id"]
    job = _job(client, reader, pipeline_id, "build")
    assert job["failures_by_class"] == {
        "code": 1,  # script_failure
        "infrastructure": 1,  # runner_system_failure
        "timeout": 0,
        "cancelled": 1,  # its raw status
        "unknown": 0,
    }
    latest = job["latest_failures"]
    assert [(f["run_key"], f["status"], f["failure_class"]) for f in latest] == [
        ("4", "cancelled", "cancelled"),
        ("3", "failure", "code"),
        ("2", "failure", "infrastructure"),
    ]
    assert latest[2]["failure_reason"] == "runner_system_failure"
    assert latest[2]["failing_step"] == "Set up job"
    # Each links to its run attempt.
    run = get(client, reader, f"/api/v1/runs/{latest[0]['attempt_id']}")
    assert run["run_key"] == "4"
    places = job["places"]
    assert places["sampled_executions"] == 5
    assert places["branches"] == [
        {"name": "main", "executions": 3},
        {"name": "feature/x", "executions": 2},
    ]
    assert places["runners"] == []  # RunWatch names no runner
    odd = _job(client, reader, pipeline_id, ODD)
    assert odd["failures_by_class"]["timeout"] == 1  # timed_out: its raw status


@pytest.mark.usefixtures("seeded")
def test_the_job_csv_is_its_series(client: TestClient, reader: Tenant) -> None:
    pipeline_id = _jobs(client, reader)["build"]["pipeline_id"]
    text = _job(client, reader, pipeline_id, "build", format="csv")
    lines = text.strip().splitlines()
    assert lines[0].startswith("start,partial,runs,")
    assert len(lines) == 8


@pytest.mark.parametrize(
    "name",
    [
        "lint / unit tests",
        "a/b/c",
        "/leading/",
        "50% done",
        "a%2Fb",
        "ünïcødé 🚀",
        "spaces  twice",
        "?query#hash&x=1",
        ".",
        "..",
        "...x",
        "+plus+",
    ],
)
def test_odd_job_names_round_trip_through_the_url(
    client: TestClient, tenant: Tenant, reader: Tenant, name: str
) -> None:
    run = _run(1, 1, "success", 1, "main", ("success", 60, None))
    run["jobs"][0]["name"] = name
    posted = client.post("/functions/v1/ingest", json=run, headers=tenant.runwatch_headers)
    assert posted.status_code == 200, posted.text
    listed = _jobs(client, reader)[name]
    path = job_path(listed["pipeline_id"], listed["definition_key"])
    # One segment after the pipeline's id, whatever the name holds.
    assert "/" not in path.removeprefix(f"/jobs/{listed['pipeline_id']}").lstrip("/").split("?")[0]
    job = get(client, reader, "/api/v1" + path, **WINDOW)
    assert job["job"] == name and job["definition_key"] == listed["definition_key"]
    assert job["path"] == path
    assert job["figures"] == listed


@pytest.mark.usefixtures("seeded")
def test_unknown_jobs_and_pipelines_are_404(client: TestClient, reader: Tenant) -> None:
    pipeline_id = _jobs(client, reader)["build"]["pipeline_id"]
    missing = get(client, reader, "/api/v1" + job_path(pipeline_id, "nope"), 404, **WINDOW)
    assert missing["code"] == "not_found"
    other = "00000000-0000-0000-0000-000000000000"
    get(client, reader, "/api/v1" + job_path(other, "build"), 404, **WINDOW)
    get(client, reader, "/api/v1/jobs/not-a-uuid/build", 404, **WINDOW)
    # A job that ran, but not in the window: its page, without figures.
    quiet_window = {"since": "2025-01-01T00:00:00Z", "until": "2025-01-08T00:00:00Z"}
    quiet = get(client, reader, "/api/v1" + job_path(pipeline_id, "build"), **quiet_window)
    assert quiet["figures"] is None and quiet["latest_failures"] == []
    bad = get(client, reader, "/api/v1" + job_path(pipeline_id, "build"), 400, interval="year")
    assert "interval" in bad["error"]


@pytest.mark.usefixtures("seeded")
def test_another_organisations_job_is_404(
    client: TestClient, reader: Tenant, accounts: AccountService
) -> None:
    pipeline_id = _jobs(client, reader)["build"]["pipeline_id"]
    other = make_tenant(accounts, "globex", scopes=("read",))
    get(client, other, "/api/v1" + job_path(pipeline_id, "build"), 404, **WINDOW)


def test_the_runner_is_its_label_set_else_its_name_else_a_tag() -> None:
    assert runner_of(Place("main", "linux,x64", "r1", {"runner": "x"}, {})) == "linux,x64"
    assert runner_of(Place("main", None, "gl-7", {"runner": "x"}, {})) == "gl-7"
    # Stored before jobs kept runners: the tags.
    assert runner_of(
        Place("main", None, None, {"runner_labels": "ubuntu-latest", "runner_name": "r1"}, {})
    ) == ("ubuntu-latest")
    assert runner_of(Place("main", None, None, {"runner_name": "gl-7"}, {"runner": "x"})) == "gl-7"
    assert runner_of(Place("main", None, None, None, {"runner": "self-hosted"})) == "self-hosted"
    assert runner_of(Place("main", None, None, {}, None)) is None


def test_a_trunk_jobs_runner_tag(client: TestClient, tenant: Tenant, reader: Tenant) -> None:
    now = int(datetime.now(UTC).timestamp() * 1000)
    request = trunk_request(
        trunk_event("root", "chain-1", kind="pipeline", name="nightly", created_at=now - 9_000),
        trunk_event(
            "job",
            "chain-1",
            parent="root",
            name="compile",
            created_at=now - 8_000,
            finished_at=now - 1_000,
            tags={"runner": "linux-large"},
        ),
    )
    posted = client.post("/v1/metrics/trackEvents", json=request, headers=tenant.trunk_headers)
    assert posted.status_code == 200, posted.text
    listed = get(client, reader, "/api/v1/analytics/jobs", days=2)["items"]
    row = next(r for r in listed if r["job"] == "compile")
    job = get(
        client, reader, "/api/v1" + job_path(row["pipeline_id"], row["definition_key"]), days=2
    )
    assert job["places"]["runners"] == [{"name": "linux-large", "executions": 1}]


@pytest.mark.usefixtures("seeded")
def test_the_job_list_searches_by_name_pipeline_and_repository(
    client: TestClient, tenant: Tenant, reader: Tenant
) -> None:
    other = _run(9, 1, "success", 1, "main", ("success", 60, None))
    other.update(repository="acme/other", pipeline_name="Deploy")
    assert client.post(
        "/functions/v1/ingest", json=other, headers=tenant.runwatch_headers
    ).is_success
    assert set(_jobs(client, reader)) == {"build", ODD}  # one key each, both pipelines
    every = get(client, reader, "/api/v1/analytics/jobs", **WINDOW, level="all")["items"]
    assert len(every) == 4
    assert {
        r["job"]
        for r in get(client, reader, "/api/v1/analytics/jobs", **WINDOW, job="ÜNÏ")["items"]
    } == {ODD}
    deploy = get(client, reader, "/api/v1/analytics/jobs", **WINDOW, pipeline="Deploy")["items"]
    assert {(r["pipeline"], r["job"]) for r in deploy} == {("Deploy", "build"), ("Deploy", ODD)}
    in_other = get(
        client, reader, "/api/v1/analytics/jobs", **WINDOW, repository="acme/other", job="buil"
    )["items"]
    assert [(r["repository"], r["job"]) for r in in_other] == [("acme/other", "build")]
    csv = get(client, reader, "/api/v1/analytics/jobs", **WINDOW, job="build", format="csv")
    assert len(csv.strip().splitlines()) == 3  # the header and build of both pipelines


# --- The dashboard ---------------------------------------------------------------------------


@pytest.fixture
def signed_in(client: TestClient, tenant: Tenant, database: Database) -> TestClient:
    UserService(database).create_user("ada@example.com", tenant.name, PASSWORD)
    assert sign_in(client, "ada@example.com").status_code == 303
    return client


def _links(html: str) -> list[str]:
    return [unescape(href) for href in re.findall(r'href="(/jobs/[^"]+)"', html)]


@pytest.mark.usefixtures("seeded")
def test_the_job_page_shows_the_apis_figures(signed_in: TestClient, reader: Tenant) -> None:
    listed = _jobs(signed_in, reader)["build"]
    jobs_page = signed_in.get(
        "/jobs", params={"range": "custom", "since": "2024-01-01", "until": "2024-01-07"}
    )
    assert jobs_page.status_code == 200
    links = _links(jobs_page.text)
    build = next(link for link in links if link.split("?")[0].endswith("/build"))
    page = signed_in.get(build)
    assert page.status_code == 200, page.text
    text = page.text
    assert "<h1>build</h1>" in text
    assert re.search(r'data-field="runs">5<', text)
    assert re.search(r'data-field="failure_count">2<', text)
    assert re.search(r'data-field="success_rate">50(\.0)?%<', text)
    assert 'data-class="infrastructure"' in text and "runner_system_failure" in text
    assert text.count('href="/runs/') >= 3  # each failure links to its run
    assert listed["runs"] == 5
    odd = next(link for link in links if quote(ODD, safe="") in link)
    assert signed_in.get(odd).status_code == 200


@pytest.mark.usefixtures("seeded")
def test_job_names_link_to_their_pages_everywhere(signed_in: TestClient, reader: Tenant) -> None:
    pipeline_id = _jobs(signed_in, reader)["build"]["pipeline_id"]
    dates = {"range": "custom", "since": "2024-01-01", "until": "2024-01-07"}
    expected = job_path(pipeline_id, "build")
    for path in ("/jobs", f"/pipelines/{pipeline_id}", "/flaky"):
        page = signed_in.get(path, params=dates)
        assert page.status_code == 200, path
        assert any(link.split("?")[0] == expected for link in _links(page.text)), path
    attempt = get(signed_in, reader, "/api/v1/runs", **WINDOW)["items"][0]["id"]
    run_page = signed_in.get(f"/runs/{attempt}")
    assert any(link.split("?")[0] == expected for link in _links(run_page.text))


@pytest.mark.usefixtures("seeded")
def test_the_jobs_page_searches(signed_in: TestClient, reader: Tenant) -> None:
    dates = {"range": "custom", "since": "2024-01-01", "until": "2024-01-07"}
    found = signed_in.get("/jobs", params={**dates, "job": "ÜNÏ"})
    assert found.status_code == 200
    assert "build</a>" not in found.text and "lint / unit tests" in unescape(found.text)
    pipeline_id = _jobs(signed_in, reader)["build"]["pipeline_id"]
    chosen = signed_in.get("/jobs", params={**dates, "pipeline": pipeline_id, "job": "build"})
    assert "build</a>" in chosen.text and "lint / unit" not in unescape(chosen.text)
    assert signed_in.get("/jobs", params={"job": "zzz"}).status_code == 200
    bad = signed_in.get("/jobs", params={"pipeline": "nope"})
    assert bad.status_code == 400 and "pipeline" in bad.text
    missing = signed_in.get(job_path(pipeline_id, "nope"))
    assert missing.status_code == 404
