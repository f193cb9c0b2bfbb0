"""Read-API latency of cipulse serve on seeded SQLite and PostgreSQL databases.

Every ``/api/v1`` read endpoint, organisation-wide and for the busiest pipeline, over 30 and
90 days.

For each database: migrate, ``cipulse demo seed`` (timed; skipped with ``--reuse`` when the
database already holds the runs asked for), a read key, then one server (1 worker) and
sequential timed requests over loopback; p50 and p95 per case against the 200 ms target.
With the optional ``duckdb`` package, the per-job summary of ``/analytics/jobs`` is also
timed in DuckDB over the SQLite data. It prints a markdown table and writes it to
``bench/results/read-latest.md``; it exits 1 when any answer is not 200.

With ``--baseline REV`` the same cases are also measured against that revision's code (a
git worktree), its server beside the current one on the same database, requests alternating
between them; the report adds both codes' p50 and p95 per case and current ÷ baseline,
flagged above 1.10 (bench/paired.py).

    python -m bench.read [--runs N] [--only sqlite|postgresql] [--reuse] [--repeat K]
                         [--baseline REV | --no-baseline]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from contextlib import ExitStack
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from types import FrameType, ModuleType
from typing import Any

import httpx
import psycopg

from bench import databases, migrated_copy, paired, read_data, read_duckdb, read_http
from bench.read_report import DatabaseResult, DuckdbComparison, ReadReport, render
from bench.servers import REPOSITORY, Code, Server

RESULTS = Path(__file__).resolve().parent / "results"
DEFAULT_DATA_DIR = RESULTS / "read-data"
DATABASES = ("sqlite", "postgresql")
_REQUEST_TIMEOUT_SECONDS = 300.0
_PACKAGES = ("uvicorn", "fastapi", "sqlalchemy", "psycopg", "orjson", "httpx", "duckdb")


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = seeded_benchmark_arguments("python -m bench.read", __doc__, "case", 20)
    return checked_arguments(parser, argv)


def seeded_benchmark_arguments(
    prog: str, doc: str | None, unit: str, repeat: int
) -> argparse.ArgumentParser:
    """The options of the benchmarks over the seeded databases (bench.read, bench.pages)."""
    parser = argparse.ArgumentParser(prog=prog, description=doc.splitlines()[0] if doc else None)
    parser.add_argument("--runs", type=positive, default=1_000_000, help="runs to seed [1000000]")
    parser.add_argument("--only", choices=DATABASES, help="benchmark one database only")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="keep a database that already holds --runs seeded runs instead of seeding again "
        "(bench/results/read-data/sqlite.db and the PostgreSQL database cipulse_bench_read)",
    )
    parser.add_argument(
        "--repeat", type=positive, default=repeat, help=f"timed requests per {unit} [{repeat}]"
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=DEFAULT_DATA_DIR,
        help="directory of the SQLite database, kept between runs [bench/results/read-data]",
    )
    choice = parser.add_mutually_exclusive_group()
    choice.add_argument(
        "--baseline",
        metavar="REV",
        help="also measure this git revision's code (a worktree), its server beside the "
        "current one on the same database, alternating request by request [none]",
    )
    choice.add_argument(
        "--no-baseline",
        dest="baseline",
        action="store_const",
        const=None,
        help="measure the current code only (the default)",
    )
    parser.add_argument(
        "--migrated-copy",
        action="store_true",
        help="with --baseline: the baseline's code seeds a database at its own schema and "
        "serves it; the current code serves a copy it migrated (bench/migrated_copy.py)",
    )
    return parser


def checked_arguments(
    parser: argparse.ArgumentParser, argv: list[str] | None
) -> argparse.Namespace:
    """The parsed options; an error when ``--migrated-copy`` comes without ``--baseline``."""
    options = parser.parse_args(argv)
    if options.migrated_copy and options.baseline is None:
        parser.error("--migrated-copy needs --baseline REV")
    return options


def main(argv: list[str] | None = None) -> int:
    options = parse_arguments(argv)
    stop_cleanly_on(signal.SIGTERM)
    report = ReadReport(runs=options.runs, repeat=options.repeat, environment=environment_facts())
    duckdb = read_duckdb.load_duckdb()
    if duckdb is None:
        report.duckdb.note = "skipped: duckdb not installed"
    with paired.baseline_code(options.baseline) as baseline:
        report.baseline = paired.describe(baseline)
        for kind in (options.only,) if options.only else DATABASES:
            if kind == "postgresql" and (problem := databases.postgres_problem()):
                report.skipped.append(f"postgresql: {problem}")
                print(f"skipping PostgreSQL: {problem}", flush=True)
                continue
            result = DatabaseResult(kind)
            report.databases.append(result)
            try:
                benchmark(result, options, report, duckdb, baseline)
            except (RuntimeError, OSError, httpx.HTTPError, psycopg.Error, sqlite3.Error) as exc:
                result.problem = f"{type(exc).__name__}: {exc}"
                print(f"{kind}: FAILED: {result.problem}", file=sys.stderr, flush=True)
    if "sqlite" not in (result.kind for result in report.databases) and duckdb is not None:
        report.duckdb.note = "skipped: SQLite not benchmarked"
    return publish(report)


def benchmark(
    result: DatabaseResult,
    options: argparse.Namespace,
    report: ReadReport,
    duckdb: ModuleType | None,
    baseline: Code | str,
) -> None:
    """Seed (or reuse), serve, measure every case (beside the baseline when there is one);
    then DuckDB's yardstick for SQLite."""
    kind = result.kind
    served = migrated_copy.prepare(
        kind, options.runs, options.data_dir, options.reuse, own_copy_of(options, baseline)
    )
    result.seeded = served.seeded
    keys = [read_data.read_key(served.current)]
    if served.copied:
        keys.append(read_data.read_key(served.baseline, own_copy_of(options, baseline)))
    logs = RESULTS / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    with (
        paired.serving(served.current, baseline, log_file(logs, "read", kind), served.baseline) as (
            server,
            other,
        ),
        ExitStack() as clients,
    ):
        client, other_client = (
            clients.enter_context(
                httpx.Client(
                    base_url=one.base_url,
                    headers={"X-API-Key": key},
                    timeout=_REQUEST_TIMEOUT_SECONDS,
                )
            )
            if isinstance(one, Server)
            else None
            for one, key in ((server, keys[0]), (other, keys[-1]))
        )
        assert client is not None
        if isinstance(other, str) and isinstance(baseline, Code):
            result.baseline_note = other
        if served.copied and other_client is not None:
            result.same_data = migrated_copy.same_data(served, other_client, client)
            print(f"{kind}: same data: {result.same_data}", flush=True)
        spans = read_http.windows(datetime.now(UTC))
        result.subjects = read_http.discover(client, spans)
        print(f"{kind}: measuring on {result.subjects.describe()}", flush=True)
        _measure_cases(
            result, client, other_client, read_http.cases(result.subjects, spans), options.repeat
        )
        reference = None
        if kind == "sqlite" and duckdb is not None:
            reference = _jobs_reference(client, result, spans[0])
    if reference is not None and duckdb is not None:
        report.duckdb = _duckdb_comparison(result, duckdb, spans[0], options.repeat, *reference)
        print(f"sqlite: DuckDB: {report.duckdb.describe()}", flush=True)
    elif kind == "sqlite" and duckdb is not None:
        report.duckdb.note = "skipped: cipulse's /analytics/jobs (org, 30d) failed"


def _measure_cases(
    result: DatabaseResult,
    client: httpx.Client,
    baseline_client: httpx.Client | None,
    cases: list[read_http.Case],
    repeat: int,
) -> None:
    """Every case on the current server, alternating with the baseline's when there is one."""
    progress = read_http.Progress(len(cases))
    for case in cases:
        theirs = None
        if baseline_client is None:
            timing = read_http.measure(client, case, repeat)
        else:
            theirs, timing = read_http.measure_pair(baseline_client, client, case, repeat)
            result.baseline_timings.append(theirs)
        result.timings.append(timing)
        progress.show(timing, theirs)


def own_copy_of(options: argparse.Namespace, baseline: Code | str) -> Code | None:
    """The baseline's code when it seeds a database of its own (``--migrated-copy``)."""
    return baseline if options.migrated_copy and isinstance(baseline, Code) else None


def log_file(logs: Path, benchmark: str, kind: str) -> Callable[[str], Path]:
    """Where each server's log goes: ``<benchmark>-<kind>.log`` for the current code,
    ``<benchmark>-<kind>-baseline.log`` for the baseline."""

    def named(label: str) -> Path:
        suffix = "" if label == "current" else f"-{label}"
        return logs / f"{benchmark}-{kind}{suffix}.log"

    return named


def _jobs_reference(
    client: httpx.Client, result: DatabaseResult, window: read_http.Window
) -> tuple[float, list[dict[str, Any]]] | None:
    """cipulse's p50 for ``/analytics/jobs`` over the organisation and ``window``, and its
    answer (to check DuckDB's against); None when that case failed."""
    for timing in result.timings:
        case = timing.case
        if case.path == "/analytics/jobs" and case.scope == "org" and case.window == window:
            if timing.p50_ms is None:
                return None
            items = read_http.get_all_items(client, case.path, window.params)
            return timing.p50_ms, items
    return None


def _duckdb_comparison(
    result: DatabaseResult,
    duckdb: ModuleType,
    window: read_http.Window,
    repeat: int,
    cipulse_p50_ms: float,
    reference: list[dict[str, Any]],
) -> DuckdbComparison:
    """The per-job summary over ``window`` in DuckDB, next to cipulse's p50."""
    assert result.seeded is not None
    database = result.seeded.database
    print(f"sqlite: the same per-job summary in DuckDB ({window.label}) ...", flush=True)
    try:
        measured = read_duckdb.compare(
            duckdb,
            read_data.sqlite_path(database),
            read_data.organisation_id(database),
            window,
            repeat,
            reference,
        )
    except duckdb.Error as exc:
        return DuckdbComparison(note=f"failed: {type(exc).__name__}: {exc}")
    return DuckdbComparison(note="", cipulse_p50_ms=cipulse_p50_ms, result=measured)


def publish(report: ReadReport) -> int:
    """Print the report, write it to ``bench/results/read-latest.md``; 1 when a request failed."""
    text = render(report)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "read-latest.md").write_text(text)
    print()
    print(text)
    print(f"written to {RESULTS / 'read-latest.md'}")
    problems = report.problems
    if problems:
        bar = "!" * 78
        lines = [bar, "!! FAILED:", *(f"!! {problem}" for problem in problems), bar]
        print("\n".join(lines), file=sys.stderr, flush=True)
        return 1
    return 0


def environment_facts() -> dict[str, str]:
    versions = ", ".join(f"{name} {_version(name)}" for name in _PACKAGES)
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()}, {_cpu_count()} CPUs, "
        f"{platform.system()} {platform.release()}",
        "python": f"{platform.python_version()}; {versions}",
        "cipulse": _cipulse_source(),
        "databases": f"SQLite {sqlite3.sqlite_version}; PostgreSQL {_postgres_version()}",
    }


def _cipulse_source() -> str:
    """Which cipulse the servers run: its version, where it is imported from, and the commit
    (with a note when ``src/`` has uncommitted changes) when that is this repository."""
    spec = importlib.util.find_spec("cipulse")
    origin = Path(spec.origin).parent if spec and spec.origin else None
    described = f"{_version('cipulse')} from {origin or 'nowhere'}"
    if origin is None or not origin.is_relative_to(REPOSITORY):
        return described
    commit = _git("rev-parse", "--short", "HEAD") or "unknown"
    changed = _git("status", "--porcelain", "--", str(origin))
    return f"{described}, commit {commit}" + (" with uncommitted changes" if changed else "")


def _git(*arguments: str) -> str | None:
    """Git's output in this repository, or None when git fails."""
    completed = subprocess.run(
        ["git", "-C", str(REPOSITORY), *arguments],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    return completed.stdout.strip() if completed.returncode == 0 else None


def _cpu_count() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 0


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "absent"


def _postgres_version() -> str:
    try:
        with psycopg.connect(databases.ADMIN_URL, connect_timeout=3) as conn:
            row = conn.execute("SHOW server_version").fetchone()
    except psycopg.Error:
        return "not reachable"
    return str(row[0]) if row else "unknown"


def positive(text: str) -> int:
    value = int(text.replace("_", "").replace(",", ""))
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def stop_cleanly_on(signum: signal.Signals) -> None:
    """Turn the signal into SystemExit so every ``finally`` stops the server it started."""

    def exit_with_signal(number: int, _frame: FrameType | None) -> None:
        sys.exit(128 + number)

    signal.signal(signum, exit_with_signal)


if __name__ == "__main__":
    sys.exit(main())
