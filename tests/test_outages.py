"""Outages are bounded and told truthfully: with the database frozen, locked, full or
read-only, every request (``/healthz`` included) answers 503 with ``Retry-After`` within its
documented bound, ``/healthz`` says what is wrong, ingest does not queue without end, and the
log has one line per outage instead of a traceback per request.

PostgreSQL is frozen through a loopback proxy (``tests/tcp_proxy.py``), never the shared
server itself. Every HTTP client here has a timeout (``GUARD``) far above the bounds under
test: a request that hangs fails the test instead of hanging it."""

from __future__ import annotations

import fcntl
import http.client
import logging
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from cipulse.accounts.service import AccountService
from cipulse.settings import Settings
from cipulse.storage.database import Database
from cipulse.storage.outages import OutageLog
from cipulse.web.app import create_app
from tests.builders import runwatch_run
from tests.conftest import POSTGRES_ADMIN_URL, Tenant, count, empty_database, make_tenant
from tests.servers import threaded_server, wait_until_healthy
from tests.tcp_proxy import TcpProxy, proxy_to

#: Seconds a client waits at most: many times every bound configured below.
GUARD = 20.0
INGEST = "/functions/v1/ingest"


def short(database_url: str, **overrides: Any) -> Settings:
    """Settings with bounds of a second, so that the tests run fast (the defaults are in
    docs/configuration.md)."""
    bounds: dict[str, Any] = {
        "request_timeout_seconds": 1,
        "health_timeout_seconds": 5,  # a check seen to fail within 1 s is below
        "write_timeout_seconds": 1,
        "database_timeout_seconds": 1,
        "rollup_interval_seconds": 0,
    }
    return Settings(database_url=database_url, bootstrap_org="", **{**bounds, **overrides})


def run(number: int) -> dict[str, Any]:
    return runwatch_run(run_id=number)


def wait_for(condition: Callable[[], bool], seconds: float = GUARD) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def tenant_with_read_key(database_url: str) -> tuple[Tenant, dict[str, str]]:
    database = Database(Settings(database_url=database_url))
    try:
        accounts = AccountService(database)
        tenant = make_tenant(accounts, "acme")
        read_key = accounts.create_key("acme", scopes=("read",)).key
    finally:
        database.dispose()
    return tenant, {"X-API-Key": read_key}


def outage_errors(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.ERROR]


def assert_one_outage_line(caplog: pytest.LogCaptureFixture) -> logging.LogRecord:
    errors = outage_errors(caplog)
    assert [(r.name, r.exc_info) for r in errors] == [("cipulse.outages", None)], [
        f"{r.name}: {r.getMessage()}" for r in errors
    ]
    return errors[0]


@pytest.fixture
def proxied_postgres(postgres_database: str) -> Iterator[tuple[TcpProxy, str, str]]:
    """The test's PostgreSQL database, emptied, behind a proxy: (proxy, proxied URL, URL)."""
    empty_database(postgres_database)
    url = sa.make_url(postgres_database)
    with proxy_to(url.host or "127.0.0.1", url.port or 5432) as proxy:
        proxied = url.set(port=proxy.port).render_as_string(hide_password=False)
        yield proxy, proxied, postgres_database


def test_frozen_postgresql_every_request_answers_503_within_its_bound(
    proxied_postgres: tuple[TcpProxy, str, str], caplog: pytest.LogCaptureFixture
) -> None:
    proxy, proxied, direct = proxied_postgres
    tenant, read = tenant_with_read_key(direct)
    settings = short(proxied, ingest_queue_limit=2, health_timeout_seconds=1)
    caplog.set_level(logging.WARNING)
    with threaded_server(settings) as base, httpx.Client(base_url=base, timeout=GUARD) as http:

        def post_run(number: int) -> httpx.Response:
            return http.post(INGEST, json=run(number), headers=tenant.runwatch_headers)

        # Warm-up, retried: on a busy machine a first read may take more than the bound.
        wait_for(lambda: http.post(INGEST, json=run(1), headers=tenant.runwatch_headers).is_success)
        wait_for(lambda: http.get("/api/v1/runs", headers=read).is_success)
        proxy.freeze()  # as SIGSTOP: sockets stay open, nothing answers
        try:
            time.sleep(1.0)  # the last health answer is reused for a second
            health = http.get("/healthz")
            assert (health.status_code, health.headers["retry-after"]) == (503, "5")
            assert health.json()["status"] == "unavailable"
            assert health.json()["checks"]["read"] != "ok"
            for path in ("/api/v1/runs", "/api/v1/analytics/summary"):
                answer = http.get(path, headers=read)
                assert (answer.status_code, answer.headers["retry-after"]) == (503, "5")
            # The writer takes a write and waits on the database; later ones queue, each
            # answered 503 when its deadline passes, up to the limit (2); beyond it a write is
            # refused at once. Posted one after another, each may wait out its deadline and
            # the writer give up on it before the next comes (on a fast or a busy machine
            # alike): post eight at once, so that more than the limit wait together.
            last = 9
            with ThreadPoolExecutor(max_workers=last - 1) as pool:
                answers = list(pool.map(post_run, range(2, last + 1)))
            for answer in answers:
                assert (answer.status_code, answer.headers["retry-after"]) == (503, "5")
            errors = {answer.json()["error"] for answer in answers}
            assert "too many writes waiting, retry later" in errors, errors
            assert errors <= {"too many writes waiting, retry later", "database busy, retry later"}
        finally:
            proxy.thaw()
        wait_until_healthy(base)

        # A 503 promises nothing either way (a queued write may still be stored): the client
        # retries, and the retries store each run once.
        def stored(body: dict[str, Any]) -> bool:
            return http.post(INGEST, json=body, headers=tenant.runwatch_headers).is_success

        for number in range(2, last + 1):
            wait_for(partial(stored, run(number)))
        database = Database(Settings(database_url=direct))
        assert count(database, "run_attempts") == last
        database.dispose()
    assert assert_one_outage_line(caplog).getMessage().startswith("database unavailable: ")


def test_refused_postgresql_logs_one_line_not_a_traceback_per_request(
    proxied_postgres: tuple[TcpProxy, str, str], caplog: pytest.LogCaptureFixture
) -> None:
    proxy, proxied, direct = proxied_postgres
    tenant, read = tenant_with_read_key(direct)
    caplog.set_level(logging.WARNING)
    with TestClient(create_app(short(proxied))) as client:
        proxy.refuse()
        for number in range(20):
            answer = client.post(INGEST, json=run(number), headers=tenant.runwatch_headers)
            assert answer.status_code == 503
            assert client.get("/api/v1/runs", headers=read).status_code == 503
        health = client.get("/healthz").json()
        assert health["checks"]["read"] == f"connection refused at 127.0.0.1:{proxy.port}"
        proxy.accept()
    assert assert_one_outage_line(caplog).getMessage() == (
        f"database unavailable: connection refused at 127.0.0.1:{proxy.port}; "
        "answering 503 until it recovers"
    )


def test_a_write_lock_held_elsewhere_shows_in_health_and_in_one_log_line(
    tmp_path: Path, sqlite_template: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """SQLite's outage: another program (the sqlite3 shell) holds the write lock."""
    path = tmp_path / "own.db"
    shutil.copy(sqlite_template, path)
    url = f"sqlite:///{path}"
    tenant, read = tenant_with_read_key(url)
    settings = short(url, sqlite_busy_timeout_ms=200)
    caplog.set_level(logging.WARNING)
    with TestClient(create_app(settings)) as client:
        holder = sqlite3.connect(path, isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")
        try:
            for number in range(5):
                answer = client.post(INGEST, json=run(number), headers=tenant.runwatch_headers)
                assert (answer.status_code, answer.headers["retry-after"]) == (503, "5")
            # WAL: reads go on
            wait_for(lambda: client.get("/api/v1/runs", headers=read).is_success)
            time.sleep(1.0)
            health = client.get("/healthz")
            assert health.status_code == 503
            assert health.json()["checks"]["read"] == "ok"
            assert health.json()["checks"]["write"].startswith(
                f"{path} is locked by another program (CIPULSE_SQLITE_BUSY_TIMEOUT_MS) ("
            )
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        wait_for(
            lambda: client.post(INGEST, json=run(9), headers=tenant.runwatch_headers).is_success
        )
        time.sleep(1.0)
        assert client.get("/healthz").json()["checks"] == {"read": "ok", "write": "ok"}
    assert_one_outage_line(caplog)


def test_a_full_sqlite_database_fails_health_and_says_why(
    tmp_path: Path, sqlite_template: Path
) -> None:
    path = tmp_path / "own.db"
    shutil.copy(sqlite_template, path)
    url = f"sqlite:///{path}"
    tenant, _ = tenant_with_read_key(url)
    with TestClient(create_app(short(url))) as client:
        database: Database = client.app.state.database  # type: ignore[attr-defined]
        with database.write() as connection:  # the writer's one connection: no page more
            pages = connection.exec_driver_sql("PRAGMA page_count").scalar_one()
            connection.exec_driver_sql(f"PRAGMA max_page_count = {pages}")
        statuses = []
        for number in range(1, 200):
            answer = client.post(INGEST, json=run(number), headers=tenant.runwatch_headers)
            statuses.append(answer.status_code)
            if answer.status_code != 200:
                break
        assert statuses[-1] == 503, "the database never filled up"
        time.sleep(1.0)
        health = client.get("/healthz")
        assert (health.status_code, health.headers["retry-after"]) == (503, "5")
        assert health.json()["status"] == "unavailable"
        assert health.json()["checks"]["write"].startswith(f"database or disk is full: {path} (")


def test_a_read_only_postgresql_fails_health_and_says_why(postgres_database: str) -> None:
    empty_database(postgres_database)
    tenant, _ = tenant_with_read_key(postgres_database)
    name = sa.make_url(postgres_database).database
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:  # another database
        admin.execute(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on')
    try:
        settings = short(postgres_database)
        with TestClient(create_app(settings)) as client:
            answer = client.post(INGEST, json=run(1), headers=tenant.runwatch_headers)
            assert (answer.status_code, answer.headers["retry-after"]) == (503, "5")
            health = client.get("/healthz")
            assert health.status_code == 503
            assert health.json()["checks"] == {
                "read": "ok",
                "write": "the database is read-only (default_transaction_read_only is on)",
            }
    finally:
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'ALTER DATABASE "{name}" RESET default_transaction_read_only')


def test_health_names_its_checks(client: TestClient) -> None:
    health = client.get("/healthz")
    assert health.status_code == 200
    assert health.json()["status"] == "ok"
    assert health.json()["checks"] == {"read": "ok", "write": "ok"}


def test_a_full_ingest_queue_refuses_at_once(tmp_path: Path, sqlite_template: Path) -> None:
    """SQLite's frozen writer: another server process holds the writer lock."""
    path = tmp_path / "own.db"
    shutil.copy(sqlite_template, path)
    url = f"sqlite:///{path}"
    tenant, _ = tenant_with_read_key(url)
    settings = short(url, ingest_queue_limit=1)
    with TestClient(create_app(settings)) as client:
        with open(f"{path}-writer.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            waited = [
                client.post(INGEST, json=run(n), headers=tenant.runwatch_headers) for n in (1, 2)
            ]
            assert [a.json()["error"] for a in waited] == ["database busy, retry later"] * 2
            refused = client.post(INGEST, json=run(3), headers=tenant.runwatch_headers)
            assert (refused.status_code, refused.headers["retry-after"]) == (503, "5")
            assert refused.json() == {
                "error": "too many writes waiting, retry later",
                "code": "unavailable",
            }
        database = Database(settings)
        wait_for(lambda: count(database, "run_attempts") == 2)
        database.dispose()


def test_an_outage_is_logged_once_then_counted_then_its_end(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [0.0]
    outages = OutageLog(summary_seconds=60, quiet_seconds=5, clock=lambda: now[0])
    caplog.set_level(logging.INFO, logger="cipulse.outages")
    outages.recovered()  # no outage: nothing to say
    for second in range(130):
        now[0] = float(second)
        for _ in range(10):
            outages.refused("connection refused at 10.0.0.9:5432")
    outages.recovered()  # too soon after the last refusal: the outage goes on
    now[0] = 135.0
    outages.recovered()
    outages.recovered()
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        (
            "ERROR",
            "database unavailable: connection refused at 10.0.0.9:5432; "
            "answering 503 until it recovers",
        ),
        (
            "WARNING",
            "still unavailable: 600 requests refused in the last 60 s "
            "(connection refused at 10.0.0.9:5432)",
        ),
        (
            "WARNING",
            "still unavailable: 600 requests refused in the last 60 s "
            "(connection refused at 10.0.0.9:5432)",
        ),
        ("WARNING", "database available again after 135 s; 1300 requests were refused"),
    ]
    assert all(r.exc_info is None for r in caplog.records)


@contextmanager
def unwritable(directory: Path) -> Iterator[None]:
    """A directory this process cannot write: read-only mode, or immutable for root (whom
    modes do not stop)."""
    if os.geteuid() != 0:
        directory.chmod(0o555)
        try:
            yield
        finally:
            directory.chmod(0o755)
        return
    if (
        shutil.which("chattr") is None
        or subprocess.run(["chattr", "+i", str(directory)]).returncode
    ):
        pytest.skip("running as root without `chattr +i`: no directory is read-only to us")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(directory)], check=True)


@pytest.mark.parametrize("command", ["migrate", "serve"])
def test_a_read_only_directory_is_one_clear_line(tmp_path: Path, command: str) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    environment = {**os.environ, "CIPULSE_DATABASE_URL": f"sqlite:///{folder}/cipulse.db"}
    with unwritable(folder):
        result = subprocess.run(
            [sys.executable, "-m", "cipulse", command],
            env=environment,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"error: database_url: cannot write the directory {folder}: "
        f"{'Operation not permitted' if os.geteuid() == 0 else 'Permission denied'} "
        "(SQLite writes the database, its WAL and a lock file there)"
    ]


def test_after_a_500_the_kept_alive_connection_goes_on(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(settings)

    async def bug() -> None:
        raise RuntimeError("a bug of ours")

    app.add_api_route("/bug", bug)  # a 500 needs a bug; this one is put there on purpose
    with threaded_server(settings, app) as base:
        url = httpx.URL(base)
        connection = http.client.HTTPConnection(url.host, url.port, timeout=GUARD)
        connection.request("GET", "/bug")
        failed = connection.getresponse()
        assert (failed.status, failed.read()) == (
            500,
            b'{"error":"internal server error","code":"internal_error"}',
        )
        assert failed.getheader("connection") is None  # so the connection stays open
        kept = connection.sock
        connection.request("GET", "/healthz")
        assert connection.getresponse().status == 200
        assert connection.sock is kept
        connection.close()
    [logged] = outage_errors(caplog)
    assert (logged.getMessage(), logged.exc_info is not None) == ("unhandled error", True)
