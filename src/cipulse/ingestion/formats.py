"""Parse and validate a body of either format into a Submission.

Parse and validate a request body of either wire format and convert it to a domain
``Submission``. Raises ``InvalidRequest`` naming every problem of the request at once (not
the first only: a client should not fix its payload one 400 at a time); never writes
anything."""

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
from cipulse.ingestion.trunk.schema import (
    TrackEventsRequest,
    depth_problems,
    event_links,
    legacy_shape_problem,
    raw_links,
)
from cipulse.ingestion.validation import problems_of, refused

MAX_SOURCE_LENGTH = 200


class WireFormat(StrEnum):
    RUNWATCH = "runwatch"
    TRUNK = "trunk"


#: ``\u0000`` as a JSON escape, not as text after an escaped backslash (``\\u0000``).
_NUL_ESCAPE = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")


def nul_problems(body: bytes) -> list[str]:
    """Neither database can store U+0000 in text; say where each one is instead of failing to
    store it. Cheap for every body: the JSON is walked only when the escape is in it."""
    if b"\\u0000" not in body or not _NUL_ESCAPE.search(body):
        return []
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        return []  # the schema names the JSON error
    return [f"{where}: {NUL_PROBLEM}" for where in _nul_paths(document)] or [f"body: {NUL_PROBLEM}"]


def _nul_paths(value: Any) -> list[str]:
    """The wire paths (``jobs[0].name``) of the strings and keys holding U+0000, in document
    order (a key's path shows its NUL as ``\\u0000``)."""
    found: list[str] = []
    stack: list[tuple[Any, str]] = [(value, "")]
    while stack:
        value, path = stack.pop()
        if text_problem(path):  # the key holds it: say so, and do not look inside
            found.append(path.replace("\x00", "\\u0000"))
        elif isinstance(value, str):
            if text_problem(value):
                found.append(path or "body")
        elif isinstance(value, dict):
            children = [(item, f"{path}.{key}" if path else key) for key, item in value.items()]
            stack.extend(reversed(children))
        elif isinstance(value, list):
            stack.extend((item, f"{path}[{i}]") for i, item in reversed(list(enumerate(value))))
    return found


def _loaded(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return None


def parse_runwatch(body: bytes) -> Submission:
    problems = nul_problems(body)
    try:
        run = RunWatchRun.model_validate_json(body)
    except ValidationError as exc:
        raise refused(problems + problems_of(exc)) from None
    if problems:
        raise refused(problems)
    return runwatch_converter.convert(run)


def _source_problems(ingest_source: str | None) -> list[str]:
    if ingest_source is None:
        return []
    if len(ingest_source) > MAX_SOURCE_LENGTH:
        return [f"x-source: must be at most {MAX_SOURCE_LENGTH} characters"]
    return [f"x-source: {NUL_PROBLEM}"] if text_problem(ingest_source) else []


def parse_trunk(body: bytes, ingest_source: str | None = None) -> Submission:
    """Every problem at once: the header's, the NUL characters', the schema's, and the job
    trees' depth (checked on what validated, or on the raw events when the schema failed)."""
    problems = _source_problems(ingest_source) + nul_problems(body)
    try:
        request = TrackEventsRequest.model_validate_json(body)
    except ValidationError as exc:
        raw = _loaded(body)
        legacy = legacy_shape_problem(raw)
        if legacy:
            raise InvalidRequest(legacy) from None
        problems += problems_of(exc) + depth_problems(raw_links(raw))
        raise refused(problems) from None
    problems += depth_problems(event_links(request.events))
    if problems:
        raise refused(problems)
    return trunk_converter.convert(request, ingest_source=ingest_source)


def parse(wire_format: WireFormat, body: bytes, ingest_source: str | None = None) -> Submission:
    if wire_format is WireFormat.RUNWATCH:
        return parse_runwatch(body)
    return parse_trunk(body, ingest_source)
