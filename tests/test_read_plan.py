"""The engine's pure parts, on plain values (no database): the cover of a window, the read
plan's stored rows and raw parts, the histogram's merge, job metric aggregates, and the top-k
bound."""

from __future__ import annotations

import itertools
import random

import pytest

from cipulse.analytics import rollups
from cipulse.analytics.read_plan import RawPart, ReadPlan, RedPeriodPlan, cover_of, stored_plus_raw
from cipulse.analytics.window_figures import _top_by_bound
from cipulse.domain.histogram import EXACT_LIMIT, Histogram, bucket_of
from cipulse.domain.tallies import Grain, JobTally
from cipulse.domain.window import DAY_MS, HOUR_MS, Filters, Window
from cipulse.storage.rollups.keys import SCOPE_CODES

MONDAY = 19_723  # 2024-01-01, a Monday (epoch day)


def covered_ms(cover: rollups.Cover) -> list[tuple[int, int]]:
    """Every millisecond range the cover's periods and edges hold, in order."""
    ranges = [(start * DAY_MS, (start + size) * DAY_MS) for size, start in cover.blocks]
    ranges += [(day * DAY_MS, (day + 1) * DAY_MS) for day in cover.days]
    ranges += [(hour * HOUR_MS, (hour + 1) * HOUR_MS) for hour in cover.hours]
    ranges += list(cover.edges)
    return sorted(ranges)


def test_the_cover_holds_every_instant_of_the_window_once() -> None:
    rng = random.Random(14)
    for _ in range(300):
        since = MONDAY * DAY_MS + rng.randrange(0, 90 * DAY_MS)
        until = since + rng.randrange(1, 120 * DAY_MS)
        hours_from = since + rng.randrange(-DAY_MS, 10 * DAY_MS) if rng.random() < 0.5 else None
        cover = rollups.cover(since, until, hours_from_ms=hours_from)
        ranges = covered_ms(cover)
        assert ranges[0][0] == since and ranges[-1][1] == until
        for (_, end), (start, _) in itertools.pairwise(ranges):
            assert end == start  # no gap, no overlap
        for size, start in cover.blocks:
            assert size in (Grain.FOUR_WEEKS, Grain.WEEK)
            assert start == rollups.block_of(start, size)  # aligned on its Monday


def test_a_long_window_takes_the_longest_blocks() -> None:
    since = (MONDAY - 1) * DAY_MS + 5 * HOUR_MS  # a Sunday, 05:00
    until = (MONDAY + 60) * DAY_MS + 7 * HOUR_MS
    cover = rollups.cover(since, until)
    assert cover.edges == ((since, MONDAY * DAY_MS), ((MONDAY + 60) * DAY_MS, until))
    assert Grain.FOUR_WEEKS in {size for size, _ in cover.blocks}
    assert cover.days  # the days between the last block and the end


def plan_of(
    window: Window, dirty: set[tuple[str, int]], pipelines: list[str] | None = None
) -> ReadPlan:
    cover = cover_of(window, blocks=True, hours=False, by_hour=False, now=window.until_ms)
    return ReadPlan(window, pipelines, cover, frozenset(dirty))


def test_a_dirty_day_is_read_raw_and_its_block_day_by_day() -> None:
    since, until = MONDAY * DAY_MS - HOUR_MS, (MONDAY + 7) * DAY_MS + HOUR_MS
    window = Window(since, until, Filters(branch_scope="default"))
    dirty_day = MONDAY + 3
    plan = plan_of(window, {("p1", dirty_day)})
    assert plan.cover.blocks == ((Grain.WEEK, MONDAY),)
    stored = plan.stored()
    assert stored.scope == SCOPE_CODES["default"]
    assert ("p1", Grain.WEEK, MONDAY) in stored.excluded  # p1's week is stale
    assert ("p1", Grain.DAY, dirty_day) in stored.excluded
    assert stored.extra_days == {("p1", MONDAY + i) for i in range(7) if MONDAY + i != dirty_day}
    raw = plan.raw()
    scoped = Filters(branch_scope="default")
    assert raw == [
        RawPart(Window(since, MONDAY * DAY_MS, scoped), None),
        RawPart(Window((MONDAY + 7) * DAY_MS, until, scoped), None),
        RawPart(Window(dirty_day * DAY_MS, (dirty_day + 1) * DAY_MS, scoped), ["p1"]),
    ]
    assert plan.pipelines_of(raw[0]) is None and plan.pipelines_of(raw[2]) == ["p1"]


def test_organisation_rows_only_where_no_day_is_dirty() -> None:
    window = Window(MONDAY * DAY_MS, (MONDAY + 14) * DAY_MS)
    plan = plan_of(window, {("p1", MONDAY + 8)})
    org_rows, pipeline_rows = plan.organisation_rows(stale_days={MONDAY + 1})
    assert org_rows.blocks == () and org_rows.pipeline_ids == (
        "00000000-0000-0000-0000-000000000000",
    )
    assert set(org_rows.days) == {MONDAY + i for i in range(14)} - {MONDAY + 1, MONDAY + 8}
    assert set(pipeline_rows.days) == {MONDAY + 1, MONDAY + 8}
    assert ("p1", Grain.DAY, MONDAY + 8) in pipeline_rows.excluded


def test_merged_histograms_equal_the_histogram_of_all_values() -> None:
    rng = random.Random(7)
    values = [rng.lognormvariate(3, 1.5) for _ in range(500)]
    parts = [values[:10], values[10:60], values[60:]]
    merged = Histogram()
    for part in parts:
        merged.merge(Histogram.of(part))
    whole = Histogram.of(values)
    assert merged.counts == whole.counts and merged.count == whole.count == 500
    assert abs(merged.total - sum(values)) < 1e-6
    for percentile in (50, 95, 99):
        assert merged.percentile(percentile) == whole.percentile(percentile)
        exact = sorted(values)[max(1, -(-percentile * 500 // 100)) - 1]
        assert abs(merged.percentile(percentile) - exact) <= 0.01 * exact  # type: ignore[operator]
    small = Histogram.of(values[:3])
    small.merge(Histogram.of(values[3:EXACT_LIMIT]))
    assert small.percentile(50) == sorted(values[:EXACT_LIMIT])[EXACT_LIMIT // 2 - 1]  # exact


def test_an_exact_histogram_keeps_every_value() -> None:
    values = [float(v) for v in range(1, 1001)]
    assert Histogram.of(values).values is None  # bounded: buckets only
    exact = Histogram.of(values, exact=True)
    assert exact.percentile(95) == 950.0 and exact.mean() == 500.5


def test_job_metric_aggregates_add_up_and_survive_storage() -> None:
    """A job's metrics per key: only the executions that carry a number count (unknown is
    not 0); two pieces' tallies add up to the tally of all, and the stored text reads back
    the same figures."""
    from cipulse.analytics.job_metrics import tallies_of
    from cipulse.storage.rollups.stored_rows import decoded_metrics, encoded_metrics

    rng = random.Random(16)
    jobs: list[dict[str, object]] = []
    queues: list[float] = []
    for index in range(200):
        metrics: dict[str, object] | None = None if index % 8 == 0 else {"cache_hits": 3}
        if index % 4:
            queues.append(rng.uniform(0, 300))
            metrics = {"queue_seconds": queues[-1]}
        elif metrics is not None:
            metrics["label"] = "gpu"
        jobs.append(
            {
                "attempt_id": f"a{index}",
                "node_key": "n",
                "parent_node_key": None,
                "definition_key": "build",
                "name": "build",
                "status": "success",
                "duration_seconds": 1.0,
                "metrics": metrics,
            }
        )
    pipeline_of = {f"a{index}": "p" for index in range(200)}

    def tally(part: list[dict[str, object]]) -> JobTally:
        return tallies_of(pipeline_of, part, {}, {"success"})[("p", "build")]

    whole, added = tally(jobs), tally(jobs[:77])
    rollups.add_job_tally(added, tally(jobs[77:]))
    for found in (whole, added, JobTally(metrics=decoded_metrics(encoded_metrics(added.metrics)))):
        assert set(found.metrics) == {"queue_seconds", "cache_hits"}  # "gpu" is no number
        queue = found.metrics["queue_seconds"]
        assert queue.count == len(queues) == 150
        assert queue.mean() == pytest.approx(sum(queues) / len(queues))
        assert queue.percentile(95) == whole.metrics["queue_seconds"].percentile(95)
        assert found.metrics["cache_hits"].count == 25


def test_the_top_k_bound_reads_only_what_can_reach_the_top() -> None:
    rng = random.Random(3)
    tallies: dict[str, JobTally] = {}
    for n in range(200):
        durations = [rng.uniform(1, 10) * (n + 1) for _ in range(rng.randrange(1, 20))]
        tallies[f"job{n:03}"] = JobTally(
            durations=Histogram(), duration_top_bucket=bucket_of(max(durations))
        )
        tallies[f"job{n:03}"].name = ",".join(map(str, durations))
    read: list[str] = []

    def complete(keys: list[str]) -> None:
        read.extend(keys)
        for key in keys:
            values = [float(v) for v in tallies[key].name.split(",")]
            tallies[key].durations = Histogram.of(values)

    found = _top_by_bound(tallies, 95, 5, complete)
    everything = {key: Histogram.of(map(float, t.name.split(","))) for key, t in tallies.items()}
    best = sorted(everything, key=lambda k: -(everything[k].percentile(95) or 0))[:5]
    ranked = sorted(found, key=lambda k: -(tallies[k].durations.percentile(95) or 0))[:5]
    assert ranked == best
    assert len(read) < len(tallies)  # the bound spared most histograms


def test_red_periods_read_stale_pipelines_raw_from_their_instant() -> None:
    window = Window(MONDAY * DAY_MS, (MONDAY + 7) * DAY_MS, Filters(branch="main"))
    plan = RedPeriodPlan(window, None, {"p2": MONDAY * DAY_MS - 5, "p1": (MONDAY + 2) * DAY_MS}, {})
    assert plan.raw() == [
        RawPart(Window((MONDAY + 2) * DAY_MS, window.until_ms, window.filters), ["p1"]),
        RawPart(Window(MONDAY * DAY_MS - 5, window.until_ms, window.filters), ["p2"]),
    ]
    assert stored_plus_raw(plan, lambda _: ["stored"], lambda part, ids: ids or []) == [
        "stored",
        "p1",
        "p2",
    ]
