"""Partitions the refresher set aside, and the backlog's status.

The partitions the rollup refresher failed to refresh, *set aside*: a row of
``rollup_failures`` with the error and a retry time that doubles with each failure (one
minute to an hour); claims (``rollup_marks.claimable``) skip it until then, so one bad
partition never blocks the others. And the refresher's backlog as a whole (``status``: what
``cipulse rollups status`` and ``/healthz`` show)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cipulse.storage.dialect import bulk_delete, insert_for
from cipulse.storage.rollups.marks import KIND_NAMES, Marked
from cipulse.storage.schema import rollup_dirty, rollup_failures

#: A failing partition is retried after a minute, then after twice as long each time, at
#: most after an hour.
FIRST_RETRY_MS = 60_000
LAST_RETRY_MS = 3_600_000

d = rollup_dirty
f = rollup_failures


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
