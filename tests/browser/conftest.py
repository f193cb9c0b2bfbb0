"""Browser tests: real headless Chromium, driven through Playwright's sync API, against a real
cipulse server on a loopback port.

The browser is Debian's ``chromium`` (or ``CIPULSE_TEST_CHROMIUM``); Playwright never downloads
one. Without it these tests are skipped with the reason, unless
``CIPULSE_TEST_REQUIRE_BROWSER=1`` (CI), where they fail instead.

Every ``page`` records the page's JavaScript errors (console messages of type error and uncaught
exceptions) in ``page.js_errors`` and fails the test at teardown unless that list is empty, so
each browser test also proves its pages ran without a JavaScript error. A test that provokes one
on purpose checks the list and clears it.

The ``browser`` fixture is per module: Playwright's sync API keeps an asyncio event loop
running in the main thread while it is started, so it must stop before the tests of other
modules (which call ``asyncio.run``) come next in the same process."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

import pytest
from click.testing import CliRunner
from playwright.sync_api import Browser, ConsoleMessage, Error, Page, sync_playwright

from cipulse.accounts.users import UserService
from cipulse.cli.main import cli
from cipulse.settings import Settings
from cipulse.storage.database import Database
from tests.servers import threaded_server

ROOT = Path(__file__).resolve().parents[2]
REQUIRE_BROWSER = os.environ.get("CIPULSE_TEST_REQUIRE_BROWSER") == "1"
VIEWPORT = {"width": 1280, "height": 800}
# Playwright's own default is 30 s; a page of a loopback server that takes longer is broken.
TIMEOUT_MS = 10_000

ColorScheme = Literal["light", "dark", "no-preference"]


def chromium_executable() -> str | None:
    """``CIPULSE_TEST_CHROMIUM`` if set (a path or a command name), else ``chromium`` on PATH."""
    configured = os.environ.get("CIPULSE_TEST_CHROMIUM")
    if configured:
        return shutil.which(configured)
    return shutil.which("chromium")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Everything under tests/browser/ is a browser test (``-m "not browser"`` leaves it out)."""
    here = Path(__file__).parent
    for item in items:
        if item.path.is_relative_to(here):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Headless Chromium, one per test module; Playwright stops with it."""
    executable = chromium_executable()
    if executable is None:
        wanted = os.environ.get("CIPULSE_TEST_CHROMIUM") or "chromium"
        problem = (
            f"no Chromium: {wanted!r} not found (apt-get install chromium, "
            "or set CIPULSE_TEST_CHROMIUM to its path)"
        )
        if REQUIRE_BROWSER:
            pytest.fail(problem)
        pytest.skip(problem)
    # Chromium's sandbox cannot start as root (CI containers); elsewhere it stays on.
    args = ["--no-sandbox"] if os.geteuid() == 0 else []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, headless=True, args=args, timeout=30_000
        )
        yield browser
        browser.close()


@pytest.fixture
def color_scheme() -> ColorScheme:
    """The ``prefers-color-scheme`` of ``page``; override with
    ``@pytest.mark.parametrize("color_scheme", ["light", "dark"])``."""
    return "light"


def _console_error(message: ConsoleMessage) -> str | None:
    """The error a console message reports, or None. The browser's own request for
    /favicon.ico (made for any page that names no icon, a JSON response too) is not the page's
    doing; every other failed load (a script, a style sheet, an API call) is."""
    if message.type != "error":
        return None
    url = message.location.get("url", "")
    if message.text.startswith("Failed to load resource") and urlsplit(url).path == "/favicon.ico":
        return None
    where = f" ({url}:{message.location['lineNumber']})" if url else ""
    return f"console.error: {message.text}{where}"


@pytest.fixture
def page(browser: Browser, color_scheme: ColorScheme) -> Iterator[Page]:
    """A page in a fresh context (1280x800), failing the test at teardown if any JavaScript
    error happened on it: see ``page.js_errors``."""
    context = browser.new_context(viewport=VIEWPORT, color_scheme=color_scheme)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    errors: list[str] = []
    page.js_errors = errors  # type: ignore[attr-defined]

    def on_console(message: ConsoleMessage) -> None:
        error = _console_error(message)
        if error:
            errors.append(error)

    def on_page_error(error: Error) -> None:
        errors.append(f"uncaught {error.name}: {error.message}\n{error.stack or ''}".rstrip())

    page.on("console", on_console)
    page.on("pageerror", on_page_error)
    try:
        yield page
    finally:
        context.close()
    assert not errors, "JavaScript errors on the page:\n" + "\n".join(errors)


def screenshots_dir() -> Path:
    """``CIPULSE_SCREENSHOTS_DIR`` if set, else build/screenshots/ (git-ignored)."""
    configured = os.environ.get("CIPULSE_SCREENSHOTS_DIR")
    return Path(configured) if configured else ROOT / "build" / "screenshots"


def save_screenshot(page: Page, name: str, *, full_page: bool = True) -> Path:
    """Save a PNG of ``page`` as ``<screenshots dir>/<name>.png``; return its path."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.") or "screenshot"
    path = screenshots_dir() / f"{safe.removesuffix('.png')}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=path, full_page=full_page)
    return path


@pytest.fixture
def screenshot() -> Callable[..., Path]:
    """``screenshot(page, name)`` saves a PNG of the page (see ``save_screenshot``)."""
    return save_screenshot


@dataclass(frozen=True)
class LiveServer:
    """A real cipulse server on a loopback port, and the settings it runs with (its database
    is a fresh copy of the migrated SQLite template)."""

    url: str
    settings: Settings


@pytest.fixture
def live_server(sqlite_template: Path, tmp_path: Path) -> Iterator[LiveServer]:
    """The real app served by uvicorn on a free loopback port (tests/servers.py), on SQLite."""
    path = tmp_path / "cipulse.db"
    shutil.copy(sqlite_template, path)
    settings = Settings(database_url=f"sqlite:///{path}", bootstrap_org="")
    with threaded_server(settings) as url:
        yield LiveServer(url=url, settings=settings)


def seed_demo(settings: Settings, email: str, password: str) -> None:
    """A small generated history of the organisation ``demo`` (400 runs over 21 days) and a
    dashboard user of it, for the tests that read pages as a newcomer would."""
    seeded = CliRunner().invoke(
        cli,
        [
            *("--database-url", settings.database_url, "demo", "seed", "--org", "demo"),
            *("--runs", "400", "--days", "21"),
        ],
        catch_exceptions=False,
    )
    assert seeded.exit_code == 0, seeded.output
    database = Database(settings)
    try:
        UserService(database).create_user(email, "demo", password)
    finally:
        database.dispose()
