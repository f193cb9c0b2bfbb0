"""Pull requests in run attempts: those of a window, and their attempts.

A window's pull requests, a page at a time, and their figures (read from
``pull_request_figures``); every stored attempt of given pull requests (by the index on the
number), a pull request's commits and runs. Every query is scoped to one organisation."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cipulse.domain.pull_requests import PullRequestAttempt, PullRequestKey
from cipulse.domain.window import Filters, Window
from cipulse.storage.attempt_filters import a, filtered, p, plain_row, r
from cipulse.storage.schema import pull_request_figures as f


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


#: The sort fields of the list and their columns (``number`` and the instants differ).
_SORTED = {
    "number": f.c.number,
    "first_run_at": f.c.first_run_at_ms,
    "last_run_at": f.c.last_run_at_ms,
}


def _in_window(org_id: str, window: Window) -> list[sa.ColumnElement[bool]]:
    """A window's pull requests: their runs span reaches into it (first run before its end,
    last at or after its start) and, when the window has filters (``repository`` aside), an
    attempt that started in it passes them."""
    conditions = [
        f.c.org_id == org_id,
        f.c.last_run_at_ms >= window.since_ms,
        f.c.first_run_at_ms < window.until_ms,
    ]
    if window.filters.repository is not None:
        named = sa.select(r.c.id).where(
            r.c.org_id == org_id, sa.func.lower(r.c.full_name) == window.filters.repository.lower()
        )
        conditions.append(f.c.repository_id.in_(named))
    rest = replace(window.filters, repository=None)
    if rest != Filters():
        # The filtered attempts of the window, read once (a pipeline's by its index on start).
        attempts = filtered(
            sa.select(a.c.repository_id, a.c.pull_request_number).where(
                a.c.pull_request_number.is_not(None),
                a.c.started_at_ms >= window.since_ms,
                a.c.started_at_ms < window.until_ms,
            ),
            org_id,
            rest,
        )
        conditions.append(sa.tuple_(f.c.repository_id, f.c.number).in_(attempts))
    return conditions


def _ordering(sort: str) -> list[sa.ColumnElement[Any]]:
    """``sort`` as SQL: unknown values last either way, ties by repository id and number.
    The latest run first (the default) walks the index on the last run, newest first: a
    window's pull requests all have a last run."""
    field = sort.removeprefix("-")
    descending = sort.startswith("-")
    column = _SORTED[field] if field in _SORTED else f.c[field]
    if field == "last_run_at":
        tied = (column, f.c.repository_id, f.c.number)
        return [c.desc() if descending else c.asc() for c in tied]
    return [
        column.is_(None),
        column.desc() if descending else column.asc(),
        f.c.repository_id,
        f.c.number,
    ]


def window_rows(
    conn: Connection, org_id: str, window: Window, sort: str, offset: int, limit: int | None
) -> list[dict[str, Any]]:
    """The window's pull requests (their ``pull_request_figures`` rows) in ``sort`` order;
    ``limit`` rows from ``offset`` (None: all)."""
    query = (
        sa.select(f)
        .where(*_in_window(org_id, window))
        .order_by(*_ordering(sort))
        .offset(offset)
        .limit(limit)
    )
    return [plain_row(row) for row in conn.execute(query)]


def window_figures(
    conn: Connection, org_id: str, window: Window, names: Sequence[str]
) -> list[tuple[Any, ...]]:
    """The figures ``names`` of each of the window's pull requests."""
    query = sa.select(*(f.c[name] for name in names)).where(*_in_window(org_id, window))
    return [tuple(row) for row in conn.execute(query)]


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
