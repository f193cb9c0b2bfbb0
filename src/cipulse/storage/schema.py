"""Every table, in one place: the raw tables here, the rollups beside.

The database schema, in one place. Alembic migrations evolve it (``storage/migrations``).

Conventions:
- Every table carries ``org_id`` and every primary and unique key starts with it, so the data
  can later be sharded by organisation.
- Times are integer milliseconds since the Unix epoch (UTC), columns suffixed ``_ms``: the same
  arithmetic buckets them by hour, day or week on SQLite and PostgreSQL alike.
- Ids are UUID strings derived from natural keys (``cipulse.domain.ids``).
- ``jobs.attempt_id`` has no foreign key on purpose: Trunk events arrive in any order, and a job
  whose run has not arrived yet is kept and joins its run when the run arrives.
"""

from __future__ import annotations

import sqlalchemy as sa

from cipulse.storage.schema_pull_requests import pull_request_figures as pull_request_figures
from cipulse.storage.schema_quarantine import test_quarantine as test_quarantine
from cipulse.storage.schema_quarantine import (
    test_quarantine_history as test_quarantine_history,
)
from cipulse.storage.schema_rates import rates as rates
from cipulse.storage.schema_rollups import STATUS_NAMES as STATUS_NAMES
from cipulse.storage.schema_rollups import job_rollups as job_rollups
from cipulse.storage.schema_rollups import metric_rollups as metric_rollups
from cipulse.storage.schema_rollups import red_periods as red_periods
from cipulse.storage.schema_rollups import rollup_dirty as rollup_dirty
from cipulse.storage.schema_rollups import rollup_failures as rollup_failures
from cipulse.storage.schema_rollups import rollup_repeats as rollup_repeats
from cipulse.storage.schema_rollups import run_rollups as run_rollups
from cipulse.storage.schema_runners import runner_rollups as runner_rollups
from cipulse.storage.schema_teams import codeowners_rules as codeowners_rules
from cipulse.storage.schema_teams import team_rules as team_rules
from cipulse.storage.schema_teams import teams as teams
from cipulse.storage.schema_test_rules import test_rule_settings as test_rule_settings
from cipulse.storage.schema_tests import test_cases as test_cases
from cipulse.storage.schema_tests import test_daily_rollups as test_daily_rollups
from cipulse.storage.schema_tests import test_messages as test_messages
from cipulse.storage.schema_tests import test_reports as test_reports
from cipulse.storage.schema_tests import test_results as test_results
from cipulse.storage.schema_types import NAMING_CONVENTION as NAMING_CONVENTION
from cipulse.storage.schema_types import Id as Id
from cipulse.storage.schema_types import Json as Json
from cipulse.storage.schema_types import Millis as Millis
from cipulse.storage.schema_types import metadata as metadata
from cipulse.storage.schema_types import org_id_column as _org_id

organisations = sa.Table(
    "organisations",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("name", sa.String(200), nullable=False, unique=True),
    sa.Column("created_at_ms", Millis, nullable=False),
    sa.Column("max_repositories", sa.Integer, nullable=True),
    sa.Column("max_runs_per_month", sa.Integer, nullable=True),
    sa.Column(
        "purged_before_day",
        sa.Integer,
        nullable=True,
        comment="Days since the epoch: the runs of earlier days were purged; their figures are "
        "kept in the rollups and no longer recomputed (storage/retention.py)",
    ),
    sa.Column(
        "currency",
        sa.String(3),
        nullable=False,
        server_default="USD",
        comment="ISO 4217: the currency of its rate card and costs (domain/money.py)",
    ),
)

api_keys = sa.Table(
    "api_keys",
    metadata,
    _org_id(),
    sa.Column("id", Id, nullable=False),
    sa.Column("prefix", sa.String(32), nullable=False),
    sa.Column("key_hash", sa.String(64), nullable=False),
    sa.Column("name", sa.String(200), nullable=True),
    sa.Column("scopes", sa.String(200), nullable=False),
    sa.Column("created_at_ms", Millis, nullable=False),
    sa.Column("last_used_at_ms", Millis, nullable=True),
    sa.Column("revoked_at_ms", Millis, nullable=True),
    sa.PrimaryKeyConstraint("org_id", "id"),
    sa.UniqueConstraint("org_id", "prefix"),
    sa.ForeignKeyConstraint(["org_id"], ["organisations.id"]),
    sa.Index("ix_api_keys_key_hash", "key_hash"),
)

usage_counters = sa.Table(
    "usage_counters",
    metadata,
    _org_id(),
    sa.Column("month", sa.String(7), nullable=False, comment="YYYY-MM, UTC"),
    # Several rows per month, summed when read: concurrent writers add to different slots
    # instead of queueing for one hot row.
    sa.Column("slot", sa.SmallInteger, nullable=False, server_default="0"),
    sa.Column("new_run_attempts", sa.Integer, nullable=False, server_default="0"),
    sa.PrimaryKeyConstraint("org_id", "month", "slot"),
    sa.ForeignKeyConstraint(["org_id"], ["organisations.id"]),
)

# --- Dashboard users ------------------------------------------------------------------------
# People sign in to the dashboard; a person may belong to several organisations, so ``users``
# is the one table not keyed by organisation. Sessions are rows (not signed cookies): every
# server sharing the database sees a sign-out at once, and no signing secret must be shared.

users = sa.Table(
    "users",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("email", sa.String(320), nullable=False, unique=True, comment="lower case"),
    sa.Column("password_hash", sa.String(255), nullable=False, comment="argon2id"),
    sa.Column("created_at_ms", Millis, nullable=False),
    sa.Column("last_sign_in_at_ms", Millis, nullable=True),
    sa.Column(
        "disabled_at_ms",
        Millis,
        nullable=True,
        comment="Set: the user cannot sign in; their sessions were ended",
    ),
)

memberships = sa.Table(
    "memberships",
    metadata,
    _org_id(),
    sa.Column("user_id", Id, nullable=False),
    sa.Column("role", sa.String(16), nullable=False, comment="admin or member"),
    sa.Column("created_at_ms", Millis, nullable=False),
    sa.PrimaryKeyConstraint("org_id", "user_id"),
    sa.ForeignKeyConstraint(["org_id"], ["organisations.id"]),
    sa.ForeignKeyConstraint(["user_id"], ["users.id"]),
    sa.Index("ix_memberships_user_id", "user_id"),
)

sessions = sa.Table(
    "sessions",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True, comment="SHA-256 of the cookie"),
    sa.Column("user_id", Id, nullable=False),
    sa.Column("org_id", Id, nullable=False, comment="the organisation being looked at"),
    sa.Column("csrf_token", sa.String(64), nullable=False),
    sa.Column("created_at_ms", Millis, nullable=False),
    sa.Column("expires_at_ms", Millis, nullable=False),
    sa.ForeignKeyConstraint(["user_id"], ["users.id"]),
    sa.Index("ix_sessions_user_id", "user_id"),
)

# --- Webhooks -------------------------------------------------------------------------------
# Each organisation has its own webhook URLs and one secret per code host. GitHub signs each
# delivery with an HMAC of the body, so its secret must be kept as it is (verifying needs it);
# GitLab sends its token as a header, so only the token's SHA-256 is kept.

webhook_secrets = sa.Table(
    "webhook_secrets",
    metadata,
    _org_id(),
    sa.Column("provider", sa.String(16), nullable=False, comment="github or gitlab"),
    sa.Column("secret", sa.Text, nullable=True, comment="GitHub's HMAC key; NULL for GitLab"),
    sa.Column("secret_hash", sa.String(64), nullable=False, comment="SHA-256 of the secret"),
    sa.Column("created_at_ms", Millis, nullable=False),
    sa.PrimaryKeyConstraint("org_id", "provider"),
    sa.ForeignKeyConstraint(["org_id"], ["organisations.id"]),
)

webhook_deliveries = sa.Table(
    "webhook_deliveries",
    metadata,
    _org_id(),
    sa.Column("provider", sa.String(16), nullable=False),
    sa.Column(
        "delivery_id",
        sa.String(200),
        nullable=False,
        comment="X-GitHub-Delivery, or GitLab's Idempotency-Key",
    ),
    sa.Column("received_at_ms", Millis, nullable=False),
    sa.PrimaryKeyConstraint("org_id", "provider", "delivery_id"),
    sa.Index("ix_webhook_deliveries_org_id_received_at_ms", "org_id", "received_at_ms"),
)

repositories = sa.Table(
    "repositories",
    metadata,
    _org_id(),
    sa.Column("id", Id, nullable=False),
    sa.Column("host", sa.String(255), nullable=False),
    sa.Column("full_name", sa.Text, nullable=False),
    sa.Column("created_at_ms", Millis, nullable=False),
    sa.Column(
        "default_branch",
        sa.Text,
        nullable=True,
        comment="Set by an integration or an operator; when empty, main and master count "
        "as default",
    ),
    sa.PrimaryKeyConstraint("org_id", "id"),
    sa.ForeignKeyConstraint(["org_id"], ["organisations.id"]),
)

pipelines = sa.Table(
    "pipelines",
    metadata,
    _org_id(),
    sa.Column("id", Id, nullable=False),
    sa.Column("repository_id", Id, nullable=False),
    sa.Column("pipeline_key", sa.Text, nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("created_at_ms", Millis, nullable=False),
    sa.PrimaryKeyConstraint("org_id", "id"),
    sa.ForeignKeyConstraint(
        ["org_id", "repository_id"], ["repositories.org_id", "repositories.id"]
    ),
)

run_attempts = sa.Table(
    "run_attempts",
    metadata,
    _org_id(),
    sa.Column("id", Id, nullable=False),
    sa.Column("repository_id", Id, nullable=False),
    sa.Column("pipeline_id", Id, nullable=False),
    sa.Column("run_key", sa.String(500), nullable=False),
    sa.Column("run_number", sa.BigInteger, nullable=True),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("raw_status", sa.Text, nullable=True),
    sa.Column("provider", sa.String(100), nullable=False),
    sa.Column("source_format", sa.String(16), nullable=False),
    sa.Column("started_at_ms", Millis, nullable=True),
    sa.Column("completed_at_ms", Millis, nullable=True),
    sa.Column("duration_seconds", sa.Float, nullable=True),
    sa.Column("compute_seconds", sa.Float, nullable=True),
    sa.Column("run_name", sa.Text, nullable=True),
    sa.Column("run_url", sa.Text, nullable=True),
    sa.Column("triggered_by", sa.Text, nullable=True),
    sa.Column("actor", sa.Text, nullable=True),
    sa.Column("branch", sa.Text, nullable=True),
    sa.Column("mode", sa.String(16), nullable=True),
    sa.Column("root_node_key", sa.String(500), nullable=True),
    sa.Column("parent_run_key", sa.String(500), nullable=True),
    sa.Column("parent_node_key", sa.String(500), nullable=True),
    sa.Column("tags", Json, nullable=True),
    sa.Column("metrics", Json, nullable=True),
    sa.Column("ingest_source", sa.String(200), nullable=True),
    sa.Column("received_at_ms", Millis, nullable=False),
    sa.Column("updated_at_ms", Millis, nullable=False),
    # The change the attempt ran for (domain/changes.py), NULL where the source does not say.
    sa.Column("commit_sha", sa.String(200), nullable=True, comment="lower case"),
    sa.Column("commit_message", sa.Text, nullable=True, comment="its first line"),
    sa.Column("commit_author", sa.Text, nullable=True, comment="a name, never an e-mail"),
    sa.Column("pull_request_number", sa.BigInteger, nullable=True),
    sa.Column("pull_request_title", sa.Text, nullable=True),
    sa.Column("pull_request_url", sa.Text, nullable=True),
    sa.Column("pull_request_source_branch", sa.Text, nullable=True),
    sa.Column("pull_request_target_branch", sa.Text, nullable=True),
    sa.Column(
        "event_kind",
        sa.String(16),
        nullable=True,
        comment="pull_request, merge_queue, tag, schedule, push or other",
    ),
    # Why it did not succeed (domain/failure_reasons.py), NULL when it did or has not ended.
    sa.Column("failure_reason", sa.Text, nullable=True, comment="as the source states it"),
    sa.Column("failure_class", sa.String(16), nullable=True),
    sa.Column("queue_seconds", sa.Float, nullable=True, comment="from queued to started"),
    sa.PrimaryKeyConstraint("org_id", "id"),
    # Runs of a commit and of a pull request are looked up by them; partial, so attempts
    # that name neither (most Trunk ones, all stored before) cost no index entry.
    sa.Index(
        "ix_run_attempts_org_id_commit_sha",
        "org_id",
        "commit_sha",
        sqlite_where=sa.text("commit_sha IS NOT NULL"),
        postgresql_where=sa.text("commit_sha IS NOT NULL"),
    ),
    sa.Index(
        "ix_run_attempts_org_id_pull_request_number",
        "org_id",
        "pull_request_number",
        sqlite_where=sa.text("pull_request_number IS NOT NULL"),
        postgresql_where=sa.text("pull_request_number IS NOT NULL"),
    ),
    # Not unique: the natural key of a RunWatch attempt is (pipeline, run, attempt) but a Trunk
    # run's is (repository, chain); ``id`` is derived from whichever applies.
    sa.Index("ix_run_attempts_org_id_pipeline_id_run_key", "org_id", "pipeline_id", "run_key"),
    sa.ForeignKeyConstraint(["org_id", "pipeline_id"], ["pipelines.org_id", "pipelines.id"]),
    sa.ForeignKeyConstraint(
        ["org_id", "repository_id"], ["repositories.org_id", "repositories.id"]
    ),
    sa.Index("ix_run_attempts_org_id_started_at_ms", "org_id", "started_at_ms"),
    sa.Index(
        "ix_run_attempts_org_id_pipeline_id_started_at_ms", "org_id", "pipeline_id", "started_at_ms"
    ),
    # Red periods are recomputed from an instant on: the outcomes ended since then.
    sa.Index(
        "ix_run_attempts_org_id_pipeline_id_completed_at_ms",
        "org_id",
        "pipeline_id",
        "completed_at_ms",
    ),
    # The run page's triage: a pipeline and branch's previous green run, the runs since and
    # those of the last 30 days (storage/triage_store.py); ``status`` read from the index.
    sa.Index(
        "ix_run_attempts_org_id_pipeline_id_branch_completed_at_ms",
        "org_id",
        "pipeline_id",
        "branch",
        "completed_at_ms",
        "status",
    ),
)

jobs = sa.Table(
    "jobs",
    metadata,
    _org_id(),
    sa.Column("id", Id, nullable=False),
    sa.Column("attempt_id", Id, nullable=False),
    sa.Column("node_key", sa.String(520), nullable=False),
    sa.Column("parent_node_key", sa.String(500), nullable=True),
    sa.Column("definition_key", sa.Text, nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("kind", sa.String(100), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("raw_status", sa.Text, nullable=True),
    sa.Column("started_at_ms", Millis, nullable=True),
    sa.Column("completed_at_ms", Millis, nullable=True),
    sa.Column("duration_seconds", sa.Float, nullable=True),
    sa.Column("url", sa.Text, nullable=True),
    sa.Column("external_id", sa.String(500), nullable=True),
    sa.Column("tags", Json, nullable=True),
    sa.Column("metrics", Json, nullable=True),
    sa.Column("ingest_source", sa.String(200), nullable=True),
    sa.Column("updated_at_ms", Millis, nullable=False),
    sa.Column(
        "exclusive_seconds",
        sa.Float,
        nullable=True,
        comment="Seconds this job ran alone in its attempt, computed when a snapshot is stored",
    ),
    # Why it did not succeed (domain/failure_reasons.py), NULL when it did or has not ended.
    sa.Column("failure_reason", sa.Text, nullable=True, comment="as the source states it"),
    sa.Column("failure_class", sa.String(16), nullable=True),
    sa.Column("failing_step", sa.Text, nullable=True, comment="the name of its failed step"),
    # Where it ran and how long it waited (domain/runners.py), NULL when the source is silent.
    sa.Column("queue_seconds", sa.Float, nullable=True, comment="from queued to started"),
    sa.Column("runner_labels", sa.Text, nullable=True, comment="its label set"),
    sa.Column("runner_name", sa.Text, nullable=True),
    sa.Column("runner_group", sa.Text, nullable=True),
    sa.Column("runner_id", sa.String(200), nullable=True),
    # Keyed by position in the tree rather than by ``id`` (derived from the same two values):
    # an attempt's jobs sit together, and one index less to maintain per ingested job.
    sa.PrimaryKeyConstraint("org_id", "attempt_id", "node_key"),
    # A job page lists one job's latest failures: its pipeline's attempts newest first, each
    # probed here (SQLite), or this job's failures joined to the window's attempts
    # (PostgreSQL's hash join). Partial, so the jobs that did not fail (or failed before
    # classes were kept) cost no index entry, and an attempt without a failure one probe.
    sa.Index(
        "ix_jobs_org_id_definition_key_attempt_id_failed",
        "org_id",
        "definition_key",
        "attempt_id",
        sqlite_where=sa.text("failure_class IS NOT NULL"),
        postgresql_where=sa.text("failure_class IS NOT NULL"),
    ),
    # On SQLite the rows live in the primary-key B-tree itself: one tree to update per
    # ingested job instead of two (measured: inserts about twice as fast, file 40% smaller).
    sqlite_with_rowid=False,
)
