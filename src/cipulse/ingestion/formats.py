"""Parse and validate a request body of either wire format and convert it to a domain
``Submission``. Raises ``InvalidRequest`` naming every bad field; never writes anything."""

from __future__ import annotations

import re
from enum import StrEnum

import orjson
from pydantic import ValidationError

from cipulse.domain.model import Submission
from cipulse.errors import InvalidRequest
from cipulse.ingestion.runwatch import converter as runwatch_converter
from cipulse.ingestion.runwatch.schema import RunWatchRun
from cipulse.ingestion.trunk import converter as trunk_converter
from cipulse.ingestion.trunk.schema import TrackEventsRequest, legacy_shape_problem
from cipulse.ingestion.validation import invalid_request

MAX_SOURCE_LENGTH = 200


class WireFormat(StrEnum):
    RUNWATCH = "runwatch"
    TRUNK = "trunk"


#: ``\u0000`` as a JSON escape, not as text after an escaped backslash (``\\u0000``).
_NUL_ESCAPE = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")


def reject_nul(body: bytes) -> None:
    """Neither database can store U+0000 in text; say so instead of failing to store it."""
    if b"\\u0000" in body and _NUL_ESCAPE.search(body):
        raise InvalidRequest("body: contains a NUL character (\\u0000), which cannot be stored")


def parse_runwatch(body: bytes) -> Submission:
    reject_nul(body)
    try:
        run = RunWatchRun.model_validate_json(body)
    except ValidationError as exc:
        raise invalid_request(exc) from None
    return Submission(attempts=[runwatch_converter.convert(run)])


def parse_trunk(body: bytes, ingest_source: str | None = None) -> Submission:
    reject_nul(body)
    if ingest_source is not None and len(ingest_source) > MAX_SOURCE_LENGTH:
        raise InvalidRequest(f"x-source: must be at most {MAX_SOURCE_LENGTH} characters")
    try:
        request = TrackEventsRequest.model_validate_json(body)
    except ValidationError as exc:
        try:
            legacy = legacy_shape_problem(orjson.loads(body))
        except orjson.JSONDecodeError:
            legacy = None
        if legacy:
            raise InvalidRequest(legacy) from None
        raise invalid_request(exc) from None
    return trunk_converter.convert(request, ingest_source=ingest_source)


def parse(wire_format: WireFormat, body: bytes, ingest_source: str | None = None) -> Submission:
    if wire_format is WireFormat.RUNWATCH:
        return parse_runwatch(body)
    return parse_trunk(body, ingest_source)
