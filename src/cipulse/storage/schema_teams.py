"""Teams and the rules that give pipelines and jobs to them.

Teams and their rules (``domain/ownership.py``): the teams an organisation's rules name,
the CODEOWNERS rules of each repository in file order (``repository`` ``""``: the
organisation's default file), and the explicit rules (pipeline, repository or job pattern
→ team). Ownership is worked out when read, from these rows and the pipelines: nothing
about runs is stored per team, so a rule changes every figure at once and no rollup is
recomputed."""

from __future__ import annotations

import sqlalchemy as sa

from cipulse.storage.schema_types import Id, Json, Millis, metadata
from cipulse.storage.schema_types import org_id_column as _org_id

teams = sa.Table(
    "teams",
    metadata,
    _org_id(),
    sa.Column("id", Id, nullable=False, comment="derived from the name in lower case"),
    sa.Column("name", sa.String(200), nullable=False, comment="as a rule first named it"),
    sa.Column("created_at_ms", Millis, nullable=False),
    sa.PrimaryKeyConstraint("org_id", "id"),
    sa.ForeignKeyConstraint(["org_id"], ["organisations.id"]),
)

codeowners_rules = sa.Table(
    "codeowners_rules",
    metadata,
    _org_id(),
    sa.Column(
        "repository",
        sa.Text,
        nullable=False,
        comment="full name in lower case; empty: the organisation's default file",
    ),
    sa.Column("position", sa.Integer, nullable=False, comment="0, 1, … in file order"),
    sa.Column("line", sa.Integer, nullable=False),
    sa.Column("pattern", sa.Text, nullable=False, comment="as written, escapes kept"),
    sa.Column("owners", Json, nullable=False, comment="in the line's order"),
    sa.Column("negated", sa.Boolean, nullable=False, comment="GitLab's !pattern"),
    sa.Column("section", sa.Text, nullable=True, comment="GitLab's [section]"),
    sa.Column("imported_at_ms", Millis, nullable=False),
    sa.PrimaryKeyConstraint("org_id", "repository", "position"),
    sa.ForeignKeyConstraint(["org_id"], ["organisations.id"]),
)

team_rules = sa.Table(
    "team_rules",
    metadata,
    _org_id(),
    sa.Column("id", Id, nullable=False, comment="derived from kind and pattern"),
    sa.Column("kind", sa.String(16), nullable=False, comment="pipeline, repository or job"),
    sa.Column("pattern", sa.Text, nullable=False),
    sa.Column("team_id", Id, nullable=False),
    sa.Column("position", sa.BigInteger, nullable=False, comment="later rules win"),
    sa.Column("created_at_ms", Millis, nullable=False),
    sa.PrimaryKeyConstraint("org_id", "id"),
    sa.ForeignKeyConstraint(["org_id", "team_id"], ["teams.org_id", "teams.id"]),
)
