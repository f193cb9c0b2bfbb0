"""The GitHub and GitLab webhook receivers.

The webhook receivers: ``POST /webhooks/github/{org}`` and ``POST /webhooks/gitlab/{org}``.
Thin: verify, skip redeliveries and events we do not store, parse, submit, remember."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from cipulse.accounts.webhooks import PROOF_HEADER, WebhookService
from cipulse.domain.model import Submission, WebhookProvider
from cipulse.ingestion.service import IngestRequest
from cipulse.ingestion.webhooks import handles, parse_event
from cipulse.web.deadlines import run_in_database_thread
from cipulse.web.ingest_routes import ERROR_RESPONSES, PARSE_IN_THREAD_BYTES, stored
from cipulse.web.requests import CheckedRoute, bounded_body

#: The header naming the event, and the one identifying a delivery across redeliveries.
EVENT_HEADER = {WebhookProvider.GITHUB: "x-github-event", WebhookProvider.GITLAB: "x-gitlab-event"}
DELIVERY_HEADER = {
    WebhookProvider.GITHUB: "x-github-delivery",
    WebhookProvider.GITLAB: "idempotency-key",
}


def _json(payload: dict[str, Any], status_code: int = 200) -> Response:
    return Response(orjson.dumps(payload), status_code=status_code, media_type="application/json")


async def _receive(request: Request, provider: WebhookProvider, org: str) -> Response:
    service: WebhookService = request.app.state.webhooks
    body = await bounded_body(request, request.app.state.settings.max_body_bytes)
    verified = await run_in_database_thread(
        service.verify,
        org,
        provider,
        body,
        request.headers.get(PROOF_HEADER[provider]),
        request.headers.get(DELIVERY_HEADER[provider]),
    )
    event = request.headers.get(EVENT_HEADER[provider])
    if provider is WebhookProvider.GITHUB and event == "ping":
        return _json({"success": True, "event": "ping"})
    if not handles(provider, event):
        return _json({"success": True, "ignored": event or "(no event header)"}, 202)
    assert event is not None
    submission = await _parsed(body, provider, event)
    outcome = await request.app.state.committer.submit(
        IngestRequest(
            submission=submission, principal=verified.principal, delivery=verified.delivery
        )
    )
    if outcome.duplicate:
        return _json({"success": True, "duplicate": True})
    return stored({"success": True, "event": event, "events": outcome.events}, submission)


async def _parsed(body: bytes, provider: WebhookProvider, event: str) -> Submission:
    if len(body) > PARSE_IN_THREAD_BYTES:
        return await run_in_threadpool(parse_event, provider, event, body)
    return parse_event(provider, event, body)


async def github_webhook(request: Request, org: str) -> Response:
    return await _receive(request, WebhookProvider.GITHUB, org)


async def gitlab_webhook(request: Request, org: str) -> Response:
    return await _receive(request, WebhookProvider.GITLAB, org)


def router() -> APIRouter:
    routes = APIRouter(tags=["webhooks"], route_class=CheckedRoute)
    responses: dict[int | str, dict[str, Any]] = {
        200: {
            "description": "Stored (with `warnings` when something was stored otherwise than "
            "sent), or a redelivery already stored, or a GitHub ping"
        },
        202: {"description": "Verified, but not an event cipulse stores: ignored"},
        **{code: ERROR_RESPONSES[code] for code in (400, 401, 402, 413, 503)},
        404: {"description": "No organisation of that name"},
    }
    routes.add_api_route(
        "/webhooks/github/{org}",
        github_webhook,
        methods=["POST"],
        summary="GitHub webhook: workflow_run and workflow_job events",
        description="Verified with `X-Hub-Signature-256` (HMAC-SHA256 of the body with the "
        "organisation's GitHub webhook secret). Redeliveries (same `X-GitHub-Delivery`) are "
        "stored once. See docs/integrations.md.",
        responses=responses,
    )
    routes.add_api_route(
        "/webhooks/gitlab/{org}",
        gitlab_webhook,
        methods=["POST"],
        summary="GitLab webhook: Pipeline Hook and Job Hook events",
        description="Verified with `X-Gitlab-Token` (the organisation's GitLab webhook "
        "secret). See docs/integrations.md.",
        responses=responses,
    )
    return routes
