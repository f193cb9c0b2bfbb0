"""Stored run, job and repeat rows as named rows holding tallies.

A row of ``run_rollups`` or ``job_rollups`` (as ``select(*table.c)`` reads it) becomes a
named row whose tally holds the figures, read column by column by name; a row of
``rollup_repeats`` a ``StoredRepeat``."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from operator import itemgetter
from typing import Any, NamedTuple

import orjson

from cipulse.domain.compute import LEVELS
from cipulse.domain.histogram import Histogram
from cipulse.domain.tallies import FAILURE_CLASSES, JobTally, RunTally
from cipulse.storage.dialect import column_names
from cipulse.storage.rollups.keys import FIRST_STATUSES
from cipulse.storage.schema import STATUS_NAMES, job_rollups, run_rollups

#: Where each column of the rollup tables is in a row of ``select(*table.c)``.
_RUN_AT = {name: index for index, name in enumerate(column_names(run_rollups))}
_JOB_AT = {name: index for index, name in enumerate(column_names(job_rollups))}


class StoredRun(NamedTuple):
    """A ``run_rollups`` row: its period, its pipeline (or ``ORG``) and its tally."""

    grain: int
    period: int
    pipeline_id: str
    tally: RunTally


class StoredJob(NamedTuple):
    """A ``job_rollups`` row: its period, its job (pipeline, definition key) and tally."""

    grain: int
    period: int
    pipeline_id: str
    definition_key: str
    tally: JobTally


class StoredRepeat(NamedTuple):
    """A ``rollup_repeats`` row: a run decided in the period that had a decided attempt
    started earlier, at ``previous_started_at_ms``."""

    pipeline_id: str
    period: int
    previous_started_at_ms: int


def _getter(at: dict[str, int], names: Sequence[str]) -> Callable[[Sequence[Any]], tuple[Any, ...]]:
    """The named columns of a row, in one call (read by name, without a lookup per row)."""
    return itemgetter(*(at[name] for name in names))


def counter_of(values: Sequence[Any], names: Sequence[str]) -> Counter[str]:
    """Counts by name, of the non-zero values (one per name, in order)."""
    counts: Counter[str] = Counter()
    # dict.update, not Counter.update (which adds) nor a loop of item sets: 40 % faster,
    # and it runs once per status group of every stored row read.
    dict.update(counts, {n: int(v) for n, v in zip(names, values, strict=True) if v})
    return counts


def _histogram(encoded: str, count: int, total: float) -> Histogram:
    histogram = Histogram()
    histogram.merge_encoded(orjson.loads(encoded), count, total)
    return histogram


def encoded_metrics(metrics: dict[str, Histogram]) -> str:
    """A tally's metric aggregates as ``job_rollups.metrics`` holds them: per key, the count
    ("n") and sum ("s") of its values and their histogram (``Histogram.encode``)."""
    return orjson.dumps(
        {key: {"n": h.count, "s": h.total, **h.encode()} for key, h in sorted(metrics.items())}
    ).decode()


def decoded_metrics(encoded: str) -> dict[str, Histogram]:
    """``encoded_metrics``' text read back: per key, a histogram."""
    found: dict[str, Histogram] = {}
    for key, stored in orjson.loads(encoded).items():
        histogram = found[key] = Histogram()
        histogram.merge_encoded(stored, stored["n"], stored["s"])
    return found


_RUN_STATUSES = _getter(_RUN_AT, [f"n_{s}" for s in STATUS_NAMES])
_RUN_CLASSES = _getter(_RUN_AT, [f"failed_{c}" for c in FAILURE_CLASSES])
_JOB_CLASSES = _getter(_JOB_AT, [f"failed_{c}" for c in FAILURE_CLASSES])
_RUN_FIRST = _getter(_RUN_AT, [f"first_{s}" for s in FIRST_STATUSES])
_RUN_FIELDS = _getter(
    _RUN_AT,
    [
        "grain",
        "period",
        "pipeline_id",
        "compute_seconds",
        "duration_histogram",
        "duration_count",
        "duration_sum",
        "decided_runs",
        "flaky_runs",
        "retry_compute_seconds",
        "duration_top_bucket",
    ],
)


def stored_run(row: Sequence[Any]) -> StoredRun:
    """A ``run_rollups`` row (as ``select(*run_rollups.c)`` reads it), named."""
    (grain, period, pipeline_id, compute, encoded, count, total, decided, flaky, retry, top) = (
        _RUN_FIELDS(row)
    )
    tally = RunTally(
        by_status=counter_of(_RUN_STATUSES(row), STATUS_NAMES),
        first_by_status=counter_of(_RUN_FIRST(row), FIRST_STATUSES),
        compute_seconds=compute,
        durations=_histogram(encoded, count, total),
        decided_runs=decided,
        flaky_runs=flaky,
        retry_compute_seconds=retry,
        duration_top_bucket=top,
        failed_by_class=counter_of(_RUN_CLASSES(row), FAILURE_CLASSES),
    )
    return StoredRun(grain, period, str(pipeline_id), tally)


_JOB_STATUSES = _getter(_JOB_AT, [f"n_{s}" for s in STATUS_NAMES])
_JOB_FIELDS = _getter(
    _JOB_AT,
    [
        "grain",
        "period",
        "pipeline_id",
        "definition_key",
        "name",
        "duration_histogram",
        "duration_count",
        "duration_sum",
        "total_duration_seconds",
        "exclusive_seconds",
        "flaky_count",
        "failures_passed_on_retry",
        "retry_compute_seconds",
        "last_flaky_at_ms",
        "duration_top_bucket",
        "level",
        "metrics",
    ],
)


def stored_job(row: Sequence[Any]) -> StoredJob:
    """A ``job_rollups`` row (as ``select(*job_rollups.c)`` reads it), named."""
    (
        grain,
        period,
        pipeline_id,
        definition_key,
        name,
        encoded,
        count,
        total,
        total_duration,
        exclusive,
        flaky,
        passed_on_retry,
        retry,
        last_flaky,
        top,
        level,
        metrics,
    ) = _JOB_FIELDS(row)
    tally = JobTally(
        name=name,
        by_status=counter_of(_JOB_STATUSES(row), STATUS_NAMES),
        durations=_histogram(encoded, count, total),
        total_duration_seconds=total_duration,
        exclusive_seconds=exclusive,
        flaky_count=flaky,
        failures_passed_on_retry=passed_on_retry,
        retry_compute_seconds=retry,
        last_flaky_at_ms=last_flaky,
        duration_top_bucket=top,
        level=None if level is None else LEVELS[level],
        metrics=decoded_metrics(metrics),
        failed_by_class=counter_of(_JOB_CLASSES(row), FAILURE_CLASSES),
    )
    return StoredJob(grain, period, str(pipeline_id), definition_key, tally)
