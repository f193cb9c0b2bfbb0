"""Helpers of the webhook tests: organisations with secrets, signed deliveries, the recorded
CIMonitor sequences, and the stored state to compare replays by."""

from __future__ import annotations

import json
import random
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from httpx import Response

from cipulse.accounts.service import AccountService
from cipulse.accounts.webhooks import WebhookService, github_signature
from cipulse.domain.model import WebhookProvider
from cipulse.storage.database import Database
from tests.builders import REAL_FIXTURES
from tests.conftest import rows

GITHUB_SECRET = "It's a Secret to Everybody"
GITLAB_TOKEN = "gitlab-token-3f9a"
#: Columns that record when something was received, not what it says.
_RECEIPT_COLUMNS = {"received_at_ms", "updated_at_ms", "ingest_source"}


@dataclass
class Hooked:
    """An organisation with both webhook secrets set, and a key to read its data."""

    name: str
    read_key: str


def hooked_org(database: Database, name: str = "acme") -> Hooked:
    accounts = AccountService(database)
    accounts.create_organisation(name)
    webhooks = WebhookService(database)
    webhooks.set_secret(name, WebhookProvider.GITHUB, GITHUB_SECRET)
    webhooks.set_secret(name, WebhookProvider.GITLAB, GITLAB_TOKEN)
    return Hooked(name, accounts.create_key(name, scopes=("read",)).key)


def body_of(payload: Any) -> bytes:
    return payload if isinstance(payload, bytes) else json.dumps(payload).encode()


def post_github(
    client: TestClient,
    org: str,
    event: str,
    payload: Any,
    *,
    delivery: str | None = None,
    secret: str | None = GITHUB_SECRET,
) -> Response:
    body = body_of(payload)
    headers = {
        "Content-Type": "application/json",
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
    }
    if secret is not None:
        headers["X-Hub-Signature-256"] = github_signature(secret, body)
    return client.post(f"/webhooks/github/{org}", content=body, headers=headers)


def post_gitlab(
    client: TestClient,
    org: str,
    event: str,
    payload: Any,
    *,
    token: str | None = GITLAB_TOKEN,
    idempotency_key: str | None = None,
) -> Response:
    headers = {"Content-Type": "application/json", "X-Gitlab-Event": event}
    if token is not None:
        headers["X-Gitlab-Token"] = token
    if idempotency_key:
        headers["Idempotency-Key"] = idempotency_key
    return client.post(f"/webhooks/gitlab/{org}", content=body_of(payload), headers=headers)


@dataclass(frozen=True)
class Delivery:
    """One recorded delivery: the event header and the body."""

    name: str
    event: str
    body: dict[str, Any]


def sequence(folder: str) -> list[Delivery]:
    """A CIMonitor recording (``cimonitor/<folder>/NN.json``), in the order it was received."""
    found = []
    for path in sorted((REAL_FIXTURES / "cimonitor" / folder).glob("*.json")):
        recorded = json.loads(path.read_text())
        headers = {k.lower(): v for k, v in recorded["headers"].items()}
        event = headers.get("x-github-event") or headers.get("x-gitlab-event") or ""
        found.append(Delivery(Path(path).name, event, recorded["body"]))
    return found


def shuffled(deliveries: list[Delivery], seed: int) -> list[Delivery]:
    copy = list(deliveries)
    random.Random(seed).shuffle(copy)
    return copy


def stored_state(database: Database, org: str) -> dict[str, Any]:
    """What is stored of the organisation's runs and jobs, by natural keys (ids derive from
    the organisation), without when it was received."""
    org_id = AccountService(database).organisation(org).id
    ids = {"id", "org_id", "repository_id", "pipeline_id", "attempt_id"}
    attempts = rows(database, "run_attempts", org_id=org_id)
    attempt_of = {a["id"]: (a["run_key"], a["attempt"]) for a in attempts}
    runs = sorted(
        ({k: v for k, v in a.items() if k not in ids | _RECEIPT_COLUMNS} for a in attempts),
        key=lambda a: (a["run_key"], a["attempt"]),
    )
    jobs = sorted(
        (
            {
                "attempt": attempt_of.get(job["attempt_id"]),
                **{k: v for k, v in job.items() if k not in ids | _RECEIPT_COLUMNS},
            }
            for job in rows(database, "jobs", org_id=org_id)
        ),
        key=lambda job: (str(job["attempt"]), job["node_key"]),
    )
    repositories = [
        (r["host"], r["full_name"], r["default_branch"])
        for r in rows(database, "repositories", org_id=org_id)
    ]
    return rounded({"runs": runs, "jobs": jobs, "repositories": sorted(repositories)})


def rounded(value: Any) -> Any:
    """Sums of floats added in another order (PostgreSQL's SUM) differ in the last bit."""
    if isinstance(value, float):
        return round(value, 6)
    if isinstance(value, dict):
        return {key: rounded(item) for key, item in value.items()}
    if isinstance(value, list):
        return [rounded(item) for item in value]
    return value


def replayed_alike(
    client: TestClient, database: Database, deliveries: list[Delivery], seeds: tuple[int, ...]
) -> Hooked:
    """Replay the deliveries in their order into one new organisation and shuffled (one
    order per seed) into others; check every organisation stored the same; return the first
    (with a read key) to check numbers on."""
    orders = {"in-order": deliveries} | {
        f"shuffled-{seed}": shuffled(deliveries, seed) for seed in seeds
    }
    states = {}
    for name, order in orders.items():
        hooked_org(database, name)
        for delivery in order:
            post = post_github if delivery.event in GITHUB_EVENTS else post_gitlab
            response = post(client, name, delivery.event, delivery.body)
            assert response.status_code in (200, 202), (delivery.name, response.text)
        states[name] = stored_state(database, name)
    reference = states.pop("in-order")
    for name, state in states.items():
        assert state == reference, name
    read_key = AccountService(database).create_key("in-order", scopes=("read",)).key
    return Hooked("in-order", read_key)


#: The events the GitHub recordings hold (the GitLab ones are named "… Hook").
GITHUB_EVENTS = {"push", "workflow_run", "workflow_job", "check_run", "check_suite", "ping"}


def read(client: TestClient, org: Hooked, path: str, **params: Any) -> Any:
    response = client.get(path, params=params, headers={"X-API-Key": org.read_key})
    assert response.status_code == 200, response.text
    return response.json()
