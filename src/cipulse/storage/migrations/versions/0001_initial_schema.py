"""initial schema

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "jobs",
        sa.Column(
            "org_id",
            sa.String(length=36).with_variant(sa.UUID(as_uuid=False), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "id",
            sa.String(length=36).with_variant(sa.UUID(as_uuid=False), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "attempt_id",
            sa.String(length=36).with_variant(sa.UUID(as_uuid=False), "postgresql"),
            nullable=False,
        ),
        sa.Column("node_key", sa.String(length=520), nullable=False),
        sa.Column("parent_node_key", sa.String(length=500), nullable=True),
        sa.Column("definition_key", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("raw_status", sa.Text(), nullable=True),
        sa.Column("started_at_ms", sa.BigInteger(), nullable=True),
        sa.Column("completed_at_ms", sa.BigInteger(), nullable=True),
        sa.Column("duration_seconds", sa.Float(), nullable=True),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("external_id", sa.String(length=500), nullable=True),
        sa.Column(
            "tags",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "metrics",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("ingest_source", sa.String(length=200), nullable=True),
        sa.Column("updated_at_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("org_id", "attempt_id", "node_key", name=op.f("pk_jobs")),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "organisations",
        sa.Column(
            "id",
            sa.String(length=36).with_variant(sa.UUID(as_uuid=False), "postgresql"),
            nullable=False,
        ),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at_ms", sa.BigInteger(), nullable=False),
        sa.Column("max_repositories", sa.Integer(), nullable=True),
        sa.Column("max_runs_per_month", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organisations")),
        sa.UniqueConstraint("name", name=op.f("uq_organisations_name")),
    )
    op.create_table(
        "api_keys",
        sa.Column(
            "org_id",
            sa.String(length=36).with_variant(sa.UUID(as_uuid=False), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "id",
            sa.String(length=36).with_variant(sa.UUID(as_uuid=False), "postgresql"),
            nullable=False,
        ),
        sa.Column("prefix", sa.String(length=32), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("scopes", sa.String(length=200), nullable=False),
        sa.Column("created_at_ms", sa.BigInteger(), nullable=False),
        sa.Column("last_used_at_ms", sa.BigInteger(), nullable=True),
        sa.Column("revoked_at_ms", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_api_keys_org_id_organisations")
        ),
        sa.PrimaryKeyConstraint("org_id", "id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("org_id", "prefix", name=op.f("uq_api_keys_org_id_prefix")),
    )
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.create_index("ix_api_keys_key_hash", ["key_hash"], unique=False)

    op.create_table(
        "repositories",
        sa.Column(
            "org_id",
            sa.String(length=36).with_variant(sa.UUID(as_uuid=False), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "id",
            sa.String(length=36).with_variant(sa.UUID(as_uuid=False), "postgresql"),
            nullable=False,
        ),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("full_name", sa.Text(), nullable=False),
        sa.Column("created_at_ms", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_repositories_org_id_organisations")
        ),
        sa.PrimaryKeyConstraint("org_id", "id", name=op.f("pk_repositories")),
    )
    op.create_table(
        "usage_counters",
        sa.Column(
            "org_id",
            sa.String(length=36).with_variant(sa.UUID(as_uuid=False), "postgresql"),
            nullable=False,
        ),
        sa.Column("month", sa.String(length=7), nullable=False, comment="YYYY-MM, UTC"),
        sa.Column("slot", sa.SmallInteger(), server_default="0", nullable=False),
        sa.Column("new_run_attempts", sa.Integer(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_usage_counters_org_id_organisations")
        ),
        sa.PrimaryKeyConstraint("org_id", "month", "slot", name=op.f("pk_usage_counters")),
    )
    op.create_table(
        "pipelines",
        sa.Column(
            "org_id",
            sa.String(length=36).with_variant(sa.UUID(as_uuid=False), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "id",
            sa.String(length=36).with_variant(sa.UUID(as_uuid=False), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "repository_id",
            sa.String(length=36).with_variant(sa.UUID(as_uuid=False), "postgresql"),
            nullable=False,
        ),
        sa.Column("pipeline_key", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("created_at_ms", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id", "repository_id"],
            ["repositories.org_id", "repositories.id"],
            name=op.f("fk_pipelines_org_id_repository_id_repositories"),
        ),
        sa.PrimaryKeyConstraint("org_id", "id", name=op.f("pk_pipelines")),
    )
    op.create_table(
        "run_attempts",
        sa.Column(
            "org_id",
            sa.String(length=36).with_variant(sa.UUID(as_uuid=False), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "id",
            sa.String(length=36).with_variant(sa.UUID(as_uuid=False), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "repository_id",
            sa.String(length=36).with_variant(sa.UUID(as_uuid=False), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "pipeline_id",
            sa.String(length=36).with_variant(sa.UUID(as_uuid=False), "postgresql"),
            nullable=False,
        ),
        sa.Column("run_key", sa.String(length=500), nullable=False),
        sa.Column("run_number", sa.BigInteger(), nullable=True),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("raw_status", sa.Text(), nullable=True),
        sa.Column("provider", sa.String(length=100), nullable=False),
        sa.Column("source_format", sa.String(length=16), nullable=False),
        sa.Column("started_at_ms", sa.BigInteger(), nullable=True),
        sa.Column("completed_at_ms", sa.BigInteger(), nullable=True),
        sa.Column("duration_seconds", sa.Float(), nullable=True),
        sa.Column("compute_seconds", sa.Float(), nullable=True),
        sa.Column("run_name", sa.Text(), nullable=True),
        sa.Column("run_url", sa.Text(), nullable=True),
        sa.Column("triggered_by", sa.Text(), nullable=True),
        sa.Column("actor", sa.Text(), nullable=True),
        sa.Column("branch", sa.Text(), nullable=True),
        sa.Column("mode", sa.String(length=16), nullable=True),
        sa.Column("root_node_key", sa.String(length=500), nullable=True),
        sa.Column("parent_run_key", sa.String(length=500), nullable=True),
        sa.Column("parent_node_key", sa.String(length=500), nullable=True),
        sa.Column(
            "tags",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "metrics",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("ingest_source", sa.String(length=200), nullable=True),
        sa.Column("received_at_ms", sa.BigInteger(), nullable=False),
        sa.Column("updated_at_ms", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id", "pipeline_id"],
            ["pipelines.org_id", "pipelines.id"],
            name=op.f("fk_run_attempts_org_id_pipeline_id_pipelines"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id", "repository_id"],
            ["repositories.org_id", "repositories.id"],
            name=op.f("fk_run_attempts_org_id_repository_id_repositories"),
        ),
        sa.PrimaryKeyConstraint("org_id", "id", name=op.f("pk_run_attempts")),
    )
    with op.batch_alter_table("run_attempts", schema=None) as batch_op:
        batch_op.create_index(
            "ix_run_attempts_org_id_pipeline_id_run_key",
            ["org_id", "pipeline_id", "run_key"],
            unique=False,
        )
        batch_op.create_index(
            "ix_run_attempts_org_id_pipeline_id_started_at_ms",
            ["org_id", "pipeline_id", "started_at_ms"],
            unique=False,
        )
        batch_op.create_index(
            "ix_run_attempts_org_id_started_at_ms", ["org_id", "started_at_ms"], unique=False
        )


def downgrade() -> None:

    with op.batch_alter_table("run_attempts", schema=None) as batch_op:
        batch_op.drop_index("ix_run_attempts_org_id_started_at_ms")
        batch_op.drop_index("ix_run_attempts_org_id_pipeline_id_started_at_ms")
        batch_op.drop_index("ix_run_attempts_org_id_pipeline_id_run_key")

    op.drop_table("run_attempts")
    op.drop_table("pipelines")
    op.drop_table("usage_counters")
    op.drop_table("repositories")
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_index("ix_api_keys_key_hash")

    op.drop_table("api_keys")
    op.drop_table("organisations")
    op.drop_table("jobs")
