"""What a run attempt's compute is when its source gives none (Trunk events, GitHub and
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
