"""GitLab retry rounds as attempts (domain/retry_rounds.derive), on plain rows."""

from __future__ import annotations

from typing import Any

from cipulse.domain.retry_rounds import RETRIED, derive


def _job(row_id: str, external_id: str, name: str, status: str, start: int, end: int) -> Any:
    return {
        "id": row_id,
        "external_id": external_id,
        "definition_key": name,
        "parent_node_key": None,
        "status": status,
        "tags": {},
        "started_at_ms": start,
        "completed_at_ms": end,
    }


FIRST = {"id": "a1", "attempt": 1, "status": "success", "started_at_ms": 0, "branch": "main"}


def test_a_pipeline_nobody_retried_keeps_its_attempt() -> None:
    rounds = derive(FIRST, {1: [_job("j1", "1", "test", "success", 0, 5)]}, {1: "a1"})
    assert (rounds.first, rounds.attempts, rounds.deleted_job_ids) == (None, [], [])


def test_a_retry_makes_a_second_attempt_and_leaves_round_one() -> None:
    retry = _job("j3", "3", "test", "success", 20_000, 30_000)
    rounds = derive(
        FIRST,
        {
            1: [
                _job("j1", "1", "test", "failure", 0, 10_000),
                _job("j2", "2", "lint", "success", 0, 5_000),
                {**retry, "id": "j3-listed"},  # a pipeline event listed the retry in round 1
            ],
            2: [retry],
        },
        {1: "a1", 2: "a2"},
    )
    assert rounds.deleted_job_ids == ["j3-listed"]
    assert rounds.first == {
        "status": "failure",
        "raw_status": RETRIED,
        "completed_at_ms": 10_000,
        "duration_seconds": 10.0,
        # Why round 1 failed: its status (derived from its jobs', as every round's).
        "failure_reason": "failure",
        "failure_class": "code",
    }
    assert rounds.attempts == [
        {
            **FIRST,
            "id": "a2",
            "attempt": 2,
            "status": "success",
            "raw_status": "success",
            "started_at_ms": 20_000,
            "completed_at_ms": 30_000,
            "duration_seconds": 10.0,
            "compute_seconds": None,
            "metrics": None,
            "failure_reason": None,
            "failure_class": None,
        }
    ]
