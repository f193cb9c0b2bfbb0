"""A converted report's rows: test cases, messages, results, day figures.

Pure: what ``storage/test_result_store.store_report`` writes for one report, built from its
cases. Ingest (``ingestion/test_results.py``) and the demo seed (``demo/test_reports.py``)
both store reports through ``store_report``, so there is one writer of test results."""

from __future__ import annotations

from collections.abc import Sequence

from cipulse.domain import ids
from cipulse.domain.test_results import TestCaseResult, TestStatus
from cipulse.storage.test_rollups import TestDay

#: Retries are stored as a SMALLINT.
MAX_RETRIES = 32767
_FAILED = (TestStatus.FAILED, TestStatus.ERROR)

Rows = tuple[list[tuple[object, ...]], list[tuple[object, ...]], list[tuple[object, ...]]]


def result_rows(
    org_id: str,
    repository_id: str,
    report_id: int,
    cases: Sequence[TestCaseResult],
    at_ms: int,
    now: int,
) -> Rows:
    """The new dictionary rows (test cases, messages) and the result rows of a report."""
    test_cases: dict[int, tuple[object, ...]] = {}
    messages: dict[int, tuple[object, ...]] = {}
    results: list[tuple[object, ...]] = []
    for position, case in enumerate(cases):
        i = case.identity
        case_id = ids.case_id(repository_id, i.suite, i.class_name, i.name, i.file)
        test_cases[case_id] = (
            org_id,
            case_id,
            repository_id,
            i.suite,
            i.class_name,
            i.name,
            i.file,
            now,
        )
        message_id = None
        if case.message is not None or case.trace is not None:
            message_id = ids.failure_message_id(case.message, case.trace)
            messages[message_id] = (org_id, message_id, case.message, case.trace, now)
        results.append(
            (
                org_id,
                report_id,
                position,
                case_id,
                int(case.status),
                case.duration_ms,
                min(case.retries, MAX_RETRIES),
                message_id,
                at_ms,
            )
        )
    return list(test_cases.values()), list(messages.values()), results


def add_days(
    days: dict[int, TestDay],
    cases: Sequence[TestCaseResult],
    results: Sequence[tuple[object, ...]],
    infrastructure: bool = False,
) -> None:
    """Add each test's result in the report to its day's figures (by test case id). In an
    infrastructure-wide failure the failures are not counted, neither as runs nor as
    failures: they say nothing of each test (the results are stored all the same)."""
    for case, row in zip(cases, results, strict=True):
        failed = case.status in _FAILED
        if failed and infrastructure:
            continue
        day = days.get(row[3])  # type: ignore[call-overload]
        if day is None:
            day = days[row[3]] = TestDay()  # type: ignore[index]
        day.add(
            failed,
            case.status is TestStatus.SKIPPED,
            case.flaky_in_job,
            case.duration_ms,
        )
