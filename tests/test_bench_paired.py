"""The baseline comparison of bench.read and bench.pages: alternation, ratios, the table."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from bench.migrated_copy import numbers_in
from bench.paired import (
    Comparison,
    ProbeFailed,
    alternate,
    comparison_summary,
    comparison_table,
    nearest_rank,
)
from bench.read import parse_arguments


def _recording(name: str, calls: list[str], fail_at: int | None = None) -> Callable[[], int]:
    def probe() -> int:
        calls.append(name)
        if fail_at is not None and len([c for c in calls if c == name]) == fail_at:
            raise ProbeFailed(f"{name} answered 404")
        return len(calls)

    return probe


def test_rounds_alternate_which_code_goes_first() -> None:
    calls: list[str] = []
    baseline, current = alternate([_recording("b", calls), _recording("c", calls)], 1, 3)
    assert calls == ["b", "c", "c", "b", "b", "c", "c", "b"]
    assert baseline.values == (4, 5, 8)  # the warm-up round (1 and 2) is not kept
    assert current.values == (3, 6, 7)
    assert baseline.failure is None and current.failure is None


def test_a_failing_probe_stops_while_the_other_goes_on() -> None:
    calls: list[str] = []
    baseline, current = alternate([_recording("b", calls, fail_at=2), _recording("c", calls)], 0, 3)
    assert calls == ["b", "c", "c", "b", "c"]
    assert baseline == type(baseline)((1,), "b answered 404")
    assert current.values == (2, 3, 5)


def test_nearest_rank() -> None:
    assert nearest_rank((), 50) is None
    assert nearest_rank((5.0, 1.0, 3.0, 2.0), 50) == 2.0
    assert nearest_rank(tuple(float(v) for v in range(1, 21)), 95) == 19.0


def test_ratio_is_current_over_baseline_and_flags_above_ten_percent() -> None:
    within = Comparison(("a",), (10.0, 20.0, 30.0), (11.0, 22.0, 33.0))
    assert within.ratio(50) == pytest.approx(1.1)
    assert not within.slower  # 1.10 is within
    slower = Comparison(("b",), (10.0,), (11.2,))
    assert slower.slower
    faster = Comparison(("c",), (10.0,), (5.0,))
    assert faster.ratio(95) == pytest.approx(0.5) and not faster.slower


def test_a_case_the_baseline_cannot_serve_is_skipped_not_compared() -> None:
    skipped = Comparison(("new",), (), (12.0,), baseline_failure="HTTP 404: Not Found")
    assert skipped.ratio(50) is None and not skipped.slower
    table = comparison_table(("endpoint",), [skipped])
    assert table[2] == (
        "| new | skipped: HTTP 404: Not Found | - | 12.0 | 12.0 | - | - | skipped |"
    )
    assert table[-1] == (
        "0 of 0 compared cases within 10% of the baseline (current p50 ÷ baseline p50 ≤ 1.10); "
        "1 skipped (the baseline could not serve them)."
    )


def test_table_rows_and_summary() -> None:
    comparisons = [
        Comparison(("sqlite", "summary"), (10.0, 12.0), (10.0, 14.0)),
        Comparison(("sqlite", "jobs"), (10.0, 10.0), (20.0, 40.0)),
    ]
    table = comparison_table(("database", "endpoint"), comparisons)
    assert table[0] == (
        "| database | endpoint | baseline p50 ms | baseline p95 ms | current p50 ms | "
        "current p95 ms | current ÷ baseline p50 | p95 | within 10%? |"
    )
    assert table[1] == "|---|---|---:|---:|---:|---:|---:|---:|---|"
    assert table[2] == "| sqlite | summary | 10.0 | 12.0 | 10.0 | 14.0 | 1.00 | 1.17 | yes |"
    assert table[3] == (
        "| sqlite | jobs | 10.0 | 10.0 | 20.0 | 40.0 | **2.00** | 4.00 | **no: > 1.10** |"
    )
    assert comparison_summary(comparisons) == (
        "1 of 2 compared cases within 10% of the baseline (current p50 ÷ baseline p50 ≤ 1.10); "
        "geometric mean of the ratios 1.41; slower: sqlite jobs 2.00."
    )


def test_baseline_options() -> None:
    assert parse_arguments([]).baseline is None
    assert parse_arguments(["--baseline", "main"]).baseline == "main"
    assert parse_arguments(["--no-baseline"]).baseline is None
    with pytest.raises(SystemExit):
        parse_arguments(["--baseline", "main", "--no-baseline"])


def test_migrated_copy_needs_a_baseline() -> None:
    assert parse_arguments(["--baseline", "main", "--migrated-copy"]).migrated_copy
    assert not parse_arguments(["--baseline", "main"]).migrated_copy
    with pytest.raises(SystemExit):
        parse_arguments(["--migrated-copy"])


def test_same_data_compares_every_number_and_names_runs_counts() -> None:
    answer = {"runs": 7, "success_rate": 0.5, "window": {"partial": False}, "p": [1, None]}
    answer["previous"] = {"runs": 3, "name": "x"}
    assert dict(numbers_in(answer, "summary")) == {
        "summary:runs": 7,
        "summary.success_rate": 0.5,
        "summary.p[0]": 1,
        "summary.previous:runs": 3,
    }
