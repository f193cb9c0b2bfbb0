"""The yardstick for ``/analytics/jobs``: the same per-job summary computed by DuckDB over the
seeded SQLite data, when the optional ``duckdb`` package is installed.

DuckDB reads the SQLite file itself through its ``sqlite`` extension when that can be loaded
(or installed); otherwise (no internet, say) the columns the query needs are first copied into
DuckDB tables, untimed, and only the query is timed."""

from __future__ import annotations

import csv
import importlib
import sqlite3
import tempfile
import time
from collections.abc import Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol

from bench.paired import nearest_rank
from bench.read_http import WARMUP_REQUESTS, Window

#: Per (pipeline, job definition): jobs, failures, total seconds, and the p50/p95 duration of
#: the successful ones, over the jobs of the attempts that started in the window.
QUERY = """
SELECT a.pipeline_id, j.definition_key,
       count(*) AS jobs,
       count(*) FILTER (WHERE j.status IN ('failure', 'timed_out')) AS failures,
       coalesce(sum(j.duration_seconds), 0) AS total_duration_seconds,
       quantile_disc(j.duration_seconds, 0.5) FILTER (WHERE j.status = 'success') AS p50,
       quantile_disc(j.duration_seconds, 0.95) FILTER (WHERE j.status = 'success') AS p95
FROM {schema}run_attempts AS a
JOIN {schema}jobs AS j ON j.attempt_id = a.id
WHERE a.org_id = ? AND a.started_at_ms >= ? AND a.started_at_ms < ?
GROUP BY a.pipeline_id, j.definition_key
"""

#: The columns copied when DuckDB cannot read the SQLite file itself.
_COPIED = {
    "run_attempts": {
        "id": "VARCHAR",
        "org_id": "VARCHAR",
        "pipeline_id": "VARCHAR",
        "started_at_ms": "BIGINT",
    },
    "jobs": {
        "attempt_id": "VARCHAR",
        "definition_key": "VARCHAR",
        "status": "VARCHAR",
        "duration_seconds": "DOUBLE",
    },
}


class Connection(Protocol):
    """The part of ``duckdb.DuckDBPyConnection`` used here."""

    def execute(self, query: str, parameters: object = ..., /) -> Connection: ...

    def fetchall(self) -> list[tuple[Any, ...]]: ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class DuckdbResult:
    version: str
    mode: str  # how DuckDB read the data
    milliseconds: tuple[float, ...]
    groups: int  # (pipeline, job) rows answered
    agreement: str  # how the answer compares with cipulse's

    @property
    def p50_ms(self) -> float | None:
        return nearest_rank(self.milliseconds, 50)


def load_duckdb() -> ModuleType | None:
    try:
        return importlib.import_module("duckdb")
    except ImportError:
        return None


def compare(
    duckdb: ModuleType,
    sqlite_file: Path,
    org_id: str,
    window: Window,
    repeat: int,
    reference: Sequence[Mapping[str, Any]],
) -> DuckdbResult:
    """Time QUERY like the HTTP cases (warm-ups, then ``repeat`` runs) and check its groups and
    counts against ``reference``, cipulse's ``/analytics/jobs`` items for the same window."""
    connection: Connection = duckdb.connect()
    try:
        with tempfile.TemporaryDirectory(prefix="duckdb-", dir=sqlite_file.parent) as scratch:
            mode, schema = _attach_or_copy(duckdb, connection, sqlite_file, Path(scratch))
        parameters = [org_id, _ms(window.since), _ms(window.until)]
        query = QUERY.format(schema=schema)
        milliseconds = []
        rows: list[tuple[Any, ...]] = []
        for number in range(WARMUP_REQUESTS + repeat):
            started = time.perf_counter()
            rows = connection.execute(query, parameters).fetchall()
            if number >= WARMUP_REQUESTS:
                milliseconds.append((time.perf_counter() - started) * 1000)
    finally:
        connection.close()
    return DuckdbResult(
        str(duckdb.__version__), mode, tuple(milliseconds), len(rows), _agreement(rows, reference)
    )


def _attach_or_copy(
    duckdb: ModuleType, connection: Connection, sqlite_file: Path, scratch: Path
) -> tuple[str, str]:
    """(how the data is read, the schema prefix of its tables)."""
    try:
        _load_sqlite_extension(duckdb, connection)
        literal = str(sqlite_file).replace("'", "''")
        connection.execute(f"ATTACH '{literal}' AS cipulse (TYPE sqlite, READ_ONLY)")
    except duckdb.Error as exc:
        reason = str(exc).strip().splitlines()[0]
        print(f"  DuckDB cannot read SQLite files ({reason[:160]}); copying the data", flush=True)
        seconds, rows = _copy(connection, sqlite_file, scratch)
        print(f"  copied {rows:,} rows into DuckDB in {seconds:.1f}s (untimed)", flush=True)
        return f"in-memory tables copied from SQLite ({rows:,} rows, untimed)", ""
    return "over the SQLite file (sqlite extension)", "cipulse."


def _load_sqlite_extension(duckdb: ModuleType, connection: Connection) -> None:
    """LOAD when installed, else INSTALL (a download) and LOAD: raises when neither works."""
    connection.execute("SET autoinstall_known_extensions = false")
    try:
        connection.execute("LOAD sqlite")
    except duckdb.Error:
        connection.execute("INSTALL sqlite")
        connection.execute("LOAD sqlite")


def _copy(connection: Connection, sqlite_file: Path, scratch: Path) -> tuple[float, int]:
    """Copy the columns QUERY reads through CSV files; (seconds, rows copied)."""
    started = time.perf_counter()
    rows = 0
    with closing(sqlite3.connect(f"file:{sqlite_file}?mode=ro", uri=True)) as source:
        for table, columns in _COPIED.items():
            path = scratch / f"{table}.csv"
            with path.open("w", newline="") as out:
                cursor = source.execute(f"SELECT {', '.join(columns)} FROM {table}")
                writer = csv.writer(out)
                while batch := cursor.fetchmany(100_000):
                    writer.writerows(batch)
                    rows += len(batch)
            types = ", ".join(f"'{name}': '{kind}'" for name, kind in columns.items())
            connection.execute(
                f"CREATE TABLE {table} AS SELECT * FROM read_csv(?, header = false, "
                f"columns = {{{types}}})",
                [str(path)],
            )
            path.unlink()
    return time.perf_counter() - started, rows


def _agreement(rows: Sequence[tuple[Any, ...]], reference: Sequence[Mapping[str, Any]]) -> str:
    """Same (pipeline, job) groups with the same job and failure counts as cipulse?"""
    duckdb_counts = {(str(row[0]), str(row[1])): (int(row[2]), int(row[3])) for row in rows}
    try:
        cipulse_counts = {
            (str(item["pipeline_id"]), str(item["definition_key"])): (
                int(item["runs"]),
                int(item["failure_count"]),
            )
            for item in reference
        }
    except (KeyError, TypeError, ValueError) as exc:
        return f"not compared: unexpected items from cipulse ({exc!r})"
    if duckdb_counts == cipulse_counts:
        return f"same {len(rows)} (pipeline, job) groups and job/failure counts as cipulse"
    differing = {
        key
        for key in duckdb_counts.keys() | cipulse_counts.keys()
        if duckdb_counts.get(key) != cipulse_counts.get(key)
    }
    return (
        f"DIFFERS from cipulse: {len(differing)} of {len(duckdb_counts | cipulse_counts)} "
        f"(pipeline, job) groups have other job/failure counts, e.g. {sorted(differing)[0]}"
    )


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)
