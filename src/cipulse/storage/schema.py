"""Every table, in one place.

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
from sqlalchemy.dialects import postgresql

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)

Id = sa.String(36).with_variant(postgresql.UUID(as_uuid=False), "postgresql")
Json = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
Millis = sa.BigInteger


def _org_id() -> sa.Column[str]:
    return sa.Column("org_id", Id, nullable=False)


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
    sa.PrimaryKeyConstraint("org_id", "id"),
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
    # Keyed by position in the tree rather than by ``id`` (derived from the same two values):
    # an attempt's jobs sit together, and one index less to maintain per ingested job.
    sa.PrimaryKeyConstraint("org_id", "attempt_id", "node_key"),
    # On SQLite the rows live in the primary-key B-tree itself: one tree to update per
    # ingested job instead of two (measured: inserts about twice as fast, file 40% smaller).
    sqlite_with_rowid=False,
)

# --- Rollups -------------------------------------------------------------------------------
# Figures per pipeline and UTC day (``grain`` 1, ``period`` = days since the epoch) and per
# week of seven such days (``grain`` 7, ``period`` = its first day, a Monday), recomputed
# from the raw rows by the rollup refresher (``analytics/refresh.py``) for each partition
# (pipeline, day) that ingest marked in ``rollup_dirty``. Reads take whole weeks and days
# from here, and partial days and still-dirty partitions from the raw rows. Each figure is
# stored three times over, by ``branch_scope``: for every branch, for the repository's default
# branch, and for the others (the dashboard's branch filter), so each is one read. Recent days
# are also stored by the hour (``grain`` 0, ``period`` = hours since the epoch), for windows
# such as the last 24 hours whose edges fall inside days.

STATUS_NAMES = (
    "success",
    "failure",
    "cancelled",
    "running",
    "queued",
    "pending",
    "skipped",
    "timed_out",
)


def _status_counts(prefix: str, statuses: tuple[str, ...] = STATUS_NAMES) -> list[sa.Column[int]]:
    return [
        sa.Column(f"{prefix}{status}", sa.Integer, nullable=False, server_default="0")
        for status in statuses
    ]


def _durations() -> list[sa.Column[object]]:
    return [
        sa.Column("duration_count", sa.Integer, nullable=False, server_default="0"),
        sa.Column("duration_sum", sa.Float, nullable=False, server_default="0"),
        sa.Column(
            "duration_histogram",
            sa.Text,
            nullable=False,
            server_default='{"b": []}',
            comment="Success durations: a histogram, JSON (domain/histogram.py)",
        ),
    ]


def _branch_scope() -> sa.Column[int]:
    return sa.Column(
        "branch_scope",
        sa.SmallInteger,
        nullable=False,
        server_default="0",
        comment="0: every branch; 1: the repository's default branch; 2: the other branches",
    )


def _top_bucket() -> sa.Column[int]:
    return sa.Column(
        "duration_top_bucket",
        sa.Integer,
        nullable=True,
        comment="The highest bucket of duration_histogram: no percentile exceeds its upper edge",
    )


run_rollups = sa.Table(
    "run_rollups",
    metadata,
    _org_id(),
    sa.Column("grain", sa.SmallInteger, nullable=False),
    sa.Column("period", sa.Integer, nullable=False),
    sa.Column("pipeline_id", Id, nullable=False),
    *_status_counts("n_"),
    *_status_counts("first_", ("success", "failure", "timed_out")),
    sa.Column("compute_seconds", sa.Float, nullable=False, server_default="0"),
    *_durations(),
    sa.Column(
        "decided_runs",
        sa.Integer,
        nullable=False,
        server_default="0",
        comment="Per day: runs with an attempt that ended success, failure or timed_out",
    ),
    sa.Column("flaky_runs", sa.Integer, nullable=False, server_default="0"),
    sa.Column("retry_compute_seconds", sa.Float, nullable=False, server_default="0"),
    _branch_scope(),
    _top_bucket(),
    sa.PrimaryKeyConstraint("org_id", "grain", "period", "branch_scope", "pipeline_id"),
)

job_rollups = sa.Table(
    "job_rollups",
    metadata,
    _org_id(),
    sa.Column("grain", sa.SmallInteger, nullable=False),
    sa.Column("period", sa.Integer, nullable=False),
    sa.Column("pipeline_id", Id, nullable=False),
    sa.Column("definition_key", sa.Text, nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    *_status_counts("n_"),
    *_durations(),
    sa.Column("total_duration_seconds", sa.Float, nullable=False, server_default="0"),
    sa.Column("exclusive_seconds", sa.Float, nullable=False, server_default="0"),
    sa.Column("flaky_count", sa.Integer, nullable=False, server_default="0"),
    sa.Column("retry_compute_seconds", sa.Float, nullable=False, server_default="0"),
    sa.Column("last_flaky_at_ms", Millis, nullable=True),
    _branch_scope(),
    _top_bucket(),
    sa.Column(
        "level",
        sa.SmallInteger,
        nullable=True,
        comment="0: job (directly under the run), 1: nested stage, 2: nested step; "
        "null: stored before levels were kept, read as job (domain/compute.py)",
    ),
    sa.Column(
        "failures_passed_on_retry",
        sa.Integer,
        nullable=False,
        server_default="0",
        comment="Failing executions after which the job ended success in a later attempt",
    ),
    sa.PrimaryKeyConstraint(
        "org_id", "grain", "period", "branch_scope", "pipeline_id", "definition_key"
    ),
)

rollup_repeats = sa.Table(
    "rollup_repeats",
    metadata,
    _org_id(),
    sa.Column("grain", sa.SmallInteger, nullable=False, comment="1: a day; 0: an hour"),
    sa.Column("period", sa.Integer, nullable=False),
    sa.Column("pipeline_id", Id, nullable=False),
    sa.Column("run_key", sa.String(500), nullable=False),
    sa.Column(
        "previous_started_at_ms",
        Millis,
        nullable=False,
        comment="Start of the latest earlier decided attempt of the run",
    ),
    _branch_scope(),
    sa.PrimaryKeyConstraint("org_id", "grain", "period", "branch_scope", "pipeline_id", "run_key"),
)

rollup_dirty = sa.Table(
    "rollup_dirty",
    metadata,
    _org_id(),
    sa.Column("id", Id, nullable=False),
    sa.Column("pipeline_id", Id, nullable=False),
    sa.Column("day", sa.Integer, nullable=False),
    sa.Column("marked_at_ms", Millis, nullable=False),
    sa.Column(
        "kind",
        sa.SmallInteger,
        nullable=False,
        server_default=sa.text("0"),
        comment="0: a pipeline's figures of the day (ingest); 1: the organisation's rows of "
        "the day; 2: the pipeline's red periods from the day on; 3: a new run, its attempt's "
        "figures not yet added (storage/rollup_marks.py)",
    ),
    sa.Column("from_ms", Millis, nullable=True, comment="Red periods: stale from this instant on"),
    sa.PrimaryKeyConstraint("org_id", "id"),
    sa.Index("ix_rollup_dirty_org_id_day", "org_id", "day"),
)

#: Partitions the refresher failed to refresh, set aside until ``retry_at_ms``.
rollup_failures = sa.Table(
    "rollup_failures",
    metadata,
    _org_id(),
    sa.Column("kind", sa.SmallInteger, nullable=False),
    sa.Column("pipeline_id", Id, nullable=False),
    sa.Column("day", sa.Integer, nullable=False),
    sa.Column("failures", sa.Integer, nullable=False),
    sa.Column("error", sa.Text, nullable=False),
    sa.Column("first_failed_at_ms", Millis, nullable=False),
    sa.Column("last_failed_at_ms", Millis, nullable=False),
    sa.Column("retry_at_ms", Millis, nullable=False),
    sa.PrimaryKeyConstraint("org_id", "kind", "pipeline_id", "day"),
)

red_periods = sa.Table(
    "red_periods",
    metadata,
    _org_id(),
    sa.Column("id", Id, nullable=False, comment="From pipeline, branch and start"),
    sa.Column("pipeline_id", Id, nullable=False),
    sa.Column("branch", sa.Text, nullable=True),
    sa.Column("started_at_ms", Millis, nullable=False),
    sa.Column("ended_at_ms", Millis, nullable=True),
    sa.Column("failing_attempts", sa.Integer, nullable=False),
    sa.PrimaryKeyConstraint("org_id", "id"),
    sa.Index(
        "ix_red_periods_org_id_pipeline_id_ended_at_ms_started_at_ms",
        "org_id",
        "pipeline_id",
        "ended_at_ms",
        "started_at_ms",
    ),
    # Covering: the window's figures (count and lengths) come from the index alone.
    sa.Index(
        "ix_red_periods_org_id_ended_at_ms_started_at_ms",
        "org_id",
        "ended_at_ms",
        "started_at_ms",
    ),
    # The same for the default branches (branch IN (main, master), or the ones named).
    sa.Index(
        "ix_red_periods_org_id_branch_ended_at_ms_started_at_ms",
        "org_id",
        "branch",
        "ended_at_ms",
        "started_at_ms",
    ),
)

metric_rollups = sa.Table(
    "metric_rollups",
    metadata,
    _org_id(),
    sa.Column("grain", sa.SmallInteger, nullable=False),
    sa.Column("period", sa.Integer, nullable=False),
    sa.Column("pipeline_id", Id, nullable=False),
    sa.Column("metric_key", sa.Text, nullable=False),
    sa.Column("tag_key", sa.Text, nullable=False, comment="'' for every value of the metric"),
    sa.Column("tag_value", sa.Text, nullable=False),
    sa.Column("value_count", sa.Integer, nullable=False),
    sa.Column("value_sum", sa.Float, nullable=False),
    sa.Column("histogram", sa.Text, nullable=False, comment="JSON (domain/histogram.py)"),
    _branch_scope(),
    sa.PrimaryKeyConstraint(
        "org_id",
        "grain",
        "period",
        "branch_scope",
        "metric_key",
        "tag_key",
        "tag_value",
        "pipeline_id",
    ),
)
