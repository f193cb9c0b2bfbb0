"""Parse and validate a request body of either wire format and convert it to a domain
``Submission``. Raises ``InvalidRequest`` naming every bad field; never writes anything."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Any

import orjson
from pydantic import ValidationError

from cipulse.domain.accepted import NUL_PROBLEM, text_problem
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
    """Neither database can store U+0000 in text; say where it is instead of failing to store
    it. Cheap for every body: the JSON is walked only when the escape is in it."""
    if b"\\u0000" in body and _NUL_ESCAPE.search(body):
        try:
            where = _nul_path(orjson.loads(body), "")
        except orjson.JSONDecodeError:
            where = None
        raise InvalidRequest(f"{where or 'body'}: {NUL_PROBLEM}")


def _nul_path(value: Any, path: str) -> str | None:
    """The wire path (``jobs[0].name``) of the first string or key holding U+0000."""
    stack: list[tuple[Any, str]] = [(value, path)]
    while stack:
        value, path = stack.pop()
        if isinstance(value, str):
            if text_problem(value):
                return path or "body"
        elif isinstance(value, dict):
            children = [(item, f"{path}.{key}" if path else key) for key, item in value.items()]
            named = next((child for _, child in children if text_problem(child)), None)
            if named is not None:
                return named.replace("\x00", "\\u0000")
            stack.extend(reversed(children))
        elif isinstance(value, list):
            stack.extend((item, f"{path}[{i}]") for i, item in reversed(list(enumerate(value))))
    return None


def parse_runwatch(body: bytes) -> Submission:
    reject_nul(body)
    try:
        run = RunWatchRun.model_validate_json(body)
    except ValidationError as exc:
        raise invalid_request(exc) from None
    return runwatch_converter.convert(run)


def parse_trunk(body: bytes, ingest_source: str | None = None) -> Submission:
    reject_nul(body)
    if ingest_source is not None and len(ingest_source) > MAX_SOURCE_LENGTH:
        raise InvalidRequest(f"x-source: must be at most {MAX_SOURCE_LENGTH} characters")
    if ingest_source is not None and text_problem(ingest_source):
        raise InvalidRequest(f"x-source: {NUL_PROBLEM}")
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
