"""How long the bulk refresh takes: ``cipulse rollups rebuild`` (every partition marked and
refreshed, as after ``cipulse demo seed`` or a migration) on seeded databases of 100,000 and
1,000,000 runs, SQLite and PostgreSQL, and the ratio of the two times (linear: about 10).

    python -m bench.rebuild                    # both databases, both sizes
    python -m bench.rebuild --only sqlite --runs 100000

The million-run databases are ``bench.read``'s (seeded when missing); the smaller ones live
beside them (a folder named after their size in the data directory, PostgreSQL
``cipulse_bench_read_<runs>``)."""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from bench import databases, read_data
from bench.read import DEFAULT_DATA_DIR
from bench.servers import cipulse_command

RESULTS = Path(__file__).resolve().parent / "results"
_REBUILT = re.compile(r"rebuilt (?P<partitions>[\d,]+) partitions")


@dataclass(frozen=True, slots=True)
class Rebuild:
    kind: str
    runs: int
    partitions: int
    seconds: float
    peak_rss_mib: float


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.rebuild", description=__doc__)
    parser.add_argument("--only", choices=("sqlite", "postgresql"))
    parser.add_argument(
        "--runs", type=int, nargs="+", default=[100_000, 1_000_000], help="[100000 1000000]"
    )
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    options = parse_arguments(argv)
    kinds = [options.only] if options.only else ["sqlite", "postgresql"]
    found: list[Rebuild] = []
    for kind in kinds:
        for runs in sorted(options.runs):
            seeded = _seeded(kind, runs, options.data_dir)
            found.append(rebuild(seeded.database, runs))
            print(_line(found[-1]), flush=True)
    text = report(found)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "rebuild.md").write_text(text)
    print(text)
    return 0


def _seeded(kind: str, runs: int, data_dir: Path) -> read_data.SeededDatabase:
    """The seeded database of that size: bench.read's for a million, a smaller one beside it."""
    if runs == 1_000_000:
        return read_data.prepare(kind, runs, data_dir, reuse=True)
    name = f"{read_data.POSTGRES_DATABASE}_{runs}"
    return read_data.prepare(kind, runs, data_dir / str(runs), reuse=True, postgres_database=name)


def rebuild(database: databases.BenchDatabase, runs: int) -> Rebuild:
    """Time ``cipulse rollups rebuild`` from outside, with its peak memory."""
    started = time.perf_counter()
    completed = subprocess.run(
        ["/usr/bin/time", "-f", "MAXRSS %M", *cipulse_command("rollups", "rebuild")],
        env={**os.environ, **databases.environment(database)},
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - started
    output = completed.stdout + completed.stderr
    if completed.returncode != 0:
        raise RuntimeError(f"cipulse rollups rebuild failed:\n{output}")
    partitions = _REBUILT.search(output)
    rss = re.search(r"MAXRSS (\d+)", output)
    return Rebuild(
        database.kind,
        runs,
        int(partitions["partitions"].replace(",", "")) if partitions else 0,
        seconds,
        int(rss[1]) / 1024 if rss else 0.0,
    )


def _line(found: Rebuild) -> str:
    return (
        f"{found.kind}: {found.runs:,} runs, {found.partitions:,} partitions rebuilt in "
        f"{found.seconds:,.1f} s ({found.runs / found.seconds:,.0f} runs/s), "
        f"peak RSS {found.peak_rss_mib:,.0f} MiB"
    )


def report(found: list[Rebuild]) -> str:
    lines = [
        "| database | runs | partitions | seconds | runs/s | peak RSS MiB |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {r.kind} | {r.runs:,} | {r.partitions:,} | {r.seconds:,.1f} | "
        f"{r.runs / r.seconds:,.0f} | {r.peak_rss_mib:,.0f} |"
        for r in found
    ]
    for kind in sorted({r.kind for r in found}):
        sizes = sorted((r for r in found if r.kind == kind), key=lambda r: r.runs)
        if len(sizes) > 1:
            small, large = sizes[0], sizes[-1]
            lines.append(
                f"\n{kind}: {large.runs // small.runs}x the runs took "
                f"{large.seconds / small.seconds:.1f}x the time."
            )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
