"""Running wrk with ``post_run.lua`` and reading the summary its ``done()`` hook prints."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

SCRIPT = Path(__file__).with_name("post_run.lua")
_RESULT_MARKER = "BENCH_RESULT "


class WrkUnavailable(RuntimeError):
    """wrk is not installed and cannot be installed here."""


@dataclass(frozen=True, slots=True)
class Load:
    """How hard wrk pushes: threads, open connections, seconds."""

    threads: int
    connections: int
    seconds: float

    def arguments(self) -> list[str]:
        return [
            f"-t{self.threads}",
            f"-c{self.connections}",
            f"-d{max(1, round(self.seconds))}s",
            "--timeout",
            "5s",
        ]


@dataclass(frozen=True, slots=True)
class WrkResult:
    requests: int
    seconds: float
    non_200: int
    socket_errors: dict[str, int]
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    output: str

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else 0.0

    @property
    def ok_responses(self) -> int:
        return self.requests - self.non_200

    @property
    def problems(self) -> list[str]:
        """What makes the numbers meaningless: failed responses and socket errors."""
        found = [f"{self.non_200} non-200 responses"] if self.non_200 else []
        found += [f"{count} socket {kind} errors" for kind, count in self.socket_errors.items()]
        return found


def ensure_wrk() -> str:
    """The path of wrk, installing Debian's package first when missing and running as root."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise WrkUnavailable(
            "wrk is not installed; install it (Debian/Ubuntu: sudo apt-get install -y wrk, "
            "macOS: brew install wrk) and run the benchmark again"
        )
    print("wrk is missing: installing it with apt-get", flush=True)
    try:
        _apt_get("update", "-q")
        _apt_get("install", "-y", "-q", "wrk")
    except (subprocess.SubprocessError, OSError) as exc:
        raise WrkUnavailable(f"installing wrk with apt-get failed: {exc}") from exc
    found = shutil.which("wrk")
    if not found:
        raise WrkUnavailable("apt-get install wrk succeeded but wrk is not on PATH")
    return found


def _apt_get(*arguments: str) -> None:
    subprocess.run(["apt-get", *arguments], stdout=subprocess.DEVNULL, timeout=300, check=True)


def run_wrk(
    wrk: str, url: str, load: Load, body_file: Path, api_key: str, series: int
) -> WrkResult:
    """Post to ``url`` for ``load.seconds``; ``series`` keeps run ids apart between calls."""
    command = [wrk, *load.arguments(), "-s", str(SCRIPT), url]
    command += ["--", str(body_file), api_key, str(series)]
    completed = subprocess.run(
        command, capture_output=True, text=True, timeout=load.seconds + 60, check=False
    )
    output = completed.stdout + completed.stderr
    if completed.returncode != 0:
        raise RuntimeError(f"wrk exited with status {completed.returncode}:\n{output}")
    return parse_output(output)


LIST_SCRIPT = Path(__file__).with_name("post_list.lua")


def run_wrk_list(wrk: str, url: str, load: Load, requests_file: Path) -> WrkResult:
    """Post the prepared requests of ``requests_file`` (``post_list.lua``'s format) to the
    server at ``url`` for ``load.seconds``."""
    command = [wrk, *load.arguments(), "-s", str(LIST_SCRIPT), url]
    command += ["--", str(requests_file), str(load.threads)]
    completed = subprocess.run(
        command, capture_output=True, text=True, timeout=load.seconds + 120, check=False
    )
    output = completed.stdout + completed.stderr
    if completed.returncode != 0:
        raise RuntimeError(f"wrk exited with status {completed.returncode}:\n{output}")
    return parse_output(output)


def parse_output(output: str) -> WrkResult:
    lines = [line for line in output.splitlines() if line.startswith(_RESULT_MARKER)]
    if not lines:
        raise RuntimeError(f"wrk printed no {_RESULT_MARKER.strip()} line:\n{output}")
    summary = json.loads(lines[-1].removeprefix(_RESULT_MARKER))
    latency = summary["latency_us"]
    return WrkResult(
        requests=summary["requests"],
        seconds=summary["duration_us"] / 1e6,
        non_200=summary["non_200"],
        socket_errors={kind: n for kind, n in summary["errors"].items() if n and kind != "status"},
        p50_ms=latency["p50"] / 1000,
        p90_ms=latency["p90"] / 1000,
        p99_ms=latency["p99"] / 1000,
        max_ms=latency["max"] / 1000,
        output=output,
    )
