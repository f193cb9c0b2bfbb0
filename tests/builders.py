"""Builders for test data: small functions that return wire payloads with sensible
defaults, so each test states only what it is about."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from cipulse.ingestion.runwatch.example import SPEC_EXAMPLE

#: Real payloads that others wrote or recorded, copied into the repository (see its SOURCES.md).
REAL_FIXTURES = Path(__file__).resolve().parent / "fixtures" / "real"

#: The example request of the RunWatch spec, verbatim.
RUNWATCH_EXAMPLE: dict[str, Any] = SPEC_EXAMPLE

#: The example request of the Trunk spec, verbatim (note: finishedAt before createdAt).
TRUNK_EXAMPLE: dict[str, Any] = {
    "repo": {"host": "github.com", "owner": "trunk-io", "name": "jenkins-plugin"},
    "events": [
        {
            "id": "fba555ee-90ce-42ca-a60c-38d200e9290e",
            "chainId": "b0ea8b0d-6574-4421-a63b-56f04eab9738",
            "createdAt": 1694616487000,
            "finishedAt": 1694615487000,
            "conclusion": "SUCCESS",
            "sequence": {
                "platform": "Jenkins",
                "kind": "pipeline",
                "key": "test-pipeline",
                "name": "Trying out a test pipeline",
                "payload": {"tags": [{"k": "label", "v": "self-hosted"}]},
            },
            "payload": {
                "metrics": [{"k": "duration_ms", "v": 1000}, {"k": "api_latency", "v": 500}],
                "tags": [
                    {"k": "branch", "v": "merge-PR-1"},
                    {"k": "sha", "v": "88962a71bcfa92e5950670fc7e3f2b9f8d993b87"},
                ],
            },
        },
        {
            "id": "test-workflow-a-1",
            "chainId": "test-workflow-a-1",
            "createdAt": 1694616487000,
            "finishedAt": 1694615487000,
            "conclusion": "SUCCESS",
            "parent": {
                "eventId": "fba555ee-90ce-42ca-a60c-38d200e9290e",
                "chainId": "b0ea8b0d-6574-4421-a63b-56f04eab9738",
            },
            "sequence": {
                "platform": "Jenkins",
                "kind": "nested-pipeline",
                "key": "test-pipeline/nested-pipeline",
                "name": "Trying out a test nested pipeline",
                "payload": {"tags": [{"k": "label", "v": "self-hosted"}]},
            },
            "payload": {
                "metrics": [{"k": "duration_ms", "v": 1000}, {"k": "api_latency", "v": 500}],
                "tags": [
                    {"k": "branch", "v": "merge-PR-1"},
                    {"k": "sha", "v": "88962a71bcfa92e5950670fc7e3f2b9f8d993b87"},
                ],
            },
        },
    ],
}


def real_fixture(name: str) -> Any:
    return json.loads((REAL_FIXTURES / name).read_text())


def runwatch_run(**overrides: Any) -> dict[str, Any]:
    """The spec example with ``overrides`` applied (``None`` removes a field)."""
    run = copy.deepcopy(RUNWATCH_EXAMPLE)
    for key, value in overrides.items():
        if value is None:
            run.pop(key, None)
        else:
            run[key] = value
    return run


def runwatch_job(name: str, status: str = "success", **fields: Any) -> dict[str, Any]:
    return {"name": name, "status": status, **fields}


def trunk_event(
    event_id: str,
    chain_id: str,
    *,
    parent: str | None = None,
    created_at: int = 1_700_000_000_000,
    finished_at: int | None = 1_700_000_060_000,
    conclusion: str | None = "SUCCESS",
    kind: str = "job",
    key: str | None = None,
    name: str | None = None,
    metrics: dict[str, float] | None = None,
    tags: dict[str, Any] | None = None,
) -> dict[str, Any]:
    event: dict[str, Any] = {
        "id": event_id,
        "chainId": chain_id,
        "createdAt": created_at,
        "sequence": {
            "platform": "jenkins",
            "kind": kind,
            "key": key or f"seq-{event_id}",
            "name": name or f"name {event_id}",
            "payload": {"tags": []},
        },
        "payload": {
            "metrics": [{"k": k, "v": v} for k, v in (metrics or {}).items()],
            "tags": [{"k": k, "v": v} for k, v in (tags or {}).items()],
        },
    }
    if finished_at is not None:
        event["finishedAt"] = finished_at
    if conclusion is not None:
        event["conclusion"] = conclusion
    if parent is not None:
        event["parent"] = {"eventId": parent, "sequenceKey": "parent-key"}
    return event


def trunk_request(
    *events: dict[str, Any], owner: str = "acme", name: str = "app", host: str = "github.com"
) -> dict[str, Any]:
    return {"repo": {"host": host, "owner": owner, "name": name}, "events": list(events)}
