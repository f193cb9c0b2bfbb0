"""The test question: one test's figures, history, messages and evidence.

The figures of the window and of the one before come from the test's daily rollups; the
rest from its raw results, each read bounded (``storage/test_reads.py``): the duration
percentiles from its newest ``DURATION_SAMPLE`` results of the window, its messages from
its newest ``MESSAGE_SAMPLE``, where its failing streak started and its flaky state from
its newest ``STREAK_SAMPLE`` (a streak longer than that started at least that early)."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from sqlalchemy.engine import Connection

from cipulse.analytics.paging import BAD_CURSOR, Page, check_limit
from cipulse.analytics.questions.shared import ratio
from cipulse.analytics.questions.tests import window_days
from cipulse.analytics.run_metrics import nearest_rank
from cipulse.domain import flaky_rules
from cipulse.domain.flaky_rules import Evidence, FlakyState, Outcome, RuleSettings
from cipulse.domain.test_results import TEST_STATUS_TEXT, TestStatus
from cipulse.domain.window import DAY_MS, Window, on_default_branch
from cipulse.errors import InvalidRequest, NotFound
from cipulse.storage import test_reads, test_rules
from cipulse.storage.database import Database
from cipulse.storage.test_reads import CaseRow, ResultRow

#: Message groups shown per test.
MESSAGE_GROUPS = 20
_NOT_FOUND = "test: no test with this id (in this organisation)"


@dataclass(frozen=True, slots=True)
class TestResult:
    """One result of the test's history, with its run."""

    __test__ = False

    at_ms: int
    status: str
    duration_ms: int | None
    retries: int
    message_id: int | None
    job_name: str
    pipeline_run_id: str | None
    run_key: str
    attempt: int
    pipeline: str | None
    branch: str | None
    commit_sha: str | None


@dataclass(frozen=True, slots=True)
class MessageGroup:
    message_id: int
    message: str | None
    trace: str | None
    count: int
    last_at_ms: int


@dataclass(frozen=True, slots=True)
class TestFigures:
    """Counts from the rollups; percentiles from the newest results of the window."""

    __test__ = False

    runs: int
    failures: int
    failure_rate: float | None
    flaky: int
    skipped: int
    p50_duration_ms: float | None
    p95_duration_ms: float | None
    mean_duration_ms: float | None


@dataclass(frozen=True, slots=True)
class TestDetail:
    __test__ = False

    case: CaseRow
    figures: TestFigures
    previous: TestFigures
    last_failure_at_ms: int | None
    last_flaky_at_ms: int | None
    #: flaky, broken (failing on the default branch, not flaky) or passing.
    state: str
    flaky: FlakyState
    evidence: tuple[Evidence, ...]
    started_failing: TestResult | None
    messages: tuple[MessageGroup, ...]
    history: Page[TestResult]


def parse_test_id(text: str) -> int:
    """A test id as the API shows it (a signed 64-bit integer); anything else: 404."""
    try:
        value = int(text)
    except ValueError:
        raise NotFound(_NOT_FOUND) from None
    if not -(2**63) <= value < 2**63 or str(value) != text.strip():
        raise NotFound(_NOT_FOUND)
    return value


def _cursor(row: ResultRow) -> str:
    return base64.urlsafe_b64encode(f"{row.at_ms}:{row.report_id}:{row.position}".encode()).decode()


def history_position(cursor: str | None) -> tuple[int, int, int] | None:
    if not cursor:
        return None
    try:
        parts = base64.urlsafe_b64decode(cursor.encode()).decode().split(":")
        at, report, position = (int(p) for p in parts)
    except (ValueError, UnicodeDecodeError, binascii.Error):
        raise InvalidRequest(BAD_CURSOR) from None
    return at, report, position


def _checked(limit: int, cursor: str | None) -> tuple[int, int, int] | None:
    """The history's position; a bad limit and a bad cursor are one 400 naming both."""
    problems = []
    try:
        check_limit(limit)
    except InvalidRequest as error:
        problems.append(error.message)
    try:
        position = history_position(cursor)
    except InvalidRequest as error:
        problems.append(error.message)
    if problems:
        raise InvalidRequest("; ".join(problems))
    return position


def result_of(row: ResultRow) -> TestResult:
    return TestResult(
        at_ms=row.at_ms,
        status=TEST_STATUS_TEXT[TestStatus(row.status)],
        duration_ms=row.duration_ms,
        retries=row.retries,
        message_id=row.message_id,
        job_name=row.job_name,
        pipeline_run_id=row.attempt_id,
        run_key=row.run_key,
        attempt=row.attempt,
        pipeline=row.pipeline_name,
        branch=row.branch,
        commit_sha=row.commit_sha,
    )


def outcome_of(row: ResultRow) -> Outcome:
    default = row.attempt_id is not None and on_default_branch(row.branch, row.default_branch)
    return Outcome(
        row.at_ms, row.status, row.retries, row.attempt_id, row.run_key, row.commit_sha, default
    )


def _figures(conn: Connection, org_id: str, case_id: int, window: Window) -> TestFigures:
    first, end = window_days(window)
    found = test_reads.totals(conn, org_id, first, end, case_id)
    durations = sorted(test_reads.durations(conn, org_id, case_id, first * DAY_MS, end * DAY_MS))
    if not found:
        return TestFigures(0, 0, None, 0, 0, None, None, None)
    t = found[0]
    return TestFigures(
        runs=t.runs,
        failures=t.failures,
        failure_rate=ratio(t.failures, t.runs - t.skipped),
        flaky=t.flaky,
        skipped=t.skipped,
        p50_duration_ms=nearest_rank(durations, 50),
        p95_duration_ms=nearest_rank(durations, 95),
        mean_duration_ms=t.duration_ms_sum / t.timed if t.timed else None,
    )


def _last_at(conn: Connection, org_id: str, case_id: int, column: str) -> int | None:
    """The time of the test's newest failure (``failures``) or flaky result (``flaky``):
    its last such day from the rollups, then that day's results."""
    day = test_reads.last_day_with(conn, org_id, case_id, column)
    if day is None:
        return None
    for row in test_reads.results_page(
        conn, org_id, case_id, ((day + 1) * DAY_MS, -(2**63), 0), test_reads.STREAK_SAMPLE
    ):
        failed = row.status in (TestStatus.FAILED, TestStatus.ERROR)
        if failed if column == "failures" else row.retries > 0 and not row.status:
            return row.at_ms
    return day * DAY_MS


def _state(flaky: FlakyState, started: Outcome | None) -> str:
    if flaky.flaky:
        return "flaky"
    return "broken" if started is not None else "passing"


def test_detail(
    database: Database,
    org_id: str,
    case_id: int,
    window: Window,
    limit: int,
    cursor: str | None,
) -> TestDetail:
    """One test's page over the window; its history a page of ``limit`` after ``cursor``."""
    position = _checked(limit, cursor)
    with database.read() as conn:
        case = test_reads.case(conn, org_id, case_id)
        if case is None:
            raise NotFound(_NOT_FOUND)
        settings = test_rules.settings(conn, org_id)
        recent = test_reads.results_page(conn, org_id, case_id, None, test_reads.STREAK_SAMPLE)
        page_rows = test_reads.results_page(conn, org_id, case_id, position, limit + 1)
        first, end = window_days(window)
        length = end - first
        messages = test_reads.message_counts(
            conn, org_id, case_id, first * DAY_MS, end * DAY_MS, MESSAGE_GROUPS
        )
        figures = _figures(conn, org_id, case_id, window)
        previous = _figures(
            conn, org_id, case_id, Window((first - length) * DAY_MS, first * DAY_MS)
        )
        last_failure = _last_at(conn, org_id, case_id, "failures")
        last_flaky = _last_at(conn, org_id, case_id, "flaky")
    return _detail(
        case,
        settings,
        recent,
        page_rows,
        limit,
        messages,
        figures,
        previous,
        last_failure,
        last_flaky,
    )


def _detail(
    case: CaseRow,
    settings: RuleSettings,
    recent: list[ResultRow],
    page_rows: list[ResultRow],
    limit: int,
    messages: list[test_reads.MessageCount],
    figures: TestFigures,
    previous: TestFigures,
    last_failure: int | None,
    last_flaky: int | None,
) -> TestDetail:
    oldest_first = list(reversed(recent))
    outcomes = [outcome_of(row) for row in oldest_first]
    flaky = flaky_rules.flaky_state(outcomes, settings)
    started = flaky_rules.started_failing(outcomes)
    started_row = next(
        (r for r, o in zip(oldest_first, outcomes, strict=True) if o is started), None
    )
    next_cursor = _cursor(page_rows[limit - 1]) if len(page_rows) > limit else None
    return TestDetail(
        case=case,
        figures=figures,
        previous=previous,
        last_failure_at_ms=last_failure,
        last_flaky_at_ms=last_flaky,
        state=_state(flaky, started),
        flaky=flaky,
        evidence=tuple(reversed(flaky_rules.evidence(outcomes, settings)[-20:])),
        started_failing=result_of(started_row) if started_row is not None else None,
        messages=tuple(MessageGroup(*m) for m in messages),
        history=Page([result_of(r) for r in page_rows[:limit]], next_cursor),
    )
