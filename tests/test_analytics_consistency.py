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


def random_jobs(rng: random.Random, started: datetime) -> list[dict[str, object]]:
    jobs = []
    for name in rng.sample(["lint", "build", "unit", "e2e", "deploy"], rng.randint(1, 5)):
        start = started + timedelta(seconds=rng.randrange(0, 300))
        end = None if rng.random() < 0.1 else start + timedelta(seconds=rng.randrange(1, 600))
        jobs.append(
            {
                "name": name,
                "status": rng.choice(STATUSES),
                "started_at": start.isoformat(),
                **({"completed_at": end.isoformat()} if end else {}),
            }
        )
    return jobs


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


def job_reference(
    database: Database, org_id: str, window: Window
) -> dict[tuple[str, str], dict[str, object]]:
    """Job metrics job by job, exclusive time computed from the timestamps."""
    from collections import defaultdict

    from cipulse.analytics import job_metrics

    with database.read() as conn:
        in_window = store.attempts_in_window(conn, org_id, window)
        history = store.attempts_of_runs(conn, org_id, run_metrics.runs_needing_history(in_window))
        flaky = run_metrics.flaky_runs(in_window, history)
        wanted = {a.id for a in in_window} | {a.id for run in flaky.values() for a in run.failing}
        rows = store.jobs_of(conn, org_id, sorted(wanted))
    by_attempt: dict[str, list[dict[str, object]]] = defaultdict(list)
    for row in rows:
        by_attempt[row["attempt_id"]].append(row)
    exclusive = {}
    window_jobs = []
    for attempt in in_window:
        window_jobs += by_attempt.get(attempt.id, [])
        for key, seconds in job_metrics.exclusive_seconds(by_attempt.get(attempt.id, [])).items():
            exclusive[(attempt.id, key)] = seconds
    summaries = job_metrics.job_summaries(
        window,
        {a.id: a.pipeline_id for a in in_window},
        window_jobs,
        exclusive,
        job_metrics.flaky_jobs(flaky, by_attempt),
    )
    return {(row["pipeline_id"], row["definition_key"]): row for row in summaries}


@pytest.mark.parametrize("seed", [3])
def test_database_job_figures_equal_the_reference(
    database: Database, tenant: Tenant, seed: int
) -> None:
    requests = [
        IngestRequest(parse_runwatch(json.dumps(payload).encode()), api_key=tenant.key)
        for payload in random_attempts(seed, 200)
    ]
    IngestService(database).ingest_batch(requests)
    org_id = store_org(database)
    window = Window(
        int(START.timestamp() * 1000), int((START + timedelta(days=30)).timestamp() * 1000)
    )
    expected = job_reference(database, org_id, window)
    got = {
        (row["pipeline_id"], row["definition_key"]): row
        for row in AnalyticsService(database).jobs(org_id, window)
    }
    assert set(got) == set(expected)
    for key, row in expected.items():
        for name, value in row.items():
            if name != "job":
                assert got[key][name] == pytest.approx(value), (key, name)
