"""An organisation's flaky test rules: read (or the defaults) and set.

One row per organisation in ``test_rule_settings``, upserted."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cipulse.domain.flaky_rules import DEFAULT_RULES, RuleSettings
from cipulse.storage.dialect import insert_for
from cipulse.storage.schema_test_rules import test_rule_settings


def settings(conn: Connection, org_id: str) -> RuleSettings:
    s = test_rule_settings
    row = conn.execute(
        sa.select(s.c.rules, s.c.clear_after_passes, s.c.max_flip_failures).where(
            s.c.org_id == org_id
        )
    ).first()
    if row is None:
        return DEFAULT_RULES
    return RuleSettings(tuple(row.rules), row.clear_after_passes, row.max_flip_failures)


def set_settings(
    conn: Connection, org_id: str, chosen: RuleSettings, now_ms: int, by: str | None
) -> None:
    values = {
        "org_id": org_id,
        "rules": "".join(chosen.rules),
        "clear_after_passes": chosen.clear_after_passes,
        "max_flip_failures": chosen.max_flip_failures,
        "updated_at_ms": now_ms,
        "updated_by": by,
    }
    insert = insert_for(conn)(test_rule_settings).values(**values)
    update = {k: v for k, v in values.items() if k != "org_id"}
    conn.execute(insert.on_conflict_do_update(index_elements=["org_id"], set_=update))
