"""The tests question: figures per test over a window, and one test's page.

Figures per test come from the daily test rollups of the UTC days the window covers (a
test's day is its report's; results have no finer grain in the rollups). The list filters by
repository and by a text searched in the test's suite, class, name and file; the rollups
are per test, not per pipeline or branch, so the list refuses those filters (400) rather
than answer them wrong. One test's page adds what only its raw results say, each read
bounded (``storage/test_reads.py``): duration percentiles, failure messages grouped, its
history a page at a time, where its failing streak started and its flaky evidence."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from sqlalchemy.engine import Connection

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
    #: Whether the identity was read, and the previous window (``name_rows``).
    named: bool = False
    compared: bool = False

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


def _matches(case: TestRow, text: str) -> bool:
    return any(
        text in (part or "").lower() for part in (case.suite, case.class_name, case.name, case.file)
    )


#: Sorts that need every test's name or the previous window: the whole list is named.
_NAMED_SORTS = ("name", "first_seen_at_ms", "duration_change")


def _needs_names(window: Window, search: str, sort: str | None) -> bool:
    field = (sort or "").removeprefix("-")
    return bool(search.strip() or window.filters.repository or field in _NAMED_SORTS)


def all_tests(
    database: Database,
    org_id: str,
    window: Window,
    search: str = "",
    sort: str | None = None,
    *,
    named: bool = False,
) -> list[TestRow]:
    """Every test with results in the window, most failures first. The rows are named
    (identity, previous window) only when the search, the repository filter, the sort or
    ``named`` needs it; otherwise ``name_rows`` names the few that are shown."""
    check_filters(window)
    first, end = window_days(window)
    with database.read() as conn:
        now = test_reads.totals(conn, org_id, first, end)
        rows = [_row(t) for t in now]
        if named or _needs_names(window, search, sort):
            compare = named or (sort or "").removeprefix("-") == "duration_change"
            rows = _named(conn, org_id, rows, window, compare=compare)
    repository = (window.filters.repository or "").lower()
    text = search.strip().lower()
    if repository:
        rows = [r for r in rows if r.repository.lower() == repository]
    if text:
        rows = [r for r in rows if _matches(r, text)]
    rows.sort(key=lambda r: (-r.failures, -r.flaky, -r.runs, r.id))
    return rows


def name_rows(
    database: Database, org_id: str, rows: Sequence[TestRow], window: Window
) -> list[TestRow]:
    """The rows with their test's identity and the previous window's mean duration."""
    with database.read() as conn:
        return _named(conn, org_id, rows, window, compare=True)


def _named(
    conn: Connection, org_id: str, rows: Sequence[TestRow], window: Window, *, compare: bool
) -> list[TestRow]:
    """The rows with their identity and, when ``compare``, the previous window's mean."""
    unnamed = [r.id for r in rows if not r.named]
    uncompared = [r.id for r in rows if compare and not r.compared]
    if not unnamed and not uncompared:
        return list(rows)
    cases = test_reads.cases(conn, org_id, unnamed) if unnamed else {}
    before = _before(conn, org_id, uncompared, window) if uncompared else None
    named = []
    for row in rows:
        if not row.named:
            case = cases.get(row.id)
            if case is None:
                continue
            row = _with_identity(row, case)
        if before is not None and not row.compared:
            row = replace(row, previous_mean_duration_ms=_mean(before.get(row.id)), compared=True)
        named.append(row)
    return named


def _before(conn: Connection, org_id: str, ids: list[int], window: Window) -> dict[int, CaseTotals]:
    first, end = window_days(window)
    length = end - first
    chosen = None if len(ids) > _FEW else ids
    found = test_reads.totals(conn, org_id, first - length, first, ids=chosen)
    return {t.test_case_id: t for t in found}


#: Up to this many tests, the previous window is read test by test (its primary key).
_FEW = 500


def _with_identity(row: TestRow, case: CaseRow) -> TestRow:
    return replace(
        row,
        repository=case.repository,
        suite=case.suite,
        class_name=case.class_name,
        name=case.name,
        file=case.file,
        first_seen_at_ms=case.first_seen_at_ms,
        named=True,
    )


def _row(t: CaseTotals) -> TestRow:
    return TestRow(
        id=t.test_case_id,
        repository="",
        suite="",
        class_name="",
        name="",
        file=None,
        first_seen_at_ms=0,
        runs=t.runs,
        failures=t.failures,
        failure_rate=ratio(t.failures, t.runs - t.skipped),
        flaky=t.flaky,
        skipped=t.skipped,
        mean_duration_ms=_mean(t),
        previous_mean_duration_ms=None,
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
    check_sort(page.sort, TEST_SORTS)
    rows = ordered(all_tests(database, org_id, window, search, page.sort), page.sort)
    found = page_of(rows, None, page)
    return Page(name_rows(database, org_id, found.items, window), found.next_cursor)


def sorted_tests(
    database: Database, org_id: str, window: Window, sort: str | None, search: str = ""
) -> list[TestRow]:
    """Every test of the window in ``sort`` order (None: most failures first)."""
    check_sort(sort, TEST_SORTS)
    return ordered(all_tests(database, org_id, window, search, sort, named=True), sort)


#: A test row with every field: the columns of an empty export.
BLANK_TEST = TestRow(0, "", "", "", "", None, 0, 0, 0, None, 0, 0, None, None, None, None)
