"""No input ever gives a 500: each input that once did, as a test, on SQLite and PostgreSQL.
Calendar edges of the read window and the dashboard's view, instants outside the accepted
range, NUL characters, cursors, deep job trees, numbers that overflow, key names, and ids in
any case. The accepted ranges are those of docs/api.md ("Accepted values")."""

from __future__ import annotations

import base64
import copy
import re
import uuid
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from starlette.testclient import TestClient

from cipulse.accounts.service import AccountService
from cipulse.accounts.users import UserService
from cipulse.cli.main import cli
from cipulse.settings import Settings
from cipulse.storage.database import Database
from tests.builders import real_fixture, runwatch_job, runwatch_run, trunk_event, trunk_request
from tests.conftest import Tenant, count, rows
from tests.webhooks import hooked_org, post_github, post_gitlab

PASSWORD = "correct horse battery"
#: The ten read endpoints that take a window.
WINDOWED = (
    "/api/v1/analytics/summary",
    "/api/v1/analytics/timeseries",
    "/api/v1/analytics/recovery",
    "/api/v1/analytics/custom-metrics/keys",
    "/api/v1/analytics/custom-metrics",
    "/api/v1/analytics/jobs",
    "/api/v1/analytics/flaky",
    "/api/v1/repositories",
    "/api/v1/pipelines",
    "/api/v1/runs",
)
PAGES = ("/", "/pipelines", "/jobs", "/flaky", "/metrics", "/settings")
#: 1969-12-31T23:59:59Z, the last instant before the accepted range.
BEFORE_RANGE = "1969-12-31T23:59:59Z"


@pytest.fixture
def reader(accounts: AccountService, tenant: Tenant) -> dict[str, str]:
    return {"X-API-Key": accounts.create_key(tenant.name, scopes=("read",)).key}


@pytest.fixture
def signed_in(client: TestClient, tenant: Tenant, database: Database) -> TestClient:
    UserService(database).create_user("ada@example.com", tenant.name, PASSWORD)
    assert sign_in(client, "ada@example.com", PASSWORD).status_code == 303
    return client


def sign_in(client: TestClient, email: str, password: str) -> Any:
    form = client.get("/sign-in")
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert csrf is not None
    return client.post(
        "/sign-in",
        data={"email": email, "password": password, "csrf": csrf.group(1), "next": "/"},
        follow_redirects=False,
    )


def csrf_of(client: TestClient) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', client.get("/settings").text)
    assert found is not None
    return found.group(1)


def post_run(client: TestClient, tenant: Tenant, **fields: Any) -> Any:
    return client.post(
        "/functions/v1/ingest", json=runwatch_run(**fields), headers=tenant.runwatch_headers
    )


def post_trunk(client: TestClient, tenant: Tenant, payload: Any) -> Any:
    return client.post("/v1/metrics/trackEvents", json=payload, headers=tenant.trunk_headers)


def refused(response: Any, field: str) -> None:
    """A 400 whose message names ``field`` first (or among the problems it lists)."""
    assert response.status_code == 400, response.text
    message = response.json()["error"]
    assert re.search(rf"(^|; ){re.escape(field)}: ", message), message


def extra_params(path: str) -> dict[str, str]:
    return {"key": "duration_ms"} if path.endswith("custom-metrics") else {}


# --- Calendar edges -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("until", "0001-01-01T00:00:00Z"),
        ("until", "9999-12-31T23:59:59Z"),
        ("until", "9999-12-31"),
        ("since", "0001-01-01T00:00:00Z"),
        ("since", "9999-12-30T00:00:00Z"),
        ("until", BEFORE_RANGE),
        ("until", "2200-01-01T00:00:00.001Z"),
        ("since", "0001-01-01T00:00:00+14:00"),
    ],
)
def test_a_window_outside_the_accepted_range_is_a_400_naming_the_parameter(
    client: TestClient, reader: dict[str, str], name: str, value: str
) -> None:
    for path in WINDOWED:
        response = client.get(path, params={name: value, **extra_params(path)}, headers=reader)
        refused(response, name)


def test_windows_at_the_edges_of_the_range_are_answered(
    client: TestClient, tenant: Tenant, reader: dict[str, str]
) -> None:
    first = post_run(client, tenant, started_at="1970-01-01T00:00:00Z", completed_at=None)
    last = post_run(
        client, tenant, run_id=2, started_at="2199-12-31T23:59:59.999Z", completed_at=None
    )
    assert (first.status_code, last.status_code) == (200, 200), (first.text, last.text)
    for window in (
        {"since": "1970-01-01T00:00:00Z", "until": "1970-01-31T00:00:00Z"},
        {"until": "1970-01-02T00:00:00Z"},  # since 30 days before the epoch
        {"since": "2190-01-01T00:00:00Z", "until": "2200-01-01T00:00:00Z"},
        {"until": "2200-01-01T00:00:00Z", "days": "3660"},
    ):
        for path in WINDOWED:
            params = {**window, **extra_params(path)}
            response = client.get(path, params=params, headers=reader)
            assert response.status_code == 200, (path, window, response.text)
    runs = client.get(
        "/api/v1/runs", params={"since": "2190-01-01T00:00:00Z", "until": "2200-01-01T00:00:00Z"}
    )
    assert runs.status_code == 401  # without the key: the edges changed nothing else
    found = client.get(
        "/api/v1/runs",
        params={"since": "2190-01-01T00:00:00Z", "until": "2200-01-01T00:00:00Z"},
        headers=reader,
    ).json()["items"]
    assert [run["started_at"] for run in found] == ["2199-12-31T23:59:59.999000Z"]


def test_dashboard_views_outside_the_range_are_a_400_page(signed_in: TestClient) -> None:
    for query, field in (
        ("until=9999-12-31", "until"),
        ("since=0001-01-01", "since"),
        ("until=1969-12-31", "until"),
        ("since=2200-01-01", "since"),
        ("since=9999-12-31&until=9999-12-31", "since"),
    ):
        for page in PAGES:
            response = signed_in.get(f"{page}?{query}")
            assert response.status_code == 400, (page, query, response.text[:300])
            assert response.headers["content-type"].startswith("text/html")
            assert f"{field}:" in response.text, (page, query)
    for query in ("since=1970-01-01&until=1970-01-31", "until=2199-12-31"):
        for page in PAGES:
            assert signed_in.get(f"{page}?{query}").status_code == 200, (page, query)


# --- Instants outside the accepted range, at ingest ------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "status"),
    [
        ("started_at", "0001-01-01T00:00:00+14:00", 400),
        ("started_at", "9999-12-31T23:59:59Z", 400),
        ("started_at", BEFORE_RANGE, 400),
        ("started_at", "2200-01-01T00:00:00Z", 400),
        ("started_at", "1970-01-01T00:00:00Z", 200),
        ("started_at", "1970-01-01T01:00:00+01:00", 200),
        ("started_at", "2199-12-31T23:59:59.999Z", 200),
        ("completed_at", "9999-12-31T23:59:59-12:00", 400),
    ],
)
def test_runwatch_instants_outside_the_range_are_refused(
    client: TestClient, tenant: Tenant, database: Database, field: str, value: str, status: int
) -> None:
    changes = {field: value}
    if field == "started_at":
        changes["completed_at"] = None  # type: ignore[assignment]
    else:
        changes["started_at"] = "2024-01-01T00:00:00Z"
    response = post_run(client, tenant, **changes)
    if status == 400:
        refused(response, field)
        assert count(database, "run_attempts") == 0
    else:
        assert response.status_code == 200, response.text
    job = runwatch_job("build", started_at="0001-01-01T00:00:00+14:00")
    refused(post_run(client, tenant, run_id=9, jobs=[job]), "jobs[0].started_at")


def test_trunk_instants_outside_the_range_are_refused(client: TestClient, tenant: Tenant) -> None:
    late = trunk_request(trunk_event("r", "r", created_at=7_258_118_400_000, finished_at=None))
    refused(post_trunk(client, tenant, late), "events[0].createdAt")
    ended = trunk_request(trunk_event("r", "r", finished_at=10**14))
    refused(post_trunk(client, tenant, ended), "events[0].finishedAt")
    epoch = trunk_request(trunk_event("r", "r", created_at=0, finished_at=1000))
    assert post_trunk(client, tenant, epoch).status_code == 200


def test_webhook_instants_outside_the_range_are_refused(
    client: TestClient, database: Database
) -> None:
    hooked_org(database, "acme")
    run = real_fixture("github-workflow_run.completed.json")
    run["workflow_run"]["created_at"] = "0001-01-01T00:00:00+14:00"
    refused(post_github(client, "acme", "workflow_run", run), "workflow_run.created_at")
    job = real_fixture("github-workflow_job.completed.success.with-organization.json")
    job["workflow_job"]["steps"][0]["started_at"] = "9999-12-31T23:59:59-12:00"
    refused(post_github(client, "acme", "workflow_job", job), "workflow_job.steps[0].started_at")
    pipeline = real_fixture("gitlab-docs.pipeline-event.json")
    pipeline["object_attributes"]["created_at"] = "0001-01-01 00:00:00 +1400"
    refused(post_gitlab(client, "acme", "Pipeline Hook", pipeline), "object_attributes.created_at")
    job_hook = real_fixture("gitlab-docs.job-event.json")
    job_hook["build_started_at"] = "2200-01-01 00:00:00 UTC"
    refused(post_gitlab(client, "acme", "Job Hook", job_hook), "build_started_at")
    assert count(database, "run_attempts") == count(database, "jobs") == 0


def test_instants_stored_before_the_range_was_enforced_still_render(
    signed_in: TestClient, tenant: Tenant, reader: dict[str, str], database: Database
) -> None:
    """A run stored by an older version with year 0 (UTC) or past 9999 must not make its
    run, or the organisation's Pipelines page, answer 500: such instants show at the edge of
    what a date can hold."""
    attempt_id = post_run(signed_in, tenant).json()["pipeline_run_id"]
    year_zero_ms, past_9999_ms = -62_135_647_200_000, 253_402_387_200_000
    with database.write() as conn:
        conn.execute(
            sa.text("UPDATE run_attempts SET started_at_ms = :s, completed_at_ms = :c"),
            {"s": year_zero_ms, "c": past_9999_ms},
        )
        conn.execute(sa.text("UPDATE jobs SET started_at_ms = :s"), {"s": year_zero_ms})
    detail = signed_in.get(f"/api/v1/runs/{attempt_id}", headers=reader)
    assert detail.status_code == 200, detail.text
    assert detail.json()["started_at"] == "0001-01-01T00:00:00Z"
    assert detail.json()["completed_at"] == "9999-12-31T23:59:59.999000Z"
    assert signed_in.get(f"/runs/{attempt_id}").status_code == 200
    assert signed_in.get("/pipelines").status_code == 200


# --- NUL characters ----------------------------------------------------------------------------

FILTERS = ("repository", "pipeline", "branch", "branches", "provider", "status", "actor")


def test_nul_in_any_query_parameter_is_a_400_naming_it(
    client: TestClient, reader: dict[str, str]
) -> None:
    for path in WINDOWED:
        for name in (*FILTERS, "triggered_by", "since", "until", "days", "format", "tag"):
            params = {name: "a\x00b:c", **extra_params(path)}
            refused(client.get(path, params=params, headers=reader), name)
    for path, name in (
        ("/api/v1/analytics/jobs", "sort"),
        ("/api/v1/analytics/jobs", "cursor"),
        ("/api/v1/runs", "cursor"),
        ("/api/v1/analytics/timeseries", "metric"),
        ("/api/v1/analytics/timeseries", "interval"),
        ("/api/v1/analytics/custom-metrics", "key"),
        ("/api/v1/analytics/custom-metrics", "group_by"),
    ):
        refused(client.get(path, params={name: "tag:\x00"}, headers=reader), name)


def test_nul_in_paths_and_forms_is_a_400_naming_the_field(
    signed_in: TestClient, tenant: Tenant, reader: dict[str, str], database: Database
) -> None:
    refused(signed_in.get("/api/v1/runs/a%00b", headers=reader), "pipeline_run_id")
    refused(
        signed_in.post("/webhooks/github/a%00b", content=b"{}", headers={"X-GitHub-Event": "x"}),
        "org",
    )
    csrf = csrf_of(signed_in)
    for path, data, field in (
        ("/settings/keys", {"csrf": csrf, "name": "ci\x00", "scope": "read"}, "name"),
        ("/organisation", {"csrf": csrf, "org": "acme\x00"}, "org"),
        ("/settings/keys/cip%00x/revoke", {"csrf": csrf}, "prefix"),
        ("/pipelines?q=a%00b", None, "q"),
    ):
        if data is None:
            response = signed_in.get(path)
        else:
            response = signed_in.post(path, data=data, follow_redirects=False)
        assert response.status_code == 400, (path, response.text[:300])
        assert f"{field}:" in response.text, path
    signed_in.cookies.clear()
    response = sign_in(signed_in, "ada\x00@example.com", PASSWORD)
    assert response.status_code == 400, response.text[:300]
    assert "email:" in response.text
    assert len(rows(database, "api_keys")) == 2  # the ingest and read keys of the fixtures


def test_nul_in_json_bodies_is_a_400_naming_the_field(
    client: TestClient, tenant: Tenant, database: Database
) -> None:
    refused(post_run(client, tenant, actor="a\x00b"), "actor")
    job = runwatch_job("build\x00")
    refused(post_run(client, tenant, jobs=[job]), "jobs[0].name")
    tagged = trunk_request(trunk_event("r", "r", tags={"k": "v\x00"}))
    refused(post_trunk(client, tenant, tagged), "events[0].payload.tags[0].v")
    hooked_org(database, "hooked")
    run = real_fixture("github-workflow_run.completed.json")
    run["workflow_run"]["head_branch"] = "\x00"
    refused(post_github(client, "hooked", "workflow_run", run), "workflow_run.head_branch")


def test_tag_filters_find_any_key_on_both_databases(
    client: TestClient, tenant: Tenant, reader: dict[str, str]
) -> None:
    keys = ('quo"te', "dot.ted", "$[0]", "back\\slash", "sp ace", "*", "'")
    for index, key in enumerate(keys):
        event = trunk_event(f"r{index}", f"r{index}", tags={key: "yes"})
        assert post_trunk(client, tenant, trunk_request(event)).status_code == 200
    window = {"since": "2023-11-01T00:00:00Z", "until": "2023-12-01T00:00:00Z"}
    for key in keys:
        response = client.get(
            "/api/v1/runs", params={**window, "tag": f"{key}:yes"}, headers=reader
        )
        assert response.status_code == 200, (key, response.text)
        assert len(response.json()["items"]) == 1, key


# --- Cursors -----------------------------------------------------------------------------------


def _cursor(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


def test_cursors_are_validated(client: TestClient, tenant: Tenant, reader: dict[str, str]) -> None:
    for number in (1, 2, 3):
        assert post_run(client, tenant, run_id=number).status_code == 200
    window = {"since": "2024-01-01T00:00:00Z", "until": "2025-01-01T00:00:00Z"}
    some_id = str(uuid.uuid4())
    for cursor in (
        _cursor(f"{10**30}:{some_id}"),
        _cursor(f"-{10**30}:{some_id}"),
        _cursor("1700000000000:not-a-uuid"),
        _cursor("1700000000000:"),
        _cursor("x:y"),
        "!!!",
        "é",
    ):
        response = client.get(
            "/api/v1/runs", params={**window, "cursor": cursor, "limit": 1}, headers=reader
        )
        refused(response, "cursor")
    for cursor in (_cursor(f"offset:{10**30}"), _cursor("offset:-1"), _cursor("offset:"), "@"):
        for path in ("/api/v1/pipelines", "/api/v1/analytics/jobs", "/api/v1/analytics/flaky"):
            response = client.get(path, params={**window, "cursor": cursor}, headers=reader)
            refused(response, "cursor")
    first = client.get("/api/v1/runs", params={**window, "limit": 1}, headers=reader).json()
    upper = base64.urlsafe_b64decode(first["next_cursor"]).decode().upper()
    second = client.get(
        "/api/v1/runs", params={**window, "limit": 1, "cursor": _cursor(upper)}, headers=reader
    )
    assert second.status_code == 200
    same = client.get(
        "/api/v1/runs",
        params={**window, "limit": 1, "cursor": first["next_cursor"]},
        headers=reader,
    )
    assert second.json() == same.json()


def test_a_bad_cursor_on_the_jobs_page_is_a_400_page(signed_in: TestClient) -> None:
    response = signed_in.get("/jobs?cursor=" + _cursor(f"offset:{10**30}"))
    assert response.status_code == 400
    assert "cursor:" in response.text


# --- Deep job trees ----------------------------------------------------------------------------


def chain(run: str, depth: int, start: int = 0, parent: str | None = None) -> list[Any]:
    """``depth`` nested events of run ``run``: each the parent of the next."""
    events = []
    for level in range(start, start + depth):
        event_id = f"{run}-{level}"
        events.append(trunk_event(event_id, run, parent=parent or run, kind="stage"))
        parent = event_id
    return events


def tree_depth(nodes: list[dict[str, Any]]) -> int:
    deepest, level = 0, [(node, 1) for node in nodes]
    while level:
        node, depth = level.pop()
        deepest = max(deepest, depth)
        level.extend((child, depth + 1) for child in node["children"])
    return deepest


def test_trees_deeper_than_the_limit_are_refused_and_stored_ones_render(
    signed_in: TestClient, tenant: Tenant, reader: dict[str, str], database: Database
) -> None:
    root = trunk_event("deep", "deep", kind="pipeline")
    too_deep = trunk_request(root, *chain("deep", 65))
    refused(post_trunk(signed_in, tenant, too_deep), "events[65].parent")
    assert count(database, "jobs") == 0
    assert post_trunk(signed_in, tenant, trunk_request(root, *chain("deep", 64))).status_code == 200
    # Later requests may hang deeper nodes under stored ones: 1,000 levels in all.
    for start in range(64, 1000, 64):
        events = chain("deep", min(64, 1000 - start), start, parent=f"deep-{start - 1}")
        assert post_trunk(signed_in, tenant, trunk_request(*events)).status_code == 200
    attempt_id = rows(database, "run_attempts")[0]["id"]
    detail = signed_in.get(f"/api/v1/runs/{attempt_id}", headers=reader)
    assert detail.status_code == 200, detail.text
    jobs = detail.json()["jobs"]
    assert tree_depth(jobs) == 64

    def every(nodes: list[dict[str, Any]]) -> int:
        return sum(1 + every(node["children"]) for node in nodes)

    assert every(jobs) == 1000
    page = signed_in.get(f"/runs/{attempt_id}")
    assert page.status_code == 200
    assert "deep-999" in page.text or "name deep-999" in page.text


# --- Numbers -----------------------------------------------------------------------------------


def test_numbers_outside_their_ranges_are_refused(
    client: TestClient, tenant: Tenant, database: Database
) -> None:
    refused(post_run(client, tenant, duration_seconds=1e308), "duration_seconds")
    refused(post_run(client, tenant, compute_seconds=1e11), "compute_seconds")
    assert post_run(client, tenant, duration_seconds=1e10, compute_seconds=0).status_code == 200
    huge_metric = trunk_request(trunk_event("r", "r", metrics={"m": 1e308}))
    refused(post_trunk(client, tenant, huge_metric), "events[0].payload.metrics[0].v")
    hooked_org(database, "hooked")
    pipeline = real_fixture("gitlab-docs.pipeline-event.json")
    for field in ("queued_duration", "duration"):
        changed = copy.deepcopy(pipeline)
        changed["object_attributes"][field] = 2**70
        refused(
            post_gitlab(client, "hooked", "Pipeline Hook", changed), f"object_attributes.{field}"
        )
    late = copy.deepcopy(pipeline)
    late["object_attributes"]["created_at"] = "2199-12-31 23:00:00 UTC"
    late["object_attributes"]["queued_duration"] = 7200
    refused(
        post_gitlab(client, "hooked", "Pipeline Hook", late), "object_attributes.queued_duration"
    )
    build = copy.deepcopy(pipeline)
    build["builds"][0]["queued_duration"] = 2**70
    refused(post_gitlab(client, "hooked", "Pipeline Hook", build), "builds[0].queued_duration")
    job_hook = real_fixture("gitlab-docs.job-event.json")
    job_hook["retries_count"] = 2**63 - 1
    refused(post_gitlab(client, "hooked", "Job Hook", job_hook), "retries_count")
    run = real_fixture("github-workflow_run.completed.json")
    for attempt in (0, 2**40):
        run["workflow_run"]["run_attempt"] = attempt
        refused(post_github(client, "hooked", "workflow_run", run), "workflow_run.run_attempt")
    job = real_fixture("github-workflow_job.completed.success.with-organization.json")
    job["workflow_job"]["run_attempt"] = 0
    refused(post_github(client, "hooked", "workflow_job", job), "workflow_job.run_attempt")
    assert count(database, "run_attempts") == 1  # only the RunWatch run of 1e10 seconds


# --- Key names -----------------------------------------------------------------------------------


def test_key_names_are_validated_on_the_settings_form(
    signed_in: TestClient, database: Database
) -> None:
    csrf = csrf_of(signed_in)
    for name, field in (("k" * 101, "name"), ("k" * 1_000_000, "name"), ("new\nline", "name")):
        response = signed_in.post(
            "/settings/keys", data={"csrf": csrf, "name": name, "scope": "read"}
        )
        assert response.status_code == 400, response.text[:200]
        assert f"{field}:" in response.text
    assert len(rows(database, "api_keys")) == 1
    created = signed_in.post(
        "/settings/keys", data={"csrf": csrf, "name": " " + "k" * 100 + " ", "scope": "read"}
    )
    assert created.status_code == 201
    assert sorted(len(k["name"] or "") for k in rows(database, "api_keys")) == [0, 100]


def test_key_names_are_validated_by_the_cli(settings: Settings, database: Database) -> None:
    def run(*args: str) -> Any:
        return CliRunner().invoke(cli, ["--database-url", settings.database_url, *args])

    assert run("orgs", "create", "acme").exit_code == 0
    too_long = run("keys", "create", "--org", "acme", "--name", "k" * 101)
    assert too_long.exit_code == 1
    assert "name: must be at most 100 characters" in too_long.stderr
    control = run("keys", "create", "--org", "acme", "--name", "a\tb")
    assert control.exit_code == 1
    assert "name:" in control.stderr
    assert run("keys", "create", "--org", "acme", "--name", "k" * 100).exit_code == 0
    assert [len(k["name"]) for k in rows(database, "api_keys")] == [100]


# --- Ids in any case -------------------------------------------------------------------------


def test_ids_are_found_in_any_case(
    signed_in: TestClient, tenant: Tenant, reader: dict[str, str]
) -> None:
    attempt_id = post_run(signed_in, tenant).json()["pipeline_run_id"]
    upper = attempt_id.upper()
    detail = signed_in.get(f"/api/v1/runs/{upper}", headers=reader)
    assert detail.status_code == 200, detail.text
    assert detail.json()["id"] == attempt_id
    assert signed_in.get(f"/runs/{upper}").status_code == 200
    pipeline_id = detail.json()["pipeline_id"]
    assert signed_in.get(f"/pipelines/{pipeline_id.upper()}").status_code == 200
    runs = signed_in.get(
        "/api/v1/runs",
        params={"pipeline": pipeline_id.upper(), "since": "2024-01-01T00:00:00Z"},
        headers=reader,
    )
    assert [run["id"] for run in runs.json()["items"]] == [attempt_id]
    red = signed_in.get(
        "/red-since", params={"pipeline": "not-a-uuid", "at": "2024-01-01T00:00:00Z"}
    )
    assert red.status_code == 404
