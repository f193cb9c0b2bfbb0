"""Test results: the test case dictionary, reports, results and rollups.

Tests are the highest-volume data cipulse holds (thousands of results per run), so a result
row is narrow: integers only, besides its organisation. What repeats is stored once and
referred to by a 64-bit id derived from its natural key (``domain/ids.py``), so nothing is
read back on ingest:

- ``test_cases``: the dictionary of test identities per repository (suite, class, name, file);
- ``test_messages``: failure messages and the first lines of their traces, bounded, each
  distinct text once (a broken test repeats its message run after run);
- ``test_reports``: one JUnit report received for a run attempt's job; its id is derived from
  where it was sent and a digest of its content, so the same report sent again is
  recognised and adds nothing. ``attempt_id`` stays NULL while its run has not arrived;
  the run's ingest fills it in (``storage/test_result_store.attach_waiting_reports``);
- ``test_results``: one row per test case of a report, keyed by the report and the case's
  position in it, and indexed per test and time for a test's history;
- ``test_daily_rollups``: per test and UTC day, the counts a test's pages add up, added to
  by ingest (``storage/test_rollups.py``); the duration histogram is left for later."""

from __future__ import annotations

import sqlalchemy as sa

from cipulse.storage.schema_types import Id, Json, Millis, metadata
from cipulse.storage.schema_types import org_id_column as _org_id

test_cases = sa.Table(
    "test_cases",
    metadata,
    _org_id(),
    sa.Column("id", sa.BigInteger, nullable=False, comment="derived from the other keys"),
    sa.Column("repository_id", Id, nullable=False),
    sa.Column("suite", sa.Text, nullable=False),
    sa.Column("class_name", sa.Text, nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("file", sa.Text, nullable=True),
    sa.Column("first_seen_at_ms", Millis, nullable=False),
    sa.PrimaryKeyConstraint("org_id", "id"),
    sa.Index("ix_test_cases_org_id_repository_id", "org_id", "repository_id"),
    sqlite_with_rowid=False,
)

test_messages = sa.Table(
    "test_messages",
    metadata,
    _org_id(),
    sa.Column("id", sa.BigInteger, nullable=False, comment="derived from message and trace"),
    sa.Column("message", sa.Text, nullable=True),
    sa.Column("trace", sa.Text, nullable=True, comment="its first lines"),
    sa.Column("first_seen_at_ms", Millis, nullable=False),
    sa.PrimaryKeyConstraint("org_id", "id"),
)

test_reports = sa.Table(
    "test_reports",
    metadata,
    _org_id(),
    sa.Column("id", sa.BigInteger, nullable=False, comment="derived from target and digest"),
    sa.Column("repository_id", Id, nullable=False),
    sa.Column("attempt_id", Id, nullable=True, comment="NULL while its run has not arrived"),
    sa.Column("run_key", sa.String(500), nullable=False),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("pipeline", sa.String(500), nullable=True, comment="a key or name, as sent"),
    sa.Column("job_name", sa.Text, nullable=False, comment="empty: the attempt as a whole"),
    sa.Column("digest", sa.String(64), nullable=False, comment="SHA-256 of the report"),
    sa.Column("file_name", sa.Text, nullable=True),
    sa.Column("received_at_ms", Millis, nullable=False),
    sa.Column("at_ms", Millis, nullable=False, comment="the time of its results"),
    sa.Column("cases", sa.Integer, nullable=False),
    sa.Column("failed", sa.Integer, nullable=False, comment="failed or erred"),
    sa.Column("skipped", sa.Integer, nullable=False),
    sa.Column("flaky", sa.Integer, nullable=False, comment="passed after a retry in the job"),
    sa.Column(
        "infrastructure",
        sa.Boolean,
        nullable=False,
        server_default=sa.false(),
        comment="most of its tests failed: its failures are not counted per test",
    ),
    sa.PrimaryKeyConstraint("org_id", "id"),
    sa.ForeignKeyConstraint(["org_id"], ["organisations.id"]),
    sa.Index("ix_test_reports_org_id_attempt_id", "org_id", "attempt_id"),
    # Retention deletes the reports of days before its horizon.
    sa.Index("ix_test_reports_org_id_at_ms", "org_id", "at_ms"),
    # Reports waiting for their run: partial, so the joined ones cost no entry.
    sa.Index(
        "ix_test_reports_org_id_repository_id_run_key_waiting",
        "org_id",
        "repository_id",
        "run_key",
        "attempt",
        sqlite_where=sa.text("attempt_id IS NULL"),
        postgresql_where=sa.text("attempt_id IS NULL"),
    ),
)

test_results = sa.Table(
    "test_results",
    metadata,
    _org_id(),
    sa.Column("report_id", sa.BigInteger, nullable=False),
    sa.Column("position", sa.Integer, nullable=False, comment="0, 1, … in the report"),
    sa.Column("test_case_id", sa.BigInteger, nullable=False),
    sa.Column("status", sa.SmallInteger, nullable=False, comment="domain/test_results.py"),
    sa.Column("duration_ms", sa.Integer, nullable=True),
    sa.Column("retries", sa.SmallInteger, nullable=False, comment="extra tries in the job"),
    sa.Column("message_id", sa.BigInteger, nullable=True),
    sa.Column("at_ms", Millis, nullable=False, comment="its report's"),
    sa.PrimaryKeyConstraint("org_id", "report_id", "position"),
    # A test's history over a window, newest first.
    sa.Index("ix_test_results_org_id_test_case_id_at_ms", "org_id", "test_case_id", "at_ms"),
    sqlite_with_rowid=False,
)

test_daily_rollups = sa.Table(
    "test_daily_rollups",
    metadata,
    _org_id(),
    sa.Column("test_case_id", sa.BigInteger, nullable=False),
    sa.Column("day", sa.Integer, nullable=False, comment="days since the epoch, UTC"),
    sa.Column("runs", sa.Integer, nullable=False),
    sa.Column("failures", sa.Integer, nullable=False, comment="failed or erred"),
    sa.Column("skipped", sa.Integer, nullable=False),
    sa.Column("flaky", sa.Integer, nullable=False, comment="passed after a retry in the job"),
    sa.Column("timed", sa.Integer, nullable=False, comment="results with a duration"),
    sa.Column("duration_ms_sum", sa.BigInteger, nullable=False),
    sa.Column(
        "duration_histogram",
        Json,
        nullable=True,
        comment="Durations in ms, JSON (domain/histogram.py); NULL until computed from results",
    ),
    sa.PrimaryKeyConstraint("org_id", "test_case_id", "day"),
    sqlite_with_rowid=False,
)
