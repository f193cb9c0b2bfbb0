"""A job's path: its pipeline's id and its definition key, percent-encoded.

A job is named in URLs by its pipeline's id and its definition key (what identifies a job
across runs), ``/jobs/{pipeline id}/{key}``, the key percent-encoded as UTF-8 with every
character but letters, digits and ``-._~`` escaped, ``/`` included (``%2F``): the key is one
segment, and the server's decoded path gives it back whole (the routes read the rest of the
path). A key of dots only (``.``, ``..``), which browsers resolve as a relative segment,
goes in the query instead: ``/jobs/{pipeline id}?job=..``; both forms are served."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, unquote


def job_path(pipeline_id: str, definition_key: str) -> str:
    """The path of a job's page (the API's is ``/api/v1`` before it)."""
    encoded = quote(definition_key, safe="")
    if not encoded.strip("."):
        return f"/jobs/{pipeline_id}?job={encoded}"
    return f"/jobs/{pipeline_id}/{encoded}"


def key_in_path(scope: Mapping[str, Any], pipeline_id: str, decoded: str) -> str:
    """The definition key a request's path names after ``/jobs/{pipeline_id}/``, decoded
    once from the path as sent (``raw_path``), whatever the server or a test client did to
    the decoded path (Starlette's test client decodes it twice); ``decoded``, the routed
    parameter, when the server gives no raw path."""
    raw = scope.get("raw_path")
    marker = f"/jobs/{pipeline_id}/"
    if not raw:
        return decoded
    text = bytes(raw).decode("latin-1")
    at = text.find(marker)
    if at < 0:
        return decoded
    return unquote(text[at + len(marker) :], encoding="utf-8", errors="replace")
