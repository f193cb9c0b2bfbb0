"""Posting one payload to a cipulse ingest endpoint.

Posting one payload to a cipulse ingest endpoint: which format a document is, where each
format goes, with which key header, and what the answer means."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import orjson

from cipulse.reporters.errors import BadInput, Rejected
from cipulse.reporters.http import RetryingClient, describe, error_message, shown


class IngestFormat(StrEnum):
    RUNWATCH = "runwatch"
    TRUNK = "trunk"


@dataclass(frozen=True, slots=True)
class Endpoint:
    path: str
    key_header: str


ENDPOINTS = {
    IngestFormat.RUNWATCH: Endpoint("/api/v1/ingest", "X-API-Key"),
    IngestFormat.TRUNK: Endpoint("/v1/metrics/trackEvents", "x-api-token"),
}

#: Paths a ``--url`` may already end with; it is then used as it is.
_INGEST_PATHS = {
    IngestFormat.RUNWATCH: ("/api/v1/ingest", "/functions/v1/ingest", "/v1/ingest"),
    IngestFormat.TRUNK: (
        "/v1/metrics/trackEvents",
        "/v1/metrics/trackEvent",
        "/v1/metrics/v2/trackEvents",
    ),
}


@dataclass(frozen=True, slots=True)
class Stored:
    """The server's 2xx answer: ``{"success": true, "pipeline_run_id": …}`` (RunWatch) or
    ``{"success": true, "events": N}`` (Trunk)."""

    url: str  # as it may be printed
    status_code: int
    answer: dict[str, Any]


def read_document(data: bytes, origin: str) -> dict[str, Any]:
    """The one JSON object a payload file holds."""
    try:
        document = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise BadInput(f"{origin}: not valid JSON ({exc})") from None
    if not isinstance(document, dict):
        raise BadInput(f"{origin}: must hold one JSON object (one payload)")
    return document


def detect_format(document: dict[str, Any]) -> IngestFormat:
    """Trunk requests have ``events`` and ``repo``; anything else is taken for RunWatch."""
    if "events" in document and "repo" in document:
        return IngestFormat.TRUNK
    return IngestFormat.RUNWATCH


def ingest_url(base_url: str, wire_format: IngestFormat) -> str:
    """The server's base URL with the format's ingest path, unless it already ends with one."""
    url = base_url.strip().rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise BadInput(f"--url: must be an http:// or https:// URL, not {shown(base_url)!r}")
    if url.endswith(_INGEST_PATHS[wire_format]):
        return url
    return url + ENDPOINTS[wire_format].path


def post_payload(
    client: RetryingClient,
    base_url: str,
    api_key: str,
    wire_format: IngestFormat,
    body: bytes,
    source: str | None = None,
) -> Stored:
    """Post ``body``, retrying as the client's policy says. ``Rejected`` for a 4xx (other than
    429) or a redirect, with the server's message; ``GaveUp`` from the client."""
    url = ingest_url(base_url, wire_format)
    headers = {"Content-Type": "application/json", ENDPOINTS[wire_format].key_header: api_key}
    if source and wire_format is IngestFormat.TRUNK:
        headers["x-source"] = source
    response = client.request("POST", url, headers=headers, content=body)
    if 300 <= response.status_code < 400:
        location = response.headers.get("Location", "?")
        raise Rejected(
            f"{shown(url)} redirects (HTTP {response.status_code}) to {shown(location)}; "
            "use that URL",
            response.status_code,
        )
    if response.status_code >= 400:
        raise Rejected(
            f"the server refused the payload ({describe(response)})", response.status_code
        )
    try:
        answer = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        answer = {"answer": error_message(response)}
    return Stored(shown(url), response.status_code, answer if isinstance(answer, dict) else {})
