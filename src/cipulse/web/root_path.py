"""Serving under a path prefix behind a reverse proxy.

Serving under a path prefix (``root_path``, such as ``/cipulse``) behind a reverse proxy.

The ASGI way: ``scope["root_path"]`` holds the prefix and ``scope["path"]`` the full path,
prefix included; Starlette routes on the rest and builds ``request.base_url`` and
``request.url`` with it. Proxies differ in whether they strip the prefix before passing a
request on, so both are accepted: a path without the prefix gets it, one with it keeps it.
Every link, form, redirect and cookie the dashboard makes then starts with the prefix."""

from __future__ import annotations

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send


class RootPath:
    """ASGI middleware that puts ``prefix`` into every HTTP request's scope."""

    def __init__(self, app: ASGIApp, prefix: str) -> None:
        self.app = app
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.prefix:
            scope = {**scope, "root_path": self.prefix}
            path: str = scope["path"]
            raw: bytes | None = scope.get("raw_path")
            if path == self.prefix:
                scope["path"] = f"{path}/"
                scope["raw_path"] = None if raw is None else raw + b"/"
            elif not path.startswith(f"{self.prefix}/"):  # the proxy stripped the prefix
                scope["path"] = f"{self.prefix}{path}"
                scope["raw_path"] = None if raw is None else self.prefix.encode() + raw
        await self.app(scope, receive, send)


def root_of(request: Request) -> str:
    """The path prefix the server is served under ('' at ``/``): every link starts with it."""
    prefix: str = request.scope.get("root_path", "")
    return prefix.rstrip("/")
