"""Plan limits per organisation: repositories, and new run attempts per UTC month."""

from __future__ import annotations

from starlette.testclient import TestClient

from cipulse.accounts.service import AccountService
from cipulse.storage.clock import month_of, now_ms
from cipulse.storage.database import Database
from tests.builders import runwatch_run, trunk_event, trunk_request
from tests.conftest import Tenant, count

INGEST = "/functions/v1/ingest"


def post(client: TestClient, tenant: Tenant, **overrides: object) -> tuple[int, dict[str, object]]:
    response = client.post(INGEST, json=runwatch_run(**overrides), headers=tenant.runwatch_headers)
    return response.status_code, response.json()


def test_no_limits_by_default(client: TestClient, tenant: Tenant, accounts: AccountService) -> None:
    organisation = accounts.organisation("acme")
    assert (organisation.max_repositories, organisation.max_runs_per_month) == (None, None)
    for run_id in range(5):
        assert post(client, tenant, run_id=run_id, repository=f"acme/r{run_id}")[0] == 200


def test_run_limit_refuses_new_attempts_but_never_updates(
    client: TestClient, tenant: Tenant, accounts: AccountService, database: Database
) -> None:
    accounts.set_limits("acme", None, 2)
    assert post(client, tenant, run_id=1)[0] == 200
    assert post(client, tenant, run_id=2)[0] == 200
    status, body = post(client, tenant, run_id=3)
    assert status == 402
    month = month_of(now_ms())
    assert body["error"] == (
        f"plan limit exceeded: max_runs_per_month is 2 and 2 run attempts were already stored "
        f"in {month} (UTC)"
    )
    assert post(client, tenant, run_id=2, status="failure")[0] == 200  # an update: allowed
    assert count(database, "run_attempts") == 2
    assert accounts.usage("acme", month) == (1, 2)
    accounts.set_limits("acme", None, 0)  # 0 removes the limit
    assert post(client, tenant, run_id=3)[0] == 200


def test_repository_limit(client: TestClient, tenant: Tenant, accounts: AccountService) -> None:
    accounts.set_limits("acme", 1, None)
    assert post(client, tenant, repository="acme/one")[0] == 200
    assert post(client, tenant, repository="acme/one", run_id=2)[0] == 200
    status, body = post(client, tenant, repository="acme/two")
    assert status == 402
    assert body["error"] == (
        "plan limit exceeded: max_repositories is 1 and the organisation already has 1 repositories"
    )
    trunk = client.post(
        "/v1/metrics/trackEvents",
        json=trunk_request(trunk_event("r", "r"), name="three"),
        headers=tenant.trunk_headers,
    )
    assert trunk.status_code == 402


def test_limits_apply_within_one_batch(
    database: Database, tenant: Tenant, accounts: AccountService
) -> None:
    """Requests that share one group commit are counted one after another."""
    import json

    from cipulse.errors import PlanLimitExceeded
    from cipulse.ingestion.formats import parse_runwatch
    from cipulse.ingestion.service import IngestRequest, IngestService

    accounts.set_limits("acme", None, 3)
    requests = [
        IngestRequest(
            parse_runwatch(json.dumps(runwatch_run(run_id=i % 4)).encode()), api_key=tenant.key
        )
        for i in range(8)
    ]
    results = IngestService(database).ingest_batch(requests)
    refused = [i for i, r in enumerate(results) if isinstance(r, PlanLimitExceeded)]
    assert refused == [3, 7]  # run 3 is the 4th new attempt; the repeats of 0-2 are updates
    assert count(database, "run_attempts") == 3
