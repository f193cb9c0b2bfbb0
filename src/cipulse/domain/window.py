"""The question every analytics query answers: a window and filters.

The question every analytics query answers over: a time window and filters.

The window ``[since_ms, until_ms)`` applies to a run attempt's ``started_at``, in epoch
milliseconds. Filters narrow the attempts: repository, pipeline, team (the pipelines it
owns), branch, branch scope (the repository's default branch, or every other), provider,
status, actor, triggered_by, and (for Trunk data) any tag."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

DAY_MS = 86_400_000
HOUR_MS = 3_600_000
#: The branches that count as a repository's default branch when it names none.
FALLBACK_DEFAULT_BRANCHES = ("main", "master")
#: ``Filters.branch_scope``: attempts on their repository's default branch, or all others.
BRANCH_SCOPES = ("default", "other")


@dataclass(frozen=True, slots=True)
class Filters:
    repository: str | None = None  # full name, case-insensitive
    pipeline_id: str | None = None
    pipeline_name: str | None = None
    branch: str | None = None
    branch_scope: str | None = None  # one of BRANCH_SCOPES (see in_branch_scope)
    provider: str | None = None
    statuses: tuple[str, ...] = ()
    actor: str | None = None
    triggered_by: str | None = None
    tags: tuple[tuple[str, str], ...] = ()
    #: Job lists: the level of the jobs listed (``domain.compute.LEVELS``, or ``all``);
    #: None: the job level.
    job_level: str | None = None
    #: Job lists: part of the job's name, any case (None: every job).
    job_name: str | None = None
    #: The change (``domain/changes.py``): a commit SHA's start (lower case), a pull request
    #: number, part of the commit author's name and of the branch (any case), event kinds.
    commit: str | None = None
    pull_request: int | None = None
    author: str | None = None
    branch_contains: str | None = None
    event_kinds: tuple[str, ...] = ()
    #: The team whose pipelines are read (``domain/ownership.py``; ``unowned``: the
    #: pipelines no rule gives a team).
    team: str | None = None
    #: The pipelines of ``team``, resolved from the rules before a question is asked
    #: (``analytics/teams.scoped``); None: no team filter.
    team_pipelines: tuple[str, ...] | None = None
    #: Job lists under a team filter: every job rule as (pattern, team in lower case), in
    #: the order they apply, and the pipelines to read jobs of (None: ``team_pipelines``;
    #: all of them when the team's own job rules may claim jobs anywhere).
    team_job_rules: tuple[tuple[str, str], ...] = ()
    team_job_pipelines: tuple[str, ...] | None = None

    def owns_job(self, pipeline_id: str, job_name: str) -> bool:
        """Whether a job list under the team filter keeps this job: its team is its last
        matching job rule's, else its pipeline's (``domain/ownership.py``)."""
        if self.team is None or not self.team_job_rules:
            return True
        wanted = self.team.strip().lower()
        for pattern, team in reversed(self.team_job_rules):
            if fnmatch.fnmatchcase(job_name.lower(), pattern):
                return team == wanted
        return pipeline_id in (self.team_pipelines or ())

    @property
    def names_a_change(self) -> bool:
        """Whether a filter of the change is set (the rollups know nothing of changes)."""
        return bool(
            self.commit
            or self.pull_request is not None
            or self.author
            or self.branch_contains
            or self.event_kinds
        )


def on_default_branch(branch: str | None, default_branch: str | None) -> bool:
    """Whether an attempt on ``branch`` is on its repository's default branch: the one the
    repository names, or, when it names none (NULL or empty), main or master. An attempt
    without a branch is not."""
    if branch is None:
        return False
    if default_branch:
        return branch == default_branch
    return branch in FALLBACK_DEFAULT_BRANCHES


def in_branch_scope(branch: str | None, default_branch: str | None, scope: str | None) -> bool:
    """Whether an attempt on ``branch`` passes the branch scope (None: every branch)."""
    if scope is None:
        return True
    return on_default_branch(branch, default_branch) == (scope == "default")


@dataclass(frozen=True, slots=True)
class Window:
    """``[since_ms, until_ms)`` on ``started_at``, in epoch milliseconds, with filters."""

    since_ms: int
    until_ms: int
    filters: Filters = field(default_factory=Filters)

    @property
    def days(self) -> float:
        return (self.until_ms - self.since_ms) / DAY_MS

    def previous(self) -> Window:
        """The window of equal length just before this one, same filters; for a whole UTC
        calendar month (from its first day's 00:00 to the next month's), the month before
        (so November is compared with October, whatever their lengths)."""
        month = month_before(self.since_ms, self.until_ms)
        if month is not None:
            return replace(self, since_ms=month, until_ms=self.since_ms)
        length = self.until_ms - self.since_ms
        return replace(self, since_ms=self.since_ms - length, until_ms=self.since_ms)


def _month_start(year: int, month: int) -> int:
    """The first instant of a UTC calendar month, in epoch milliseconds (month 0: the
    December before, month 13: the January after)."""
    year, month = year + (month - 1) // 12, (month - 1) % 12 + 1
    return int(datetime(year, month, 1, tzinfo=UTC).timestamp() * 1000)


def month_before(since_ms: int, until_ms: int) -> int | None:
    """Where the calendar month before ``[since_ms, until_ms)`` starts, when that is a
    whole UTC calendar month; None otherwise."""
    start = datetime.fromtimestamp(since_ms / 1000, UTC)
    if since_ms != _month_start(start.year, start.month):
        return None
    if until_ms != _month_start(start.year, start.month + 1):
        return None
    return _month_start(start.year, start.month - 1)
