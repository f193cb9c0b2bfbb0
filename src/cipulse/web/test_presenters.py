"""Test figures on the wire: the test list's rows and one test's page.

A test's id is a signed 64-bit integer, beyond what JSON numbers carry exactly in
JavaScript, so the wire shows it as a string of its decimal digits."""

from __future__ import annotations

from cipulse.analytics.questions.summary import iso
from cipulse.analytics.questions.test_page import (
    MessageGroup,
    TestDetail,
    TestFigures,
    TestResult,
)
from cipulse.analytics.questions.tests import TestRow
from cipulse.domain.flaky_rules import Evidence
from cipulse.storage.test_reads import CaseRow
from cipulse.web.presenters import Json


def _iso(ms: int | None) -> str | None:
    return None if ms is None else iso(ms)


def test_row_json(row: TestRow) -> Json:
    """A test with its figures over the window (``/analytics/tests``)."""
    return {
        "id": str(row.id),
        "repository": row.repository,
        "suite": row.suite,
        "class_name": row.class_name,
        "name": row.name,
        "file": row.file,
        "first_seen_at": iso(row.first_seen_at_ms),
        "runs": row.runs,
        "failures": row.failures,
        "failure_rate": row.failure_rate,
        "flaky": row.flaky,
        "skipped": row.skipped,
        "mean_duration_ms": row.mean_duration_ms,
        "previous_mean_duration_ms": row.previous_mean_duration_ms,
        "duration_change": row.duration_change,
        "last_failure_day": _iso(row.last_failure_day_ms),
        "last_flaky_day": _iso(row.last_flaky_day_ms),
    }


def _case_json(case: CaseRow) -> Json:
    return {
        "id": str(case.id),
        "repository": case.repository,
        "suite": case.suite,
        "class_name": case.class_name,
        "name": case.name,
        "file": case.file,
        "first_seen_at": iso(case.first_seen_at_ms),
    }


def _figures_json(figures: TestFigures) -> Json:
    return {
        "runs": figures.runs,
        "failures": figures.failures,
        "failure_rate": figures.failure_rate,
        "flaky": figures.flaky,
        "skipped": figures.skipped,
        "p50_duration_ms": figures.p50_duration_ms,
        "p95_duration_ms": figures.p95_duration_ms,
        "mean_duration_ms": figures.mean_duration_ms,
    }


def test_result_json(result: TestResult) -> Json:
    return {
        "at": iso(result.at_ms),
        "status": result.status,
        "duration_ms": result.duration_ms,
        "retries": result.retries,
        "message_id": None if result.message_id is None else str(result.message_id),
        "job": result.job_name,
        "pipeline_run_id": result.pipeline_run_id,
        "run_id": result.run_key,
        "run_attempt": result.attempt,
        "pipeline": result.pipeline,
        "branch": result.branch,
        "commit_sha": result.commit_sha,
    }


def _message_json(group: MessageGroup) -> Json:
    return {
        "message_id": str(group.message_id),
        "message": group.message,
        "trace": group.trace,
        "count": group.count,
        "last_at": iso(group.last_at_ms),
    }


def _evidence_json(evidence: Evidence) -> Json:
    return {
        "rule": evidence.rule,
        "at": iso(evidence.at_ms),
        "pipeline_run_id": evidence.attempt_id,
        "run_id": evidence.run_key,
        "commit_sha": evidence.commit_sha,
    }


def test_detail_json(detail: TestDetail) -> Json:
    """One test's page (``/tests/{id}``)."""
    started = detail.started_failing
    return {
        **_case_json(detail.case),
        "figures": _figures_json(detail.figures),
        "previous": _figures_json(detail.previous),
        "last_failure_at": _iso(detail.last_failure_at_ms),
        "last_flaky_at": _iso(detail.last_flaky_at_ms),
        "state": detail.state,
        "passes_since_flaky": detail.flaky.passes_since if detail.flaky.newest else None,
        "flaky_evidence": [_evidence_json(e) for e in detail.evidence],
        "started_failing": None if started is None else test_result_json(started),
        "messages": [_message_json(m) for m in detail.messages],
        "history": {
            "items": [test_result_json(r) for r in detail.history.items],
            "next_cursor": detail.history.next_cursor,
        },
    }
