"""Test results from JUnit reports: the test case dictionary per repository, failure
messages stored once, the reports received for a run attempt's job, one narrow row per
result, and the daily rollup per test (``storage/schema_tests.py``). New tables only: no
figure changes and no partition is marked.

Revision ID: 0027
Revises: 0026
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None

_ID = sa.String(36).with_variant(postgresql.UUID(as_uuid=False), "postgresql")
_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
_WAITING = "attempt_id IS NULL"


def upgrade() -> None:
    op.create_table(
        "test_cases",
        sa.Column("org_id", _ID, nullable=False),
        sa.Column("id", sa.BigInteger(), nullable=False, comment="derived from the other keys"),
        sa.Column("repository_id", _ID, nullable=False),
        sa.Column("suite", sa.Text(), nullable=False),
        sa.Column("class_name", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("file", sa.Text(), nullable=True),
        sa.Column("first_seen_at_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("org_id", "id", name="pk_test_cases"),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_test_cases_org_id_repository_id", "test_cases", ["org_id", "repository_id"])
    op.create_table(
        "test_messages",
        sa.Column("org_id", _ID, nullable=False),
        sa.Column("id", sa.BigInteger(), nullable=False, comment="derived from message and trace"),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("trace", sa.Text(), nullable=True, comment="its first lines"),
        sa.Column("first_seen_at_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("org_id", "id", name="pk_test_messages"),
    )
    _create_reports()
    _create_results()
    _create_rollups()


def _create_reports() -> None:
    op.create_table(
        "test_reports",
        sa.Column("org_id", _ID, nullable=False),
        sa.Column("id", sa.BigInteger(), nullable=False, comment="derived from target and digest"),
        sa.Column("repository_id", _ID, nullable=False),
        sa.Column("attempt_id", _ID, nullable=True, comment="NULL while its run has not arrived"),
        sa.Column("run_key", sa.String(500), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("pipeline", sa.String(500), nullable=True, comment="a key or name, as sent"),
        sa.Column("job_name", sa.Text(), nullable=False, comment="empty: the attempt as a whole"),
        sa.Column("digest", sa.String(64), nullable=False, comment="SHA-256 of the report"),
        sa.Column("file_name", sa.Text(), nullable=True),
        sa.Column("received_at_ms", sa.BigInteger(), nullable=False),
        sa.Column("at_ms", sa.BigInteger(), nullable=False, comment="the time of its results"),
        sa.Column("cases", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False, comment="failed or erred"),
        sa.Column("skipped", sa.Integer(), nullable=False),
        sa.Column("flaky", sa.Integer(), nullable=False, comment="passed after a retry in the job"),
        sa.PrimaryKeyConstraint("org_id", "id", name="pk_test_reports"),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name="fk_test_reports_org_id_organisations"
        ),
    )
    op.create_index("ix_test_reports_org_id_attempt_id", "test_reports", ["org_id", "attempt_id"])
    op.create_index("ix_test_reports_org_id_at_ms", "test_reports", ["org_id", "at_ms"])
    op.create_index(
        "ix_test_reports_org_id_repository_id_run_key_waiting",
        "test_reports",
        ["org_id", "repository_id", "run_key", "attempt"],
        sqlite_where=sa.text(_WAITING),
        postgresql_where=sa.text(_WAITING),
    )


def _create_results() -> None:
    op.create_table(
        "test_results",
        sa.Column("org_id", _ID, nullable=False),
        sa.Column("report_id", sa.BigInteger(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False, comment="0, 1, … in the report"),
        sa.Column("test_case_id", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.SmallInteger(), nullable=False, comment="domain/test_results.py"),
        sa.Column("duration_ms", sa.Integer(), nullable=True),
        sa.Column("retries", sa.SmallInteger(), nullable=False, comment="extra tries in the job"),
        sa.Column("message_id", sa.BigInteger(), nullable=True),
        sa.Column("at_ms", sa.BigInteger(), nullable=False, comment="its report's"),
        sa.PrimaryKeyConstraint("org_id", "report_id", "position", name="pk_test_results"),
        sqlite_with_rowid=False,
    )
    op.create_index(
        "ix_test_results_org_id_test_case_id_at_ms",
        "test_results",
        ["org_id", "test_case_id", "at_ms"],
    )


def _create_rollups() -> None:
    op.create_table(
        "test_daily_rollups",
        sa.Column("org_id", _ID, nullable=False),
        sa.Column("test_case_id", sa.BigInteger(), nullable=False),
        sa.Column("day", sa.Integer(), nullable=False, comment="days since the epoch, UTC"),
        sa.Column("runs", sa.Integer(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False, comment="failed or erred"),
        sa.Column("skipped", sa.Integer(), nullable=False),
        sa.Column("flaky", sa.Integer(), nullable=False, comment="passed after a retry in the job"),
        sa.Column("timed", sa.Integer(), nullable=False, comment="results with a duration"),
        sa.Column("duration_ms_sum", sa.BigInteger(), nullable=False),
        sa.Column(
            "duration_histogram",
            _JSON,
            nullable=True,
            comment="Durations in ms, JSON (domain/histogram.py); NULL until computed from results",
        ),
        sa.PrimaryKeyConstraint("org_id", "test_case_id", "day", name="pk_test_daily_rollups"),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    op.drop_table("test_daily_rollups")
    op.drop_table("test_results")
    op.drop_table("test_reports")
    op.drop_table("test_messages")
    op.drop_table("test_cases")
