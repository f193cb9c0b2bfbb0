"""The pipeline that last ran each test, and the repository of test cases.

What a test's owner needs besides the rules (``domain/test_ownership.py``): the pipeline of
the newest report holding the test (one probe of the index on (org, test case, time) per
test, then the report and its attempt by key) and the full name of its repository."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cipulse.domain.ownership import PipelineFacts
from cipulse.storage.schema import pipelines, repositories, run_attempts
from cipulse.storage.schema_tests import test_reports, test_results

r, t, a, p = test_reports, test_results, run_attempts, pipelines


def last_pipelines(
    conn: Connection, org_id: str, case_ids: Sequence[int]
) -> dict[int, PipelineFacts]:
    """Per test case, the pipeline of the newest report that held it and was joined to its
    run (a case only in reports waiting for their run has none)."""
    found: dict[int, PipelineFacts] = {}
    for case_id in case_ids:
        newest = (
            sa.select(t.c.report_id)
            .where(t.c.org_id == org_id, t.c.test_case_id == case_id)
            .order_by(t.c.at_ms.desc())
            .limit(1)
            .scalar_subquery()
        )
        query = (
            sa.select(p.c.id, repositories.c.full_name, p.c.pipeline_key, p.c.name)
            .select_from(
                r.join(a, sa.and_(a.c.org_id == r.c.org_id, a.c.id == r.c.attempt_id))
                .join(p, sa.and_(p.c.org_id == a.c.org_id, p.c.id == a.c.pipeline_id))
                .join(
                    repositories,
                    sa.and_(
                        repositories.c.org_id == p.c.org_id,
                        repositories.c.id == p.c.repository_id,
                    ),
                )
            )
            .where(r.c.org_id == org_id, r.c.id == newest)
        )
        row = conn.execute(query).first()
        if row is not None:
            found[case_id] = PipelineFacts(str(row[0]), row[1], row[2], row[3])
    return found


def repository_names(
    conn: Connection, org_id: str, repository_ids: Sequence[str]
) -> dict[str, str]:
    """The full names of repositories by id."""
    query = sa.select(repositories.c.id, repositories.c.full_name).where(
        repositories.c.org_id == org_id, repositories.c.id.in_(list(set(repository_ids)))
    )
    return {str(row[0]): row[1] for row in conn.execute(query)}
