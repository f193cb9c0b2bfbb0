"""The Containerfile, built with podman and started: the server answers on a loopback port,
and the command it prints works through ``podman exec``. Skipped where podman is missing or no
base image is at hand (no registry may be reachable: scripts/container_base.sh builds one)."""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest

from tests.servers import free_port, wait_until_healthy

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_BASE = "localhost/cipulse-base:bookworm"


def podman_base() -> str | None:
    """The base image to build on: CIPULSE_TEST_CONTAINER_BASE, else the local one that
    scripts/container_base.sh makes, when podman has it."""
    if shutil.which("podman") is None:
        return None
    base = os.environ.get("CIPULSE_TEST_CONTAINER_BASE", DEFAULT_BASE)
    exists = subprocess.run(["podman", "image", "exists", base], capture_output=True)
    return base if exists.returncode == 0 else None


BASE = podman_base()


def podman(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    # runc where it is installed: crun refuses cgroup v1 "hybrid" hosts such as this sandbox.
    runtime = ["--runtime", "runc"] if shutil.which("runc") else []
    return subprocess.run(
        ["podman", *runtime, *args], capture_output=True, text=True, timeout=timeout
    )


def limits() -> list[str]:
    """Limits within the host's: podman's defaults exceed what a sandbox may allow."""
    options = []
    for name, limit, most in (
        ("nofile", resource.RLIMIT_NOFILE, 65536),
        ("nproc", resource.RLIMIT_NPROC, 4096),
    ):
        _, hard = resource.getrlimit(limit)
        value = most if hard == resource.RLIM_INFINITY else min(hard, most)
        options += ["--ulimit", f"{name}={value}:{value}"]
    return options


MISSING = (
    "needs podman and a base image (scripts/container_base.sh, or "
    "CIPULSE_TEST_CONTAINER_BASE=python:3.11-slim-bookworm where a registry is reachable)"
)


def test_the_container_image_builds_and_serves(tmp_path: Path) -> None:
    if BASE is None:
        if os.environ.get("CIPULSE_TEST_REQUIRE_CONTAINER") == "1":  # CI: never skipped
            pytest.fail(MISSING)
        pytest.skip(MISSING)
    context = tmp_path / "context"
    # Every wheel the image needs, so the build installs without a network.
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "-w", str(context / "dist"), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    shutil.copy(ROOT / "Containerfile", context / "Containerfile")
    tag = f"localhost/cipulse-test:{uuid.uuid4().hex[:12]}"
    name = f"cipulse-test-{uuid.uuid4().hex[:12]}"
    built = podman(
        "build",
        *limits(),
        "--build-arg",
        f"BASE={BASE}",
        "--build-arg",
        "PIP_OPTIONS=--no-index --find-links /tmp/dist",
        "-t",
        tag,
        "-f",
        str(context / "Containerfile"),
        str(context),
    )
    assert built.returncode == 0, built.stderr[-3000:]
    port = free_port()
    try:
        started = podman(
            "run",
            "-d",
            "--name",
            name,
            "--network",
            "host",  # loopback only, and no container network to set up
            *limits(),
            "-e",
            "CIPULSE_HOST=127.0.0.1",
            "-e",
            f"CIPULSE_PORT={port}",
            tag,
        )
        assert started.returncode == 0, started.stderr
        base_url = f"http://127.0.0.1:{port}"
        wait_until_healthy(base_url, timeout=60)
        assert httpx.get(f"{base_url}/sign-in").status_code == 200
        assert httpx.get(f"{base_url}/static/app.css").status_code == 200
        output = podman("logs", name).stderr
        assert "(database: /var/lib/cipulse/cipulse.db)" in output
        assert 'First start: created organisation "default"' in output
        # The printed command, run in the container as the docs say: podman exec NAME ….
        printed = output[output.index("change it with: ") :].split(")")[0]
        command = printed.removeprefix("change it with: ").split()
        assert command[0] == "cipulse"
        listed = podman("exec", name, "cipulse", *command[1:-2], "list")
        assert listed.returncode == 0, listed.stderr
        assert "admin@cipulse.local" in listed.stdout
    finally:
        podman("rm", "-f", name)
        podman("rmi", "-f", tag)
