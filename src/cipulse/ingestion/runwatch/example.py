"""The RunWatch spec's example request, and a copy timed just now.

The example request of the RunWatch Ingest API spec, verbatim (the tests and benchmarks post
it as it stands), and a copy of it timed a few minutes ago, which ``cipulse serve``, the
dashboard's empty states and the docs show as a ready-to-paste curl: a run dated 2024 would
fall outside every default window, and a new user would see "0 runs" right after a 200."""

from __future__ import annotations

import copy
import json
import shlex
from datetime import UTC, datetime, timedelta
from typing import Any

SPEC_EXAMPLE: dict[str, Any] = {
    "provider": "github",
    "repository": "acme/cool-project",
    "pipeline_name": "CI Pipeline",
    "run_id": 789012345,
    "run_attempt": 1,
    "run_name": "Fix login bug",
    "run_url": "https://github.com/acme/cool-project/actions/runs/789012345",
    "status": "success",
    "mode": "inline",
    "compute_seconds": 245,
    "duration_seconds": 312,
    "started_at": "2024-01-15T10:30:00Z",
    "completed_at": "2024-01-15T10:35:12Z",
    "triggered_by": "push",
    "actor": "octocat",
    "branch": "main",
    "jobs": [
        {
            "name": "build",
            "job_id": "456789",
            "job_url": "https://github.com/acme/cool-project/actions/runs/789012345/job/456789",
            "status": "success",
            "duration_seconds": 120,
            "started_at": "2024-01-15T10:30:05Z",
            "completed_at": "2024-01-15T10:32:05Z",
        },
        {
            "name": "test",
            "job_id": "456790",
            "job_url": "https://github.com/acme/cool-project/actions/runs/789012345/job/456790",
            "status": "success",
            "duration_seconds": 125,
            "started_at": "2024-01-15T10:32:10Z",
            "completed_at": "2024-01-15T10:34:15Z",
        },
    ],
}


#: How long before "now" the recent example starts: it finished a little under a minute ago.
RECENT_EXAMPLE_STARTED_AGO = timedelta(minutes=6)

#: The shell variable the printed commands read the key from (``export CIPULSE_API_KEY=…``).
API_KEY_VARIABLE = "$CIPULSE_API_KEY"


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def recent_example(now: datetime | None = None) -> dict[str, Any]:
    """A copy of the spec's example that started a few minutes before ``now`` (default: the
    current time), every time shifted by the same amount, so that it shows at once in the
    default window of the dashboard and the read API."""
    moment = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    original = datetime.fromisoformat(SPEC_EXAMPLE["started_at"].replace("Z", "+00:00"))
    shift = moment - RECENT_EXAMPLE_STARTED_AGO - original
    example = copy.deepcopy(SPEC_EXAMPLE)
    for item in (example, *example["jobs"]):
        for field in ("started_at", "completed_at"):
            stamp = datetime.fromisoformat(item[field].replace("Z", "+00:00"))
            item[field] = _iso(stamp + shift)
    return example


def _header(key: str) -> str:
    """The key header, in double quotes so that ``$CIPULSE_API_KEY`` expands when pasted; a
    literal key (letters, digits, ``_`` and ``-``) means the same either way."""
    if key != API_KEY_VARIABLE and not key.replace("_", "").replace("-", "").isalnum():
        return shlex.quote(f"X-API-Key: {key}")
    return f'"X-API-Key: {key}"'


def example_curl(base_url: str, key: str = API_KEY_VARIABLE, now: datetime | None = None) -> str:
    """A curl command that posts the recent example (see ``recent_example``) to this server
    with this key (default: the shell variable ``$CIPULSE_API_KEY``)."""
    return (
        f"curl -X POST {base_url}/functions/v1/ingest \\\n"
        '  -H "Content-Type: application/json" \\\n'
        f"  -H {_header(key)} \\\n"
        f"  -d {shlex.quote(json.dumps(recent_example(now)))}"
    )
