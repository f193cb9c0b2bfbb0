"""The per-pull-request figures recomputed from the stored attempts.

Whoever writes or deletes run attempts names them here, before and after, and the pull
requests they named (before: a re-post may move an attempt to another pull request, or a
purge delete it) get their row recomputed from every stored attempt of theirs, in the same
transaction: a row is deleted when no attempt is left. Never incremented, so the table always
equals a computation from the raw attempts (tests/test_pull_request_figures.py)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cipulse.domain.pull_requests import PullRequestFigures, PullRequestKey, figures_of
from cipulse.domain.write_plan import WritePlan
from cipulse.storage.dialect import bulk_delete, bulk_insert, column_names, upsert_clause
from cipulse.storage.pull_request_store import attempts_of
from cipulse.storage.schema import pull_request_figures as f
from cipulse.storage.schema import run_attempts as a

_KEY = ["org_id", "repository_id", "number"]
_COLUMNS = column_names(f)
_UPSERT = upsert_clause(f, _KEY, [c for c in _COLUMNS if c not in _KEY])
_CHUNK = 500


def keys_of_attempts(
    conn: Connection, org_id: str, attempt_ids: Iterable[str]
) -> set[PullRequestKey]:
    """The pull requests the stored attempts among ``attempt_ids`` name."""
    ordered = sorted(set(attempt_ids))
    found: set[PullRequestKey] = set()
    for start in range(0, len(ordered), _CHUNK):
        query = sa.select(a.c.repository_id, a.c.pull_request_number).where(
            a.c.org_id == org_id,
            a.c.id.in_(ordered[start : start + _CHUNK]),
            a.c.pull_request_number.is_not(None),
        )
        found.update(PullRequestKey(str(row[0]), int(row[1])) for row in conn.execute(query))
    return found


def row_of(org_id: str, figures: PullRequestFigures) -> tuple[object, ...]:
    """The table row of a pull request's figures, in the table's column order."""
    values: dict[str, object] = {
        "org_id": org_id,
        "repository_id": figures.key.repository_id,
        "number": figures.key.number,
        "title": figures.title,
        "url": figures.url,
        "source_branch": figures.source_branch,
        "target_branch": figures.target_branch,
        "authors": orjson.dumps(list(figures.authors)).decode(),
        "commits": figures.commits,
        "head_commit_sha": figures.head_commit_sha,
        "first_run_at_ms": figures.first_run_at_ms,
        "last_run_at_ms": figures.last_run_at_ms,
        "runs": figures.runs,
        "attempts": figures.attempts,
        "reruns": figures.reruns,
        "ci_seconds": figures.ci_seconds,
        "compute_seconds": figures.compute_seconds,
        "time_to_green_head_seconds": figures.time_to_green_head_seconds,
        "time_to_green_seconds": figures.time_to_green_seconds,
    }
    return tuple(values[column] for column in _COLUMNS)


def recompute(conn: Connection, org_id: str, keys: Iterable[PullRequestKey]) -> None:
    """Each pull request's row from its stored attempts; deleted when it has none."""
    ordered: Sequence[PullRequestKey] = sorted(set(keys))
    if not ordered:
        return
    found = attempts_of(conn, org_id, ordered)
    kept = [row_of(org_id, figures_of(key, found[key])) for key in ordered if found[key]]
    gone = [(org_id, key.repository_id, key.number) for key in ordered if not found[key]]
    bulk_delete(conn, f, _KEY, gone)
    bulk_insert(conn, f, kept, _UPSERT)


def recompute_organisation(conn: Connection, org_id: str) -> int:
    """Every pull request row of the organisation from scratch (the migration's backfill,
    and a check in tests); returns how many pull requests it holds."""
    conn.execute(sa.delete(f).where(f.c.org_id == org_id))
    query = (
        sa.select(a.c.repository_id, a.c.pull_request_number)
        .where(a.c.org_id == org_id, a.c.pull_request_number.is_not(None))
        .distinct()
    )
    keys = [PullRequestKey(str(row[0]), int(row[1])) for row in conn.execute(query)]
    for start in range(0, len(keys), _CHUNK):
        recompute(conn, org_id, keys[start : start + _CHUNK])
    return len(keys)


Touched = dict[str, set[PullRequestKey]]


def _add(touched: Touched, org_id: str, keys: Iterable[PullRequestKey]) -> None:
    touched.setdefault(org_id, set()).update(keys)


def touched_before(conn: Connection, plan: WritePlan) -> Touched:
    """Read before a plan is stored: the pull requests its stored attempts name now (a
    re-post may name another one, or none)."""
    by_org: dict[str, set[str]] = {}
    for attempt_id, row in plan.updated_attempts.items():
        by_org.setdefault(str(row["org_id"]), set()).add(attempt_id)
    for org_id, attempt_id in plan.compute_from_jobs:
        by_org.setdefault(org_id, set()).add(attempt_id)
    touched: Touched = {}
    for org_id, attempt_ids in by_org.items():
        _add(touched, org_id, keys_of_attempts(conn, org_id, attempt_ids))
    return touched


def store_touched(
    conn: Connection, plan: WritePlan, before: Touched, derived: dict[str, set[str]]
) -> None:
    """After a plan is stored: recompute the pull requests its attempts named before and
    name now, and those of the attempts retry rounds (``derived``) wrote."""
    touched: Touched = {org_id: set(keys) for org_id, keys in before.items()}
    for row in (*plan.new_attempts.values(), *plan.updated_attempts.values()):
        number = row.get("pull_request_number")
        if number is not None:
            _add(touched, str(row["org_id"]), [PullRequestKey(str(row["repository_id"]), number)])
    for org_id, attempt_ids in derived.items():
        _add(touched, org_id, keys_of_attempts(conn, org_id, attempt_ids))
    for org_id in sorted(touched):
        recompute(conn, org_id, touched[org_id])
