"""A run attempt's jobs as a tree, at most MAX_TREE_DEPTH levels deep.

The jobs of one attempt as the tree the run page and ``/runs/{id}`` show: a node under its
parent, a node whose parent is missing (or the run's own node) at the top level, a deeper
chain under its ancestor at the last level, and the nodes of a cycle at the top level."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace

from cipulse.analytics.questions.run_answers import JobNode, StoredRow
from cipulse.analytics.run_metrics import FAILING
from cipulse.domain.accepted import MAX_TREE_DEPTH


def job_tree(rows: Sequence[StoredRow], root_node_key: str | None) -> list[JobNode]:
    """The jobs as a tree: a node whose parent is not among the attempt's nodes (or is the
    run's own node), or whose parents come back to it, is at the top level. The tree has at
    most ``MAX_TREE_DEPTH`` levels: a deeper node (a chain stored by several requests) is
    shown under its ancestor at the last level."""
    failing_steps = _failing_steps(rows)
    nodes = {row["node_key"]: JobNode.of(row) for row in rows}
    for key, step in failing_steps.items():
        nodes[key] = replace(nodes[key], failing_step=step)
    parents = {
        row["node_key"]: row["parent_node_key"]
        for row in rows
        if row["parent_node_key"] in nodes and row["parent_node_key"] != root_node_key
    }
    placed = _placed_under(parents)
    top: list[JobNode] = []
    for row in rows:
        key = row["node_key"]
        parent = placed.get(key)
        if parent is None:
            top.append(nodes[key])
        else:
            nodes[parent].children.append(nodes[key])
    return top


def _failing_steps(rows: Sequence[StoredRow]) -> dict[str, str]:
    """Per failed node (failure, timed_out) that names no failed step, the name of its
    first failed child, by start: the failing stage of a Trunk tree (the Jenkins plugin
    sends a stage FAILURE when it ended with an error), as GitHub names a job's step."""
    failed_children: dict[str, list[StoredRow]] = defaultdict(list)
    for row in rows:
        if row["status"] in FAILING and row["parent_node_key"] is not None:
            failed_children[row["parent_node_key"]].append(row)
    found: dict[str, str] = {}
    for row in rows:
        children = failed_children.get(row["node_key"])
        if row["status"] in FAILING and not row["failing_step"] and children:
            first = min(
                children, key=lambda c: (c["started_at_ms"] is None, c["started_at_ms"] or 0)
            )
            found[row["node_key"]] = first["name"]
    return found


def _placed_under(parents: dict[str, str]) -> dict[str, str]:
    """The node each node is shown under (absent: the top level), in time linear in the
    nodes: its parent or, below ``MAX_TREE_DEPTH`` levels, its ancestor one level above the
    last, so that deeper nodes are shown at the last level. Bad data must not make the tree
    infinite: the nodes of a cycle are shown at the top level."""
    #: The ancestors a node is shown under, from the top level, and the node itself.
    lineage: dict[str, tuple[str, ...]] = {}
    for start in parents:
        path: list[str] = []
        on_path: set[str] = set()
        current = start
        while current in parents and current not in lineage and current not in on_path:
            path.append(current)
            on_path.add(current)
            current = parents[current]
        if current in on_path:  # a cycle: its nodes are shown at the top level
            cut = path.index(current)
            for node in path[cut:]:
                lineage[node] = (node,)
            path = path[:cut]
        above = lineage.get(current, (current,))
        for node in reversed(path):
            above = (*above[: MAX_TREE_DEPTH - 1], node)
            lineage[node] = above
    return {node: shown[-2] for node, shown in lineage.items() if len(shown) > 1}
