"""Flaky test rules per organisation (``test_rule_settings``), reports marked as
infrastructure-wide failures (``test_reports.infrastructure``), and the covering index on
(org, day, test, counts) of ``test_daily_rollups`` that a window's test figures read
through. Existing reports are not re-marked: their rollups stay as they were counted.

Revision ID: 0029
Revises: 0028
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0029"
down_revision = "0028"
branch_labels = None
depends_on = None

_ID = sa.String(36).with_variant(postgresql.UUID(as_uuid=False), "postgresql")


def upgrade() -> None:
    op.create_table(
        "test_rule_settings",
        sa.Column("org_id", _ID, nullable=False),
        sa.Column("rules", sa.String(16), nullable=False, comment="the rules that apply, e.g. ab"),
        sa.Column("clear_after_passes", sa.Integer(), nullable=False),
        sa.Column("max_flip_failures", sa.Integer(), nullable=False),
        sa.Column("updated_at_ms", sa.BigInteger(), nullable=False),
        sa.Column("updated_by", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("org_id", name="pk_test_rule_settings"),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name="fk_test_rule_settings_org_id_organisations"
        ),
    )
    op.add_column(
        "test_reports",
        sa.Column(
            "infrastructure",
            sa.Boolean(),
            nullable=False,
            server_default=sa.false(),
            comment="most of its tests failed: its failures are not counted per test",
        ),
    )
    # Covering: a window's figures are read from the index alone.
    op.create_index(
        "ix_test_daily_rollups_org_id_day",
        "test_daily_rollups",
        [
            "org_id",
            "day",
            "test_case_id",
            "runs",
            "failures",
            "skipped",
            "flaky",
            "timed",
            "duration_ms_sum",
        ],
    )


def downgrade() -> None:
    op.drop_index("ix_test_daily_rollups_org_id_day", table_name="test_daily_rollups")
    op.drop_column("test_reports", "infrastructure")
    op.drop_table("test_rule_settings")
