"""Answers travel light: pages, CSV and JSON go out gzip-compressed (a streamed answer stays
streamed), and static files carry a hash of their bytes in their URL and are cached for a year
when asked for by that URL; an old or missing hash gets the current file, revalidated; an
unknown file answers 404. The same under a path prefix."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.routing import Route
from starlette.testclient import TestClient
from starlette.types import Message

from cipulse.accounts.users import UserService
from cipulse.settings import Settings
from cipulse.storage.database import Database
from cipulse.web.app import create_app
from cipulse.web.dashboard import STATIC
from cipulse.web.dashboard.assets import IMMUTABLE, REVALIDATE
from cipulse.web.middleware import Compression
from tests.conftest import Tenant
from tests.test_dashboard import PASSWORD, ingest, recent_runs, sign_in

ASSET = re.compile(r'(?:href|src)="(/[^"]*static/([^"?]+)\?v=([0-9a-f]+))"')


@pytest.fixture
def signed_in(client: TestClient, tenant: Tenant, database: Database) -> TestClient:
    UserService(database).create_user("ada@example.com", tenant.name, PASSWORD)
    assert sign_in(client, "ada@example.com").status_code == 303
    for number in range(8):  # enough rows that every answer is worth compressing
        ingest(client, tenant, recent_runs(f"CI {number}", f"acme/app-{number}"))
    return client


def raw(client: TestClient, path: str, encoding: str, **headers: str) -> tuple[bytes, str | None]:
    """The body as it travelled, and its Content-Encoding."""
    with client.stream("GET", path, headers={"Accept-Encoding": encoding, **headers}) as answer:
        assert answer.status_code == 200, path
        return b"".join(answer.iter_raw()), answer.headers.get("content-encoding")


@pytest.mark.parametrize(
    "path", ["/pipelines", "/jobs", "/api/v1/pipelines", "/api/v1/analytics/jobs?format=csv"]
)
def test_pages_csv_and_json_are_compressed(signed_in: TestClient, path: str) -> None:
    plain, plain_encoding = raw(signed_in, path, "identity")
    packed, packed_encoding = raw(signed_in, path, "gzip")
    assert plain_encoding is None
    assert packed_encoding == "gzip"
    unpacked = gzip.decompress(packed)
    assert unpacked[:200] == plain[:200]
    assert abs(len(unpacked) - len(plain)) < 100  # the same answer (up to a timing or two)
    assert len(packed) < len(plain) / 2


def test_a_request_another_site_started_is_not_compressed(signed_in: TestClient) -> None:
    """BREACH: a page holds its form token; a site that makes a signed-in browser load pages
    must not learn anything from their compressed sizes."""
    _, encoding = raw(signed_in, "/pipelines", "gzip", **{"Sec-Fetch-Site": "cross-site"})
    assert encoding is None
    _, encoding = raw(signed_in, "/pipelines", "gzip", **{"Sec-Fetch-Site": "same-origin"})
    assert encoding == "gzip"


def test_small_answers_are_not_compressed(client: TestClient) -> None:
    answer = client.get("/healthz", headers={"Accept-Encoding": "gzip"})
    assert answer.status_code == 200
    assert "content-encoding" not in answer.headers


def test_a_streamed_answer_stays_streamed_when_compressed() -> None:
    """The second chunk is only produced once the first has reached the client: a
    compressor that waited for the whole body would never finish."""
    first_sent = asyncio.Event()

    async def rows() -> AsyncIterator[bytes]:
        yield b"job,runs\n" + b"build,1\n" * 200
        await first_sent.wait()
        yield b"test,2\n" * 200

    async def endpoint(request: Request) -> StreamingResponse:
        return StreamingResponse(rows(), media_type="text/csv")

    app = Compression(Starlette(routes=[Route("/csv", endpoint)]))
    bodies: list[bytes] = []

    requested = False

    async def receive() -> Message:
        nonlocal requested
        if requested:  # then the client stays connected until the answer ends
            await asyncio.Event().wait()
        requested = True
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            assert (b"content-encoding", b"gzip") in message["headers"]
        elif message["type"] == "http.response.body" and message.get("body"):
            bodies.append(message["body"])
            first_sent.set()

    scope = {
        "type": "http",
        "method": "GET",
        "path": "/csv",
        "raw_path": b"/csv",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"accept-encoding", b"gzip")],
        "scheme": "http",
        "server": ("test", 80),
        "http_version": "1.1",
    }

    async def serve() -> None:
        await asyncio.wait_for(app(scope, receive, send), timeout=30)

    asyncio.run(serve())
    assert len(bodies) >= 2
    assert gzip.decompress(b"".join(bodies)) == b"job,runs\n" + b"build,1\n" * 200 + (
        b"test,2\n" * 200
    )


def test_static_files_are_cached_by_their_content_hash(client: TestClient) -> None:
    page = client.get("/sign-in").text
    assets = ASSET.findall(page)
    assert {name for _, name, _ in assets} >= {"app.css", "app.js", "favicon.svg"}
    for url, name, version in assets:
        assert version == hashlib.sha256((STATIC / name).read_bytes()).hexdigest()[: len(version)]
        answer = client.get(url)
        assert answer.status_code == 200
        assert answer.headers["cache-control"] == IMMUTABLE
        assert answer.content == (STATIC / name).read_bytes()
    # An older release's hash, or none: the current file, which the browser revalidates.
    for url in ("/static/app.css?v=0123456789abcdef", "/static/app.css"):
        answer = client.get(url)
        assert answer.status_code == 200
        assert answer.headers["cache-control"] == REVALIDATE
    missing = client.get("/static/app.0123456789abcdef.css?v=0123456789abcdef")
    assert missing.status_code == 404
    assert "immutable" not in missing.headers.get("cache-control", "")
    assert client.get("/static/../settings.py").status_code == 404


def test_asset_urls_carry_the_path_prefix(sqlite_template: Path, tmp_path: Path) -> None:
    path = tmp_path / "cipulse.db"
    path.write_bytes(sqlite_template.read_bytes())
    settings = Settings(database_url=f"sqlite:///{path}", bootstrap_org="", root_path="/cipulse")
    with TestClient(create_app(settings)) as client:
        assets = ASSET.findall(client.get("/cipulse/sign-in").text)
        assert assets
        for url, _, _ in assets:
            assert url.startswith("/cipulse/static/")
            answer = client.get(url)
            assert answer.status_code == 200
            assert answer.headers["cache-control"] == IMMUTABLE
