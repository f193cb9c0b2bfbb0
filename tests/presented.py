"""The analytics service's answers as the read API presents them (JSON objects).

Tests written against the wire's field names call the service through this wrapper: each
answer goes through the same presenter (``web/presenters.py``) the read API and the
dashboard use, so the assertions read the fields a client reads."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cipulse.analytics.service import AnalyticsService
from cipulse.storage.clock import now_ms
from cipulse.storage.database import Database
from cipulse.web import presenters

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
