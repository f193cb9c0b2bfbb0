"""A repository's or an organisation's rows deleted in batches.

Deleting a repository (its pipelines, runs, jobs and every rollup row of its pipelines) or
an organisation (every row of it, in every table), a bounded batch per short write
transaction, resting between batches (``Rest``), so that ingest waits a moment at most.

A batch reads the next keys of a table in key order from where the last one stopped (a
keyset: each row is read once however many batches there are) and deletes those rows."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cipulse.domain.tallies import Grain
from cipulse.storage import retention
from cipulse.storage.database import Database
from cipulse.storage.dialect import bulk_delete
from cipulse.storage.rollups.keys import ORG
from cipulse.storage.rollups.marks import ORGANISATION_DAY, mark_dirty
from cipulse.storage.schema import (
    api_keys,
    job_rollups,
    memberships,
    metadata,
    metric_rollups,
    organisations,
    pipelines,
    red_periods,
    repositories,
    rollup_dirty,
    rollup_failures,
    rollup_repeats,
    run_attempts,
    run_rollups,
    runner_rollups,
    sessions,
    webhook_secrets,
)
from cipulse.storage.schema_tests import (
    test_cases,
    test_daily_rollups,
    test_reports,
    test_results,
)

#: Rows deleted per batch (of attempts: with their jobs).
ROWS_PER_BATCH = 1000
ATTEMPTS_PER_BATCH = 500

#: The rollup tables, with their rows keyed by pipeline: a repository's go with it.
PIPELINE_TABLES = (
    run_rollups,
    job_rollups,
    metric_rollups,
    rollup_repeats,
    red_periods,
    rollup_dirty,
    rollup_failures,
    runner_rollups,
)

Key = tuple[Any, ...]
#: Called with each batch's duration in seconds, between batches.
Rest = Callable[[float], None]


def until_done(database: Database, rest: Rest, batch: Callable[[Connection], bool]) -> None:
    """Run ``batch`` in a write transaction of its own until it returns False."""
    while True:
        started = time.perf_counter()
        with database.write() as conn:
            more = batch(conn)
        if not more:
            return
        rest(time.perf_counter() - started)


def delete_rows(database: Database, rest: Rest, table: sa.Table, where: Sequence[Any]) -> int:
    """Delete every row of ``table`` matching ``where``, in batches; returns how many."""
    deleted = 0
    after: Key | None = None

    def batch(conn: Connection) -> bool:
        nonlocal after, deleted
        removed, after = delete_batch(conn, table, where, after)
        deleted += removed
        return after is not None

    until_done(database, rest, batch)
    return deleted


def _key_columns(table: sa.Table) -> list[sa.Column[Any]]:
    return list(table.primary_key.columns)


def delete_batch(
    conn: Connection, table: sa.Table, where: Sequence[Any], after: Key | None
) -> tuple[int, Key | None]:
    """Delete the next ``ROWS_PER_BATCH`` rows of ``table`` matching ``where`` after the key
    ``after`` (None: from the first), in key order; returns how many, and where to go on
    from (None: done)."""
    columns = _key_columns(table)
    query = sa.select(*columns).where(*where)
    if after is not None:
        query = query.where(sa.tuple_(*columns) > sa.tuple_(*after))
    found = [tuple(row) for row in conn.execute(query.order_by(*columns).limit(ROWS_PER_BATCH))]
    bulk_delete(conn, table, [c.name for c in columns], found)
    if len(found) < ROWS_PER_BATCH:
        return len(found), None
    return len(found), found[-1]


def tables_of_organisations() -> list[sa.Table]:
    """Every table with an ``org_id`` column, those that refer to others first."""
    return [t for t in reversed(metadata.sorted_tables) if "org_id" in t.columns]


# --- Repositories --------------------------------------------------------------------------


def pipelines_of(conn: Connection, org_id: str, repository_ids: Sequence[str]) -> list[str]:
    p = pipelines
    query = sa.select(p.c.id).where(p.c.org_id == org_id, p.c.repository_id.in_(repository_ids))
    return sorted(str(pipeline_id) for pipeline_id in conn.execute(query).scalars())


def days_of(conn: Connection, org_id: str, pipeline_ids: Sequence[str]) -> set[int]:
    """The days with stored figures or marks of these pipelines: the organisation-wide rows
    of those days add them up."""
    r, d = run_rollups, rollup_dirty
    stored = sa.select(r.c.period).where(
        r.c.org_id == org_id, r.c.grain == Grain.DAY, r.c.pipeline_id.in_(pipeline_ids)
    )
    marked = sa.select(d.c.day).where(d.c.org_id == org_id, d.c.pipeline_id.in_(pipeline_ids))
    return {int(day) for day in conn.execute(stored.union(marked)).scalars()}


def delete_runs(database: Database, rest: Rest, org_id: str, pipeline_ids: Sequence[str]) -> int:
    """Delete the pipelines' runs and jobs, and every rollup row of the pipelines, in
    batches; returns how many attempts."""
    attempts = 0

    def runs(conn: Connection) -> bool:
        nonlocal attempts
        removed = attempts_batch(conn, org_id, pipeline_ids)
        attempts += removed
        return removed > 0

    until_done(database, rest, runs)
    for table in PIPELINE_TABLES:
        delete_rows(
            database, rest, table, (table.c.org_id == org_id, table.c.pipeline_id.in_(pipeline_ids))
        )
    return attempts


def attempts_batch(conn: Connection, org_id: str, pipeline_ids: Sequence[str]) -> int:
    """Delete up to ``ATTEMPTS_PER_BATCH`` attempts of these pipelines, with their jobs;
    returns how many attempts."""
    a = run_attempts
    attempt_ids = [
        str(attempt_id)
        for attempt_id in conn.execute(
            sa.select(a.c.id)
            .where(a.c.org_id == org_id, a.c.pipeline_id.in_(pipeline_ids))
            .limit(ATTEMPTS_PER_BATCH)
        ).scalars()
    ]
    retention.delete_jobs_of(conn, org_id, attempt_ids)
    return retention.delete_attempts(conn, org_id, attempt_ids)


def forget_repositories(
    conn: Connection,
    org_id: str,
    repository_ids: Sequence[str],
    pipeline_ids: Sequence[str],
    days: set[int],
    now_ms: int,
) -> None:
    """The last step: what is left of the pipelines' runs and marks (ingest may have added
    some meanwhile), the pipelines and the repositories; and marks for the refresher to add
    up the organisation-wide rows of ``days`` again without them."""
    while attempts_batch(conn, org_id, pipeline_ids):
        pass
    for table in (rollup_dirty, rollup_failures):
        conn.execute(
            sa.delete(table).where(table.c.org_id == org_id, table.c.pipeline_id.in_(pipeline_ids))
        )
    conn.execute(
        sa.delete(pipelines).where(pipelines.c.org_id == org_id, pipelines.c.id.in_(pipeline_ids))
    )
    conn.execute(
        sa.delete(repositories).where(
            repositories.c.org_id == org_id, repositories.c.id.in_(repository_ids)
        )
    )
    mark_dirty(conn, [(org_id, ORG, day) for day in days], now_ms, ORGANISATION_DAY)


# --- Organisations -------------------------------------------------------------------------


#: What lets anyone in: deleted first, so ingest and the dashboard stop at once.
DOORS = (api_keys, webhook_secrets, memberships, sessions)


def close_organisation(conn: Connection, org_id: str) -> dict[str, int]:
    """Delete the organisation's keys, webhook secrets, memberships and sessions; returns
    how many of each."""
    return {
        table.name: conn.execute(table.delete().where(table.c.org_id == org_id)).rowcount
        for table in DOORS
    }


def delete_organisation(database: Database, rest: Rest, org_id: str) -> dict[str, int]:
    """Every row of the organisation, table by table in batches, then the organisation
    itself; returns how many rows per table."""
    deleted = {
        table.name: delete_rows(database, rest, table, (table.c.org_id == org_id,))
        for table in tables_of_organisations()
    }
    with database.write() as conn:
        conn.execute(sa.delete(organisations).where(organisations.c.id == org_id))
    return deleted


# --- A repository's test results -------------------------------------------------------------

#: Test reports deleted per batch, with their results (thousands each).
REPORTS_PER_BATCH = 20


def delete_test_results(database: Database, rest: Rest, org_id: str, repository_id: str) -> int:
    """Delete a repository's test reports with their results, then its test cases with their
    daily rows, in batches; returns how many reports. (Failure messages are a dictionary of
    the organisation, shared by its repositories: they stay.)"""
    reports = 0
    r = test_reports

    def reports_batch(conn: Connection) -> bool:
        nonlocal reports
        report_ids = list(
            conn.execute(
                sa.select(r.c.id)
                .where(r.c.org_id == org_id, r.c.repository_id == repository_id)
                .limit(REPORTS_PER_BATCH)
            ).scalars()
        )
        if report_ids:
            results = test_results
            conn.execute(
                sa.delete(results).where(
                    results.c.org_id == org_id, results.c.report_id.in_(report_ids)
                )
            )
            conn.execute(sa.delete(r).where(r.c.org_id == org_id, r.c.id.in_(report_ids)))
        reports += len(report_ids)
        return bool(report_ids)

    until_done(database, rest, reports_batch)
    until_done(database, rest, lambda conn: _test_cases_batch(conn, org_id, repository_id))
    return reports


def _test_cases_batch(conn: Connection, org_id: str, repository_id: str) -> bool:
    cases = test_cases
    case_ids = list(
        conn.execute(
            sa.select(cases.c.id)
            .where(cases.c.org_id == org_id, cases.c.repository_id == repository_id)
            .limit(ROWS_PER_BATCH)
        ).scalars()
    )
    if case_ids:
        days = test_daily_rollups
        conn.execute(
            sa.delete(days).where(days.c.org_id == org_id, days.c.test_case_id.in_(case_ids))
        )
        conn.execute(sa.delete(cases).where(cases.c.org_id == org_id, cases.c.id.in_(case_ids)))
    return bool(case_ids)
