"""Marks: which stored rollup figures are stale.

Marks: which stored rollup figures are stale, and the partitions the refresher failed to
refresh and set aside.

A mark is a row of ``rollup_dirty`` naming a *partition* (a pipeline and a UTC day) and a
*kind*, what of it is stale:

- ``FIGURES``: the pipeline's figures of the day (its day, hour and block rows). Ingest marks
  these in its own transaction, for every partition a write may change (a partition's figures
  depend on the other attempts of its runs too: the old and new day of an attempt whose start
  moved, and its siblings').
- ``ORGANISATION_DAY``: the organisation-wide rows of the day (pipeline id ``ORG``), which
  add up its pipelines' rows; the refresher marks them when it stores a pipeline's day.
- ``RED_PERIODS``: the pipeline's red periods from the day on (or from ``from_ms``); marked
  with the figures, so a pipeline's periods are recomputed once however many of its days
  changed.
- ``NEW_RUNS``: a run ingest stored whole for the first time (one RunWatch attempt with its
  jobs, nothing stored of the run before), whose figures are not in the stored rows yet: the
  mark's id is the attempt's. What it adds is added, not recomputed: reads add the piece of
  these attempts to the stored rows, and the refresher adds it into them. So the cost of a
  partition ingest keeps writing grows with what is new, not with what it holds. Any other
  write (an update, a retry, a job arriving on its own) marks ``FIGURES``, and recomputing a
  partition's figures takes its new runs in too.

Reads treat a marked partition as stale and compute it from the raw rows, so answers are
exact at all times. A partition has as many marks as writes that changed it; the refresher
removes exactly the marks it saw, so a mark added while it worked stays for the next round.

A partition the refresher fails to store is *set aside* (``set_aside.py``); claims skip
it until its retry time."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cipulse.domain.window import DAY_MS
from cipulse.storage.analytics_store import rows_of_runs
from cipulse.storage.dialect import bulk_insert
from cipulse.storage.rollups.keys import ORG
from cipulse.storage.schema import organisations, rollup_dirty, rollup_failures, run_attempts

FIGURES = 0
ORGANISATION_DAY = 1
RED_PERIODS = 2
NEW_RUNS = 3
KIND_NAMES = {
    FIGURES: "figures",
    ORGANISATION_DAY: "organisation day",
    RED_PERIODS: "red periods",
    NEW_RUNS: "new runs",
}

#: The longest a partition that ingest keeps marking waits for its refresh (reads are exact
#: meanwhile: they compute it from the raw rows).
MAX_DEFERRAL_MS = 60_000

a = run_attempts
d = rollup_dirty
o = organisations
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
    rows = [(o, str(uuid.uuid4()), p, day, now_ms, kind, None) for o, p, day in set(marks)]
    bulk_insert(conn, rollup_dirty, sorted(rows))


def mark_red_periods(conn: Connection, marks: Iterable[tuple[str, str, int]], now_ms: int) -> None:
    """Mark the red periods of pipelines (org id, pipeline id, from ms) stale from then on."""
    rows = [
        (o, str(uuid.uuid4()), p, from_ms // DAY_MS, now_ms, RED_PERIODS, from_ms)
        for o, p, from_ms in set(marks)
    ]
    bulk_insert(conn, rollup_dirty, sorted(rows))


def mark_new_runs(
    conn: Connection, attempts: Iterable[tuple[str, str, str, int]], now_ms: int
) -> None:
    """Mark new runs' attempts (org id, attempt id, pipeline id, day) to be added."""
    rows = [(o, a, p, day, now_ms, NEW_RUNS, None) for o, a, p, day in set(attempts)]
    bulk_insert(conn, rollup_dirty, sorted(rows), "ON CONFLICT (org_id, id) DO NOTHING")


def days_of_runs(
    conn: Connection, org_id: str, runs: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], set[int]]:
    """The days of the stored attempts of the given runs (pipeline id, run key), by run: a
    run with no stored attempt is not in it (one without a start has no day)."""
    found: dict[tuple[str, str], set[int]] = {}
    columns = "pipeline_id, run_key, started_at_ms"
    for pipeline_id, run_key, started in rows_of_runs(conn, columns, org_id, runs):
        days = found.setdefault((str(pipeline_id), run_key), set())
        if started is not None:
            days.add(started // DAY_MS)
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
        # Recomputing a partition's figures takes its new runs in: their marks go too.
        kinds = [FIGURES, NEW_RUNS] if kind == FIGURES else [kind]
        query = sa.select(d.c.id).where(
            d.c.org_id == org_id,
            d.c.day == day,
            d.c.kind.in_(kinds),
            d.c.pipeline_id.in_(sorted(pipeline_ids)),
        )
        found += [str(row[0]) for row in conn.execute(query)]
    return found


def red_period_starts(conn: Connection, partitions: Sequence[Marked]) -> dict[str, int]:
    """Per pipeline, from when (ms) its red periods are stale, by the marks of these
    partitions (of one organisation, kind ``RED_PERIODS``)."""
    if not partitions:
        return {}
    org_id = partitions[0].org_id
    wanted = {(m.pipeline_id, m.day) for m in partitions}
    query = sa.select(d.c.pipeline_id, d.c.day, d.c.from_ms).where(
        d.c.org_id == org_id,
        d.c.kind == RED_PERIODS,
        d.c.pipeline_id.in_(sorted({m.pipeline_id for m in partitions})),
    )
    found: dict[str, int] = {}
    for pipeline_id, day, from_ms in conn.execute(query):
        key = (str(pipeline_id), int(day))
        if key in wanted:
            start = int(from_ms) if from_ms is not None else key[1] * DAY_MS
            found[key[0]] = min(found.get(key[0], start), start)
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


def new_run_marks(
    conn: Connection, org_id: str, first_day: int, last_day: int
) -> dict[Partition, list[str]]:
    """The new runs' attempt ids waiting to be added, by partition, of days
    ``[first_day, last_day)``: not of the days before the organisation's purge horizon, whose
    figures are final (``retention.py``)."""
    horizon = (
        sa.select(sa.func.coalesce(o.c.purged_before_day, 0))
        .where(o.c.id == org_id)
        .scalar_subquery()
    )
    query = sa.select(d.c.pipeline_id, d.c.day, d.c.id).where(
        d.c.org_id == org_id,
        d.c.day >= first_day,
        d.c.day < last_day,
        d.c.kind == NEW_RUNS,
        d.c.day >= horizon,
    )
    found: dict[Partition, list[str]] = {}
    for pipeline_id, day, attempt_id in conn.execute(query):
        found.setdefault((str(pipeline_id), int(day)), []).append(str(attempt_id))
    return found


def dirty_pipelines(conn: Connection, org_id: str) -> dict[str, int]:
    """Per pipeline whose stored red periods may be stale, the instant (ms) they may be so
    from: the start of a day whose figures are marked, a red periods mark's instant, or when
    the first of its new runs ended."""
    earliest: dict[str, int] = {}
    start = sa.func.coalesce(d.c.from_ms, sa.cast(d.c.day, sa.BigInteger) * DAY_MS)
    marked = (
        sa.select(d.c.pipeline_id, sa.func.min(start))
        .where(d.c.org_id == org_id, d.c.kind.in_((FIGURES, RED_PERIODS)))
        .group_by(d.c.pipeline_id)
    )
    # Each new run's end looked up by primary key from its mark (a correlated subquery, not
    # a join): the marks drive the read whatever the planner's statistics say. After a bulk
    # import they may still count the marks the refresh has since cleared, and a join was
    # then planned from the attempts: 0.5 s on 200,000 runs, for no mark at all.
    completed = (
        sa.select(a.c.completed_at_ms)
        .where(a.c.org_id == d.c.org_id, a.c.id == d.c.id)
        .scalar_subquery()
    )
    ended = (
        sa.select(d.c.pipeline_id, sa.func.min(completed))
        .where(d.c.org_id == org_id, d.c.kind == NEW_RUNS)
        .group_by(d.c.pipeline_id)
    )
    for query in (marked, ended):
        for pipeline_id, from_ms in conn.execute(query):
            if str(pipeline_id) != ORG and from_ms is not None:
                key = str(pipeline_id)
                earliest[key] = min(earliest.get(key, int(from_ms)), int(from_ms))
    return earliest
