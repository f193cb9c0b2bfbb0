"""Ingest and mixed load on the seeded million-run database, measured every five seconds:
ingest throughput and p99 (wrk posting new runs of today), reads answered, the server's
resident memory and (SQLite) the size of the write-ahead log.

    python -m bench.load                      # both databases, ~35 minutes
    python -m bench.load --only sqlite --minutes 2 --off-minutes 1 --no-baseline

Per database, each phase on its own copy of the seeded database (``bench.read``'s, seeded
when missing), one server with one worker:

1. **ingest, refresher off** (``CIPULSE_ROLLUP_INTERVAL_SECONDS=0``): the rate ingest reaches
   when nothing else runs;
2. **ingest, refresher on**: every five-second slice against phase 1's median (the target: no
   slice below 0.50), peak resident memory (the target: under 250 MiB);
3. **mixed, refresher on**: ingest beside ``--readers`` read clients cycling through the read
   API's heavier endpoints, for ``--minutes``: the log's peak and, after ``--idle-seconds``,
   idle size (targets, SQLite: under 64 MiB and 4 MiB), memory (under 250 MiB);
4. **mixed, baseline**: the same with the code before the hardening (``--baseline``, a git
   worktree, run on a copy migrated down to its schema): phase 3's ingest rate against it (the
   target: within 10%), its log and memory beside phase 3's."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from psycopg import sql

from bench import databases, payload, read_data
from bench.databases import BenchDatabase
from bench.read import DEFAULT_DATA_DIR
from bench.servers import (
    Code,
    checked_out,
    cipulse_command,
    cipulse_server_command,
    current_code,
    free_port,
    running,
)
from bench.wrk import Load, ensure_wrk, run_wrk

RESULTS = Path(__file__).resolve().parent / "results"
#: The code before issue 11 (the refresher's redesign, the bounded write-ahead log).
DEFAULT_BASELINE = "5d2c45f"
SLICE_SECONDS = 5
READ_PATHS = (
    "/api/v1/analytics/summary",
    "/api/v1/pipelines?limit=50",
    "/api/v1/analytics/jobs?limit=50",
    "/api/v1/runs?limit=50",
    "/api/v1/analytics/flaky",
    "/api/v1/analytics/timeseries?metric=runs",
)


@dataclass(frozen=True, slots=True)
class Slice:
    seconds: float
    ingest_per_second: float
    p99_ms: float
    failed: int
    reads_per_second: float
    rss_mib: float
    wal_mib: float | None


@dataclass(slots=True)
class Phase:
    name: str
    slices: list[Slice] = field(default_factory=list)
    peak_rss_mib: float = 0.0
    idle_rss_mib: float = 0.0
    idle_wal_mib: float | None = None

    @property
    def median_rate(self) -> float:
        return statistics.median(s.ingest_per_second for s in self.slices) if self.slices else 0

    @property
    def peak_wal_mib(self) -> float | None:
        sizes = [s.wal_mib for s in self.slices if s.wal_mib is not None]
        return max(sizes) if sizes else None


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.load", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--only", choices=("sqlite", "postgresql"))
    parser.add_argument("--minutes", type=float, default=5, help="mixed-load phases [5]")
    parser.add_argument("--off-minutes", type=float, default=2, help="ingest-only phases [2]")
    parser.add_argument("--idle-seconds", type=float, default=30, help="idle after load [30]")
    parser.add_argument("--runs", type=int, default=1_000_000, help="seeded runs [1000000]")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    parser.add_argument("--baseline", default=DEFAULT_BASELINE, help="revision [5d2c45f]")
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections [16]")
    parser.add_argument("--readers", type=int, default=8, help="read clients [8]")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    options = parse_arguments(argv)
    wrk = ensure_wrk()
    work = RESULTS / "load"
    shutil.rmtree(work, ignore_errors=True)
    (work / "logs").mkdir(parents=True)
    kinds = [options.only] if options.only else ["sqlite", "postgresql"]
    lines = [f"# Mixed load, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC", ""]
    with ExitStack() as stack:
        codes = [current_code()]
        if not options.no_baseline:
            codes.append(stack.enter_context(checked_out(options.baseline, work)))
        for kind in kinds:
            seeded = read_data.prepare(kind, options.runs, options.data_dir, reuse=True)
            phases = run_phases(wrk, options, seeded.database, codes, work)
            lines += report(kind, seeded.describe(), phases, codes)
    text = "\n".join(lines) + "\n"
    (RESULTS / "load.md").write_text(text)
    print(text)
    return 0


def run_phases(
    wrk: str, options: argparse.Namespace, seeded: BenchDatabase, codes: list[Code], work: Path
) -> list[Phase]:
    plans = [
        ("ingest, refresher off", codes[0], False, 0, options.off_minutes),
        ("ingest, refresher on", codes[0], True, 0, options.off_minutes),
        ("mixed, refresher on", codes[0], True, options.readers, options.minutes),
    ]
    plans += [
        (f"mixed, baseline {code.revision}", code, True, options.readers, options.minutes)
        for code in codes[1:]
    ]
    phases = []
    for name, code, refresher, readers, minutes in plans:
        if minutes <= 0:
            continue
        print(f"{seeded.kind}: {name}, {minutes:g} min", flush=True)
        with working_copy(seeded, code) as database:
            phases.append(
                run_phase(wrk, options, database, code, name, refresher, readers, minutes, work)
            )
    return phases


@contextmanager
def working_copy(seeded: BenchDatabase, code: Code) -> Iterator[BenchDatabase]:
    """A copy of the seeded database at ``code``'s schema, dropped afterwards."""
    if seeded.kind == "sqlite":
        source = read_data.sqlite_path(seeded)
        target = source.with_name("load-copy.db")
        for suffix in ("", "-wal", "-shm"):
            Path(f"{target}{suffix}").unlink(missing_ok=True)
        subprocess.run(["cp", "--sparse=always", str(source), str(target)], check=True)
        copy = BenchDatabase("sqlite", f"sqlite:///{target}")
    else:
        name = "cipulse_bench_load"
        template = read_data.POSTGRES_DATABASE
        with psycopg.connect(databases.ADMIN_URL, autocommit=True) as conn:
            _drop(conn, name)
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                (template,),
            )
            create = sql.SQL("CREATE DATABASE {} TEMPLATE {}")
            conn.execute(create.format(sql.Identifier(name), sql.Identifier(template)))
        copy = BenchDatabase("postgresql", databases._with_database(databases.ADMIN_URL, name))
    try:
        schema_of(copy, code)
        yield copy
    finally:
        if copy.kind == "sqlite":
            for suffix in ("", "-wal", "-shm", "-writer.lock", "-refresher.lock"):
                Path(f"{read_data.sqlite_path(copy)}{suffix}").unlink(missing_ok=True)
        else:
            with psycopg.connect(databases.ADMIN_URL, autocommit=True) as conn:
                _drop(conn, "cipulse_bench_load")


def _drop(conn: psycopg.Connection[tuple[object, ...]], name: str) -> None:
    conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def schema_of(database: BenchDatabase, code: Code) -> None:
    """Bring the copy to ``code``'s newest revision: down with the current code's migrations
    (an older revision cannot go past its own head), then up with ``code``'s."""
    head = subprocess.run(
        [
            sys.executable,
            "-c",
            "from cipulse.storage.migrate import head_revision as h; print(h())",
        ],
        env={**os.environ, **code.environment()},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    script = (
        "import sys; from alembic import command; from cipulse.settings import Settings; "
        "from cipulse.storage.database import Database; "
        "from cipulse.storage.migrate import alembic_config; "
        "database = Database(Settings(database_url=sys.argv[1])); config = alembic_config(); "
        "conn = database.engine.connect(); config.attributes['connection'] = conn; "
        "command.downgrade(config, sys.argv[2]) if sys.argv[2] != 'head' else None; "
        "conn.commit()"
    )
    subprocess.run([sys.executable, "-c", script, database.url, head], check=True)
    _cipulse(database, code, "migrate")


def run_phase(
    wrk: str,
    options: argparse.Namespace,
    database: BenchDatabase,
    code: Code,
    name: str,
    refresher: bool,
    reader_count: int,
    minutes: float,
    work: Path,
) -> Phase:
    ingest_key = _cipulse(database, code, "keys", "create", "--org", read_data.ORG).strip()
    read_key = _cipulse(
        database, code, "keys", "create", "--org", read_data.ORG, "--scope", "read"
    ).strip()
    body = work / "body.json"
    port = free_port()
    env = {
        **databases.environment(database, code),
        "CIPULSE_ROLLUP_INTERVAL_SECONDS": "2" if refresher else "0",
    }
    log = work / "logs" / f"{database.kind}-{name.replace(' ', '-')}.log"
    phase = Phase(name)
    with running(name, cipulse_server_command(port, 1), port, env, log) as server:
        readers = Readers(server.base_url, read_key, reader_count)
        readers.start()
        started = time.monotonic()
        series = 0
        try:
            while time.monotonic() - started < minutes * 60:
                series += 1
                body.write_bytes(todays_body())  # runs of each slice end a little later
                load = Load(2, options.connections, SLICE_SECONDS)
                url = f"{server.base_url}/functions/v1/ingest"
                result = run_wrk(wrk, url, load, body, ingest_key, series)
                rss = resident_mib(server.process.pid)
                phase.peak_rss_mib = max(phase.peak_rss_mib, rss, peak_mib(server.process.pid))
                phase.slices.append(
                    Slice(
                        time.monotonic() - started,
                        result.per_second,
                        result.p99_ms,
                        result.non_200 + sum(result.socket_errors.values()),
                        readers.take() / SLICE_SECONDS,
                        rss,
                        wal_mib(database),
                    )
                )
                print(f"    {_slice_text(phase.slices[-1])}", flush=True)
        finally:
            readers.stop()
        time.sleep(options.idle_seconds)
        phase.idle_rss_mib = resident_mib(server.process.pid)
        phase.peak_rss_mib = max(phase.peak_rss_mib, peak_mib(server.process.pid))
        phase.idle_wal_mib = wal_mib(database)
    return phase


def todays_body() -> bytes:
    """The benchmark's run, started ten minutes ago (today's partition and its hours): a new
    body every slice, so that runs end at different times, as they do."""
    run = payload.example_run()
    started = datetime.now(UTC) - timedelta(minutes=10)
    shift = started - datetime.fromisoformat(str(run["started_at"]))
    for item in (run, *run["jobs"]):
        for key in ("started_at", "completed_at"):
            moment = datetime.fromisoformat(str(item[key])) + shift
            item[key] = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    run["run_id"] = "__RUN_ID__"
    return json.dumps(run, separators=(",", ":")).encode()


class Readers:
    """Read clients cycling through the read API's heavier endpoints."""

    def __init__(self, base_url: str, key: str, count: int) -> None:
        self.base_url = base_url
        self.key = key
        self._stop = threading.Event()
        self._done = 0
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, args=(i,)) for i in range(count)]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()

    def take(self) -> int:
        with self._lock:
            done, self._done = self._done, 0
        return done

    def _run(self, offset: int) -> None:
        index = offset
        while not self._stop.is_set():
            path = READ_PATHS[index % len(READ_PATHS)]
            index += 1
            request = urllib.request.Request(self.base_url + path, headers={"X-API-Key": self.key})
            try:
                with urllib.request.urlopen(request, timeout=60) as response:
                    response.read()
            except OSError:
                time.sleep(0.1)
                continue
            with self._lock:
                self._done += 1


def _group_pids(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.getpgid(int(entry)) == pid:
                    found.append(int(entry))
            except OSError:
                continue
    return found


def _status_kib(pid: int, field_name: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def resident_mib(pid: int) -> float:
    """The largest resident set among the server's processes (per worker)."""
    return max((_status_kib(p, "VmRSS") for p in _group_pids(pid)), default=0) / 1024


def peak_mib(pid: int) -> float:
    return max((_status_kib(p, "VmHWM") for p in _group_pids(pid)), default=0) / 1024


def wal_mib(database: BenchDatabase) -> float | None:
    if database.kind != "sqlite":
        return None
    wal = Path(f"{read_data.sqlite_path(database)}-wal")
    return wal.stat().st_size / 2**20 if wal.exists() else 0.0


def _cipulse(database: BenchDatabase, code: Code, *arguments: str) -> str:
    completed = subprocess.run(
        cipulse_command(*arguments),
        env={**os.environ, **databases.environment(database, code)},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"cipulse {' '.join(arguments)} failed:\n{completed.stderr}")
    return completed.stdout


def _slice_text(s: Slice) -> str:
    wal = "" if s.wal_mib is None else f", WAL {s.wal_mib:,.1f} MiB"
    return (
        f"{s.seconds:5.0f}s: {s.ingest_per_second:7,.0f} runs/s, p99 {s.p99_ms:6,.0f} ms, "
        f"{s.reads_per_second:5.1f} reads/s, RSS {s.rss_mib:5.0f} MiB{wal}"
        + (f", {s.failed:,} failed" if s.failed else "")
    )


def report(kind: str, seeded: str, phases: list[Phase], codes: list[Code]) -> list[str]:
    off = phases[0].median_rate
    lines = [f"## {kind}: {seeded}", "", f"Current code: {codes[0].description}", ""]
    lines += [
        "| phase | median runs/s | lowest slice ÷ the ingest-only refresher-off median | "
        "worst p99 ms | reads/s | peak RSS MiB | idle RSS MiB | WAL peak MiB | WAL idle MiB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for phase in phases:
        lowest = min(s.ingest_per_second for s in phase.slices) if phase.slices else 0
        reads = statistics.mean(s.reads_per_second for s in phase.slices) if phase.slices else 0
        wal_peak = "-" if phase.peak_wal_mib is None else f"{phase.peak_wal_mib:,.1f}"
        wal_idle = "-" if phase.idle_wal_mib is None else f"{phase.idle_wal_mib:,.1f}"
        lines.append(
            f"| {phase.name} | {phase.median_rate:,.0f} | {lowest / off if off else 0:.2f} | "
            f"{max((s.p99_ms for s in phase.slices), default=0):,.0f} | {reads:.1f} | "
            f"{phase.peak_rss_mib:,.0f} | {phase.idle_rss_mib:,.0f} | {wal_peak} | {wal_idle} |"
        )
    if len(phases) > 3 and phases[3].median_rate:
        ratio = phases[2].median_rate / phases[3].median_rate
        lines += ["", f"Mixed load, current ÷ baseline: {ratio:.2f} (median ingest runs/s)."]
    for phase in phases[1:3]:
        lines += ["", f"Every five-second slice, {phase.name}:", ""]
        lines += [f"    {_slice_text(s)}" for s in phase.slices]
    return [*lines, ""]


if __name__ == "__main__":
    sys.exit(main())
