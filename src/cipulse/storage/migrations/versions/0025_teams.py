"""Teams and their rules: the teams an organisation's rules name, each repository's
CODEOWNERS rules in file order (the organisation's default file under the empty
repository), and explicit pipeline, repository and job rules (``storage/schema_teams.py``).
Ownership is worked out when read, so no figure changes and no partition is marked.

Revision ID: 0025
Revises: 0024
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None

_ID = sa.String(36).with_variant(postgresql.UUID(as_uuid=False), "postgresql")
_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _organisation(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["org_id"], ["organisations.id"], name=f"fk_{table}_org_id_organisations"
    )


def upgrade() -> None:
    op.create_table(
        "teams",
        sa.Column("org_id", _ID, nullable=False),
        sa.Column("id", _ID, nullable=False, comment="derived from the name in lower case"),
        sa.Column("name", sa.String(200), nullable=False, comment="as a rule first named it"),
        sa.Column("created_at_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("org_id", "id", name="pk_teams"),
        _organisation("teams"),
    )
    op.create_table(
        "codeowners_rules",
        sa.Column("org_id", _ID, nullable=False),
        sa.Column(
            "repository",
            sa.Text(),
            nullable=False,
            comment="full name in lower case; empty: the organisation's default file",
        ),
        sa.Column("position", sa.Integer(), nullable=False, comment="0, 1, … in file order"),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("pattern", sa.Text(), nullable=False, comment="as written, escapes kept"),
        sa.Column("owners", _JSON, nullable=False, comment="in the line's order"),
        sa.Column("negated", sa.Boolean(), nullable=False, comment="GitLab's !pattern"),
        sa.Column("section", sa.Text(), nullable=True, comment="GitLab's [section]"),
        sa.Column("imported_at_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("org_id", "repository", "position", name="pk_codeowners_rules"),
        _organisation("codeowners_rules"),
    )
    op.create_table(
        "team_rules",
        sa.Column("org_id", _ID, nullable=False),
        sa.Column("id", _ID, nullable=False, comment="derived from kind and pattern"),
        sa.Column("kind", sa.String(16), nullable=False, comment="pipeline, repository or job"),
        sa.Column("pattern", sa.Text(), nullable=False),
        sa.Column("team_id", _ID, nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False, comment="later rules win"),
        sa.Column("created_at_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("org_id", "id", name="pk_team_rules"),
        sa.ForeignKeyConstraint(
            ["org_id", "team_id"],
            ["teams.org_id", "teams.id"],
            name="fk_team_rules_org_id_team_id_teams",
        ),
    )


def downgrade() -> None:
    op.drop_table("team_rules")
    op.drop_table("codeowners_rules")
    op.drop_table("teams")
