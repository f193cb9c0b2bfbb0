"""The runner rollup: figures per pipeline, period, scope and label set.

Part of the schema (``schema.py`` names every table); see its conventions."""

from __future__ import annotations

import sqlalchemy as sa

from cipulse.domain.tallies import FAILURE_CLASSES
from cipulse.storage.schema_rollups import STATUS_NAMES
from cipulse.storage.schema_types import Id, metadata
from cipulse.storage.schema_types import org_id_column as _org_id

# Per pipeline, UTC day (``grain`` 1) and, for recent days, hour (``grain`` 0), branch scope
# and runner label set: the job executions directly under their run, as ``RunnerTally``
# (domain/runner_tallies.py) adds them up. Refreshed with the other rollups, from the same
# marks and pieces (analytics/refresh_units.py, added_runs.py); no 7- or 28-day blocks.
# The ``*_minutes`` columns are what a rate per label set multiplies (cost in money).

#: The key and the billed columns a window's cost reads (``ix_runner_rollups_billed``).
BILLED_KEY = ("org_id", "grain", "period", "branch_scope", "pipeline_id", "label_set")
BILLED_COLUMNS = (
    "job_seconds",
    "billable_minutes",
    "waste_job_seconds",
    "waste_billable_minutes",
    *(f"n_{status}" for status in STATUS_NAMES),
)

runner_rollups = sa.Table(
    "runner_rollups",
    metadata,
    _org_id(),
    sa.Column("grain", sa.SmallInteger, nullable=False),
    sa.Column("period", sa.Integer, nullable=False),
    sa.Column("branch_scope", sa.SmallInteger, nullable=False),
    sa.Column("pipeline_id", Id, nullable=False),
    sa.Column("label_set", sa.Text, nullable=False, comment="'' when the source named none"),
    *(
        sa.Column(f"n_{status}", sa.Integer, nullable=False, server_default="0")
        for status in STATUS_NAMES
    ),
    *(
        sa.Column(f"failed_{name}", sa.Integer, nullable=False, server_default="0")
        for name in FAILURE_CLASSES
    ),
    sa.Column("duration_count", sa.Integer, nullable=False),
    sa.Column("duration_sum", sa.Float, nullable=False),
    sa.Column("duration_histogram", sa.Text, nullable=False, comment="of successes"),
    sa.Column("queue_count", sa.Integer, nullable=False),
    sa.Column("queue_sum", sa.Float, nullable=False),
    sa.Column("queue_histogram", sa.Text, nullable=False),
    sa.Column("queue_by_hour", sa.Text, nullable=False, comment="per UTC hour queued"),
    sa.Column("busy_seconds", sa.Text, nullable=False, comment="24 sums, per UTC hour"),
    sa.Column("job_seconds", sa.Float, nullable=False),
    sa.Column("billable_minutes", sa.Integer, nullable=False, comment="each job rounded up"),
    sa.Column("waste_job_seconds", sa.Float, nullable=False),
    sa.Column("waste_billable_minutes", sa.Integer, nullable=False),
    sa.PrimaryKeyConstraint(
        "org_id", "grain", "period", "branch_scope", "pipeline_id", "label_set"
    ),
    # A window's cost sums the billed columns of many rows (days, pipelines, label sets):
    # covered here, SQLite reads this narrow index instead of rows whose JSON columns (the
    # histograms, the busy hours) stand before the billed ones.
    sa.Index(
        "ix_runner_rollups_billed",
        *BILLED_KEY,
        *BILLED_COLUMNS,
    ),
)
