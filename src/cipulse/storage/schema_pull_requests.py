"""The per-pull-request figures kept beside the runs they come from.

One row per pull request (organisation, repository, number) with its figures over every stored
attempt of it (``domain/pull_requests.py``), recomputed from those attempts in the transaction
that writes or deletes any of them (``storage/pull_request_figures.py``): never incremented,
so a re-posted attempt cannot count twice. Lists of a window's pull requests read it instead
of every attempt."""

from __future__ import annotations

import sqlalchemy as sa

from cipulse.storage.schema_types import Id, Json, Millis, metadata
from cipulse.storage.schema_types import org_id_column as _org_id

pull_request_figures = sa.Table(
    "pull_request_figures",
    metadata,
    _org_id(),
    sa.Column("repository_id", Id, nullable=False),
    sa.Column("number", sa.BigInteger, nullable=False),
    sa.Column("title", sa.Text, nullable=True),
    sa.Column("url", sa.Text, nullable=True),
    sa.Column("source_branch", sa.Text, nullable=True),
    sa.Column("target_branch", sa.Text, nullable=True),
    sa.Column("authors", Json, nullable=False, comment="commit authors, first seen first"),
    sa.Column("commits", sa.Integer, nullable=False),
    sa.Column("head_commit_sha", sa.String(200), nullable=True),
    sa.Column("first_run_at_ms", Millis, nullable=True),
    sa.Column("last_run_at_ms", Millis, nullable=True),
    sa.Column("runs", sa.Integer, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("reruns", sa.Integer, nullable=False),
    sa.Column("ci_seconds", sa.Float, nullable=False),
    sa.Column("compute_seconds", sa.Float, nullable=True),
    sa.Column("time_to_green_head_seconds", sa.Float, nullable=True),
    sa.Column("time_to_green_seconds", sa.Float, nullable=True),
    sa.PrimaryKeyConstraint("org_id", "repository_id", "number"),
    sa.ForeignKeyConstraint(["org_id"], ["organisations.id"]),
    # A window's pull requests: those whose runs span reaches into it.
    sa.Index(
        "ix_pull_request_figures_last_run",
        "org_id",
        "last_run_at_ms",
        "repository_id",
        "number",
    ),
)
