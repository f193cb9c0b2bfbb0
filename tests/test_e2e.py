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


def test_first_start_on_sqlite_as_a_new_user_sees_it(tmp_path: Path) -> None:
    with serve(tmp_path) as (base_url, log):
        time.sleep(0.2)
        output = log.read_text()
        assert f"cipulse 0.1.0 on {base_url}" in output
        assert 'created organisation "default"' in output
        (key,) = KEY_PATTERN.findall(output)
        assert (tmp_path / "cipulse.db").exists()
        # The ready-to-paste curl works as printed.
        curl = output[output.index("curl -X POST") :].strip()
        if shutil.which("curl"):
            result = subprocess.run(
                ["bash", "-c", curl], capture_output=True, text=True, timeout=30
            )
            assert '"success":true' in result.stdout, result.stdout + result.stderr
        response = httpx.post(
            f"{base_url}/functions/v1/ingest",
            json=runwatch_run(run_id=2),
            headers={"X-API-Key": key},
        )
        assert response.status_code == 200
        trunk = httpx.post(
            f"{base_url}/v1/metrics/trackEvents", json=TRUNK_EXAMPLE, headers={"x-api-token": key}
        )
        assert trunk.json() == {"success": True, "events": 2}
        assert httpx.get(f"{base_url}/openapi.json").json()["info"]["title"] == "cipulse"
    # Second start: the same database, no new key.
    with serve(tmp_path) as (_, log):
        time.sleep(0.2)
        output = log.read_text()
        assert "created organisation" not in output
        assert not KEY_PATTERN.findall(output)
        assert "cipulse keys create --org default" in output


def test_production_start_on_postgresql_with_workers(
    tmp_path: Path, postgres_database: str
) -> None:
    import psycopg

    from tests.conftest import _truncate

    _truncate(postgres_database)
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
