"""The database-computed figures equal a straightforward computation on the raw rows, on a
random dataset (retries, every status, unknown durations, several pipelines and branches)."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta

import pytest

from cipulse.analytics import run_metrics
from cipulse.analytics.service import AnalyticsService
from cipulse.domain.window import Filters, Window
from cipulse.ingestion.formats import parse_runwatch
from cipulse.ingestion.service import IngestRequest, IngestService
from cipulse.storage import analytics_store as store
from cipulse.storage.database import Database
from tests.builders import runwatch_run
from tests.conftest import Tenant

STATUSES = ["success"] * 6 + ["failure", "failure", "timed_out", "cancelled", "skipped", "running"]
START = datetime(2024, 1, 1, tzinfo=UTC)


def random_attempts(seed: int, runs: int) -> list[dict[str, object]]:
    rng = random.Random(seed)
    payloads = []
    for run_id in range(runs):
        pipeline = rng.choice(["build", "deploy", "nightly"])
        branch = rng.choice(["main", "main", "feature/x", "fix/y"])
        started = START + timedelta(minutes=rng.randrange(0, 60 * 24 * 20))
        for attempt in range(1, rng.choice([1, 1, 1, 2, 3]) + 1):
            status = rng.choice(STATUSES)
            duration = None if rng.random() < 0.1 else round(rng.lognormvariate(5, 1), 3)
            payloads.append(
                runwatch_run(
                    run_id=run_id,
                    run_attempt=attempt,
                    pipeline_name=pipeline,
                    branch=branch,
                    status=status,
                    started_at=(started + timedelta(hours=attempt)).isoformat(),
                    completed_at=None,
                    duration_seconds=duration,
                    compute_seconds=None if duration is None else duration * 2,
                    jobs=[],
                )
            )
    return payloads


def reference(database: Database, org_id: str, window: Window) -> dict[str, object]:
    with database.read() as conn:
        in_window = store.attempts_in_window(conn, org_id, window)
        history = store.attempts_of_runs(conn, org_id, run_metrics.runs_needing_history(in_window))
    return run_metrics.summary(window, in_window, history)


@pytest.mark.parametrize("seed", [7, 8])
def test_database_figures_equal_the_reference(
    database: Database, tenant: Tenant, seed: int
) -> None:
    requests = [
        IngestRequest(parse_runwatch(json.dumps(payload).encode()), api_key=tenant.key)
        for payload in random_attempts(seed, 300)
    ]
    IngestService(database).ingest_batch(requests)
    org_id = store_org(database)
    service = AnalyticsService(database)
    windows = [
        Window(int(START.timestamp() * 1000), int((START + timedelta(days=10)).timestamp() * 1000)),
        Window(
            int((START + timedelta(days=5)).timestamp() * 1000),
            int((START + timedelta(days=25)).timestamp() * 1000),
            Filters(branch="main"),
        ),
        Window(
            int(START.timestamp() * 1000),
            int((START + timedelta(days=30)).timestamp() * 1000),
            Filters(statuses=("failure", "timed_out")),
        ),
    ]
    for window in windows:
        expected = reference(database, org_id, window)
        got = service.summary(org_id, window)
        for name, value in expected.items():
            assert got[name] == pytest.approx(value), (name, window)
        for pipeline in service.pipelines(org_id, window):
            narrowed = Window(
                window.since_ms,
                window.until_ms,
                Filters(
                    pipeline_id=pipeline["id"],
                    branch=window.filters.branch,
                    statuses=window.filters.statuses,
                ),
            )
            expected = reference(database, org_id, narrowed)
            for name, value in expected.items():
                assert pipeline[name] == pytest.approx(value), (name, pipeline["name"])


def store_org(database: Database) -> str:
    from cipulse.accounts.service import AccountService

    return AccountService(database).organisation("acme").id
