"""The dashboard's static files, cached by browsers for a year.

Each file's URL carries a hash of its bytes (``/static/app.css?v=3f2a…``), computed once when
the app is built; templates get every such URL from ``StaticAssets.url``. A request whose
``v`` is the file's current hash is answered with ``Cache-Control: public, max-age=31536000,
immutable``: a new release changes the hash, so the browser asks for the new URL. Any other
request for a file that exists (no ``v``, or the hash of an older release still in a cached
page) gets the current file with ``no-cache`` (the browser revalidates it with its ETag); a
file that does not exist answers 404. Works the same under a path prefix: the URL starts with
the page's root."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from starlette.datastructures import MutableHeaders, QueryParams
from starlette.staticfiles import StaticFiles
from starlette.types import Message, Receive, Scope, Send

IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
HASH_CHARACTERS = 16


def content_hashes(directory: Path) -> dict[str, str]:
    """Each file under ``directory`` (by its path relative to it, with ``/``): the first
    characters of the sha256 of its bytes."""
    return {
        path.relative_to(directory).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()[
            :HASH_CHARACTERS
        ]
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    }


@dataclass(frozen=True)
class StaticAssets:
    """The static files' content hashes, and the URLs that carry them."""

    hashes: dict[str, str]

    @classmethod
    def of(cls, directory: Path) -> StaticAssets:
        return cls(content_hashes(directory))

    def url(self, root: str, name: str) -> str:
        """The URL of static file ``name`` under the path prefix ``root`` ('' at ``/``)."""
        return f"{root}/static/{name}?v={self.hashes[name]}"

    def cache_control(self, name: str, version: str | None) -> str:
        return IMMUTABLE if version and self.hashes.get(name) == version else REVALIDATE


class CachedStaticFiles:
    """ASGI app serving ``directory`` (mounted at /static) with the cache header its URL
    deserves (see the module docstring)."""

    def __init__(self, directory: Path, assets: StaticAssets) -> None:
        self.files = StaticFiles(directory=directory)
        self.assets = assets

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        name = self.files.get_path(scope).replace("\\", "/")
        version = QueryParams(scope.get("query_string", b"")).get("v")
        cache_control = self.assets.cache_control(name, version)

        async def send_with_cache_control(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] in (200, 304):
                MutableHeaders(scope=message)["Cache-Control"] = cache_control
            await send(message)

        await self.files(scope, receive, send_with_cache_control)
