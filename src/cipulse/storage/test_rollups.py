"""Test counts per test and UTC day, added to as each report is stored.

Unlike the run rollups (recomputed by the refresher from marks), a test's daily counts are
added to in the ingest transaction: a result never changes once stored (a report is stored
whole or not at all, and joining its run later moves no result to another day), so adding
each new report's results once keeps them exact. The upsert adds them in the database
itself (``runs = runs + excluded.runs``): nothing is read, no lock is needed, and concurrent
reports of the same tests add up.

The duration histogram cannot be added in SQL: merging it means reading, merging and
writing back each test's row, measured at about 450 ms for a 5,000-case report on SQLite,
which would double the time of an upload. It stays NULL here, for a later refresher pass
that computes it from the results (``duration_ms_sum`` and ``timed`` give the mean now)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.engine import Connection

from cipulse.storage.dialect import bulk_insert
from cipulse.storage.schema_tests import test_daily_rollups

_ADDED = ("runs", "failures", "skipped", "flaky", "timed", "duration_ms_sum")
_UPSERT = "ON CONFLICT (org_id, test_case_id, day) DO UPDATE SET " + ", ".join(
    f"{c} = test_daily_rollups.{c} + excluded.{c}" for c in _ADDED
)


@dataclass(slots=True)
class TestDay:
    """One test's results of a day, as they add up."""

    __test__ = False

    runs: int = 0
    failures: int = 0
    skipped: int = 0
    flaky: int = 0
    timed: int = 0
    duration_ms_sum: int = 0

    def add(self, failed: bool, skipped: bool, flaky: bool, duration_ms: int | None) -> None:
        self.runs += 1
        self.failures += failed
        self.skipped += skipped
        self.flaky += flaky
        if duration_ms is not None:
            self.timed += 1
            self.duration_ms_sum += duration_ms


def add_to_daily_rollups(
    conn: Connection, org_id: str, day: int, tests: dict[int, TestDay]
) -> None:
    """Add the results of one day to their tests' rows, in key order (concurrent writers
    then lock rows in one order)."""
    rows = [
        (org_id, case_id, day, t.runs, t.failures, t.skipped, t.flaky, t.timed, t.duration_ms_sum)
        for case_id, t in sorted(tests.items())
    ]
    bulk_insert(conn, test_daily_rollups, [(*row, None) for row in rows], _UPSERT)
