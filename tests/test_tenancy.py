"""A key of one organisation never reads or writes another's data."""

from __future__ import annotations

from starlette.testclient import TestClient

from cipulse.accounts.service import AccountService
from cipulse.storage.database import Database
from tests.builders import TRUNK_EXAMPLE, runwatch_run
from tests.conftest import Tenant, make_tenant, rows


def test_same_run_in_two_organisations_is_two_runs(
    client: TestClient, accounts: AccountService, database: Database
) -> None:
    acme, globex = make_tenant(accounts, "acme"), make_tenant(accounts, "globex")
    a = client.post(
        "/functions/v1/ingest", json=runwatch_run(status="success"), headers=acme.runwatch_headers
    )
    g = client.post(
        "/functions/v1/ingest", json=runwatch_run(status="failure"), headers=globex.runwatch_headers
    )
    assert a.json()["pipeline_run_id"] != g.json()["pipeline_run_id"]
    by_org = {r["org_id"]: r["status"] for r in rows(database, "run_attempts")}
    assert sorted(by_org.values()) == ["failure", "success"]
    acme_org = accounts.organisation("acme").id
    assert by_org[acme_org] == "success"  # globex's post did not touch acme's run
    for table in ("repositories", "pipelines", "jobs"):
        assert len({r["org_id"] for r in rows(database, table)}) == 2


def test_trunk_events_stay_in_their_organisation(
    client: TestClient, accounts: AccountService, database: Database
) -> None:
    acme, globex = make_tenant(accounts, "acme"), make_tenant(accounts, "globex")
    client.post("/v1/metrics/trackEvents", json=TRUNK_EXAMPLE, headers=acme.trunk_headers)
    client.post("/v1/metrics/trackEvents", json=TRUNK_EXAMPLE, headers=globex.trunk_headers)
    assert len(rows(database, "run_attempts")) == 4
    acme_id = accounts.organisation("acme").id
    assert len(rows(database, "run_attempts", org_id=acme_id)) == 2


def test_keys_are_stored_hashed(tenant: Tenant, database: Database) -> None:
    (stored,) = rows(database, "api_keys")
    assert tenant.key not in stored.values()
    assert tenant.key.startswith(stored["prefix"] + "_")
    assert len(stored["key_hash"]) == 64
