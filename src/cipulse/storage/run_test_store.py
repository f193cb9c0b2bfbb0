"""The failed tests of one run attempt, read from its reports' raw results.

Bounded by the attempt: its reports come from the index on (org, attempt); only the reports
that counted a failure are read, each by its primary key's prefix (org, report), and at most
``limit`` failed results per job are returned (a job's count comes from its reports' own
``failed`` column, so the rest is counted without reading it)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cipulse.domain.test_results import TestStatus
from cipulse.storage.schema_tests import test_cases, test_messages, test_reports, test_results

r, t, c, m = test_reports, test_results, test_cases, test_messages
_FAILED = (int(TestStatus.FAILED), int(TestStatus.ERROR))


class AttemptReport(NamedTuple):
    id: int
    job_name: str
    cases: int
    failed: int


class FailedResult(NamedTuple):
    report_id: int
    position: int
    test_case_id: int
    suite: str
    class_name: str
    name: str
    file: str | None
    status: int
    duration_ms: int | None
    retries: int
    message: str | None
    trace: str | None


def reports_of_attempt(conn: Connection, org_id: str, attempt_id: str) -> list[AttemptReport]:
    """The attempt's reports by job name, then id."""
    query = (
        sa.select(r.c.id, r.c.job_name, r.c.cases, r.c.failed)
        .where(r.c.org_id == org_id, r.c.attempt_id == attempt_id)
        .order_by(r.c.job_name, r.c.id)
    )
    return [
        AttemptReport(int(row[0]), row[1], int(row[2]), int(row[3])) for row in conn.execute(query)
    ]


def failed_query(
    org_id: str, report_ids: Sequence[int], limit: int
) -> sa.Select[tuple[object, ...]]:
    """The first ``limit`` failed or erred results of these reports, in report order."""
    return (
        sa.select(
            t.c.report_id,
            t.c.position,
            t.c.test_case_id,
            c.c.suite,
            c.c.class_name,
            c.c.name,
            c.c.file,
            t.c.status,
            t.c.duration_ms,
            t.c.retries,
            m.c.message,
            m.c.trace,
        )
        .select_from(
            t.join(c, sa.and_(c.c.org_id == t.c.org_id, c.c.id == t.c.test_case_id)).outerjoin(
                m, sa.and_(m.c.org_id == t.c.org_id, m.c.id == t.c.message_id)
            )
        )
        .where(
            t.c.org_id == org_id,
            t.c.report_id.in_(list(report_ids)),
            t.c.status.in_(_FAILED),
        )
        .order_by(t.c.report_id, t.c.position)
        .limit(limit)
    )


def failed_results(
    conn: Connection, org_id: str, report_ids: Sequence[int], limit: int
) -> list[FailedResult]:
    if not report_ids:
        return []
    found = conn.execute(failed_query(org_id, report_ids, limit))
    return [FailedResult._make(row) for row in found]
