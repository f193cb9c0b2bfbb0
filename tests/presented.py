"""The analytics service's answers as the read API presents them (JSON objects).

Tests written against the wire's field names call the service through this wrapper: each
answer goes through the same presenter (``web/presenters.py``) the read API and the
dashboard use, so the assertions read the fields a client reads."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cipulse.analytics.paging import Page
from cipulse.analytics.service import AnalyticsService
from cipulse.storage.clock import now_ms
from cipulse.storage.database import Database
from cipulse.web import list_presenters, presenters

Json = dict[str, Any]


class PresentedService:
    """``AnalyticsService`` whose typed answers come back as their JSON; the methods that
    answer names or ids (``run_span``, ``pipeline``…) are the service's own."""

    def __init__(self, database: Database, clock: Callable[[], int] = now_ms) -> None:
        self.service = AnalyticsService(database, clock)
        self.database = database

    def __getattr__(self, name: str) -> Any:
        return getattr(self.service, name)

    def summary(self, *args: Any) -> Json:
        return presenters.summary_json(self.service.summary(*args))

    def timeseries(self, *args: Any) -> Json:
        return presenters.timeseries_json(self.service.timeseries(*args))

    def run_series(self, *args: Any) -> list[Json]:
        return [presenters.series_bucket_json(b) for b in self.service.run_series(*args)]

    def recovery(self, *args: Any) -> Json:
        return presenters.recovery_json(self.service.recovery(*args))

    def custom_metric(self, *args: Any) -> Json:
        return presenters.custom_metric_json(self.service.custom_metric(*args))

    def repositories(self, *args: Any) -> Page[Json]:
        found = self.service.repositories(*args)
        return Page(
            [list_presenters.repository_row_json(r) for r in found.items], found.next_cursor
        )

    def all_repositories(self, *args: Any) -> list[Json]:
        return [
            list_presenters.repository_row_json(r) for r in self.service.all_repositories(*args)
        ]

    def pipelines(self, *args: Any) -> Page[Json]:
        found = self.service.pipelines(*args)
        return Page([list_presenters.pipeline_row_json(r) for r in found.items], found.next_cursor)

    def all_pipelines(self, *args: Any) -> list[Json]:
        return [list_presenters.pipeline_row_json(r) for r in self.service.all_pipelines(*args)]

    def pipelines_shown(self, *args: Any) -> tuple[list[Json], int]:
        shown, total = self.service.pipelines_shown(*args)
        return [list_presenters.pipeline_row_json(row) for row in shown], total

    def pipeline_highlights(self, *args: Any) -> dict[str, list[Json]]:
        return list_presenters.pipeline_highlights_json(self.service.pipeline_highlights(*args))

    def jobs(self, *args: Any) -> Page[Json]:
        found = self.service.jobs(*args)
        return Page([list_presenters.job_row_json(row) for row in found.items], found.next_cursor)

    def job_highlights(self, *args: Any) -> dict[str, list[Json]]:
        return list_presenters.job_highlights_json(self.service.job_highlights(*args))

    def flaky(self, *args: Any) -> Page[Json]:
        found = self.service.flaky(*args)
        return Page([list_presenters.flaky_job_json(r) for r in found.items], found.next_cursor)

    def all_flaky(self, *args: Any) -> list[Json]:
        return [list_presenters.flaky_job_json(row) for row in self.service.all_flaky(*args)]

    def latest_runs(self, *args: Any) -> dict[str, list[Json]]:
        return {
            pipeline_id: [presenters.latest_attempt_json(attempt) for attempt in attempts]
            for pipeline_id, attempts in self.service.latest_runs(*args).items()
        }
