"""The pull requests question: each one's CI time and time to green.

The pull requests with a run in a window, each with its figures over every stored attempt of
it (``domain/pull_requests.py``); one pull request with its commits and its runs newest first;
the organisation's figures over a window's pull requests (p50 and p90), compared like with like
with the window before (``analytics/comparison.py``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Connection

from cipulse.analytics.comparison import Change, change_of, compared_previous
from cipulse.analytics.paging import (
    Page,
    PageRequest,
    check_limit,
    check_sort,
    cursor_after,
    keyset_page,
    keyset_position,
    page_range,
)
from cipulse.analytics.questions.costs import PullRequestCost, pull_request_cost
from cipulse.analytics.questions.run_answers import Attempt
from cipulse.analytics.run_metrics import nearest_rank
from cipulse.domain.accepted import canonical_uuid
from cipulse.domain.pull_requests import PullRequestFigures, PullRequestKey, figures_of
from cipulse.domain.window import Window
from cipulse.errors import InvalidRequest, NotFound
from cipulse.storage import list_store
from cipulse.storage import pull_request_store as store
from cipulse.storage.database import Database
from cipulse.storage.pull_request_store import StoredCommit

#: What the pull requests list sorts by (default: the latest run first).
PULL_REQUEST_SORTS = (
    "last_run_at",
    "first_run_at",
    "number",
    "runs",
    "attempts",
    "reruns",
    "ci_seconds",
    "compute_seconds",
    "time_to_green_head_seconds",
    "time_to_green_seconds",
)
DEFAULT_SORT = "-last_run_at"
#: The organisation's figures: per-pull-request figures summarised at these percentiles.
SUMMARISED = (
    "ci_seconds",
    "compute_seconds",
    "time_to_green_head_seconds",
    "time_to_green_seconds",
)
PERCENTILES = (50, 90)


@dataclass(frozen=True, slots=True)
class PullRequestRow:
    """A pull request's figures with its repository's name and host."""

    figures: PullRequestFigures
    repository: str
    repository_host: str

    def sort_value(self, field: str) -> object:
        return self.figures.sort_value(field)


@dataclass(frozen=True, slots=True)
class PullRequestDetail:
    row: PullRequestRow
    commits: list[StoredCommit]
    runs: Page[Attempt]
    #: Its cost over every attempt, at the organisation's rates (raw, bounded).
    cost: PullRequestCost | None = None


@dataclass(frozen=True, slots=True)
class PullRequestSummary:
    """``figures``: per summarised figure and percentile (``ci_seconds_p50``…), its value
    over the window's pull requests (null: none has it), then the compared window's."""

    pull_requests: int
    figures: dict[str, float | None]
    previous_pull_requests: int
    previous: dict[str, float | None]
    changes: dict[str, Change]
    compared_since_ms: int
    compared_until_ms: int


def _rows(conn: Connection, org_id: str, keys: Sequence[PullRequestKey]) -> list[PullRequestRow]:
    names = _repositories(conn, org_id)
    attempts = store.attempts_of(conn, org_id, keys)
    rows = [
        PullRequestRow(
            figures_of(key, found),
            names[key.repository_id]["full_name"],
            names[key.repository_id]["host"],
        )
        for key, found in attempts.items()
        if found and key.repository_id in names
    ]
    return sorted(rows, key=lambda row: (row.repository, row.repository_host, row.figures.key))


def _stored(row: dict[str, Any], names: dict[str, dict[str, Any]]) -> PullRequestRow:
    """A window's pull request as ``pull_request_figures`` keeps it, with its repository's
    name and host (``names``, by id)."""
    fields = [name for name in PullRequestFigures.__slots__ if name not in ("key", "authors")]
    figures = PullRequestFigures(
        key=PullRequestKey(str(row["repository_id"]), int(row["number"])),
        authors=tuple(row["authors"] or ()),
        **{name: row[name] for name in fields},
    )
    repository = names.get(str(row["repository_id"]), {})
    return PullRequestRow(figures, repository.get("full_name", ""), repository.get("host", ""))


def _repositories(conn: Connection, org_id: str) -> dict[str, dict[str, Any]]:
    return {str(r["id"]): r for r in list_store.repository_rows(conn, org_id)}


def pull_requests(
    database: Database, org_id: str, window: Window, page: PageRequest
) -> Page[PullRequestRow]:
    """A page of the window's pull requests in ``page.sort`` order (default: latest run
    first), figures null last either way."""
    check_sort(page.sort, PULL_REQUEST_SORTS)
    start, end = page_range(page)
    with database.read() as conn:
        found = store.window_rows(
            conn, org_id, window, page.sort or DEFAULT_SORT, start, page.limit + 1
        )
        names = _repositories(conn, org_id)
    more = len(found) > page.limit
    rows = [_stored(row, names) for row in found[: page.limit]]
    return Page(rows, cursor_after(end, end + more))


def every_pull_request(
    database: Database, org_id: str, window: Window, sort: str | None
) -> list[PullRequestRow]:
    """The whole list in ``sort`` order (a CSV asked without limit nor cursor)."""
    check_sort(sort, PULL_REQUEST_SORTS)
    with database.read() as conn:
        found = store.window_rows(conn, org_id, window, sort or DEFAULT_SORT, 0, None)
        names = _repositories(conn, org_id)
    return [_stored(row, names) for row in found]


def parse_key(repository_id: str, number: str) -> PullRequestKey:
    """A pull request's key from its path, a 400 naming each field that is wrong."""
    problems = []
    repository = canonical_uuid(repository_id)
    if repository is None:
        problems.append("repository_id: must be a repository id (a UUID)")
    text = number.strip().lstrip("#!")
    if not text.isdigit() or not 1 <= int(text) < 2**63:
        problems.append("number: must be a pull request number (a whole number from 1)")
    if problems or repository is None:
        raise InvalidRequest("; ".join(problems))
    return PullRequestKey(repository, int(text))


def pull_request(
    database: Database, org_id: str, key: PullRequestKey, limit: int, cursor: str | None
) -> PullRequestDetail:
    """One pull request: its figures, commits and a page of its runs, newest first."""
    check_limit(limit)
    after = keyset_position(cursor)
    with database.read() as conn:
        rows = _rows(conn, org_id, [key])
        if not rows:
            raise NotFound(
                f"number: no pull request {key.number} in repository {key.repository_id}"
            )
        commits = store.commits_of(conn, org_id, key)
        runs = store.runs_page(conn, org_id, key, limit + 1, after)
        cost = pull_request_cost(conn, org_id, key)
    return PullRequestDetail(rows[0], commits, keyset_page(runs, limit, Attempt.of), cost)


def _percentiles(rows: Sequence[tuple[Any, ...]]) -> dict[str, float | None]:
    """Each summarised figure's percentiles over the rows (one value per figure, in
    ``SUMMARISED`` order) that know it."""
    found: dict[str, float | None] = {}
    for index, name in enumerate(SUMMARISED):
        values = sorted(row[index] for row in rows if row[index] is not None)
        for percentile in PERCENTILES:
            found[f"{name}_p{percentile}"] = nearest_rank(values, percentile)
    return found


def summary(database: Database, org_id: str, window: Window, now_ms: int) -> PullRequestSummary:
    """The window's pull-request figures and those of the window before, like with like."""
    earlier = compared_previous(window, now_ms)
    with database.read() as conn:
        current = store.window_figures(conn, org_id, window, SUMMARISED)
        before = store.window_figures(conn, org_id, earlier, SUMMARISED)
    figures, previous = _percentiles(current), _percentiles(before)
    return PullRequestSummary(
        pull_requests=len(current),
        figures=figures,
        previous_pull_requests=len(before),
        previous=previous,
        changes={
            name: change_of(name, figures[name], previous[name], len(before)) for name in figures
        },
        compared_since_ms=earlier.since_ms,
        compared_until_ms=earlier.until_ms,
    )
