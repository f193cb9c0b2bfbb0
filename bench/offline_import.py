"""The offline import benchmark: ``cipulse ingest`` of a JSON Lines file into a fresh SQLite
database, timed from outside (whole process) and as cipulse reports it (import loop only)."""

from __future__ import annotations

import os
import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from bench import databases, payload
from bench.databases import BenchDatabase, Stored
from bench.servers import cipulse_command

_SUMMARY = re.compile(
    r"stored (?P<runs>\d+) runs \((?P<jobs>\d+) jobs\) from \d+ file\(s\) in "
    r"(?P<seconds>[\d.]+)s .*; (?P<failed>\d+) failed"
)
_TIMEOUT_SECONDS = 600


@dataclass(frozen=True, slots=True)
class ImportResult:
    runs: int
    jobs: int
    failed: int
    import_seconds: float  # as cipulse reports it: parsing and storing
    wall_seconds: float  # the whole ``cipulse ingest`` process, start-up included
    file_bytes: int
    generate_seconds: float
    stored: Stored

    @property
    def runs_per_second(self) -> float:
        return self.runs / self.import_seconds if self.import_seconds > 0 else 0.0

    @property
    def wall_runs_per_second(self) -> float:
        return self.runs / self.wall_seconds if self.wall_seconds > 0 else 0.0

    @property
    def consistent(self) -> bool:
        return (
            self.failed == 0
            and self.stored.runs == self.runs
            and self.stored.jobs == self.runs * payload.JOBS_PER_RUN
        )


def benchmark_import(directory: Path, runs: int) -> ImportResult:
    source = directory / f"runs-{runs}.jsonl"
    started = time.perf_counter()
    file_bytes = payload.write_json_lines(source, runs)
    generate_seconds = time.perf_counter() - started

    database = databases.fresh_sqlite(directory, "offline-import")
    databases.provision(database)
    started = time.perf_counter()
    completed = subprocess.run(
        cipulse_command("ingest", str(source), "--format", "runwatch", "--org", databases.ORG),
        env={**os.environ, **databases.environment(database)},
        capture_output=True,
        text=True,
        timeout=_TIMEOUT_SECONDS,
        check=False,
    )
    wall_seconds = time.perf_counter() - started
    source.unlink()
    return _result(completed, wall_seconds, file_bytes, generate_seconds, database)


def _result(
    completed: subprocess.CompletedProcess[str],
    wall_seconds: float,
    file_bytes: int,
    generate_seconds: float,
    database: BenchDatabase,
) -> ImportResult:
    match = _SUMMARY.search(completed.stderr)
    if completed.returncode != 0 or match is None:
        tail = "\n".join(completed.stderr.splitlines()[-20:])
        raise RuntimeError(f"cipulse ingest failed ({completed.returncode}):\n{tail}")
    return ImportResult(
        runs=int(match["runs"]),
        jobs=int(match["jobs"]),
        failed=int(match["failed"]),
        import_seconds=float(match["seconds"]),
        wall_seconds=wall_seconds,
        file_bytes=file_bytes,
        generate_seconds=generate_seconds,
        stored=databases.stored(database),
    )
