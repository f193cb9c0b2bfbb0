"""The ingest endpoints. Thin: key and body, parse, submit, render.

The two ingest endpoints. Thin: read key and body, parse, submit, render."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import orjson
from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from cipulse.domain.model import Submission
from cipulse.ingestion.formats import parse_runwatch, parse_trunk
from cipulse.ingestion.runwatch.schema import RunWatchRun
from cipulse.ingestion.service import IngestRequest
from cipulse.ingestion.trunk.schema import TrackEventsRequest
from cipulse.ingestion.validation import listed_warnings
from cipulse.web.requests import (
    RUNWATCH_KEY_HEADERS,
    TRUNK_KEY_HEADERS,
    CheckedRoute,
    api_key,
    bounded_body,
)

RUNWATCH_PATHS = ("/functions/v1/ingest", "/api/v1/ingest", "/v1/ingest")
#: The second and third are what some Trunk Jenkins plugin releases post to.
TRUNK_PATHS = ("/v1/metrics/trackEvents", "/v1/metrics/trackEvent", "/v1/metrics/v2/trackEvents")

_ERROR = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"description": "Bad JSON or schema; the message names each bad field", "content": _ERROR},
    401: {"description": "Missing, unknown or revoked API key", "content": _ERROR},
    402: {"description": "A plan limit of the organisation would be exceeded", "content": _ERROR},
    403: {"description": "The key lacks the `ingest` scope", "content": _ERROR},
    413: {"description": "Body larger than the configured limit", "content": _ERROR},
    503: {
        "description": "Database unavailable; retry after `Retry-After` seconds",
        "content": _ERROR,
    },
}


log = logging.getLogger(__name__)


def _json(payload: dict[str, Any]) -> Response:
    return Response(orjson.dumps(payload), media_type="application/json")


def stored(answer: dict[str, Any], submission: Submission) -> Response:
    """The 200 answer, with ``warnings`` when something was stored otherwise than sent
    (docs/api.md, "Warnings"). Logged at DEBUG only: a busy reporter whose every payload has
    a quirk must not flood the log."""
    if submission.warnings:
        answer["warnings"] = listed_warnings(submission.warnings)
        log.debug("stored with %d warnings: %s", len(submission.warnings), submission.warnings[0])
    return _json(answer)


SECURITY_SCHEMES = {
    "ApiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
    "TrunkToken": {"type": "apiKey", "in": "header", "name": "x-api-token"},
    "Bearer": {"type": "http", "scheme": "bearer"},
}


def _body_schema(model: type, schemes: list[str]) -> dict[str, Any]:
    return {
        "security": [{scheme: []} for scheme in schemes],
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}
            },
        },
    }


#: Bodies larger than this are parsed in a thread, so that one big payload does not hold up
#: the event loop (and the small requests behind it) for milliseconds at a time.
PARSE_IN_THREAD_BYTES = 64 * 1024


async def _parsed(parse: Callable[..., Submission], body: bytes, *args: Any) -> Submission:
    if len(body) > PARSE_IN_THREAD_BYTES:
        return await run_in_threadpool(parse, body, *args)
    return parse(body, *args)


async def ingest_runwatch(request: Request) -> Response:
    key = api_key(request, RUNWATCH_KEY_HEADERS)
    body = await bounded_body(request, request.app.state.settings.max_body_bytes)
    submission = await _parsed(parse_runwatch, body)
    outcome = await request.app.state.committer.submit(
        IngestRequest(submission=submission, api_key=key)
    )
    return stored({"success": True, "pipeline_run_id": outcome.attempt_ids[0]}, submission)


async def track_events(request: Request) -> Response:
    key = api_key(request, TRUNK_KEY_HEADERS)
    body = await bounded_body(request, request.app.state.settings.max_body_bytes)
    submission = await _parsed(parse_trunk, body, request.headers.get("x-source"))
    outcome = await request.app.state.committer.submit(
        IngestRequest(submission=submission, api_key=key)
    )
    return stored({"success": True, "events": outcome.events}, submission)


routes = APIRouter(tags=["ingest"], route_class=CheckedRoute)

runwatch_doc = {
    "summary": "Ingest a pipeline run (RunWatch Ingest API)",
    "description": "Stores one run attempt with its jobs. Posting the same "
    "(repository, pipeline, run_id, run_attempt) again updates it and returns the same id.",
    "responses": {
        200: {
            "description": "Stored. With `warnings` (one line per field) when something was "
            "stored otherwise than sent: an impossible duration is stored as unknown.",
            "content": {
                "application/json": {"example": {"success": True, "pipeline_run_id": "uuid"}}
            },
        },
        **ERROR_RESPONSES,
    },
    "openapi_extra": _body_schema(RunWatchRun, ["ApiKey", "Bearer"]),
}
for index, path in enumerate(RUNWATCH_PATHS):
    routes.add_api_route(
        path,
        ingest_runwatch,
        methods=["POST"],
        include_in_schema=index < 2,
        operation_id=f"ingest_runwatch_{index}",
        **runwatch_doc,  # type: ignore[arg-type]
    )
trunk_doc = {
    "summary": "Track CI events (Trunk CI Analytics API)",
    "description": "Stores events; each chain of events is a run, the other events its "
    "job tree. All-or-nothing: one invalid event fails the request.",
    "responses": {
        200: {
            "description": "Stored. With `warnings` when something was stored otherwise "
            "than sent (a finishedAt before its createdAt: duration unknown).",
            "content": {"application/json": {"example": {"success": True, "events": 2}}},
        },
        **ERROR_RESPONSES,
    },
    "openapi_extra": _body_schema(TrackEventsRequest, ["TrunkToken", "ApiKey", "Bearer"]),
}
for index, path in enumerate(TRUNK_PATHS):
    routes.add_api_route(
        path,
        track_events,
        methods=["POST"],
        include_in_schema=index == 0,
        operation_id=f"track_events_{index}",
        **trunk_doc,  # type: ignore[arg-type]
    )


def router() -> APIRouter:
    return routes


def schema_components() -> dict[str, Any]:
    """The wire schemas, for the OpenAPI document's ``components.schemas``."""
    components: dict[str, Any] = {
        "Error": {
            "type": "object",
            "properties": {
                "error": {"type": "string", "description": "what was wrong, in words"},
                "code": {"type": "string", "description": "machine-readable, e.g. not_found"},
            },
            "required": ["error", "code"],
        }
    }
    for model in (RunWatchRun, TrackEventsRequest):
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        components.update(schema.pop("$defs", {}))
        components[model.__name__] = schema
    return components


def without_framework_errors(schema: dict[str, Any]) -> None:
    """Bad parameters answer 400 ``{"error": …}`` (web/errors.py), never FastAPI's 422: drop
    the 422 answers FastAPI documents on its own, and their schemas."""
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            operation.get("responses", {}).pop("422", None)
    for name in ("HTTPValidationError", "ValidationError"):
        schema.get("components", {}).get("schemas", {}).pop(name, None)
