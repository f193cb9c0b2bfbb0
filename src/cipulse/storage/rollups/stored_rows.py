"""Stored run, job and repeat rows as named rows holding tallies.

A row of ``run_rollups`` or ``job_rollups`` (as ``select(*table.c)`` reads it) becomes a
named row whose tally holds the figures, read column by column by name; a row of
``rollup_repeats`` a ``StoredRepeat``."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any, NamedTuple

import orjson

from cipulse.domain.compute import LEVELS
from cipulse.domain.histogram import Histogram
from cipulse.domain.tallies import JobTally, RunTally
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


def counts_of(
    row: Sequence[Any], at: dict[str, int], prefix: str, names: Sequence[str]
) -> Counter[str]:
    counts: Counter[str] = Counter()
    for name in names:
        value = row[at[prefix + name]]
        if value:
            counts[name] = int(value)
    return counts


def _histogram(row: Sequence[Any], at: dict[str, int]) -> Histogram:
    histogram = Histogram()
    histogram.merge_encoded(
        orjson.loads(row[at["duration_histogram"]]),
        row[at["duration_count"]],
        row[at["duration_sum"]],
    )
    return histogram


def stored_run(row: Sequence[Any]) -> StoredRun:
    at = _RUN_AT
    tally = RunTally(
        by_status=counts_of(row, at, "n_", STATUS_NAMES),
        first_by_status=counts_of(row, at, "first_", FIRST_STATUSES),
        compute_seconds=row[at["compute_seconds"]],
        durations=_histogram(row, at),
        decided_runs=row[at["decided_runs"]],
        flaky_runs=row[at["flaky_runs"]],
        retry_compute_seconds=row[at["retry_compute_seconds"]],
        duration_top_bucket=row[at["duration_top_bucket"]],
    )
    return StoredRun(row[at["grain"]], row[at["period"]], str(row[at["pipeline_id"]]), tally)


def stored_job(row: Sequence[Any]) -> StoredJob:
    at = _JOB_AT
    level = row[at["level"]]
    tally = JobTally(
        name=row[at["name"]],
        by_status=counts_of(row, at, "n_", STATUS_NAMES),
        durations=_histogram(row, at),
        total_duration_seconds=row[at["total_duration_seconds"]],
        exclusive_seconds=row[at["exclusive_seconds"]],
        flaky_count=row[at["flaky_count"]],
        failures_passed_on_retry=row[at["failures_passed_on_retry"]],
        retry_compute_seconds=row[at["retry_compute_seconds"]],
        last_flaky_at_ms=row[at["last_flaky_at_ms"]],
        duration_top_bucket=row[at["duration_top_bucket"]],
        level=None if level is None else LEVELS[level],
    )
    return StoredJob(
        row[at["grain"]],
        row[at["period"]],
        str(row[at["pipeline_id"]]),
        row[at["definition_key"]],
        tally,
    )
