"""What a new user sees, in-process on SQLite and PostgreSQL: the example run the empty states
print is timed a few minutes ago and shows at once; a window without runs says where the runs
are; the commands on the pages use the address the request came to. (test_e2e.py pastes what
a real ``cipulse serve`` prints into a shell.)"""

from __future__ import annotations

import html
import json
import re
import shlex
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from starlette.testclient import TestClient

from cipulse.accounts.service import AccountService
from cipulse.accounts.users import UserService
from cipulse.ingestion.runwatch.example import SPEC_EXAMPLE, example_curl, recent_example
from cipulse.settings import Settings
from cipulse.web.app import create_app
from tests.builders import RUNWATCH_EXAMPLE
from tests.conftest import Tenant
from tests.test_dashboard import PASSWORD, sign_in

RUNS_KPI = re.compile(
    r'data-metric="runs"[^>]*>\s*<span class="label">[^<]*</span>\s*'
    r'<span class="value" data-value>([^<]+)<'
)


def runs_shown(page: str) -> str:
    found = RUNS_KPI.search(page)
    assert found is not None, "no Runs figure on the page"
    return found.group(1)


def printed_curl(page: str) -> str:
    found = re.search(r"<pre><code>(curl .*?)</code></pre>", page, re.DOTALL)
    assert found is not None, "no curl on the page"
    return html.unescape(found.group(1))


def payload_of(curl: str) -> dict[str, Any]:
    words = shlex.split(curl.replace("\\\n", " "))
    payload: dict[str, Any] = json.loads(words[words.index("-d") + 1])
    return payload


@pytest.fixture
def signed_in(client: TestClient, tenant: Tenant, database: Any) -> TestClient:
    UserService(database).create_user("ada@example.com", tenant.name, PASSWORD)
    assert sign_in(client, "ada@example.com").status_code == 303
    return client


def test_the_recent_example_is_the_spec_example_a_few_minutes_ago() -> None:
    now = datetime(2026, 3, 2, 12, 0, 7, 123456, tzinfo=UTC)
    example = recent_example(now)
    assert example["started_at"] == "2026-03-02T11:54:07Z"
    assert example["completed_at"] == "2026-03-02T11:59:19Z"  # 312 s later, as in the spec
    assert [job["started_at"] for job in example["jobs"]] == [
        "2026-03-02T11:54:12Z",
        "2026-03-02T11:56:17Z",
    ]

    def timeless(item: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in item.items() if k not in {"started_at", "completed_at", "jobs"}}

    assert timeless(example) == timeless(SPEC_EXAMPLE)
    assert [timeless(job) for job in example["jobs"]] == [
        timeless(job) for job in SPEC_EXAMPLE["jobs"]
    ]
    assert SPEC_EXAMPLE["started_at"] == "2024-01-15T10:30:00Z"  # the constant is untouched
    assert RUNWATCH_EXAMPLE is SPEC_EXAMPLE


def test_the_key_header_expands_when_pasted() -> None:
    assert '-H "X-API-Key: $CIPULSE_API_KEY"' in example_curl("http://h:1")
    assert '-H "X-API-Key: cip_0123abcd_x-Y_z"' in example_curl("http://h:1", "cip_0123abcd_x-Y_z")
    # Anything else is quoted so that the shell takes it literally.
    assert "-H 'X-API-Key: a\"$b'" in example_curl("http://h:1", 'a"$b')


def test_the_empty_overview_prints_an_example_that_shows_at_once(
    signed_in: TestClient, tenant: Tenant
) -> None:
    page = signed_in.get("/").text
    assert "No runs yet" in page
    curl = printed_curl(page)
    assert curl.startswith("curl -X POST http://testserver/functions/v1/ingest")
    assert '"X-API-Key: $CIPULSE_API_KEY"' in curl
    payload = payload_of(curl)
    started = datetime.fromisoformat(payload["started_at"].replace("Z", "+00:00"))
    assert timedelta(0) < datetime.now(UTC) - started < timedelta(minutes=10)
    posted = signed_in.post("/functions/v1/ingest", json=payload, headers=tenant.runwatch_headers)
    assert posted.status_code == 200, posted.text
    overview = signed_in.get("/").text
    assert runs_shown(overview) == "1"
    assert "data-window-notice" not in overview
    runs = signed_in.get("/api/v1/runs").json()["items"]
    assert [run["run_key"] for run in runs] == ["789012345"]


def test_a_window_without_runs_links_to_a_window_with_them(
    signed_in: TestClient, tenant: Tenant
) -> None:
    posted = signed_in.post(
        "/functions/v1/ingest", json=SPEC_EXAMPLE, headers=tenant.runwatch_headers
    )
    assert posted.status_code == 200
    overview = signed_in.get("/").text
    assert runs_shown(overview) == "0"
    assert "No runs in the last 30 days." in overview
    assert "started from 2024-01-15 to 2024-01-15" in overview
    link = re.search(r'<a href="([^"]+)">show 2024-01-15 to 2024-01-15</a>', overview)
    assert link is not None
    target = html.unescape(link.group(1))
    assert target == "/?since=2024-01-15&until=2024-01-15"
    there = signed_in.get(target).text
    assert runs_shown(there) == "1" and "data-window-notice" not in there
    # The pipeline's page says the same about its own runs.
    pipeline = signed_in.get("/api/v1/pipelines?days=3650").json()["items"][0]["id"]
    page = signed_in.get(f"/pipelines/{pipeline}").text
    assert "Its runs started from 2024-01-15 to 2024-01-15" in page
    # Filters that hide runs inside the window: only the way back.
    signed_in.post(
        "/functions/v1/ingest",
        json=recent_example(),
        headers=tenant.runwatch_headers,
    )
    filtered = signed_in.get("/?repository=acme/other").text
    assert "No runs match these filters in the last 30 days." in filtered
    assert "show 2024" not in filtered
    assert re.search(r'<a href="/">Clear the filters</a>', filtered)


def test_pages_print_the_address_the_request_came_to(
    settings: Settings, tenant: Tenant, database: Any
) -> None:
    UserService(database).create_user("ada@example.com", tenant.name, PASSWORD)
    for public_url, expected in (
        ("", "http://cipulse.internal:8123"),
        ("https://ci.example.com/cipulse/", "https://ci.example.com/cipulse"),
    ):
        update = {"public_url": public_url, "secure_cookies": "never"}  # the client speaks http
        app = create_app(settings.model_copy(update=update))
        with TestClient(app, base_url="http://cipulse.internal:8123") as client:
            assert sign_in(client, "ada@example.com").status_code == 303
            settings_page = client.get("/settings").text
            assert f"<code>POST {expected}/functions/v1/ingest</code>" in settings_page
            assert f"{expected}/webhooks/github/acme" in settings_page
            assert "127.0.0.1:8000" not in settings_page
            other = AccountService(database)
            other.create_organisation(f"empty{len(public_url)}")
            UserService(database).create_user(
                "ada@example.com", f"empty{len(public_url)}", None, "admin"
            )
            csrf = re.search(r'name="csrf" value="([^"]+)"', settings_page)
            assert csrf is not None
            client.post("/organisation", data={"org": f"empty{len(public_url)}", "csrf": csrf[1]})
            curl = printed_curl(client.get("/").text)
            assert curl.startswith(f"curl -X POST {expected}/functions/v1/ingest")
