"""Recent days are also kept by the hour, so windows whose edges fall inside days (the last
24 hours) and hourly series read rollups too. The figures equal the straightforward
computation on the raw rows, on a random dataset of the last days, before the refresh,
after it, after re-posts that move attempts between statuses and hours, and after refreshing
again; on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cipulse.analytics import pieces, rollups
from cipulse.analytics.buckets import Interval
from cipulse.analytics.refresh import refresh_all
from cipulse.domain.window import DAY_MS, HOUR_MS, Filters, Window
from cipulse.storage.database import Database
from tests.conftest import Tenant, rows
from tests.presented import PresentedService
from tests.test_analytics_consistency import (
    check_jobs,
    check_runs,
    ingest,
    ms,
    random_attempts,
    store_org,
)

#: Slow: the consistency tests compute every figure twice over random histories.
#: make test-fast skips them; make test and CI run them.
pytestmark = pytest.mark.slow


def recent_windows(now: datetime) -> list[Window]:
    """The last 24 hours, windows ending in the past or starting before yesterday (raw
    edges then), one starting at a whole hour, branch scopes, and a filter the rollups do
    not split by."""
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    hour = now.replace(minute=0, second=0, microsecond=0)
    return [
        Window(ms(now - timedelta(hours=24)), ms(now)),
        Window(ms(now - timedelta(hours=30, minutes=17)), ms(now - timedelta(hours=2))),
        Window(ms(midnight - timedelta(hours=5)), ms(now)),
        Window(ms(hour - timedelta(hours=20)), ms(hour)),
        Window(ms(midnight - timedelta(days=2, hours=3)), ms(now)),
        Window(ms(midnight - timedelta(days=3, hours=3)), ms(now - timedelta(hours=50))),
        Window(ms(now - timedelta(hours=24)), ms(now), Filters(branch_scope="default")),
        Window(ms(now - timedelta(hours=40)), ms(now), Filters(branch_scope="other")),
        Window(ms(now - timedelta(hours=24)), ms(now), Filters(branch="main")),
    ]


@pytest.mark.parametrize("seed", [21])
def test_recent_figures_equal_the_reference_stored_or_not(
    database: Database, tenant: Tenant, seed: int
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    start = now - timedelta(days=4)
    ingest(database, tenant, random_attempts(seed, 200, with_jobs=True, start=start, days=4))
    org_id = store_org(database)
    windows = recent_windows(now)
    intervals = (Interval.HOUR, Interval.DAY)
    check_runs(database, org_id, windows, intervals, pages=False)
    check_jobs(database, org_id, windows)
    assert refresh_all(database) > 0
    check_runs(database, org_id, windows, intervals)
    check_jobs(database, org_id, windows)
    assert_reads_hours(database, org_id, windows[0])
    variant = random_attempts(seed, 200, with_jobs=True, variant=1, start=start, days=4)
    ingest(database, tenant, variant)
    check_runs(database, org_id, windows, intervals)
    check_jobs(database, org_id, windows)
    refresh_all(database)
    check_runs(database, org_id, windows, intervals, pages=False)
    check_jobs(database, org_id, windows)


def assert_reads_hours(database: Database, org_id: str, window: Window) -> None:
    """Once refreshed, the last 24 hours read raw rows only for the parts of hours at its
    ends, by the hour or not."""
    read: list[Window] = []

    def recording(original: Callable[..., Any]) -> Callable[..., Any]:
        def recorded(*args: Any, **kwargs: Any) -> Any:
            read.append(args[2])
            return original(*args, **kwargs)

        return recorded

    service = PresentedService(database)
    with pytest.MonkeyPatch.context() as patch:
        for name in ("raw_piece", "raw_pieces_by_hour"):
            patch.setattr(pieces, name, recording(getattr(pieces, name)))
        service.summary(org_id, window)
        service.jobs(org_id, window)
        service.timeseries(org_id, window, "runs", Interval.HOUR)
    assert read
    assert all(piece.until_ms - piece.since_ms < HOUR_MS for piece in read), read


def test_hours_are_stored_for_recent_days_only(database: Database, tenant: Tenant) -> None:
    """The refresher stores hours for today and the three days before, and deletes older
    hours; reads take hours of today and the two days before."""
    now = datetime.now(UTC).replace(microsecond=0)
    ingest(database, tenant, random_attempts(5, 60, start=now - timedelta(days=5), days=5))
    refresh_all(database)
    today = ms(now) // DAY_MS
    hour_days = {
        row["period"] * HOUR_MS // DAY_MS for row in rows(database, "run_rollups", grain=0)
    }
    assert hour_days
    assert min(hour_days) >= today - rollups.HOURLY_DAYS
    assert rollups.hourly_from_ms(ms(now)) == (today - 2) * DAY_MS
    span = rollups.cover(
        ms(now - timedelta(hours=24)),
        ms(now),
        hours_from_ms=rollups.hourly_from_ms(ms(now)),
    )
    assert len(span.hours) in (23, 24)
    assert all(until - since < HOUR_MS for since, until in span.edges)
