"""What a request carries: its API key, its bounded body, parameters.

Reading what a request carries: its API key (from any header either API uses), its
body (bounded, so one client cannot make the server buffer gigabytes), and its parameters and
form fields, refused when they hold text that cannot be stored (``CheckedRoute``)."""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Iterable
from typing import Any

from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response

from cipulse.domain.accepted import text_problem
from cipulse.errors import InvalidRequest, PayloadTooLarge, Unauthenticated

RUNWATCH_KEY_HEADERS = ("x-api-key",)
TRUNK_KEY_HEADERS = ("x-api-token", "x-api-key")
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def api_key(request: Request, headers: tuple[str, ...]) -> str:
    """The key from the first of ``headers`` present, else from ``Authorization: Bearer``."""
    for header in headers:
        value = request.headers.get(header)
        if value and value.strip():
            return value.strip()
    authorization = request.headers.get("authorization", "")
    scheme, _, credentials = authorization.partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    names = " or ".join(h.title().replace("Api", "API") for h in headers)
    raise Unauthenticated(f"missing API key: send it in the {names} header")


async def bounded_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"body: larger than the limit of {limit} bytes")
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"body: larger than the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def unstorable_fields(fields: Iterable[tuple[str, Any]]) -> list[str]:
    """``name: problem`` for each text field that cannot be stored (``text_problem``)."""
    problems: list[str] = []
    for name, value in fields:
        problem = text_problem(value) if isinstance(value, str) else None
        if problem and not any(p.startswith(f"{name}: ") for p in problems):
            problems.append(f"{name}: {problem}")
    return problems


class CheckedRoute(APIRoute):
    """The route class of every router: a path or query parameter (and, on routes that read
    forms, a form field) holding text that cannot be stored is refused before the handler
    runs, with a 400 naming each such field. JSON bodies are checked as they are parsed
    (``ingestion/formats.py``)."""

    reads_forms = False

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        reads_forms = self.reads_forms

        async def checked_handler(request: Request) -> Response:
            fields: list[tuple[str, Any]] = [
                *request.path_params.items(),
                *request.query_params.multi_items(),
            ]
            content_type = request.headers.get("content-type", "")
            if reads_forms and request.method == "POST" and content_type.startswith(FORM_TYPES):
                fields += (await request.form()).multi_items()
            problems = unstorable_fields(fields)
            if problems:
                raise InvalidRequest("; ".join(problems), problems)
            return await handler(request)

        return checked_handler
