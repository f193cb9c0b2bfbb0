"""Every error answered as a page or as JSON, by what the client accepts.

One handler answers every error: our own ``CipulseError`` tree, the framework's HTTP errors
(404, 405) and anything unexpected (500, logged with its traceback, no details leaked, the
connection kept open). A client that asks for HTML (a browser), and a dashboard page unless
its client asks for JSON, get the error page; any other gets
``{"error": "<message>", "code": "<machine-readable code>"}`` with the status.

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
from cipulse.web.dashboard.rendering import render

log = logging.getLogger(__name__)

#: Where in the request a parameter was: not part of its name.
REQUEST_PARTS = {"query", "path", "body", "header", "cookie"}


#: The codes of the framework's HTTP errors (ours carry their own: ``CipulseError.code``).
HTTP_CODES = {404: "not_found", 405: "method_not_allowed"}


def error_response(
    status_code: int, message: str, code: str, headers: dict[str, str] | None = None
) -> Response:
    """The JSON answer of an error: its message and its machine-readable code."""
    return Response(
        orjson.dumps({"error": message, "code": code}),
        status_code=status_code,
        media_type="application/json",
        headers=headers,
    )


def wants_html(accept: str, page: bool) -> bool:
    """Whether an error is answered as a page: the client asks for HTML (a browser always
    does), or this is a dashboard page and the client does not ask for JSON only."""
    if "text/html" in accept:
        return True
    return page and "application/json" not in accept


def error_answer(
    request: Request,
    status_code: int,
    message: str,
    code: str,
    headers: dict[str, str] | None = None,
    *,
    page: bool = False,
) -> Response:
    """The one answer of every error: a page or JSON, by what the client accepts."""
    if not wants_html(request.headers.get("accept", ""), page):
        return error_response(status_code, message, code, headers)
    answer = render(request, "error.html", {"status": status_code, "message": message}, status_code)
    answer.headers.update(headers or {})
    return answer


async def _cipulse_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, CipulseError)
    return cipulse_error_answer(request, exc)


def cipulse_error_answer(request: Request, exc: CipulseError, *, page: bool = False) -> Response:
    """A ``CipulseError``'s answer; a 503 goes to the outage log, a 500 is logged."""
    headers = None
    if isinstance(exc, Unavailable):
        headers = {"Retry-After": str(exc.retry_after_seconds)}
        database: Database | None = getattr(request.app.state, "database", None)
        if database is not None:
            database.failures.outages.refused(exc.cause)
    elif exc.status_code >= 500:
        log.error("%s: %s", exc.code, exc.message, exc_info=exc.__cause__ or exc)
    return error_answer(request, exc.status_code, exc.message, exc.code, headers, page=page)


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    problems = []
    for error in exc.errors():
        # In our words, not pydantic's ("Input should be a valid integer", "Value error, ...").
        loc = [part for part in error.get("loc", ()) if part not in REQUEST_PARTS]
        problems.append(f"{field_path(loc) if loc else 'request'}: {describe(error)}")
    return error_answer(request, 400, "; ".join(problems) or "invalid request", "invalid_request")


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = HTTP_CODES.get(exc.status_code, "http_error")
    headers = dict(exc.headers or {}) or None
    return error_answer(request, exc.status_code, str(exc.detail), code, headers)


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
            answer = error_response(500, "internal server error", "internal_error")
            await answer(scope, receive, send)


def install(app: FastAPI) -> None:
    app.add_exception_handler(CipulseError, _cipulse_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
