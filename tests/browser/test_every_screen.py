"""The dashboard on every screen, in real headless Chromium against a real server over a
generated history: axe-core finds no accessibility violation on any page (overview, pipelines,
a pipeline, a run, jobs, flaky, metrics, settings, sign-in, an error page) at a desktop width
(light and dark) and a phone's; on a phone no page scrolls sideways, a table's name column
stays readable (words, not a letter per line) and the waterfall's axis labels do not overlap;
and every link on every page, crawled from the overview, answers 200.

These check markup, not figures, so they run on SQLite only, over one server shared by the
module (the figures are checked on both databases in tests/browser/test_dashboard.py).

axe-core is a test tool, vendored in tests/browser/vendor/ (see its README.md); it is injected
into each page with the page's Content-Security-Policy bypassed (the dashboard itself allows
no script but its own)."""

from __future__ import annotations

import contextlib
import itertools
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from cipulse.settings import Settings
from tests.browser.conftest import (
    TIMEOUT_MS,
    ColorScheme,
    _console_error,
    save_screenshot,
    seed_demo,
)
from tests.servers import threaded_server

AXE = Path(__file__).resolve().parent / "vendor" / "axe.min.js"
EMAIL = "grace@example.com"
PASSWORD = "correct horse battery"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
#: The crawl's bounds: pages opened in the browser, and links checked in all.
CRAWL_PAGES = 60
CRAWL_LINKS = 400


@dataclass(frozen=True)
class Demo:
    url: str


@pytest.fixture(scope="module")
def demo(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """One real server over a small generated history, shared by this module's tests (they
    only read)."""
    path = tmp_path_factory.mktemp("screens") / "cipulse.db"
    shutil.copy(sqlite_template, path)
    settings = Settings(database_url=f"sqlite:///{path}", bootstrap_org="")
    seed_demo(settings, EMAIL, PASSWORD)
    with threaded_server(settings) as url:
        yield Demo(url=url)


@pytest.fixture(scope="module")
def signed_in(browser: Browser, demo: Demo) -> dict[str, Any]:
    """The storage state (session cookie) of a signed-in user, for each test's own context."""
    context = browser.new_context()
    page = context.new_page()
    page.goto(demo.url + "/sign-in")
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    state = context.storage_state()
    context.close()
    return dict(state)


def open_page(
    browser: Browser,
    viewport: dict[str, int],
    state: dict[str, Any] | None,
    color_scheme: ColorScheme = "light",
) -> tuple[Page, list[str]]:
    """A page in its own context (CSP bypassed so axe can be injected), and the list its
    JavaScript errors are recorded in."""
    context = browser.new_context(
        viewport=viewport,  # type: ignore[arg-type]
        storage_state=state,  # type: ignore[arg-type]
        color_scheme=color_scheme,
        bypass_csp=True,
    )
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(f"{error.name}: {error.message}"))

    def on_console(message: ConsoleMessage) -> None:
        # The error page's own 404 is the answer we asked for, not a failed load of the page.
        error = _console_error(message)
        if error and message.location.get("url") != page.url:
            errors.append(error)

    page.on("console", on_console)
    return page, errors


def dashboard_pages(page: Page, url: str) -> dict[str, str]:
    """Every kind of dashboard page, by name: its URL on the demo server."""
    page.goto(url + "/pipelines")
    pipeline = page.locator('table[data-table="pipelines"] a.name').first.get_attribute("href")
    assert pipeline
    page.goto(urljoin(url, pipeline))
    run = page.get_by_role("region", name="Recent runs").locator("tbody a").first
    run_href = run.get_attribute("href")
    assert run_href
    return {
        "overview": url + "/",
        "pipelines": url + "/pipelines",
        "pipeline": urljoin(url, pipeline),
        "run": urljoin(url, run_href),
        "runs": url + "/runs",
        "pull_requests": url + "/pull-requests",
        "jobs": url + "/jobs",
        "runners": url + "/runners",
        "runner_names": url + "/runners/names?label_set=ubuntu-latest",
        "costs": url + "/costs",
        "costs_by_team": url + "/costs?group_by=team",
        "flaky": url + "/flaky",
        "tests": url + "/tests",
        "metrics": url + "/metrics",
        "teams": url + "/teams",
        "quarantine": url + "/quarantine",
        "settings": url + "/settings",
        "error": url + "/pipelines/999999999",
    }


def axe_violations(page: Page) -> list[str]:
    """axe-core's violations of the page as it stands, one line per rule and element."""
    page.add_script_tag(path=AXE)
    found = page.evaluate(
        """async () => {
            const result = await axe.run(document, {resultTypes: ["violations"]});
            return result.violations.map(v => ({
                id: v.id, impact: v.impact, help: v.help,
                targets: v.nodes.map(n => n.target.join(" ")),
            }));
        }"""
    )
    return [
        f"{v['id']} ({v['impact']}, {len(v['targets'])} nodes): {v['help']}: "
        + ", ".join(v["targets"][:3])
        for v in found
    ]


#: The page's width, and the elements that stick out of the viewport (outside scroll boxes).
WIDEST = """() => [
    document.documentElement.scrollWidth,
    [...document.querySelectorAll("body *")]
        .filter(e => e.getBoundingClientRect().right > innerWidth + 1)
        .filter(e => !(e.parentElement && e.parentElement.closest(".table-wrap")))
        .slice(0, 5)
        .map(e => `${e.tagName.toLowerCase()}.${e.className} ${e.getBoundingClientRect().right}`),
]"""


def settled(page: Page) -> None:
    """Charts drawn, so that axe sees what a reader sees."""
    for chart in page.locator("[data-chart]").all():
        expect(chart.locator("svg").first).to_be_attached()


@pytest.mark.parametrize(
    ("viewport", "color_scheme"),
    [(DESKTOP, "light"), (PHONE, "light"), (DESKTOP, "dark")],
    ids=["desktop", "phone", "desktop-dark"],
)
def test_every_page_has_no_accessibility_violation(
    browser: Browser,
    demo: Demo,
    signed_in: dict[str, Any],
    viewport: dict[str, int],
    color_scheme: ColorScheme,
) -> None:
    page, errors = open_page(browser, viewport, signed_in, color_scheme)
    pages = dashboard_pages(page, demo.url)
    violations: dict[str, list[str]] = {}
    widths: dict[str, tuple[int, list[str]]] = {}
    for name, url in pages.items():
        response = page.goto(url)
        assert response is not None
        assert response.status == (404 if name == "error" else 200), name
        settled(page)
        violations[name] = axe_violations(page)
        widths[name] = page.evaluate(WIDEST)
    signed_out, signed_out_errors = open_page(browser, viewport, None, color_scheme)
    signed_out.goto(demo.url + "/sign-in")
    violations["sign-in"] = axe_violations(signed_out)
    widths["sign-in"] = signed_out.evaluate(WIDEST)
    signed_out.context.close()
    page.context.close()
    found = {name: lines for name, lines in violations.items() if lines}
    assert not found, "axe-core violations:\n" + "\n".join(
        f"{name}: {line}" for name, lines in found.items() for line in lines
    )
    too_wide = {name: w for name, w in widths.items() if w[0] > viewport["width"] + 1}
    assert not too_wide, f"pages that scroll sideways at {viewport['width']} px: {too_wide}"
    assert not errors + signed_out_errors, errors + signed_out_errors


#: The first cell of each row of a dashboard table: its width and height in pixels.
FIRST_CELLS = """() => [...document.querySelectorAll("table[data-table] tbody tr")].map(row => {
    const cell = row.querySelector("td.name") || row.querySelector("td");
    const box = cell.getBoundingClientRect();
    return [box.width, box.height];
})"""
#: The waterfall's axis labels that are shown, as [left, right] in pixels.
AXIS_LABELS = """() => [...document.querySelectorAll(".waterfall .axis span")]
    .map(label => label.getBoundingClientRect())
    .filter(box => box.width > 0)
    .map(box => [box.left, box.right])"""


def test_a_phone_reads_tables_and_the_waterfall(
    browser: Browser, demo: Demo, signed_in: dict[str, Any]
) -> None:
    """At 390 px: a table's name column is wide enough for words (not one letter per line)
    and its rows stay short; a keyboard scrolls a table sideways; the waterfall's axis labels
    do not overlap. Screenshots go to the screenshots folder (``*-phone.png``)."""
    page, errors = open_page(browser, PHONE, signed_in)
    pages = dashboard_pages(page, demo.url)
    for name in ("pipelines", "jobs", "flaky", "pipeline"):
        page.goto(pages[name])
        cells = page.evaluate(FIRST_CELLS)
        assert cells, name
        assert min(width for width, _ in cells) >= 120, f"{name}: a name column {cells[:3]}"
        # A name and its repository beneath it, wrapped at words: a few lines, not a column
        # of letters (the Flaky page's rows were 220 px tall).
        assert max(height for _, height in cells) <= 130, f"{name}: a row {cells[:3]}"
        save_screenshot(page, f"{name}-phone", full_page=False)
    page.goto(pages["jobs"])
    table = page.locator(".table-wrap").first
    table.focus()
    page.keyboard.press("End")
    page.keyboard.press("ArrowRight")
    # The browser may scroll smoothly: wait (bounded) for it to move, then check.
    scrolled = "box => box.scrollLeft > 0"
    with contextlib.suppress(PlaywrightTimeout):
        page.wait_for_function(scrolled, arg=table.element_handle(), timeout=2000)
    assert table.evaluate(scrolled), "the keyboard does not scroll the table"
    page.goto(pages["run"])
    labels = page.evaluate(AXIS_LABELS)
    assert len(labels) >= 2
    for (_, right), (left, _) in itertools.pairwise(labels):
        assert right <= left, f"axis labels overlap: {labels}"
    save_screenshot(page, "run-phone")
    page.context.close()
    assert not errors, errors


def links_on(page: Page) -> list[str]:
    """Every URL the page links to or loads: anchors (HTML and SVG), stylesheets and icons,
    scripts, and GET forms (by their action)."""
    found: list[str] = page.evaluate(
        """() => [
            ...[...document.querySelectorAll("a[href]")].map(a => a.href.baseVal ?? a.href),
            ...[...document.querySelectorAll("link[href]")].map(l => l.href),
            ...[...document.querySelectorAll("script[src]")].map(s => s.src),
            ...[...document.querySelectorAll("form:not([method=post])")].map(f => f.action),
        ]"""
    )
    return [urljoin(page.url, link) for link in found]


def test_every_link_on_every_page_answers_200(
    browser: Browser, demo: Demo, signed_in: dict[str, Any]
) -> None:
    """From the overview, breadth first: each page is opened in the browser and every
    same-origin URL it names is asked for with the page's session; the first CRAWL_PAGES
    pages are opened in turn, CRAWL_LINKS URLs are asked for in all."""
    page, errors = open_page(browser, DESKTOP, signed_in)
    origin = urlsplit(demo.url).netloc
    checked: dict[str, int] = {}
    queue = [demo.url + "/"]
    opened: list[str] = []
    while queue and len(opened) < CRAWL_PAGES:
        url = queue.pop(0)
        if url in opened:
            continue
        response = page.goto(url)
        assert response is not None
        assert response.status == 200, f"{url}: {response.status}"
        opened.append(url)
        if not response.headers.get("content-type", "").startswith("text/html"):
            continue
        for link in links_on(page):
            target = link.split("#")[0]
            if urlsplit(target).netloc != origin or target in checked:
                continue
            if len(checked) >= CRAWL_LINKS:
                break
            answer = page.request.get(target, max_redirects=0)
            checked[target] = answer.status
            if answer.status == 303:  # /red-since: to the run that turned a branch red
                location = urljoin(target, answer.headers["location"])
                checked[target] = page.request.get(location).status
                queue.append(location)
            elif answer.headers.get("content-type", "").startswith("text/html"):
                queue.append(target)
    page.context.close()
    broken = {url: status for url, status in checked.items() if status != 200}
    assert not broken, f"links that do not answer 200: {broken}"
    paths = {urlsplit(url).path for url in checked}
    for path in ("/", "/pipelines", "/jobs", "/flaky", "/metrics", "/teams", "/costs", "/settings"):
        assert path in paths
    assert any(path.startswith("/runs/") for path in paths)
    assert any(path.startswith("/static/") for path in paths)
    assert any("format=csv" in url for url in checked)
    assert not errors, errors
