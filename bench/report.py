"""What a benchmark run found, and its rendering as a markdown report."""

from __future__ import annotations

from dataclasses import dataclass, field

from bench.databases import Stored
from bench.offline_import import ImportResult
from bench.payload import JOBS_PER_RUN
from bench.wrk import Load, WrkResult

#: The issue's targets for one server: SQLite and PostgreSQL alike.
TARGET_RUNS_PER_SECOND = 1_500
TARGET_P99_MS = 100.0
TARGET_IMPORT_RUNS_PER_SECOND = 5_000


@dataclass(frozen=True, slots=True)
class StorageCheck:
    """Did every 200 store one run and its jobs? Requests still in flight when wrk stops
    may be stored without their response being counted, hence a tolerance upwards."""

    ok_responses: int
    in_flight_allowance: int
    stored: Stored

    @property
    def consistent(self) -> bool:
        runs_ok = (
            self.ok_responses <= self.stored.runs <= self.ok_responses + self.in_flight_allowance
        )
        return runs_ok and self.stored.jobs == self.stored.runs * JOBS_PER_RUN

    def describe(self) -> str:
        verdict = "ok" if self.consistent else "MISMATCH"
        return (
            f"{verdict}: {self.stored.runs} runs / {self.stored.jobs} jobs stored "
            f"for {self.ok_responses} responses 200"
        )


@dataclass(frozen=True, slots=True)
class Measurement:
    target: str  # "bare", "sqlite" or "postgresql"
    workers: int
    result: WrkResult
    check: StorageCheck | None = None  # None for the bare endpoint, which stores nothing

    @property
    def problems(self) -> list[str]:
        found = list(self.result.problems)
        if self.check is not None and not self.check.consistent:
            found.append(self.check.describe())
        return found

    @property
    def meets_target(self) -> bool:
        return (
            self.result.per_second >= TARGET_RUNS_PER_SECOND
            and self.result.p99_ms < TARGET_P99_MS
            and not self.problems
        )


@dataclass(slots=True)
class Report:
    load: Load
    environment: dict[str, str]
    measurements: list[Measurement] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    offline_import: ImportResult | None = None

    def bare(self, workers: int) -> Measurement | None:
        for measurement in self.measurements:
            if measurement.target == "bare" and measurement.workers == workers:
                return measurement
        return None

    @property
    def problems(self) -> list[str]:
        found = [
            f"{m.target}, {m.workers} worker(s): {problem}"
            for m in self.measurements
            for problem in m.problems
        ]
        if self.offline_import is not None and not self.offline_import.consistent:
            found.append(f"offline import: {_import_check(self.offline_import)}")
        return found


def render(report: Report) -> str:
    sections = [
        "# cipulse ingest benchmark",
        _environment_section(report),
        _http_section(report),
    ]
    if report.offline_import is not None:
        sections.append(_import_section(report.offline_import))
    if report.skipped:
        sections.append("Skipped:\n\n" + "\n".join(f"- {reason}" for reason in report.skipped))
    problems = report.problems
    if problems:
        sections.append(
            "**INVALID RESULTS** (numbers below are meaningless where these apply):\n\n"
            + "\n".join(f"- {problem}" for problem in problems)
        )
    return "\n\n".join(sections) + "\n"


def _environment_section(report: Report) -> str:
    load = report.load
    lines = [f"- {name}: {value}" for name, value in report.environment.items()]
    lines.append(
        f"- load: wrk -t{load.threads} -c{load.connections} -d{load.seconds:.0f}s on loopback, "
        f"each request a new RunWatch run with {JOBS_PER_RUN} jobs"
    )
    return "\n".join(lines)


def _http_section(report: Report) -> str:
    header = [
        "| target | workers | runs/s | jobs/s | p50 ms | p99 ms | x bare | target met | "
        "errors | stored |",
        "|---|---:|---:|---:|---:|---:|---:|---|---|---|",
    ]
    return "\n".join(header + [_http_row(report, m) for m in report.measurements])


def _http_row(report: Report, measurement: Measurement) -> str:
    result = measurement.result
    bare = report.bare(measurement.workers)
    if measurement.check is None:
        runs, jobs, ratio, target, stored = f"{result.per_second:,.0f} req/s", "-", "1", "-", "-"
    else:
        runs = f"{result.per_second:,.0f}"
        jobs = f"{result.per_second * JOBS_PER_RUN:,.0f}"
        ratio = f"{result.per_second / bare.result.per_second:.2f}" if bare else "?"
        target = "yes" if measurement.meets_target else "**no**"
        stored = measurement.check.describe()
    errors = ", ".join(result.problems) or "none"
    cells = [measurement.target, str(measurement.workers), runs, jobs]
    cells += [f"{result.p50_ms:.1f}", f"{result.p99_ms:.1f}", ratio, target, errors, stored]
    return "| " + " | ".join(cells) + " |"


def _import_section(result: ImportResult) -> str:
    met = "yes" if result.runs_per_second >= TARGET_IMPORT_RUNS_PER_SECOND else "**no**"
    return "\n".join(
        [
            f"Offline import (`cipulse ingest`, JSON Lines, {result.file_bytes / 1e6:.0f} MB, "
            f"generated in {result.generate_seconds:.1f}s, fresh SQLite database):",
            "",
            "| runs | jobs | import s | runs/s | jobs/s | wall s (with start-up) | wall runs/s "
            f"| ≥ {TARGET_IMPORT_RUNS_PER_SECOND:,} runs/s | stored |",
            "|---:|---:|---:|---:|---:|---:|---:|---|---|",
            f"| {result.runs:,} | {result.jobs:,} | {result.import_seconds:.2f} "
            f"| {result.runs_per_second:,.0f} | {result.runs_per_second * JOBS_PER_RUN:,.0f} "
            f"| {result.wall_seconds:.2f} | {result.wall_runs_per_second:,.0f} | {met} "
            f"| {_import_check(result)} |",
        ]
    )


def _import_check(result: ImportResult) -> str:
    verdict = "ok" if result.consistent else "MISMATCH"
    return (
        f"{verdict}: {result.stored.runs} runs / {result.stored.jobs} jobs stored, "
        f"{result.failed} failed"
    )
