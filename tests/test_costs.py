"""A run's and a pull request's cost over HTTP on SQLite and PostgreSQL, computed by hand:
RunWatch runs with runner label sets (GitHub's rounded minutes, GitLab's exact ones, a price
change at midnight, a platform charge), a failed attempt superseded by a retry (waste), a
job without a rate (unknown, named), and the rate card read back from ``/api/v1/rates``."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from cipulse.accounts.rates import RateService, parse_rate
from cipulse.accounts.service import AccountService
from cipulse.domain.costs import NO_RATE
from cipulse.storage.database import Database
from tests.builders import real_fixture, runwatch_run
from tests.test_queue_and_runners import GITHUB_JOB, only_detail, post_github_job
from tests.webhooks import Hooked, hooked_org, read

WINDOW = {"since": "2025-12-01T00:00:00Z", "until": "2026-02-01T00:00:00Z"}


@pytest.fixture
def org(database: Database) -> Hooked:
    found = hooked_org(database)
    RateService(database).set_rates(
        found.name,
        [
            parse_rate("github", "ubuntu-latest", "0.008"),
            parse_rate("github", "ubuntu-latest", "0.006", effective="2026-01-01"),
            parse_rate("github", "*gpu*", "0.05", "0.002"),
            parse_rate("gitlab", "saas-linux-large-amd64", "0.03"),
        ],
    )
    return found


@pytest.fixture
def ingest_key(database: Database, org: Hooked) -> str:
    return AccountService(database).create_key(org.name, scopes=("ingest",)).key


def job(name: str, labels: Any, seconds: float, started: str, **fields: Any) -> dict[str, Any]:
    return {
        "name": name,
        "status": "success",
        "runner_labels": labels,
        "duration_seconds": seconds,
        "started_at": started,
        **fields,
    }


def post(client: TestClient, key: str, **run: Any) -> None:
    payload = runwatch_run(**run)
    response = client.post("/api/v1/ingest", json=payload, headers={"X-API-Key": key})
    assert response.status_code == 200, response.text


def detail_of(client: TestClient, org: Hooked, run_id: int, attempt: int) -> dict[str, Any]:
    items = read(client, org, "/api/v1/runs", **WINDOW)["items"]
    (found,) = [
        item for item in items if item["run_key"] == str(run_id) and item["attempt"] == attempt
    ]
    return read(client, org, f"/api/v1/runs/{found['id']}")  # type: ignore[no-any-return]


FAILED = {
    "run_id": 1,
    "run_attempt": 1,
    "status": "failure",
    "started_at": "2025-12-31T23:59:00Z",
    "completed_at": "2026-01-01T00:02:00Z",
    "pull_request_number": 7,
    "jobs": [
        # 61 s → 2 whole minutes at 0.008 (the old price: it started on 2025-12-31) = 0.016
        job("build", ["ubuntu-latest"], 61, "2025-12-31T23:59:30Z"),
        # 60 s → 1 minute at 0.006 (the new price from 2026-01-01) = 0.006
        job("test", "ubuntu-latest", 60, "2026-01-01T00:00:10Z"),
        # 90.5 s → 2 minutes at 0.05 + 0.002 platform = 0.104
        job("gpu", ["self-hosted", "gpu"], 90.5, "2026-01-01T00:00:00Z", status="failure"),
    ],
}
RETRY = {
    **FAILED,
    "run_attempt": 2,
    "status": "success",
    "started_at": "2026-01-02T10:00:00Z",
    "completed_at": "2026-01-02T10:01:00Z",
    # 30 s → 1 minute at 0.006
    "jobs": [job("build", "ubuntu-latest", 30, "2026-01-02T10:00:00Z")],
}


def test_a_run_attempts_cost_and_waste(client: TestClient, org: Hooked, ingest_key: str) -> None:
    post(client, ingest_key, **FAILED)
    failed = detail_of(client, org, 1, 1)["cost"]
    assert failed["currency"] == "USD"
    assert failed["billing"] == "each job rounded up to the whole minute"
    # 0.016 + 0.006 + 0.104 = 0.126, over 2 + 1 + 2 = 5 billed minutes, all waste (failed)
    assert (failed["total"], failed["billed_minutes"]) == ("0.126", "5.000")
    assert (failed["wasted"], failed["superseded"], failed["waste"]) == (True, False, "0.126")
    costs = {job["name"]: (job["billed_minutes"], job["cost"]) for job in failed["jobs"]}
    assert costs == {
        "build": ("2.000", "0.016"),
        "test": ("1.000", "0.006"),
        "gpu": ("2.000", "0.104"),
    }
    gpu = next(job for job in failed["jobs"] if job["name"] == "gpu")
    assert gpu["rate"] == {
        "provider": "github",
        "pattern": "*gpu*",
        "effective": "1970-01-01",
        "price": "0.05",
        "platform": "0.002",
        "billing": "each job rounded up to the whole minute",
    }
    post(client, ingest_key, **RETRY)
    superseded = detail_of(client, org, 1, 1)["cost"]
    assert (superseded["superseded"], superseded["waste"]) == (True, "0.126")
    retry = detail_of(client, org, 1, 2)["cost"]
    assert (retry["total"], retry["wasted"], retry["waste"]) == ("0.006", False, "0.00")


def test_a_job_without_a_rate_makes_the_cost_unknown(
    client: TestClient, org: Hooked, ingest_key: str
) -> None:
    jobs = [
        job("build", "ubuntu-latest", 60, "2026-01-05T00:00:00Z"),
        job("lint", "windows-latest", 60, "2026-01-05T00:00:00Z"),
        job("old", None, 60, "2026-01-05T00:00:00Z"),
    ]
    times = {"started_at": "2026-01-05T00:00:00Z", "completed_at": "2026-01-05T00:01:00Z"}
    post(client, ingest_key, run_id=2, **times, jobs=jobs)
    cost = detail_of(client, org, 2, 1)["cost"]
    assert (cost["total"], cost["waste"], cost["billed_minutes"]) == (None, "0.00", "3.000")
    assert cost["unpriced_jobs"] == ["lint", "old"]
    missing = {job["name"]: job["missing"] for job in cost["jobs"]}
    assert missing == {"build": None, "lint": NO_RATE, "old": "no runner label set"}


def test_gitlab_minutes_are_exact(client: TestClient, org: Hooked, ingest_key: str) -> None:
    jobs = [
        # 90 s = 1.5 minutes at 0.03 = 0.045
        job("build", "saas-linux-large-amd64", 90, "2026-01-05T00:00:00Z"),
        # 1.001 s = 1001 ms * 30,000 µ / 60,000 = 500.5 µ → 500 µ (half to even)
        job("tiny", "saas-linux-large-amd64", 1.001, "2026-01-05T00:01:30Z"),
    ]
    times = {"started_at": "2026-01-05T00:00:00Z", "completed_at": "2026-01-05T00:01:40Z"}
    post(client, ingest_key, provider="gitlab", run_id=3, **times, jobs=jobs)
    cost = detail_of(client, org, 3, 1)["cost"]
    assert cost["billing"] == "exact minutes"
    assert (cost["total"], cost["billed_minutes"]) == ("0.0455", "1.517")


def test_a_pull_requests_cost_over_its_attempts(
    client: TestClient, org: Hooked, ingest_key: str, database: Database
) -> None:
    post(client, ingest_key, **FAILED)
    post(client, ingest_key, **RETRY)
    (row,) = read(client, org, "/api/v1/pull-requests", **WINDOW)["items"]
    detail = read(client, org, f"/api/v1/pull-requests/{row['id']}")
    # 0.126 (failed, superseded: waste) + 0.006 (the green retry)
    assert detail["cost"] == {
        "currency": "USD",
        "total": "0.132",
        "waste": "0.126",
        "attempts": 2,
        "complete": True,
        "unpriced_jobs": 0,
        "unpriced": [],
    }
    RateService(database).set_currency(org.name, "eur")
    RateService(database).remove(org.name, "github", "*gpu*")
    unknown = read(client, org, f"/api/v1/pull-requests/{row['id']}")["cost"]
    assert (unknown["currency"], unknown["total"], unknown["waste"]) == ("EUR", None, None)
    assert [(job["name"], job["missing"]) for job in unknown["unpriced"]] == [("gpu", NO_RATE)]


def test_the_rate_card_is_read_back(client: TestClient, org: Hooked) -> None:
    card = read(client, org, "/api/v1/rates")
    assert card["currency"] == "USD"
    assert [(r["provider"], r["pattern"], r["effective"], r["price"]) for r in card["rates"]] == [
        ("github", "*gpu*", "1970-01-01", "0.05"),
        ("github", "ubuntu-latest", "1970-01-01", "0.008"),
        ("github", "ubuntu-latest", "2026-01-01", "0.006"),
        ("gitlab", "saas-linux-large-amd64", "1970-01-01", "0.03"),
    ]
    assert client.get("/api/v1/rates").status_code == 401


def test_githubs_documented_job_at_the_published_rates(
    client: TestClient, database: Database
) -> None:
    """GitHub's documented ``workflow_job`` ran on ``ubuntu-latest`` from 10:34:58 to
    10:38:16 on 2021-08-05: 3 min 18 s, billed as 4 minutes at the Linux 2-core price
    before 2026, $0.008: $0.032."""
    org = hooked_org(database, "globex")
    RateService(database).load_defaults(org.name)
    post_github_job(client, org, real_fixture(GITHUB_JOB))
    cost = only_detail(client, org)["cost"]
    assert (cost["total"], cost["billed_minutes"], cost["unpriced_jobs"]) == ("0.032", "4.000", [])
    (priced,) = cost["jobs"]
    assert (priced["rate"]["pattern"], priced["rate"]["price"]) == ("ubuntu-*", "0.008")


def test_a_calendar_month_is_compared_with_the_month_before(
    client: TestClient, org: Hooked, ingest_key: str
) -> None:
    """March 2026 (31 days) against February (28), not the 31 days before March: the run of
    January 30 (10 minutes, 0.06) is in neither. By hand at $0.006 a minute: March 2 min =
    0.012; February 2 min (61 s rounded up) + 1 min = 0.018; the change -1/3."""
    from decimal import Decimal

    def run(run_id: int, day: str, *seconds: int) -> None:
        started = f"2026-{day}T10:00:00Z"
        jobs = [job(f"j{i}", ["ubuntu-latest"], s, started) for i, s in enumerate(seconds)]
        post(client, ingest_key, run_id=run_id, started_at=started, completed_at=None, jobs=jobs)

    run(1, "03-05", 120)
    run(2, "02-10", 61, 30)
    run(3, "01-30", 600)
    march = {"since": "2026-03-01T00:00:00Z", "until": "2026-04-01T00:00:00Z"}
    found = read(client, org, "/api/v1/analytics/costs", **march)
    assert found["previous"]["window"]["since"] == "2026-02-01T00:00:00Z"
    assert found["previous"]["window"]["until"] == "2026-03-01T00:00:00Z"
    assert found["previous"]["window"]["days"] == 28.0
    assert (Decimal(found["cost"]), Decimal(found["previous"]["cost"])) == (
        Decimal("0.012"),
        Decimal("0.018"),
    )
    assert found["changes"]["cost"]["change"] == pytest.approx(-1 / 3)
    summary = read(client, org, "/api/v1/analytics/summary", **march)
    assert (summary["runs"], summary["previous"]["runs"]) == (1, 1)
    # Not a whole month (one day short): the 30 days before, January 30 included.
    cut = read(client, org, "/api/v1/analytics/summary", since=march["since"],
               until="2026-03-31T00:00:00Z")  # fmt: skip
    assert cut["previous"]["window"]["since"] == "2026-01-30T00:00:00Z"
    assert cut["previous"]["runs"] == 2
