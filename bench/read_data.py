"""The seeded databases of the read benchmark: a SQLite file in the data directory and the
PostgreSQL database ``cipulse_bench_read``, migrated and filled by ``cipulse demo seed``, kept
afterwards so that ``--reuse`` can skip the seed when the database holds the runs asked for."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import time
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

from bench import databases
from bench.databases import BenchDatabase
from bench.servers import Code, cipulse_command

ORG = "demo"
SEED_DAYS = 90
POSTGRES_DATABASE = "cipulse_bench_read"
SQLITE_FILE = "sqlite.db"
_CONNECT_TIMEOUT_SECONDS = 3
_COMMAND_TIMEOUT_SECONDS = 120
_SEED_SUMMARY = re.compile(
    r"seeded (?P<runs>\d+) runs \((?P<jobs>\d+) jobs\) in (?P<seconds>[\d.]+)s"
)


@dataclass(frozen=True, slots=True)
class Seeding:
    """One ``cipulse demo seed``: timed from outside, and its own summary when it printed one."""

    runs: int
    now: datetime  # the seed's --now: the end of the generated history
    wall_seconds: float  # the whole process, start-up included
    jobs: int | None = None
    seconds: float | None = None  # as cipulse reports it

    @property
    def runs_per_second(self) -> float:
        return self.runs / self.wall_seconds if self.wall_seconds > 0 else 0.0

    @property
    def reported_runs_per_second(self) -> float | None:
        return self.runs / self.seconds if self.seconds else None


@dataclass(frozen=True, slots=True)
class SeededDatabase:
    database: BenchDatabase
    runs: int  # run attempts stored
    data_end: datetime | None  # the latest run's start
    seeding: Seeding | None  # None when an earlier seed was reused

    def describe(self) -> str:
        end = self.data_end.strftime("%Y-%m-%d %H:%M UTC") if self.data_end else "no runs"
        return f"{self.runs:,} runs, the latest started {end}"


@dataclass(frozen=True, slots=True)
class Contents:
    runs: int
    latest_start_ms: int | None


def prepare(
    kind: str,
    runs: int,
    data_dir: Path,
    reuse: bool,
    postgres_database: str = POSTGRES_DATABASE,
    code: Code | None = None,
) -> SeededDatabase:
    """The database of ``kind`` migrated and holding ``runs`` seeded runs: the one already
    there when ``reuse`` and it holds exactly that many, else a fresh one seeded now; migrated
    and seeded by ``code`` (default: the current code)."""
    database = _database(kind, data_dir, postgres_database)
    found = contents(database) if reuse else None
    if found is not None and found.runs == runs:
        _run_cipulse(database, "migrate", timeout=None, code=code)
        seeded = SeededDatabase(database, found.runs, _moment(found.latest_start_ms), None)
        print(f"{kind}: reusing {_place(database)}: {seeded.describe()}", flush=True)
        _warn_if_stale(kind, seeded)
        return seeded
    if reuse:
        held = "nothing usable" if found is None else f"{found.runs:,} runs"
        print(f"{kind}: not reusing {_place(database)}: it holds {held}", flush=True)
    _recreate(database, data_dir)
    _run_cipulse(database, "migrate", timeout=None, code=code)
    seeding = seed(database, runs, code)
    if kind == "postgresql":
        vacuum_analyze(database)
    stored = contents(database)
    if stored is None or stored.runs != runs:
        held = "nothing" if stored is None else f"{stored.runs:,} runs"
        raise RuntimeError(f"{kind}: seeded {runs:,} runs but the database holds {held}")
    return SeededDatabase(database, stored.runs, _moment(stored.latest_start_ms), seeding)


def settle_rollups(database: BenchDatabase, code: Code | None = None) -> None:
    """``cipulse rollups refresh`` to completion, so that servers with their refresher off
    (the ``--baseline`` comparison, bench/paired.py) read settled rollups and never write them."""
    _run_cipulse(database, "rollups", "refresh", timeout=None, code=code)


def migrate(database: BenchDatabase, code: Code | None = None) -> None:
    """``cipulse migrate`` with ``code``'s migrations (default: the current code's)."""
    _run_cipulse(database, "migrate", timeout=None, code=code)


def seed(database: BenchDatabase, runs: int, code: Code | None = None) -> Seeding:
    """``cipulse demo seed`` ending at the current hour, its progress echoed as it comes."""
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    arguments = ["demo", "seed", "--org", ORG, "--runs", str(runs), "--days", str(SEED_DAYS)]
    arguments += ["--now", now.strftime("%Y-%m-%dT%H:%M:%S")]
    print(f"{database.kind}: cipulse {' '.join(arguments)}", flush=True)
    started = time.perf_counter()
    with subprocess.Popen(
        cipulse_command(*arguments),
        env={**os.environ, **databases.environment(database, code)},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    ) as process:
        assert process.stdout is not None
        lines = []
        for line in process.stdout:
            lines.append(line.rstrip())
            print(f"    {lines[-1]}", flush=True)
    wall_seconds = time.perf_counter() - started
    if process.returncode != 0:
        tail = "\n".join(lines[-20:])
        raise RuntimeError(f"cipulse demo seed failed ({process.returncode}):\n{tail}")
    summary = _SEED_SUMMARY.search("\n".join(lines))
    seeding = Seeding(
        runs=runs,
        now=now,
        wall_seconds=wall_seconds,
        jobs=int(summary["jobs"]) if summary else None,
        seconds=float(summary["seconds"]) if summary else None,
    )
    print(
        f"{database.kind}: seeded {runs:,} runs in {wall_seconds:.1f}s: "
        f"{seeding.runs_per_second:,.0f} runs/s with process start-up",
        flush=True,
    )
    return seeding


def read_key(database: BenchDatabase, code: Code | None = None) -> str:
    """A new key with the ``read`` scope for the seeded organisation (one per invocation),
    made by ``code`` (default: the current code)."""
    arguments = ("keys", "create", "--org", ORG, "--name", "bench", "--scope", "read")
    key = _run_cipulse(database, *arguments, code=code).strip()
    if not key:
        raise RuntimeError("cipulse keys create printed no key")
    return key


def contents(database: BenchDatabase) -> Contents | None:
    """Runs stored and the latest start, or None when there is no seeded database."""
    query = "SELECT count(*), max(started_at_ms) FROM run_attempts"
    try:
        if database.kind == "sqlite":
            path = sqlite_path(database)
            if not path.exists():
                return None
            with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
                row = conn.execute(query).fetchone()
        else:
            with psycopg.connect(database.url, connect_timeout=_CONNECT_TIMEOUT_SECONDS) as pg:
                row = pg.execute(query).fetchone()
    except (sqlite3.Error, psycopg.Error):
        return None
    if row is None:
        return None
    return Contents(int(row[0]), None if row[1] is None else int(row[1]))


def organisation_id(database: BenchDatabase) -> str:
    """The id of the seeded organisation (SQLite)."""
    with closing(sqlite3.connect(f"file:{sqlite_path(database)}?mode=ro", uri=True)) as conn:
        row = conn.execute("SELECT id FROM organisations WHERE name = ?", (ORG,)).fetchone()
    if row is None:
        raise RuntimeError(f"no organisation {ORG!r} in {sqlite_path(database)}")
    return str(row[0])


def sqlite_path(database: BenchDatabase) -> Path:
    return Path(database.url.removeprefix("sqlite:///"))


def _database(kind: str, data_dir: Path, postgres_database: str) -> BenchDatabase:
    if kind == "sqlite":
        return BenchDatabase("sqlite", f"sqlite:///{(data_dir / SQLITE_FILE).resolve()}")
    parts = urlsplit(databases.ADMIN_URL)
    return BenchDatabase("postgresql", urlunsplit(parts._replace(path=f"/{postgres_database}")))


def _recreate(database: BenchDatabase, data_dir: Path) -> None:
    if database.kind == "sqlite":
        data_dir.mkdir(parents=True, exist_ok=True)
        databases.fresh_sqlite(data_dir, Path(SQLITE_FILE).stem)
        return
    with psycopg.connect(
        databases.ADMIN_URL, autocommit=True, connect_timeout=_CONNECT_TIMEOUT_SECONDS
    ) as conn:
        name = sql.Identifier(urlsplit(database.url).path.lstrip("/"))
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(name))


def vacuum_analyze(database: BenchDatabase) -> None:
    """What autovacuum does some time after a bulk load, done now so that every measurement
    sees the same planner statistics and visibility map."""
    started = time.perf_counter()
    with psycopg.connect(database.url, autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE)")
    print(
        f"postgresql: VACUUM (ANALYZE) of {_place(database)} in "
        f"{time.perf_counter() - started:.1f}s",
        flush=True,
    )


def _run_cipulse(
    database: BenchDatabase,
    *arguments: str,
    timeout: float | None = _COMMAND_TIMEOUT_SECONDS,
    code: Code | None = None,
) -> str:
    completed = subprocess.run(
        cipulse_command(*arguments),
        env={**os.environ, **databases.environment(database, code)},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(
            f"cipulse {' '.join(arguments)} failed ({completed.returncode}):\n{completed.stderr}"
        )
    return completed.stdout


def _warn_if_stale(kind: str, seeded: SeededDatabase) -> None:
    """The windows end now: a seed from days ago leaves part of them empty."""
    if seeded.data_end is None:
        return
    age = datetime.now(UTC) - seeded.data_end
    if age > timedelta(days=1):
        print(
            f"{kind}: warning: the data ends {age.days} day(s) ago, so the 30-day window holds "
            "less than 30 days of runs; run without --reuse to seed afresh",
            flush=True,
        )


def _moment(milliseconds: int | None) -> datetime | None:
    return None if milliseconds is None else datetime.fromtimestamp(milliseconds / 1000, UTC)


def _place(database: BenchDatabase) -> str:
    if database.kind == "sqlite":
        return str(sqlite_path(database))
    return f"database {urlsplit(database.url).path.lstrip('/')}"
