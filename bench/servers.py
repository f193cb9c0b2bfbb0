"""Starting servers on free loopback ports and always stopping them.

Each server runs in its own session (process group), so stopping it reaches uvicorn's worker
processes too, whatever happens to the benchmark in between."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

HOST = "127.0.0.1"
REPOSITORY = Path(__file__).resolve().parent.parent
_START_TIMEOUT_SECONDS = 30.0
_STOP_TIMEOUT_SECONDS = 15.0


@dataclass(frozen=True, slots=True)
class Server:
    name: str
    base_url: str
    process: subprocess.Popen[bytes]
    log: Path


def free_port() -> int:
    """A port nothing listens on right now (the kernel's choice for an ephemeral bind)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def cipulse_command(*arguments: str) -> list[str]:
    return [sys.executable, "-m", "cipulse", *arguments]


def cipulse_server_command(port: int, workers: int) -> list[str]:
    return cipulse_command("serve", "--host", HOST, "--port", str(port), "--workers", str(workers))


def bare_server_command(port: int, workers: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "bench.bare",
        "--host",
        HOST,
        "--port",
        str(port),
        "--workers",
        str(workers),
    ]


@contextmanager
def running(
    name: str, command: list[str], port: int, env: Mapping[str, str], log: Path
) -> Iterator[Server]:
    """Start ``command``, wait until ``/healthz`` answers 200, stop the whole group on exit."""
    with log.open("wb") as log_file:
        process = subprocess.Popen(
            command,
            cwd=REPOSITORY,
            env={**os.environ, **env},
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Server(name, f"http://{HOST}:{port}", process, log)
    try:
        _wait_until_healthy(server)
        yield server
    finally:
        stop(process)


def _wait_until_healthy(server: Server) -> None:
    deadline = time.monotonic() + _START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(
                f"{server.name} exited with status {server.process.returncode} on start:\n"
                + _tail(server.log)
            )
        try:
            with urllib.request.urlopen(f"{server.base_url}/healthz", timeout=1) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.1)
    raise RuntimeError(
        f"{server.name} did not answer /healthz within {_START_TIMEOUT_SECONDS:.0f}s:\n"
        + _tail(server.log)
    )


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the process group, SIGKILL it if it lingers, and reap the leader."""
    if process.poll() is None or _group_alive(process.pid):
        _signal_group(process.pid, signal.SIGTERM)
        with suppress(subprocess.TimeoutExpired):
            process.wait(timeout=_STOP_TIMEOUT_SECONDS)
        _wait_for_group(process.pid, deadline=time.monotonic() + 5)
        _signal_group(process.pid, signal.SIGKILL)
    process.wait()


def _signal_group(pgid: int, signum: signal.Signals) -> None:
    with suppress(ProcessLookupError):
        os.killpg(pgid, signum)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def _wait_for_group(pgid: int, deadline: float) -> None:
    """Let worker processes finish their graceful shutdown after the supervisor has."""
    while _group_alive(pgid) and time.monotonic() < deadline:
        time.sleep(0.05)


def _tail(log: Path, lines: int = 30) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
