"""The offline import benchmark: ``cipulse ingest`` of a JSON Lines file into a fresh SQLite
database, timed from outside (whole process) and as cipulse reports it (import loop only).
The file is generated once and imported by each code under test (current and baseline)."""

from __future__ import annotations

import os
import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from bench import databases, payload
from bench.databases import BenchDatabase, Stored
from bench.servers import REPOSITORY, Code, cipulse_command

_SUMMARY = re.compile(
    r"stored (?P<runs>\d+) runs \((?P<jobs>\d+) jobs\) from \d+ file\(s\) in "
    r"(?P<seconds>[\d.]+)s .*; (?P<failed>\d+) failed"
)
_TIMEOUT_SECONDS = 600


@dataclass(frozen=True, slots=True)
class ImportSource:
    path: Path
    runs: int
    file_bytes: int
    generate_seconds: float


@dataclass(frozen=True, slots=True)
class ImportResult:
    code: str  # "current" or "baseline"
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


def generate(directory: Path, runs: int) -> ImportSource:
    """The JSON Lines file every import reads (the caller deletes it)."""
    path = directory / f"runs-{runs}.jsonl"
    started = time.perf_counter()
    file_bytes = payload.write_json_lines(path, runs)
    return ImportSource(path, runs, file_bytes, time.perf_counter() - started)


def benchmark_import(source: ImportSource, directory: Path, code: Code) -> ImportResult:
    """``cipulse ingest`` of ``source`` by ``code`` into a fresh SQLite database that ``code``
    migrated itself."""
    database = databases.fresh_sqlite(directory, f"offline-import-{code.label}")
    databases.provision(database, code)
    arguments = ("ingest", str(source.path), "--format", "runwatch", "--org", databases.ORG)
    started = time.perf_counter()
    completed = subprocess.run(
        cipulse_command(*arguments),
        cwd=REPOSITORY,
        env={**os.environ, **databases.environment(database, code)},
        capture_output=True,
        text=True,
        timeout=_TIMEOUT_SECONDS,
        check=False,
    )
    wall_seconds = time.perf_counter() - started
    return _result(code, completed, wall_seconds, source, database)


def _result(
    code: Code,
    completed: subprocess.CompletedProcess[str],
    wall_seconds: float,
    source: ImportSource,
    database: BenchDatabase,
) -> ImportResult:
    match = _SUMMARY.search(completed.stderr)
    if completed.returncode != 0 or match is None:
        tail = "\n".join(completed.stderr.splitlines()[-20:])
        raise RuntimeError(
            f"cipulse ingest ({code.label}) failed ({completed.returncode}):\n{tail}"
        )
    return ImportResult(
        code=code.label,
        runs=int(match["runs"]),
        jobs=int(match["jobs"]),
        failed=int(match["failed"]),
        import_seconds=float(match["seconds"]),
        wall_seconds=wall_seconds,
        file_bytes=source.file_bytes,
        generate_seconds=source.generate_seconds,
        stored=databases.stored(database),
    )
