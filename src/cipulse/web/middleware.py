"""Three things every HTTP answer needs, as ASGI middleware.

- ``SecurityHeaders``: API answers (JSON) and CSV exports are data, never to be guessed at as
  HTML by a browser nor kept by a cache: ``X-Content-Type-Options: nosniff`` and
  ``Cache-Control: no-store``. (Dashboard pages set their own, stricter headers; static files
  keep being cached.)
- ``DrainUnreadBody``: a client that sends its whole body before it reads the answer (Python's
  urllib, many CI scripts) sees "connection reset" instead of an early answer (413 body too
  large, 401 no key) when the server closes with the body unread. So before an answer starts,
  what the application did not read of the body is read and discarded, up to
  ``CIPULSE_BODY_DRAIN_BYTES``. A larger body, or a client that waits for
  ``100 Continue``, gets the answer with ``Connection: close``.
- ``Compression``: answers of ``COMPRESS_FROM_BYTES`` or more (pages, CSV, JSON) go out
  gzip-compressed when the client accepts it; a streamed CSV stays streamed (Starlette's
  ``GZipMiddleware`` flushes each chunk). Not for requests another site started (a browser's
  ``Sec-Fetch-Site: cross-site`` or ``same-site``): a page holds its form token, and a site
  that can make a signed-in browser load pages with text of its choosing and watch their
  compressed sizes could guess it (BREACH). Static files are compressed the same way."""

from __future__ import annotations

from starlette.middleware.gzip import GZipMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

API_HEADERS = ((b"x-content-type-options", b"nosniff"), (b"cache-control", b"no-store"))
DATA_TYPES = (b"application/json", b"text/csv")
#: Smaller answers gain too little from gzip to be worth its header and CPU.
COMPRESS_FROM_BYTES = 1024
#: zlib's default level: most of level 9's gain for a fraction of its CPU.
COMPRESS_LEVEL = 6
#: ``Sec-Fetch-Site`` values of requests this site (or the user, typing a URL) started.
OWN_REQUESTS = (b"same-origin", b"none")


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def guarded_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {name.lower() for name, _ in headers}
                content_type = next((v for n, v in headers if n.lower() == b"content-type"), b"")
                if content_type.lower().startswith(DATA_TYPES):
                    headers += [(n, v) for n, v in API_HEADERS if n not in names]
                    message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, guarded_send)


def _header(scope: Scope, name: bytes) -> bytes | None:
    return next((v for n, v in scope["headers"] if n.lower() == name), None)


class DrainUnreadBody:
    def __init__(self, app: ASGIApp, limit_bytes: int) -> None:
        self.app = app
        self.limit = limit_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = _header(scope, b"content-length")
        chunked = _header(scope, b"transfer-encoding") is not None
        declared = int(length) if length is not None and length.isdigit() else None
        body_done = not chunked and not declared
        received = 0

        async def tracked_receive() -> Message:
            nonlocal body_done, received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                body_done = body_done or not message.get("more_body", False)
            elif message["type"] == "http.disconnect":
                body_done = True
            return message

        async def drain() -> bool:
            """Read what is left of the body, unless it is more than the limit."""
            if received == 0 and _header(scope, b"expect") == b"100-continue":
                return False  # the client has not sent it and need not
            if declared is not None and declared - received > self.limit:
                return False
            start = received
            while not body_done and received - start <= self.limit:
                await tracked_receive()
            return body_done

        async def draining_send(message: Message) -> None:
            if message["type"] == "http.response.start" and not body_done and not await drain():
                headers = [(n, v) for n, v in message.get("headers", []) if n != b"connection"]
                message = {**message, "headers": [*headers, (b"connection", b"close")]}
            await send(message)

        await self.app(scope, tracked_receive, draining_send)


class Compression:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.gzip = GZipMiddleware(
            app, minimum_size=COMPRESS_FROM_BYTES, compresslevel=COMPRESS_LEVEL
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        site = _header(scope, b"sec-fetch-site") if scope["type"] == "http" else None
        if site is not None and site not in OWN_REQUESTS:
            await self.app(scope, receive, send)
            return
        await self.gzip(scope, receive, send)
