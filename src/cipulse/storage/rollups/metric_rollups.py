"""Custom metrics' stored histograms per day, read back.

The ``metric_rollups`` table: per pipeline, day and branch scope, a histogram of each
metric key's values, overall and per value of each tag of the events carrying them."""

from __future__ import annotations

from typing import NamedTuple

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cipulse.domain.histogram import Histogram
from cipulse.storage.rollups.figure_reads import Selection
from cipulse.storage.rollups.keys import MetricKey
from cipulse.storage.schema import metric_rollups


class StoredMetric(NamedTuple):
    """A ``metric_rollups`` row: its period (a day), its key and its values' histogram."""

    period: int
    key: MetricKey
    histogram: Histogram


def metric_histograms(
    conn: Connection,
    org_id: str,
    selection: Selection,
    metric_key: str | None = None,
    tag_key: str | None = None,
) -> list[StoredMetric]:
    """The stored metric rows of the selection; of one metric key (and its values overall
    plus per value of one tag key) when given."""
    m = metric_rollups
    found: list[StoredMetric] = []
    for condition in selection.conditions(m, org_id):
        found += _metric_rows(conn, condition, metric_key, tag_key)
    return found


def _metric_rows(
    conn: Connection,
    condition: sa.ColumnElement[bool],
    metric_key: str | None,
    tag_key: str | None,
) -> list[StoredMetric]:
    m = metric_rollups
    query = sa.select(
        m.c.period,
        m.c.pipeline_id,
        m.c.metric_key,
        m.c.tag_key,
        m.c.tag_value,
        m.c.value_count,
        m.c.value_sum,
        m.c.histogram,
    ).where(condition)
    if metric_key is not None:
        query = query.where(m.c.metric_key == metric_key, m.c.tag_key.in_(["", tag_key or ""]))
    found = []
    for period, pipeline_id, key, t_key, t_value, count, total, encoded in conn.execute(query):
        histogram = Histogram()
        histogram.merge_encoded(orjson.loads(encoded), count, total)
        found.append(StoredMetric(period, (str(pipeline_id), key, t_key, t_value), histogram))
    return found


def metric_keys(conn: Connection, org_id: str, selection: Selection) -> tuple[set[str], set[str]]:
    """The metric keys and tag keys of the stored metric rows of the selection."""
    m = metric_rollups
    metrics, tags = set(), set()
    for condition in selection.conditions(m, org_id):
        query = sa.select(m.c.metric_key, m.c.tag_key).where(condition).distinct()
        for metric_key, tag_key in conn.execute(query):
            metrics.add(metric_key)
            if tag_key:
                tags.add(tag_key)
    return metrics, tags
