"""The flaky test rules an organisation chose; the rollups' day index.

``test_rule_settings``: one row per organisation that changed its flaky rules from the
defaults (``domain/flaky_rules.py``): which rules apply and their parameters. No row: the
defaults. The index on (org, day) of ``test_daily_rollups`` lets a window's figures read
its days' rows only, whatever the history stored."""

from __future__ import annotations

import sqlalchemy as sa

from cipulse.storage.schema_tests import test_daily_rollups
from cipulse.storage.schema_types import Millis, metadata
from cipulse.storage.schema_types import org_id_column as _org_id

test_rule_settings = sa.Table(
    "test_rule_settings",
    metadata,
    _org_id(),
    sa.Column("rules", sa.String(16), nullable=False, comment="the rules that apply, e.g. ab"),
    sa.Column("clear_after_passes", sa.Integer, nullable=False),
    sa.Column("max_flip_failures", sa.Integer, nullable=False),
    sa.Column("updated_at_ms", Millis, nullable=False),
    sa.Column("updated_by", sa.Text, nullable=True),
    sa.PrimaryKeyConstraint("org_id"),
    sa.ForeignKeyConstraint(["org_id"], ["organisations.id"]),
)

# A window's test figures: its days' rollup rows of every test.
ix_test_daily_rollups_org_id_day = sa.Index(
    "ix_test_daily_rollups_org_id_day", test_daily_rollups.c.org_id, test_daily_rollups.c.day
)
