"""Bad input gets a clear error and loses nothing; an unavailable database gets 503 with
Retry-After, never a 500 or a half-write.

The property-based part mutates the spec examples at random (fields removed, replaced by any
JSON value, junk added) and checks that the answer is always 200 or 400, and that a 400
stored nothing."""

from __future__ import annotations

import fcntl
import shutil
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from cipulse.accounts.service import AccountService
from cipulse.settings import Settings
from cipulse.storage.database import Database
from cipulse.web.app import create_app
from tests.builders import RUNWATCH_EXAMPLE, TRUNK_EXAMPLE
from tests.conftest import Tenant, count, make_tenant
from tests.fuzzing import mutated

FUZZ = hypothesis_settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _stored(database: Database) -> tuple[int, ...]:
    return tuple(count(database, t) for t in ("repositories", "pipelines", "run_attempts", "jobs"))


@FUZZ
@given(payload=mutated(RUNWATCH_EXAMPLE))
def test_runwatch_never_500_and_400_writes_nothing(
    client: TestClient, tenant: Tenant, database: Database, payload: Any
) -> None:
    before = _stored(database)
    response = client.post("/functions/v1/ingest", json=payload, headers=tenant.runwatch_headers)
    assert response.status_code in {200, 400}, response.text
    if response.status_code == 200:  # a value stored otherwise than sent adds warnings
        assert set(response.json()) - {"warnings"} == {"success", "pipeline_run_id"}
    else:
        assert set(response.json()) == {"error", "code"}
    if response.status_code == 400:
        assert _stored(database) == before


@FUZZ
@given(payload=mutated(TRUNK_EXAMPLE))
def test_trunk_never_500_and_400_writes_nothing(
    client: TestClient, tenant: Tenant, database: Database, payload: Any
) -> None:
    before = _stored(database)
    response = client.post("/v1/metrics/trackEvents", json=payload, headers=tenant.trunk_headers)
    assert response.status_code in {200, 400}, response.text
    if response.status_code == 400:
        assert _stored(database) == before
        assert response.json()["error"]


@FUZZ
@given(content=st.binary(max_size=200))
def test_arbitrary_bytes_are_a_400(client: TestClient, tenant: Tenant, content: bytes) -> None:
    response = client.post("/functions/v1/ingest", content=content, headers=tenant.runwatch_headers)
    assert response.status_code == 400


@pytest.mark.parametrize(
    ("change", "status"),
    [
        ({"run_id": 2**70}, 400),
        ({"run_attempt": 2**40}, 400),
        ({"actor": "a\x00b"}, 400),
        ({"branch": "b" * 5000}, 400),
        ({"pipeline_name": "p" * 1000}, 200),
        ({"jobs": [{"name": "n" * 1000, "status": "success"}]}, 200),
        ({"jobs": [{"name": "a", "status": "success", "job_id": "j" * 501}]}, 400),
        ({"duration_seconds": 1e308}, 400),
        ({"duration_seconds": 1e10}, 200),
        ({"started_at": "9999-12-31T23:59:59Z", "completed_at": None}, 400),
        ({"started_at": "2199-12-31T23:59:59Z", "completed_at": None}, 200),
    ],
)
def test_extreme_values_are_stored_or_refused_never_500(
    client: TestClient, tenant: Tenant, change: dict[str, Any], status: int
) -> None:
    payload = {**RUNWATCH_EXAMPLE, **change}
    payload = {k: v for k, v in payload.items() if v is not None}
    response = client.post("/functions/v1/ingest", json=payload, headers=tenant.runwatch_headers)
    assert response.status_code == status, response.text


def test_extreme_trunk_values(client: TestClient, tenant: Tenant) -> None:
    from tests.builders import trunk_event, trunk_request

    long_ids = trunk_request(trunk_event("e" * 500, "c" * 500, parent="p" * 500, key="k" * 500))
    assert (
        client.post(
            "/v1/metrics/trackEvents", json=long_ids, headers=tenant.trunk_headers
        ).status_code
        == 200
    )
    huge_tag = trunk_request(trunk_event("r", "r", tags={"n": 2**70}, metrics={"m": 1e15}))
    assert (
        client.post(
            "/v1/metrics/trackEvents", json=huge_tag, headers=tenant.trunk_headers
        ).status_code
        == 200
    )
    long_source = {**tenant.trunk_headers, "x-source": "s" * 201}
    response = client.post("/v1/metrics/trackEvents", json=huge_tag, headers=long_source)
    assert (response.status_code, response.json()["error"]) == (
        400,
        "x-source: must be at most 200 characters",
    )


def test_unreachable_postgresql_gives_503_with_retry_after() -> None:
    settings = Settings(
        database_url="postgresql://postgres@127.0.0.1:9/none",
        bootstrap_org="",
        database_timeout_seconds=1,
        retry_after_seconds=7,
    )
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        response = client.post(
            "/functions/v1/ingest", json=RUNWATCH_EXAMPLE, headers={"X-API-Key": "k"}
        )
        assert response.status_code == 503
        assert response.headers["retry-after"] == "7"
        assert response.json() == {
            "error": "database unavailable, retry later",
            "code": "unavailable",
        }
        health = client.get("/healthz")
        assert (health.status_code, health.json()["status"]) == (503, "unavailable")
        assert health.headers["retry-after"] == "7"


def _sqlite_with_tenant(
    tmp_path: Path, template: Path, **overrides: Any
) -> tuple[Path, Settings, Database, Tenant]:
    """A database of the test's own (copied from the migrated template) and an ingest key."""
    path = tmp_path / "own.db"
    shutil.copy(template, path)
    settings = Settings(database_url=f"sqlite:///{path}", bootstrap_org="", **overrides)
    database = Database(settings)
    return path, settings, database, make_tenant(AccountService(database), "acme")


def test_locked_sqlite_gives_503_and_the_retry_succeeds(
    tmp_path: Path, sqlite_template: Path
) -> None:
    path, settings, database, tenant = _sqlite_with_tenant(
        tmp_path, sqlite_template, sqlite_busy_timeout_ms=50
    )
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        holder = sqlite3.connect(path, isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")
        try:
            response = client.post(
                "/functions/v1/ingest", json=RUNWATCH_EXAMPLE, headers=tenant.runwatch_headers
            )
            assert response.status_code == 503
            assert response.headers["retry-after"] == "5"
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        retry = client.post(
            "/functions/v1/ingest", json=RUNWATCH_EXAMPLE, headers=tenant.runwatch_headers
        )
        assert retry.status_code == 200
    assert count(database, "run_attempts") == 1
    database.dispose()


def test_unknown_routes_and_methods_answer_json(client: TestClient) -> None:
    assert client.get("/nope").json() == {"error": "Not Found", "code": "not_found"}
    wrong_method = client.get("/functions/v1/ingest")
    assert wrong_method.status_code == 405
    assert wrong_method.json() == {"error": "Method Not Allowed", "code": "method_not_allowed"}


@pytest.mark.parametrize("path", ["/healthz", "/", "/openapi.json"])
def test_operational_endpoints(client: TestClient, path: str) -> None:
    assert client.get(path).status_code == 200


def test_a_write_that_waits_too_long_gets_503_and_is_still_stored(
    tmp_path: Path, sqlite_template: Path
) -> None:
    path, settings, database, tenant = _sqlite_with_tenant(
        tmp_path, sqlite_template, write_timeout_seconds=0.3
    )
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        with open(f"{path}-writer.lock", "a") as lock:  # another server process is writing
            fcntl.flock(lock, fcntl.LOCK_EX)
            response = client.post(
                "/functions/v1/ingest", json=RUNWATCH_EXAMPLE, headers=tenant.runwatch_headers
            )
            assert response.status_code == 503
            assert response.json() == {"error": "database busy, retry later", "code": "unavailable"}
            assert response.headers["retry-after"] == "5"
        deadline = time.monotonic() + 10
        while count(database, "run_attempts") == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
    assert count(database, "run_attempts") == 1  # the write was queued, not dropped
    database.dispose()
