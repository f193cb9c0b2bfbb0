"""End to end: ``cipulse serve`` as a real process on a free loopback port, as a user runs it."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.builders import TRUNK_EXAMPLE, runwatch_run
from tests.servers import free_port, wait_until_healthy

pytestmark = pytest.mark.e2e

CIPULSE = str(Path(sys.executable).with_name("cipulse"))
KEY_PATTERN = re.compile(r"^\s+(cip_[0-9a-f]{8}_\S+)$", re.MULTILINE)


@contextmanager
def serve(cwd: Path, *args: str, env: dict[str, str] | None = None) -> Iterator[tuple[str, Path]]:
    """Run ``cipulse serve`` in ``cwd``; yield its URL and the file its stderr goes to."""
    port = free_port()
    log = cwd / f"serve-{port}.log"
    environment = {k: v for k, v in os.environ.items() if not k.startswith("CIPULSE_")}
    environment.update({"CIPULSE_LOG_LEVEL": "warning", **(env or {})})
    with log.open("w") as stderr:
        process = subprocess.Popen(
            [CIPULSE, "serve", "--port", str(port), *args],
            cwd=cwd,
            env=environment,
            stdout=stderr,
            stderr=stderr,
            start_new_session=True,
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(base_url)
        yield base_url, log
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def pasted(command: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``command`` pasted into a shell in ``cwd`` (without our test settings)."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("CIPULSE_")}
    return subprocess.run(
        ["bash", "-c", command],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=30,
    )


def signed_in_client(base_url: str, email: str, password: str) -> httpx.Client:
    """A browser-like client signed in through the form."""
    client = httpx.Client(base_url=base_url, timeout=10, follow_redirects=True)
    form = client.get("/sign-in").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', form)
    assert csrf is not None
    response = client.post(
        "/sign-in", data={"email": email, "password": password, "csrf": csrf[1], "next": "/"}
    )
    assert response.status_code == 200 and "Sign out" in response.text
    return client


def runs_kpi(page: str) -> str:
    found = re.search(r'data-metric="runs".*?data-value>([^<]+)<', page, re.DOTALL)
    assert found is not None
    return found.group(1)


@pytest.mark.skipif(not shutil.which("curl"), reason="pastes the printed curl: needs curl")
def test_first_start_on_sqlite_as_a_new_user_sees_it(tmp_path: Path) -> None:
    with serve(tmp_path) as (base_url, log):
        time.sleep(0.2)
        output = log.read_text()
        assert f"cipulse 0.1.0 on {base_url}" in output
        assert f"(database: {tmp_path / 'cipulse.db'})" in output
        assert 'created organisation "default"' in output
        (key,) = KEY_PATTERN.findall(output)
        (password,) = re.findall(r"as admin@cipulse\.local with password (\S+)$", output, re.M)
        assert (tmp_path / "cipulse.db").exists()
        # The ready-to-paste curl works as printed, and its run shows at once: in the read
        # API's and the dashboard's default windows, on the overview and the pipeline's page.
        curl = output[output.index("curl -X POST") :].split("\n\n")[0]
        result = pasted(curl, tmp_path)
        assert '"success":true' in result.stdout, result.stdout + result.stderr
        read_key = pasted(f"{CIPULSE} keys create --org default --scope read", tmp_path)
        reader = {"X-API-Key": read_key.stdout.strip()}
        runs = httpx.get(f"{base_url}/api/v1/runs", headers=reader).json()["items"]
        assert [(r["pipeline"], r["run_key"]) for r in runs] == [("CI Pipeline", "789012345")]
        browser = signed_in_client(base_url, "admin@cipulse.local", password)
        overview = browser.get("/").text
        assert runs_kpi(overview) == "1" and "CI Pipeline" in overview
        pipeline = browser.get("/api/v1/pipelines").json()["items"][0]["id"]
        assert runs_kpi(browser.get(f"/pipelines/{pipeline}").text) == "1"
        browser.close()
        response = httpx.post(
            f"{base_url}/functions/v1/ingest",
            json=runwatch_run(run_id=2),
            headers={"X-API-Key": key},
        )
        assert response.status_code == 200
        trunk = httpx.post(
            f"{base_url}/v1/metrics/trackEvents", json=TRUNK_EXAMPLE, headers={"x-api-token": key}
        )
        answer = trunk.json()
        assert (answer["success"], answer["events"]) == (True, 2)
        assert len(answer["warnings"]) == 2  # the spec example's finishedAt < createdAt
        assert httpx.get(f"{base_url}/openapi.json").json()["info"]["title"] == "cipulse"
    # Second start: the same database, no new key; the printed commands, pasted as printed
    # in the same folder, create a key and send a run with it.
    with serve(tmp_path) as (base_url, log):
        time.sleep(0.2)
        output = log.read_text()
        assert "created organisation" not in output
        assert not KEY_PATTERN.findall(output)
        block = output[output.index("export CIPULSE_API_KEY=") :].split("\n\n")
        commands = f"{block[0]}\n{block[1]}"
        assert "cipulse keys create --org default" in commands
        result = pasted(commands, tmp_path)
        assert '"success":true' in result.stdout, result.stdout + result.stderr
        # The same example run (the other two are dated 2024, outside the default window).
        runs = httpx.get(f"{base_url}/api/v1/runs", headers=reader).json()["items"]
        assert [r["run_key"] for r in runs] == ["789012345"]


def test_production_start_on_postgresql_with_workers(
    tmp_path: Path, postgres_database: str
) -> None:
    import psycopg

    from tests.conftest import empty_database

    empty_database(postgres_database)
    env = {"CIPULSE_DATABASE_URL": postgres_database}
    key = subprocess.run(
        [CIPULSE, "migrate"], env={**os.environ, **env}, capture_output=True, text=True, check=True
    )
    subprocess.run(
        [CIPULSE, "orgs", "create", "acme"],
        env={**os.environ, **env},
        check=True,
        capture_output=True,
    )
    key = subprocess.run(
        [CIPULSE, "keys", "create", "--org", "acme"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    with (
        serve(tmp_path, "--workers", "2", env=env) as (one, _),
        serve(tmp_path, env=env) as (two, _),
    ):
        for i in range(20):
            url = one if i % 2 else two
            response = httpx.post(
                f"{url}/api/v1/ingest",
                json=runwatch_run(run_id=i % 5),
                headers={"Authorization": f"Bearer {key}"},
            )
            assert response.status_code == 200
    with psycopg.connect(postgres_database) as conn:
        assert conn.execute("SELECT count(*) FROM run_attempts").fetchone() == (5,)
