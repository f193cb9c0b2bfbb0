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
#: The issue's floor for current ÷ baseline ingest throughput.
BASELINE_FLOOR = 0.80


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
    code: str = "current"  # "current" or "baseline" (meaningless for the bare endpoint)

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


@dataclass(frozen=True, slots=True)
class Comparison:
    """Current ÷ baseline throughput of one scenario."""

    scenario: str
    baseline: float
    current: float

    @property
    def ratio(self) -> float:
        return self.current / self.baseline if self.baseline > 0 else 0.0

    @property
    def below_floor(self) -> bool:
        return self.ratio < BASELINE_FLOOR

    @property
    def ratio_text(self) -> str:
        """Two decimals, three where two would round a ratio below the floor up to it."""
        text = f"{self.ratio:.2f}"
        if self.below_floor and float(text) >= BASELINE_FLOOR:
            text = f"{self.ratio:.3f}"
        return text

    def describe(self) -> str:
        flag = f" BELOW {BASELINE_FLOOR:.2f}" if self.below_floor else ""
        return (
            f"{self.scenario}: {self.current:,.0f} / {self.baseline:,.0f} runs/s "
            f"= {self.ratio_text} x baseline{flag}"
        )


@dataclass(slots=True)
class Report:
    load: Load
    environment: dict[str, str]
    baseline: str | None = None  # the baseline's revision when it was measured
    measurements: list[Measurement] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    imports: list[ImportResult] = field(default_factory=list)

    def bare(self, workers: int) -> Measurement | None:
        for measurement in self.measurements:
            if measurement.target == "bare" and measurement.workers == workers:
                return measurement
        return None

    def baseline_of(self, measurement: Measurement) -> Measurement | None:
        """The baseline's measurement of the same scenario as a current one."""
        if measurement.target == "bare" or measurement.code != "current":
            return None
        for other in self.measurements:
            if (other.target, other.workers, other.code) == (
                measurement.target,
                measurement.workers,
                "baseline",
            ):
                return other
        return None

    def import_of(self, code: str) -> ImportResult | None:
        return next((result for result in self.imports if result.code == code), None)

    @property
    def comparisons(self) -> list[Comparison]:
        """Current ÷ baseline for every scenario both were measured in, the offline import
        both as cipulse times it and wall-clock."""
        found = []
        for measurement in self.measurements:
            baseline = self.baseline_of(measurement)
            if baseline is not None:
                found.append(
                    Comparison(
                        f"{measurement.target}, {measurement.workers} worker(s)",
                        baseline.result.per_second,
                        measurement.result.per_second,
                    )
                )
        current, baseline_import = self.import_of("current"), self.import_of("baseline")
        if current is not None and baseline_import is not None:
            found.append(
                Comparison(
                    "offline import",
                    baseline_import.runs_per_second,
                    current.runs_per_second,
                )
            )
            found.append(
                Comparison(
                    "offline import, wall-clock",
                    baseline_import.wall_runs_per_second,
                    current.wall_runs_per_second,
                )
            )
        return found

    @property
    def problems(self) -> list[str]:
        found = [
            f"{m.target}, {m.workers} worker(s): {problem}"
            for m in self.measurements
            for problem in m.problems
        ]
        found += [
            f"offline import ({result.code}): {_import_check(result)}"
            for result in self.imports
            if not result.consistent
        ]
        return found


def render(report: Report) -> str:
    sections = [
        "# cipulse ingest benchmark",
        _environment_section(report),
        _http_section(report),
    ]
    if report.imports:
        sections.append(_import_section(report))
    if report.baseline is not None:
        sections.append(_baseline_section(report))
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
        "| target | code | workers | runs/s | jobs/s | p50 ms | p99 ms | x bare | vs. baseline "
        "| target met | errors | stored |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---|---|---|",
    ]
    return "\n".join(header + [_http_row(report, m) for m in report.measurements])


def _http_row(report: Report, measurement: Measurement) -> str:
    result = measurement.result
    bare = report.bare(measurement.workers)
    if measurement.check is None:
        code, runs, jobs, ratio = "-", f"{result.per_second:,.0f} req/s", "-", "1"
        target, stored = "-", "-"
    else:
        code = measurement.code
        runs = f"{result.per_second:,.0f}"
        jobs = f"{result.per_second * JOBS_PER_RUN:,.0f}"
        ratio = f"{result.per_second / bare.result.per_second:.2f}" if bare else "?"
        target = "yes" if measurement.meets_target else "**no**"
        stored = measurement.check.describe()
    baseline = report.baseline_of(measurement)
    versus = _versus(result.per_second, baseline.result.per_second) if baseline else "-"
    errors = ", ".join(result.problems) or "none"
    cells = [measurement.target, code, str(measurement.workers), runs, jobs]
    cells += [f"{result.p50_ms:.1f}", f"{result.p99_ms:.1f}", ratio, versus, target]
    cells += [errors, stored]
    return "| " + " | ".join(cells) + " |"


def _versus(current: float, baseline: float) -> str:
    comparison = Comparison("", baseline, current)
    text = comparison.ratio_text
    return f"**{text} < {BASELINE_FLOOR:.2f}**" if comparison.below_floor else text


def _import_section(report: Report) -> str:
    first = report.imports[0]
    lines = [
        f"Offline import (`cipulse ingest`, JSON Lines, {first.file_bytes / 1e6:.0f} MB, "
        f"generated in {first.generate_seconds:.1f}s, the same file for each code, "
        "fresh SQLite database each):",
        "",
        "| code | runs | jobs | import s | runs/s | jobs/s | wall s (with start-up) "
        "| wall runs/s | vs. baseline (runs/s; wall) "
        f"| ≥ {TARGET_IMPORT_RUNS_PER_SECOND:,} runs/s | stored |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    baseline = report.import_of("baseline")
    for result in report.imports:
        met = "yes" if result.runs_per_second >= TARGET_IMPORT_RUNS_PER_SECOND else "**no**"
        versus = "-"
        if baseline is not None and result.code == "current":
            versus = _versus(result.runs_per_second, baseline.runs_per_second)
            versus += "; " + _versus(result.wall_runs_per_second, baseline.wall_runs_per_second)
        lines.append(
            f"| {result.code} | {result.runs:,} | {result.jobs:,} | {result.import_seconds:.2f} "
            f"| {result.runs_per_second:,.0f} | {result.runs_per_second * JOBS_PER_RUN:,.0f} "
            f"| {result.wall_seconds:.2f} | {result.wall_runs_per_second:,.0f} | {versus} "
            f"| {met} | {_import_check(result)} |"
        )
    return "\n".join(lines)


def _baseline_section(report: Report) -> str:
    comparisons = report.comparisons
    title = (
        f"Current ÷ baseline ({report.baseline}), runs/s; the issue's floor is "
        f"{BASELINE_FLOOR:.2f}:"
    )
    if not comparisons:
        return f"{title} nothing measured for both."
    rows = [
        f"| {c.scenario} | {c.baseline:,.0f} | {c.current:,.0f} | {c.ratio_text} "
        f"| {'**no**' if c.below_floor else 'yes'} |"
        for c in comparisons
    ]
    below = [c.scenario for c in comparisons if c.below_floor]
    verdict = (
        f"**Below {BASELINE_FLOOR:.2f} x baseline: {'; '.join(below)}.**"
        if below
        else f"Every ratio is at least {BASELINE_FLOOR:.2f}."
    )
    header = [
        "| scenario | baseline runs/s | current runs/s | current ÷ baseline "
        f"| ≥ {BASELINE_FLOOR:.2f} |",
        "|---|---:|---:|---:|---|",
    ]
    return "\n".join([title, "", *header, *rows, "", verdict])


def _import_check(result: ImportResult) -> str:
    verdict = "ok" if result.consistent else "MISMATCH"
    return (
        f"{verdict}: {result.stored.runs} runs / {result.stored.jobs} jobs stored, "
        f"{result.failed} failed"
    )
