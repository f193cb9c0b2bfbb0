"""The body the benchmark posts: the RunWatch example of ``cipulse serve`` grown to 10 jobs.

The body is kept as a template whose ``run_id`` is a placeholder, so the wrk script and the
JSON Lines generator can stamp a new run id into every copy without re-serialising."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cipulse.ingestion.runwatch.example import SPEC_EXAMPLE as EXAMPLE_RUN

JOBS_PER_RUN = 10
#: Stands for the run id (a JSON integer) in the template; the quotes are part of it.
RUN_ID_PLACEHOLDER = '"__RUN_ID__"'
_JOB_SECONDS = 25
_JOB_SPACING_SECONDS = 30


def _timestamp(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def _job(index: int, run_started: datetime) -> dict[str, Any]:
    started = run_started + timedelta(seconds=5 + index * _JOB_SPACING_SECONDS)
    return {
        "name": f"test ({index + 1}/{JOBS_PER_RUN})",
        "job_id": str(456789 + index),
        "status": "success",
        "duration_seconds": _JOB_SECONDS,
        "started_at": _timestamp(started),
        "completed_at": _timestamp(started + timedelta(seconds=_JOB_SECONDS)),
    }


def example_run(jobs: int = JOBS_PER_RUN) -> dict[str, Any]:
    """The RunWatch example with ``jobs`` jobs that fit inside the run's time window."""
    run = copy.deepcopy(EXAMPLE_RUN)
    started = datetime.fromisoformat(str(run["started_at"])).astimezone(UTC)
    run["jobs"] = [_job(index, started) for index in range(jobs)]
    last_completed = started + timedelta(seconds=5 + jobs * _JOB_SPACING_SECONDS)
    run["completed_at"] = _timestamp(last_completed)
    run["duration_seconds"] = int((last_completed - started).total_seconds())
    run["compute_seconds"] = jobs * _JOB_SECONDS
    return run


def body_template() -> bytes:
    """Compact JSON of the example run with ``RUN_ID_PLACEHOLDER`` where the run id goes."""
    run = example_run()
    run["run_id"] = "__RUN_ID__"
    text = json.dumps(run, separators=(",", ":"))
    assert text.count(RUN_ID_PLACEHOLDER) == 1
    return text.encode()


def body_for(run_id: int, template: bytes | None = None) -> bytes:
    template = template if template is not None else body_template()
    return template.replace(RUN_ID_PLACEHOLDER.encode(), str(run_id).encode())


def write_json_lines(path: Path, runs: int) -> int:
    """Write ``runs`` payloads (run ids 1..runs), one per line; returns the file's size."""
    prefix, suffix = body_template().split(RUN_ID_PLACEHOLDER.encode())
    with path.open("wb") as file:
        for start in range(1, runs + 1, 10_000):
            stop = min(start + 10_000, runs + 1)
            file.write(b"".join(prefix + b"%d" % i + suffix + b"\n" for i in range(start, stop)))
    return path.stat().st_size
