"""Test reports stored: their attempt found, then report, cases, results.

Stores what ``ingestion/test_results.py`` decided, inside its transaction. The report row
is written first, with ``ON CONFLICT DO NOTHING`` on its derived id: when it was stored
before (the same report sent again, or by a concurrent request), nothing else is written
and its results count as duplicates. Test cases and messages are dictionaries: inserted
when new, never read back (their ids are derived)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cipulse.domain.test_results import TestCaseResult
from cipulse.domain.window import DAY_MS
from cipulse.domain.write_plan import WritePlan
from cipulse.storage import test_rollups
from cipulse.storage.dialect import bulk_insert, placeholder, upsert_clause
from cipulse.storage.schema import pipelines, run_attempts
from cipulse.storage.schema_tests import test_cases, test_messages, test_reports, test_results
from cipulse.storage.test_result_rows import add_days, result_rows
from cipulse.storage.test_rollups import TestDay

_REPORT_INSERT = upsert_clause(test_reports, ["org_id", "id"], None)
_CASE_INSERT = upsert_clause(test_cases, ["org_id", "id"], None)
_MESSAGE_INSERT = upsert_clause(test_messages, ["org_id", "id"], None)


class StoredAttempt(NamedTuple):
    """A stored run attempt as a report's target needs it."""

    id: str
    repository_id: str
    run_key: str
    attempt: int
    pipeline_key: str
    pipeline_name: str
    started_at_ms: int | None
    received_at_ms: int


def _attempt_query() -> sa.Select[Any]:
    a, p = run_attempts, pipelines
    return sa.select(
        a.c.id,
        a.c.repository_id,
        a.c.run_key,
        a.c.attempt,
        p.c.pipeline_key,
        p.c.name.label("pipeline_name"),
        a.c.started_at_ms,
        a.c.received_at_ms,
    ).join(p, sa.and_(p.c.org_id == a.c.org_id, p.c.id == a.c.pipeline_id))


def attempt_by_id(conn: Connection, org_id: str, attempt_id: str) -> StoredAttempt | None:
    query = _attempt_query().where(run_attempts.c.org_id == org_id, run_attempts.c.id == attempt_id)
    row = conn.execute(query).first()
    return StoredAttempt(*row) if row is not None else None


def attempts_of_run(
    conn: Connection, org_id: str, repository_id: str, run_key: str, attempt: int
) -> list[StoredAttempt]:
    """The attempts numbered ``attempt`` of the runs ``run_key`` of a repository's pipelines
    (several when the run key is unique per pipeline only), through the index on
    (org, pipeline, run key)."""
    a = run_attempts
    of_repository = sa.select(pipelines.c.id).where(
        pipelines.c.org_id == org_id, pipelines.c.repository_id == repository_id
    )
    query = _attempt_query().where(
        a.c.org_id == org_id,
        a.c.pipeline_id.in_(of_repository.scalar_subquery()),
        a.c.run_key == run_key,
        a.c.attempt == attempt,
    )
    return [StoredAttempt(*row) for row in conn.execute(query.order_by(a.c.id))]


def insert_report(conn: Connection, row: tuple[Any, ...]) -> bool:
    """Insert a report row (``test_reports``' column order); False when it was stored
    before."""
    mark = placeholder(conn)
    columns = ", ".join(c.name for c in test_reports.columns)
    values = ", ".join([mark] * len(test_reports.columns))
    result = conn.exec_driver_sql(
        f"INSERT INTO test_reports ({columns}) VALUES ({values}) {_REPORT_INSERT}", row
    )
    return result.rowcount == 1


def insert_results(
    conn: Connection,
    cases: Sequence[tuple[Any, ...]],
    messages: Sequence[tuple[Any, ...]],
    results: Sequence[tuple[Any, ...]],
) -> None:
    """The new test cases and messages (in key order: concurrent writers lock rows in one
    order), then the results."""
    bulk_insert(conn, test_cases, sorted(cases, key=lambda r: (r[0], r[1])), _CASE_INSERT)
    bulk_insert(conn, test_messages, sorted(messages, key=lambda r: (r[0], r[1])), _MESSAGE_INSERT)
    bulk_insert(conn, test_results, results)


def attach_waiting_reports(conn: Connection, plan: WritePlan) -> None:
    """Reports that arrived before their run join the attempts this plan creates: same
    repository, run key and attempt number and, when the report named a pipeline, that
    pipeline's key or name. One probe of a partial index per new attempt."""
    if not plan.new_attempts:
        return
    names = {row[1]: (row[3], row[4]) for row in plan.pipeline_rows.values()}
    mark = placeholder(conn)
    rows = []
    for attempt in plan.new_attempts.values():
        key, name = names.get(attempt["pipeline_id"], ("", ""))  # never a pipeline sent
        rows.append(
            (
                attempt["id"],
                attempt["org_id"],
                attempt["repository_id"],
                attempt["run_key"],
                attempt["attempt"],
                key,
                name,
            )
        )
    conn.exec_driver_sql(
        f"UPDATE test_reports SET attempt_id = {mark} WHERE org_id = {mark} "
        f"AND repository_id = {mark} AND run_key = {mark} AND attempt = {mark} "
        f"AND attempt_id IS NULL AND (pipeline IS NULL OR pipeline IN ({mark}, {mark}))",
        sorted(rows, key=lambda r: (r[1], r[0])),
    )


def store_report(
    conn: Connection,
    row: tuple[Any, ...],
    cases: Sequence[TestCaseResult],
    now: int,
    days: dict[int, TestDay] | None = None,
) -> bool:
    """Store one report (``row`` in ``test_reports``' column order) with its cases unless
    it was stored before (False). Its results are added to their daily rollups, or, when
    ``days`` is given, to ``days`` for the caller to add (one upsert for many reports)."""
    if not insert_report(conn, row):
        return False
    org_id, report_id, repository_id, at_ms = row[0], row[1], row[2], row[11]
    infrastructure = bool(row[16])  # an infrastructure-wide failure (domain/flaky_rules.py)
    case_rows, messages, results = result_rows(org_id, repository_id, report_id, cases, at_ms, now)
    insert_results(conn, case_rows, messages, results)
    if days is not None:
        add_days(days, cases, results, infrastructure)
    else:
        own: dict[int, TestDay] = {}
        add_days(own, cases, results, infrastructure)
        test_rollups.add_to_daily_rollups(conn, org_id, at_ms // DAY_MS, own)
    return True


#: Reports purged per batch, with their results (thousands each).
REPORTS_PER_PURGE_BATCH = 20


def purge_reports_batch(
    conn: Connection, org_id: str, before_ms: int, *, dry_run: bool
) -> tuple[int, bool]:
    """Delete up to ``REPORTS_PER_PURGE_BATCH`` reports whose results are timed before
    ``before_ms``, with their results (or, in a dry run, count all of them). Returns how
    many results, and whether there may be more. The daily rollup rows stay: they are the
    figures of purged days."""
    r = test_reports
    where = (r.c.org_id == org_id, r.c.at_ms < before_ms)
    if dry_run:
        total = conn.execute(sa.select(sa.func.coalesce(sa.func.sum(r.c.cases), 0)).where(*where))
        return int(total.scalar_one()), False
    found = conn.execute(sa.select(r.c.id, r.c.cases).where(*where).limit(REPORTS_PER_PURGE_BATCH))
    reports = found.all()
    if reports:
        report_ids = [row.id for row in reports]
        t = test_results
        conn.execute(sa.delete(t).where(t.c.org_id == org_id, t.c.report_id.in_(report_ids)))
        conn.execute(sa.delete(r).where(r.c.org_id == org_id, r.c.id.in_(report_ids)))
    return sum(row.cases for row in reports), len(reports) == REPORTS_PER_PURGE_BATCH
