"""Idempotency under concurrency: many simultaneous posts of the same run, over real HTTP to
real servers, give one attempt, one id, and no duplicated jobs."""

from __future__ import annotations

import asyncio
from contextlib import ExitStack

import httpx
import pytest
import sqlalchemy as sa

from cipulse.accounts.service import AccountService
from cipulse.settings import Settings
from cipulse.storage.database import Database
from cipulse.storage.schema import metadata
from tests.builders import runwatch_job, runwatch_run
from tests.conftest import Tenant, count, rows
from tests.servers import threaded_server

CONCURRENT_POSTS = 50


async def _post_all(
    urls: list[str], tenant: Tenant, payloads: list[dict[str, object]]
) -> list[httpx.Response]:
    async with httpx.AsyncClient(timeout=30) as client:
        return await asyncio.gather(
            *(
                client.post(
                    f"{urls[i % len(urls)]}/functions/v1/ingest",
                    json=payload,
                    headers=tenant.runwatch_headers,
                )
                for i, payload in enumerate(payloads)
            )
        )


@pytest.mark.parametrize("writers", [1, 4])
def test_fifty_concurrent_posts_of_one_run_make_one_attempt(
    settings: Settings, tenant: Tenant, database: Database, writers: int
) -> None:
    settings = settings.model_copy(update={"ingest_writers": writers})
    jobs = [runwatch_job(f"job-{i}", job_id=str(i)) for i in range(5)] + [runwatch_job("no-id")]
    payloads = [runwatch_run(jobs=jobs) for _ in range(CONCURRENT_POSTS)]
    # Two servers on one database, as behind a load balancer.
    with ExitStack() as stack:
        urls = [stack.enter_context(threaded_server(settings)) for _ in range(2)]
        responses = asyncio.run(_post_all(urls, tenant, payloads))
    assert [r.status_code for r in responses] == [200] * CONCURRENT_POSTS
    assert len({r.json()["pipeline_run_id"] for r in responses}) == 1
    assert count(database, "run_attempts") == 1
    assert count(database, "jobs") == 6
    assert count(database, "pipelines") == 1


def test_concurrent_running_and_finished_posts_end_finished(
    settings: Settings, tenant: Tenant, database: Database
) -> None:
    running = runwatch_run(
        status="running", completed_at=None, jobs=[runwatch_job("a", status="running")]
    )
    finished = runwatch_run(status="success", jobs=[runwatch_job("a")])
    payloads = [running, finished] * (CONCURRENT_POSTS // 2)
    with ExitStack() as stack:
        urls = [stack.enter_context(threaded_server(settings)) for _ in range(2)]
        responses = asyncio.run(_post_all(urls, tenant, payloads))
    assert {r.status_code for r in responses} == {200}
    (attempt,) = rows(database, "run_attempts")
    assert attempt["status"] == "success"
    assert [j["status"] for j in rows(database, "jobs")] == ["success"]


def test_many_distinct_runs_in_parallel_are_all_stored(
    settings: Settings, tenant: Tenant, database: Database
) -> None:
    payloads = [
        runwatch_run(run_id=i, jobs=[runwatch_job("a"), runwatch_job("b")]) for i in range(200)
    ]
    with threaded_server(settings) as url:
        responses = asyncio.run(_post_all([url], tenant, payloads))
    assert {r.status_code for r in responses} == {200}
    assert len({r.json()["pipeline_run_id"] for r in responses}) == 200
    assert (count(database, "run_attempts"), count(database, "jobs")) == (200, 400)


def test_a_read_sees_one_state_of_the_database_throughout(database: Database) -> None:
    """A page reads stored rollups, their marks and raw rows in several statements; a write
    committed between two of them (the refresher's, say) must not show in the second one, or
    the page counts something twice or not at all. SQLite's read transactions are snapshots;
    on PostgreSQL the readers run at REPEATABLE READ."""
    accounts = AccountService(database)
    accounts.create_organisation("before")
    organisations = sa.select(sa.func.count()).select_from(metadata.tables["organisations"])
    with database.read() as conn:
        first = conn.execute(organisations).scalar_one()
        accounts.create_organisation("meanwhile")
        second = conn.execute(organisations).scalar_one()
    assert second == first
    assert count(database, "organisations") == first + 1
