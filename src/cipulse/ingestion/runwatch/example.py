"""The example request of the RunWatch Ingest API spec, verbatim. ``cipulse serve`` and the
dashboard's empty states show it as a ready-to-paste curl; the tests post it as it stands."""

from __future__ import annotations

import json
import shlex
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


def example_curl(base_url: str, key: str) -> str:
    """The spec's example as a curl command for this server and key."""
    return (
        f"curl -X POST {base_url}/functions/v1/ingest \\\n"
        '  -H "Content-Type: application/json" \\\n'
        f"  -H {shlex.quote('X-API-Key: ' + key)} \\\n"
        f"  -d {shlex.quote(json.dumps(SPEC_EXAMPLE))}"
    )
