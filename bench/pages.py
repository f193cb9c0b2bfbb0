"""Dashboard page times of cipulse serve on the read benchmark's seeded databases.

Every dashboard page (overview, pipelines, the busiest pipeline, one of its runs, jobs, pull
requests, flaky, metrics explorer, settings) for the views a user picks most (30 days, 90
days, the last 24 hours, and 30 and 90 days on default branches only), signed in as a
dashboard user: one server (1 worker), sequential requests over loopback. Reports p50 and p95
of the server time each page states in its ``Server-Timing`` header (the target: 300 ms) and
of the time the client waited for the whole page. It prints a markdown table and writes it
to ``bench/results/pages-latest.md``; it exits 1 when a page does not answer 200.

With ``--baseline REV``, each page is also requested from that revision's code (a git
worktree), its server beside the current one on the same database, requests alternating
between them; the report adds both codes' p50 and p95 of the client's wait per page and
current ÷ baseline, flagged above 1.10 (bench/paired.py).

    python -m bench.pages [--runs N] [--only sqlite|postgresql] [--reuse] [--repeat K]
                          [--baseline REV | --no-baseline]
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
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from urllib.parse import quote

import httpx
import psycopg

from bench import databases, migrated_copy, paired, read_data
from bench.paired import Comparison, nearest_rank
from bench.read import (
    RESULTS,
    checked_arguments,
    environment_facts,
    log_file,
    own_copy_of,
    seeded_benchmark_arguments,
    stop_cleanly_on,
)
from bench.servers import Code, Server, cipulse_command

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
    baseline_timings: list[Timing] = field(default_factory=list)  # the same pages, baseline
    baseline_note: str | None = None  # why the baseline was not measured here
    same_data: str | None = None  # with --migrated-copy: what shows both copies agree
    problem: str | None = None

    def comparisons(self) -> list[Comparison]:
        """Per page, the client's wait with the baseline and with the current code."""
        return [
            Comparison(
                (self.kind, ours.case.page, ours.case.view),
                theirs.client_ms,
                ours.client_ms,
                theirs.failure,
                ours.failure,
            )
            for theirs, ours in zip(self.baseline_timings, self.timings, strict=False)
        ]


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = seeded_benchmark_arguments("python -m bench.pages", __doc__, "page", 10)
    return checked_arguments(parser, argv)


def main(argv: list[str] | None = None) -> int:
    options = parse_arguments(argv)
    stop_cleanly_on(signal.SIGTERM)
    results = []
    with paired.baseline_code(options.baseline) as baseline:
        for kind in (options.only,) if options.only else DATABASES:
            result = DatabaseResult(kind)
            results.append(result)
            if kind == "postgresql" and (problem := databases.postgres_problem()):
                result.problem = f"skipped: {problem}"
                print(f"skipping PostgreSQL: {problem}", flush=True)
                continue
            try:
                benchmark(result, options, baseline)
            except (RuntimeError, OSError, httpx.HTTPError, psycopg.Error, sqlite3.Error) as exc:
                result.problem = f"{type(exc).__name__}: {exc}"
                print(f"{kind}: FAILED: {result.problem}", file=sys.stderr, flush=True)
        described = paired.describe(baseline)
    text = render(results, options, described)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "pages-latest.md").write_text(text)
    print()
    print(text)
    print(f"written to {RESULTS / 'pages-latest.md'}")
    failed = [r for r in results if r.problem and not r.problem.startswith("skipped")]
    failed_pages = [t for r in results for t in r.timings if t.failure]
    return 1 if failed or failed_pages else 0


def benchmark(result: DatabaseResult, options: argparse.Namespace, baseline: Code | str) -> None:
    own_copy = own_copy_of(options, baseline)
    served = migrated_copy.prepare(
        result.kind, options.runs, options.data_dir, options.reuse, own_copy
    )
    result.description = served.seeded.describe()
    password = dashboard_user(served.current)
    if served.copied:
        dashboard_user(served.baseline, own_copy, password)
    logs = RESULTS / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    with (
        paired.serving(
            served.current, baseline, log_file(logs, "pages", result.kind), served.baseline
        ) as (server, other),
        httpx.Client(base_url=server.base_url, timeout=_REQUEST_TIMEOUT_SECONDS) as client,
        ExitStack() as stack,
    ):
        sign_in(client, password)
        baseline_client = None
        if isinstance(other, Server):
            baseline_client = stack.enter_context(
                httpx.Client(base_url=other.base_url, timeout=_REQUEST_TIMEOUT_SECONDS)
            )
            sign_in(baseline_client, password)
        elif isinstance(baseline, Code):
            result.baseline_note = other
        if served.copied and baseline_client is not None:
            result.same_data = migrated_copy.same_data(served, baseline_client, client)
            print(f"{result.kind}: same data: {result.same_data}", flush=True)
        pipeline_id, pipeline_name, run_id, red_run_id, job_path = discover(client)
        result.subjects = (
            f"pipeline {pipeline_name!r} (the busiest in 30 days), run {run_id}, "
            f"failed run {red_run_id}, job {job_path}"
        )
        found = cases(pipeline_id, run_id, job_path, red_run_id)
        for number, case in enumerate(found, start=1):
            line = f"  [{number:>2}/{len(found)}] "
            if baseline_client is None:
                timing = measure(client, case, options.repeat)
            else:
                theirs, timing = measure_pair(baseline_client, client, case, options.repeat)
                result.baseline_timings.append(theirs)
                line += f"baseline: {theirs.describe()} | current: "
            result.timings.append(timing)
            print(line + timing.describe(), flush=True)


def dashboard_user(
    database: databases.BenchDatabase, code: Code | None = None, password: str | None = None
) -> str:
    """``password`` (default: a fresh one) for the user ``EMAIL`` of the seeded organisation
    (created the first time), set by ``code`` (default: the current code)."""
    password = password or secrets.token_urlsafe(16)
    environment = {**os.environ, **databases.environment(database, code)}
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


def discover(client: httpx.Client) -> tuple[str, str, str, str | None, str]:
    """The pipeline with the most runs in 30 days, its latest run, its latest failed run on
    its default branch (the run page's triage at its busiest) and the path of its job with
    the most executions, through the read API (which the dashboard session may read)."""
    pipelines = client.get("/api/v1/pipelines", params={"sort": "-runs", "limit": "1"})
    pipelines.raise_for_status()
    busiest = pipelines.json()["items"][0]
    runs = client.get("/api/v1/runs", params={"pipeline": busiest["id"], "limit": "1"})
    runs.raise_for_status()
    failed = client.get(
        "/api/v1/runs",
        params={
            "pipeline": busiest["id"],
            "status": "failure",
            "branches": "default",
            "limit": "1",
        },
    )
    failed.raise_for_status()
    red = failed.json()["items"]
    red_id = str(red[0]["id"]) if red else None
    jobs = client.get(
        "/api/v1/analytics/jobs", params={"pipeline": busiest["id"], "sort": "-runs", "limit": "1"}
    )
    jobs.raise_for_status()
    job = jobs.json()["items"][0]
    path = f"/jobs/{busiest['id']}/{quote(job['definition_key'], safe='')}"
    latest = str(runs.json()["items"][0]["id"])
    return str(busiest["id"]), str(busiest["name"]), latest, red_id, path


#: The demo's hosted Linux pool (demo/runners.py), whose runners a case lists.
RUNNER_LABELS = {"label_set": "ubuntu-latest"}


def cases(
    pipeline_id: str, run_id: str, job_path: str, red_run_id: str | None = None
) -> list[Case]:
    windowed = (
        ("overview", "/"),
        ("pipelines", "/pipelines"),
        ("pipeline", f"/pipelines/{pipeline_id}"),
        ("jobs", "/jobs"),
        ("job", job_path),
        ("pull requests", "/pull-requests"),
        ("runners", "/runners"),
        ("costs", "/costs"),
        ("flaky", "/flaky"),
        ("metrics", "/metrics"),
    )
    found = [Case(page, path, view, params) for page, path in windowed for view, params in VIEWS]
    found.append(Case("jobs search", "/jobs", "30 days", {"job": "test"}))
    found.append(Case("overview, by class", "/", "30 days", {"failure_class": "infrastructure"}))
    # A label set's runners: the demo's busiest pool (a bounded raw read).
    found.append(Case("runners of a label set", "/runners/names", "30 days", RUNNER_LABELS))
    found.append(Case("costs by team", "/costs", "30 days", {"group_by": "team"}))
    found.append(Case("run", f"/runs/{run_id}", "-", {}))
    if red_run_id is not None:
        # A failed run on the default branch: the triage's every query (previous green run,
        # the changes since, usual job durations).
        found.append(Case("run (failed, default branch)", f"/runs/{red_run_id}", "-", {}))
    found.append(Case("settings", "/settings", "-", {}))
    return found


def measure(client: httpx.Client, case: Case, repeat: int) -> Timing:
    """One warm-up, then ``repeat`` timed requests; stops at the first answer other than 200
    (or without a ``Server-Timing`` header)."""
    (outcome,) = paired.alternate([probe(client, case)], WARMUP_REQUESTS, repeat)
    return _timing(case, outcome)


def measure_pair(
    baseline: httpx.Client, current: httpx.Client, case: Case, repeat: int
) -> tuple[Timing, Timing]:
    """``measure`` on two servers at once, alternating request by request."""
    theirs, ours = paired.alternate(
        [probe(baseline, case), probe(current, case)], WARMUP_REQUESTS, repeat
    )
    return _timing(case, theirs), _timing(case, ours)


def probe(client: httpx.Client, case: Case) -> Callable[[], tuple[float, float]]:
    """One timed request of the page: the server time it states and the client's wait (ms)."""

    def once() -> tuple[float, float]:
        started = time.perf_counter()
        try:
            response = client.get(case.path, params=case.params)
        except httpx.HTTPError as exc:
            raise paired.ProbeFailed(f"{type(exc).__name__}: {exc}") from exc
        elapsed_ms = (time.perf_counter() - started) * 1000
        stated = _SERVER_TIMING.search(response.headers.get("server-timing", ""))
        if response.status_code != 200 or stated is None:
            excerpt = " ".join(response.text.split())[:300]
            raise paired.ProbeFailed(f"HTTP {response.status_code}: {excerpt}")
        return float(stated[1]), elapsed_ms

    return once


def _timing(case: Case, outcome: paired.Outcome[tuple[float, float]]) -> Timing:
    server = tuple(value[0] for value in outcome.values)
    waited = tuple(value[1] for value in outcome.values)
    return Timing(case, server, waited, outcome.failure)


def render(results: list[DatabaseResult], options: argparse.Namespace, baseline: str) -> str:
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
    return "\n".join(lines + _baseline_section(results, baseline)) + "\n"


def _baseline_section(results: list[DatabaseResult], baseline: str) -> list[str]:
    """Per page, the baseline's client wait beside the current code's, measured alternately."""
    lines = ["", f"## Baseline: {baseline}", ""]
    lines += [f"{r.kind}: baseline {r.baseline_note}." for r in results if r.baseline_note]
    lines += [
        f"{r.kind}: each code on its own copy of the seed (--migrated-copy): {r.same_data}."
        for r in results
        if r.same_data
    ]
    comparisons = [c for result in results for c in result.comparisons()]
    if comparisons:
        lines += [
            "Time the client waited for the whole page, the current code against the baseline "
            "on the same data, both servers up, requests alternating between them:",
            "",
            *paired.comparison_table(("database", "page", "view"), comparisons),
        ]
    return lines


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
