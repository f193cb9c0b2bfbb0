"""A submission laid out as table rows, every id derived (pure).

Every id is derived from its natural key (``cipulse.domain.ids``) and every row built in the
tables' column order. Pure: no database,
so ``cipulse ingest`` and the demo seeder run it in worker processes. Which of these rows are
written is for the write rules to decide (``ingestion/write_rules.py``)."""

from __future__ import annotations

from typing import Any

import orjson

from cipulse.domain import ids
from cipulse.domain.exclusive import exclusive_seconds
from cipulse.domain.failure_reasons import failure_class_text, failure_reason
from cipulse.domain.model import (
    DetachedSpan,
    JobSpan,
    RepositoryRef,
    RunAttempt,
    RunKeyScope,
    Submission,
)
from cipulse.domain.status import STATUS_TEXT
from cipulse.domain.write_plan import (
    JobRow,
    ResolvedAttempt,
    ResolvedSpan,
    ResolvedSubmission,
    Row,
)
from cipulse.storage.clock import to_ms


def _json(value: dict[str, Any]) -> str | None:
    return orjson.dumps(value).decode() if value else None


def _with_queue(metrics: dict[str, float], queue_seconds: float | None) -> dict[str, float]:
    """``metrics`` with the queue time as its ``queue_seconds`` metric, whatever the source
    (GitHub's and GitLab's webhooks set it themselves), so custom metrics and the job figure
    ``mean_queue_seconds`` count every source's queue time."""
    if queue_seconds is None or "queue_seconds" in metrics:
        return metrics
    return {**metrics, "queue_seconds": queue_seconds}


def job_row(
    org_id: str,
    attempt_id: str,
    span: JobSpan,
    source: str | None,
    now: int,
    exclusive_seconds: float | None = None,
) -> JobRow:
    reason = failure_reason(span.status, span.failure_reason, span.raw_status)
    # The order of ``jobs``' columns in storage/schema.py (tests/test_write_rules.py checks).
    return (
        org_id,
        ids.job_id(attempt_id, span.node_key),
        attempt_id,
        span.node_key,
        span.parent_node_key,
        span.definition_key,
        span.name,
        span.kind,
        STATUS_TEXT[span.status],
        span.raw_status,
        to_ms(span.started_at),
        to_ms(span.completed_at),
        span.duration_seconds,
        span.url,
        span.external_id,
        _json(span.tags),
        _json(_with_queue(span.metrics, span.queue_seconds)),
        source,
        now,
        exclusive_seconds,
        reason,
        failure_class_text(reason),
        span.failing_step,
        span.queue_seconds,
        *span.runner.columns(),
    )


def _snapshot_rows(
    org_id: str, attempt_id: str, run: RunAttempt, source: str | None, now: int
) -> list[JobRow]:
    """The job rows of a snapshot, each with the seconds it ran alone in the attempt (a
    snapshot holds every job of the attempt, so it is known now; Trunk trees, stored node by
    node, leave it to be computed when read)."""
    alone = (
        exclusive_seconds(
            (job.node_key, to_ms(job.started_at), to_ms(job.completed_at)) for job in run.jobs
        )
        if run.jobs_are_snapshot
        else {}
    )
    return [
        job_row(
            org_id,
            attempt_id,
            job,
            source,
            now,
            alone.get(job.node_key, 0.0) if run.jobs_are_snapshot else None,
        )
        for job in run.jobs
    ]


def _attempt_row(
    org_id: str,
    repository_id: str,
    pipeline_id: str,
    attempt_id: str,
    run: RunAttempt,
    source: str | None,
    now: int,
) -> Row:
    reason = failure_reason(run.status, run.failure_reason, run.raw_status)
    return {
        "org_id": org_id,
        "id": attempt_id,
        "repository_id": repository_id,
        "pipeline_id": pipeline_id,
        "run_key": run.run_key,
        "run_number": run.run_number,
        "attempt": run.attempt,
        "status": STATUS_TEXT[run.status],
        "raw_status": run.raw_status,
        "provider": run.provider,
        "source_format": run.source_format.value,
        "started_at_ms": to_ms(run.started_at),
        "completed_at_ms": to_ms(run.completed_at),
        "duration_seconds": run.duration_seconds,
        "compute_seconds": run.compute_seconds,
        "run_name": run.run_name,
        "run_url": run.run_url,
        "triggered_by": run.triggered_by,
        "actor": run.actor,
        "branch": run.branch,
        "mode": run.mode,
        "root_node_key": run.root_node_key,
        "parent_run_key": run.parent_run_key,
        "parent_node_key": run.parent_node_key,
        "tags": _json(run.tags),
        "metrics": _json(_with_queue(run.metrics, run.queue_seconds)),
        "ingest_source": source,
        "received_at_ms": now,
        "updated_at_ms": now,
        **run.change.columns(),
        "failure_reason": reason,
        "failure_class": failure_class_text(reason),
        "queue_seconds": run.queue_seconds,
    }


def _repository_row(
    org_id: str, repository_id: str, ref: RepositoryRef, now: int
) -> tuple[Any, ...]:
    # default_branch: not in the wire formats (webhooks name it: ``default_branches``)
    return (org_id, repository_id, ref.host, ref.full_name, now, None)


def resolve(org_id: str, submission: Submission, now: int) -> ResolvedSubmission:
    """Compute ids and rows. Pure."""
    resolved = ResolvedSubmission(org_id=org_id)
    for run in submission.attempts:
        _add_attempt(resolved, run, submission, now)
    later_rounds = _add_spans(resolved, submission.detached_spans, submission, now)
    for repository, run_key in submission.retry_round_runs:
        retried_run = (ids.repository_id(org_id, repository), run_key)
        resolved.retry_round_runs[retried_run] = retried_run in later_rounds
    for repository, branch in submission.default_branches.items():
        resolved.default_branches[ids.repository_id(org_id, repository)] = branch
    return resolved


def _add_attempt(
    resolved: ResolvedSubmission, run: RunAttempt, submission: Submission, now: int
) -> None:
    org_id, source = resolved.org_id, submission.ingest_source
    repository_id = ids.repository_id(org_id, run.repository)
    pipeline_id = ids.pipeline_id(repository_id, run.pipeline.key)
    attempt_id = ids.attempt_id(
        run.run_key_scope, repository_id, pipeline_id, run.run_key, run.attempt
    )
    resolved.repository_rows[repository_id] = _repository_row(
        org_id, repository_id, run.repository, now
    )
    resolved.pipeline_rows[pipeline_id] = (
        org_id,
        pipeline_id,
        repository_id,
        run.pipeline.key,
        run.pipeline.name,
        now,
    )
    scope_id = pipeline_id if run.run_key_scope is RunKeyScope.PIPELINE else repository_id
    resolved.attempts.append(
        ResolvedAttempt(
            id=attempt_id,
            run_lock_id=ids.run_lock_id(scope_id, run.run_key),
            status=STATUS_TEXT[run.status],
            row=_attempt_row(org_id, repository_id, pipeline_id, attempt_id, run, source, now),
            job_rows=_snapshot_rows(org_id, attempt_id, run, source, now),
            jobs_are_snapshot=run.jobs_are_snapshot,
            from_webhooks=submission.from_webhooks,
        )
    )


def _add_spans(
    resolved: ResolvedSubmission,
    detached_spans: list[DetachedSpan],
    submission: Submission,
    now: int,
) -> set[tuple[str, str]]:
    """Add the job-tree nodes and webhook jobs; returns the runs (repository id, run key)
    that have jobs of rounds past the first."""
    org_id, source = resolved.org_id, submission.ingest_source
    # A request's spans mostly share one repository and run: their ids are derived once.
    repository_ids: dict[RepositoryRef, str] = {}
    chains: dict[tuple[str, str, int], tuple[str, str]] = {}
    later_rounds: set[tuple[str, str]] = set()
    for detached in detached_spans:
        if detached.repository not in repository_ids:
            repository_id = ids.repository_id(org_id, detached.repository)
            repository_ids[detached.repository] = repository_id
            resolved.repository_rows[repository_id] = _repository_row(
                org_id, repository_id, detached.repository, now
            )
        repository_id = repository_ids[detached.repository]
        chain = (repository_id, detached.run_key, detached.attempt)
        if chain not in chains:
            chains[chain] = (
                ids.chain_attempt_id(*chain),
                ids.run_lock_id(repository_id, detached.run_key),
            )
        attempt_id, run_lock_id = chains[chain]
        if detached.attempt > 1:
            later_rounds.add((repository_id, detached.run_key))
        row = job_row(org_id, attempt_id, detached.span, source, now)
        resolved.spans.append(
            ResolvedSpan(
                id=row[1],
                attempt_id=attempt_id,
                run_lock_id=run_lock_id,
                status=STATUS_TEXT[detached.span.status],
                row=row,
                fallback=detached.fallback,
                from_webhooks=submission.from_webhooks,
                completed_at_ms=to_ms(detached.span.completed_at),
            )
        )
    return later_rounds
