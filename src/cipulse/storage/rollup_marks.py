"""Marks: which stored rollup figures are stale, and the partitions the refresher failed to
refresh and set aside.

A mark is a row of ``rollup_dirty`` naming a *partition* (a pipeline and a UTC day) and a
*kind*, what of it is stale:

- ``FIGURES``: the pipeline's figures of the day (its day, hour and block rows). Ingest marks
  these in its own transaction, for every partition a write may change (a partition's figures
  depend on the other attempts of its runs too: the old and new day of an attempt whose start
  moved, and its siblings').
- ``ORGANISATION_DAY``: the organisation-wide rows of the day (pipeline id ``ORG``), which
  add up its pipelines' rows; the refresher marks them when it stores a pipeline's day.
- ``RED_PERIODS``: the pipeline's red periods from the day on; marked with the figures, so
  a pipeline's periods are recomputed once however many of its days changed.

Reads treat a marked partition as stale and compute it from the raw rows, so answers are
exact at all times. A partition has as many marks as writes that changed it; the refresher
removes exactly the marks it saw, so a mark added while it worked stays for the next round.

A partition the refresher fails to store is *set aside*: a row of ``rollup_failures`` with
the error and a retry time that doubles with each failure (one minute to an hour). Claims
skip it until then, so one bad partition never blocks the others."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cipulse.domain.window import DAY_MS
from cipulse.storage.analytics_store import rows_of_runs
from cipulse.storage.dialect import bulk_delete, bulk_insert, insert_for
from cipulse.storage.rollup_store import ORG
from cipulse.storage.schema import rollup_dirty, rollup_failures, run_attempts

FIGURES = 0
ORGANISATION_DAY = 1
RED_PERIODS = 2
KIND_NAMES = {FIGURES: "figures", ORGANISATION_DAY: "organisation day", RED_PERIODS: "red periods"}

#: The longest a partition that ingest keeps marking waits for its refresh (reads are exact
#: meanwhile: they compute it from the raw rows).
MAX_DEFERRAL_MS = 60_000
#: A failing partition is retried after a minute, then after twice as long each time, at
#: most after an hour.
FIRST_RETRY_MS = 60_000
LAST_RETRY_MS = 3_600_000

a = run_attempts
d = rollup_dirty
f = rollup_failures
Partition = tuple[str, int]  # (pipeline id, day)


@dataclass(frozen=True, slots=True, order=True)
class Marked:
    """A partition with marks of one kind."""

    org_id: str
    kind: int
    pipeline_id: str
    day: int

    def describe(self) -> str:
        return f"{KIND_NAMES[self.kind]} of pipeline {self.pipeline_id}, day {day_text(self.day)}"


def day_text(day: int) -> str:
    """A day since the epoch as YYYY-MM-DD."""
    return datetime.fromtimestamp(day * DAY_MS / 1000, UTC).strftime("%Y-%m-%d")


# --- Marking -------------------------------------------------------------------------------


def mark_dirty(
    conn: Connection, marks: Iterable[tuple[str, str, int]], now_ms: int, kind: int = FIGURES
) -> None:
    """Mark partitions (org id, pipeline id, day) stale."""
    rows = [(o, str(uuid.uuid4()), p, day, now_ms, kind) for o, p, day in set(marks)]
    bulk_insert(conn, rollup_dirty, sorted(rows))


def partitions_of_runs(
    conn: Connection, org_id: str, runs: Iterable[tuple[str, str]]
) -> set[Partition]:
    """The partitions of the stored attempts of the given runs (pipeline id, run key)."""
    found: set[Partition] = set()
    for pipeline_id, started in rows_of_runs(conn, "pipeline_id, started_at_ms", org_id, runs):
        if started is not None:
            found.add((str(pipeline_id), started // DAY_MS))
    return found


def runs_of_attempts(
    conn: Connection, org_id: str, attempt_ids: Iterable[str]
) -> set[tuple[str, str]]:
    ids = sorted(set(attempt_ids))
    found: set[tuple[str, str]] = set()
    for start in range(0, len(ids), 500):
        query = sa.select(a.c.pipeline_id, a.c.run_key).where(
            a.c.org_id == org_id, a.c.id.in_(ids[start : start + 500])
        )
        found.update((str(row[0]), row[1]) for row in conn.execute(query))
    return found


def mark_everything(conn: Connection, org_id: str | None, now_ms: int) -> int:
    """Mark every partition holding attempts (of one organisation, or all): a rebuild."""
    query = sa.select(a.c.org_id, a.c.pipeline_id, a.c.started_at_ms).where(
        a.c.started_at_ms.is_not(None)
    )
    if org_id is not None:
        query = query.where(a.c.org_id == org_id)
    marks = {
        (str(org), str(pipeline), started // DAY_MS)
        for org, pipeline, started in conn.execute(query)
    }
    mark_dirty(conn, marks, now_ms)
    return len(marks)


# --- Claiming ------------------------------------------------------------------------------


def claimable(
    conn: Connection,
    limit: int | None,
    settled_before_ms: int | None,
    now_ms: int | None,
    *,
    kinds: Sequence[int] | None = None,
    org_id: str | None = None,
) -> list[Marked]:
    """The marked partitions to refresh next (of these kinds, of this organisation), oldest
    mark first, at most ``limit``.

    With ``settled_before_ms``, a partition of figures only when ingest has not marked it
    since then (it has moved on) or first marked it before ``settled_before_ms -
    MAX_DEFERRAL_MS``: a partition that ingest keeps writing is recomputed once in a while,
    not after every batch. With ``now_ms``, not the partitions set aside until later."""
    partition = (d.c.org_id, d.c.kind, d.c.pipeline_id, d.c.day)
    query = sa.select(*partition).group_by(*partition)
    query = query.order_by(sa.func.min(d.c.marked_at_ms), *partition).limit(limit)
    if kinds is not None:
        query = query.where(d.c.kind.in_(kinds))
    if org_id is not None:
        query = query.where(d.c.org_id == org_id)
    if settled_before_ms is not None:
        query = query.having(
            sa.or_(
                d.c.kind != FIGURES,
                sa.func.max(d.c.marked_at_ms) < settled_before_ms,
                sa.func.min(d.c.marked_at_ms) < settled_before_ms - MAX_DEFERRAL_MS,
            )
        )
    if now_ms is not None:
        set_aside = sa.select(f.c.org_id).where(
            f.c.org_id == d.c.org_id,
            f.c.kind == d.c.kind,
            f.c.pipeline_id == d.c.pipeline_id,
            f.c.day == d.c.day,
            f.c.retry_at_ms > now_ms,
        )
        query = query.where(~sa.exists(set_aside))
    return [Marked(str(o), int(k), str(p), int(day)) for o, k, p, day in conn.execute(query)]


def mark_ids(conn: Connection, partitions: Sequence[Marked]) -> list[str]:
    """The ids of the marks of these partitions (of one organisation and kind), as the
    connection sees them: what a refresh that read its rows in the same snapshot covers."""
    if not partitions:
        return []
    org_id, kind = partitions[0].org_id, partitions[0].kind
    found: list[str] = []
    by_day: dict[int, list[str]] = {}
    for mark in partitions:
        by_day.setdefault(mark.day, []).append(mark.pipeline_id)
    for day, pipeline_ids in sorted(by_day.items()):
        query = sa.select(d.c.id).where(
            d.c.org_id == org_id,
            d.c.day == day,
            d.c.kind == kind,
            d.c.pipeline_id.in_(sorted(pipeline_ids)),
        )
        found += [str(row[0]) for row in conn.execute(query)]
    return found


def delete_marks(conn: Connection, org_id: str, ids: Sequence[str]) -> int:
    """Remove the marks a refresh covered; returns how many were still there."""
    removed = 0
    for start in range(0, len(ids), 500):
        chunk = sorted(ids[start : start + 500])
        removed += conn.execute(
            sa.delete(d).where(d.c.org_id == org_id, d.c.id.in_(chunk))
        ).rowcount
    return removed


# --- What reads need -------------------------------------------------------------------------


def dirty_partitions(
    conn: Connection, org_id: str, first_day: int, last_day: int
) -> set[Partition]:
    """The partitions of days ``[first_day, last_day)`` whose stored figures are stale."""
    query = (
        sa.select(d.c.pipeline_id, d.c.day)
        .where(d.c.org_id == org_id, d.c.day >= first_day, d.c.day < last_day, d.c.kind == FIGURES)
        .distinct()
    )
    return {(str(row[0]), int(row[1])) for row in conn.execute(query)}


def stale_organisation_days(
    conn: Connection, org_id: str, first_day: int, last_day: int
) -> set[int]:
    """The days of ``[first_day, last_day)`` whose organisation-wide rows are stale."""
    query = (
        sa.select(d.c.day)
        .where(
            d.c.org_id == org_id,
            d.c.day >= first_day,
            d.c.day < last_day,
            d.c.kind == ORGANISATION_DAY,
        )
        .distinct()
    )
    return {int(row[0]) for row in conn.execute(query)}


def dirty_pipelines(conn: Connection, org_id: str) -> dict[str, int]:
    """Per pipeline whose stored red periods may be stale, the earliest day they may be so
    from (marks of its figures, or of its red periods)."""
    query = (
        sa.select(d.c.pipeline_id, sa.func.min(d.c.day))
        .where(d.c.org_id == org_id, d.c.kind.in_((FIGURES, RED_PERIODS)))
        .group_by(d.c.pipeline_id)
    )
    return {str(row[0]): int(row[1]) for row in conn.execute(query) if str(row[0]) != ORG}


# --- Failures ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Failure:
    org_id: str
    kind: int
    pipeline_id: str
    day: int
    failures: int
    error: str
    first_failed_at_ms: int
    retry_at_ms: int

    @property
    def partition(self) -> Marked:
        return Marked(self.org_id, self.kind, self.pipeline_id, self.day)


def retry_delay_ms(failures: int) -> int:
    return int(min(FIRST_RETRY_MS * 2 ** max(failures - 1, 0), LAST_RETRY_MS))


def record_failure(conn: Connection, mark: Marked, error: str, now_ms: int) -> Failure:
    """Set the partition aside until its retry time; returns what is recorded."""
    key = (f.c.org_id == mark.org_id, f.c.kind == mark.kind)
    where = (*key, f.c.pipeline_id == mark.pipeline_id, f.c.day == mark.day)
    before = conn.execute(sa.select(f.c.failures, f.c.first_failed_at_ms).where(*where)).first()
    failures = 1 + (before[0] if before else 0)
    first = before[1] if before else now_ms
    failure = Failure(
        mark.org_id,
        mark.kind,
        mark.pipeline_id,
        mark.day,
        failures,
        error[:2000],
        first,
        now_ms + retry_delay_ms(failures),
    )
    row = {
        "org_id": failure.org_id,
        "kind": failure.kind,
        "pipeline_id": failure.pipeline_id,
        "day": failure.day,
        "failures": failure.failures,
        "error": failure.error,
        "first_failed_at_ms": failure.first_failed_at_ms,
        "last_failed_at_ms": now_ms,
        "retry_at_ms": failure.retry_at_ms,
    }
    statement = insert_for(conn)(f).values(row)
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=["org_id", "kind", "pipeline_id", "day"],
            set_={k: statement.excluded[k] for k in row if k not in {"org_id", "kind"}},
        )
    )
    return failure


def clear_failures(conn: Connection, partitions: Sequence[Marked]) -> None:
    bulk_delete(
        conn,
        rollup_failures,
        ["org_id", "kind", "pipeline_id", "day"],
        [(m.org_id, m.kind, m.pipeline_id, m.day) for m in sorted(set(partitions))],
    )


# --- Status --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Status:
    """What waits for the refresher: marked partitions by kind, how long the oldest mark has
    waited, and the partitions set aside."""

    pending: dict[str, int]
    oldest_marked_at_ms: int | None
    failures: list[Failure]

    @property
    def failing(self) -> int:
        return len(self.failures)

    @property
    def partitions(self) -> int:
        return sum(self.pending.values())


def status(conn: Connection, org_id: str | None = None) -> Status:
    """The refresher's backlog (of one organisation, or of all)."""
    partition = (d.c.org_id, d.c.kind, d.c.pipeline_id, d.c.day)
    partitions = sa.select(*partition, sa.func.min(d.c.marked_at_ms).label("first")).group_by(
        *partition
    )
    failures_query = sa.select(
        f.c.org_id,
        f.c.kind,
        f.c.pipeline_id,
        f.c.day,
        f.c.failures,
        f.c.error,
        f.c.first_failed_at_ms,
        f.c.retry_at_ms,
    ).order_by(f.c.first_failed_at_ms, f.c.org_id, f.c.pipeline_id, f.c.day)
    if org_id is not None:
        partitions = partitions.where(d.c.org_id == org_id)
        failures_query = failures_query.where(f.c.org_id == org_id)
    found = partitions.subquery()
    query = sa.select(found.c.kind, sa.func.count(), sa.func.min(found.c.first)).group_by(
        found.c.kind
    )
    pending = {name: 0 for name in KIND_NAMES.values()}
    oldest: int | None = None
    for kind, partitions, first in conn.execute(query):
        pending[KIND_NAMES.get(int(kind), str(kind))] = int(partitions)
        oldest = first if oldest is None else min(oldest, first)
    failures = [
        Failure(str(o), int(k), str(p), int(day), n, error, first, retry)
        for o, k, p, day, n, error, first, retry in conn.execute(failures_query)
    ]
    return Status(pending, oldest, failures)
