"""The flaky test rules an organisation chose; the rollups' day index.

``test_rule_settings``: one row per organisation that changed its flaky rules from the
defaults (``domain/flaky_rules.py``): which rules apply and their parameters. No row: the
defaults. The index on (org, day) of ``test_daily_rollups`` (covering its counts) lets a
window's figures read its days' entries only, whatever the history stored."""

from __future__ import annotations

import sqlalchemy as sa

from cipulse.storage.schema_tests import test_daily_rollups
from cipulse.storage.schema_types import Millis, metadata
from cipulse.storage.schema_types import org_id_column as _org_id

#: The covering index's columns: the window's day first, then what a window adds up.
ROLLUP_INDEX_COLUMNS = (
    "org_id",
    "day",
    "test_case_id",
    "runs",
    "failures",
    "skipped",
    "flaky",
    "timed",
    "duration_ms_sum",
)

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

# A window's test figures: its days' rollup rows of every test, read from the index alone
# (covering: the counts are in it, so no row of the table is visited).
ix_test_daily_rollups_org_id_day = sa.Index(
    "ix_test_daily_rollups_org_id_day",
    *(test_daily_rollups.c[name] for name in ROLLUP_INDEX_COLUMNS),
)
