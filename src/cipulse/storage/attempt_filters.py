"""Reads scoped by organisation and filters: SQL shared by the stores.

The conditions of a window's filters over ``run_attempts`` (joining pipelines and
repositories when a filter needs them), and the pipelines and default branches those
filters name. Every query is scoped to one organisation."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cipulse.domain.window import FALLBACK_DEFAULT_BRANCHES, Filters, Window
from cipulse.storage.dialect import json_member
from cipulse.storage.schema import jobs, pipelines, repositories, run_attempts

a, p, r = run_attempts, pipelines, repositories


def plain_row(row: Any) -> dict[str, Any]:
    """A row as a dict with plain ``str`` keys (SQLAlchemy's are a ``str`` subclass that
    JSON encoders refuse)."""
    return {str(key): value for key, value in row._mapping.items()}


def branch_scope_condition(
    branch: sa.ColumnElement[str | None], repository: sa.FromClause, scope: str
) -> sa.ColumnElement[bool]:
    """SQL for ``domain.window.in_branch_scope``: ``branch`` (of an attempt, or of a red
    period) is, or (``other``) is not, the default branch of ``repository`` (a row of
    repositories joined to it). The default's fallbacks come in with COALESCE, so the
    condition is never NULL for a known branch; a NULL branch is ``other``."""
    named = sa.func.nullif(repository.c.default_branch, "")
    defaults = [sa.func.coalesce(named, fallback) for fallback in FALLBACK_DEFAULT_BRANCHES]
    if scope == "default":
        return branch.in_(defaults)
    return sa.or_(branch.is_(None), branch.not_in(defaults))


def filtered(
    query: sa.Select[Any], org_id: str, filters: Filters, *, joined: bool = False
) -> sa.Select[Any]:
    """Scope ``query`` (over run_attempts) to the organisation and the filters, joining
    pipelines and repositories when a filter needs them (unless ``joined`` already)."""
    query = query.where(a.c.org_id == org_id)
    if not joined and filters.pipeline_name is not None:
        query = query.join(p, sa.and_(p.c.org_id == a.c.org_id, p.c.id == a.c.pipeline_id))
    if not joined and (filters.repository is not None or filters.branch_scope is not None):
        query = query.join(r, sa.and_(r.c.org_id == a.c.org_id, r.c.id == a.c.repository_id))
    if filters.branch_scope is not None:
        query = query.where(branch_scope_condition(a.c.branch, r, filters.branch_scope))
    query = query.where(*_pipeline_conditions(filters))
    for column, value in (
        (a.c.branch, filters.branch),
        (a.c.provider, filters.provider),
        (a.c.actor, filters.actor),
        (a.c.triggered_by, filters.triggered_by),
    ):
        if value is not None:
            query = query.where(column == value)
    if filters.statuses:
        query = query.where(a.c.status.in_(filters.statuses))
    for key, value in filters.tags:
        query = query.where(json_member(a.c.tags, key) == value)
    if filters.names_a_change:
        query = query.where(*change_conditions(filters))
    return query


def _pipeline_conditions(filters: Filters) -> list[sa.ColumnElement[bool]]:
    """The conditions of the repository, pipeline and team filters (repositories and
    pipelines joined when the first two need them)."""
    conditions: list[sa.ColumnElement[bool]] = []
    if filters.repository is not None:
        conditions.append(sa.func.lower(r.c.full_name) == filters.repository.lower())
    if filters.pipeline_id is not None:
        conditions.append(a.c.pipeline_id == filters.pipeline_id)
    if filters.pipeline_name is not None:
        conditions.append(p.c.name == filters.pipeline_name)
    owned = team_pipelines(filters)
    if owned is not None:
        conditions.append(a.c.pipeline_id.in_(owned))
    return conditions


def change_conditions(filters: Filters) -> list[sa.ColumnElement[bool]]:
    """The conditions of the filters of the change. A commit's start is a range on the SHA
    too, which the index on (org_id, commit_sha) serves in any collation (SHAs are
    hexadecimal: every SHA from ``abc`` up to ``abcg`` starts with ``abc``)."""
    conditions: list[sa.ColumnElement[bool]] = []
    if filters.commit:
        sha = a.c.commit_sha
        conditions += [
            sha >= filters.commit,
            sha < filters.commit + "g",
            sha.startswith(filters.commit, autoescape=True),
        ]
    if filters.pull_request is not None:
        conditions.append(a.c.pull_request_number == filters.pull_request)
    for column, part in (
        (a.c.commit_author, filters.author),
        (a.c.branch, filters.branch_contains),
    ):
        if part:
            conditions.append(sa.func.lower(column).contains(part.lower(), autoescape=True))
    if filters.event_kinds:
        conditions.append(a.c.event_kind.in_(filters.event_kinds))
    return conditions


def started_in(window: Window) -> list[sa.ColumnElement[bool]]:
    """The attempts started in the window. Under a commit filter the start is read as an
    expression (``+ 0``): no index on it applies, so the planner leads with the index on the
    commit, which selects a few attempts (SQLite would otherwise scan the window's range)."""
    start = a.c.started_at_ms + 0 if window.filters.commit else a.c.started_at_ms
    return [start >= window.since_ms, start < window.until_ms]


def in_window(query: sa.Select[Any], org_id: str, window: Window) -> sa.Select[Any]:
    return filtered(query, org_id, window.filters).where(*started_in(window))


def pipeline_ids_of(conn: Connection, org_id: str, filters: Filters) -> list[str]:
    """The pipelines a repository, pipeline or team filter leaves (all without one)."""
    query = (
        sa.select(p.c.id)
        .select_from(p.join(r, sa.and_(r.c.org_id == p.c.org_id, r.c.id == p.c.repository_id)))
        .where(p.c.org_id == org_id)
    )
    if filters.repository is not None:
        query = query.where(sa.func.lower(r.c.full_name) == filters.repository.lower())
    if filters.pipeline_id is not None:
        query = query.where(p.c.id == filters.pipeline_id)
    if filters.pipeline_name is not None:
        query = query.where(p.c.name == filters.pipeline_name)
    owned = team_pipelines(filters)
    if owned is not None:
        query = query.where(p.c.id.in_(owned))
    return [row[0] for row in conn.execute(query)]


def team_pipelines(filters: Filters) -> tuple[str, ...] | None:
    """The pipelines of the team filter (None: no team filter). A team the analytics did
    not resolve to its pipelines is a programming error: refused, never read unfiltered."""
    if filters.team is not None and filters.team_pipelines is None:
        raise RuntimeError(f"the team filter {filters.team!r} was not resolved to pipelines")
    return filters.team_pipelines


def default_branches(
    conn: Connection, org_id: str, pipeline_ids: Sequence[str] | None
) -> dict[str, str | None]:
    """Per pipeline (None: every pipeline of the organisation), the default branch its
    repository names (None: it names none)."""
    query = (
        sa.select(p.c.id, r.c.default_branch)
        .select_from(p.join(r, sa.and_(r.c.org_id == p.c.org_id, r.c.id == p.c.repository_id)))
        .where(p.c.org_id == org_id)
    )
    if pipeline_ids is not None:
        query = query.where(p.c.id.in_(sorted(set(pipeline_ids))))
    return {str(row[0]): row[1] for row in conn.execute(query)}


def jobs_in_window(query: sa.Select[Any], org_id: str, window: Window) -> sa.Select[Any]:
    joined = query.select_from(
        a.join(jobs, sa.and_(jobs.c.org_id == a.c.org_id, jobs.c.attempt_id == a.c.id))
    )
    return in_window(joined, org_id, window)


def more_attempts_than(
    conn: Connection, org_id: str, window: Window, pipeline_ids: Sequence[str] | None, limit: int
) -> bool:
    """Whether more than ``limit`` attempts (of those pipelines; None: all) started in the
    window: an index range read that stops after ``limit`` entries, whatever the number."""
    query = sa.select(sa.literal(1)).where(
        a.c.org_id == org_id,
        a.c.started_at_ms >= window.since_ms,
        a.c.started_at_ms < window.until_ms,
    )
    if pipeline_ids is not None:
        query = query.where(a.c.pipeline_id.in_(sorted(pipeline_ids)))
    return conn.execute(query.limit(1).offset(limit)).first() is not None


def more_matching_than(conn: Connection, org_id: str, window: Window, limit: int) -> bool:
    """Whether more than ``limit`` attempts started in the window match all its filters:
    a read that stops after ``limit`` matches (each attempt of the range is tested)."""
    query = in_window(sa.select(sa.literal(1)).select_from(a), org_id, window)
    return conn.execute(query.limit(1).offset(limit)).first() is not None
