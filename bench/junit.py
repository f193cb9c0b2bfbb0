"""JUnit ingest: a 5,000-case report posted end to end, and disk per stored result.

``python -m bench.junit`` serves cipulse (``cipulse serve``, one worker) on a fresh SQLite
file, then on a fresh PostgreSQL database, and posts a generated pytest report of 5,000 test
cases (2 % failing with a traceback, 3 % skipped, 1 % passing on a rerun) to
``POST /api/v1/test-results`` once per run attempt, each time for a new run: the first post
fills the test case dictionary, the later ones only add results. It prints the time of each
request as the client saw it (connection, upload, conversion, storage and answer), the
target being under 1 s, and the bytes the test tables take per stored result."""

from __future__ import annotations

import argparse
import random
import sqlite3
import statistics
import tempfile
import time
from contextlib import closing
from pathlib import Path

import httpx
import psycopg

from bench.databases import (
    BenchDatabase,
    drop_postgres,
    environment,
    fresh_postgres,
    fresh_sqlite,
    postgres_problem,
    provision,
)
from bench.servers import cipulse_server_command, free_port, running

CASES = 5_000
TARGET_SECONDS = 1.0
TABLES = ("test_cases", "test_messages", "test_reports", "test_results", "test_daily_rollups")


def pytest_report(cases: int, seed: int) -> bytes:
    """A pytest ``--junitxml`` report (xunit2, pytest-rerunfailures' reruns) of ``cases``
    tests in 200 classes; the same tests every time, outcomes drawn from ``seed``."""
    draw = random.Random(seed)
    lines = ['<?xml version="1.0" encoding="utf-8"?><testsuites name="pytest tests">']
    lines.append(f'<testsuite name="pytest" tests="{cases}" time="321.5" hostname="ci">')
    for n in range(cases):
        module, klass = f"tests.unit.test_area{n % 40}", f"TestThing{n % 200}"
        attrs = f'classname="{module}.{klass}" name="test_case_{n}[param-{n % 7}]"'
        roll = draw.random()
        time_attr = f'time="{draw.uniform(0.001, 2.5):.3f}"'
        if roll < 0.02:
            trace = "\n".join(
                f"tests/unit/test_area{n % 40}.py:{k}: in helper_{k}" for k in range(40)
            )
            lines.append(
                f'<testcase {attrs} {time_attr}><failure message="AssertionError: expected '
                f'{n} got {n + 1}">{trace}\nE   AssertionError</failure></testcase>'
            )
        elif roll < 0.05:
            lines.append(
                f'<testcase {attrs} time="0.000"><skipped type="pytest.skip" '
                'message="needs the network">skipped</skipped></testcase>'
            )
        elif roll < 0.06:
            lines.append(f"<testcase {attrs} {time_attr}/>")  # the failed try, rerun
            lines.append(f"<testcase {attrs} {time_attr}/>")
        else:
            lines.append(f"<testcase {attrs} {time_attr}/>")
    lines.append("</testsuite></testsuites>")
    return "\n".join(lines).encode()


def measure(database: BenchDatabase, posts: int, logs: Path) -> list[float]:
    key = provision(database)
    port = free_port()
    env = environment(database)
    with running(
        database.kind, cipulse_server_command(port, 1), port, env, logs / f"{database.kind}.log"
    ) as server:
        timings = []
        with httpx.Client(base_url=server.base_url, timeout=60) as client:
            for run in range(posts):
                report = pytest_report(CASES, seed=run)
                params = {
                    "provider": "github",
                    "repository": "bench/app",
                    "run_id": str(run + 1),
                    "job": "test",
                }
                started = time.perf_counter()
                response = client.post(
                    "/api/v1/test-results",
                    content=report,
                    params=params,
                    headers={"X-API-Key": key, "Content-Type": "application/xml"},
                )
                timings.append(time.perf_counter() - started)
                response.raise_for_status()
                assert response.json()["stored"] == CASES, response.text
    return timings


def bytes_per_result(database: BenchDatabase) -> tuple[int, dict[str, int]]:
    """Stored results, and the bytes each test table takes (its indexes included)."""
    if database.kind == "sqlite":
        with closing(sqlite3.connect(database.url.removeprefix("sqlite:///"))) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            results = conn.execute("SELECT count(*) FROM test_results").fetchone()[0]
            sizes = {
                table: conn.execute(
                    "SELECT coalesce(sum(pgsize), 0) FROM dbstat WHERE name = ? OR name IN "
                    "(SELECT name FROM sqlite_master WHERE tbl_name = ? AND type = 'index')",
                    (table, table),
                ).fetchone()[0]
                for table in TABLES
            }
    else:
        with psycopg.connect(database.url) as conn:
            row = conn.execute("SELECT count(*) FROM test_results").fetchone()
            assert row is not None
            results = row[0]
            sizes = {}
            for table in TABLES:
                size = conn.execute("SELECT pg_total_relation_size(%s)", (table,)).fetchone()
                assert size is not None
                sizes[table] = size[0]
    return int(results), sizes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=10, help="reports posted per database")
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cipulse-bench-junit-") as folder:
        directory = Path(folder)
        kinds = [options.only] if options.only else ["sqlite", "postgresql"]
        for kind in kinds:
            if kind == "postgresql" and (problem := postgres_problem()):
                print(f"postgresql skipped: {problem}")
                continue
            database = fresh_sqlite(directory, "junit") if kind == "sqlite" else fresh_postgres()
            try:
                report(
                    kind, measure(database, options.posts, directory), *bytes_per_result(database)
                )
            finally:
                if kind == "postgresql":
                    drop_postgres()


def report(kind: str, timings: list[float], results: int, sizes: dict[str, int]) -> None:
    size = len(pytest_report(CASES, seed=0))
    later = timings[1:] or timings
    verdict = "ok" if max(timings) < TARGET_SECONDS else f"OVER {TARGET_SECONDS:.0f} s"
    print(
        f"{kind}: {CASES:,}-case report ({size / 1024:.0f} KiB) posted {len(timings)} times: "
        f"first {timings[0] * 1000:.0f} ms, later median {statistics.median(later) * 1000:.0f} ms, "
        f"max {max(timings) * 1000:.0f} ms ({verdict})"
    )
    total = sum(sizes.values())
    parts = ", ".join(f"{table} {value / max(results, 1):.1f}" for table, value in sizes.items())
    per_result = total / max(results, 1)
    print(f"{kind}: {results:,} results stored, {per_result:.1f} bytes per result ({parts})")


if __name__ == "__main__":
    main()
