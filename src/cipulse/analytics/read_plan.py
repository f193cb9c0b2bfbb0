"""The read plan: which stored rows and raw edges answer a window.

A window served by the rollups is read in two halves that add up: stored rollup rows (the
window's *cover*: 28- and 7-day blocks, days, recent hours) minus the *dirty* partitions
(pipeline, day) ingest changed since the refresher stored them, plus pieces computed from
the raw rows for what the cover leaves at the window's edges and for those dirty
partitions. ``plan`` works this out once per window (two queries: the pipelines a filter
names, the dirty partitions); everything else here is pure. Every engine that reads the
rollups (run and job figures, run series, custom metrics) goes through a ``ReadPlan``, red
periods through a ``RedPeriodPlan`` (stored periods, and the stale ones recomputed from the
raw outcomes), and all merge with ``stored_plus_raw``."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol, TypeVar

from sqlalchemy.engine import Connection

from cipulse.analytics import rollups
from cipulse.domain.tallies import Grain
from cipulse.domain.window import DAY_MS, HOUR_MS, Filters, Window
from cipulse.errors import InvalidRequest
from cipulse.storage import attempt_filters
from cipulse.storage.clock import now_ms
from cipulse.storage.rollups import figure_reads, keys
from cipulse.storage.rollups import marks as rollup_marks

Partition = keys.Partition
T = TypeVar("T")


def served_by_rollups(filters: Filters) -> bool:
    """Whether the stored rollups (per pipeline and branch scope) can answer under these
    filters."""
    return not (
        filters.branch
        or filters.provider
        or filters.statuses
        or filters.actor
        or filters.triggered_by
        or filters.tags
        or filters.names_a_change
    )


def hourly(window: Window) -> bool:
    """Whether the window lies where the rollups keep hours: an hourly series may read them."""
    return window.since_ms >= rollups.hourly_from_ms(now_ms())


@dataclass(frozen=True, slots=True)
class RawPart:
    """A window read from the raw rows: an edge of the cover (of every pipeline the plan
    reads: ``pipeline_ids`` None) or a dirty day's (or its whole hours') pipelines."""

    window: Window
    pipeline_ids: list[str] | None


@dataclass(frozen=True, slots=True)
class ReadPlan:
    """What a window served by the rollups reads: its pipelines (None: all), its cover and
    its dirty partitions (of those pipelines, on the cover's days)."""

    window: Window
    pipeline_ids: list[str] | None
    cover: rollups.Cover
    dirty: frozenset[Partition]

    @property
    def scope_code(self) -> int:
        """The stored rows' ``branch_scope`` of the window's branch scope."""
        return keys.SCOPE_CODES[self.window.filters.branch_scope]

    def stored(self) -> figure_reads.Selection:
        """The stored rows to read: a pipeline's block holding a dirty day is read day by
        day instead, and dirty days (and their hours) not at all (they are read raw)."""
        span, dirty = self.cover, self.dirty
        excluded: set[tuple[str, int, int]] = set()
        extra_days: set[Partition] = set()
        block_of_day = {
            start + i: (size, start) for size, start in span.blocks for i in range(size)
        }
        for pipeline_id, day in dirty:
            block = block_of_day.get(day)
            if block is not None:
                size, start = block
                excluded.add((pipeline_id, size, start))
                extra_days.update((pipeline_id, d) for d in range(start, start + size))
        extra_days -= dirty
        excluded.update((pipeline_id, Grain.DAY, day) for pipeline_id, day in dirty)
        return figure_reads.Selection(
            blocks=span.blocks + tuple((Grain.HOUR, hour) for hour in span.hours),
            days=span.days,
            extra_days=frozenset(extra_days),
            excluded=frozenset(excluded),
            pipeline_ids=self._stored_pipelines(),
            scope=self.scope_code,
            excluded_hours=self._stale_hours(),
        )

    def stored_days(self) -> figure_reads.Selection:
        """The stored days of the cover but the dirty ones (custom metrics: kept per day)."""
        return figure_reads.Selection(
            blocks=(),
            days=tuple(sorted(self.cover.days)),
            excluded=frozenset((p, Grain.DAY, d) for p, d in self.dirty),
            pipeline_ids=self._stored_pipelines(),
            scope=self.scope_code,
        )

    def organisation_rows(self, stale_days: set[int]) -> list[figure_reads.Selection]:
        """The organisation-wide rows of the periods without a dirty day (nor ``stale_days``:
        stale organisation rows), and the pipelines' rows of the days (and hours) with one
        (minus the dirty partitions)."""
        span, dirty = self.cover, self.dirty
        dirty_days = {day for _, day in dirty} | stale_days
        clean_blocks = tuple(
            (size, start)
            for size, start in span.blocks
            if not any(start + i in dirty_days for i in range(size))
        )
        days = set(span.days) | {
            start + i
            for size, start in span.blocks
            if (size, start) not in clean_blocks
            for i in range(size)
        }
        hours = {hour: hour * HOUR_MS // DAY_MS in dirty_days for hour in span.hours}
        org_rows = figure_reads.Selection(
            blocks=clean_blocks + tuple((Grain.HOUR, h) for h, stale in hours.items() if not stale),
            days=tuple(sorted(days - dirty_days)),
            pipeline_ids=(keys.ORG,),
            scope=self.scope_code,
        )
        pipeline_rows = figure_reads.Selection(
            blocks=tuple((Grain.HOUR, h) for h, stale in hours.items() if stale),
            days=tuple(sorted(days & dirty_days)),
            excluded=frozenset((p, Grain.DAY, d) for p, d in dirty),
            excluded_hours=self._stale_hours(),
            scope=self.scope_code,
        )
        return [org_rows, pipeline_rows]

    def raw(self) -> list[RawPart]:
        """The parts read from the raw rows: what the stored periods leave at the edges and,
        per day, the dirty partitions' pipelines over the day (or over its whole hours the
        cover holds); each with the window's branch scope (its other filters the rollups
        serve chose the pipelines)."""
        scoped = Filters(branch_scope=self.window.filters.branch_scope)
        span = self.cover
        found = [RawPart(Window(since, until, scoped), None) for since, until in span.edges]
        by_day: dict[int, list[str]] = defaultdict(list)
        for pipeline_id, day in sorted(self.dirty):
            by_day[day].append(pipeline_id)
        hour_days = span.hour_days
        for day, day_pipelines in sorted(by_day.items()):
            if day in hour_days:
                first, end = span.hours_of(day)
                found.append(RawPart(Window(first * HOUR_MS, end * HOUR_MS, scoped), day_pipelines))
            else:
                day_window = Window(day * DAY_MS, (day + 1) * DAY_MS, scoped)
                found.append(RawPart(day_window, day_pipelines))
        return found

    def pipelines_of(self, part: RawPart) -> list[str] | None:
        """The pipelines a raw part reads (None: all)."""
        return self.pipeline_ids if part.pipeline_ids is None else part.pipeline_ids

    def _stored_pipelines(self) -> tuple[str, ...] | None:
        return None if self.pipeline_ids is None else tuple(self.pipeline_ids)

    def _stale_hours(self) -> frozenset[tuple[str, int, int]]:
        """The hours of the cover in dirty partitions: (pipeline id, first hour, end)."""
        hour_days = self.cover.hour_days
        return frozenset(
            (pipeline_id, *self.cover.hours_of(day))
            for pipeline_id, day in self.dirty
            if day in hour_days
        )


@dataclass(frozen=True, slots=True)
class RedPeriodPlan:
    """What the window's red periods read: the stored periods of its pipelines (None: all)
    but the stale ones, and, for each pipeline whose stored periods may be stale from an
    instant (``stale``: pipeline id → ms), its periods recomputed from the raw outcomes
    from then on (a raw part per pipeline). ``defaults``: every pipeline's default branch
    when the window has a branch scope."""

    window: Window
    pipeline_ids: list[str] | None
    stale: dict[str, int]
    defaults: dict[str, str | None]

    def raw(self) -> list[RawPart]:
        until, filters = self.window.until_ms, self.window.filters
        return [
            RawPart(Window(from_ms, max(from_ms, until), filters), [pipeline_id])
            for pipeline_id, from_ms in sorted(self.stale.items())
        ]

    def pipelines_of(self, part: RawPart) -> list[str] | None:
        return part.pipeline_ids


def red_period_plan(conn: Connection, org_id: str, window: Window) -> RedPeriodPlan | None:
    """The red periods' plan of a window served by the stored periods (None when its
    filters leave no pipeline)."""
    filters = window.filters
    pipeline_ids = window_pipelines(conn, org_id, filters)
    if pipeline_ids == []:
        return None
    stale = rollup_marks.dirty_pipelines(conn, org_id)
    if pipeline_ids is not None:
        wanted = set(pipeline_ids)
        stale = {p: from_ms for p, from_ms in stale.items() if p in wanted}
    defaults: dict[str, str | None] = {}
    if filters.branch_scope is not None:
        defaults = attempt_filters.default_branches(conn, org_id, None)
    return RedPeriodPlan(window, pipeline_ids, stale, defaults)


class Plan(Protocol):
    """A read plan: ``ReadPlan`` (figures) or ``RedPeriodPlan`` (red periods)."""

    def raw(self) -> list[RawPart]: ...

    def pipelines_of(self, part: RawPart) -> list[str] | None: ...


P = TypeVar("P", bound=Plan)


def stored_plus_raw(
    plan: P,
    stored: Callable[[P], Iterable[T]],
    raw: Callable[[RawPart, list[str] | None], Iterable[T]],
) -> list[T]:
    """The one merge of every engine: what ``stored`` reads of the plan's stored rows, then
    what ``raw`` computes of each of its raw parts (with the pipelines the part reads). The
    two halves never overlap, so their parts add up."""
    found = list(stored(plan))
    for part in plan.raw():
        found += raw(part, plan.pipelines_of(part))
    return found


#: The most attempts matching them over which figures are computed under filters of the
#: change that no index serves (``author``, ``branch_contains``, ``event_kind`` without
#: ``commit`` nor ``pull_request``): each such attempt is read raw, so beyond this the
#: answer would miss the read API's time bar.
RAW_CHANGE_LIMIT = 2_000
#: The most attempts (in the window, of the pipelines its filters name) searched for those
#: that match such filters: each is read to test the filter.
SEARCHED_CHANGE_LIMIT = 20_000


def check_change_cost(conn: Connection, org_id: str, window: Window) -> None:
    """Refuse (400, naming each filter) figures under unindexed filters of the change that
    would search more than ``SEARCHED_CHANGE_LIMIT`` attempts, or match more than
    ``RAW_CHANGE_LIMIT``."""
    f = window.filters
    if not f.names_a_change or f.commit or f.pull_request is not None:
        return
    pipeline_ids = window_pipelines(conn, org_id, f)
    if pipeline_ids == []:
        return
    if not attempt_filters.more_attempts_than(conn, org_id, window, pipeline_ids, RAW_CHANGE_LIMIT):
        return
    if attempt_filters.more_attempts_than(
        conn, org_id, window, pipeline_ids, SEARCHED_CHANGE_LIMIT
    ):
        why = f"searched in at most {SEARCHED_CHANGE_LIMIT:,} runs and this window holds more"
    elif attempt_filters.more_matching_than(conn, org_id, window, RAW_CHANGE_LIMIT):
        why = f"computed from at most {RAW_CHANGE_LIMIT:,} runs and more match"
    else:
        return
    raise InvalidRequest(
        "; ".join(
            f"{name}: figures under this filter are {why}; {NARROW}"
            for name in _unindexed_change_filters(f)
        )
    )


NARROW = "narrow the window, choose a pipeline or repository, or add commit or pull_request"


def _unindexed_change_filters(f: Filters) -> list[str]:
    """The names of the given filters of the change that no index serves."""
    given = (
        ("author", f.author),
        ("branch_contains", f.branch_contains),
        ("event_kind", f.event_kinds),
    )
    return [name for name, value in given if value]


def window_pipelines(conn: Connection, org_id: str, filters: Filters) -> list[str] | None:
    """The pipelines a repository, pipeline or team filter leaves (None: no such filter,
    every pipeline; an empty list: the filters leave none)."""
    if filters.team_pipelines == ():
        return []
    if (
        filters.repository
        or filters.pipeline_id
        or filters.pipeline_name
        or attempt_filters.team_pipelines(filters) is not None
    ):
        return attempt_filters.pipeline_ids_of(conn, org_id, filters)
    return None


def plan(
    conn: Connection,
    org_id: str,
    window: Window,
    *,
    blocks: bool = True,
    hours: bool = True,
    by_hour: bool = False,
) -> ReadPlan | None:
    """The read plan of a window served by the rollups (None when its filters leave no
    pipeline): its cover has blocks only when ``blocks``, hours only when ``hours``, and
    is all hours when ``by_hour``."""
    pipeline_ids = window_pipelines(conn, org_id, window.filters)
    if pipeline_ids == []:
        return None
    span = cover_of(window, blocks=blocks, hours=hours, by_hour=by_hour, now=now_ms())
    dirty: set[Partition] = set()
    all_days = span.all_days
    if all_days:
        found = rollup_marks.dirty_partitions(conn, org_id, min(all_days), max(all_days) + 1)
        wanted = None if pipeline_ids is None else set(pipeline_ids)
        dirty = {(p, d) for p, d in found if d in all_days and (wanted is None or p in wanted)}
    return ReadPlan(window, pipeline_ids, span, frozenset(dirty))


def cover_of(
    window: Window, *, blocks: bool, hours: bool, by_hour: bool, now: int
) -> rollups.Cover:
    """The window's cover (pure): see ``plan``."""
    if by_hour:
        return rollups.hour_cover(window.since_ms, window.until_ms)
    hours_from = rollups.hourly_from_ms(now) if hours else None
    span = rollups.cover(window.since_ms, window.until_ms, hours_from_ms=hours_from)
    if not blocks:
        span = rollups.Cover((), tuple(sorted(span.stored_days)), span.edges, span.hours)
    return span


def stale_organisation_days(conn: Connection, org_id: str, read: ReadPlan) -> set[int]:
    """The days of the plan's cover whose organisation-wide rows are stale."""
    all_days = read.cover.all_days
    if not all_days:
        return set()
    return rollup_marks.stale_organisation_days(conn, org_id, min(all_days), max(all_days) + 1)
