"""GitLab retry rounds stored as attempts, in the same transaction.

Stores the retry rounds of runs whose attempts are rounds of job retries (GitLab): reads
each run's attempts and jobs, derives the rounds (pure: ``domain/retry_rounds.py``) and writes
them, inside the ingest transaction that changed the run (whose lock it holds). The ingest
service calls it as a step of its own (``derive_runs``), after the plan's rows are stored."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cipulse.domain import ids, retry_rounds
from cipulse.domain.window import DAY_MS
from cipulse.storage.schema import jobs, run_attempts

_JOB_COLUMNS = (
    jobs.c.id,
    jobs.c.attempt_id,
    jobs.c.external_id,
    jobs.c.definition_key,
    jobs.c.parent_node_key,
    jobs.c.status,
    jobs.c.tags,
    jobs.c.started_at_ms,
    jobs.c.completed_at_ms,
    jobs.c.duration_seconds,
)


@dataclass(slots=True)
class Derived:
    """The attempts written (by organisation: their compute follows) and the rollup
    partitions (org id, pipeline id, day) they were and are in."""

    attempt_ids: dict[str, set[str]] = field(default_factory=dict)
    partitions: set[tuple[str, str, int]] = field(default_factory=set)
    #: How many attempts were created, by organisation (usage counts them).
    created: dict[str, int] = field(default_factory=dict)


def derive_runs(
    conn: Connection, runs: Mapping[tuple[str, str, str], bool], now_ms: int
) -> Derived:
    """Derive the rounds of the runs (org id, repository id, run key) that have any: whose
    batch brought jobs past round 1 (the flag), or that have a job or an attempt of round 2
    stored (most runs have none: one query finds those that do)."""
    derived = Derived()
    by_org: dict[str, dict[tuple[str, str], bool]] = defaultdict(dict)
    for (org_id, repository_id, run_key), later in runs.items():
        by_org[org_id][(repository_id, run_key)] = later
    for org_id, org_runs in sorted(by_org.items()):
        known = {run for run, later in org_runs.items() if later}
        unknown = [run for run, later in org_runs.items() if not later]
        for repository_id, run_key in sorted(known | _with_retries(conn, org_id, unknown)):
            _derive_run(conn, org_id, repository_id, run_key, now_ms, derived)
    return derived


def _with_retries(
    conn: Connection, org_id: str, runs: list[tuple[str, str]]
) -> set[tuple[str, str]]:
    """The runs with a job or an attempt of round 2 stored."""
    second = {
        ids.chain_attempt_id(repository_id, run_key, 2): (repository_id, run_key)
        for repository_id, run_key in runs
    }
    found: set[tuple[str, str]] = set()
    candidates = sorted(second)
    for start in range(0, len(candidates), 500):
        chunk = candidates[start : start + 500]
        for table, column in ((jobs, jobs.c.attempt_id), (run_attempts, run_attempts.c.id)):
            query = sa.select(column).where(table.c.org_id == org_id, column.in_(chunk)).distinct()
            found.update(second[str(attempt_id)] for attempt_id in conn.execute(query).scalars())
    return found


class _StoredRun(NamedTuple):
    """What is stored of one run's rounds: the attempt id of each round, the stored attempt
    rows by id, and the stored jobs by round."""

    attempt_ids: dict[int, str]
    attempts: dict[str, dict[str, Any]]
    jobs_by_round: dict[int, list[dict[str, object]]]


def _derive_run(
    conn: Connection,
    org_id: str,
    repository_id: str,
    run_key: str,
    now_ms: int,
    derived: Derived,
) -> None:
    """Read the run, derive its rounds (pure: ``retry_rounds.derive``), write them."""
    stored = _read_run(conn, org_id, repository_id, run_key)
    first = stored.attempts.get(stored.attempt_ids[1])
    if first is None:  # the pipeline's own event has not come yet
        return
    rounds = retry_rounds.derive(first, stored.jobs_by_round, stored.attempt_ids)
    _write_rounds(conn, org_id, stored, rounds, now_ms, derived)
    _mark(derived, org_id, first)


def _read_run(conn: Connection, org_id: str, repository_id: str, run_key: str) -> _StoredRun:
    attempt_ids = {
        number: ids.chain_attempt_id(repository_id, run_key, number)
        for number in range(1, retry_rounds.MAX_ROUNDS + 1)
    }
    round_of = {attempt_id: number for number, attempt_id in attempt_ids.items()}
    stored = {
        row["id"]: dict(row)
        for row in conn.execute(
            sa.select(run_attempts).where(
                run_attempts.c.org_id == org_id,
                run_attempts.c.id.in_(list(attempt_ids.values())),
            )
        ).mappings()
    }
    jobs_by_round: dict[int, list[dict[str, object]]] = defaultdict(list)
    if attempt_ids[1] in stored:  # else nothing is derived: the jobs are not read
        for row in conn.execute(
            sa.select(*_JOB_COLUMNS).where(
                jobs.c.org_id == org_id, jobs.c.attempt_id.in_(list(attempt_ids.values()))
            )
        ).mappings():
            jobs_by_round[round_of[row["attempt_id"]]].append(dict(row))
    return _StoredRun(attempt_ids, stored, jobs_by_round)


def _write_rounds(
    conn: Connection,
    org_id: str,
    stored: _StoredRun,
    rounds: retry_rounds.Rounds,
    now_ms: int,
    derived: Derived,
) -> None:
    first_id = stored.attempt_ids[1]
    if rounds.deleted_job_ids:
        conn.execute(
            sa.delete(jobs).where(
                jobs.c.org_id == org_id,
                jobs.c.attempt_id == first_id,
                jobs.c.id.in_(rounds.deleted_job_ids),
            )
        )
    written = {first_id}
    if rounds.first is not None:
        conn.execute(
            sa.update(run_attempts)
            .where(run_attempts.c.org_id == org_id, run_attempts.c.id == first_id)
            .values(**rounds.first, updated_at_ms=now_ms)
        )
    for attempt in rounds.attempts:
        before = stored.attempts.get(attempt["id"])
        if before is not None:
            _mark(derived, org_id, before)
            conn.execute(
                sa.delete(run_attempts).where(
                    run_attempts.c.org_id == org_id, run_attempts.c.id == attempt["id"]
                )
            )
        if before is None:
            derived.created[org_id] = derived.created.get(org_id, 0) + 1
        attempt["received_at_ms"] = before["received_at_ms"] if before else now_ms
        attempt["updated_at_ms"] = now_ms
        conn.execute(sa.insert(run_attempts).values(**attempt))
        written.add(attempt["id"])
        _mark(derived, org_id, attempt)
    derived.attempt_ids.setdefault(org_id, set()).update(written)


def _mark(derived: Derived, org_id: str, row: dict[str, object]) -> None:
    started = row["started_at_ms"]
    if isinstance(started, int):
        derived.partitions.add((org_id, str(row["pipeline_id"]), started // DAY_MS))
