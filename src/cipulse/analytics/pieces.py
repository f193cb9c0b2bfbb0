"""Pieces computed from the raw rows: one UTC day of some pipelines for the refresher, or a
partial day (or a still-dirty partition) for a read. The same code serves both, so stored
and freshly computed figures cannot disagree."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy.engine import Connection

from cipulse.analytics import custom_metrics, rollups, run_metrics
from cipulse.domain.window import BRANCH_SCOPES, Window, in_branch_scope
from cipulse.storage import analytics_store as store
from cipulse.storage.analytics_store import AttemptFacts


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
    jobs_by_attempt = _jobs_of(conn, org_id, attempts, history) if with_jobs else None
    piece = rollups.piece_of(window, attempts, history, jobs_by_attempt)
    if with_metrics:
        piece.metrics = custom_metrics.histograms_of(
            store.metric_events(conn, org_id, window, pipeline_ids)
        )
    return piece


def scoped_pieces(
    conn: Connection, org_id: str, window: Window, pipeline_ids: Sequence[str]
) -> dict[str | None, rollups.Piece]:
    """What the refresher stores of a window (without filters): per branch scope (None:
    every branch, then each of ``BRANCH_SCOPES``), the piece ``raw_piece`` would compute with
    that scope as the window's filter, jobs and custom metrics included. The raw rows are
    read once and split by scope."""
    attempts = store.attempts_in_window(conn, org_id, window, pipeline_ids)
    history = store.attempts_of_runs(conn, org_id, {a.run for a in attempts})
    jobs_by_attempt = _jobs_of(conn, org_id, attempts, history)
    defaults = store.default_branches(conn, org_id, pipeline_ids)
    pieces: dict[str | None, rollups.Piece] = {}
    for branch_scope in (None, *BRANCH_SCOPES):
        scoped = [
            a
            for a in attempts
            if in_branch_scope(a.branch, defaults.get(a.pipeline_id), branch_scope)
        ]
        piece = rollups.piece_of(window, scoped, history, jobs_by_attempt)
        scoped_window = replace(window, filters=replace(window.filters, branch_scope=branch_scope))
        piece.metrics = custom_metrics.histograms_of(
            store.metric_events(conn, org_id, scoped_window, pipeline_ids)
        )
        pieces[branch_scope] = piece
    return pieces


def _jobs_of(
    conn: Connection,
    org_id: str,
    attempts: Sequence[AttemptFacts],
    history: Sequence[AttemptFacts],
) -> dict[str, list[dict[str, Any]]]:
    """The jobs of the attempts, and of the failing attempts of their flaky runs, by
    attempt id."""
    flaky = run_metrics.flaky_runs(attempts, history)
    wanted = {a.id for a in attempts} | {a.id for run in flaky.values() for a in run.failing}
    jobs_by_attempt: dict[str, list[dict[str, Any]]] = {}
    for job in store.job_facts_of(conn, org_id, sorted(wanted)):
        jobs_by_attempt.setdefault(job["attempt_id"], []).append(job)
    return jobs_by_attempt
