"""How a run attempt's failed tests are named in JSON (``/runs/{id}``)."""

from __future__ import annotations

from typing import Any

from cipulse.analytics.questions.run_tests import FailedTest, JobFailedTests


def failed_test_json(test: FailedTest) -> dict[str, Any]:
    return {
        "test_case_id": str(test.test_case_id),
        "test_id": test.test_id,
        "suite": test.suite,
        "classname": test.class_name,
        "name": test.name,
        "file": test.file,
        "status": test.status,
        "duration_ms": test.duration_ms,
        "retries": test.retries,
        "message": test.message,
    }


def job_failed_tests_json(job: JobFailedTests) -> dict[str, Any]:
    """A job's failed tests: ``failed`` in all, the first ones in ``tests``, ``more`` not
    listed."""
    return {
        "job": job.job_name,
        "test_count": job.tests,
        "failed": job.failed,
        "tests": [failed_test_json(test) for test in job.listed],
        "more": job.more,
    }
