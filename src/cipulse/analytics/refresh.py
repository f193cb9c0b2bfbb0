"""The rollup refresher: rounds, units planned, failures set aside.

The rollup refresher: recomputes the partitions (pipeline, UTC day) that ingest marked
stale from their raw rows, and the organisation rows, blocks and red periods that depend on
them, then removes the marks.

Recomputing from the raw rows, rather than adding each write's difference, keeps the rollups
exact under re-posts, upserts and out-of-order events by construction. Until a partition is
refreshed, reads compute it from the raw rows (``window_figures.py``), so answers are exact
at all times; the refresher only makes them fast again.

How it stays out of ingest's way and never stalls:

- It works a bounded *unit* at a time (``refresh_units.py``): at most
  ``PIPELINES_PER_UNIT`` pipelines and ``ATTEMPTS_PER_UNIT`` attempts of one week, their
  runs read ``pieces.RUNS_PER_CHUNK`` at a time. A unit is computed from a snapshot, holding
  no write lock, and stored in a short write transaction of its own; memory and the write
  lock are bounded by the unit, not by what is stored.
- A unit that fails is retried partition by partition, and a partition that still fails is
  *set aside* (``rollup_failures.record_failure``): logged, counted in ``/healthz`` and
  ``cipulse rollups status``, retried after a minute, then less and less often. Every other
  partition and organisation goes on.
- One refresher per organisation at a time (``Database.refresher_lock``); the others skip
  it. The server's refresher (``RollupRefresher``, a thread) rests as long as it worked
  after each unit, so it takes at most half of the time it could."""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import sqlalchemy as sa

from cipulse.analytics import refresh_units, rollups
from cipulse.analytics.refresh_units import Superseded, Unit
from cipulse.domain.window import DAY_MS, HOUR_MS
from cipulse.errors import CipulseError, Unavailable
from cipulse.storage import retention
from cipulse.storage.clock import now_ms
from cipulse.storage.database import Database
from cipulse.storage.rollups import figure_writes
from cipulse.storage.rollups import marks as rollup_marks
from cipulse.storage.rollups import set_aside as rollup_failures
from cipulse.storage.rollups.marks import FIGURES, NEW_RUNS, ORGANISATION_DAY, RED_PERIODS, Marked
from cipulse.storage.schema import run_attempts

log = logging.getLogger(__name__)

#: Partitions a server's round claims (oldest marks first).
PARTITIONS_PER_ROUND = 200
#: The bulk commands claim more at a time; units stay as small.
BULK_PARTITIONS_PER_ROUND = 20_000
#: A unit of figures holds at most this many pipelines, and attempts (unless one pipeline's
#: day holds more: then that partition alone, read in chunks of runs).
PIPELINES_PER_UNIT = 16
ATTEMPTS_PER_UNIT = 5_000
#: Partitions whose new runs one unit adds; organisation days and pipelines' red periods
#: per unit.
NEW_RUN_PARTITIONS_PER_UNIT = 32
DAYS_PER_UNIT = 7
RED_PIPELINES_PER_UNIT = 32
#: The server's refresher rests this many times as long as each unit took.
BACKGROUND_REST = 1.0


@dataclass(slots=True)
class RoundReport:
    """What a round did: partitions refreshed, set aside, and left to another refresher."""

    taken: int = 0
    failed: int = 0
    skipped: int = 0


Rest = Callable[[float], None]


def refresh_round(
    database: Database,
    limit: int = PARTITIONS_PER_ROUND,
    settle_ms: int | None = None,
    *,
    retry_failed: bool = False,
    rest: Rest | None = None,
    wait: bool = False,
) -> RoundReport:
    """Refresh up to ``limit`` marked partitions of figures, oldest first, then the
    organisation days and red periods they lead to. With ``settle_ms``, only partitions
    ingest has not marked for that long (or has kept marking for a minute); without
    ``retry_failed``, not those set aside until later. ``rest`` is called with each unit's
    duration (the server's refresher sleeps). An organisation another refresher is
    refreshing is left to it, unless ``wait``."""
    started = now_ms()
    with database.read() as conn:
        claimed = rollup_marks.claimable(
            conn,
            limit,
            None if settle_ms is None else started - settle_ms,
            None if retry_failed else started,
        )
    report = RoundReport()
    by_org: dict[str, list[Marked]] = defaultdict(list)
    for mark in claimed:
        by_org[mark.org_id].append(mark)
    for org_id in sorted(by_org):
        with database.refresher_lock(org_id, wait=wait) as held:
            if not held:
                report.skipped += len(by_org[org_id])
                continue
            # Days before a purge's horizon are final: their marks go unrecomputed.
            marks, frozen = retention.unfrozen(database, org_id, by_org[org_id])
            report.taken += frozen
            _refresh_organisation(database, org_id, marks, report, retry_failed, rest)
    return report


def _refresh_organisation(
    database: Database,
    org_id: str,
    claimed: list[Marked],
    report: RoundReport,
    retry_failed: bool,
    rest: Rest | None,
) -> None:
    figures = [mark for mark in claimed if mark.kind == FIGURES]
    for unit in figure_units(database, org_id, figures):
        _run(database, unit, report, rest)
    added = sorted(mark for mark in claimed if mark.kind == NEW_RUNS)
    for unit in _chunks(org_id, NEW_RUNS, added, NEW_RUN_PARTITIONS_PER_UNIT):
        _run(database, unit, report, rest)
    with database.read() as conn:
        follow_ups = rollup_marks.claimable(
            conn,
            None,
            None,
            None if retry_failed else now_ms(),
            kinds=(ORGANISATION_DAY, RED_PERIODS),
            org_id=org_id,
        )
    days = [m for m in follow_ups if m.kind == ORGANISATION_DAY]
    reds = [m for m in follow_ups if m.kind == RED_PERIODS]
    for unit in _chunks(org_id, ORGANISATION_DAY, days, DAYS_PER_UNIT):
        _run(database, unit, report, rest)
    for unit in _chunks(org_id, RED_PERIODS, reds, RED_PIPELINES_PER_UNIT):
        _run(database, unit, report, rest)
    first_kept = (now_ms() // DAY_MS - rollups.HOURLY_DAYS) * DAY_MS // HOUR_MS
    with database.write() as conn:
        figure_writes.purge_hours(conn, org_id, first_kept)


def _chunks(org_id: str, kind: int, marks: Sequence[Marked], size: int) -> Iterator[Unit]:
    for start in range(0, len(marks), size):
        yield Unit(org_id, kind, tuple(marks[start : start + size]))


def figure_units(database: Database, org_id: str, marks: Sequence[Marked]) -> list[Unit]:
    """The marked partitions of figures as units: by week, pipelines packed while they hold
    at most ``ATTEMPTS_PER_UNIT`` attempts and ``PIPELINES_PER_UNIT`` pipelines; a pipeline
    whose week holds more, a unit per day."""
    by_week: dict[int, list[Marked]] = defaultdict(list)
    for mark in sorted(marks):
        by_week[rollups.week_of(mark.day)].append(mark)
    units: list[Unit] = []
    for week, week_marks in sorted(by_week.items()):
        sizes = _attempt_counts(database, org_id, week, {m.pipeline_id for m in week_marks})
        by_pipeline: dict[str, list[Marked]] = defaultdict(list)
        for mark in week_marks:
            by_pipeline[mark.pipeline_id].append(mark)
        current: list[Marked] = []
        attempts = pipelines = 0
        for pipeline_id, pipeline_marks in sorted(by_pipeline.items()):
            size = sum(sizes.get((pipeline_id, m.day), 0) for m in pipeline_marks)
            if size > ATTEMPTS_PER_UNIT:
                units += [Unit(org_id, FIGURES, (mark,)) for mark in pipeline_marks]
                continue
            if current and (attempts + size > ATTEMPTS_PER_UNIT or pipelines == PIPELINES_PER_UNIT):
                units.append(Unit(org_id, FIGURES, tuple(current)))
                current, attempts, pipelines = [], 0, 0
            current += pipeline_marks
            attempts += size
            pipelines += 1
        if current:
            units.append(Unit(org_id, FIGURES, tuple(current)))
    return units


def _attempt_counts(
    database: Database, org_id: str, week: int, pipeline_ids: set[str]
) -> dict[tuple[str, int], int]:
    """Attempts per (pipeline, day) of the week."""
    a = run_attempts
    day = a.c.started_at_ms / DAY_MS
    query = (
        sa.select(a.c.pipeline_id, day, sa.func.count())
        .where(
            a.c.org_id == org_id,
            a.c.pipeline_id.in_(sorted(pipeline_ids)),
            a.c.started_at_ms >= week * DAY_MS,
            a.c.started_at_ms < (week + rollups.WEEK_DAYS) * DAY_MS,
        )
        .group_by(a.c.pipeline_id, day)
    )
    with database.read() as conn:
        return {(str(p), int(d)): int(n) for p, d, n in conn.execute(query)}


def _run(database: Database, unit: Unit, report: RoundReport, rest: Rest | None) -> None:
    """Refresh a unit; if it fails, each of its partitions on its own, setting aside those
    that fail alone. A database that does not answer stops the round (``Unavailable``)."""
    started = time.perf_counter()
    try:
        _refresh(database, unit)
        report.taken += len(unit.partitions)
    except Superseded:
        log.debug("rollup refresh superseded by another refresher: %s", unit.partitions)
    except Exception as exc:
        if not _retryable_alone(exc):
            raise
        if len(unit.partitions) > 1:
            for single in unit.singles():
                _run(database, single, report, rest)
            return
        _set_aside(database, unit.partitions[0], exc)
        report.failed += 1
    if rest is not None:
        rest(time.perf_counter() - started)


def _retryable_alone(exc: Exception) -> bool:
    """Whether a unit's failure may be its data's (not the database's, nor a stop)."""
    return (
        not isinstance(exc, CipulseError) or exc.status_code < 500 or exc.code == "internal_error"
    )


def _refresh(database: Database, unit: Unit) -> None:
    now = now_ms()
    with database.snapshot() as conn:
        computed = refresh_units.compute(conn, unit, now)
    with database.write() as conn:
        refresh_units.store(conn, unit, computed, now)


def _set_aside(database: Database, mark: Marked, exc: Exception) -> None:
    error = f"{type(exc).__name__}: {exc}".splitlines()[0]
    with database.write() as conn:
        failure = rollup_failures.record_failure(conn, mark, error, now_ms())
    what = mark.describe()
    if failure.failures == 1:
        log.error("rollup refresh of %s failed; set aside, retried later", what, exc_info=exc)
    else:
        log.warning(
            "rollup refresh of %s failed again (%d times): %s", what, failure.failures, error
        )


def refresh_all(
    database: Database,
    progress: Callable[[int], None] | None = None,
    *,
    retry_failed: bool = True,
) -> int:
    """Refresh until no marks are left but those set aside (the bulk commands, tests);
    returns the partitions refreshed. ``retry_failed``: retry the partitions set aside
    at once (an operator asked), each once."""
    total = 0
    retry = retry_failed
    while True:
        report = refresh_round(
            database, limit=BULK_PARTITIONS_PER_ROUND, retry_failed=retry, wait=True
        )
        retry = False
        total += report.taken
        if progress is not None:
            progress(total)
        if not report.taken:
            return total


def rebuild(
    database: Database, org_id: str | None, progress: Callable[[int, int], None] | None = None
) -> int:
    """Mark every partition (of one organisation, or all) and refresh them all; returns
    how many there were. Reads stay exact meanwhile (marked partitions are read raw)."""
    with database.write() as conn:
        partitions = rollup_marks.mark_everything(conn, org_id, now_ms())
    refresh_all(database, None if progress is None else lambda done: progress(done, partitions))
    return partitions


class RollupRefresher:
    """A daemon thread that refreshes marked partitions every ``interval`` seconds, resting
    after each unit as long as it worked (``BACKGROUND_REST``)."""

    def __init__(self, database: Database, interval: float) -> None:
        self.database = database
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cipulse-rollups", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _rest(self, seconds: float) -> None:
        self._stop.wait(seconds * BACKGROUND_REST)

    def _run(self) -> None:
        settle_ms = int(self.interval * 1000)
        while not self._stop.wait(self.interval):
            try:
                while not self._stop.is_set():
                    report = refresh_round(self.database, settle_ms=settle_ms, rest=self._rest)
                    if not report.taken:
                        break
            except Unavailable as exc:  # the outage log (storage/outages.py) says it once
                log.debug("rollup refresh paused, retrying: %s", exc)
            except CipulseError as exc:
                log.warning("rollup refresh paused, retrying: %s", exc)
            except Exception:  # pragma: no cover - keep refreshing after a bug, loudly
                log.exception("rollup refresh failed")
