"""``make bench``: ingest throughput of cipulse against a bare Starlette endpoint.

For 1 and 2 worker processes it starts, one at a time, the bare endpoint (``bench.bare``) and
``cipulse serve`` on a fresh SQLite and a fresh PostgreSQL database, drives each with wrk on
loopback (every request a new RunWatch run with 10 jobs), checks the database holds what the
200 responses promised, then times ``cipulse ingest`` of 100,000 runs from a JSON Lines file.
It prints a markdown table and writes it to ``bench/results/latest.md``.

    python -m bench.run [--quick] [--only sqlite|postgresql]
"""

from __future__ import annotations

import argparse
import os
import platform
import signal
import sqlite3
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from types import FrameType

import psycopg

from bench import databases, offline_import, payload
from bench.databases import BenchDatabase
from bench.report import Measurement, Report, StorageCheck, render
from bench.servers import bare_server_command, cipulse_server_command, free_port, running
from bench.wrk import Load, WrkResult, WrkUnavailable, ensure_wrk, run_wrk

RESULTS = Path(__file__).resolve().parent / "results"
DATABASES = ("sqlite", "postgresql")
WORKER_COUNTS = (1, 2)
INGEST_PATH = "/functions/v1/ingest"
_PACKAGES = (
    *("uvicorn", "uvloop", "httptools", "starlette", "fastapi"),
    *("pydantic", "sqlalchemy", "psycopg", "orjson"),
)


@dataclass(frozen=True, slots=True)
class Plan:
    load: Load
    warmup_seconds: float
    databases: tuple[str, ...]
    import_runs: int


@dataclass(frozen=True, slots=True)
class Workspace:
    wrk: str
    directory: Path
    body_file: Path
    logs: Path


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.run", description=__doc__.splitlines()[0] if __doc__ else None
    )
    parser.add_argument("--quick", action="store_true", help="3 s per run, 20,000-run import")
    parser.add_argument("--only", choices=DATABASES, help="benchmark one database only")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads [2]")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections [32]")
    parser.add_argument("--duration", type=float, help="seconds per measured run [10; quick 3]")
    parser.add_argument(
        "--import-runs", type=int, help="runs to import, 0 to skip [100000; quick 20000]"
    )
    return parser.parse_args(argv)


def make_plan(options: argparse.Namespace) -> Plan:
    seconds = options.duration or (3.0 if options.quick else 10.0)
    return Plan(
        load=Load(options.threads, options.connections, seconds),
        warmup_seconds=1.0 if options.quick else 2.0,
        databases=(options.only,) if options.only else DATABASES,
        import_runs=_default(options.import_runs, 20_000 if options.quick else 100_000),
    )


def _default(value: int | None, default: int) -> int:
    return default if value is None else value


def main(argv: list[str] | None = None) -> int:
    options = parse_arguments(argv)
    plan = make_plan(options)
    _stop_cleanly_on(signal.SIGTERM)
    try:
        wrk = ensure_wrk()
    except WrkUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    report = Report(load=plan.load, environment=describe_environment(wrk))
    targets = reachable_targets(plan, report)
    with tempfile.TemporaryDirectory(prefix="cipulse-bench-") as directory:
        workspace = _workspace(wrk, Path(directory))
        try:
            run_all(plan, targets, workspace, report)
        finally:
            if "postgresql" in targets:
                _drop_postgres()
    return publish(report)


def reachable_targets(plan: Plan, report: Report) -> list[str]:
    """The databases of the plan that answer; a skipped one is noted in the report."""
    targets = list(plan.databases)
    if "postgresql" in targets:
        problem = databases.postgres_problem()
        if problem:
            report.skipped.append(f"postgresql scenarios: {problem}")
            print(f"skipping PostgreSQL: {problem}", flush=True)
            targets.remove("postgresql")
    return targets


def run_all(plan: Plan, targets: list[str], workspace: Workspace, report: Report) -> None:
    for workers in WORKER_COUNTS if targets else ():
        _record(report, measure_bare(plan, workspace, workers))
        for target in targets:
            _record(report, measure_cipulse(plan, workspace, target, workers))
    if "sqlite" in plan.databases and plan.import_runs > 0:
        print(f"offline import of {plan.import_runs:,} runs ...", flush=True)
        result = offline_import.benchmark_import(workspace.directory, plan.import_runs)
        report.offline_import = result
        print(
            f"offline import: {result.runs_per_second:,.0f} runs/s "
            f"({result.wall_runs_per_second:,.0f} runs/s with process start-up)",
            flush=True,
        )


def measure_bare(plan: Plan, workspace: Workspace, workers: int) -> Measurement:
    port = free_port()
    log = workspace.logs / f"bare-{workers}w.log"
    with running("bare endpoint", bare_server_command(port, workers), port, {}, log) as server:
        _, measured = drive(plan, workspace, server.base_url, api_key="unused")
    return Measurement("bare", workers, measured)


def measure_cipulse(plan: Plan, workspace: Workspace, target: str, workers: int) -> Measurement:
    database = _fresh_database(target, workspace.directory, workers)
    key = databases.provision(database)
    port = free_port()
    log = workspace.logs / f"cipulse-{target}-{workers}w.log"
    command = cipulse_server_command(port, workers)
    environment = databases.environment(database)
    with running(f"cipulse ({target})", command, port, environment, log) as server:
        warmup, measured = drive(plan, workspace, server.base_url, api_key=key)
    check = StorageCheck(
        ok_responses=warmup.ok_responses + measured.ok_responses,
        in_flight_allowance=2 * plan.load.connections,
        stored=databases.stored(database),
    )
    return Measurement(target, workers, measured, check)


def drive(
    plan: Plan, workspace: Workspace, base_url: str, api_key: str
) -> tuple[WrkResult, WrkResult]:
    """A warm-up run (discarded), then the measured run; each posts its own run ids."""
    url = base_url + INGEST_PATH
    load = plan.load
    warmup_load = Load(load.threads, load.connections, plan.warmup_seconds)
    warmup = run_wrk(workspace.wrk, url, warmup_load, workspace.body_file, api_key, series=1)
    measured = run_wrk(workspace.wrk, url, load, workspace.body_file, api_key, series=2)
    return warmup, measured


def publish(report: Report) -> int:
    """Print the report, write it to ``bench/results/latest.md``; 1 when results are invalid."""
    text = render(report)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "latest.md").write_text(text)
    print()
    print(text)
    print(f"written to {RESULTS / 'latest.md'}")
    problems = report.problems
    if problems:
        _shout(["RESULTS ARE INVALID:", *problems])
        return 1
    return 0


def describe_environment(wrk: str) -> dict[str, str]:
    versions = ", ".join(f"{name} {_version(name)}" for name in _PACKAGES)
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{_cpu_model()}, {_cpu_count()} CPUs, {platform.system()} {platform.release()}",
        "python": f"{platform.python_version()}; {versions}",
        "databases": f"SQLite {sqlite3.sqlite_version}; PostgreSQL {_postgres_version()}",
        "wrk": _first_line([wrk, "-v"]),
    }


def _record(report: Report, measurement: Measurement) -> None:
    report.measurements.append(measurement)
    result = measurement.result
    name = f"{measurement.target}, {measurement.workers} worker(s)"
    line = f"{name}: {result.per_second:,.0f} req/s, p50 {result.p50_ms:.1f} ms, "
    line += f"p99 {result.p99_ms:.1f} ms"
    bare = report.bare(measurement.workers)
    if measurement.check is not None and bare is not None:
        line += f", {result.per_second / bare.result.per_second:.2f} x bare"
        line += f"; {measurement.check.describe()}"
    print(line, flush=True)
    if measurement.problems:
        _shout([f"{name}: numbers are meaningless:", *measurement.problems])


def _fresh_database(target: str, directory: Path, workers: int) -> BenchDatabase:
    if target == "sqlite":
        return databases.fresh_sqlite(directory, f"http-{workers}w")
    return databases.fresh_postgres()


def _workspace(wrk: str, directory: Path) -> Workspace:
    body_file = directory / "body.json"
    body_file.write_bytes(payload.body_template())
    logs = RESULTS / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    return Workspace(wrk=wrk, directory=directory, body_file=body_file, logs=logs)


def _drop_postgres() -> None:
    try:
        databases.drop_postgres()
    except psycopg.Error as exc:
        print(f"warning: could not drop the {databases.BENCH_DATABASE} database: {exc}")


def _shout(lines: list[str]) -> None:
    bar = "!" * 78
    print("\n".join([bar, *(f"!! {line}" for line in lines), bar]), file=sys.stderr, flush=True)


def _stop_cleanly_on(signum: signal.Signals) -> None:
    """Turn the signal into SystemExit so every ``finally`` stops the servers it started."""

    def exit_with_signal(number: int, _frame: FrameType | None) -> None:
        sys.exit(128 + number)

    signal.signal(signum, exit_with_signal)


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "absent"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _cpu_count() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 0


def _postgres_version() -> str:
    if databases.postgres_problem():
        return "not reachable"
    with psycopg.connect(databases.ADMIN_URL, connect_timeout=3) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    return str(row[0]) if row else "unknown"


def _first_line(command: list[str]) -> str:
    completed = subprocess.run(command, capture_output=True, text=True, timeout=10, check=False)
    lines = (completed.stdout + completed.stderr).strip().splitlines()
    return lines[0] if lines else "unknown"


if __name__ == "__main__":
    sys.exit(main())
