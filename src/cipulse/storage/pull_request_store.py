"""Pull requests in run attempts: those of a window, and their attempts.

The pull requests with an attempt in a window (read from the partial index on start and pull
request), and every stored attempt of given pull requests (read by the index on the number).
Every query is scoped to one organisation."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cipulse.domain.pull_requests import PullRequestAttempt, PullRequestKey
from cipulse.domain.window import Window
from cipulse.storage.attempt_filters import a, filtered, p, plain_row, r


class StoredCommit(NamedTuple):
    sha: str
    message: str | None
    author: str | None
    first_run_at_ms: int | None


#: Pull request numbers asked for in one statement.
_CHUNK = 500
_COLUMNS = (
    a.c.repository_id,
    a.c.pull_request_number,
    *(getattr(a.c, name) for name in PullRequestAttempt._fields),
)


def keys_in_window(conn: Connection, org_id: str, window: Window) -> list[PullRequestKey]:
    """The pull requests with an attempt that started in the window and passes its filters."""
    query = filtered(
        sa.select(a.c.repository_id, a.c.pull_request_number)
        .where(
            a.c.pull_request_number.is_not(None),
            a.c.started_at_ms >= window.since_ms,
            a.c.started_at_ms < window.until_ms,
        )
        .distinct(),
        org_id,
        window.filters,
    )
    return [PullRequestKey(str(row[0]), int(row[1])) for row in conn.execute(query)]


def attempts_of(
    conn: Connection, org_id: str, keys: Sequence[PullRequestKey]
) -> dict[PullRequestKey, list[PullRequestAttempt]]:
    """Every stored attempt of each pull request in ``keys`` (each list possibly empty)."""
    found: dict[PullRequestKey, list[PullRequestAttempt]] = {key: [] for key in keys}
    numbers = sorted({key.number for key in keys})
    for start in range(0, len(numbers), _CHUNK):
        query = sa.select(*_COLUMNS).where(
            a.c.org_id == org_id,
            a.c.pull_request_number.in_(numbers[start : start + _CHUNK]),
        )
        if len({key.repository_id for key in keys}) == 1:
            query = query.where(a.c.repository_id == keys[0].repository_id)
        for row in conn.execute(query):
            attempts = found.get(PullRequestKey(str(row[0]), int(row[1])))
            if attempts is not None:
                attempts.append(PullRequestAttempt(*row[2:]))
    return found


def commits_of(conn: Connection, org_id: str, key: PullRequestKey) -> list[StoredCommit]:
    """Each commit of the pull request's attempts, the first run first: its SHA, message's
    first line and author (as one of its attempts gives them) and its first attempt's start."""
    query = (
        sa.select(
            a.c.commit_sha,
            sa.func.max(a.c.commit_message),
            sa.func.max(a.c.commit_author),
            sa.func.min(a.c.started_at_ms),
        )
        .where(
            a.c.org_id == org_id,
            a.c.pull_request_number == key.number,
            a.c.repository_id == key.repository_id,
            a.c.commit_sha.is_not(None),
        )
        .group_by(a.c.commit_sha)
        .order_by(sa.func.min(a.c.started_at_ms), a.c.commit_sha)
    )
    return [StoredCommit(str(row[0]), row[1], row[2], row[3]) for row in conn.execute(query)]


def runs_page(
    conn: Connection, org_id: str, key: PullRequestKey, limit: int, after: tuple[int, str] | None
) -> list[dict[str, Any]]:
    """The pull request's attempts newest first (by start, then id), after the cursor."""
    query = (
        sa.select(
            a,
            p.c.name.label("pipeline_name"),
            r.c.host.label("repository_host"),
            r.c.full_name.label("repository"),
        )
        .select_from(
            a.join(p, sa.and_(p.c.org_id == a.c.org_id, p.c.id == a.c.pipeline_id)).join(
                r, sa.and_(r.c.org_id == a.c.org_id, r.c.id == a.c.repository_id)
            )
        )
        .where(
            a.c.org_id == org_id,
            a.c.pull_request_number == key.number,
            a.c.repository_id == key.repository_id,
            a.c.started_at_ms.is_not(None),
        )
        .order_by(a.c.started_at_ms.desc(), a.c.id.desc())
        .limit(limit)
    )
    if after is not None:
        started, attempt_id = after
        query = query.where(
            sa.or_(
                a.c.started_at_ms < started,
                sa.and_(a.c.started_at_ms == started, a.c.id < attempt_id),
            )
        )
    return [plain_row(row) for row in conn.execute(query)]
