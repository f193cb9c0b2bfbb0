"""Webhook secrets per organisation and code host, and the deliveries seen (to ignore
redeliveries)

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

Id = sa.String(36).with_variant(postgresql.UUID(as_uuid=False), "postgresql")


def upgrade() -> None:
    op.create_table(
        "webhook_secrets",
        sa.Column("org_id", Id, nullable=False),
        sa.Column("provider", sa.String(16), nullable=False, comment="github or gitlab"),
        sa.Column("secret", sa.Text(), nullable=True, comment="GitHub's HMAC key; NULL for GitLab"),
        sa.Column("secret_hash", sa.String(64), nullable=False, comment="SHA-256 of the secret"),
        sa.Column("created_at_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("org_id", "provider", name="pk_webhook_secrets"),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organisations.id"],
            name="fk_webhook_secrets_org_id_organisations",
        ),
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column("org_id", Id, nullable=False),
        sa.Column("provider", sa.String(16), nullable=False),
        sa.Column(
            "delivery_id",
            sa.String(200),
            nullable=False,
            comment="X-GitHub-Delivery, or GitLab's Idempotency-Key",
        ),
        sa.Column("received_at_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("org_id", "provider", "delivery_id", name="pk_webhook_deliveries"),
    )
    op.create_index(
        "ix_webhook_deliveries_org_id_received_at_ms",
        "webhook_deliveries",
        ["org_id", "received_at_ms"],
    )


def downgrade() -> None:
    op.drop_table("webhook_deliveries")
    op.drop_table("webhook_secrets")
