"""``make bench``: ingest throughput of cipulse against a bare Starlette endpoint and a baseline.

For 1 and 2 worker processes it starts, one at a time, the bare endpoint (``bench.bare``) and
``cipulse serve`` on a fresh SQLite and a fresh PostgreSQL database, first with the baseline
revision's code (a git worktree on PYTHONPATH, default 0cd58e2: before the analytics rollups)
and then with the current code, drives each with wrk on loopback (every request a new RunWatch
run with 10 jobs), checks the database holds what the 200 responses promised, then times
``cipulse ingest`` of 100,000 runs from a JSON Lines file with both codes. It prints a
markdown table with current ÷ baseline per scenario (flagged below 0.80) and writes it to
``bench/results/latest.md``.

    python -m bench.run [--quick] [--only sqlite|postgresql] [--baseline REV | --no-baseline]
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
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from importlib import metadata
from pathlib import Path
from types import FrameType
from typing import TypeVar

import psycopg

from bench import databases, offline_import, payload
from bench.databases import BenchDatabase
from bench.report import BASELINE_FLOOR, Comparison, Measurement, Report, StorageCheck, render
from bench.servers import (
    BaselineUnavailable,
    Code,
    bare_server_command,
    checked_out,
    cipulse_server_command,
    current_code,
    free_port,
    running,
)
from bench.wrk import Load, WrkResult, WrkUnavailable, ensure_wrk, run_wrk

T = TypeVar("T")
RESULTS = Path(__file__).resolve().parent / "results"
DATABASES = ("sqlite", "postgresql")
WORKER_COUNTS = (1, 2)
INGEST_PATH = "/functions/v1/ingest"
#: The last commit before the analytics rollups: ingest throughput must stay within 80 % of it.
DEFAULT_BASELINE = "0cd58e2"
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
    baseline: str | None  # the revision to compare with, None to measure the current code only


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
    baseline = parser.add_mutually_exclusive_group()
    baseline.add_argument(
        "--baseline",
        metavar="REV",
        default=DEFAULT_BASELINE,
        help=f"git revision to measure next to the current code [{DEFAULT_BASELINE}]",
    )
    baseline.add_argument(
        "--no-baseline", action="store_true", help="measure the current code only"
    )
    return parser.parse_args(argv)


def make_plan(options: argparse.Namespace) -> Plan:
    seconds = options.duration or (3.0 if options.quick else 10.0)
    return Plan(
        load=Load(options.threads, options.connections, seconds),
        warmup_seconds=1.0 if options.quick else 2.0,
        databases=(options.only,) if options.only else DATABASES,
        import_runs=_default(options.import_runs, 20_000 if options.quick else 100_000),
        baseline=None if options.no_baseline else options.baseline,
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
    current = current_code()
    report = Report(load=plan.load, environment=describe_environment(wrk))
    report.environment["current code"] = current.description
    targets = reachable_targets(plan, report)
    with tempfile.TemporaryDirectory(prefix="cipulse-bench-") as directory, ExitStack() as stack:
        workspace = _workspace(wrk, Path(directory))
        codes = [current]
        baseline = _baseline(plan, workspace, report, stack)
        if baseline is not None:
            codes.insert(0, baseline)
        try:
            run_all(plan, targets, workspace, report, codes)
        finally:
            if "postgresql" in targets:
                _drop_postgres()
    return publish(report)


def _baseline(plan: Plan, workspace: Workspace, report: Report, stack: ExitStack) -> Code | None:
    """The baseline revision checked out for the rest of the run, or None (noted why)."""
    if plan.baseline is None:
        report.skipped.append("baseline: --no-baseline")
        print("baseline skipped: --no-baseline", flush=True)
        return None
    try:
        code = stack.enter_context(checked_out(plan.baseline, workspace.directory))
    except BaselineUnavailable as exc:
        report.skipped.append(f"baseline {plan.baseline}: {exc}")
        print(f"baseline skipped: {exc}", flush=True)
        return None
    report.baseline = code.revision
    report.environment["baseline code"] = (
        f"{code.description}, a git worktree of it run with PYTHONPATH={code.source}"
    )
    print(f"baseline: {code.description} in {code.source}", flush=True)
    return code


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


def run_all(
    plan: Plan, targets: list[str], workspace: Workspace, report: Report, codes: list[Code]
) -> None:
    """Interleaved, so that a drift in the machine's load affects baseline and current alike:
    for each worker count the bare endpoint, then per database the baseline and the current
    code; then the offline import of one generated file by each code."""
    for workers in WORKER_COUNTS if targets else ():
        _record(report, measure_bare(plan, workspace, workers))
        for target in targets:
            for code in codes:
                scenario = f"{target}, {workers} worker(s)"
                measure = partial(measure_cipulse, plan, workspace, target, workers, code)
                measurement = _attempt(report, code, scenario, measure)
                if measurement is not None:
                    _record(report, measurement)
    if "sqlite" in plan.databases and plan.import_runs > 0:
        import_all(plan, workspace, report, codes)
    for comparison in report.comparisons:
        print(comparison.describe(), flush=True)


def import_all(plan: Plan, workspace: Workspace, report: Report, codes: list[Code]) -> None:
    print(f"generating {plan.import_runs:,} runs for the offline import ...", flush=True)
    source = offline_import.generate(workspace.directory, plan.import_runs)
    try:
        for code in codes:
            print(f"offline import ({code.label}) ...", flush=True)
            measure = partial(offline_import.benchmark_import, source, workspace.directory, code)
            result = _attempt(report, code, "offline import", measure)
            if result is None:
                continue
            report.imports.append(result)
            print(
                f"offline import ({code.label}): {result.runs_per_second:,.0f} runs/s "
                f"({result.wall_runs_per_second:,.0f} runs/s with process start-up)",
                flush=True,
            )
    finally:
        source.path.unlink(missing_ok=True)


def _attempt(report: Report, code: Code, scenario: str, measure: Callable[[], T]) -> T | None:
    """``measure()``; a baseline that fails (an older revision may lack what the benchmark
    uses) is noted and skipped, the current code's failures stop the benchmark."""
    if code.label != "baseline":
        return measure()
    try:
        return measure()
    except RuntimeError as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        report.skipped.append(f"baseline, {scenario}: {reason}")
        print(f"baseline skipped for {scenario}: {reason}", flush=True)
        return None


def measure_bare(plan: Plan, workspace: Workspace, workers: int) -> Measurement:
    port = free_port()
    log = workspace.logs / f"bare-{workers}w.log"
    with running("bare endpoint", bare_server_command(port, workers), port, {}, log) as server:
        _, measured = drive(plan, workspace, server.base_url, api_key="unused")
    return Measurement("bare", workers, measured)


def measure_cipulse(
    plan: Plan, workspace: Workspace, target: str, workers: int, code: Code
) -> Measurement:
    database = _fresh_database(target, workspace.directory, f"{code.label}-{workers}w")
    key = databases.provision(database, code)
    port = free_port()
    log = workspace.logs / f"cipulse-{code.label}-{target}-{workers}w.log"
    command = cipulse_server_command(port, workers)
    environment = databases.environment(database, code)
    name = f"cipulse {code.label} ({target})"
    with running(name, command, port, environment, log) as server:
        warmup, measured = drive(plan, workspace, server.base_url, api_key=key)
    check = StorageCheck(
        ok_responses=warmup.ok_responses + measured.ok_responses,
        in_flight_allowance=2 * plan.load.connections,
        stored=databases.stored(database),
    )
    return Measurement(target, workers, measured, check, code.label)


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
    below = [c.describe() for c in report.comparisons if c.below_floor]
    if below:
        _shout([f"INGEST THROUGHPUT BELOW {BASELINE_FLOOR:.2f} x BASELINE:", *below])
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
    if measurement.check is not None:
        name = f"{measurement.target} ({measurement.code}), {measurement.workers} worker(s)"
    line = f"{name}: {result.per_second:,.0f} req/s, p50 {result.p50_ms:.1f} ms, "
    line += f"p99 {result.p99_ms:.1f} ms"
    bare = report.bare(measurement.workers)
    if measurement.check is not None and bare is not None:
        line += f", {result.per_second / bare.result.per_second:.2f} x bare"
    baseline = report.baseline_of(measurement)
    if baseline is not None:
        ratio = Comparison("", baseline.result.per_second, result.per_second).ratio_text
        line += f", {ratio} x baseline"
    if measurement.check is not None:
        line += f"; {measurement.check.describe()}"
    print(line, flush=True)
    if measurement.problems:
        _shout([f"{name}: numbers are meaningless:", *measurement.problems])


def _fresh_database(target: str, directory: Path, name: str) -> BenchDatabase:
    if target == "sqlite":
        return databases.fresh_sqlite(directory, f"http-{name}")
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
