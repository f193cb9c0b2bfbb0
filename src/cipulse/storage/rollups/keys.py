"""The keys every rollup table shares: partitions, scopes, the org row.

A partition is a pipeline's UTC day: the unit ingest marks and the refresher recomputes.
Every stored row has a ``grain`` (``domain.tallies.Grain``), a ``period``, a
``branch_scope`` (``SCOPE_CODES``) and a pipeline id, or ``ORG`` for the rows that add up
every pipeline of the organisation."""

from __future__ import annotations

Partition = tuple[str, int]  # (pipeline id, day)
#: The pipeline id of the organisation-wide rows: every pipeline's figures added up.
ORG = "00000000-0000-0000-0000-000000000000"
#: ``branch_scope`` of the stored rows, by ``Filters.branch_scope``: every branch, the
#: repository's default branch, the others.
SCOPE_CODES: dict[str | None, int] = {None: 0, "default": 1, "other": 2}
#: The statuses whose first attempts the run rows count (``first_*`` columns).
FIRST_STATUSES = ("success", "failure", "timed_out")
#: A custom metric's stored key: (pipeline id, metric key, tag key or '' for all the
#: metric's values, tag value or '').
MetricKey = tuple[str, str, str, str]
