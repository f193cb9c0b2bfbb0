"""Reads of test figures: daily rollups per test, and one test's results.

What the Tests pages and ``/api/v1/analytics/tests`` and ``/api/v1/tests/{id}`` read. Window
figures come from ``test_daily_rollups`` only (one row per test and day, through the index
on (org, day)); one test's history, its messages and its durations come from its raw
results through ``ix_test_results_org_id_test_case_id_at_ms``, each read bounded by a
``LIMIT`` (the constants below), so no read grows with the stored history."""

from __future__ import annotations

from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cipulse.storage.schema import pipelines, repositories, run_attempts
from cipulse.storage.schema_tests import (
    test_cases,
    test_daily_rollups,
    test_messages,
    test_reports,
    test_results,
)

#: The newest results of one test read for its durations' percentiles.
DURATION_SAMPLE = 2000
#: The newest results of one test read to group its failure messages.
MESSAGE_SAMPLE = 5000
#: The newest results of one test read to find where its failing streak started, and its
#: flaky state.
STREAK_SAMPLE = 1000


class CaseTotals(NamedTuple):
    """One test's rollup rows of some days, added up."""

    test_case_id: int
    runs: int
    failures: int
    skipped: int
    flaky: int
    timed: int
    duration_ms_sum: int
    last_failure_day: int | None
    last_flaky_day: int | None


class CaseRow(NamedTuple):
    """A test case of the dictionary, with its repository's name."""

    id: int
    repository_id: str
    repository: str
    suite: str
    class_name: str
    name: str
    file: str | None
    first_seen_at_ms: int


class ResultRow(NamedTuple):
    """One stored result of a test, with its report and run attempt (when joined)."""

    at_ms: int
    report_id: int
    position: int
    status: int
    duration_ms: int | None
    retries: int
    message_id: int | None
    job_name: str
    attempt_id: str | None
    run_key: str
    attempt: int
    commit_sha: str | None
    branch: str | None
    default_branch: str | None
    pipeline_name: str | None


class MessageCount(NamedTuple):
    message_id: int
    message: str | None
    trace: str | None
    results: int
    last_at_ms: int


def _totals_columns() -> list[Any]:
    d = test_daily_rollups
    return [
        d.c.test_case_id,
        sa.func.sum(d.c.runs),
        sa.func.sum(d.c.failures),
        sa.func.sum(d.c.skipped),
        sa.func.sum(d.c.flaky),
        sa.func.sum(d.c.timed),
        sa.func.sum(d.c.duration_ms_sum),
        sa.func.max(sa.case((d.c.failures > 0, d.c.day))),
        sa.func.max(sa.case((d.c.flaky > 0, d.c.day))),
    ]


def totals(
    conn: Connection,
    org_id: str,
    first_day: int,
    end_day: int,
    test_case_id: int | None = None,
    ids: list[int] | None = None,
) -> list[CaseTotals]:
    """Each test's rollups of the days ``[first_day, end_day)`` added up (one test's only,
    when ``test_case_id`` is given; these tests', by their primary key, for ``ids``)."""
    d = test_daily_rollups
    query = sa.select(*_totals_columns()).where(
        d.c.org_id == org_id, d.c.day >= first_day, d.c.day < end_day
    )
    if test_case_id is not None:
        query = query.where(d.c.test_case_id == test_case_id)
    if ids is not None:
        query = query.where(d.c.test_case_id.in_(ids))
    grouped: Any = d.c.test_case_id
    if test_case_id is None and ids is None and conn.dialect.name == "sqlite":
        # Grouped by the bare column, SQLite reads every stored day of the organisation
        # through the primary key (to group without sorting); by an expression, it reads
        # the window's days through the (org, day) index, and sorts them.
        grouped = d.c.test_case_id + 0
        query = query.with_only_columns(grouped, *_totals_columns()[1:])
    found = conn.execute(query.group_by(grouped))
    return [_totals(row) for row in found]


def _totals(row: Any) -> CaseTotals:
    """PostgreSQL sums integers as NUMERIC: back to int."""
    counts = [int(v or 0) for v in row[:7]]
    days = [None if v is None else int(v) for v in row[7:]]
    return CaseTotals(*counts, *days)


def _case_query() -> sa.Select[Any]:
    c, r = test_cases, repositories
    return sa.select(
        c.c.id,
        c.c.repository_id,
        r.c.full_name,
        c.c.suite,
        c.c.class_name,
        c.c.name,
        c.c.file,
        c.c.first_seen_at_ms,
    ).join(r, sa.and_(r.c.org_id == c.c.org_id, r.c.id == c.c.repository_id))


def cases(conn: Connection, org_id: str, case_ids: list[int]) -> dict[int, CaseRow]:
    """The dictionary rows of these tests, by their primary key (a batch at a time)."""
    found: dict[int, CaseRow] = {}
    for start in range(0, len(case_ids), 500):
        batch = case_ids[start : start + 500]
        query = _case_query().where(test_cases.c.org_id == org_id, test_cases.c.id.in_(batch))
        found.update((row[0], CaseRow(*row)) for row in conn.execute(query))
    return found


def case(conn: Connection, org_id: str, case_id: int) -> CaseRow | None:
    query = _case_query().where(test_cases.c.org_id == org_id, test_cases.c.id == case_id)
    row = conn.execute(query).first()
    return CaseRow(*row) if row is not None else None


def last_day_with(conn: Connection, org_id: str, case_id: int, column: str) -> int | None:
    """The last day whose rollup counts any ``failures`` or ``flaky`` results of the test
    (its primary-key range: one row per stored day)."""
    d = test_daily_rollups
    query = sa.select(sa.func.max(d.c.day)).where(
        d.c.org_id == org_id, d.c.test_case_id == case_id, d.c[column] > 0
    )
    found = conn.execute(query).scalar()
    return int(found) if found is not None else None


def _results_query(org_id: str, case_id: int) -> sa.Select[Any]:
    t, rep, a, p, r = test_results, test_reports, run_attempts, pipelines, repositories
    return (
        sa.select(
            t.c.at_ms,
            t.c.report_id,
            t.c.position,
            t.c.status,
            t.c.duration_ms,
            t.c.retries,
            t.c.message_id,
            rep.c.job_name,
            rep.c.attempt_id,
            rep.c.run_key,
            rep.c.attempt,
            a.c.commit_sha,
            a.c.branch,
            r.c.default_branch,
            p.c.name,
        )
        .join(rep, sa.and_(rep.c.org_id == t.c.org_id, rep.c.id == t.c.report_id))
        .outerjoin(a, sa.and_(a.c.org_id == rep.c.org_id, a.c.id == rep.c.attempt_id))
        .outerjoin(p, sa.and_(p.c.org_id == a.c.org_id, p.c.id == a.c.pipeline_id))
        .outerjoin(r, sa.and_(r.c.org_id == rep.c.org_id, r.c.id == rep.c.repository_id))
        .where(t.c.org_id == org_id, t.c.test_case_id == case_id)
    )


def results_page(
    conn: Connection,
    org_id: str,
    case_id: int,
    before: tuple[int, int, int] | None,
    limit: int,
    since_ms: int | None = None,
) -> list[ResultRow]:
    """Up to ``limit`` results of a test, newest first, after the keyset position
    ``before`` (at_ms, report id, position), at or after ``since_ms``."""
    t = test_results
    query = _results_query(org_id, case_id)
    if before is not None:
        query = query.where(sa.tuple_(t.c.at_ms, t.c.report_id, t.c.position) < before)
    if since_ms is not None:
        query = query.where(t.c.at_ms >= since_ms)
    query = query.order_by(t.c.at_ms.desc(), t.c.report_id.desc(), t.c.position.desc())
    return [ResultRow(*row) for row in conn.execute(query.limit(limit))]


def durations(
    conn: Connection, org_id: str, case_id: int, since_ms: int, until_ms: int
) -> list[int]:
    """The durations of the test's newest ``DURATION_SAMPLE`` results in the window."""
    t = test_results
    newest = (
        sa.select(t.c.duration_ms)
        .where(
            t.c.org_id == org_id,
            t.c.test_case_id == case_id,
            t.c.at_ms >= since_ms,
            t.c.at_ms < until_ms,
        )
        .order_by(t.c.at_ms.desc())
        .limit(DURATION_SAMPLE)
    )
    return [int(v) for (v,) in conn.execute(newest) if v is not None]


def message_counts(
    conn: Connection, org_id: str, case_id: int, since_ms: int, until_ms: int, limit: int
) -> list[MessageCount]:
    """The test's failure messages among its newest ``MESSAGE_SAMPLE`` results of the
    window, grouped by message id, most frequent first."""
    t, m = test_results, test_messages
    newest = (
        sa.select(t.c.message_id, t.c.at_ms)
        .where(
            t.c.org_id == org_id,
            t.c.test_case_id == case_id,
            t.c.at_ms >= since_ms,
            t.c.at_ms < until_ms,
        )
        .order_by(t.c.at_ms.desc())
        .limit(MESSAGE_SAMPLE)
        .subquery()
    )
    grouped = (
        sa.select(
            newest.c.message_id,
            sa.func.count().label("n"),
            sa.func.max(newest.c.at_ms).label("last"),
        )
        .where(newest.c.message_id.is_not(None))
        .group_by(newest.c.message_id)
        .subquery()
    )
    query = (
        sa.select(grouped.c.message_id, m.c.message, m.c.trace, grouped.c.n, grouped.c.last)
        .join(m, sa.and_(m.c.org_id == org_id, m.c.id == grouped.c.message_id))
        .order_by(grouped.c.n.desc(), grouped.c.last.desc(), grouped.c.message_id)
        .limit(limit)
    )
    return [MessageCount(*row) for row in conn.execute(query)]


def repository_ids(conn: Connection, org_id: str, full_name: str) -> list[str]:
    """The ids of the repositories of this full name (any case, on any host)."""
    r = repositories
    query = sa.select(r.c.id).where(
        r.c.org_id == org_id, sa.func.lower(r.c.full_name) == full_name.lower()
    )
    return [str(v) for (v,) in conn.execute(query)]
