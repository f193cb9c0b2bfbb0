"""A job's failures split exactly, on SQLite and PostgreSQL: ``failures_passed_on_retry``
counts every failing execution after which the job ended success in a later attempt of the
same run (counted in the failing execution's window), ``failures_stayed_failed`` the rest.
Expected figures are worked out here from the attempts sent, not from what cipulse stored;
the raw path (before the refresh) and the stored path (after it) agree."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from cipulse.accounts.service import AccountService
from cipulse.analytics.refresh import refresh_all
from cipulse.domain.window import Window
from cipulse.storage.database import Database
from tests.builders import runwatch_job, runwatch_run
from tests.conftest import Tenant
from tests.presented import PresentedService

DAY0 = datetime(2024, 3, 4, 10, tzinfo=UTC)  # a Monday

#: Per run, the job "test"'s status in each attempt (the run's status is the same), and the
#: day each attempt starts on (days after DAY0).
RUNS: dict[int, list[tuple[str, int]]] = {
    1: [("failure", 0), ("failure", 1), ("success", 2)],  # both failures passed on a retry
    2: [("failure", 0)],  # stayed failed
    3: [("failure", 0), ("timed_out", 1)],  # both stayed failed
    4: [("success", 0)],
    5: [("success", 1)],
    6: [("failure", 1), ("success", 1)],  # passed on a retry, same day
}


def attempt(run_id: int, number: int, status: str, day: int) -> dict[str, Any]:
    start = DAY0 + timedelta(days=day, minutes=run_id * 10 + number)
    end = start + timedelta(minutes=5)
    iso = lambda moment: moment.isoformat().replace("+00:00", "Z")  # noqa: E731
    return runwatch_run(
        run_id=run_id,
        run_attempt=number,
        status=status,
        started_at=iso(start),
        completed_at=iso(end),
        jobs=[
            runwatch_job(
                "build", started_at=iso(start), completed_at=iso(start), duration_seconds=0
            ),
            runwatch_job("test", status, started_at=iso(start), completed_at=iso(end)),
        ],
    )


def expected(first_day: int, end_day: int) -> tuple[int, int]:
    """(failing executions, of which passed on a retry) of "test" in attempts started on
    days [first_day, end_day), whenever the passing attempt started."""
    failures = passed = 0
    for attempts in RUNS.values():
        for number, (status, day) in enumerate(attempts, start=1):
            if status == "success" or not first_day <= day < end_day:
                continue
            failures += 1
            passed += any(later == "success" for later, _ in attempts[number:])
    return failures, passed


def split_of(service: PresentedService, org_id: str, first_day: int, end_day: int) -> Any:
    since = DAY0.replace(hour=0) + timedelta(days=first_day)
    until = DAY0.replace(hour=0) + timedelta(days=end_day)
    window = Window(int(since.timestamp() * 1000), int(until.timestamp() * 1000))
    (row,) = [
        row for row in service.job_highlights(org_id, window, 10)["failing"] if row["job"] == "test"
    ]
    return row["failure_count"], row["failures_passed_on_retry"], row["failures_stayed_failed"]


def test_failures_passed_on_retry_are_counted_exactly(
    client: TestClient, database: Database, tenant: Tenant
) -> None:
    for run_id, attempts in RUNS.items():
        for number, (status, day) in enumerate(attempts, start=1):
            response = client.post(
                "/functions/v1/ingest",
                json=attempt(run_id, number, status, day),
                headers=tenant.runwatch_headers,
            )
            assert response.status_code == 200, response.text
    org_id = AccountService(database).organisation(tenant.name).id
    service = PresentedService(database)
    windows = [(0, 3), (0, 2), (1, 3)]
    assert expected(0, 3) == (6, 3)  # the worked example: 6 failures, 3 passed later
    for stored in (False, True):
        if stored:
            refresh_all(database)
        for first_day, end_day in windows:
            failures, passed = expected(first_day, end_day)
            got = split_of(service, org_id, first_day, end_day)
            assert got == (failures, passed, failures - passed), (stored, first_day, end_day)
