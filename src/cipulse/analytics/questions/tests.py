"""The tests question: figures per test over a window, and one test's page.

Figures per test come from the daily test rollups of the UTC days the window covers (a
test's day is its report's; results have no finer grain in the rollups). The list filters by
repository and by a text searched in the test's suite, class, name and file; the rollups
are per test, not per pipeline or branch, so the list refuses those filters (400) rather
than answer them wrong. One test's page adds what only its raw results say, each read
bounded (``storage/test_reads.py``): duration percentiles, failure messages grouped, its
history a page at a time, where its failing streak started and its flaky evidence."""

from __future__ import annotations

from dataclasses import dataclass

from cipulse.analytics.paging import (
    DEFAULT_PAGE,
    Page,
    PageRequest,
    check_sort,
    ordered,
    page_of,
    page_range,
)
from cipulse.analytics.questions.shared import ratio
from cipulse.domain.window import DAY_MS, Window
from cipulse.errors import InvalidRequest
from cipulse.storage import test_reads
from cipulse.storage.database import Database
from cipulse.storage.test_reads import CaseRow, CaseTotals

#: Fields the test list sorts by (prefix ``-``: descending).
TEST_SORTS = (
    "name",
    "runs",
    "failures",
    "failure_rate",
    "flaky",
    "mean_duration_ms",
    "duration_change",
    "last_failure_day_ms",
    "first_seen_at_ms",
)
#: What the Tests page's lists are ordered by.
SLOWEST, MOST_FAILING, FLAKIEST = "-mean_duration_ms", "-failures", "-flaky"
_UNSUPPORTED = ("pipeline", "team", "branch", "branches", "provider", "status", "commit")


@dataclass(frozen=True, slots=True)
class TestRow:
    """One test's figures over a window: from its daily rollups."""

    __test__ = False

    id: int
    repository: str
    suite: str
    class_name: str
    name: str
    file: str | None
    first_seen_at_ms: int
    runs: int
    failures: int
    failure_rate: float | None
    flaky: int
    skipped: int
    mean_duration_ms: float | None
    previous_mean_duration_ms: float | None
    last_failure_day_ms: int | None
    last_flaky_day_ms: int | None

    @property
    def duration_change(self) -> float | None:
        """The mean duration's relative change against the previous window."""
        now, before = self.mean_duration_ms, self.previous_mean_duration_ms
        return None if now is None or not before else (now - before) / before

    def sort_value(self, field: str) -> object:
        return self.duration_change if field == "duration_change" else getattr(self, field)


def window_days(window: Window) -> tuple[int, int]:
    """The UTC days ``[first, end)`` that cover the window."""
    return window.since_ms // DAY_MS, -(-window.until_ms // DAY_MS)


def check_filters(window: Window) -> None:
    f = window.filters
    given = {
        "pipeline": f.pipeline_id or f.pipeline_name,
        "team": f.team,
        "branch": f.branch,
        "branches": f.branch_scope,
        "provider": f.provider,
        "status": f.statuses,
        "commit": f.names_a_change,
    }
    wrong = [name for name in _UNSUPPORTED if given[name]]
    if wrong:
        raise InvalidRequest(
            "; ".join(
                f"{name}: test figures are per repository and day; filter by repository or q"
                for name in wrong
            )
        )


def _mean(totals: CaseTotals | None) -> float | None:
    return totals.duration_ms_sum / totals.timed if totals and totals.timed else None


def _day_ms(day: int | None) -> int | None:
    return None if day is None else day * DAY_MS


def _matches(case: CaseRow, text: str) -> bool:
    return any(
        text in (part or "").lower() for part in (case.suite, case.class_name, case.name, case.file)
    )


def all_tests(database: Database, org_id: str, window: Window, search: str = "") -> list[TestRow]:
    """Every test with results in the window, most failures first."""
    check_filters(window)
    first, end = window_days(window)
    length = end - first
    with database.read() as conn:
        now = test_reads.totals(conn, org_id, first, end)
        before = {t.test_case_id: t for t in test_reads.totals(conn, org_id, first - length, first)}
        cases = test_reads.cases(conn, org_id, [t.test_case_id for t in now])
    repository = (window.filters.repository or "").lower()
    text = search.strip().lower()
    rows = []
    for t in now:
        case = cases.get(t.test_case_id)
        if case is None or (repository and case.repository.lower() != repository):
            continue
        if text and not _matches(case, text):
            continue
        rows.append(_row(case, t, before.get(t.test_case_id)))
    rows.sort(key=lambda r: (-r.failures, -r.flaky, r.name, r.id))
    return rows


def _row(case: CaseRow, t: CaseTotals, before: CaseTotals | None) -> TestRow:
    return TestRow(
        id=case.id,
        repository=case.repository,
        suite=case.suite,
        class_name=case.class_name,
        name=case.name,
        file=case.file,
        first_seen_at_ms=case.first_seen_at_ms,
        runs=t.runs,
        failures=t.failures,
        failure_rate=ratio(t.failures, t.runs - t.skipped),
        flaky=t.flaky,
        skipped=t.skipped,
        mean_duration_ms=_mean(t),
        previous_mean_duration_ms=_mean(before),
        last_failure_day_ms=_day_ms(t.last_failure_day),
        last_flaky_day_ms=_day_ms(t.last_flaky_day),
    )


def tests(
    database: Database,
    org_id: str,
    window: Window,
    page: PageRequest = DEFAULT_PAGE,
    search: str = "",
) -> Page[TestRow]:
    """A page of the tests of the window, in ``page.sort`` order (default: most failures)."""
    page_range(page)
    return page_of(sorted_tests(database, org_id, window, page.sort, search), None, page)


def sorted_tests(
    database: Database, org_id: str, window: Window, sort: str | None, search: str = ""
) -> list[TestRow]:
    """Every test of the window in ``sort`` order (None: most failures first)."""
    check_sort(sort, TEST_SORTS)
    return ordered(all_tests(database, org_id, window, search), sort)


#: A test row with every field: the columns of an empty export.
BLANK_TEST = TestRow(0, "", "", "", "", None, 0, 0, 0, None, 0, 0, None, None, None, None)
