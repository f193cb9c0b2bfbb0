"""A window's billed parts: runner rollup rows per pipeline, label, span.

What a window's cost is priced from (``domain/window_costs.py``): the billed time of each
(pipeline, label set, rate span) of the window, read from the runner rollup's days and
recent hours through the one read plan, summed by the database (a few columns, no histogram
decoded: about one row per pipeline and label set), plus pieces computed raw for what the
plan leaves (the edges, the dirty partitions, the new runs). A raw part is read once and
cut by the hour, so each piece lies within one day, added to that day's span. Filters the
rollups do not split by make the whole window raw (cut by the hour as well), as for the
other runner figures. Then each part is priced, once."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy.engine import Connection

from cipulse.analytics import pieces, read_plan
from cipulse.analytics.read_plan import served_by_rollups
from cipulse.domain.billing import Rate
from cipulse.domain.costs import day_of
from cipulse.domain.runner_tallies import RunnerKey, RunnerTally
from cipulse.domain.window import DAY_MS, Window
from cipulse.domain.window_costs import Billed, Priced, part_rate, price_part, span_of
from cipulse.storage.rollups import runner_rows

#: (pipeline id, label set or '', the epoch day standing for its rate span) → billed time.
PartKey = tuple[str, str, int]
Parts = dict[PartKey, Billed]


def billed_parts(conn: Connection, org_id: str, window: Window, spans: Sequence[int]) -> Parts:
    """The window's billed time per (pipeline, label set, rate span); ``spans``: the rate
    card's (``window_costs.rate_spans``)."""
    found: Parts = {}
    if not served_by_rollups(window.filters):
        _add_raw(found, conn, org_id, window, None, spans)
        return found
    plan = read_plan.plan(conn, org_id, window, blocks=False)
    if plan is None:
        return found
    for row in runner_rows.billed_rows(conn, org_id, plan.stored(), spans):
        _add(
            found,
            (row.pipeline_id, row.label_set, row.day),
            Billed(
                row.jobs,
                row.job_seconds,
                row.billable_minutes,
                row.waste_job_seconds,
                row.waste_billable_minutes,
            ),
        )

    for position, piece in pieces.new_run_pieces(conn, org_id, plan, with_jobs=True).items():
        _add_runners(found, span_of(position // DAY_MS, spans), piece.runners)
    for part in plan.raw():
        _add_raw(found, conn, org_id, part.window, plan.pipelines_of(part), spans)
    return found


def _add_raw(
    found: Parts,
    conn: Connection,
    org_id: str,
    window: Window,
    pipeline_ids: list[str] | None,
    spans: Sequence[int],
) -> None:
    """Add a raw part's billed time, cut by the hour (so each lies within one day)."""
    hourly = pieces.raw_pieces_by_hour(conn, org_id, window, pipeline_ids, with_jobs=True)
    for start, piece in hourly:
        _add_runners(found, span_of(start // DAY_MS, spans), piece.runners)


def _add_runners(found: Parts, day: int, runners: Mapping[RunnerKey, RunnerTally]) -> None:
    for (pipeline_id, label_set), tally in runners.items():
        _add(
            found,
            (pipeline_id, label_set, day),
            Billed(
                sum(tally.by_status.values()),
                tally.job_seconds,
                tally.billable_minutes,
                tally.waste_job_seconds,
                tally.waste_billable_minutes,
            ),
        )


def _add(found: Parts, key: PartKey, billed: Billed) -> None:
    held = found.get(key)
    if held is None:
        found[key] = billed
    else:
        held.add(billed)


def priced_parts(
    parts: Parts, rates: Sequence[Rate], providers: Mapping[str, str]
) -> dict[PartKey, Priced]:
    """Each part priced at its pipeline's provider's rate for its label set in its span
    (``providers``: pipeline id → provider; '' when unknown, which only a ``*`` rate
    prices). A rate is looked up once per (provider, label set, day)."""
    chosen: dict[tuple[str, str, int], Rate | None] = {}
    found: dict[PartKey, Priced] = {}
    for key, billed in parts.items():
        pipeline_id, label_set, day = key
        provider = providers.get(pipeline_id, "")
        at = (provider, label_set, day)
        if at not in chosen:
            chosen[at] = part_rate(rates, provider, label_set, day_of(day * DAY_MS))
        found[key] = price_part(chosen[at], provider, billed)
    return found
