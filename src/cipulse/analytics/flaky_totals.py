"""The Flaky page's heading figures, over every flaky job.

The figures of the Flaky page's header: over every flaky job of the view, never over the
page shown."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cipulse.analytics.job_metrics import FlakyJob


@dataclass(frozen=True, slots=True)
class FlakyTotals:
    """``jobs``: how many jobs were flaky; ``retry_compute_seconds``: what their retries
    cost, summed over all of them."""

    jobs: int
    retry_compute_seconds: float


def flaky_totals(rows: Sequence[FlakyJob]) -> FlakyTotals:
    """The totals of the whole list of flaky jobs (``AnalyticsService.all_flaky``)."""
    return FlakyTotals(
        jobs=len(rows), retry_compute_seconds=sum(row.retry_compute_seconds for row in rows)
    )
