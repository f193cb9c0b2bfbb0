"""Quarantined tests per repository and the append-only history of the list's changes
(``storage/schema_quarantine.py``). New tables only: no figure changes.

Revision ID: 0030
Revises: 0029
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0030"
down_revision = "0029"
branch_labels = None
depends_on = None

_ID = sa.String(36).with_variant(postgresql.UUID(as_uuid=False), "postgresql")


def upgrade() -> None:
    op.create_table(
        "test_quarantine",
        sa.Column("org_id", _ID, nullable=False),
        sa.Column("test_case_id", sa.BigInteger(), nullable=False),
        sa.Column("repository_id", _ID, nullable=False),
        sa.Column("since_ms", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("by", sa.String(320), nullable=False, comment="a user's e-mail or a rule's name"),
        sa.Column("source", sa.String(8), nullable=False, comment="hand or rule"),
        sa.PrimaryKeyConstraint("org_id", "test_case_id", name="pk_test_quarantine"),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name="fk_test_quarantine_org_id_organisations"
        ),
    )
    op.create_index(
        "ix_test_quarantine_org_id_repository_id", "test_quarantine", ["org_id", "repository_id"]
    )
    op.create_table(
        "test_quarantine_history",
        sa.Column("org_id", _ID, nullable=False),
        sa.Column("id", _ID, nullable=False, comment="random"),
        sa.Column("test_case_id", sa.BigInteger(), nullable=False),
        sa.Column("repository_id", _ID, nullable=False),
        sa.Column("at_ms", sa.BigInteger(), nullable=False),
        sa.Column("action", sa.String(8), nullable=False, comment="added or removed"),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("by", sa.String(320), nullable=False),
        sa.Column("source", sa.String(8), nullable=False, comment="hand or rule"),
        sa.PrimaryKeyConstraint("org_id", "id", name="pk_test_quarantine_history"),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organisations.id"],
            name="fk_test_quarantine_history_org_id_organisations",
        ),
    )
    op.create_index(
        "ix_test_quarantine_history_org_id_repository_id_at_ms",
        "test_quarantine_history",
        ["org_id", "repository_id", "at_ms"],
    )


def downgrade() -> None:
    op.drop_table("test_quarantine_history")
    op.drop_table("test_quarantine")
