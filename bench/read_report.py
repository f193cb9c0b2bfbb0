"""What the read benchmark found, and its rendering as a markdown report."""

from __future__ import annotations

from dataclasses import dataclass, field

from bench.paired import Comparison, comparison_table
from bench.read_data import SEED_DAYS, SeededDatabase
from bench.read_duckdb import DuckdbResult
from bench.read_http import TARGET_MS, WARMUP_REQUESTS, Subjects, Timing


@dataclass(slots=True)
class DatabaseResult:
    kind: str  # "sqlite" or "postgresql"
    seeded: SeededDatabase | None = None
    subjects: Subjects | None = None
    timings: list[Timing] = field(default_factory=list)
    baseline_timings: list[Timing] = field(default_factory=list)  # the same cases, baseline
    baseline_note: str | None = None  # why the baseline was not measured here
    same_data: str | None = None  # with --migrated-copy: what shows both copies agree
    problem: str | None = None  # why it could not be measured (completely)

    def comparisons(self) -> list[Comparison]:
        return [
            Comparison(
                (self.kind, f"`{ours.case.endpoint}`", ours.case.scope, ours.case.window_label),
                theirs.milliseconds,
                ours.milliseconds,
                theirs.failure,
                ours.failure,
            )
            for theirs, ours in zip(self.baseline_timings, self.timings, strict=False)
        ]

    @property
    def problems(self) -> list[str]:
        found = [f"{self.kind}: {self.problem}"] if self.problem else []
        return found + [f"{self.kind}: {t.describe()}" for t in self.timings if t.failure]


@dataclass(slots=True)
class DuckdbComparison:
    """DuckDB's time for the per-job summary next to cipulse's ``/analytics/jobs``, or why
    there is none."""

    note: str = "not run"
    cipulse_p50_ms: float | None = None
    result: DuckdbResult | None = None

    @property
    def ratio(self) -> float | None:
        duckdb_ms = self.result.p50_ms if self.result else None
        if self.cipulse_p50_ms is None or not duckdb_ms:
            return None
        return self.cipulse_p50_ms / duckdb_ms

    def describe(self) -> str:
        ratio, result = self.ratio, self.result
        if ratio is None or result is None:
            return self.note
        return (
            f"cipulse /api/v1/analytics/jobs (org, 30d) p50 {self.cipulse_p50_ms:.1f} ms, "
            f"DuckDB {result.version} p50 {result.p50_ms:.1f} ms {result.mode}: "
            f"cipulse takes {ratio:.1f}x DuckDB's time; {result.agreement}"
        )


@dataclass(slots=True)
class ReadReport:
    runs: int
    repeat: int
    environment: dict[str, str]
    baseline: str = "none"  # the baseline's commit and subject, or why there is none
    databases: list[DatabaseResult] = field(default_factory=list)
    duckdb: DuckdbComparison = field(default_factory=DuckdbComparison)
    skipped: list[str] = field(default_factory=list)

    @property
    def problems(self) -> list[str]:
        return [problem for result in self.databases for problem in result.problems]

    @property
    def slow(self) -> list[Timing]:
        return [t for result in self.databases for t in result.timings if t.slow]


def render(report: ReadReport) -> str:
    sections = [
        "# cipulse read-API latency benchmark",
        _environment_section(report),
        _data_section(report),
        _latency_section(report),
        _baseline_section(report),
        f"DuckDB yardstick (SQLite): {report.duckdb.describe()}",
    ]
    if report.skipped:
        sections.append("Skipped:\n\n" + "\n".join(f"- {reason}" for reason in report.skipped))
    problems = report.problems
    if problems:
        sections.append(
            "**FAILED REQUESTS** (every answer must be 200):\n\n"
            + "\n".join(f"- {problem}" for problem in problems)
        )
    return "\n\n".join(sections) + "\n"


def _environment_section(report: ReadReport) -> str:
    lines = [f"- {name}: {value}" for name, value in report.environment.items()]
    lines.append(
        f"- load: one client (httpx), sequential requests on one keep-alive connection over "
        f"loopback to `cipulse serve --workers 1`; per case {WARMUP_REQUESTS} warm-up and "
        f"{report.repeat} timed requests; p50 and p95 by nearest rank; target p95 ≤ "
        f"{TARGET_MS:.0f} ms"
    )
    return "\n".join(lines)


def _data_section(report: ReadReport) -> str:
    rows = [
        f"Data: `cipulse demo seed --org demo --runs {report.runs} --days {SEED_DAYS}`, "
        "ending at the hour the seed ran; windows end when the measurements start.",
        "",
        "| database | runs stored | latest run started | seed s | runs/s | jobs | measured on |",
        "|---|---:|---|---:|---:|---:|---|",
    ]
    for result in report.databases:
        seeded = result.seeded
        if seeded is None:
            continue
        end = seeded.data_end.strftime("%Y-%m-%d %H:%M UTC") if seeded.data_end else "-"
        seeding = seeded.seeding
        if seeding is None:
            seconds, rate, jobs = "reused", "-", "-"
        else:
            seconds = f"{seeding.wall_seconds:.1f}"
            rate = f"{seeding.runs_per_second:,.0f}"
            if seeding.reported_runs_per_second is not None:
                rate += f" ({seeding.reported_runs_per_second:,.0f} as cipulse reports it)"
            jobs = f"{seeding.jobs:,}" if seeding.jobs is not None else "?"
        subjects = result.subjects.describe() if result.subjects else "-"
        rows.append(
            f"| {result.kind} | {seeded.runs:,} | {end} | {seconds} | {rate} | {jobs} "
            f"| {subjects} |"
        )
    return "\n".join(rows)


def _latency_section(report: ReadReport) -> str:
    rows = [
        "| database | endpoint | scope | window | p50 ms | p95 ms | ok? |",
        "|---|---|---|---|---:|---:|---|",
    ]
    for result in report.databases:
        rows += [_latency_row(result.kind, timing) for timing in result.timings]
    timings = [timing for result in report.databases for timing in result.timings]
    failed = sum(1 for timing in timings if timing.failure is not None)
    slow = len(report.slow)
    summary = (
        f"{len(timings) - failed - slow} of {len(timings)} cases within the "
        f"{TARGET_MS:.0f} ms target (p95), {slow} over it, {failed} failed"
    )
    return "\n".join(rows) + "\n\n" + summary + "."


def _latency_row(kind: str, timing: Timing) -> str:
    case = timing.case
    if timing.failure is not None:
        p50 = p95 = "-"
        verdict = f"**{timing.failure.split(':', 1)[0]}**"
    else:
        p50, p95 = f"{timing.p50_ms:.1f}", f"{timing.p95_ms:.1f}"
        verdict = f"**no: > {TARGET_MS:.0f} ms**" if timing.slow else "yes"
    cells = [kind, f"`{case.endpoint}`", case.scope, case.window_label, p50, p95, verdict]
    return "| " + " | ".join(cells) + " |"


def _baseline_section(report: ReadReport) -> str:
    """Per case, the baseline's times beside the current code's, measured alternately."""
    lines = [f"Baseline: {report.baseline}."]
    for result in report.databases:
        if result.baseline_note:
            lines.append(f"{result.kind}: baseline {result.baseline_note}.")
        if result.same_data:
            lines.append(
                f"{result.kind}: each code on its own copy of the seed (--migrated-copy): "
                f"{result.same_data}."
            )
    comparisons = [c for result in report.databases for c in result.comparisons()]
    if comparisons:
        lines += [
            "",
            "Current code against the baseline on the same data, both servers up, "
            "requests alternating between them:",
            "",
            *comparison_table(("database", "endpoint", "scope", "window"), comparisons),
        ]
    return "\n".join(lines)
