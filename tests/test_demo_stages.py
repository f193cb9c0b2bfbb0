"""When a demo Jenkins stage began and ended (demo/reporting._stage_span), on plain values."""

from __future__ import annotations

from cipulse.demo.reporting import _stage_span
from cipulse.demo.scheduling import Schedule
from cipulse.domain.status import Status


def _schedule(starts: list[int | None], ends: list[int | None], end: int | None) -> Schedule:
    statuses = [Status.SUCCESS] * len(starts)
    return Schedule(statuses, starts, ends, Status.SUCCESS, 0, end, 0)


def test_a_stage_spans_its_steps_with_a_second_either_side() -> None:
    assert _stage_span([0, 1], Status.SUCCESS, _schedule([10, 20], [15, 30], 40)) == (9, 31)


def test_a_stage_is_unfinished_while_a_step_is() -> None:
    assert _stage_span([0, 1], Status.RUNNING, _schedule([10, 20], [15, None], None)) == (9, None)


def test_a_skipped_stage_sits_at_the_end_of_a_finished_run() -> None:
    assert _stage_span([], Status.SKIPPED, _schedule([None], [None], 40)) == (40, 40)


def test_a_stage_not_reached_yet_has_no_span() -> None:
    assert _stage_span([], Status.SKIPPED, _schedule([None], [None], None)) is None
    assert _stage_span([], Status.QUEUED, _schedule([None], [None], 40)) is None
