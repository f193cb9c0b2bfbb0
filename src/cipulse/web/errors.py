"""Every error rendered as {"error": message} with its status.

Renders every error as ``{"error": "<message>"}`` with its status code: our own
``CipulseError`` tree, the framework's HTTP errors (404, 405) and anything unexpected (500,
logged with its traceback, no details leaked, the connection kept open).

A 503 (``Unavailable``) is an expected condition, not a bug: it goes to the outage log
(``storage/outages.py``: one line when an outage starts, then counts), never a traceback."""

from __future__ import annotations

import logging

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cipulse.errors import CipulseError, Unavailable
from cipulse.ingestion.validation import describe, field_path
from cipulse.storage.database import Database

log = logging.getLogger(__name__)

#: Where in the request a parameter was: not part of its name.
REQUEST_PARTS = {"query", "path", "body", "header", "cookie"}


def error_response(
    status_code: int, message: str, headers: dict[str, str] | None = None
) -> Response:
    return Response(
        orjson.dumps({"error": message}),
        status_code=status_code,
        media_type="application/json",
        headers=headers,
    )


async def _cipulse_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, CipulseError)
    headers = None
    if isinstance(exc, Unavailable):
        headers = {"Retry-After": str(exc.retry_after_seconds)}
        database: Database | None = getattr(request.app.state, "database", None)
        if database is not None:
            database.failures.outages.refused(exc.cause)
    elif exc.status_code >= 500:
        log.error("%s: %s", exc.code, exc.message, exc_info=exc.__cause__ or exc)
    return error_response(exc.status_code, exc.message, headers)


async def _validation_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    problems = []
    for error in exc.errors():
        # In our words, not pydantic's ("Input should be a valid integer", "Value error, ...").
        loc = [part for part in error.get("loc", ()) if part not in REQUEST_PARTS]
        problems.append(f"{field_path(loc) if loc else 'request'}: {describe(error)}")
    return error_response(400, "; ".join(problems) or "invalid request")


async def _http_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return error_response(exc.status_code, str(exc.detail), dict(exc.headers or {}) or None)


class UnexpectedErrors:
    """Any other exception: 500 ``internal server error``, logged with its traceback. A
    middleware rather than an exception handler for ``Exception``: Starlette re-raises
    after such a handler answers, and uvicorn then closes a kept-alive connection without
    having said ``Connection: close``. Here the exception ends with the answer, and the
    connection stays usable. (Raised after the answer started, it can only be re-raised.)"""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watched_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watched_send)
        except Exception as exc:
            if started:
                raise
            log.error("unhandled error", exc_info=exc)
            await error_response(500, "internal server error")(scope, receive, send)


def install(app: FastAPI) -> None:
    app.add_exception_handler(CipulseError, _cipulse_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
