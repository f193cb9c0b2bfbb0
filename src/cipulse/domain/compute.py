"""A run's compute when its source gives none, and the job levels.

What a run attempt's compute is when its source gives none (Trunk events, GitHub and
GitLab webhooks): the sum of the durations of its jobs, at the job level.

The job level is the nodes directly under the run: those without a parent, whose parent is
the run's own node, or whose parent is not among the attempt's nodes. Stages and steps nested
inside a job run within its time and are not added again (a stage of 4.5 d holding a step of
4.5 d is 4.5 d of compute, not 9). So the sum of the job-level nodes' total time over a
window is the compute of the attempts whose compute is derived this way."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

#: The wire formats whose runs carry no compute of their own (every one but RunWatch).
DERIVED_FORMATS = frozenset({"trunk", "github", "gitlab"})


@dataclass(frozen=True, slots=True)
class Node:
    node_key: str
    parent_node_key: str | None
    duration_seconds: float | None


def job_level(nodes: Sequence[Node]) -> list[Node]:
    """The nodes directly under the run (see the module's docstring); the run's own node is
    never among an attempt's nodes, so a node under it has a parent not among them."""
    keys = {node.node_key for node in nodes}
    return [node for node in nodes if node.parent_node_key not in keys]


def derived_compute(nodes: Iterable[Node]) -> float | None:
    """The sum of the job-level nodes' durations (unknown durations add 0); None when no
    job-level node has a duration (compute unknown, not zero)."""
    durations = [
        node.duration_seconds
        for node in job_level(list(nodes))
        if node.duration_seconds is not None
    ]
    return sum(durations) if durations else None


#: The levels of a node, outermost first: a job (directly under the run, whatever its source
#: calls it), a stage nested in one, a step nested in one (any other nested kind).
LEVELS = ("job", "stage", "step")


def level_of(kind: str | None, nested: bool) -> str:
    """A node's level: ``job`` at the job level, else ``stage`` for a nested stage, else
    ``step``."""
    if not nested:
        return "job"
    return "stage" if kind == "stage" else "step"


def outer_level(one: str | None, other: str | None) -> str | None:
    """The outer of two levels of one job (a definition seen at the job level in some runs
    and nested in others is listed at the job level)."""
    if one is None:
        return other
    if other is None:
        return one
    return one if LEVELS.index(one) <= LEVELS.index(other) else other
