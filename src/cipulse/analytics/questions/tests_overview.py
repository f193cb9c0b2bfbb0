"""The Tests page's question: the top lists, new failures and a search.

One read of every test's window figures (``questions/tests.py``) gives the slowest, the
most failing and the flakiest tests, and the page of the searched list. **New failures**
are the broken tests whose failing streak on the default branch started in the window:
the candidates are the tests that failed on the window's last days with results (from the
rollups), at most ``NEW_FAILURE_CANDIDATES`` of them, the most recent failures first; each
reads its newest ``NEW_FAILURE_RESULTS`` results through its index. A streak longer than
that shows where it is known to have failed since."""

from __future__ import annotations

from dataclasses import dataclass, replace

from cipulse.analytics.paging import Page, PageRequest, ordered, page_of, page_range
from cipulse.analytics.questions.test_page import TestResult, outcome_of, result_of
from cipulse.analytics.questions.tests import (
    FLAKIEST,
    MOST_FAILING,
    SLOWEST,
    TestRow,
    all_tests,
    name_rows,
)
from cipulse.domain import flaky_rules
from cipulse.domain.window import Window
from cipulse.storage import test_reads, test_rules
from cipulse.storage.database import Database

TOP = 10
NEW_FAILURE_CANDIDATES = 20
NEW_FAILURE_RESULTS = 200


@dataclass(frozen=True, slots=True)
class NewFailure:
    """A test broken on the default branch since a result in the window."""

    test: TestRow
    started: TestResult


@dataclass(frozen=True, slots=True)
class TestsOverview:
    __test__ = False

    tests: int
    slowest: tuple[TestRow, ...]
    most_failing: tuple[TestRow, ...]
    flakiest: tuple[TestRow, ...]
    new_failures: tuple[NewFailure, ...]
    page: Page[TestRow]


def _top(rows: list[TestRow], sort: str, field: str) -> tuple[TestRow, ...]:
    return tuple(r for r in ordered(rows, sort) if getattr(r, field))[:TOP]


def tests_overview(
    database: Database, org_id: str, window: Window, search: str, page: PageRequest
) -> TestsOverview:
    page_range(page)
    rows = all_tests(database, org_id, window, search, page.sort)
    shown = page_of(ordered(rows, page.sort), None, page)
    slowest = _top(rows, SLOWEST, "mean_duration_ms")
    most_failing = _top(rows, MOST_FAILING, "failures")
    flakiest = _top(rows, FLAKIEST, "flaky")
    failures = new_failures(database, org_id, window, rows)
    every = [*slowest, *most_failing, *flakiest, *shown.items, *(f.test for f in failures)]
    named = {row.id: row for row in name_rows(database, org_id, every, window)}

    def of(found: tuple[TestRow, ...] | list[TestRow]) -> tuple[TestRow, ...]:
        return tuple(named[row.id] for row in found if row.id in named)

    return TestsOverview(
        tests=len(rows),
        slowest=of(slowest),
        most_failing=of(most_failing),
        flakiest=of(flakiest),
        new_failures=tuple(
            replace(f, test=named[f.test.id]) for f in failures if f.test.id in named
        ),
        page=Page(list(of(shown.items)), shown.next_cursor),
    )


def new_failures(
    database: Database, org_id: str, window: Window, rows: list[TestRow]
) -> tuple[NewFailure, ...]:
    """The broken tests whose default-branch failing streak started in the window."""
    failed = [r for r in rows if r.last_failure_day_ms is not None]
    failed.sort(key=lambda r: (-(r.last_failure_day_ms or 0), -r.failures, r.id))
    found = []
    with database.read() as conn:
        settings = test_rules.settings(conn, org_id)
        for row in failed[:NEW_FAILURE_CANDIDATES]:
            recent = test_reads.results_page(conn, org_id, row.id, None, NEW_FAILURE_RESULTS)
            oldest_first = list(reversed(recent))
            outcomes = [outcome_of(r) for r in oldest_first]
            if flaky_rules.flaky_state(outcomes, settings).flaky:
                continue
            started = flaky_rules.started_failing(outcomes)
            if started is None or not window.since_ms <= started.at_ms < window.until_ms:
                continue
            index = next(i for i, o in enumerate(outcomes) if o is started)
            found.append(NewFailure(row, result_of(oldest_first[index])))
    found.sort(key=lambda f: -f.started.at_ms)
    return tuple(found[:TOP])
