"""The rows of the lists: a repository or pipeline with its run figures.

The typed rows the lists of repositories and pipelines answer (the read API's lists, their
exports, the dashboard's Pipelines page and the overview's top lists). How they are named on
the wire is the web layer's business (``web/list_presenters.py``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cipulse.analytics.run_metrics import RunFigures
from cipulse.analytics.runner_metrics import QueueFigures

#: A stored row as the store returns it (``storage/list_store.py``).
StoredRow = Mapping[str, Any]
#: The fields of a listed row's figures: a sort by one reads the figures.
FIGURE_FIELDS = frozenset(RunFigures.__slots__)
QUEUE_FIELDS = frozenset(QueueFigures.__slots__)


@dataclass(frozen=True, slots=True)
class RepositoryRow:
    """A repository with the run figures of its attempts in the window."""

    id: str
    host: str
    full_name: str
    created_at_ms: int
    figures: RunFigures

    @classmethod
    def of(cls, row: StoredRow, figures: RunFigures) -> RepositoryRow:
        return cls(row["id"], row["host"], row["full_name"], row["created_at_ms"], figures)

    def sort_value(self, field: str) -> Any:
        """The value a sort by ``field`` orders by (None: this row has no such field)."""
        return self.figures.figure(field) if field in FIGURE_FIELDS else getattr(self, field, None)


@dataclass(frozen=True, slots=True)
class PipelineRow:
    """A pipeline, its repository, and the run figures of its attempts in the window."""

    id: str
    name: str
    pipeline_key: str
    repository_id: str
    repository: str
    repository_host: str
    created_at_ms: int
    figures: RunFigures
    #: Its jobs' waits (directly under the run: the runner rollup's), where read.
    queue: QueueFigures | None = None

    @classmethod
    def of(cls, row: StoredRow, figures: RunFigures) -> PipelineRow:
        return cls(
            id=row["id"],
            name=row["name"],
            pipeline_key=row["pipeline_key"],
            repository_id=row["repository_id"],
            repository=row["repository"],
            repository_host=row["repository_host"],
            created_at_ms=row["created_at_ms"],
            figures=figures,
        )

    def sort_value(self, field: str) -> Any:
        """The value a sort by ``field`` orders by (None: this row has no such field; a
        wait, when its waits were not read or none waited)."""
        if field in FIGURE_FIELDS:
            return self.figures.figure(field)
        if field in QUEUE_FIELDS:
            return None if self.queue is None else getattr(self.queue, field)
        return getattr(self, field, None)


@dataclass(frozen=True, slots=True)
class FailingPipeline:
    """A pipeline of the most failing: its failing runs out of its decided ones, the
    sample beside the figure."""

    row: PipelineRow
    failed_runs: int
    decided_runs: int


@dataclass(frozen=True, slots=True)
class FlakyPipeline:
    """A pipeline of the flakiest: ``flaky_of_runs``, the runs its flaky rate is over."""

    row: PipelineRow
    flaky_of_runs: int
