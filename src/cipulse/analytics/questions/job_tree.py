"""A run attempt's jobs as a tree, at most MAX_TREE_DEPTH levels deep.

The jobs of one attempt as the tree the run page and ``/runs/{id}`` show: a node under its
parent, a node whose parent is missing (or the run's own node) at the top level, a deeper
chain under its ancestor at the last level, and the nodes of a cycle at the top level."""

from __future__ import annotations

from collections.abc import Sequence

from cipulse.analytics.questions.run_answers import JobNode, StoredRow
from cipulse.domain.accepted import MAX_TREE_DEPTH


def job_tree(rows: Sequence[StoredRow], root_node_key: str | None) -> list[JobNode]:
    """The jobs as a tree: a node whose parent is not among the attempt's nodes (or is the
    run's own node), or whose parents come back to it, is at the top level. The tree has at
    most ``MAX_TREE_DEPTH`` levels: a deeper node (a chain stored by several requests) is
    shown under its ancestor at the last level."""
    nodes = {row["node_key"]: JobNode.of(row) for row in rows}
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
