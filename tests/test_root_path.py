"""Serving under a path prefix: a real server with ``root_path=/cipulse`` behind a small
reverse proxy on loopback (which strips the prefix, as nginx's ``proxy_pass …/`` does, or
passes it on), signed in through the form, every link, asset, form and CSV of every page
crawled under the prefix."""

from __future__ import annotations

import http.server
import re
import shutil
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from html import unescape
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from cipulse.accounts.service import AccountService
from cipulse.accounts.users import UserService
from cipulse.settings import Settings
from cipulse.storage.database import Database
from tests.servers import threaded_server
from tests.test_dashboard import PASSWORD, recent_runs, trunk_run

pytestmark = pytest.mark.e2e

PREFIX = "/cipulse"
LINK = re.compile(r'(?:href|src|action)="([^"]*)"')
#: Pages crawled when the proxy strips the prefix; when it passes it on, the first few.
MOST_PAGES = 120
SOME_PAGES = 25
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}


@contextmanager
def reverse_proxy(upstream: str, strip: bool) -> Iterator[str]:
    """A loopback HTTP proxy that serves ``upstream`` under PREFIX; yields its base URL."""
    client = httpx.Client(base_url=upstream, timeout=30)

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def forward(self) -> None:
            if not (self.path == PREFIX or self.path.startswith(f"{PREFIX}/")):
                self.send_error(404, "not under the prefix")
                return
            path = (self.path.removeprefix(PREFIX) or "/") if strip else self.path
            length = int(self.headers.get("Content-Length") or 0)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
            headers["X-Forwarded-Proto"] = "http"
            headers["Host"] = self.headers["Host"]  # as nginx's proxy_set_header Host $host
            answer = client.request(
                self.command, path, headers=headers, content=self.rfile.read(length)
            )
            self.send_response(answer.status_code)
            for key, value in answer.headers.multi_items():
                if key.lower() not in HOP_BY_HOP and key.lower() != "content-encoding":
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(answer.content)))
            self.end_headers()
            self.wfile.write(answer.content)

        do_GET = do_POST = forward

        def log_message(self, *_args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        client.close()


@pytest.fixture
def seeded(sqlite_template: Path, tmp_path: Path) -> tuple[Settings, str]:
    """A SQLite database with an organisation, a user and its ingest key."""
    path = tmp_path / "cipulse.db"
    shutil.copy(sqlite_template, path)
    settings = Settings(database_url=f"sqlite:///{path}", bootstrap_org="", root_path=PREFIX)
    database = Database(settings)
    accounts = AccountService(database)
    accounts.create_organisation("acme")
    key = accounts.create_key("acme").key
    UserService(database).create_user("ada@example.com", "acme", PASSWORD)
    database.dispose()
    return settings, key


def links_of(page: str) -> list[str]:
    return [unescape(link) for link in LINK.findall(page)]


@pytest.mark.parametrize("strip", [True, False], ids=["proxy-strips", "proxy-passes"])
def test_every_link_works_under_a_path_prefix(seeded: tuple[Settings, str], strip: bool) -> None:
    settings, key = seeded
    with (
        ExitStack() as stack,
        threaded_server(settings) as upstream,
        reverse_proxy(upstream, strip) as proxy,
    ):
        browser = stack.enter_context(httpx.Client(base_url=proxy, timeout=30))
        for run in recent_runs():
            posted = browser.post(
                f"{PREFIX}/functions/v1/ingest", json=run, headers={"X-API-Key": key}
            )
            assert posted.status_code == 200, posted.text
        trunk = browser.post(
            f"{PREFIX}/v1/metrics/trackEvents", json=trunk_run(), headers={"x-api-token": key}
        )
        assert trunk.status_code == 200

        # Signing in: every redirect and cookie stays under the prefix.
        away = browser.get(f"{PREFIX}/pipelines?range=7d")
        assert away.status_code == 303
        assert away.headers["location"] == f"{PREFIX}/sign-in?next=/pipelines%3Frange%3D7d"
        form = browser.get(away.headers["location"])
        assert form.status_code == 200
        assert f'action="{PREFIX}/sign-in"' in form.text
        assert "Path=/cipulse/sign-in" in form.headers["set-cookie"]
        csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
        assert csrf is not None
        signed = browser.post(
            f"{PREFIX}/sign-in",
            data={
                "email": "ada@example.com",
                "password": PASSWORD,
                "csrf": csrf[1],
                "next": "/pipelines?range=7d",
            },
        )
        assert signed.status_code == 303
        assert signed.headers["location"] == f"{PREFIX}/pipelines?range=7d"
        assert "Path=/cipulse;" in signed.headers["set-cookie"]

        # Crawl: every link, asset and GET form of every page, under the prefix, answers 200.
        seen: set[str] = set()
        queue = [f"{PREFIX}/"]
        posts: set[str] = set()
        while queue and len(seen) < (MOST_PAGES if strip else SOME_PAGES):
            url = queue.pop(0)
            if url in seen:
                continue
            seen.add(url)
            response = browser.get(url)
            if response.is_redirect:  # /red-since: to the run that turned a branch red
                location = response.headers["location"]
                assert location.startswith(f"{PREFIX}/"), f"{url} redirects to {location}"
                queue.append(location)
                continue
            assert response.status_code == 200, f"{url}: {response.status_code}"
            if not response.headers["content-type"].startswith("text/html"):
                continue
            page = response.text
            assert "127.0.0.1:8000" not in page
            for form in re.finditer(r'<form[^>]*method="post"[^>]*action="([^"]+)"', page):
                posts.add(unescape(form[1]))
            for link in links_of(page):
                parts = urlsplit(link)
                if parts.scheme or link.startswith("#"):
                    continue  # links CI sent (run and job URLs), and anchors
                assert link.startswith(f"{PREFIX}/"), f"{url} links to {link}"
                target = link.split("#")[0]
                if target not in posts and target not in seen:
                    queue.append(target)
        crawled = {urlsplit(url).path for url in seen}
        if not strip:
            return
        for page in ("/", "/pipelines", "/jobs", "/flaky", "/metrics", "/settings"):
            assert f"{PREFIX}{page}" in crawled
        assert any(path.startswith(f"{PREFIX}/runs/") for path in crawled)
        assert any(path.startswith(f"{PREFIX}/static/") for path in crawled)
        assert any("format=csv" in url for url in seen)
        assert {f"{PREFIX}/sign-out", f"{PREFIX}/settings/keys"} <= posts

        # The settings page prints the proxy's address, prefix included.
        settings_page = browser.get(f"{PREFIX}/settings").text
        assert f"<code>POST {proxy}{PREFIX}/functions/v1/ingest</code>" in settings_page

        # Signing out lands on the sign-in page under the prefix.
        csrf = re.search(r'name="csrf" value="([^"]+)"', settings_page)
        assert csrf is not None
        out = browser.post(f"{PREFIX}/sign-out", data={"csrf": csrf[1]})
        assert out.headers["location"] == f"{PREFIX}/sign-in"
