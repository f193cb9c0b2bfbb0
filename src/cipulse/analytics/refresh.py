"""The rollup refresher: recomputes the partitions (pipeline, UTC day) that ingest marked
dirty from their raw rows, stores them with the 7- and 28-day blocks they belong to, and
removes the marks.

Recomputing from the raw rows, rather than adding each write's difference, keeps the rollups
exact under re-posts, upserts and out-of-order events by construction. Until a partition is
refreshed, reads compute it from the raw rows (``window_figures.py``), so answers are exact
at all times; the refresher only makes them fast again.

It runs in a background thread of every server (``RollupRefresher``) and at the end of the
bulk commands (``refresh_all``). Several refreshers may run at once: one transaction per
round, marks claimed with ``SKIP LOCKED`` and partitions locked on PostgreSQL, the write
lock on SQLite."""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Callable

from sqlalchemy.engine import Connection

from cipulse.analytics import pieces, recovery, rollups
from cipulse.domain import ids
from cipulse.domain.window import DAY_MS, HOUR_MS, Window
from cipulse.errors import CipulseError
from cipulse.storage import rollup_store
from cipulse.storage.analytics_store import JobTally, RunTally
from cipulse.storage.clock import now_ms
from cipulse.storage.database import Database
from cipulse.storage.dialect import lock_natural_keys

log = logging.getLogger(__name__)

#: Partitions per transaction: short enough that ingest, which shares SQLite's one write lock,
#: waits little.
PARTITIONS_PER_ROUND = 200
#: The bulk commands refresh in big rounds: each round recomputes the red periods of its
#: pipelines from their earliest marked day to the present.
BULK_PARTITIONS_PER_ROUND = 50_000


def refresh_round(
    database: Database, limit: int = PARTITIONS_PER_ROUND, settle_ms: int | None = None
) -> int:
    """Refresh up to ``limit`` marked partitions (with ``settle_ms``, only those ingest
    has not marked for that long, or has kept marking for a minute); returns how many marks
    it took."""
    with database.write() as conn:
        settled = None if settle_ms is None else now_ms() - settle_ms
        marks = rollup_store.claim_marks(conn, limit, settled)
        if not marks:
            return 0
        days: dict[tuple[str, int], set[str]] = defaultdict(set)
        for mark in marks:
            days[(mark.org_id, mark.day)].add(mark.pipeline_id)
        # The blocks holding the days, shortest first: a 28-day block adds up 7-day blocks.
        blocks: dict[tuple[int, str, int], set[str]] = defaultdict(set)
        for (org_id, day), pipeline_ids in days.items():
            for size in sorted(rollups.BLOCK_SIZES):
                start = rollups.block_of(day, size)
                blocks[(size, org_id, start)] |= pipeline_ids | {rollup_store.ORG}
        # One lock per organisation (PostgreSQL): refreshers of one organisation take turns.
        # Locks per partition would exhaust the lock table in a bulk round.
        lock_natural_keys(conn, [ids.refresher_lock_id(org_id) for org_id, _ in days])
        now = now_ms()
        for (org_id, day), pipeline_ids in sorted(days.items()):
            hours = rollups.stores_hours(day, now)
            _refresh_day(conn, org_id, day, sorted(pipeline_ids), hours)
            _refresh_organisation_day(conn, org_id, day, hours)
        for (size, org_id, start), pipeline_ids in sorted(blocks.items()):
            _refresh_block(conn, org_id, size, start, sorted(pipeline_ids))
        earliest: dict[tuple[str, str], int] = {}
        for mark in marks:
            key = (mark.org_id, mark.pipeline_id)
            earliest[key] = min(earliest.get(key, mark.day), mark.day)
        for (org_id, pipeline_id), day in sorted(earliest.items()):
            stale, fresh = recovery.recompute(conn, org_id, pipeline_id, day * DAY_MS)
            rollup_store.replace_periods(
                conn,
                org_id,
                stale,
                [
                    (p.pipeline_id, p.branch, p.started_at_ms, p.ended_at_ms, p.failing_attempts)
                    for p in fresh
                ],
            )
        first_kept = (now // DAY_MS - rollups.HOURLY_DAYS) * DAY_MS // HOUR_MS
        for org_id in sorted({org_id for org_id, _ in days}):
            rollup_store.purge_hours(conn, org_id, first_kept)
        rollup_store.delete_marks(conn, marks)
    return len(marks)


def _refresh_day(
    conn: Connection, org_id: str, day: int, pipeline_ids: list[str], hours: bool
) -> None:
    window = Window(day * DAY_MS, (day + 1) * DAY_MS)
    found = pieces.stored_pieces(conn, org_id, window, pipeline_ids, hours=hours)
    for branch_scope, piece in found.days.items():
        scope = rollup_store.SCOPE_CODES[branch_scope]
        _store(conn, org_id, rollup_store.DAY, day, pipeline_ids, piece, scope)
        rollup_store.replace_metric_period(
            conn, org_id, rollup_store.DAY, day, pipeline_ids, piece.metrics, scope
        )
        if hours:
            by_hour = found.hours[branch_scope]
            for hour in _hours_of(day):
                piece = by_hour.get(hour * HOUR_MS) or rollups.Piece()
                _store(conn, org_id, rollup_store.HOUR, hour, pipeline_ids, piece, scope)


def _store(
    conn: Connection,
    org_id: str,
    grain: int,
    period: int,
    pipeline_ids: list[str],
    piece: rollups.Piece,
    scope: int,
) -> None:
    """A piece's run and job figures and repeats, in place of what the period held."""
    rollup_store.replace_period(
        conn, org_id, grain, period, pipeline_ids, piece.runs, piece.jobs, scope
    )
    rollup_store.replace_repeats(
        conn,
        org_id,
        grain,
        period,
        pipeline_ids,
        [(r.pipeline_id, r.run_key, r.previous_started_at_ms) for r in piece.repeats],
        scope,
    )


def _hours_of(day: int) -> range:
    return range(day * DAY_MS // HOUR_MS, (day + 1) * DAY_MS // HOUR_MS)


def _refresh_organisation_day(conn: Connection, org_id: str, day: int, hours: bool) -> None:
    """The organisation-wide rows of a day, and of its hours (one per branch scope): every
    pipeline's row added up."""
    grains = [(rollup_store.DAY, [day])]
    if hours:
        grains.append((rollup_store.HOUR, list(_hours_of(day))))
    for scope in rollup_store.SCOPE_CODES.values():
        for grain, periods in grains:
            totals = {period: rollups.new_run_tally() for period in periods}
            for row in rollup_store.run_rows(conn, org_id, grain, periods, None, scope):
                rollups.add_run_tally(totals[row[2]], rollup_store.run_tally_of(row))
            for period, total in totals.items():
                runs = {rollup_store.ORG: total} if sum(total.by_status.values()) else {}
                rollup_store.replace_period(
                    conn, org_id, grain, period, [rollup_store.ORG], runs, {}, scope
                )


def _refresh_block(
    conn: Connection, org_id: str, size: int, start: int, pipeline_ids: list[str]
) -> None:
    """A block's rows, added up from the next shorter period's rows (7 days from days, 28
    from 7-day blocks), for each branch scope. Custom metrics are kept per day only."""
    part = max((s for s in rollups.BLOCK_SIZES if s < size), default=rollup_store.DAY)
    periods = list(range(start, start + size, part))
    for scope in rollup_store.SCOPE_CODES.values():
        runs: dict[str, RunTally] = {}
        for row in rollup_store.run_rows(conn, org_id, part, periods, pipeline_ids, scope):
            tally = runs.setdefault(row[3], rollups.new_run_tally())
            rollups.add_run_tally(tally, rollup_store.run_tally_of(row))
        jobs: dict[tuple[str, str], JobTally] = {}
        for row in rollup_store.job_rows(conn, org_id, part, periods, pipeline_ids, scope):
            job = jobs.setdefault((row[3], row[4]), rollups.new_job_tally(row[5]))
            rollups.add_job_tally(job, rollup_store.job_tally_of(row))
        rollup_store.replace_period(conn, org_id, size, start, pipeline_ids, runs, jobs, scope)


def refresh_all(database: Database, progress: Callable[[int], None] | None = None) -> int:
    """Refresh until no marks are left (the bulk commands, tests); returns the marks taken."""
    total = 0
    while taken := refresh_round(database, limit=BULK_PARTITIONS_PER_ROUND):
        total += taken
        if progress is not None:
            progress(total)
    return total


def rebuild(
    database: Database, org_id: str | None, progress: Callable[[int, int], None] | None = None
) -> int:
    """Mark every partition (of one organisation, or all) and refresh them all; returns
    how many there were. Reads stay exact meanwhile (marked partitions are read raw)."""
    with database.write() as conn:
        partitions = rollup_store.mark_everything(conn, org_id, now_ms())
    refresh_all(database, None if progress is None else lambda done: progress(done, partitions))
    return partitions


class RollupRefresher:
    """A daemon thread that refreshes marked partitions every ``interval`` seconds."""

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

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                settle_ms = int(self.interval * 1000)
                while not self._stop.is_set() and refresh_round(self.database, settle_ms=settle_ms):
                    pass
            except CipulseError as exc:  # e.g. the database is briefly unavailable
                log.warning("rollup refresh failed, retrying: %s", exc)
            except Exception:  # pragma: no cover - keep refreshing after a bug, loudly
                log.exception("rollup refresh failed")
