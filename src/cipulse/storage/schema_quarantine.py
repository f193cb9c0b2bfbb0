"""Quarantined tests per repository, and every change to the list.

A quarantined test is one CI may skip, or whose failure CI may ignore, while it is fixed
(``GET /api/v1/tests/quarantine``). Two tables:

- ``test_quarantine``: the tests quarantined now, one row per test case, with since when,
  why, by whom and whether by hand or by a flaky rule;
- ``test_quarantine_history``: append-only, one row per change (added, removed), with who,
  when and why; never updated, deleted only with its repository or organisation."""

from __future__ import annotations

import sqlalchemy as sa

from cipulse.storage.schema_types import Id, Millis, metadata
from cipulse.storage.schema_types import org_id_column as _org_id

test_quarantine = sa.Table(
    "test_quarantine",
    metadata,
    _org_id(),
    sa.Column("test_case_id", sa.BigInteger, nullable=False),
    sa.Column("repository_id", Id, nullable=False),
    sa.Column("since_ms", Millis, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("by", sa.String(320), nullable=False, comment="a user's e-mail or a rule's name"),
    sa.Column("source", sa.String(8), nullable=False, comment="hand or rule"),
    sa.PrimaryKeyConstraint("org_id", "test_case_id"),
    sa.ForeignKeyConstraint(["org_id"], ["organisations.id"]),
    sa.Index("ix_test_quarantine_org_id_repository_id", "org_id", "repository_id"),
)

test_quarantine_history = sa.Table(
    "test_quarantine_history",
    metadata,
    _org_id(),
    sa.Column("id", Id, nullable=False, comment="random"),
    sa.Column("test_case_id", sa.BigInteger, nullable=False),
    sa.Column("repository_id", Id, nullable=False),
    sa.Column("at_ms", Millis, nullable=False),
    sa.Column("action", sa.String(8), nullable=False, comment="added or removed"),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("by", sa.String(320), nullable=False),
    sa.Column("source", sa.String(8), nullable=False, comment="hand or rule"),
    sa.PrimaryKeyConstraint("org_id", "id"),
    sa.ForeignKeyConstraint(["org_id"], ["organisations.id"]),
    sa.Index(
        "ix_test_quarantine_history_org_id_repository_id_at_ms",
        "org_id",
        "repository_id",
        "at_ms",
    ),
)
