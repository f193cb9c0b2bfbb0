"""Lists and exports that are whole, over real HTTP on SQLite and PostgreSQL: every sort link
of every page answers 200; a CSV holds exactly the rows of its view, all of them, in the
view's order, streamed in batches, with its header even when empty; the Flaky page pages and
its header sums every flaky job, not the page shown."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html import unescape
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest

from cipulse.accounts.service import AccountService
from cipulse.accounts.users import UserService
from cipulse.analytics import whole_lists
from cipulse.analytics.refresh import refresh_all
from cipulse.settings import Settings
from cipulse.storage.database import Database
from cipulse.web.csv_export import flattened
from cipulse.web.dashboard.rendering import hours
from tests.builders import runwatch_job, runwatch_run
from tests.servers import threaded_server
from tests.test_dashboard import PASSWORD, recent_runs, trunk_run

pytestmark = pytest.mark.e2e

#: Rows per batch of a whole list, and run attempts per keyset page, while testing: small, so
#: that every export here spans several batches.
BATCH_ROWS = 7
RUNS_PER_READ = 10
#: Jobs of the wide pipeline: more than a page of the Jobs and Flaky pages (100).
WIDE_JOBS = 130
#: Pipelines of acme/many: more than a page of the Pipelines page (50).
MANY_PIPELINES = 55
LINK = re.compile(r'href="([^"]*)"')


@dataclass
class Served:
    browser: httpx.Client
    database: Database
    reader: dict[str, str]
    empty_reader: dict[str, str]


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def wide_run(attempt: int, status: str) -> dict[str, Any]:
    """A run of WIDE_JOBS jobs: attempt 1 fails in every job, attempt 2 passes (every job
    is flaky once)."""
    started = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=6 - attempt)
    jobs = [
        runwatch_job(
            f"job {number:03d}",
            status,
            started_at=iso(started + timedelta(seconds=number)),
            completed_at=iso(started + timedelta(seconds=2 * number + 5)),
            duration_seconds=number + 5,
        )
        for number in range(WIDE_JOBS)
    ]
    return runwatch_run(
        repository="acme/wide",
        pipeline_name="Wide",
        run_id=7,
        run_attempt=attempt,
        status=status,
        branch="main",
        started_at=iso(started),
        completed_at=iso(started + timedelta(minutes=10)),
        duration_seconds=600,
        compute_seconds=900,
        jobs=jobs,
    )


def seeded_runs() -> list[dict[str, Any]]:
    runs = [wide_run(1, "failure"), wide_run(2, "success"), *recent_runs()]
    for number in range(MANY_PIPELINES):
        run = recent_runs(pipeline=f"p{number:02d}", repository="acme/many")[0]
        run["run_id"] = 1000 + number
        if number % 4 == 0:
            run["provider"] = "gitlab"
        runs.append(run)
    return runs


@pytest.fixture
def served(
    settings: Settings, database: Database, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Served]:
    monkeypatch.setattr(whole_lists, "BATCH_ROWS", BATCH_ROWS)
    monkeypatch.setattr(whole_lists, "MAX_PAGE", RUNS_PER_READ)
    accounts = AccountService(database)
    accounts.create_organisation("acme")
    ingest = {"X-API-Key": accounts.create_key("acme").key}
    reader = {"X-API-Key": accounts.create_key("acme", scopes=("read",)).key}
    UserService(database).create_user("ada@example.com", "acme", PASSWORD)
    accounts.create_organisation("empty")
    empty = {"X-API-Key": accounts.create_key("empty", scopes=("read",)).key}
    # No background refresh: the lists are read from raw rows until a test refreshes the
    # rollups itself (reads are not one snapshot while the refresher stores partitions).
    quiet = settings.model_copy(update={"rollup_interval_seconds": 0})
    with threaded_server(quiet) as url, httpx.Client(base_url=url, timeout=60) as browser:
        for run in seeded_runs():
            posted = browser.post("/functions/v1/ingest", json=run, headers=ingest)
            assert posted.status_code == 200, posted.text
        trunk = browser.post(
            "/v1/metrics/trackEvents",
            json=trunk_run(),
            headers={"x-api-token": ingest["X-API-Key"]},
        )
        assert trunk.status_code == 200, trunk.text
        form = browser.get("/sign-in")
        csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
        assert csrf is not None
        signed_in = browser.post(
            "/sign-in",
            data={"email": "ada@example.com", "password": PASSWORD, "csrf": csrf.group(1)},
        )
        assert signed_in.status_code == 303, signed_in.text
        yield Served(browser, database, reader, empty)


def links(page: str, containing: str) -> list[str]:
    return [unescape(link) for link in LINK.findall(page) if containing in unescape(link)]


def csv_links(page: str) -> list[str]:
    return [unescape(link) for link in re.findall(r'href="([^"]*)" download', page)]


def read_csv(browser: httpx.Client, url: str) -> tuple[list[str], list[dict[str, str]]]:
    answer = browser.get(url)
    assert answer.status_code == 200, (url, answer.text[:300])
    assert answer.headers["content-type"].startswith("text/csv")
    reader = csv.DictReader(io.StringIO(answer.text))
    rows = list(reader)
    return list(reader.fieldnames or []), rows


def every_page(browser: httpx.Client, url: str) -> Iterator[str]:
    """The page at ``url`` and those its "Next" links lead to."""
    while True:
        answer = browser.get(url)
        assert answer.status_code == 200, (url, answer.text[:300])
        yield answer.text
        following = re.search(r'<a href="([^"]*)" rel="next"', answer.text)
        if following is None:
            return
        url = unescape(following.group(1))


def shown(browser: httpx.Client, url: str, attribute: str) -> list[str]:
    """The keys (``attribute`` of each row) of every row of every page of a list view."""
    pattern = re.compile(rf'<tr {attribute}="([^"]*)"')
    return [unescape(key) for page in every_page(browser, url) for key in pattern.findall(page)]


def pipeline_id(served: Served, name: str) -> str:
    pipelines = served.browser.get(
        "/api/v1/pipelines", params={"q": name, "limit": 1000}, headers=served.reader
    ).json()["items"]
    return next(row["id"] for row in pipelines if row["name"] == name)


# Links and routing are the same code on both databases; sorting by each figure on both is
# tested below (the CSV in the page's order) and by the consistency tests.
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_every_sort_link_on_every_page_answers_200(served: Served) -> None:
    browser = served.browser
    pages = ["/", "/pipelines", "/jobs", "/flaky", "/metrics"]
    pages.append(f"/pipelines/{pipeline_id(served, 'Wide')}")
    followed: set[str] = set()
    for path in pages:
        answer = browser.get(path)
        assert answer.status_code == 200, path
        first = links(answer.text, "sort=")
        assert first or path in {"/", "/flaky", "/metrics"}, path
        for link in first:
            sorted_page = browser.get(link)
            assert sorted_page.status_code == 200, (link, sorted_page.text[:300])
            followed.add(link)
            # The same header again: the other direction.
            for again in links(sorted_page.text, "sort="):
                if again not in followed:
                    assert browser.get(again).status_code == 200, again
                    followed.add(again)
    assert any("sort=-pipeline" in link for link in followed)
    assert any("sort=pipeline" in link for link in followed)


@pytest.mark.parametrize(
    "sort",
    ["", "-pipeline", "pipeline", "job", "-runs", "-p95_duration_seconds", "flaky_count"],
)
def test_the_jobs_csv_holds_every_row_of_the_jobs_page_in_its_order(
    served: Served, sort: str
) -> None:
    url = f"/jobs?sort={sort}" if sort else "/jobs"
    jobs_csv_is_the_jobs_pages(served, url)  # from the raw rows
    refresh_all(served.database)
    jobs_csv_is_the_jobs_pages(served, url)  # from the rollups


def jobs_csv_is_the_jobs_pages(served: Served, url: str) -> None:
    browser = served.browser
    on_pages = shown(browser, url, "data-job-key")
    assert len(on_pages) > 100  # more than one page
    (link,) = csv_links(browser.get(url).text)
    assert "limit=" not in link
    _, rows = read_csv(browser, link)
    assert [f"{row['pipeline_id']}/{row['definition_key']}" for row in rows] == on_pages
    # The same rows, figure for figure, as the read API's JSON pages.
    path, query = link.split("?", 1)
    view = {**dict(parse_qsl(query)), "format": "json", "limit": "40"}
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        params = {**view, **({"cursor": cursor} if cursor else {})}
        page = browser.get(path, params=params, headers=served.reader).json()
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    expected = [as_cells(item) for item in items]
    for got, want in zip(rows, expected, strict=True):
        assert got == want, {k: (got.get(k), want.get(k)) for k in got if got.get(k) != want.get(k)}


def as_cells(item: dict[str, Any]) -> dict[str, str]:
    """A JSON row as the CSV writes it (no formula text in these rows)."""
    return {key: "" if value is None else str(value) for key, value in flattened(item).items()}


def test_the_pipeline_pages_csvs_hold_every_job_and_every_run(served: Served) -> None:
    browser = served.browser
    wide = pipeline_id(served, "Wide")
    url = f"/pipelines/{wide}?sort=job"
    on_pages = shown(browser, url, "data-job-key")
    assert len(on_pages) == WIDE_JOBS  # more than a page: the pager goes on
    jobs_csv, runs_csv = csv_links(browser.get(url).text)
    _, jobs = read_csv(browser, jobs_csv)
    assert [f"{row['pipeline_id']}/{row['definition_key']}" for row in jobs] == on_pages
    _, runs = read_csv(browser, runs_csv)
    assert [row["attempt"] for row in runs] == ["2", "1"]
    # Every run of the organisation, more than a keyset read holds, newest first.
    streamed = browser.get("/api/v1/runs?days=30&format=csv")
    assert "content-length" not in streamed.headers  # written a batch at a time
    _, every_run = read_csv(browser, "/api/v1/runs?days=30&format=csv")
    assert len(every_run) == 2 + 4 + MANY_PIPELINES + 1
    api = browser.get("/api/v1/runs?days=30&limit=1000", headers=served.reader).json()
    assert [row["id"] for row in every_run] == [item["id"] for item in api["items"]]
    assert all(isinstance(json.loads(row["tags"]), dict) for row in every_run)


@pytest.mark.parametrize(
    "query",
    [
        "sort=name",
        "sort=-runs",
        "q=P1",
        "provider=gitlab",
        "q=p&provider=gitlab&sort=-p95_duration_seconds",
        "repository=acme/many&sort=name",
        "q=nothing-matches",
    ],
)
def test_the_pipelines_csv_holds_the_rows_of_the_search_and_filters(
    served: Served, query: str
) -> None:
    browser = served.browser
    url = f"/pipelines?{query}"
    on_pages = shown(browser, url, "data-pipeline")
    (link,) = csv_links(browser.get(url).text)
    header, rows = read_csv(browser, link)
    assert [row["id"] for row in rows] == on_pages
    assert "runs" in header and "by_status.success" in header
    if query == "sort=name":
        assert len(on_pages) > 50  # more than one page
    if "provider=gitlab" in query:
        assert 0 < len(rows) < MANY_PIPELINES / 2


def test_the_flaky_page_pages_and_its_header_sums_every_flaky_job(served: Served) -> None:
    browser = served.browser
    on_pages = shown(browser, "/flaky", "data-job-key")
    assert len(on_pages) == WIDE_JOBS + 1  # the wide run's jobs and recent_runs' "test"
    first = browser.get("/flaky").text
    (link,) = csv_links(first)
    _, rows = read_csv(browser, link)
    assert [f"{row['pipeline_id']}/{row['definition_key']}" for row in rows] == on_pages
    retry = sum(float(row["retry_compute_seconds"]) for row in rows)
    heading = re.search(r"<h2>([^<]*)</h2>", first)
    assert heading is not None
    assert unescape(heading.group(1)) == (
        f"{WIDE_JOBS + 1} flaky jobs · retries cost {hours(retry)} of compute"
    )
    second = next(p for i, p in enumerate(every_page(browser, "/flaky")) if i == 1)
    ranks = re.findall(r'<td class="muted rank">(\d+)</td>', second)
    assert ranks[0] == "101"


CSV_LISTS = [
    "/api/v1/analytics/jobs",
    "/api/v1/analytics/flaky",
    "/api/v1/pipelines",
    "/api/v1/repositories",
    "/api/v1/runs",
]


@pytest.mark.parametrize("path", CSV_LISTS)
def test_an_empty_list_answers_its_header_and_the_same_columns_as_a_full_one(
    served: Served, path: str
) -> None:
    browser = served.browser
    full_header, full = read_csv(browser, f"{path}?days=30&format=csv")
    assert full
    # An organisation with nothing stored: every list is empty.
    answer = browser.get(path, params={"format": "csv"}, headers=served.empty_reader)
    assert answer.status_code == 200, answer.text
    lines = answer.text.splitlines()
    assert len(lines) == 1
    assert next(csv.reader(lines)) == full_header
    assert set(full[0]) == set(full_header)


def test_a_paged_csv_still_answers_one_page_with_its_cursor(served: Served) -> None:
    answer = served.browser.get("/api/v1/analytics/jobs?days=30&format=csv&limit=5")
    assert answer.status_code == 200
    assert len(answer.text.strip().splitlines()) == 6
    assert answer.headers["x-next-cursor"]
    bad = served.browser.get("/api/v1/pipelines?days=30&format=csv&sort=colour")
    assert bad.status_code == 400 and "sort: must be one of" in bad.json()["error"]
