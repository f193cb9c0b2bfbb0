"""The question every analytics query answers over: a time window and filters.

The window ``[since_ms, until_ms)`` applies to a run attempt's ``started_at``, in epoch
milliseconds. Filters narrow the attempts: repository, pipeline, branch, provider, status,
actor, triggered_by, and (for Trunk data) any tag."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

DAY_MS = 86_400_000


@dataclass(frozen=True, slots=True)
class Filters:
    repository: str | None = None  # full name, case-insensitive
    pipeline_id: str | None = None
    pipeline_name: str | None = None
    branch: str | None = None
    provider: str | None = None
    statuses: tuple[str, ...] = ()
    actor: str | None = None
    triggered_by: str | None = None
    tags: tuple[tuple[str, str], ...] = ()


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
        """The window of equal length just before this one, same filters."""
        length = self.until_ms - self.since_ms
        return replace(self, since_ms=self.since_ms - length, until_ms=self.since_ms)
