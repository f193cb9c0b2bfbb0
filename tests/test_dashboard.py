"""The dashboard over HTTP, on SQLite and PostgreSQL: signing in and out, sessions and CSRF,
every page on seeded data with the same numbers as the read API, organisations kept apart,
API keys from the settings page, and escaping of everything CI sent. (tests/browser drives
the same pages in Chromium.)"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from starlette.testclient import TestClient

from cipulse.accounts.service import AccountService
from cipulse.accounts.users import UserService
from cipulse.storage.database import Database
from cipulse.web.dashboard.rendering import duration, duration_unit, in_unit, percent
from tests.builders import runwatch_job, runwatch_run, trunk_event, trunk_request
from tests.conftest import Tenant, make_tenant, rows

PASSWORD = "correct horse battery"
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'
PAGES = ("/", "/pipelines", "/runs", "/jobs", "/flaky", "/tests", "/metrics", "/settings")


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def recent_runs(pipeline: str = "CI", repository: str = "acme/app") -> list[dict[str, Any]]:
    """A flaky run, a failing one and successes, all in the last two days."""
    now = datetime.now(UTC).replace(microsecond=0)
    runs = []
    for number, (attempt, status, hours_ago) in enumerate(
        [(1, "success", 40), (1, "failure", 30), (2, "success", 29), (1, "failure", 5)]
    ):
        started = now - timedelta(hours=hours_ago)
        run_id = 100 + number if attempt == 1 else 100 + number - 1
        runs.append(
            runwatch_run(
                repository=repository,
                pipeline_name=pipeline,
                run_id=run_id,
                run_attempt=attempt,
                status=status,
                branch="main",
                started_at=iso(started),
                completed_at=iso(started + timedelta(minutes=10)),
                duration_seconds=600,
                compute_seconds=900,
                jobs=[
                    runwatch_job(
                        "build",
                        "success",
                        started_at=iso(started),
                        completed_at=iso(started + timedelta(minutes=4)),
                        duration_seconds=240,
                    ),
                    runwatch_job(
                        "test",
                        status,
                        started_at=iso(started + timedelta(minutes=4)),
                        completed_at=iso(started + timedelta(minutes=10)),
                        duration_seconds=360,
                    ),
                ],
            )
        )
    return runs


def trunk_run(name: str = "nightly", tag: str = "runner", metric: str = "test_count") -> Any:
    """A Trunk pipeline run with one job carrying a custom metric and a tag."""
    now = int(datetime.now(UTC).timestamp() * 1000)
    return trunk_request(
        trunk_event(
            "root",
            "chain-1",
            kind="pipeline",
            name=name,
            created_at=now - 120_000,
            finished_at=now - 60_000,
        ),
        trunk_event(
            "job",
            "chain-1",
            parent="root",
            name=name,
            created_at=now - 110_000,
            finished_at=now - 70_000,
            metrics={metric: 42},
            tags={tag: name},
        ),
    )


def ingest(client: TestClient, tenant: Tenant, runs: list[dict[str, Any]]) -> None:
    for run in runs:
        response = client.post("/functions/v1/ingest", json=run, headers=tenant.runwatch_headers)
        assert response.status_code in {200, 201, 202}, response.text


def sign_in(client: TestClient, email: str, password: str = PASSWORD) -> Any:
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


@pytest.fixture
def users(database: Database) -> UserService:
    return UserService(database)


@pytest.fixture
def signed_in(client: TestClient, tenant: Tenant, users: UserService) -> TestClient:
    users.create_user("ada@example.com", tenant.name, PASSWORD)
    assert sign_in(client, "ada@example.com").status_code == 303
    return client


def test_pages_need_a_session_and_come_back_after_sign_in(
    client: TestClient, tenant: Tenant, users: UserService
) -> None:
    users.create_user("ada@example.com", tenant.name, PASSWORD)
    for path in PAGES:
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/sign-in")
    assert (
        client.get("/jobs?range=7d", follow_redirects=False).headers["location"]
        == "/sign-in?next=/jobs%3Frange%3D7d"
    )
    wrong = sign_in(client, "ada@example.com", "not the password")
    assert wrong.status_code == 401
    assert "email or password is incorrect" in wrong.text
    unknown = sign_in(client, "nobody@example.com")
    assert unknown.status_code == 401
    right = sign_in(client, "ADA@example.com ")
    assert right.status_code == 303
    cookie = right.headers["set-cookie"]
    assert "cipulse_session=" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie.replace("Lax", "lax")
    assert client.get("/", follow_redirects=False).status_code == 200


def test_many_failed_sign_ins_lock_the_address_for_a_while(
    client: TestClient, tenant: Tenant, users: UserService
) -> None:
    from cipulse.accounts.throttle import SIGN_IN_FAILURES

    users.create_user("ada@example.com", tenant.name, PASSWORD)
    for _ in range(SIGN_IN_FAILURES):
        assert sign_in(client, "ada@example.com", "guess").status_code == 401
    locked = sign_in(client, "Ada@example.com")  # even with the right password
    assert locked.status_code == 429
    assert "Too many failed sign-ins" in locked.text
    assert 0 < int(locked.headers["retry-after"]) <= 15 * 60
    assert sign_in(client, "bob@example.com", "guess").status_code == 401  # others may try


def test_sign_in_needs_the_form_token_and_only_redirects_on_site(
    client: TestClient, tenant: Tenant, users: UserService
) -> None:
    users.create_user("ada@example.com", tenant.name, PASSWORD)
    forged = client.post(
        "/sign-in",
        data={"email": "ada@example.com", "password": PASSWORD, "csrf": "guess"},
        follow_redirects=False,
    )
    assert forged.status_code == 403
    form = client.get("/sign-in?next=//evil.example/")
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert csrf is not None
    response = client.post(
        "/sign-in",
        data={
            "email": "ada@example.com",
            "password": PASSWORD,
            "csrf": csrf.group(1),
            "next": "//evil.example/",
        },
        follow_redirects=False,
    )
    assert response.headers["location"] == "/"


def test_sessions_are_stored_hashed_and_sign_out_ends_them(
    signed_in: TestClient, database: Database
) -> None:
    token = signed_in.cookies["cipulse_session"]
    stored = rows(database, "sessions")
    assert len(stored) == 1
    assert token not in str(stored)
    assert "correct horse" not in str(rows(database, "users"))
    no_token = signed_in.post("/sign-out", data={}, follow_redirects=False)
    assert no_token.status_code == 403
    response = signed_in.post(
        "/sign-out", data={"csrf": csrf_of(signed_in)}, follow_redirects=False
    )
    assert response.status_code == 303
    assert rows(database, "sessions") == []
    signed_in.cookies.set("cipulse_session", token)
    assert signed_in.get("/", follow_redirects=False).status_code == 303


def test_every_page_renders_seeded_data_with_the_read_apis_numbers(
    signed_in: TestClient, tenant: Tenant, accounts: AccountService
) -> None:
    ingest(signed_in, tenant, recent_runs())
    tracked = signed_in.post(
        "/v1/metrics/trackEvents", json=trunk_run(), headers=tenant.trunk_headers
    )
    assert tracked.status_code < 300, tracked.text
    reader = {"X-API-Key": accounts.create_key(tenant.name, scopes=("read",)).key}
    summary = signed_in.get("/api/v1/analytics/summary", headers=reader).json()
    overview = signed_in.get("/")
    assert overview.status_code == 200
    assert overview.headers["content-security-policy"].startswith("default-src 'self'")
    kpi = re.search(r'data-metric="runs".*?data-value>([^<]+)<', overview.text, re.S)
    assert kpi is not None and kpi.group(1) == str(summary["runs"])
    rate = re.search(r'data-metric="success_rate".*?data-value>([^<]+)<', overview.text, re.S)
    assert rate is not None and rate.group(1) == percent(summary["success_rate"])
    pipelines = signed_in.get("/api/v1/pipelines", headers=reader).json()["items"]
    page = signed_in.get("/pipelines").text
    p95 = [row["p95_duration_seconds"] for row in pipelines[:50]]
    unit = duration_unit(p95)  # one unit per column, named in its header
    assert f'data-field="p95_duration_seconds">{in_unit(p95[0], unit)}' in page
    assert f"p95 ({unit})" in page
    pipeline_id = pipelines[0]["id"]
    assert "test" in signed_in.get(f"/pipelines/{pipeline_id}").text
    flaky = signed_in.get("/api/v1/analytics/flaky", headers=reader).json()["items"]
    assert flaky and flaky[0]["job"] == "test"
    assert 'data-field="flaky_count">1<' in signed_in.get("/flaky").text
    assert "test_count" in signed_in.get("/metrics").text
    assert "build" in signed_in.get("/jobs?sort=-p95_duration_seconds").text
    run = signed_in.get("/api/v1/runs?limit=1&pipeline=CI", headers=reader).json()["items"][0]
    run_page = signed_in.get(f"/runs/{run['id']}")
    assert run_page.status_code == 200
    assert 'data-job="build"' in run_page.text and 'data-job="test"' in run_page.text
    for path in PAGES:
        for query in (
            "range=24h",
            "range=7d&branches=default",
            "since=2024-01-01&until=2024-01-31",
        ):
            response = signed_in.get(f"{path}?{query}&repository=acme/app")
            assert response.status_code == 200, (path, query, response.text[:300])


def test_csv_links_work_with_the_session(signed_in: TestClient, tenant: Tenant) -> None:
    ingest(signed_in, tenant, recent_runs())
    page = signed_in.get("/pipelines").text
    link = re.search(r'href="(/api/v1/pipelines\?[^"]+)" download', page)
    assert link is not None
    response = signed_in.get(link.group(1).replace("&amp;", "&"))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "acme/app" in response.text


def test_pipelines_come_fifty_to_a_page_and_filter_by_provider(
    signed_in: TestClient, tenant: Tenant
) -> None:
    runs = [
        run
        for number in range(55)
        for run in recent_runs(pipeline=f"p{number:02d}", repository="acme/many")[:1]
    ]
    runs[0]["provider"] = "gitlab"
    ingest(signed_in, tenant, runs)
    first = signed_in.get("/pipelines?sort=name").text
    names = re.findall(r'class="name" href="/pipelines/[^"]+">([^<]+)</a>', first)
    assert names == [f"p{number:02d}" for number in range(50)]
    assert "55 pipelines" in first
    assert "Page 1 of 2" in first
    second = signed_in.get("/pipelines?sort=name&page=2").text
    names = re.findall(r'class="name" href="/pipelines/[^"]+">([^<]+)</a>', second)
    assert names == [f"p{number:02d}" for number in range(50, 55)]
    assert 'rel="prev"' in second and 'rel="next"' not in second
    gitlab = signed_in.get("/pipelines?provider=gitlab").text
    assert re.findall(r'class="name" href="/pipelines/[^"]+">([^<]+)</a>', gitlab) == ["p00"]
    assert '<option value="gitlab" selected>' in gitlab
    assert "1 pipeline ·" in gitlab


def test_bad_view_parameters_answer_a_page_naming_them(signed_in: TestClient) -> None:
    for query, field in (
        ("range=fortnight", "range"),
        ("since=yesterday", "since"),
        ("branches=feature", "branches"),
        ("sort=colour", "sort"),
        ("page=0", "page"),
    ):
        response = signed_in.get(f"/pipelines?{query}")
        assert response.status_code == 400, query
        assert field in response.text
        assert response.headers["content-type"].startswith("text/html")
    assert signed_in.get("/runs/not-a-run").status_code == 404
    assert signed_in.get("/pipelines/00000000-0000-0000-0000-000000000001").status_code == 404


def test_an_empty_organisation_explains_how_to_send_a_first_run(
    signed_in: TestClient,
) -> None:
    page = signed_in.get("/").text
    assert "No runs yet" in page
    assert "/functions/v1/ingest" in page


def test_organisations_stay_apart_and_users_switch_between_theirs(
    signed_in: TestClient, tenant: Tenant, accounts: AccountService, users: UserService
) -> None:
    other = make_tenant(accounts, "globex")
    ingest(signed_in, other, recent_runs("Deploy", "globex/site"))
    reader = {"X-API-Key": accounts.create_key("globex", scopes=("read",)).key}
    their_run = signed_in.get("/api/v1/runs?limit=1", headers=reader).json()["items"][0]
    assert signed_in.get(f"/runs/{their_run['id']}").status_code == 404
    assert signed_in.get(f"/pipelines/{their_run['pipeline_id']}").status_code == 404
    assert "globex/site" not in signed_in.get("/pipelines").text
    forbidden = signed_in.post("/organisation", data={"org": "globex", "csrf": csrf_of(signed_in)})
    assert forbidden.status_code == 404
    users.create_user("ada@example.com", "globex", None)
    switched = signed_in.post(
        "/organisation",
        data={"org": "globex", "csrf": csrf_of(signed_in)},
        follow_redirects=False,
    )
    assert switched.status_code == 303
    assert "globex/site" in signed_in.get("/pipelines").text
    assert signed_in.get(f"/runs/{their_run['id']}").status_code == 200


def test_keys_are_created_shown_once_and_revoked_from_settings(
    signed_in: TestClient, tenant: Tenant, database: Database, users: UserService
) -> None:
    csrf = csrf_of(signed_in)
    assert (
        signed_in.post("/settings/keys", data={"name": "ci", "scope": "ingest"}).status_code == 403
    )
    created = signed_in.post(
        "/settings/keys", data={"csrf": csrf, "name": "ci", "scope": ["ingest", "read"]}
    )
    assert created.status_code == 201
    key = re.search(r"data-secret>([^<]+)<", created.text)
    assert key is not None
    assert key.group(1) not in str(rows(database, "api_keys"))
    assert key.group(1) not in signed_in.get("/settings").text
    run = recent_runs()[0]
    posted = signed_in.post("/functions/v1/ingest", json=run, headers={"X-API-Key": key.group(1)})
    assert posted.status_code in {200, 201, 202}
    stored = [k for k in rows(database, "api_keys") if key.group(1).startswith(k["prefix"])]
    assert len(stored) == 1
    prefix = stored[0]["prefix"]
    revoked = signed_in.post(
        f"/settings/keys/{prefix}/revoke", data={"csrf": csrf}, follow_redirects=False
    )
    assert revoked.status_code == 303
    refused = signed_in.post("/functions/v1/ingest", json=run, headers={"X-API-Key": key.group(1)})
    assert refused.status_code == 401
    assert (
        signed_in.post("/settings/keys/cip_nothere/revoke", data={"csrf": csrf}).status_code == 404
    )
    users.create_user("bob@example.com", tenant.name, PASSWORD, role="member")
    signed_in.cookies.clear()
    assert sign_in(signed_in, "bob@example.com").status_code == 303
    member = signed_in.post("/settings/keys", data={"csrf": csrf_of(signed_in), "scope": "ingest"})
    assert member.status_code == 403


def test_settings_show_the_webhook_urls_and_whether_their_secrets_are_set(
    signed_in: TestClient, tenant: Tenant, database: Database
) -> None:
    from cipulse.accounts.webhooks import WebhookService
    from cipulse.domain.model import WebhookProvider

    page = signed_in.get("/settings").text
    assert f"/webhooks/github/{tenant.name}</code>" in page
    assert f"/webhooks/gitlab/{tenant.name}</code>" in page
    assert page.count("cipulse orgs set-webhook-secret") == 2
    WebhookService(database).set_secret(tenant.name, WebhookProvider.GITHUB, "s3cret")
    page = signed_in.get("/settings").text
    assert page.count("cipulse orgs set-webhook-secret") == 1
    assert "s3cret" not in page


def test_what_ci_sent_is_escaped_everywhere(signed_in: TestClient, tenant: Tenant) -> None:
    runs = recent_runs(pipeline=HOSTILE, repository="acme/app")
    for run in runs:
        run["branch"] = HOSTILE
        run["run_name"] = HOSTILE
        run["actor"] = HOSTILE
        run["run_url"] = "javascript:alert(1)"
        for job in run["jobs"]:
            job["name"] = HOSTILE + job["name"]
            job["job_url"] = "javascript:alert(2)"
    ingest(signed_in, tenant, runs)
    hostile = trunk_run(name=HOSTILE, tag=HOSTILE, metric="<b>bold</b>")
    tracked = signed_in.post("/v1/metrics/trackEvents", json=hostile, headers=tenant.trunk_headers)
    assert tracked.status_code < 300, tracked.text
    pages = [signed_in.get(path).text for path in PAGES]
    pipeline = re.search(r'href="/pipelines/([0-9a-f-]{36})', pages[1])
    assert pipeline is not None
    pages.append(signed_in.get(f"/pipelines/{pipeline.group(1)}").text)
    run_link = re.search(r'href="/runs/([0-9a-f-]{36})', pages[-1])
    assert run_link is not None
    pages.append(signed_in.get(f"/runs/{run_link.group(1)}").text)
    pages.append(signed_in.get("/metrics?group=" + HOSTILE).text)
    for page in pages:
        assert "<script>alert" not in page
        assert "<img src=x" not in page
        assert "javascript:" not in page
        assert "<b>bold" not in page
    assert "&lt;script&gt;alert" in pages[-2]


def test_the_24_hour_range_is_whole_hours_ending_with_the_current_one() -> None:
    from starlette.requests import Request

    from cipulse.web.dashboard.view import view_of

    request = Request({"type": "http", "path": "/", "query_string": b"range=24h", "headers": []})
    view = view_of(request, now=datetime(2026, 12, 3, 20, 41, 7, tzinfo=UTC))
    assert view.api_params == {"since": "2026-12-02T21:00:00Z", "until": "2026-12-03T21:00:00Z"}
    assert view.interval.value == "hour"
    assert view.label == "24 hours"


@pytest.mark.parametrize(
    ("range_", "now", "since", "until", "label"),
    [
        (
            "month",
            datetime(2026, 12, 8, 1, 0, tzinfo=UTC),
            "2026-12-01",
            "2027-01-01",
            "This month",
        ),
        ("last_month", datetime(2026, 12, 8, tzinfo=UTC), "2026-11-01", "2026-12-01", "Last month"),
        ("last_month", datetime(2026, 1, 31, tzinfo=UTC), "2025-12-01", "2026-01-01", "Last month"),
        (
            "month",
            datetime(2028, 2, 29, 23, 59, tzinfo=UTC),
            "2028-02-01",
            "2028-03-01",
            "This month",
        ),
    ],
)
def test_the_month_ranges_are_whole_calendar_months(
    range_: str, now: datetime, since: str, until: str, label: str
) -> None:
    """ "This month" and "Last month": whole UTC calendar months, compared with the month
    before (domain/window.py)."""
    from starlette.requests import Request

    from cipulse.web.dashboard.view import view_of

    query = f"range={range_}".encode()
    request = Request({"type": "http", "path": "/", "query_string": query, "headers": []})
    view = view_of(request, now=now)
    assert view.api_params == {"since": f"{since}T00:00:00Z", "until": f"{until}T00:00:00Z"}
    assert (view.interval.value, view.label) == ("day", label)


def test_pipelines_of_one_repository(signed_in: TestClient, tenant: Tenant) -> None:
    ingest(signed_in, tenant, recent_runs(pipeline="CI", repository="acme/app"))
    ingest(signed_in, tenant, recent_runs(pipeline="Docs", repository="acme/site"))
    page = signed_in.get("/pipelines?repository=acme/site").text
    assert re.findall(r'class="name" href="/pipelines/[^"]+">([^<]+)</a>', page) == ["Docs"]
    assert "1 pipeline ·" in page


def test_a_duration_is_rounded_to_its_last_unit_shown() -> None:
    """A card's duration is the figure rounded, never cut: 26 h 2.7 min shows 26h 03m."""
    assert [duration(s) for s in (0.4, 42.4, 125.6, 3599.6, 93_764.9, 200_000)] == [
        "0.4s",
        "42s",
        "2m 06s",
        "1h 00m",
        "26h 03m",
        "2.3d",
    ]
    assert duration(None) == "—"
