"""GitLab retries as run attempts.

GitLab retries a job, not a pipeline: a retry is a new job (a new id) in the same pipeline,
and its event says how many tries came before it (``retries_count``). cipulse counts *retry
rounds* as the run's attempts: the first tries of a pipeline's jobs are attempt 1, their
first retries attempt 2, and so on. An attempt's status is the pipeline's as it stood after
that round: every job at its latest try up to the round, decided the way GitLab decides a
pipeline's status (a failed job that may fail does not fail it); its raw status is
``retried``, the last round's its status. A pipeline that went green
after a job was retried is thus a run with a failing attempt and a successful one: a flaky
run, and the retried job a flaky job.

Pure: the writer hands over the stored rows of one run and stores what comes back. The
result depends on the rows only, never on the order events arrived in. A pipeline nobody
retried keeps the status its own event gives."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cipulse.domain.failure_reasons import failure_class_text, failure_reason
from cipulse.domain.status import Status

#: Rounds beyond this are not looked for (GitLab retries automatically at most twice).
MAX_ROUNDS = 20

_FAILING = {Status.FAILURE.value, Status.TIMED_OUT.value}
_UNFINISHED = {Status.QUEUED.value, Status.PENDING.value, Status.RUNNING.value}

Row = dict[str, Any]
#: The raw status of an attempt whose jobs were retried in a later round.
RETRIED = "retried"


@dataclass(slots=True)
class Rounds:
    """What the writer stores for one run: the attempt rows of rounds 2 and later (new or
    replacing the stored ones), attempt 1's new status and times (None: as its event said),
    and the ids of jobs to delete (a retry a pipeline event listed under attempt 1 before its
    own event put it in its round)."""

    attempts: list[Row] = field(default_factory=list)
    first: Row | None = None
    deleted_job_ids: list[str] = field(default_factory=list)


def pipeline_status(jobs: Iterable[tuple[str, bool]], *, finished_only: bool = False) -> Status:
    """A GitLab pipeline's status from each job's latest try, as (status, allowed to fail):
    failure if a job that must not fail failed or timed out; else running while a job is not
    finished (unless ``finished_only``: a pipeline still running, judged on its finished
    jobs); else cancelled if one was; else success. Skipped jobs do not count. The webhook
    receiver and ``cipulse report gitlab`` both decide retry rounds by it."""
    jobs = list(jobs)
    if any(status in _FAILING and not allowed for status, allowed in jobs):
        return Status.FAILURE
    if not finished_only and any(status in _UNFINISHED for status, _ in jobs):
        return Status.RUNNING
    if any(status == Status.CANCELLED for status, _ in jobs):
        return Status.CANCELLED
    return Status.SUCCESS


def _status_after(jobs: Sequence[Row]) -> str:
    """``pipeline_status`` of stored job rows (``allow_failure`` is a tag)."""
    return pipeline_status(
        (job["status"], bool((job.get("tags") or {}).get("allow_failure"))) for job in jobs
    ).value


def _latest_tries(jobs_by_round: Mapping[int, Sequence[Row]], up_to: int) -> list[Row]:
    latest: dict[str, Row] = {}
    for number in sorted(n for n in jobs_by_round if n <= up_to):
        for job in jobs_by_round[number]:
            if job["parent_node_key"] is None:
                latest[job["definition_key"]] = job
    return list(latest.values())


def _span(jobs: Sequence[Row]) -> tuple[int | None, int | None]:
    starts = [job["started_at_ms"] for job in jobs if job["started_at_ms"] is not None]
    ends = [job["completed_at_ms"] for job in jobs if job["completed_at_ms"] is not None]
    return (min(starts) if starts else None, max(ends) if ends else None)


def _seconds(start: int | None, end: int | None) -> float | None:
    return None if start is None or end is None or end < start else (end - start) / 1000


def derive(
    first: Row, jobs_by_round: Mapping[int, Sequence[Row]], attempt_ids: Mapping[int, str]
) -> Rounds:
    """The rounds of the run whose attempt 1 is ``first`` (its stored row) and whose jobs,
    by round, are ``jobs_by_round`` (round 1 may hold retries a pipeline event listed;
    their own events put them in their round). ``attempt_ids`` names each round's id."""
    firsts, deleted = _first_round(jobs_by_round)
    rounds = Rounds(deleted_job_ids=deleted)
    last = max((n for n, jobs in jobs_by_round.items() if jobs), default=1)
    if last == 1:
        return rounds
    by_round = {**jobs_by_round, 1: firsts}
    rounds.first = _first_attempt(first, by_round)
    rounds.first.update(_failure_of(rounds.first["status"]))
    previous_end = rounds.first["completed_at_ms"] or first["started_at_ms"]
    for number in range(2, last + 1):
        attempt = _later_attempt(first, by_round, number, attempt_ids[number], previous_end)
        attempt["raw_status"] = attempt["status"] if number == last else RETRIED
        attempt.update(_failure_of(attempt["status"]))
        rounds.attempts.append(attempt)
        previous_end = attempt["completed_at_ms"] or attempt["started_at_ms"]
    return rounds


def _failure_of(status: str) -> Row:
    """Why a round did not succeed: its status (GitLab states no reason for a pipeline; a
    round's status is derived from its jobs', so the pipeline's own would not fit)."""
    reason = failure_reason(Status(status), None, status)
    return {"failure_reason": reason, "failure_class": failure_class_text(reason)}


def _first_round(jobs_by_round: Mapping[int, Sequence[Row]]) -> tuple[list[Row], list[str]]:
    """Round 1's jobs without the retries a pipeline event listed there, and the ids of
    those retries (their own events put them in their round)."""
    retried = {
        job["external_id"]
        for number, jobs in jobs_by_round.items()
        if number > 1
        for job in jobs
        if job["external_id"] is not None
    }
    round_one = jobs_by_round.get(1, ())
    firsts = [job for job in round_one if job["external_id"] not in retried]
    return firsts, [job["id"] for job in round_one if job["external_id"] in retried]


def _first_attempt(first: Row, by_round: Mapping[int, Sequence[Row]]) -> Row:
    """Attempt 1's new status and times, once a later round exists: retried, ending when
    its own jobs last ended (unless it is unfinished)."""
    _, end = _span([job for job in by_round[1] if job["parent_node_key"] is None])
    status = _status_after(_latest_tries(by_round, 1))
    end = end if status not in _UNFINISHED else None
    return {
        "status": status,
        "raw_status": RETRIED,
        "completed_at_ms": end,
        "duration_seconds": _seconds(first["started_at_ms"], end),
    }


def _later_attempt(
    first: Row,
    by_round: Mapping[int, Sequence[Row]],
    number: int,
    attempt_id: str,
    previous_end: int | None,
) -> Row:
    """Round ``number``'s attempt row (a copy of attempt 1's with its own status and times;
    its start, where its tries have none, where the round before ended)."""
    own = [job for job in by_round.get(number, ()) if job["parent_node_key"] is None]
    status = _status_after(_latest_tries(by_round, number))
    start, end = _span(own)
    start = start if start is not None else previous_end
    end = end if status not in _UNFINISHED else None
    return {
        **first,
        "id": attempt_id,
        "attempt": number,
        "status": status,
        "raw_status": RETRIED,
        "started_at_ms": start,
        "completed_at_ms": end,
        "duration_seconds": _seconds(start, end),
        "compute_seconds": None,  # the writer sums it from the stored jobs
        "metrics": None,
    }
