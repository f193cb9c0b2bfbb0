"""A write plan stored: upserts by natural key, one step per effect.

Stores a write plan (``domain/write_plan.py``): upserts by natural key, one bulk statement
per table, inside the caller's transaction. It decides nothing: which rows a batch writes is
for the write rules (``ingestion/write_rules.py``); the ingest service calls each step here by
name (``ingestion/service.py``, ``_store``).

Ids are derived from natural keys (``storage/rows.py``), so nothing has to be read back to
know the id of what was written. The caller locks the runs it is about to write
(``lock_natural_keys``) and reads their stored statuses (``stored_statuses``) first.
"""

from __future__ import annotations

from collections.abc import Iterable
from operator import itemgetter
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cipulse.domain.write_plan import Stored, WritePlan
from cipulse.storage import repositories as repository_store
from cipulse.storage.compute import derived_compute_of
from cipulse.storage.dialect import (
    bulk_delete,
    bulk_insert,
    bulk_update,
    column_names,
    placeholder,
    upsert_clause,
)
from cipulse.storage.schema import jobs, pipelines, repositories, run_attempts

_JOB_COLUMNS = column_names(jobs)
_ATTEMPT_COLUMNS = column_names(run_attempts)
_ATTEMPT_UPDATE_COLUMNS = [
    c for c in _ATTEMPT_COLUMNS if c not in {"org_id", "id", "received_at_ms"}
]
_JOB_KEY = ["org_id", "attempt_id", "node_key"]
_JOB_UPSERT = upsert_clause(jobs, _JOB_KEY, [c for c in _JOB_COLUMNS if c not in _JOB_KEY])
_REPOSITORY_UPSERT = upsert_clause(repositories, ["org_id", "id"], None)
_PIPELINE_INSERT = upsert_clause(pipelines, ["org_id", "id"], None)


def stored_statuses(
    conn: Connection,
    org_id: str,
    attempt_ids: Iterable[str],
    job_ids: Iterable[str],
    job_attempt_ids: Iterable[str],
) -> tuple[dict[str, Stored], dict[str, Stored]]:
    """The stored status and end of each given attempt and job (of the given attempts)
    that exists."""
    attempt_ids, job_ids = list(attempt_ids), set(job_ids)
    attempts: dict[str, Stored] = {}
    found_jobs: dict[str, Stored] = {}
    if attempt_ids:
        a = run_attempts
        rows = conn.execute(
            sa.select(a.c.id, a.c.status, a.c.completed_at_ms).where(
                a.c.org_id == org_id, a.c.id.in_(attempt_ids)
            )
        )
        attempts = {row.id: (row.status, row.completed_at_ms) for row in rows}
    if job_ids:
        # Through the primary key (org_id, attempt_id, …): ``jobs.id`` has no index.
        rows = conn.execute(
            sa.select(jobs.c.id, jobs.c.status, jobs.c.completed_at_ms).where(
                jobs.c.org_id == org_id, jobs.c.attempt_id.in_(sorted(set(job_attempt_ids)))
            )
        )
        found_jobs = {
            row.id: (row.status, row.completed_at_ms) for row in rows if row.id in job_ids
        }
    return attempts, found_jobs


def _sorted(rows: Iterable[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Rows in key order (``(org_id, id, …)``). Repositories and pipelines are shared by
    concurrent batches; taking their row locks in one order means no deadlock. (Attempts and
    jobs need no sorting: the advisory lock of their attempt is already held.)"""
    return sorted(rows, key=itemgetter(0, 1))


def upsert_repositories(conn: Connection, plan: WritePlan) -> None:
    bulk_insert(conn, repositories, _sorted(plan.repository_rows.values()), _REPOSITORY_UPSERT)


def take_default_branches(conn: Connection, branches: dict[tuple[str, str], str], now: int) -> None:
    """Record the default branch payloads name (webhooks know it) where it differs from the
    stored one; that marks the repository's partitions (their branch scopes change)."""
    by_org: dict[str, dict[str, str]] = {}
    for (org_id, repository_id), branch in branches.items():
        by_org.setdefault(org_id, {})[repository_id] = branch
    for org_id, wanted in sorted(by_org.items()):
        query = sa.select(repositories.c.id, repositories.c.default_branch).where(
            repositories.c.org_id == org_id, repositories.c.id.in_(sorted(wanted))
        )
        stored = {str(row.id): row.default_branch for row in conn.execute(query)}
        for repository_id, branch in sorted(wanted.items()):
            if repository_id in stored and stored[repository_id] != branch:
                repository_store.set_default_branch(conn, org_id, repository_id, branch, now)


def upsert_pipelines(conn: Connection, plan: WritePlan) -> None:
    """Insert new pipelines; a renamed pipeline takes its newest name."""
    rows = _sorted(plan.pipeline_rows.values())
    bulk_insert(conn, pipelines, rows, _PIPELINE_INSERT)
    _rename_pipelines(conn, rows)


def _rename_pipelines(conn: Connection, rows: list[tuple[Any, ...]]) -> None:
    """An UPDATE that matches only when the name differs, rather than an upsert: that would
    lock the row on every batch, and concurrent writers would queue for it."""
    if rows:
        mark = placeholder(conn)
        conn.exec_driver_sql(
            f"UPDATE pipelines SET name = {mark} "
            f"WHERE org_id = {mark} AND id = {mark} AND name <> {mark}",
            [(row[4], row[0], row[1], row[4]) for row in rows],
        )


def upsert_attempts(conn: Connection, plan: WritePlan) -> None:
    bulk_insert(
        conn,
        run_attempts,
        _sorted(tuple(row[c] for c in _ATTEMPT_COLUMNS) for row in plan.new_attempts.values()),
    )
    bulk_update(
        conn,
        run_attempts,
        _ATTEMPT_UPDATE_COLUMNS,
        ["org_id", "id"],
        [
            (*(row[c] for c in _ATTEMPT_UPDATE_COLUMNS), row["org_id"], row["id"])
            for row in plan.updated_attempts.values()
        ],
    )


def upsert_jobs(conn: Connection, plan: WritePlan) -> None:
    """Replace the job sets of snapshots, then upsert single jobs (tree nodes, webhooks)."""
    # A snapshot replaces the job set of an attempt that was already stored.
    bulk_delete(
        conn,
        jobs,
        ["org_id", "attempt_id"],
        [
            (plan.updated_attempts[attempt_id]["org_id"], attempt_id)
            for attempt_id in plan.replaced_job_sets
            if attempt_id in plan.updated_attempts
        ],
    )
    # In key order: consecutive inserts then land on neighbouring index pages (fewer page
    # misses on a large database; keys derived from UUIDs are otherwise random).
    bulk_insert(
        conn,
        jobs,
        sorted(
            (row for rows in plan.replaced_job_sets.values() for row in rows),
            key=itemgetter(0, 2, 3),
        ),
    )
    bulk_insert(conn, jobs, list(plan.span_rows.values()), _JOB_UPSERT)


def compute_from_jobs(conn: Connection, plan: WritePlan, derived: dict[str, set[str]]) -> None:
    """Attempts whose wire format carries no compute (Trunk, webhooks) have as compute the
    sum of their job-level nodes' durations (``domain/compute.py``): recomputed for those
    the plan wrote or added jobs to, and the ``derived`` ones (by organisation)."""
    by_org: dict[str, set[str]] = {org_id: set(found) for org_id, found in derived.items()}
    for org_id, attempt_id in plan.compute_from_jobs:
        by_org.setdefault(org_id, set()).add(attempt_id)
    for org_id, attempt_ids in sorted(by_org.items()):
        computed = derived_compute_of(conn, org_id, sorted(attempt_ids))
        if computed:
            conn.execute(
                sa.update(run_attempts)
                .where(run_attempts.c.org_id == org_id, run_attempts.c.id == sa.bindparam("a"))
                .values(compute_seconds=sa.bindparam("c")),
                [{"a": attempt_id, "c": value} for attempt_id, value in computed.items()],
            )
