"""A window's runner tallies: stored days and hours plus raw pieces.

The runner rollup (``runner_rollups``) keeps days and recent hours, no blocks, so a window
reads its days (and the hours at its edges within the hourly horizon) through the one read
plan (``read_plan.plan`` without blocks), and computes raw what the plan leaves: the edges,
the dirty partitions and the new runs not yet added. Filters the rollups do not split by
make the whole window one raw piece, as for the job figures."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace

from sqlalchemy.engine import Connection

from cipulse.analytics import pieces, read_plan, rollups
from cipulse.analytics.read_plan import RawPart, ReadPlan, served_by_rollups
from cipulse.domain.histogram import Histogram
from cipulse.domain.runner_tallies import RunnerKey, RunnerTally, add_runner_tally
from cipulse.domain.window import Window
from cipulse.storage.rollups import runner_rows

#: A window's tallies by label set ('' when none was named).
ByKey = dict[str, RunnerTally]


def by_label_set(conn: Connection, org_id: str, window: Window, *, stored: bool = True) -> ByKey:
    """The window's runner tallies per label set; ``stored=False`` computes every one from
    the raw rows (the reference the rollup read must agree with)."""
    return _tallies(conn, org_id, window, stored=stored)


def queue_by_pipeline(
    conn: Connection, org_id: str, window: Window, pipeline_ids: Sequence[str]
) -> dict[str, Histogram]:
    """The waits of the jobs of some pipelines over the window (every label set), read from
    the runner rollup's queue histograms of those pipelines only, plus raw pieces."""
    found: dict[str, Histogram] = {}
    wanted = set(pipeline_ids)
    if not wanted:
        return found
    if not served_by_rollups(window.filters):
        piece = pieces.raw_piece(conn, org_id, window, sorted(wanted), with_jobs=True)
        _add_queues(found, piece.runners, wanted)
        return found
    plan = read_plan.plan(conn, org_id, window, blocks=False)
    if plan is None:
        return found
    chosen = replace(plan.stored(), pipeline_ids=tuple(sorted(wanted)))
    for pipeline_id, histogram in runner_rows.queue_histograms(conn, org_id, chosen):
        found.setdefault(pipeline_id, Histogram()).merge(histogram)

    def new_runs(plan: ReadPlan) -> Iterable[tuple[int, rollups.Piece]]:
        return pieces.new_run_pieces(conn, org_id, plan, with_jobs=True).items()

    def raw(part: RawPart, of: list[str] | None) -> list[tuple[int, rollups.Piece]]:
        narrowed = sorted(wanted if of is None else wanted & set(of))
        if not narrowed:
            return []
        piece = pieces.raw_piece(conn, org_id, part.window, narrowed, with_jobs=True)
        return [(part.window.since_ms, piece)]

    for _, piece in read_plan.stored_plus_raw(plan, new_runs, raw):
        _add_queues(found, piece.runners, wanted)
    return found


def _add_queues(
    found: dict[str, Histogram], runners: Mapping[RunnerKey, RunnerTally], wanted: set[str]
) -> None:
    for (pipeline_id, _), tally in runners.items():
        if pipeline_id in wanted:
            found.setdefault(pipeline_id, Histogram()).merge(tally.queue)


def _tallies(conn: Connection, org_id: str, window: Window, *, stored: bool) -> ByKey:
    found: ByKey = {}
    if not stored or not served_by_rollups(window.filters):
        piece = pieces.raw_piece(conn, org_id, window, None, with_jobs=True)
        _add(found, piece.runners)
        return found
    plan = read_plan.plan(conn, org_id, window, blocks=False)
    if plan is None:
        return found
    selections = [plan.stored()]
    if plan.pipeline_ids is None:
        # The organisation's rows (every pipeline added up) where none is stale: fewer rows.
        stale_days = read_plan.stale_organisation_days(conn, org_id, plan)
        selections = plan.organisation_rows(stale_days)
    for selection in selections:
        for row in runner_rows.selected_runners(conn, org_id, selection):
            add_runner_tally(found.setdefault(row.label_set, RunnerTally()), row.tally)

    def new_runs(plan: ReadPlan) -> Iterable[tuple[int, rollups.Piece]]:
        return pieces.new_run_pieces(conn, org_id, plan, with_jobs=True).items()

    def raw(part: RawPart, pipeline_ids: list[str] | None) -> list[tuple[int, rollups.Piece]]:
        piece = pieces.raw_piece(conn, org_id, part.window, pipeline_ids, with_jobs=True)
        return [(part.window.since_ms, piece)]

    for _, piece in read_plan.stored_plus_raw(plan, new_runs, raw):
        _add(found, piece.runners)
    return found


def _add(found: ByKey, runners: Mapping[RunnerKey, RunnerTally]) -> None:
    for (_, label_set), tally in runners.items():
        add_runner_tally(found.setdefault(label_set, RunnerTally()), tally)
