"""The rollup partitions an ingest write changes, and their marks.

What an ingest write changes in the analytics rollups, and the marks that say so
(``rollup_marks``): read before the plan is written (the stored days of the runs it changes),
marked after (with the partitions the derived retry rounds were and are in)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy.engine import Connection

from cipulse.domain.model import SourceFormat
from cipulse.domain.window import DAY_MS
from cipulse.domain.write_plan import Row, WritePlan
from cipulse.storage.rollups import marks as rollup_marks

Run = tuple[str, str, str]  # (org id, pipeline id, run key)


@dataclass(slots=True)
class Touched:
    """What a plan changes in the rollups: partitions (org id, pipeline id, day) to recompute,
    and new runs (org id, attempt id, pipeline id, day) whose figures are simply added."""

    partitions: set[tuple[str, str, int]] = field(default_factory=set)
    new_runs: set[tuple[str, str, str, int]] = field(default_factory=set)


def touched_partitions(conn: Connection, plan: WritePlan) -> Touched:
    """What the plan changes, read before it is written: the new and the stored day of each
    attempt it writes, and the days of the other stored attempts of their runs (and of the
    runs its job-tree nodes belong to); a run posted whole for the first time is a new run
    (``rollup_marks.NEW_RUNS``)."""
    touched = Touched()
    written = (*plan.new_attempts.values(), *plan.updated_attempts.values())
    span_attempts: dict[str, set[str]] = {}
    for span in plan.span_rows.values():
        span_attempts.setdefault(span[0], set()).add(span[2])
    stored = _stored_days(conn, written, span_attempts, touched)
    attempts_per_run = Counter((r["org_id"], r["pipeline_id"], r["run_key"]) for r in written)
    spanned = {attempt_id for ids in span_attempts.values() for attempt_id in ids}
    for row in written:
        if row["started_at_ms"] is None:
            continue
        day = row["started_at_ms"] // DAY_MS
        run = (row["org_id"], row["pipeline_id"], row["run_key"])
        if (
            row["id"] in plan.new_attempts
            and run not in stored
            and attempts_per_run[run] == 1
            and row["source_format"] == SourceFormat.RUNWATCH.value
            and row["id"] not in spanned
        ):
            touched.new_runs.add((row["org_id"], row["id"], row["pipeline_id"], day))
        else:
            touched.partitions.add((row["org_id"], row["pipeline_id"], day))
    return touched


def _stored_days(
    conn: Connection,
    written: Iterable[Row],
    span_attempts: dict[str, set[str]],
    touched: Touched,
) -> set[Run]:
    """Add the days of the stored attempts of the runs written (or given job-tree nodes) to
    ``touched``; returns those runs that have a stored attempt."""
    runs: dict[str, set[tuple[str, str]]] = {}
    for row in written:
        runs.setdefault(row["org_id"], set()).add((row["pipeline_id"], row["run_key"]))
    for org_id, attempt_ids in span_attempts.items():
        runs.setdefault(org_id, set()).update(
            rollup_marks.runs_of_attempts(conn, org_id, attempt_ids)
        )
    stored: set[Run] = set()
    for org_id, org_runs in runs.items():
        for (pipeline_id, run_key), days in rollup_marks.days_of_runs(
            conn, org_id, org_runs
        ).items():
            stored.add((org_id, pipeline_id, run_key))
            touched.partitions.update((org_id, pipeline_id, day) for day in days)
    return stored


def mark_touched(
    conn: Connection, touched: Touched, derived: set[tuple[str, str, int]], now: int
) -> None:
    """Mark what the plan changed, and the ``derived`` partitions (retry rounds)."""
    rollup_marks.mark_dirty(conn, touched.partitions | derived, now)
    rollup_marks.mark_new_runs(conn, touched.new_runs, now)
