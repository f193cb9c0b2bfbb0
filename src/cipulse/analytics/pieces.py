"""Pieces computed from the raw rows: one UTC day of some pipelines for the refresher, or a
partial day (or a still-dirty partition) for a read. The same code serves both, so stored
and freshly computed figures cannot disagree."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.engine import Connection

from cipulse.analytics import custom_metrics, rollups, run_metrics
from cipulse.domain.window import Window
from cipulse.storage import analytics_store as store


def raw_piece(
    conn: Connection,
    org_id: str,
    window: Window,
    pipeline_ids: Sequence[str] | None,
    *,
    with_jobs: bool,
    with_metrics: bool = False,
) -> rollups.Piece:
    """The piece of the attempts in ``window`` (which may carry filters) of those pipelines
    (None: all)."""
    attempts = store.attempts_in_window(conn, org_id, window, pipeline_ids)
    # Every attempt of the piece's runs: flakiness and runs decided on several days need them.
    history = store.attempts_of_runs(conn, org_id, {a.run for a in attempts})
    jobs_by_attempt: dict[str, list[dict[str, Any]]] | None = None
    if with_jobs:
        flaky = run_metrics.flaky_runs(attempts, history)
        wanted = {a.id for a in attempts} | {a.id for run in flaky.values() for a in run.failing}
        jobs_by_attempt = {}
        for job in store.job_facts_of(conn, org_id, sorted(wanted)):
            jobs_by_attempt.setdefault(job["attempt_id"], []).append(job)
    piece = rollups.piece_of(window, attempts, history, jobs_by_attempt)
    if with_metrics:
        piece.metrics = custom_metrics.histograms_of(
            store.metric_events(conn, org_id, window, pipeline_ids)
        )
    return piece
