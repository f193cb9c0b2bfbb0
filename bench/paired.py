"""The baseline beside the current code on one seeded database (bench.read, bench.pages).

Both servers run at once on the same database, read only: the rollups are refreshed to
completion first, and both servers start with their refresher off
(``CIPULSE_ROLLUP_INTERVAL_SECONDS=0``), so neither rewrites what the other reads. Each case
alternates between them request by request (baseline first in even rounds, current first in
odd ones), so a change in the machine's load hits both alike. The report gives per case both
codes' p50 and p95 and current ÷ baseline, flagged above ``LIMIT`` (issue 14: every case
within 10 %)."""

from __future__ import annotations

import math
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

from bench import databases
from bench.databases import BenchDatabase
from bench.servers import (
    BaselineUnavailable,
    Code,
    Server,
    checked_out,
    cipulse_server_command,
    free_port,
    running,
)

LIMIT = 1.10  # current ÷ baseline above this is flagged: the "within 10 %"

T = TypeVar("T")


def nearest_rank(values: Sequence[float], percentile: float) -> float | None:
    """The value at rank ⌈p/100·n⌉ (1-based) of the sorted values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(1, math.ceil(percentile / 100 * len(ordered))) - 1]


class ProbeFailed(RuntimeError):
    """One request did not answer as the benchmark needs (its status and an excerpt)."""


@dataclass(frozen=True, slots=True)
class Outcome(Generic[T]):
    """What one code's timed requests of a case gave, or why it stopped."""

    values: tuple[T, ...] = ()
    failure: str | None = None


def alternate(probes: Sequence[Callable[[], T]], warmup: int, repeat: int) -> list[Outcome[T]]:
    """``warmup`` then ``repeat`` rounds; each round calls every probe once, in an order
    rotated by one each round. A probe that raises ProbeFailed is not called again."""
    values: list[list[T]] = [[] for _ in probes]
    failures: list[str | None] = [None for _ in probes]
    for number in range(warmup + repeat):
        shift = number % len(probes) if probes else 0
        for index in [*range(shift, len(probes)), *range(shift)]:
            if failures[index] is not None:
                continue
            try:
                value = probes[index]()
            except ProbeFailed as exc:
                failures[index] = str(exc)
                continue
            if number >= warmup:
                values[index].append(value)
    return [Outcome(tuple(v), f) for v, f in zip(values, failures, strict=True)]


@dataclass(frozen=True, slots=True)
class Comparison:
    """One case measured with both codes (milliseconds, the client's wait)."""

    cells: tuple[str, ...]  # what names the case in the report
    baseline: tuple[float, ...]
    current: tuple[float, ...]
    baseline_failure: str | None = None
    current_failure: str | None = None

    def ratio(self, percentile: float) -> float | None:
        ours = nearest_rank(self.current, percentile)
        theirs = nearest_rank(self.baseline, percentile)
        if ours is None or not theirs or self.baseline_failure or self.current_failure:
            return None
        return ours / theirs

    @property
    def slower(self) -> bool:
        """Current ÷ baseline p50 above ``LIMIT`` as the report shows it (two decimals)."""
        ratio = self.ratio(50)
        return ratio is not None and round(ratio, 2) > LIMIT


def comparison_table(headers: Sequence[str], comparisons: Sequence[Comparison]) -> list[str]:
    """Markdown lines: per case both codes' p50 and p95, current ÷ baseline, and a summary."""
    columns = [*headers, "baseline p50 ms", "baseline p95 ms", "current p50 ms"]
    columns += ["current p95 ms", "current ÷ baseline p50", "p95", f"within {LIMIT - 1:.0%}?"]
    lines = [
        "| " + " | ".join(columns) + " |",
        "|" + "---|" * len(headers) + "---:|" * 6 + "---|",
    ]
    lines += [_comparison_row(comparison) for comparison in comparisons]
    return [*lines, "", comparison_summary(comparisons)]


def _comparison_row(comparison: Comparison) -> str:
    baseline = _percentiles(comparison.baseline, comparison.baseline_failure, "skipped")
    current = _percentiles(comparison.current, comparison.current_failure, "FAILED")
    ratios = [comparison.ratio(50), comparison.ratio(95)]
    shown = [f"{ratio:.2f}" if ratio is not None else "-" for ratio in ratios]
    if comparison.current_failure:
        verdict = "**failed**"
    elif comparison.baseline_failure:
        verdict = "skipped"
    elif comparison.slower:
        shown[0] = f"**{shown[0]}**"
        verdict = f"**no: > {LIMIT:.2f}**"
    else:
        verdict = "yes"
    return "| " + " | ".join([*comparison.cells, *baseline, *current, *shown, verdict]) + " |"


def _percentiles(values: tuple[float, ...], failure: str | None, word: str) -> list[str]:
    if failure is not None:
        return [f"{word}: {failure.replace('|', '/')}", "-"]
    return [f"{nearest_rank(values, percentile) or 0:.1f}" for percentile in (50, 95)]


def comparison_summary(comparisons: Sequence[Comparison]) -> str:
    """How many cases are within ``LIMIT``, which are slower, which were skipped."""
    compared = [c for c in comparisons if c.ratio(50) is not None]
    slower = [c for c in compared if c.slower]
    skipped = [c for c in comparisons if c.baseline_failure and not c.current_failure]
    text = (
        f"{len(compared) - len(slower)} of {len(compared)} compared cases within "
        f"{LIMIT - 1:.0%} of the baseline (current p50 ÷ baseline p50 ≤ {LIMIT:.2f})"
    )
    if compared:
        logs = [math.log(ratio) for c in compared if (ratio := c.ratio(50))]
        text += f"; geometric mean of the ratios {math.exp(sum(logs) / len(logs)):.2f}"
    if slower:
        text += "; slower: " + "; ".join(f"{' '.join(c.cells)} {c.ratio(50):.2f}" for c in slower)
    if skipped:
        text += f"; {len(skipped)} skipped (the baseline could not serve them)"
    return text + "."


@contextmanager
def baseline_code(revision: str | None) -> Iterator[Code | str]:
    """The baseline's git worktree (removed on exit) as a Code, or why there is none."""
    if revision is None:
        yield "none (--baseline REV compares with another revision)"
        return
    with tempfile.TemporaryDirectory(prefix="cipulse-bench-") as parent, ExitStack() as stack:
        found: Code | str
        try:
            found = stack.enter_context(checked_out(revision, Path(parent)))
        except BaselineUnavailable as exc:
            found = f"skipped: {exc}"
        print(f"baseline: {describe(found)}", flush=True)
        yield found


def describe(baseline: Code | str) -> str:
    return baseline.description if isinstance(baseline, Code) else baseline


@contextmanager
def serving(
    database: BenchDatabase,
    baseline: Code | str,
    log: Callable[[str], Path],
    baseline_database: BenchDatabase | None = None,
) -> Iterator[tuple[Server, Server | str]]:
    """``cipulse serve --workers 1`` of the current code on ``database`` and, when
    ``baseline`` is a Code, one of it beside on ``baseline_database`` (default: the same
    database; else, or when it does not start: why not); both with their refresher off.
    ``log(label)`` names each server's log file."""
    with ExitStack() as stack:
        current = stack.enter_context(_server(database, None, log))
        other: Server | str
        if isinstance(baseline, str):
            other = baseline
        else:
            try:
                other = stack.enter_context(_server(baseline_database or database, baseline, log))
            except RuntimeError as exc:
                other = f"skipped: the baseline server did not start: {exc}"
                print(f"{database.kind}: baseline {other}", flush=True)
        yield current, other


def _server(
    database: BenchDatabase, code: Code | None, log: Callable[[str], Path]
) -> AbstractContextManager[Server]:
    label = code.label if code is not None else "current"
    port = free_port()
    environment = {
        **databases.environment(database, code),
        "CIPULSE_ROLLUP_INTERVAL_SECONDS": "0",
    }
    command = cipulse_server_command(port, workers=1)
    return running(f"cipulse {label} ({database.kind})", command, port, environment, log(label))
