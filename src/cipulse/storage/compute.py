"""The nodes a derived compute is summed from (domain/compute.py)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cipulse.domain.compute import DERIVED_FORMATS, Node, derived_compute
from cipulse.storage.schema import jobs, run_attempts

_CHUNK = 500


def derived_compute_of(
    conn: Connection, org_id: str, attempt_ids: Sequence[str]
) -> dict[str, float | None]:
    """Per attempt among ``attempt_ids`` whose wire format carries no compute, the compute
    its stored nodes give (``derived_compute``)."""
    found: dict[str, float | None] = {}
    for start in range(0, len(attempt_ids), _CHUNK):
        chunk = list(attempt_ids[start : start + _CHUNK])
        derived = [
            str(row[0])
            for row in conn.execute(
                sa.select(run_attempts.c.id).where(
                    run_attempts.c.org_id == org_id,
                    run_attempts.c.id.in_(chunk),
                    run_attempts.c.source_format.in_(sorted(DERIVED_FORMATS)),
                )
            )
        ]
        if not derived:
            continue
        nodes: dict[str, list[Node]] = defaultdict(list)
        query = sa.select(
            jobs.c.attempt_id, jobs.c.node_key, jobs.c.parent_node_key, jobs.c.duration_seconds
        ).where(jobs.c.org_id == org_id, jobs.c.attempt_id.in_(derived))
        for attempt_id, node_key, parent, duration in conn.execute(query):
            nodes[str(attempt_id)].append(Node(node_key, parent, duration))
        for attempt_id in derived:
            found[attempt_id] = derived_compute(nodes.get(attempt_id, []))
    return found
