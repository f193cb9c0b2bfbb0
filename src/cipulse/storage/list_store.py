"""The read API's lists: attempts, their jobs, repositories and pipelines.

Pages of attempts newest first, one attempt with its siblings and jobs, the repositories and
pipelines of an organisation, and each pipeline's latest attempts. Every query is scoped to
one organisation."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cipulse.domain.window import FALLBACK_DEFAULT_BRANCHES, Filters, Window
from cipulse.storage.attempt_filters import (
    a,
    default_branches,
    filtered,
    p,
    plain_row,
    r,
    started_in,
)
from cipulse.storage.schema import jobs


def attempt_page(
    conn: Connection, org_id: str, window: Window, limit: int, after: tuple[int, str] | None
) -> list[dict[str, Any]]:
    """Attempts newest first (by ``started_at``, then id), after the cursor position."""
    query = (
        sa.select(
            a,
            p.c.name.label("pipeline_name"),
            r.c.host.label("repository_host"),
            r.c.full_name.label("repository"),
        )
        .select_from(
            a.join(p, sa.and_(p.c.org_id == a.c.org_id, p.c.id == a.c.pipeline_id)).join(
                r, sa.and_(r.c.org_id == a.c.org_id, r.c.id == a.c.repository_id)
            )
        )
        .where(*started_in(window))
        .order_by(a.c.started_at_ms.desc(), a.c.id.desc())
        .limit(limit)
    )
    query = filtered(query, org_id, window.filters, joined=True)
    if after is not None:
        started, attempt_id = after
        query = query.where(
            sa.or_(
                a.c.started_at_ms < started,
                sa.and_(a.c.started_at_ms == started, a.c.id < attempt_id),
            )
        )
    return [plain_row(row) for row in conn.execute(query)]


def attempt_detail(conn: Connection, org_id: str, attempt_id: str) -> dict[str, Any] | None:
    query = (
        sa.select(
            a,
            p.c.name.label("pipeline_name"),
            p.c.pipeline_key,
            r.c.host.label("repository_host"),
            r.c.full_name.label("repository"),
        )
        .select_from(
            a.join(p, sa.and_(p.c.org_id == a.c.org_id, p.c.id == a.c.pipeline_id)).join(
                r, sa.and_(r.c.org_id == a.c.org_id, r.c.id == a.c.repository_id)
            )
        )
        .where(a.c.org_id == org_id, a.c.id == attempt_id)
    )
    row = conn.execute(query).first()
    return None if row is None else plain_row(row)


def sibling_attempts(
    conn: Connection, org_id: str, pipeline_id: str, run_key: str
) -> list[dict[str, Any]]:
    query = (
        sa.select(a.c.id, a.c.attempt, a.c.status, a.c.started_at_ms, a.c.completed_at_ms)
        .where(a.c.org_id == org_id, a.c.pipeline_id == pipeline_id, a.c.run_key == run_key)
        .order_by(a.c.attempt)
    )
    return [plain_row(row) for row in conn.execute(query)]


def jobs_of(conn: Connection, org_id: str, attempt_ids: Sequence[str]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for start in range(0, len(attempt_ids), 500):
        query = (
            sa.select(jobs)
            .where(
                jobs.c.org_id == org_id,
                jobs.c.attempt_id.in_(sorted(attempt_ids[start : start + 500])),
            )
            .order_by(jobs.c.attempt_id, jobs.c.started_at_ms, jobs.c.node_key)
        )
        rows += [plain_row(row) for row in conn.execute(query)]
    return rows


def repository_rows(conn: Connection, org_id: str) -> list[dict[str, Any]]:
    query = sa.select(r.c.id, r.c.host, r.c.full_name, r.c.created_at_ms).where(
        r.c.org_id == org_id
    )
    return [plain_row(row) for row in conn.execute(query.order_by(r.c.full_name))]


def pipeline_rows(conn: Connection, org_id: str) -> list[dict[str, Any]]:
    query = (
        sa.select(
            p.c.id,
            p.c.name,
            p.c.pipeline_key,
            p.c.repository_id,
            r.c.full_name.label("repository"),
            r.c.host.label("repository_host"),
            p.c.created_at_ms,
        )
        .select_from(p.join(r, sa.and_(r.c.org_id == p.c.org_id, r.c.id == p.c.repository_id)))
        .where(p.c.org_id == org_id)
        .order_by(r.c.full_name, p.c.name)
    )
    return [plain_row(row) for row in conn.execute(query)]


def latest_attempts(
    conn: Connection,
    org_id: str,
    pipeline_ids: Sequence[str],
    filters: Filters,
    until_ms: int,
    count: int,
) -> dict[str, list[dict[str, Any]]]:
    """Per pipeline, its ``count`` latest attempts started before ``until_ms`` that pass the
    filters, oldest first: one index range per pipeline (a branch scope compares the branch
    with the pipeline's default branches, read first, so no join keeps PostgreSQL from
    walking the index newest first)."""
    scope = filters.branch_scope
    defaults = default_branches(conn, org_id, pipeline_ids) if scope else {}
    unscoped = replace(filters, branch_scope=None)
    latest: dict[str, list[dict[str, Any]]] = {}
    for pipeline_id in pipeline_ids:
        query = filtered(
            sa.select(
                a.c.id,
                a.c.status,
                a.c.duration_seconds,
                a.c.started_at_ms,
                a.c.branch,
                a.c.provider,
            )
            .where(a.c.pipeline_id == pipeline_id, a.c.started_at_ms < until_ms)
            .order_by(a.c.started_at_ms.desc())
            .limit(count),
            org_id,
            unscoped,
        )
        if scope:
            named = defaults.get(pipeline_id)
            on_default = a.c.branch.in_((named,) if named else FALLBACK_DEFAULT_BRANCHES)
            query = query.where(
                on_default if scope == "default" else sa.or_(a.c.branch.is_(None), ~on_default)
            )
        latest[pipeline_id] = [plain_row(row) for row in conn.execute(query)][::-1]
    return latest


def latest_providers(conn: Connection, org_id: str) -> dict[str, str]:
    """Per pipeline, the provider of its latest attempt: one statement, an index lookup per
    pipeline."""
    latest = (
        sa.select(a.c.provider)
        .where(a.c.org_id == p.c.org_id, a.c.pipeline_id == p.c.id)
        .order_by(a.c.started_at_ms.desc())
        .limit(1)
        .correlate(p)
        .scalar_subquery()
    )
    query = sa.select(p.c.id, latest).where(p.c.org_id == org_id)
    return {str(row[0]): row[1] for row in conn.execute(query) if row[1] is not None}


def attempt_completed_at(
    conn: Connection, org_id: str, pipeline_id: str, branch: str | None, completed_at_ms: int
) -> str | None:
    """The attempt of the pipeline on the branch that completed at that moment (the one that
    turned it red), looking back at most a week for its start."""
    query = (
        sa.select(a.c.id)
        .where(
            a.c.org_id == org_id,
            a.c.pipeline_id == pipeline_id,
            a.c.started_at_ms <= completed_at_ms,
            a.c.started_at_ms > completed_at_ms - 7 * 86_400_000,
            a.c.completed_at_ms == completed_at_ms,
            a.c.branch.is_(None) if branch is None else a.c.branch == branch,
        )
        .order_by(a.c.attempt.desc())
        .limit(1)
    )
    return conn.execute(query).scalar()
