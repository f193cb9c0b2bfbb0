"""Dashboard page times of cipulse serve on the read benchmark's seeded databases.

Every dashboard page (overview, pipelines, the busiest pipeline, one of its runs, jobs, flaky,
metrics explorer, settings) for the views a user picks most (30 days, 90 days, the last 24
hours, and 30 and 90 days on default branches only), signed in as a dashboard user: one
server (1 worker), sequential requests over loopback. Reports p50 and p95 of the server time
each page states in its ``Server-Timing`` header (the target: 300 ms) and of the time the
client waited for the whole page. It prints a markdown table and writes it to
``bench/results/pages-latest.md``; it exits 1 when a page does not answer 200.

    python -m bench.pages [--runs N] [--only sqlite|postgresql] [--reuse] [--repeat K]
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field

import httpx
import psycopg

from bench import databases, read_data
from bench.read import RESULTS, environment_facts, seeded_benchmark_arguments, stop_cleanly_on
from bench.read_http import nearest_rank
from bench.servers import cipulse_command, cipulse_server_command, free_port, running

DATABASES = ("sqlite", "postgresql")
TARGET_MS = 300.0
WARMUP_REQUESTS = 1
EMAIL = "bench@cipulse.local"
_REQUEST_TIMEOUT_SECONDS = 300.0
_SERVER_TIMING = re.compile(r"app;dur=([\d.]+)")
_CSRF_FIELD = re.compile(r'name="csrf" value="([^"]+)"')

#: The views measured: a label and the page parameters that make it.
VIEWS: tuple[tuple[str, dict[str, str]], ...] = (
    ("30 days", {}),
    ("90 days", {"range": "90d"}),
    ("24 hours", {"range": "24h"}),
    ("30 days, default branches", {"branches": "default"}),
    ("90 days, default branches", {"range": "90d", "branches": "default"}),
)


@dataclass(frozen=True, slots=True)
class Case:
    page: str  # the page's name in the report
    path: str
    view: str  # a label of VIEWS, or "-" for a page that has no time range
    params: dict[str, str]


@dataclass(frozen=True, slots=True)
class Timing:
    case: Case
    server_ms: tuple[float, ...] = ()
    client_ms: tuple[float, ...] = ()
    failure: str | None = None

    @property
    def slow(self) -> bool:
        p95 = nearest_rank(self.server_ms, 95)
        return p95 is not None and p95 > TARGET_MS

    def describe(self) -> str:
        name = f"{self.case.page} ({self.case.view})"
        if self.failure is not None:
            return f"{name}: FAILED: {self.failure}"
        flag = f"  over {TARGET_MS:.0f} ms" if self.slow else ""
        return (
            f"{name}: server p50 {nearest_rank(self.server_ms, 50):.0f} ms, "
            f"p95 {nearest_rank(self.server_ms, 95):.0f} ms{flag}"
        )


@dataclass(slots=True)
class DatabaseResult:
    kind: str
    description: str = ""
    subjects: str = ""
    timings: list[Timing] = field(default_factory=list)
    problem: str | None = None


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = seeded_benchmark_arguments("python -m bench.pages", __doc__, "page", 10)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    options = parse_arguments(argv)
    stop_cleanly_on(signal.SIGTERM)
    results = []
    for kind in (options.only,) if options.only else DATABASES:
        result = DatabaseResult(kind)
        results.append(result)
        if kind == "postgresql" and (problem := databases.postgres_problem()):
            result.problem = f"skipped: {problem}"
            print(f"skipping PostgreSQL: {problem}", flush=True)
            continue
        try:
            benchmark(result, options)
        except (RuntimeError, OSError, httpx.HTTPError, psycopg.Error, sqlite3.Error) as exc:
            result.problem = f"{type(exc).__name__}: {exc}"
            print(f"{kind}: FAILED: {result.problem}", file=sys.stderr, flush=True)
    text = render(results, options)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "pages-latest.md").write_text(text)
    print()
    print(text)
    print(f"written to {RESULTS / 'pages-latest.md'}")
    failed = [r for r in results if r.problem and not r.problem.startswith("skipped")]
    failed_pages = [t for r in results for t in r.timings if t.failure]
    return 1 if failed or failed_pages else 0


def benchmark(result: DatabaseResult, options: argparse.Namespace) -> None:
    seeded = read_data.prepare(result.kind, options.runs, options.data_dir, options.reuse)
    result.description = seeded.describe()
    password = dashboard_user(seeded.database)
    port = free_port()
    logs = RESULTS / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    environment = databases.environment(seeded.database)
    with (
        running(
            f"cipulse ({result.kind})",
            cipulse_server_command(port, workers=1),
            port,
            environment,
            logs / f"pages-{result.kind}.log",
        ) as server,
        httpx.Client(base_url=server.base_url, timeout=_REQUEST_TIMEOUT_SECONDS) as client,
    ):
        sign_in(client, password)
        pipeline_id, pipeline_name, run_id = discover(client)
        result.subjects = f"pipeline {pipeline_name!r} (the busiest in 30 days), run {run_id}"
        found = cases(pipeline_id, run_id)
        for number, case in enumerate(found, start=1):
            timing = measure(client, case, options.repeat)
            result.timings.append(timing)
            print(f"  [{number:>2}/{len(found)}] {timing.describe()}", flush=True)


def dashboard_user(database: databases.BenchDatabase) -> str:
    """A fresh password for the user ``EMAIL`` of the seeded organisation (created the
    first time)."""
    password = secrets.token_urlsafe(16)
    environment = {**os.environ, **databases.environment(database)}
    for arguments in (
        ("users", "create", EMAIL, "--org", read_data.ORG, "--password-stdin"),
        ("users", "set-password", EMAIL, "--password-stdin"),
    ):
        completed = subprocess.run(
            cipulse_command(*arguments),
            env=environment,
            input=password + "\n",
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if completed.returncode == 0:
            return password
    raise RuntimeError(f"could not set up the dashboard user {EMAIL}: {completed.stderr}")


def sign_in(client: httpx.Client, password: str) -> None:
    form = client.get("/sign-in")
    token = _CSRF_FIELD.search(form.text)
    if form.status_code != 200 or token is None:
        raise RuntimeError(f"GET /sign-in answered {form.status_code} without a form")
    answer = client.post(
        "/sign-in", data={"email": EMAIL, "password": password, "csrf": token[1], "next": "/"}
    )
    if answer.status_code != 303:
        raise RuntimeError(f"POST /sign-in answered {answer.status_code}: {answer.text[:300]}")


def discover(client: httpx.Client) -> tuple[str, str, str]:
    """The pipeline with the most runs in 30 days and its latest run, through the read API
    (which the dashboard session may read)."""
    pipelines = client.get("/api/v1/pipelines", params={"sort": "-runs", "limit": "1"})
    pipelines.raise_for_status()
    busiest = pipelines.json()["items"][0]
    runs = client.get("/api/v1/runs", params={"pipeline": busiest["id"], "limit": "1"})
    runs.raise_for_status()
    return str(busiest["id"]), str(busiest["name"]), str(runs.json()["items"][0]["id"])


def cases(pipeline_id: str, run_id: str) -> list[Case]:
    windowed = (
        ("overview", "/"),
        ("pipelines", "/pipelines"),
        ("pipeline", f"/pipelines/{pipeline_id}"),
        ("jobs", "/jobs"),
        ("flaky", "/flaky"),
        ("metrics", "/metrics"),
    )
    found = [Case(page, path, view, params) for page, path in windowed for view, params in VIEWS]
    found.append(Case("run", f"/runs/{run_id}", "-", {}))
    found.append(Case("settings", "/settings", "-", {}))
    return found


def measure(client: httpx.Client, case: Case, repeat: int) -> Timing:
    server: list[float] = []
    waited: list[float] = []
    for number in range(WARMUP_REQUESTS + repeat):
        started = time.perf_counter()
        try:
            response = client.get(case.path, params=case.params)
        except httpx.HTTPError as exc:
            return Timing(case, failure=f"{type(exc).__name__}: {exc}")
        elapsed_ms = (time.perf_counter() - started) * 1000
        stated = _SERVER_TIMING.search(response.headers.get("server-timing", ""))
        if response.status_code != 200 or stated is None:
            excerpt = " ".join(response.text.split())[:300]
            return Timing(case, failure=f"HTTP {response.status_code}: {excerpt}")
        if number >= WARMUP_REQUESTS:
            server.append(float(stated[1]))
            waited.append(elapsed_ms)
    return Timing(case, tuple(server), tuple(waited))


def render(results: list[DatabaseResult], options: argparse.Namespace) -> str:
    facts = environment_facts()
    lines = [
        "# Dashboard pages",
        "",
        *(f"- {name}: {value}" for name, value in facts.items()),
        f"- {options.runs:,} seeded runs; {options.repeat} timed requests per page after "
        f"{WARMUP_REQUESTS} warm-up; one server, 1 worker; target: server time p95 under "
        f"{TARGET_MS:.0f} ms",
    ]
    for result in results:
        lines += ["", f"## {result.kind}", ""]
        if result.problem:
            lines.append(result.problem)
            continue
        lines += [
            f"{result.description}; {result.subjects}.",
            "",
            "| page | view | server p50 ms | server p95 ms | client p50 ms | client p95 ms |",
            "| --- | --- | ---: | ---: | ---: | ---: |",
        ]
        for timing in result.timings:
            lines.append(_row(timing))
        slow = [t for t in result.timings if t.slow]
        lines += [
            "",
            f"{len(result.timings) - len(slow)} of {len(result.timings)} pages under "
            f"{TARGET_MS:.0f} ms at p95"
            + (": over it: " + "; ".join(t.describe() for t in slow) if slow else "."),
        ]
    return "\n".join(lines) + "\n"


def _row(timing: Timing) -> str:
    case = timing.case
    if timing.failure is not None:
        return f"| {case.page} | {case.view} | FAILED: {timing.failure} | | | |"
    cells = [
        nearest_rank(timing.server_ms, 50),
        nearest_rank(timing.server_ms, 95),
        nearest_rank(timing.client_ms, 50),
        nearest_rank(timing.client_ms, 95),
    ]
    shown = [f"{value:.0f}" for value in cells if value is not None]
    if timing.slow:
        shown[1] = f"**{shown[1]}**"
    return f"| {case.page} | {case.view} | " + " | ".join(shown) + " |"


if __name__ == "__main__":
    sys.exit(main())
