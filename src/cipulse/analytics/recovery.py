"""Red periods: stored, and recomputed from the earliest changed day.

Red periods from the ``red_periods`` table. The refresher recomputes a pipeline's periods
from the earliest day ingest changed (``recompute``); a read recomputes, in memory, those of
the pipelines whose changes are not refreshed yet, so answers are exact at all times.

Recomputing from a time T: every stored period of the pipeline still open or ended at or
after T is stale; per branch, the outcomes from the start of its earliest stale period (or
from T) are run through ``run_metrics.red_periods`` again. Before that point the branch was
green (a red period open across it would be stale itself), so the result joins up with the
periods kept."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cipulse.analytics import read_plan, run_metrics
from cipulse.analytics.read_plan import RawPart, RedPeriodPlan
from cipulse.analytics.run_metrics import RedPeriod
from cipulse.domain.window import Window, in_branch_scope
from cipulse.storage import analytics_store as store
from cipulse.storage.rollups import red_periods


def recompute(
    conn: Connection, org_id: str, pipeline_id: str, from_ms: int
) -> tuple[list[str], list[RedPeriod]]:
    """The ids of the pipeline's stored periods made stale by changes from ``from_ms`` on,
    and the periods that replace them."""
    stale = red_periods.periods_from(conn, org_id, pipeline_id, from_ms)
    starts: dict[str | None, int] = {}
    for period in stale:
        starts[period.branch] = min(starts.get(period.branch, from_ms), period.started_at_ms)
    lowest = min([from_ms, *starts.values()])
    outcomes = [
        outcome
        for outcome in red_periods.outcomes_of_pipeline(conn, org_id, pipeline_id, lowest)
        if outcome.completed_at_ms >= starts.get(outcome.branch, from_ms)
    ]
    return [period.id for period in stale], run_metrics.red_periods(outcomes)


def served_by_table(window: Window) -> bool:
    """Red periods are stored per pipeline and branch (so branch and branch scope filters
    select among them); other filters (status aside, which recovery ignores) need the raw
    outcomes."""
    f = window.filters
    return not (f.provider or f.actor or f.triggered_by or f.tags or f.names_a_change)


@dataclass(frozen=True, slots=True)
class Recovery:
    """What the window's red periods come to: ``ended`` newest first and ``red_now`` longest
    red first, each cut at the limit asked for; the counts are whole."""

    mttr_seconds: float | None
    recovered_periods: int
    red_now_count: int
    ended: list[RedPeriod]
    red_now: list[RedPeriod]


@dataclass(frozen=True, slots=True)
class RecoveryPart:
    """What some red periods come to: the stored ones (counted by the database) or those
    recomputed here; parts of disjoint periods add up (``_summed``)."""

    recovered: int = 0
    seconds: float = 0.0
    red_count: int = 0
    #: Periods that ended in the window, and those red at its end (the stored ones cut at
    #: the limit asked for).
    ended: tuple[RedPeriod, ...] = ()
    red_now: tuple[RedPeriod, ...] = ()


def recovery_in(conn: Connection, org_id: str, window: Window, limit: int | None) -> Recovery:
    """The red periods that ended in the window and those red at its end; ``limit`` cuts
    the lists (0: counts only; None: whole). Stored periods plus, for the pipelines whose
    changes are not refreshed yet, their stale periods recomputed (``RedPeriodPlan``)."""
    filters = window.filters
    if not served_by_table(window):
        outcomes = store.outcomes_before(conn, org_id, filters, window.until_ms)
        return _summed([_part_of(window, run_metrics.red_periods(outcomes))], limit)
    plan = read_plan.red_period_plan(conn, org_id, window)
    if plan is None:
        return Recovery(None, 0, 0, [], [])

    def stored(plan: RedPeriodPlan) -> list[RecoveryPart]:
        scope = red_periods.period_scope(
            org_id,
            plan.pipeline_ids,
            filters.branch,
            plan.stale,
            filters.branch_scope,
            plan.defaults,
        )
        return [_stored(conn, org_id, window, scope, limit)]

    def raw(part: RawPart, pipeline_ids: list[str] | None) -> list[RecoveryPart]:
        assert pipeline_ids is not None and len(pipeline_ids) == 1  # one raw part per pipeline
        (pipeline_id,) = pipeline_ids
        _, recomputed = recompute(conn, org_id, pipeline_id, part.window.since_ms)
        default = plan.defaults.get(pipeline_id)
        wanted = [
            p
            for p in recomputed
            if (filters.branch is None or p.branch == filters.branch)
            and in_branch_scope(p.branch, default, filters.branch_scope)
        ]
        return [_part_of(window, wanted)]

    return _summed(read_plan.stored_plus_raw(plan, stored, raw), limit)


def _stored(
    conn: Connection,
    org_id: str,
    window: Window,
    scope: list[sa.ColumnElement[bool]],
    limit: int | None,
) -> RecoveryPart:
    """The stored periods in ``scope``: counts, and (unless ``limit`` is 0) those that ended
    in the window and those red at its end, at most ``limit`` of each."""
    since, until = window.since_ms, window.until_ms
    recovered, seconds, red_count = red_periods.period_stats(conn, org_id, since, until, scope)
    lists: dict[bool, tuple[RedPeriod, ...]] = {True: (), False: ()}
    if limit != 0:
        for ended in lists:
            lists[ended] = tuple(
                RedPeriod(
                    p.pipeline_id, p.branch, p.started_at_ms, p.ended_at_ms, p.failing_attempts
                )
                for p in red_periods.period_rows(
                    conn, org_id, since, until, scope, ended=ended, limit=limit
                )
            )
    return RecoveryPart(recovered, seconds, red_count, lists[True], lists[False])


def _part_of(window: Window, computed: list[RedPeriod]) -> RecoveryPart:
    """The part of periods computed here: those that ended in the window, those red at its
    end."""
    ended = tuple(
        p
        for p in computed
        if p.ended_at_ms is not None and window.since_ms <= p.ended_at_ms < window.until_ms
    )
    red_now = tuple(
        p
        for p in computed
        if p.started_at_ms < window.until_ms
        and (p.ended_at_ms is None or p.ended_at_ms >= window.until_ms)
    )
    seconds = sum(p.seconds or 0.0 for p in ended)
    return RecoveryPart(len(ended), seconds, len(red_now), ended, red_now)


def _summed(parts: list[RecoveryPart], limit: int | None) -> Recovery:
    """The parts added up: counts summed, lists merged (newest ended first, longest red
    first) and cut at ``limit``."""
    recovered = sum(part.recovered for part in parts)
    # The first part's seconds, then every later period's, one by one (as they always were
    # added: the same float whatever the number of parts).
    seconds = parts[0].seconds + sum(p.seconds or 0.0 for part in parts[1:] for p in part.ended)
    ended = sorted((p for part in parts for p in part.ended), key=lambda p: -(p.ended_at_ms or 0))
    red_now = sorted(
        (
            RedPeriod(p.pipeline_id, p.branch, p.started_at_ms, None, p.failing_attempts)
            for part in parts
            for p in part.red_now
        ),
        key=lambda p: p.started_at_ms,
    )
    return Recovery(
        mttr_seconds=seconds / recovered if recovered else None,
        recovered_periods=recovered,
        red_now_count=sum(part.red_count for part in parts),
        ended=ended[:limit],
        red_now=red_now[:limit],
    )
