"""``python -m bench.purge``: ingest throughput while ``cipulse purge`` runs, against without,
in the same run, and the purge's own rate.

For SQLite and PostgreSQL: a fresh database seeded with ``cipulse demo seed --runs N --days
90`` (the rollups refreshed), and one ``cipulse serve`` worker on it (its rollup refresher
on, as in production). Then, with ``wrk -t2 -c16`` posting new runs of yesterday (10 jobs each,
a new run id per request: ``post_run.lua``):

1. ``without``: ingest for ``--duration`` seconds;
2. ``during``: ``cipulse purge --older-than DAYS`` starts (two thirds of the history go), and
   ingest is measured in windows of ``--duration`` seconds for as long as the purge runs
   (the window in which it ends is left out);
3. ``after``: ingest again for ``--duration`` seconds, the purge over.

It prints runs/s and p50/p99 latency of each, during ÷ the mean of without and after, and the
purge's duration, attempts/s and jobs/s (from its output), then checks that what remains is
what the purge said.

    python -m bench.purge [--only sqlite|postgresql] [--runs N] [--duration SECONDS]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench import databases, payload
from bench.databases import BenchDatabase
from bench.servers import REPOSITORY, cipulse_command, cipulse_server_command, free_port, running
from bench.wrk import Load, WrkResult, WrkUnavailable, ensure_wrk, run_wrk

#: The purge keeps this many days of the 90 seeded.
KEEP_DAYS = 30
SEED_DAYS = 90
#: At most this many measuring windows while the purge runs.
MAX_WINDOWS = 60
_PURGED = re.compile(
    r"purged (?P<runs>[\d,]+) runs \((?P<attempts>[\d,]+) attempts, (?P<jobs>[\d,]+) jobs\)"
)


@dataclass(frozen=True, slots=True)
class Measured:
    """Ingest over one or more wrk windows."""

    requests: int
    ok: int  # 200 responses: runs stored
    seconds: float
    p50_ms: float
    p99_ms: float
    problems: tuple[str, ...]

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @classmethod
    def of(cls, results: list[WrkResult]) -> Measured:
        """Windows added up; the median window's p50 and the worst window's p99."""
        return cls(
            sum(r.requests for r in results),
            sum(r.ok_responses for r in results),
            sum(r.seconds for r in results),
            statistics.median(r.p50_ms for r in results) if results else 0.0,
            max((r.p99_ms for r in results), default=0.0),
            tuple(p for r in results for p in r.problems),
        )


@dataclass(frozen=True, slots=True)
class Outcome:
    database: str
    seeded_runs: int
    without: Measured
    during: Measured
    windows: int
    after: Measured
    purge_seconds: float
    attempts: int
    jobs: int
    check: str

    @property
    def ratio(self) -> float:
        reference = (self.without.per_second + self.after.per_second) / 2
        return self.during.per_second / reference if reference else 0.0


def _cipulse(database: BenchDatabase, *arguments: str, timeout: float = 3600) -> str:
    completed = subprocess.run(
        cipulse_command(*arguments),
        cwd=REPOSITORY,
        env={**os.environ, **databases.environment(database)},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"cipulse {' '.join(arguments)} failed:\n{completed.stderr}")
    return completed.stderr


def _body_of_today(directory: Path) -> Path:
    """The ingest benchmark's body with its times moved to yesterday (well within the days
    kept; today's could lie in the future)."""
    today = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%d")
    template = payload.body_template().decode()
    started = str(payload.example_run()["started_at"])[:10]
    path = directory / "body.json"
    path.write_text(template.replace(started, today))
    return path


def measure(wrk: str, kind: str, runs: int, seconds: float, directory: Path) -> Outcome:
    database = (
        databases.fresh_sqlite(directory, "purge")
        if kind == "sqlite"
        else databases.fresh_postgres()
    )
    key = databases.provision(database)
    print(f"{kind}: seeding {runs:,} runs over {SEED_DAYS} days…", flush=True)
    _cipulse(
        database,
        "demo",
        "seed",
        "--org",
        databases.ORG,
        "--runs",
        str(runs),
        "--days",
        str(SEED_DAYS),
    )
    seeded = databases.stored(database).runs
    body = _body_of_today(directory)
    load = Load(threads=2, connections=16, seconds=seconds)
    port = free_port()
    log = directory / f"{kind}-server.log"
    with running(
        "cipulse", cipulse_server_command(port, 1), port, databases.environment(database), log
    ):
        url = f"http://127.0.0.1:{port}/functions/v1/ingest"
        run_wrk(wrk, url, Load(2, 16, 2), body, key, series=1)  # warm-up
        without = Measured.of([run_wrk(wrk, url, load, body, key, series=2)])
        print(
            f"{kind}: ingest without a purge {without.per_second:,.0f} runs/s; purging…", flush=True
        )
        purge_log = directory / f"{kind}-purge.log"
        started = time.perf_counter()
        with purge_log.open("w") as output:
            purge = subprocess.Popen(
                cipulse_command("purge", "--older-than", str(KEEP_DAYS)),
                cwd=REPOSITORY,
                env={**os.environ, **databases.environment(database)},
                stdout=output,
                stderr=subprocess.STDOUT,
            )
            windows: list[WrkResult] = []
            while purge.poll() is None and len(windows) < MAX_WINDOWS:
                result = run_wrk(wrk, url, load, body, key, series=3 + len(windows))
                if purge.poll() is None:  # the whole window ran during the purge
                    windows.append(result)
            purge.wait()
        purge_seconds = time.perf_counter() - started
        if purge.returncode != 0:
            raise RuntimeError(f"cipulse purge failed:\n{purge_log.read_text()}")
        after = Measured.of([run_wrk(wrk, url, load, body, key, series=100)])
    found = _PURGED.search(purge_log.read_text())
    attempts = int(found["attempts"].replace(",", "")) if found else 0
    jobs = int(found["jobs"].replace(",", "")) if found else 0
    return Outcome(
        kind,
        seeded,
        without,
        Measured.of(windows),
        len(windows),
        after,
        purge_seconds,
        attempts,
        jobs,
        _check(database, seeded - attempts, [without, Measured.of(windows), after]),
    )


def _check(database: BenchDatabase, kept: int, measured: list[Measured]) -> str:
    """What the database holds against the seed less what the purge said it purged, plus
    what ingest said it stored (every 200 a new run; the warm-up and the window in which the
    purge ended add more, so at least that many)."""
    left = databases.stored(database).runs
    expected = kept + sum(m.ok for m in measured)
    if left < expected:
        return f"**{left:,} runs left; expected at least {expected:,}**"
    return f"ok: {left:,} runs left"


def render(outcomes: list[Outcome], seconds: float) -> str:
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M")
    lines = [
        f"Ingest while `cipulse purge --older-than {KEEP_DAYS}` runs ({stamp} UTC; wrk -t2 "
        f"-c16, windows of {seconds:.0f}s on loopback, one cipulse worker, a database seeded "
        f"with `cipulse demo seed --days {SEED_DAYS}`):",
        "",
        "| database | seeded runs | ingest | runs/s | p50 ms | p99 ms | errors |",
        "|---|---:|---|---:|---:|---:|---|",
    ]
    for o in outcomes:
        for name, m in (
            ("without", o.without),
            (f"during ({o.windows} windows)", o.during),
            ("after", o.after),
        ):
            errors = ", ".join(m.problems) or "none"
            lines.append(
                f"| {o.database} | {o.seeded_runs:,} | {name} | {m.per_second:,.0f} | "
                f"{m.p50_ms:.1f} | {m.p99_ms:.1f} | {errors} |"
            )
    lines += [
        "",
        "| database | during ÷ without and after | purge s | attempts purged | attempts/s "
        "| jobs/s | stored |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for o in outcomes:
        rate = o.attempts / o.purge_seconds if o.purge_seconds else 0.0
        jobs = o.jobs / o.purge_seconds if o.purge_seconds else 0.0
        lines.append(
            f"| {o.database} | {o.ratio:.2f} | {o.purge_seconds:.1f} | {o.attempts:,} | "
            f"{rate:,.0f} | {jobs:,.0f} | {o.check} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=("sqlite", "postgresql"), help="one database only")
    parser.add_argument("--runs", type=int, default=100_000, help="runs seeded (90 days)")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per window")
    options = parser.parse_args(argv)
    try:
        wrk = ensure_wrk()
    except WrkUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    kinds = [options.only] if options.only else ["sqlite", "postgresql"]
    if "postgresql" in kinds and (problem := databases.postgres_problem()):
        print(f"skipping PostgreSQL: {problem}", flush=True)
        kinds.remove("postgresql")
    outcomes = []
    with tempfile.TemporaryDirectory(prefix="cipulse-bench-purge-") as directory:
        try:
            for kind in kinds:
                outcomes.append(measure(wrk, kind, options.runs, options.duration, Path(directory)))
        finally:
            if "postgresql" in kinds:
                databases.drop_postgres()
    report = render(outcomes, options.duration)
    print(report)
    results = Path(__file__).resolve().parent / "results"
    results.mkdir(exist_ok=True)
    (results / "purge.md").write_text(report)
    print(f"written to {results / 'purge.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
