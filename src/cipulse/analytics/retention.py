"""``cipulse purge`` and the daily purge: refresh, horizon, batches.

Retention: ``cipulse purge`` and the server's daily purge (``CIPULSE_RETENTION_DAYS``).

A purge of an organisation's days before a cut-off:

1. refreshes the rollups of those days first (a purged day's figures are read from its
   rollup rows from then on, so they must be up to date), a few rounds at most: a day still
   marked after them (a partition the refresher set aside after a failure) moves the cut-off
   back to it, and the report says so;
2. sets the organisation's horizon (``storage/retention.py``), under the organisation's
   refresher lock so that no refresh of an earlier day is under way;
3. deletes the runs wholly before the cut-off with their jobs, a batch of
   ``ATTEMPTS_PER_BATCH`` attempts per short write transaction, resting between batches as
   long as each took, so ingest (which shares SQLite's one write lock) waits a moment at
   most; then the job nodes whose run never arrived, the webhook deliveries, and the test
   reports with their results, older than the cut-off (a test's daily rows stay).

Nothing is marked, no rollup row is touched (docs/metrics.md, "After a purge")."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field

from sqlalchemy.engine import Connection

from cipulse.analytics.refresh import BULK_PARTITIONS_PER_ROUND, refresh_round
from cipulse.domain.model import Organisation
from cipulse.domain.window import DAY_MS
from cipulse.errors import CipulseError, NotFound
from cipulse.storage import accounts as account_store
from cipulse.storage import retention as store
from cipulse.storage import test_result_store
from cipulse.storage.clock import now_ms
from cipulse.storage.database import Database
from cipulse.storage.retention import Limits, Removed
from cipulse.storage.rollups.marks import day_text

log = logging.getLogger(__name__)

#: Refresh rounds a purge runs, at most, to bring the days it purges up to date.
REFRESH_ROUNDS = 5
#: A purge rests this many times as long as each batch took.
PURGE_REST = 1.0
#: How often the server looks whether a day has passed (a purge runs when the cut-off moved),
#: and how long after its start it first looks.
CHECK_EVERY_SECONDS = 3600.0
FIRST_CHECK_SECONDS = 60.0

#: Called with each batch's duration in seconds; returns whether to go on.
Rest = Callable[[float], bool]


def sleeping_rest(seconds: float) -> bool:
    time.sleep(seconds * PURGE_REST)
    return True


@dataclass(slots=True)
class PurgeReport:
    """What a purge of one organisation did (or, in a dry run, would do)."""

    org_name: str
    cutoff_day: int  # the first day asked to be kept
    purged_before_day: int  # the first day whose runs are all kept: the cut-off, or earlier
    dry_run: bool
    removed: Removed = field(default_factory=Removed)
    detached_nodes: int = 0
    deliveries: int = 0
    test_results: int = 0
    #: The earliest day before the cut-off still marked for the refresher (it moved the
    #: cut-off back), if any.
    marked_day: int | None = None
    stopped: bool = False  # stopped before the end (the server is shutting down)


def cutoff_day(older_than_days: int, now: int | None = None) -> int:
    """The first day kept by ``--older-than DAYS``: runs of the days before are purged."""
    return (now_ms() if now is None else now) // DAY_MS - older_than_days


def purge(
    database: Database,
    organisation: Organisation,
    first_kept_day: int,
    *,
    dry_run: bool = False,
    rest: Rest = sleeping_rest,
) -> PurgeReport:
    """Purge the organisation's runs of the days before ``first_kept_day`` (see the module
    docstring); ``dry_run``: count what would go, change nothing."""
    org_id = organisation.id
    if not dry_run:
        _refresh_days_before(database, org_id, first_kept_day)
    lock: AbstractContextManager[object]
    lock = nullcontext() if dry_run else database.refresher_lock(org_id, wait=True)
    with lock, database.read() if dry_run else database.write() as conn:
        marked = store.first_marked_day(conn, org_id, first_kept_day)
        day = first_kept_day if marked is None else min(first_kept_day, marked)
        if not dry_run:
            store.raise_horizon(conn, org_id, day)
        limits = Limits(org_id, day * DAY_MS, store.keep_from(conn, org_id, day * DAY_MS))
    report = PurgeReport(organisation.name, first_kept_day, day, dry_run, marked_day=marked)
    report.stopped = not _purge_runs(database, limits, report, rest)
    if not report.stopped:
        report.stopped = not _purge_the_rest(database, limits, report, rest)
    return report


def _refresh_days_before(database: Database, org_id: str, day: int) -> None:
    for _ in range(REFRESH_ROUNDS):
        with database.read() as conn:
            if store.first_marked_day(conn, org_id, day) is None:
                return
        report = refresh_round(database, limit=BULK_PARTITIONS_PER_ROUND, wait=True)
        if not report.taken:
            return


def _batches(
    database: Database, dry_run: bool, rest: Rest, work: Callable[[Connection], bool]
) -> bool:
    """Run ``work`` (one batch; returns whether there is more) in a transaction of its own
    until it is done, resting between batches; returns False if ``rest`` said stop."""
    while True:
        started = time.perf_counter()
        with database.read() if dry_run else database.write() as conn:
            more = work(conn)
        if not more:
            return True
        if not rest(time.perf_counter() - started):
            return False


def _purge_runs(database: Database, limits: Limits, report: PurgeReport, rest: Rest) -> bool:
    cursor: store.Cursor | None = None

    def batch(conn: Connection) -> bool:
        nonlocal cursor
        removed, cursor = store.purge_batch(conn, limits, cursor, dry_run=report.dry_run)
        report.removed.add(removed)
        return cursor is not None

    return _batches(database, report.dry_run, rest, batch)


def _purge_the_rest(database: Database, limits: Limits, report: PurgeReport, rest: Rest) -> bool:
    """Job nodes whose run never arrived, webhook deliveries, and test reports with their
    results (waiting ones too), older than the cut-off."""
    after: str | None = store.FIRST_ID

    def nodes(conn: Connection) -> bool:
        nonlocal after
        assert after is not None
        removed, after = store.detached_batch(
            conn, limits.org_id, limits.horizon_ms, after, dry_run=report.dry_run
        )
        report.detached_nodes += removed
        return after is not None

    def deliveries(conn: Connection) -> bool:
        removed = store.deliveries_batch(
            conn, limits.org_id, limits.horizon_ms, dry_run=report.dry_run
        )
        report.deliveries += removed
        return removed == store.DELIVERIES_PER_BATCH and not report.dry_run

    def test_results(conn: Connection) -> bool:
        removed, more = test_result_store.purge_reports_batch(
            conn, limits.org_id, limits.horizon_ms, dry_run=report.dry_run
        )
        report.test_results += removed
        return more

    return (
        _batches(database, report.dry_run, rest, nodes)
        and _batches(database, report.dry_run, rest, deliveries)
        and _batches(database, report.dry_run, rest, test_results)
    )


def organisations_to_purge(database: Database, org_name: str | None) -> list[Organisation]:
    with database.read() as conn:
        if org_name is None:
            return account_store.list_organisations(conn)
        found = account_store.find_organisation(conn, org_name)
    if found is None:
        raise NotFound(f"org: no organisation named {org_name!r} (see `cipulse orgs list`)")
    return [found]


def purge_due(database: Database, retention_days: int, rest: Rest) -> list[PurgeReport]:
    """What the server does once a day: purge every organisation whose horizon is before
    the cut-off of ``retention_days``, if no other server is purging."""
    first_kept = cutoff_day(retention_days)
    reports: list[PurgeReport] = []
    with store.purger_lock(database) as held:
        if not held:
            return reports
        for organisation in organisations_to_purge(database, None):
            with database.read() as conn:
                current = store.horizon(conn, organisation.id)
            if current is not None and current >= first_kept:
                continue
            report = purge(database, organisation, first_kept, rest=rest)
            reports.append(report)
            log.info("retention: %s", describe(report))
            if report.stopped:
                break
    return reports


def describe(report: PurgeReport) -> str:
    """One line for logs and the CLI."""
    removed = report.removed
    verb = "would purge" if report.dry_run else "purged"
    text = (
        f"{report.org_name}: {verb} {removed.runs:,} runs ({removed.attempts:,} attempts, "
        f"{removed.jobs:,} jobs) started before {day_text(report.purged_before_day)}, "
        f"{report.detached_nodes:,} job nodes whose run never arrived and "
        f"{report.deliveries:,} webhook deliveries"
    )
    if report.test_results:
        text += f"; {report.test_results:,} test results timed before the cut-off"
    if removed.kept_runs:
        text += f"; kept {removed.kept_runs:,} runs with a later attempt or a red period"
    if report.marked_day is not None and report.marked_day < report.cutoff_day:
        text += (
            f"; {day_text(report.marked_day)} still awaits the rollup refresher, so runs from "
            "that day on were kept (see `cipulse rollups status`)"
        )
    if report.stopped:
        text += "; stopped before the end (it goes on next time)"
    return text


class RetentionKeeper:
    """A daemon thread that applies ``CIPULSE_RETENTION_DAYS``: every
    ``CHECK_EVERY_SECONDS`` (and soon after the start) it purges what the passing of a day
    made older than the limit. Stopping interrupts a purge between two batches."""

    def __init__(self, database: Database, retention_days: int) -> None:
        self.database = database
        self.retention_days = retention_days
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cipulse-retention", daemon=True)

    @classmethod
    def started(cls, database: Database, retention_days: int) -> RetentionKeeper | None:
        """A running keeper, or None when everything is kept (``retention_days`` 0)."""
        if retention_days <= 0:
            return None
        keeper = cls(database, retention_days)
        keeper._thread.start()
        return keeper

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _rest(self, seconds: float) -> bool:
        return not self._stop.wait(seconds * PURGE_REST)

    def _run(self) -> None:
        delay = FIRST_CHECK_SECONDS  # let the server start first
        while not self._stop.wait(delay):
            delay = CHECK_EVERY_SECONDS
            try:
                purge_due(self.database, self.retention_days, self._rest)
            except CipulseError as exc:  # e.g. the database is briefly unavailable
                log.warning("retention: purge paused, retried later: %s", exc)
            except Exception:  # pragma: no cover - keep serving after a bug, loudly
                log.exception("retention: purge failed")
