"""``cipulse send``: payload files posted to a real cipulse server (SQLite and PostgreSQL) and
read back through the read API; and how it retries, against a fake ingest endpoint that
answers what each test scripts: 503 with Retry-After, 429, a refused connection, a timeout are
retried, a 400 never is. Waits are shortened with ``--retry-backoff``; no test asserts a time."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner, Result

from cipulse.accounts.service import AccountService
from cipulse.cli.main import cli
from cipulse.reporters.errors import GaveUp
from cipulse.reporters.http import RetryingClient
from cipulse.reporters.ingest_client import IngestFormat, detect_format, ingest_url
from cipulse.reporters.retry import MAX_DELAY_SECONDS, RetryPolicy, retry_after_seconds
from cipulse.settings import Settings
from tests.builders import RUNWATCH_EXAMPLE, TRUNK_EXAMPLE, runwatch_run
from tests.conftest import Tenant
from tests.fake_ci_apis import Answer, FakeCI, fake_ci_apis
from tests.servers import free_port, threaded_server

API_KEY = "cip_0badc0de_thisIsTheSecretPartOfTheKey"
#: A read API window that holds every example's runs (2020 to 2024).
ALL_TIME = {"since": "2019-01-01T00:00:00Z", "until": "2025-01-01T00:00:00Z"}

#: Every variable the command reads, unset unless a test sets it (CI runners set some).
CLEAN_ENV: dict[str, str | None] = {
    "CIPULSE_URL": None,
    "CIPULSE_API_KEY": None,
    "CIPULSE_RETRY_BACKOFF": None,
}


def send(*args: str, env: dict[str, str] | None = None, stdin: str | None = None) -> Result:
    result = CliRunner().invoke(
        cli, ["send", *args], env={**CLEAN_ENV, **(env or {})}, input=stdin, catch_exceptions=False
    )
    assert API_KEY not in result.output
    return result


def payload_file(tmp_path: Path, document: Any, name: str = "payload.json") -> str:
    path = tmp_path / name
    path.write_text(json.dumps(document))
    return str(path)


# --- Against a real cipulse server ------------------------------------------------------------


def test_sends_a_runwatch_file_and_a_trunk_payload_from_stdin(
    settings: Settings, tenant: Tenant, accounts: AccountService, tmp_path: Path
) -> None:
    reader = {"X-API-Key": accounts.create_key(tenant.name, scopes=("read",)).key}
    with threaded_server(settings) as url:
        env = {"CIPULSE_URL": url, "CIPULSE_API_KEY": tenant.key}
        runwatch = send(payload_file(tmp_path, RUNWATCH_EXAMPLE), env=env)
        assert runwatch.exit_code == 0, runwatch.output
        answer = json.loads(runwatch.stdout)
        assert answer["success"] is True
        trunk = send("-", env=env, stdin=json.dumps(TRUNK_EXAMPLE))
        assert trunk.exit_code == 0, trunk.output
        assert json.loads(trunk.stdout)["events"] == 2  # with warnings: finishedAt < createdAt

        run = httpx.get(f"{url}/api/v1/runs/{answer['pipeline_run_id']}", headers=reader).json()
        runs = httpx.get(f"{url}/api/v1/runs", params=ALL_TIME, headers=reader).json()
    assert tenant.key not in runwatch.output + trunk.output
    assert (run["repository"], run["pipeline"], run["run_key"], run["attempt"]) == (
        "acme/cool-project",
        "CI Pipeline",
        "789012345",
        1,
    )
    assert (run["status"], run["duration_seconds"], run["compute_seconds"]) == ("success", 312, 245)
    assert sorted((job["name"], job["duration_seconds"]) for job in run["jobs"]) == [
        ("build", 120),
        ("test", 125),
    ]
    assert sorted((item["source_format"], item["run_key"]) for item in runs["items"]) == [
        ("runwatch", "789012345"),
        ("trunk", "b0ea8b0d-6574-4421-a63b-56f04eab9738"),
        ("trunk", "test-workflow-a-1"),
    ]


# --- Against the fake ingest endpoint ---------------------------------------------------------


@pytest.fixture(scope="module")
def fake_server() -> Iterator[FakeCI]:
    with fake_ci_apis() as fake:
        yield fake


@pytest.fixture
def fake(fake_server: FakeCI) -> FakeCI:
    fake_server.ingest_answers.clear()
    fake_server.ingest_posts.clear()
    return fake_server


def fake_env(fake: FakeCI) -> dict[str, str]:
    return {"CIPULSE_URL": fake.url, "CIPULSE_API_KEY": API_KEY, "CIPULSE_RETRY_BACKOFF": "0.01"}


@pytest.fixture
def runwatch_file(tmp_path: Path) -> str:
    return payload_file(tmp_path, RUNWATCH_EXAMPLE)


def test_each_format_goes_to_its_path_with_its_key_header(
    fake: FakeCI, runwatch_file: str, tmp_path: Path
) -> None:
    assert send(runwatch_file, env=fake_env(fake)).exit_code == 0
    assert send(payload_file(tmp_path, TRUNK_EXAMPLE, "t.json"), env=fake_env(fake)).exit_code == 0
    runwatch, trunk = fake.ingest_posts
    assert runwatch.path == "/api/v1/ingest"
    assert runwatch.headers["x-api-key"] == API_KEY and "x-api-token" not in runwatch.headers
    assert json.loads(runwatch.body) == RUNWATCH_EXAMPLE
    assert trunk.path == "/v1/metrics/trackEvents"
    assert trunk.headers["x-api-token"] == API_KEY and "x-api-key" not in trunk.headers
    assert trunk.headers["x-source"] == "cipulse-send"
    assert runwatch.headers["user-agent"].startswith("cipulse/")


def test_503_with_retry_after_then_200_is_stored_on_the_second_try(
    fake: FakeCI, runwatch_file: str
) -> None:
    fake.ingest_answers.append(
        Answer(503, {"error": "database busy, retry later"}, {"Retry-After": "0"})
    )
    result = send(runwatch_file, env=fake_env(fake))
    assert result.exit_code == 0, result.output
    assert len(fake.ingest_posts) == 2
    assert "HTTP 503: database busy, retry later; retry 1 of 5" in result.stderr
    assert json.loads(result.stdout) == {"success": True, "pipeline_run_id": "fake-run-id"}


def test_429_is_retried(fake: FakeCI, runwatch_file: str) -> None:
    fake.ingest_answers += [
        Answer(429, {"error": "slow down"}, {"Retry-After": "0"}),
        Answer(429, {"error": "slow down"}),
    ]
    result = send(runwatch_file, env=fake_env(fake))
    assert result.exit_code == 0, result.output
    assert len(fake.ingest_posts) == 3


def test_a_timeout_is_retried(fake: FakeCI, runwatch_file: str) -> None:
    fake.ingest_answers.append(Answer(200, {"success": True}, delay_seconds=1.0))
    result = send(runwatch_file, "--timeout", "0.1", env=fake_env(fake))
    assert result.exit_code == 0, result.output
    assert "timed out" in result.stderr
    assert len(fake.ingest_posts) == 2


@pytest.mark.parametrize(
    ("status", "message"),
    [
        (400, "repository: must be owner/name"),
        (401, "invalid API key"),
        (402, "plan limit exceeded: max_repositories is 1"),
        (403, "API key lacks the 'ingest' scope"),
        (413, "body: larger than the limit of 1048576 bytes"),
    ],
)
def test_other_4xx_are_never_retried(
    fake: FakeCI, runwatch_file: str, status: int, message: str
) -> None:
    fake.ingest_answers.append(Answer(status, {"error": message}))
    result = send(runwatch_file, env=fake_env(fake))
    assert result.exit_code == 1
    assert len(fake.ingest_posts) == 1
    assert f"error: the server refused the payload (HTTP {status}: {message})" in result.stderr


def test_a_redirect_is_reported_not_followed(fake: FakeCI, runwatch_file: str) -> None:
    fake.ingest_answers.append(Answer(308, None, {"Location": "https://cipulse.example.com/"}))
    result = send(runwatch_file, env=fake_env(fake))
    assert result.exit_code == 1
    assert "redirects (HTTP 308) to https://cipulse.example.com/" in result.stderr


def test_gives_up_after_the_retries(fake: FakeCI, runwatch_file: str) -> None:
    fake.ingest_answers += [Answer(500, {"error": "internal error while storing the run"})] * 3
    result = send(runwatch_file, "--retries", "2", env=fake_env(fake))
    assert result.exit_code == 3
    assert len(fake.ingest_posts) == 3
    assert "internal error while storing the run; gave up after 3 tries" in result.stderr


def test_gives_up_at_once_when_retry_after_is_past_the_time_allowed(
    fake: FakeCI, runwatch_file: str
) -> None:
    fake.ingest_answers.append(Answer(503, {"error": "down"}, {"Retry-After": "3600"}))
    result = send(runwatch_file, "--max-retry-time", "60", env=fake_env(fake))
    assert result.exit_code == 3
    assert len(fake.ingest_posts) == 1
    assert "would pass the 60s allowed" in result.stderr


def test_a_refused_connection_is_retried_then_given_up(runwatch_file: str) -> None:
    port = free_port()
    env = {"CIPULSE_URL": f"http://proxy:s3cretPass@127.0.0.1:{port}", "CIPULSE_API_KEY": API_KEY}
    result = send(runwatch_file, "--retries", "2", "--retry-backoff", "0.01", env=env)
    assert result.exit_code == 3
    assert "connection failed" in result.stderr
    assert f"POST http://***@127.0.0.1:{port}/api/v1/ingest" in result.stderr
    assert "gave up after 3 tries" in result.stderr
    assert "s3cretPass" not in result.output


def test_retry_after_is_honoured(fake: FakeCI) -> None:
    fake.ingest_answers += [
        Answer(503, {"error": "busy"}, {"Retry-After": "7"}),
        Answer(429, {"error": "slow down"}, {"Retry-After": "0.5"}),
    ]
    waits: list[float] = []
    policy = RetryPolicy(retries=3, backoff_seconds=1.0)
    with RetryingClient(policy, sleep=waits.append, draw=lambda: 0.0) as client:
        response = client.request("POST", f"{fake.url}/api/v1/ingest", content=b"{}")
    assert response.status_code == 200
    # 7 s as asked (more than the 0.5 s backoff); then the 1 s backoff (more than 0.5 s asked).
    assert waits == [7.0, 1.0]


def test_the_time_allowed_bounds_the_tries(fake: FakeCI) -> None:
    fake.ingest_answers += [Answer(503, {"error": "busy"})] * 10
    ticks = iter(range(0, 1000, 40))  # each look at the clock is 40 s after the one before
    policy = RetryPolicy(retries=10, backoff_seconds=1.0, max_total_seconds=100)
    clock = lambda: next(ticks)  # noqa: E731
    with (
        RetryingClient(policy, sleep=lambda _s: None, clock=clock, draw=lambda: 0.0) as client,
        pytest.raises(GaveUp) as gave_up,
    ):
        client.request("POST", f"{fake.url}/api/v1/ingest", content=b"{}")
    # Started at 0; failed tries seen at 40 and 80 s are retried; at 120 s no wait fits.
    assert gave_up.value.tries == 3
    assert len(fake.ingest_posts) == 3


# --- Before anything is sent ------------------------------------------------------------------


def test_an_invalid_payload_is_not_sent_and_its_field_is_named(
    fake: FakeCI, tmp_path: Path
) -> None:
    bad = runwatch_run(status="green", actor=None)
    result = send(payload_file(tmp_path, bad), env=fake_env(fake))
    assert result.exit_code == 2
    assert "not a valid runwatch payload: status: must be one of success" in result.stderr
    assert "actor: required" in result.stderr
    assert fake.ingest_posts == []


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "must hold one JSON object"),
    ],
)
def test_a_file_that_is_not_one_json_object_is_refused(
    fake: FakeCI, tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    result = send(str(path), env=fake_env(fake))
    assert result.exit_code == 2
    assert message in result.stderr
    assert fake.ingest_posts == []


def test_format_given_is_the_one_checked(fake: FakeCI, runwatch_file: str) -> None:
    result = send(runwatch_file, "--format", "trunk", env=fake_env(fake))
    assert result.exit_code == 2
    assert "not a valid trunk payload: repo: required; events: required" in result.stderr
    assert fake.ingest_posts == []


def test_usage_errors_exit_2(fake: FakeCI, runwatch_file: str, tmp_path: Path) -> None:
    no_url = send(runwatch_file, env={"CIPULSE_API_KEY": API_KEY})
    assert no_url.exit_code == 2
    assert "--url or CIPULSE_URL" in no_url.stderr
    no_key = send(runwatch_file, env={"CIPULSE_URL": fake.url})
    assert no_key.exit_code == 2
    assert "CIPULSE_API_KEY" in no_key.stderr
    missing = send(str(tmp_path / "nope.json"), env=fake_env(fake))
    assert missing.exit_code == 2
    not_http = send(runwatch_file, env={**fake_env(fake), "CIPULSE_URL": "cipulse.example.com"})
    assert not_http.exit_code == 2
    assert "--url: must be an http:// or https:// URL" in not_http.stderr
    assert fake.ingest_posts == []


def test_dry_run_prints_the_checked_payload_and_sends_nothing(runwatch_file: str) -> None:
    result = send(runwatch_file, "--dry-run")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == RUNWATCH_EXAMPLE
    assert "a valid runwatch payload; not sent (--dry-run)" in result.stderr


# --- The pure parts ---------------------------------------------------------------------------


def test_backoff_doubles_within_its_jitter_and_is_bounded() -> None:
    policy = RetryPolicy(backoff_seconds=1.0)
    lows = [policy.delay(retry, None, lambda: 0.0) for retry in range(1, 10)]
    highs = [policy.delay(retry, None, lambda: 0.999999) for retry in range(1, 10)]
    assert lows[:4] == [0.5, 1.0, 2.0, 4.0]
    assert [round(high) for high in highs[:4]] == [1, 2, 4, 8]
    assert max(highs) <= MAX_DELAY_SECONDS and lows[-1] == MAX_DELAY_SECONDS / 2
    assert policy.delay(1, 30.0, lambda: 0.5) == 30.0


def test_retry_after_values() -> None:
    now = datetime(2024, 1, 15, 10, 30, tzinfo=UTC)
    assert retry_after_seconds("5", now) == 5.0
    assert retry_after_seconds("Mon, 15 Jan 2024 10:30:12 GMT", now) == 12.0
    assert retry_after_seconds("Mon, 15 Jan 2024 10:00:00 GMT", now) == 0.0
    assert [retry_after_seconds(value, now) for value in (None, "", "soon", "-1", "nan")] == [
        None
    ] * 5


def test_format_detection_and_ingest_urls() -> None:
    assert detect_format(TRUNK_EXAMPLE) is IngestFormat.TRUNK
    assert detect_format(RUNWATCH_EXAMPLE) is IngestFormat.RUNWATCH
    assert detect_format({"events": []}) is IngestFormat.RUNWATCH
    base = "https://cipulse.example.com/"
    assert ingest_url(base, IngestFormat.RUNWATCH) == "https://cipulse.example.com/api/v1/ingest"
    assert ingest_url(base, IngestFormat.TRUNK) == (
        "https://cipulse.example.com/v1/metrics/trackEvents"
    )
    legacy = "https://cipulse.example.com/functions/v1/ingest"
    assert ingest_url(legacy, IngestFormat.RUNWATCH) == legacy
