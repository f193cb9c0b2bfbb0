"""A run attempt's failed tests, per job, with their messages' first line.

What the run page and ``GET /api/v1/runs/{id}``'s ``failed_tests`` show: per job that sent
reports with failures, its failed and erred tests (at most ``FAILED_TESTS_PER_JOB``, in
report order) and how many more there are. Read from the raw results of that one attempt
(``storage/run_test_store.py``)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy.engine import Connection

from cipulse.domain.test_ownership import test_id
from cipulse.domain.test_results import TEST_STATUS_TEXT, TestStatus
from cipulse.storage import run_test_store as store

#: Failed tests listed per job; the rest are counted.
FAILED_TESTS_PER_JOB = 50


@dataclass(frozen=True, slots=True)
class FailedTest:
    test_case_id: int
    test_id: str
    suite: str
    class_name: str
    name: str
    file: str | None
    status: str  # failed or error
    duration_ms: int | None
    retries: int
    message: str | None  # its first line (else the trace's)


@dataclass(frozen=True, slots=True)
class JobFailedTests:
    """A job's failed tests: ``failed`` in all, the first ones listed, ``more`` not."""

    job_name: str
    tests: int
    failed: int
    listed: list[FailedTest]

    @property
    def more(self) -> int:
        return max(0, self.failed - len(self.listed))


def first_line(message: str | None, trace: str | None) -> str | None:
    """A failure's first non-empty line: of its message, else of its trace."""
    for text in (message, trace):
        for line in (text or "").splitlines():
            if line.strip():
                return line.strip()
    return None


def failed_tests(
    conn: Connection, org_id: str, attempt_id: str, limit: int = FAILED_TESTS_PER_JOB
) -> list[JobFailedTests]:
    """Per job (by name) with failures in the attempt's reports, its failed tests."""
    by_job: dict[str, list[store.AttemptReport]] = defaultdict(list)
    for report in store.reports_of_attempt(conn, org_id, attempt_id):
        by_job[report.job_name].append(report)
    answer = []
    for job_name, reports in by_job.items():
        failed = sum(report.failed for report in reports)
        if not failed:
            continue
        with_failures = [report.id for report in reports if report.failed]
        listed = [_failed(row) for row in store.failed_results(conn, org_id, with_failures, limit)]
        answer.append(JobFailedTests(job_name, sum(r.cases for r in reports), failed, listed))
    return answer


def _failed(row: store.FailedResult) -> FailedTest:
    return FailedTest(
        test_case_id=row.test_case_id,
        test_id=test_id(row.suite, row.class_name, row.name),
        suite=row.suite,
        class_name=row.class_name,
        name=row.name,
        file=row.file,
        status=TEST_STATUS_TEXT[TestStatus(row.status)],
        duration_ms=row.duration_ms,
        retries=row.retries,
        message=first_line(row.message, row.trace),
    )
