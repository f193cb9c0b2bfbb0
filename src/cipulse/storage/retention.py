"""Purge batches: raw runs before the horizon; marks of purged days.

Retention: an organisation's raw runs of the days before a cut-off deleted in short
transactions, while their figures live on in the rollups.

The rules that keep the figures exact (docs/metrics.md, "After a purge"):

- The organisation's *horizon* (``organisations.purged_before_day``) is the first day whose
  raw runs are all kept. The rollup rows of earlier days are never recomputed again: their
  marks are dropped unrecomputed (``unfrozen``), since a refresh would recompute a purged day
  from the few rows left of it and erase its figures. The horizon only moves forward.
- Whole runs only: a run with an attempt on or after the horizon keeps every attempt
  (flakiness and "runs decided on several days" depend on a run's attempts). So does a run
  whose attempts a later recomputation of red periods still needs: per pipeline and branch,
  those that ended at or after the start of its red period still open at the horizon or
  ended after it (``keep_from``), since the refresher recomputes such a period from its
  start.
- Purging marks nothing, and leaves every rollup row (days, blocks, organisation rows, custom
  metrics, repeats, red periods) in place.

A batch reads the next attempts before the cut-off (by start, or by arrival for the few that
never started) with their runs' other attempts, and deletes the jobs and attempts of the
runs that may go, in one short write transaction; on PostgreSQL it first takes the locks
ingest takes for those runs. Job nodes whose run never arrived (detached Trunk nodes, see
``schema.jobs``) go when none of them was written since the cut-off, and webhook deliveries
received before it (they only recognise redeliveries) too."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cipulse.domain import ids
from cipulse.storage import pull_request_figures
from cipulse.storage.analytics_store import rows_of_runs
from cipulse.storage.database import Database
from cipulse.storage.dialect import bulk_delete, lock_natural_keys
from cipulse.storage.rollups.marks import FIGURES, NEW_RUNS, RED_PERIODS, Marked
from cipulse.storage.schema import (
    jobs,
    organisations,
    pipelines,
    red_periods,
    rollup_dirty,
    run_attempts,
    webhook_deliveries,
)

a, j, o, p = run_attempts, jobs, organisations, pipelines

#: Attempts read per batch (with their runs' other attempts, and the jobs of those that go).
ATTEMPTS_PER_BATCH = 500
#: Attempt ids of job nodes read per batch when looking for nodes whose run never arrived.
NODE_GROUPS_PER_BATCH = 1000
#: Webhook deliveries deleted per batch.
DELIVERIES_PER_BATCH = 1000

#: Below every id: where the scans by id start.
FIRST_ID = "00000000-0000-0000-0000-000000000000"

#: Where a batch of attempts stopped: (started_at_ms, id) of the last attempt read, or, for
#: the attempts that never started, (None, id).
Cursor = tuple[int | None, str]


@contextmanager
def purger_lock(database: Database) -> Iterator[bool]:
    """Become the one purger of the database, across threads, processes and (PostgreSQL)
    servers, or not; yields whether it did (``Database.exclusive``)."""
    with database.exclusive("retention", ids.purger_lock_id()) as held:
        yield held


# --- The horizon ---------------------------------------------------------------------------


def horizon(conn: Connection, org_id: str) -> int | None:
    """The organisation's first day whose runs are all kept (days since the epoch)."""
    return conn.execute(
        sa.select(o.c.purged_before_day).where(o.c.id == org_id)
    ).scalar_one_or_none()


def raise_horizon(conn: Connection, org_id: str, day: int) -> int:
    """Move the horizon to ``day`` unless it is past it already; returns the horizon."""
    current = horizon(conn, org_id)
    if current is not None and current >= day:
        return current
    conn.execute(sa.update(o).where(o.c.id == org_id).values(purged_before_day=day))
    return day


def unfrozen(database: Database, org_id: str, marks: Sequence[Marked]) -> tuple[list[Marked], int]:
    """The marks (of one organisation) a refresh may act on, and how many it may not: marks
    of figures of days before the horizon, which are removed unrecomputed (the day's runs
    were purged; its stored figures are final)."""
    with database.read() as conn:
        first_kept = horizon(conn, org_id)
    if first_kept is None:
        return list(marks), 0
    frozen = {m for m in marks if m.kind in (FIGURES, NEW_RUNS) and m.day < first_kept}
    if not frozen:
        return list(marks), 0
    with database.write() as conn:
        bulk_delete(
            conn,
            rollup_dirty,
            ["org_id", "kind", "pipeline_id", "day"],
            [(m.org_id, m.kind, m.pipeline_id, m.day) for m in sorted(frozen)],
        )
    return [m for m in marks if m not in frozen], len(frozen)


def first_marked_day(conn: Connection, org_id: str, before_day: int) -> int | None:
    """The earliest day before ``before_day`` with marks of figures or red periods: a purge
    keeps the runs from there on (a refresh still needs them)."""
    d = rollup_dirty
    return conn.execute(
        sa.select(sa.func.min(d.c.day)).where(
            d.c.org_id == org_id,
            d.c.day < before_day,
            d.c.kind.in_((FIGURES, RED_PERIODS, NEW_RUNS)),
        )
    ).scalar_one_or_none()


#: A pipeline and a branch (None: runs without one).
Lane = tuple[str, str | None]


def keep_from(conn: Connection, org_id: str, horizon_ms: int) -> dict[Lane, int]:
    """Per pipeline and branch with a red period that started before ``horizon_ms`` and is
    open or ended at or after it, that period's start: its outcomes from there on are kept."""
    rp = red_periods
    query = (
        sa.select(rp.c.pipeline_id, rp.c.branch, sa.func.min(rp.c.started_at_ms))
        .where(
            rp.c.org_id == org_id,
            rp.c.started_at_ms < horizon_ms,
            sa.or_(rp.c.ended_at_ms.is_(None), rp.c.ended_at_ms >= horizon_ms),
        )
        .group_by(rp.c.pipeline_id, rp.c.branch)
    )
    return {(str(p), branch): int(start) for p, branch, start in conn.execute(query)}


# --- Runs ----------------------------------------------------------------------------------


@dataclass(slots=True)
class Removed:
    """What a batch removed (or, in a dry run, would remove)."""

    runs: int = 0
    attempts: int = 0
    jobs: int = 0
    kept_runs: int = 0  # runs read but kept: an attempt on or after the cut-off

    def add(self, other: Removed) -> None:
        self.runs += other.runs
        self.attempts += other.attempts
        self.jobs += other.jobs
        self.kept_runs += other.kept_runs


@dataclass(frozen=True, slots=True)
class Limits:
    """Where a purge of one organisation stops: before ``horizon_ms``, and per pipeline and
    branch before its own earlier limit (``keep_from``)."""

    org_id: str
    horizon_ms: int
    lanes: dict[Lane, int] = field(default_factory=dict)

    def of(self, pipeline_id: str, branch: str | None) -> int:
        return min(self.horizon_ms, self.lanes.get((pipeline_id, branch), self.horizon_ms))


class Candidate(NamedTuple):
    """An attempt before the horizon, and its run."""

    started_at_ms: int | None
    id: str
    pipeline_id: str
    run_key: str


class AttemptTimes(NamedTuple):
    """What decides whether an attempt lies before a cut-off."""

    pipeline_id: str
    run_key: str
    id: str
    started_at_ms: int | None
    completed_at_ms: int | None
    received_at_ms: int
    branch: str | None

    def before(self, limit: int) -> bool:
        """Started (or, never started, received) and completed, if it did, before ``limit``."""
        start = self.started_at_ms if self.started_at_ms is not None else self.received_at_ms
        return start < limit and (self.completed_at_ms is None or self.completed_at_ms < limit)


def next_attempts(conn: Connection, limits: Limits, after: Cursor | None) -> list[Candidate]:
    """The next attempts before the horizon, after ``after``: by start, then (start None)
    those that never started, by arrival."""
    columns = (a.c.started_at_ms, a.c.id, a.c.pipeline_id, a.c.run_key)
    if after is None or after[0] is not None:
        query = sa.select(*columns).where(
            a.c.org_id == limits.org_id, a.c.started_at_ms < limits.horizon_ms
        )
        if after is not None:
            started, attempt_id = after
            query = query.where(
                sa.or_(
                    a.c.started_at_ms > started,
                    sa.and_(a.c.started_at_ms == started, a.c.id > attempt_id),
                )
            )
        query = query.order_by(a.c.started_at_ms, a.c.id).limit(ATTEMPTS_PER_BATCH)
        found = [Candidate(row[0], str(row[1]), str(row[2]), row[3]) for row in conn.execute(query)]
        if found:
            return found
        after = None, FIRST_ID
    query = (
        sa.select(*columns)
        .where(
            a.c.org_id == limits.org_id,
            a.c.started_at_ms.is_(None),
            a.c.received_at_ms < limits.horizon_ms,
            a.c.id > after[1],
        )
        .order_by(a.c.id)
        .limit(ATTEMPTS_PER_BATCH)
    )
    return [Candidate(row[0], str(row[1]), str(row[2]), row[3]) for row in conn.execute(query)]


def _whole_runs(
    conn: Connection, limits: Limits, runs: set[tuple[str, str]]
) -> tuple[list[str], int]:
    """The attempt ids of the runs all of whose attempts lie before their limit, and how
    many runs are kept."""
    by_run: dict[tuple[str, str], list[AttemptTimes]] = {}
    columns = ", ".join(AttemptTimes._fields)
    for row in rows_of_runs(conn, columns, limits.org_id, runs):
        attempt = AttemptTimes(str(row[0]), row[1], str(row[2]), *row[3:])
        by_run.setdefault((attempt.pipeline_id, attempt.run_key), []).append(attempt)
    attempt_ids: list[str] = []
    kept = 0
    for _, attempts in sorted(by_run.items()):
        if all(a.before(limits.of(a.pipeline_id, a.branch)) for a in attempts):
            attempt_ids += [attempt.id for attempt in attempts]
        else:
            kept += 1
    return attempt_ids, kept


def _lock_runs(conn: Connection, org_id: str, runs: set[tuple[str, str]]) -> None:
    """Take the locks ingest takes to write these runs (PostgreSQL): by pipeline, and by
    repository (Trunk chains and webhook runs are keyed by repository)."""
    if conn.dialect.name != "postgresql" or not runs:
        return
    pipeline_ids = sorted({pipeline_id for pipeline_id, _ in runs})
    repository_of = dict(
        conn.execute(
            sa.select(p.c.id, p.c.repository_id).where(
                p.c.org_id == org_id, p.c.id.in_(pipeline_ids)
            )
        ).all()
    )
    lock_ids = [ids.run_lock_id(pipeline_id, key) for pipeline_id, key in runs]
    lock_ids += [
        ids.run_lock_id(str(repository_of[pipeline_id]), key)
        for pipeline_id, key in runs
        if pipeline_id in repository_of
    ]
    lock_natural_keys(conn, lock_ids)


def purge_batch(
    conn: Connection, limits: Limits, after: Cursor | None, *, dry_run: bool
) -> tuple[Removed, Cursor | None]:
    """One batch: the next attempts before the horizon, and the runs among theirs that lie
    wholly before their limit, deleted with their jobs (unless ``dry_run``: counted). Returns
    what went and where to go on from (None: done)."""
    candidates = next_attempts(conn, limits, after)
    if not candidates:
        return Removed(), None
    runs = {(candidate.pipeline_id, candidate.run_key) for candidate in candidates}
    if not dry_run:
        _lock_runs(conn, limits.org_id, runs)
    attempt_ids, kept = _whole_runs(conn, limits, runs)
    removed = Removed(kept_runs=kept, attempts=len(attempt_ids))
    removed.runs = len(runs) - kept
    removed.jobs = delete_jobs_of(conn, limits.org_id, attempt_ids, dry_run=dry_run)
    if not dry_run:
        delete_attempts(conn, limits.org_id, attempt_ids)
    last = candidates[-1]
    return removed, (last.started_at_ms, last.id)


def delete_jobs_of(
    conn: Connection, org_id: str, attempt_ids: Sequence[str], *, dry_run: bool = False
) -> int:
    """Delete (or count) the jobs of these attempts: by the primary key's prefix."""
    removed = 0
    ordered = sorted(set(attempt_ids))
    for start in range(0, len(ordered), 500):
        chunk = ordered[start : start + 500]
        where = (j.c.org_id == org_id, j.c.attempt_id.in_(chunk))
        if dry_run:
            removed += conn.execute(sa.select(sa.func.count()).where(*where)).scalar_one()
        else:
            removed += conn.execute(sa.delete(j).where(*where)).rowcount
    return removed


def delete_attempts(conn: Connection, org_id: str, attempt_ids: Sequence[str]) -> int:
    """Delete the attempts, and recompute the pull requests they named without them."""
    removed = 0
    pull_requests = pull_request_figures.keys_of_attempts(conn, org_id, attempt_ids)
    ordered = sorted(set(attempt_ids))
    for start in range(0, len(ordered), 500):
        chunk = ordered[start : start + 500]
        removed += conn.execute(
            sa.delete(a).where(a.c.org_id == org_id, a.c.id.in_(chunk))
        ).rowcount
    pull_request_figures.recompute(conn, org_id, pull_requests)
    return removed


# --- Job nodes whose run never arrived -----------------------------------------------------


def detached_batch(
    conn: Connection, org_id: str, before_ms: int, after: str, *, dry_run: bool
) -> tuple[int, str | None]:
    """Among the next ``NODE_GROUPS_PER_BATCH`` attempt ids of job nodes after ``after``,
    the nodes of attempts that were never stored and none of whose nodes was written since
    ``before_ms``: deleted (or counted). Returns how many, and where to go on from."""
    query = (
        sa.select(j.c.attempt_id, sa.func.max(j.c.updated_at_ms), sa.func.count())
        .where(j.c.org_id == org_id, j.c.attempt_id > after)
        .group_by(j.c.attempt_id)
        .order_by(j.c.attempt_id)
        .limit(NODE_GROUPS_PER_BATCH)
    )
    groups = conn.execute(query).all()
    if not groups:
        return 0, None
    old = {str(attempt_id): int(n) for attempt_id, last, n in groups if last < before_ms}
    if old:
        stored = conn.execute(
            sa.select(a.c.id).where(a.c.org_id == org_id, a.c.id.in_(sorted(old)))
        ).scalars()
        for attempt_id in stored:
            old.pop(str(attempt_id), None)
    removed = sum(old.values())
    if old and not dry_run:
        removed = delete_jobs_of(conn, org_id, sorted(old))
    return removed, str(groups[-1][0])


# --- Webhook deliveries --------------------------------------------------------------------


def deliveries_batch(conn: Connection, org_id: str, before_ms: int, *, dry_run: bool) -> int:
    """Delete (or, in a dry run, count all) the deliveries received before ``before_ms``,
    at most ``DELIVERIES_PER_BATCH`` at a time: returns how many."""
    d = webhook_deliveries
    where = (d.c.org_id == org_id, d.c.received_at_ms < before_ms)
    if dry_run:
        return int(conn.execute(sa.select(sa.func.count()).where(*where)).scalar_one())
    keys = conn.execute(
        sa.select(d.c.org_id, d.c.provider, d.c.delivery_id)
        .where(*where)
        .limit(DELIVERIES_PER_BATCH)
    ).all()
    bulk_delete(conn, d, ["org_id", "provider", "delivery_id"], [tuple(k) for k in keys])
    return len(keys)
