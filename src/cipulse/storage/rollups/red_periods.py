"""Red periods stored, read back with their stats, and replaced.

The ``red_periods`` table: a pipeline on a branch from its first failing attempt after a
success to its next success. The refresher replaces a pipeline's stale periods
(``replace_periods``); reads count and list the stored ones in a scope, leaving out the
stale periods of pipelines they recompute."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cipulse.domain import ids
from cipulse.domain.tallies import Outcome
from cipulse.domain.window import FALLBACK_DEFAULT_BRANCHES
from cipulse.storage.dialect import bulk_delete, bulk_insert, placeholder
from cipulse.storage.schema import red_periods


@dataclass(frozen=True, slots=True)
class StoredPeriod:
    id: str
    pipeline_id: str
    branch: str | None
    started_at_ms: int
    ended_at_ms: int | None
    failing_attempts: int


_PERIOD_COLUMNS = [
    red_periods.c.id,
    red_periods.c.pipeline_id,
    red_periods.c.branch,
    red_periods.c.started_at_ms,
    red_periods.c.ended_at_ms,
    red_periods.c.failing_attempts,
]


def periods_from(
    conn: Connection, org_id: str, pipeline_id: str, from_ms: int
) -> list[StoredPeriod]:
    """The stored red periods of a pipeline still open, or ended at or after ``from_ms``."""
    rp = red_periods
    query = sa.select(*_PERIOD_COLUMNS).where(
        rp.c.org_id == org_id,
        rp.c.pipeline_id == pipeline_id,
        sa.or_(rp.c.ended_at_ms.is_(None), rp.c.ended_at_ms >= from_ms),
    )
    return [StoredPeriod(*row) for row in conn.execute(query)]


def period_scope(
    org_id: str,
    pipeline_ids: Sequence[str] | None,
    branch: str | None,
    stale: dict[str, int],
    branch_scope: str | None = None,
    defaults: dict[str, str | None] | None = None,
) -> list[sa.ColumnElement[bool]]:
    """Conditions: the organisation, the pipelines, branch and branch scope asked for (the
    scope by ``defaults``: every pipeline's default branch, as ``default_branches`` reads
    them), and not the stale periods of pipelines being recomputed (``stale``: pipeline id
    → from ms)."""
    rp = red_periods
    conditions: list[sa.ColumnElement[bool]] = [rp.c.org_id == org_id]
    if pipeline_ids is not None:
        conditions.append(rp.c.pipeline_id.in_(sorted(pipeline_ids)))
    if branch is not None:
        conditions.append(rp.c.branch == branch)
    if branch_scope is not None:
        conditions.append(_period_in_branch_scope(branch_scope, defaults or {}))
    for pipeline_id, from_ms in sorted(stale.items()):
        conditions.append(
            sa.not_(
                sa.and_(
                    rp.c.pipeline_id == pipeline_id,
                    sa.or_(rp.c.ended_at_ms.is_(None), rp.c.ended_at_ms >= from_ms),
                )
            )
        )
    return conditions


def _period_in_branch_scope(scope: str, defaults: dict[str, str | None]) -> sa.ColumnElement[bool]:
    """A period's branch is (``default``) or is not (``other``) its pipeline's default
    branch: one condition per set of default branches (usually one: main or master for
    every pipeline), so the database compares values instead of joining per period."""
    rp = red_periods
    groups: dict[tuple[str, ...], list[str]] = {}
    for pipeline_id, named in sorted(defaults.items()):
        groups.setdefault((named,) if named else FALLBACK_DEFAULT_BRANCHES, []).append(pipeline_id)
    on_default: sa.ColumnElement[bool]
    if len(groups) == 1:
        # Every pipeline shares its defaults (read in the transaction reading the periods).
        (branches,) = groups
        on_default = rp.c.branch.in_(branches)
    else:
        on_default = sa.or_(
            sa.false(),
            *(
                sa.and_(rp.c.pipeline_id.in_(ids), rp.c.branch.in_(branches))
                for branches, ids in groups.items()
            ),
        )
    if scope == "default":
        return on_default
    return sa.or_(rp.c.branch.is_(None), sa.not_(on_default))


def _ended_in(since_ms: int, until_ms: int) -> sa.ColumnElement[bool]:
    return sa.and_(red_periods.c.ended_at_ms >= since_ms, red_periods.c.ended_at_ms < until_ms)


def _open_at(until_ms: int) -> list[sa.ColumnElement[bool]]:
    """Red at ``until_ms``: two conditions, each served by the index on ``ended_at_ms``."""
    rp = red_periods
    return [
        sa.and_(rp.c.ended_at_ms.is_(None), rp.c.started_at_ms < until_ms),
        sa.and_(rp.c.ended_at_ms >= until_ms, rp.c.started_at_ms < until_ms),
    ]


def period_stats(
    conn: Connection,
    org_id: str,
    since_ms: int,
    until_ms: int,
    scope: list[sa.ColumnElement[bool]],
) -> tuple[int, float, int]:
    """(periods ended in the window, their total length in seconds, periods red at its end)
    among the stored periods in ``scope`` (``period_scope``)."""
    rp = red_periods
    ended = conn.execute(
        sa.select(
            sa.func.count(), sa.func.coalesce(sa.func.sum(rp.c.ended_at_ms - rp.c.started_at_ms), 0)
        ).where(*scope, _ended_in(since_ms, until_ms))
    ).one()
    red_now = sum(
        conn.execute(sa.select(sa.func.count()).where(*scope, condition)).scalar_one()
        for condition in _open_at(until_ms)
    )
    return int(ended[0]), float(ended[1]) / 1000, red_now


def period_rows(
    conn: Connection,
    org_id: str,
    since_ms: int,
    until_ms: int,
    scope: list[sa.ColumnElement[bool]],
    *,
    ended: bool,
    limit: int | None,
) -> list[StoredPeriod]:
    """Stored periods in ``scope`` that ended in the window, newest first (``ended``), or
    that were red at its end, longest red first; at most ``limit`` (None: all)."""
    rp = red_periods
    found: list[StoredPeriod] = []
    conditions = [_ended_in(since_ms, until_ms)] if ended else _open_at(until_ms)
    for condition in conditions:
        query = sa.select(*_PERIOD_COLUMNS).where(*scope, condition)
        query = query.order_by(rp.c.ended_at_ms.desc() if ended else rp.c.started_at_ms, rp.c.id)
        if limit is not None:
            query = query.limit(limit)
        found += [StoredPeriod(str(row[0]), str(row[1]), *row[2:]) for row in conn.execute(query)]
    return found


def outcomes_of_pipeline(
    conn: Connection, org_id: str, pipeline_id: str, from_ms: int
) -> list[Outcome]:
    """The outcomes of the pipeline's attempts that ended success, failure or timed_out at
    or after ``from_ms``, oldest first. On the driver: the refresher reads every outcome
    of a pipeline's history."""
    mark = placeholder(conn)
    sql = (
        "SELECT branch, status, completed_at_ms, id FROM run_attempts "
        f"WHERE org_id = {mark} AND pipeline_id = {mark} "
        "AND status IN ('success', 'failure', 'timed_out') "
        f"AND completed_at_ms >= {mark} ORDER BY completed_at_ms, id"
    )
    return [
        Outcome(pipeline_id, branch, status, completed, str(attempt_id))
        for branch, status, completed, attempt_id in conn.exec_driver_sql(
            sql, (org_id, pipeline_id, from_ms)
        )
    ]


def replace_periods(
    conn: Connection,
    org_id: str,
    stale_ids: Sequence[str],
    fresh: Sequence[tuple[str, str | None, int, int | None, int]],
) -> None:
    """Delete the stale red periods and store the fresh ones (pipeline id, branch, started,
    ended, failing attempts)."""
    bulk_delete(conn, red_periods, ["org_id", "id"], [(org_id, i) for i in sorted(stale_ids)])
    bulk_insert(
        conn,
        red_periods,
        sorted(
            (org_id, ids.red_period_id(p, branch, started), p, branch, started, ended, failing)
            for p, branch, started, ended, failing in fresh
        ),
    )
