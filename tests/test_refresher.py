"""The rollup refresher under data that once stalled it: attempts of one pipeline and branch
that end in the same millisecond with mixed outcomes, and a partition whose figures cannot be
stored. Every organisation's refresh goes on, the failure is reported, and the figures read
the same before and after the refresh, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from starlette.testclient import TestClient

from cipulse.accounts.service import AccountService
from cipulse.analytics import refresh
from cipulse.analytics.refresh import refresh_all
from cipulse.analytics.window import window_from
from cipulse.cli.main import cli
from cipulse.errors import CipulseError
from cipulse.ingestion.formats import parse_runwatch
from cipulse.ingestion.service import IngestRequest, IngestService
from cipulse.settings import Settings
from cipulse.storage.database import Database
from cipulse.storage.rollups import set_aside as rollup_failures
from cipulse.web.app import create_app
from tests.builders import runwatch_run
from tests.conftest import Tenant, count, make_tenant
from tests.presented import PresentedService

TIED = "2024-03-05T12:00:00Z"
WINDOW = {"since": "2024-03-01T00:00:00Z", "until": "2024-03-08T00:00:00Z"}


def ingest(database: Database, tenant: Tenant, payloads: list[dict[str, Any]]) -> None:
    requests = [
        IngestRequest(parse_runwatch(json.dumps(payload).encode()), api_key=tenant.key)
        for payload in payloads
    ]
    for outcome in IngestService(database).ingest_batch(requests):
        assert not isinstance(outcome, CipulseError), outcome


def tied_runs(count: int = 20, pipeline: str = "CI") -> list[dict[str, Any]]:
    """``count`` runs of one pipeline on main, failure and success by turns, every one
    started at 11:50 and completed at the same instant."""
    return [
        runwatch_run(
            pipeline_name=pipeline,
            run_id=1000 + n,
            run_attempt=1,
            branch="main",
            status="failure" if n % 2 == 0 else "success",
            started_at="2024-03-05T11:50:00Z",
            completed_at=TIED,
            duration_seconds=600,
            jobs=[],
        )
        for n in range(count)
    ]


def recovery(database: Database, org: str) -> dict[str, Any]:
    org_id = AccountService(database).organisation(org).id
    window = window_from(WINDOW, datetime.now(UTC), [])
    return PresentedService(database).recovery(org_id, window)


def marks_left(database: Database) -> int:
    return count(database, "rollup_dirty")


def test_outcomes_tied_to_the_millisecond_never_stall_the_refresh(
    database: Database, accounts: AccountService
) -> None:
    tied = make_tenant(accounts, "tied")
    other = make_tenant(accounts, "other")
    ingest(database, tied, tied_runs())
    ingest(database, other, [runwatch_run(run_id=1, status="success", jobs=[])])
    before = recovery(database, "tied")
    refresh_all(database)
    assert marks_left(database) == 0
    after = recovery(database, "tied")
    assert after == before
    # The rule for ties (docs/metrics.md): at one instant, successes are taken before
    # failures, so an instant with a failure ends red. Ten failures, one open red period.
    assert after["recovered_periods"] == 0
    assert [(p["branch"], p["red_since"], p["failing_attempts"]) for p in after["red_at_end"]] == [
        ("main", TIED, 10)
    ]
    # Two more ties, one of which recovers: the period opened at TIED ends, a new one starts.
    ingest(
        database,
        tied,
        [
            runwatch_run(
                pipeline_name="CI",
                run_id=2000 + n,
                branch="main",
                status=status,
                started_at="2024-03-06T11:50:00Z",
                completed_at="2024-03-06T12:00:00Z",
                jobs=[],
            )
            for n, status in enumerate(["failure", "success", "failure"])
        ],
    )
    refresh_all(database)
    assert marks_left(database) == 0
    found = recovery(database, "tied")
    assert [(p["red_since"], p["recovered_at"]) for p in found["periods"]] == [
        (TIED, "2024-03-06T12:00:00Z")
    ]
    assert [(p["red_since"], p["failing_attempts"]) for p in found["red_at_end"]] == [
        ("2024-03-06T12:00:00Z", 2)
    ]


def test_rollups_refresh_command_succeeds_on_tied_outcomes(
    database: Database, accounts: AccountService, database_url: str
) -> None:
    tied = make_tenant(accounts, "tied")
    ingest(database, tied, tied_runs())
    result = CliRunner().invoke(cli, ["--database-url", database_url, "rollups", "refresh"])
    assert result.exit_code == 0, result.output
    assert marks_left(database) == 0


def _poison(database: Database, pipeline_id: str) -> None:
    """A database trigger that refuses stored figures of one pipeline: a real failure of
    the database, as a constraint or a full disk would be."""
    with database.write() as conn:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql(
                "CREATE TRIGGER poison BEFORE INSERT ON run_rollups "
                f"WHEN NEW.pipeline_id = '{pipeline_id}' "
                "BEGIN SELECT RAISE(ABORT, 'poisoned partition'); END"
            )
        else:
            conn.exec_driver_sql(
                "CREATE FUNCTION poison() RETURNS trigger AS $$ BEGIN "
                f"IF NEW.pipeline_id = '{pipeline_id}' THEN "
                "RAISE EXCEPTION 'poisoned partition'; END IF; RETURN NEW; END $$ "
                "LANGUAGE plpgsql"
            )
            conn.exec_driver_sql(
                "CREATE TRIGGER poison BEFORE INSERT ON run_rollups "
                "FOR EACH ROW EXECUTE FUNCTION poison()"
            )


def _cure(database: Database) -> None:
    with database.write() as conn:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("DROP TRIGGER poison")
        else:
            conn.exec_driver_sql("DROP TRIGGER poison ON run_rollups")
            conn.exec_driver_sql("DROP FUNCTION poison()")


def _pipeline_id(database: Database, org: str, name: str) -> str:
    org_id = AccountService(database).organisation(org).id
    with database.read() as conn:
        return str(
            conn.execute(
                sa.text("SELECT id FROM pipelines WHERE org_id = :org AND name = :name"),
                {"org": org_id, "name": name},
            ).scalar_one()
        )


def test_a_partition_that_fails_is_set_aside_and_the_rest_is_refreshed(
    database: Database, accounts: AccountService, database_url: str
) -> None:
    first = make_tenant(accounts, "first")
    second = make_tenant(accounts, "second")
    runs = [
        runwatch_run(pipeline_name=name, run_id=n, status="success", jobs=[])
        for n, name in enumerate(["Poisoned", "Healthy"])
    ]
    ingest(database, first, runs)
    ingest(database, second, [runwatch_run(run_id=1, status="success", jobs=[])])
    poisoned = _pipeline_id(database, "first", "Poisoned")
    expected = PresentedService(database).pipelines(
        AccountService(database).organisation("first").id, window_from({}, datetime.now(UTC), [])
    )
    _poison(database, poisoned)

    taken = refresh_all(database)
    assert taken > 0
    with database.read() as conn:
        status = rollup_failures.status(conn)
    assert status.failing == 1
    assert "poisoned partition" in (status.failures[0].error or "")
    assert {m.pipeline_id for m in status.failures} == {poisoned}
    # Only the poisoned partition is left; reads stay exact meanwhile (it is read raw).
    assert marks_left(database) == 1
    org_id = AccountService(database).organisation("first").id
    assert (
        PresentedService(database).pipelines(org_id, window_from({}, datetime.now(UTC), []))
        == expected
    )
    # The background refresher leaves it aside until its retry time.
    assert refresh.refresh_round(database, settle_ms=0).taken == 0

    result = CliRunner().invoke(cli, ["--database-url", database_url, "rollups", "status"])
    assert result.exit_code == 1, result.output  # something to alert on
    assert "1 failing" in result.output and "poisoned partition" in result.output

    _cure(database)
    # An operator's `cipulse rollups refresh` retries failing partitions at once.
    result = CliRunner().invoke(cli, ["--database-url", database_url, "rollups", "refresh"])
    assert result.exit_code == 0, result.output
    assert marks_left(database) == 0
    with database.read() as conn:
        assert rollup_failures.status(conn).failing == 0


@pytest.mark.parametrize("runs", [3, 40])
def test_tied_red_periods_have_distinct_ids(runs: int) -> None:
    """Pure: the red periods of tied outcomes never share a start on one pipeline and branch."""
    from cipulse.analytics.run_metrics import red_periods
    from cipulse.domain.tallies import Outcome

    outcomes = [
        Outcome("p", "main", "failure" if n % 3 else "success", 1_000 + n // 4, f"a{n}")
        for n in range(runs)
    ]
    periods = red_periods(outcomes)
    starts = [(p.pipeline_id, p.branch, p.started_at_ms) for p in periods]
    assert len(starts) == len(set(starts))
    assert all(p.ended_at_ms is None or p.ended_at_ms > p.started_at_ms for p in periods)


def test_health_shows_what_waits_and_what_failed(
    database: Database, accounts: AccountService, settings: Settings
) -> None:
    """A partition set aside shows in /healthz, which stays 200: answers are exact meanwhile."""
    tenant = make_tenant(accounts, "first")
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        response = client.post(
            "/functions/v1/ingest",
            json=runwatch_run(pipeline_name="Poisoned", run_id=1, jobs=[]),
            headers=tenant.runwatch_headers,
        )
        assert response.status_code == 200, response.text
        waiting = client.get("/healthz").json()["rollups"]
        assert waiting["pending_partitions"] >= 1 and waiting["failing_partitions"] == 0
        _poison(database, _pipeline_id(database, "first", "Poisoned"))
        refresh_all(database)
        time.sleep(1.1)  # the probe's answer is shared for a second
        health = client.get("/healthz")
        assert health.status_code == 200
        rollups = health.json()["rollups"]
        assert rollups["failing_partitions"] == 1
        assert "poisoned partition" in rollups["failing"][0]["error"]
