"""Each code on its own copy of one seed, at its own schema (``--migrated-copy``).

When the baseline revision's schema is older than the current code's (issue 14's baseline
``3a67ce3`` lacks migration 0014), neither server reads the other's database. With
``--baseline REV --migrated-copy``, the baseline's code migrates and seeds a database at its
own schema (``<data dir>/baseline-<commit>/sqlite.db``, ``cipulse_bench_read_<commit>``) and
refreshes its rollups; the database is copied (SQLite: the file, after a checkpoint;
PostgreSQL: ``CREATE DATABASE … TEMPLATE``) and the current code migrates the copy and
refreshes its rollups to completion (then ``VACUUM (ANALYZE)`` on PostgreSQL). The baseline's
server reads the original, the current code's the copy. ``same_data`` checks through the API
that both hold the same runs before anything is timed."""

from __future__ import annotations

import sqlite3
import subprocess
import time
from collections.abc import Iterator, Mapping
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import psycopg
from psycopg import sql

from bench import databases, read_data, read_http
from bench.databases import BenchDatabase
from bench.read_data import SeededDatabase
from bench.servers import Code

COPY_SUFFIX = "current"  # the copy: sqlite-current.db, cipulse_bench_read_<commit>_current


@dataclass(frozen=True, slots=True)
class Served:
    """The seed and what each code reads: the same database, or the seed and its copy."""

    seeded: SeededDatabase  # the seed (at the baseline's schema with --migrated-copy)
    current: BenchDatabase  # what the current code reads
    baseline: BenchDatabase  # what the baseline's code reads

    @property
    def copied(self) -> bool:
        return self.current != self.baseline


def prepare(kind: str, runs: int, data_dir: Path, reuse: bool, baseline: Code | None) -> Served:
    """The seeded database, rollups settled, read by both codes; or, with ``baseline``
    (``--migrated-copy``), the baseline's seed and the current code's migrated copy of it."""
    if baseline is None:
        seeded = read_data.prepare(kind, runs, data_dir, reuse)
        read_data.settle_rollups(seeded.database)
        return Served(seeded, seeded.database, seeded.database)
    revision = baseline.revision or "baseline"
    seeded = read_data.prepare(
        kind,
        runs,
        data_dir / f"baseline-{revision}",
        reuse,
        f"{read_data.POSTGRES_DATABASE}_{revision}",
        code=baseline,
    )
    read_data.settle_rollups(seeded.database, baseline)
    started = time.perf_counter()
    copy = _copy_of(seeded.database)
    if reuse and read_data.contents(copy) == read_data.contents(seeded.database):
        print(f"{kind}: reusing the current code's copy, {copy.url}", flush=True)
    else:
        _copy(seeded.database, copy)
    read_data.migrate(copy)
    read_data.settle_rollups(copy)
    if kind == "postgresql":
        read_data.vacuum_analyze(copy)
    print(
        f"{kind}: the copy migrated by the current code and its rollups refreshed in "
        f"{time.perf_counter() - started:.1f}s",
        flush=True,
    )
    return Served(seeded, copy, seeded.database)


def _copy_of(database: BenchDatabase) -> BenchDatabase:
    """Where the copy of ``database`` goes: beside it, named with ``COPY_SUFFIX``."""
    if database.kind == "sqlite":
        source = read_data.sqlite_path(database)
        return BenchDatabase(
            "sqlite", f"sqlite:///{source.with_name(source.stem)}-{COPY_SUFFIX}.db"
        )
    name = f"{urlsplit(database.url).path.lstrip('/')}_{COPY_SUFFIX}"
    return BenchDatabase("postgresql", databases._with_database(databases.ADMIN_URL, name))


def _copy(database: BenchDatabase, copy: BenchDatabase) -> None:
    """Copy ``database`` to ``copy``, replacing an earlier one."""
    if database.kind == "sqlite":
        source = read_data.sqlite_path(database)
        with closing(sqlite3.connect(source)) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        target = read_data.sqlite_path(copy)
        for suffix in ("", "-wal", "-shm", "-writer.lock", "-refresher.lock"):
            Path(f"{target}{suffix}").unlink(missing_ok=True)
        subprocess.run(["cp", "--sparse=always", str(source), str(target)], check=True)
        return
    template = urlsplit(database.url).path.lstrip("/")
    name = urlsplit(copy.url).path.lstrip("/")
    with psycopg.connect(databases.ADMIN_URL, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(template)
            )
        )


def same_data(served: Served, baseline: httpx.Client, current: httpx.Client) -> str:
    """What shows both codes read the same runs: the rows each database holds and, through
    each server's API, the summary over 30 and 90 days and every pipeline's run count.
    RuntimeError when the runs differ; figures that differ are named, not fatal."""
    held = [databases.stored(served.baseline), databases.stored(served.current)]
    if held[0] != held[1]:
        raise RuntimeError(f"the two databases differ: baseline {held[0]}, current {held[1]}")
    theirs, ours = (_figures(client) for client in (baseline, current))
    shared = sorted(theirs.keys() & ours.keys())
    runs = [name for name in shared if name.endswith(":runs")]
    if not runs or any(theirs[name] != ours[name] for name in runs):
        pairs = ", ".join(f"{name} {theirs[name]} / {ours[name]}" for name in runs)
        raise RuntimeError(f"the two servers count different runs: {pairs or 'none compared'}")
    differing = [name for name in shared if theirs[name] != ours[name]]
    counted = ", ".join(
        f"{name} {ours[name]:,}" for name in runs if not name.startswith("pipeline ")
    )
    text = (
        f"both databases hold {held[0].runs:,} runs and {held[0].jobs:,} jobs; through the API "
        f"both servers count the same runs ({counted}, and per pipeline) and agree on "
        f"{len(shared) - len(differing)} of {len(shared)} figures compared "
        "(every number of /analytics/summary over 30 and 90 days, runs per pipeline)"
    )
    if differing:
        text += "; they differ on " + "; ".join(
            f"{name}: {theirs[name]} / {ours[name]}" for name in differing
        )
    return text


def _figures(client: httpx.Client) -> dict[str, Any]:
    """Every number in the summaries over 30 and 90 days, and each pipeline's runs over 90
    days; the windows end at the start of this hour, so that no figure depends on when the
    request came (a window that ends later is cut to the time elapsed)."""
    until = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    found: dict[str, Any] = {}
    for days in read_http.WINDOW_DAYS:
        params = {"since": _iso(until - timedelta(days=days)), "until": _iso(until)}
        summary = read_http.get_json(client, "/analytics/summary", params)
        found.update(numbers_in(summary, f"summary {days}d"))
    params = {"since": _iso(until - timedelta(days=90)), "until": _iso(until)}
    for item in read_http.get_all_items(client, "/pipelines", params):
        found[f"pipeline {item['id']} 90d:runs"] = item["runs"]
    found["pipelines 90d:runs"] = sum(
        value for name, value in found.items() if name.startswith("pipeline ")
    )
    return found


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def numbers_in(value: Any, path: str) -> Iterator[tuple[str, Any]]:
    """(path, number) of every number in a JSON answer, runs counts ending in ``:runs``."""
    if isinstance(value, Mapping):
        for key, inner in value.items():
            yield from numbers_in(inner, f"{path}.{key}" if key != "runs" else f"{path}:runs")
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            yield from numbers_in(inner, f"{path}[{index}]")
    elif isinstance(value, int | float) and not isinstance(value, bool):
        yield path, value
