"""Custom metrics of every source: the metric rollups held Trunk's only, so the queue time and
runner tags that GitHub and GitLab webhooks store were never counted. Every partition holding
such attempts is marked to be recomputed

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

from cipulse.storage.migration_helpers import mark_partitions

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

#: The sources other than Trunk that store metrics (``ingestion/github``, ``ingestion/gitlab``).
_WEBHOOK_SOURCES = "source_format IN ('github', 'gitlab')"


def upgrade() -> None:
    mark_partitions(_WEBHOOK_SOURCES)


def downgrade() -> None:
    mark_partitions(_WEBHOOK_SOURCES)
