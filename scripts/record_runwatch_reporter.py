"""Record what the real RunWatch GitHub reporter (github.com/runwatch/github-reporter) posts,
for the fixtures in tests/fixtures/real/runwatch-github-reporter/ (see SOURCES.md there).

Each release's bundled action (``dist/index.js``, what GitHub runs for ``uses:
runwatch/github-reporter@vX``) runs under Node as GitHub's runner would start it, against a
fake GitHub REST API on a loopback port that serves one workflow run and its jobs, and posts
to a loopback capture server. The body is saved byte for byte; the request line and headers
(the key replaced by ``<key>``) go to ``requests.json``. Nothing of the reporter is copied:
its bundle is read from a git clone given on the command line.

The GitHub answers are derived from the REST API's own examples (tests/fixtures/real/
github-rest.*.json): the run and job examples with their ids, names, statuses, conclusions and
times changed to the shapes GitHub gives in practice (skipped jobs that end before they start,
by a second or by days; timed_out and neutral conclusions; a run that failed to start; the
reporter's own job, still in progress, under a display name).

    git clone https://github.com/runwatch/github-reporter ~/src/github-reporter
    python scripts/record_runwatch_reporter.py ~/src/github-reporter \
        tests/fixtures/real/runwatch-github-reporter
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

REAL = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "real"
#: Releases whose payloads differ: v1.0.0 (``workflow_*`` names, ``unknown``, Bearer,
#: /v1/ingest), v1.0.1 (``pipeline_*``, X-API-Key, timed_out still unknown to it), v1.0.3 (the
#: current one: timed_out, /functions/v1/ingest). v1.0.2 differs from v1.0.3 only in the
#: default URL.
RELEASES = {"v1.0.0": "/v1/ingest", "v1.0.1": "/v1/ingest", "v1.0.3": "/functions/v1/ingest"}
OWNER, REPO = "octo-org", "octo-repo"
KEY = "rw_fixture_key"


def _run(run_id: int, **changes: Any) -> dict[str, Any]:
    run = json.loads((REAL / "github-rest.get-a-workflow-run.json").read_text())
    run.update(id=run_id, html_url=f"https://github.com/{OWNER}/{REPO}/actions/runs/{run_id}")
    run.update(changes)
    return dict(run)


def _on(day: str, time: str | None) -> str | None:
    return time if time is None or "T" in time else f"{day}T{time}Z"


#: A job as (name, status, conclusion, started_at, completed_at).
JobShape = tuple[str, str, str | None, str | None, str | None]


def _jobs(
    run_id: int, day: str, first_id: int, shapes: list[JobShape], runner: str = ""
) -> list[dict[str, Any]]:
    """The jobs of a run; a time without a date (``09:00:12``) is on ``day``."""
    example = json.loads(
        (REAL / "github-rest.list-jobs-for-a-workflow-run-attempt.json").read_text()
    )
    jobs = []
    for job_id, (name, status, conclusion, started, completed) in enumerate(shapes, first_id):
        job = copy.deepcopy(example["jobs"][0])
        job.update(
            id=job_id,
            run_id=run_id,
            name=name,
            status=status,
            conclusion=conclusion,
            started_at=_on(day, started),
            completed_at=_on(day, completed),
            runner_name=runner if status == "in_progress" else "GitHub Actions 2",
            html_url=f"https://github.com/{OWNER}/{REPO}/actions/runs/{run_id}/job/{job_id}",
            run_url=f"https://api.github.com/repos/{OWNER}/{REPO}/actions/runs/{run_id}",
            steps=[],
        )
        jobs.append(job)
    return jobs


def scenarios() -> dict[str, dict[str, Any]]:
    """name → the run, its jobs, and how the reporter is started (inline or external)."""
    failed, inline, broken = 21_034_567_890, 21_098_765_432, 21_100_000_001
    return {
        # Reported from another workflow (on: workflow_run) once the run had finished.
        "external-failure-skipped-jobs": {
            "run": _run(
                failed,
                status="completed",
                conclusion="failure",
                created_at="2026-01-12T09:00:00Z",
                run_started_at="2026-01-12T09:00:00Z",
                updated_at="2026-01-12T09:14:31Z",
            ),
            "jobs": _jobs(
                failed,
                "2026-01-12",
                60_000_000_001,
                [
                    ("build", "completed", "success", "09:00:12", "09:03:40"),
                    ("test (ubuntu-latest)", "completed", "timed_out", "09:03:45", "09:13:50"),
                    ("lint", "completed", "neutral", "09:00:12", "09:01:02"),
                    # Skipped jobs: GitHub gives an end a second before the start, or days.
                    ("deploy", "completed", "skipped", "09:14:30", "09:14:29"),
                    ("notify", "completed", "skipped", "09:14:30", "2026-01-09T16:02:11Z"),
                ],
            ),
            "current_run": 21_034_600_000,
            "event": "workflow_run",
            "job_key": "report",
        },
        # The last job of the run it reports, whose job has a display name ("Report to
        # RunWatch", key `report`): the reporter looks for its own job by the key, does not
        # find it, and reports it too, in progress.
        "inline-display-name": {
            "run": _run(
                inline,
                status="in_progress",
                conclusion=None,
                created_at="2026-01-13T15:20:00Z",
                run_started_at="2026-01-13T15:20:00Z",
                updated_at="2026-01-13T15:26:05Z",
            ),
            "jobs": _jobs(
                inline,
                "2026-01-13",
                61_000_000_001,
                [
                    ("build", "completed", "success", "15:20:09", "15:23:51"),
                    ("docs", "completed", "skipped", "15:20:08", "15:20:07"),
                    ("Report to RunWatch", "in_progress", None, "15:26:00", None),
                ],
                runner="GitHub Actions 12",
            ),
            "current_run": inline,
            "event": "push",
            "job_key": "report",
            "runner": "GitHub Actions 12",
        },
        # A run that never started (an invalid workflow file): no jobs.
        "external-startup-failure": {
            "run": _run(
                broken,
                status="completed",
                conclusion="startup_failure",
                created_at="2026-01-14T11:00:00Z",
                run_started_at="2026-01-14T11:00:00Z",
                updated_at="2026-01-14T11:00:02Z",
            ),
            "jobs": [],
            "current_run": 21_100_000_100,
            "event": "workflow_run",
            "job_key": "report",
        },
    }


class _Servers:
    """The fake GitHub API and the capture server, on loopback ports."""

    def __init__(self) -> None:
        self.scenario: dict[str, Any] = {}
        self.captured: list[dict[str, Any]] = []
        servers = self

        class GitHub(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = urlsplit(self.path).path
                run = servers.scenario["run"]
                prefix = f"/repos/{OWNER}/{REPO}/actions/runs/{run['id']}"
                if path == prefix:
                    self._json(run)
                elif path == prefix + "/jobs":
                    jobs = servers.scenario["jobs"]
                    self._json({"total_count": len(jobs), "jobs": jobs})
                else:
                    self._json({"message": "Not Found"}, 404)

            def _json(self, body: Any, status: int = 200) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        class Capture(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                headers = {k.lower(): v.replace(KEY, "<key>") for k, v in self.headers.items()}
                servers.captured.append({"path": self.path, "headers": headers, "body": body})
                data = b'{"success":true,"pipeline_run_id":"00000000-0000-0000-0000-000000000000"}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.github = ThreadingHTTPServer(("127.0.0.1", 0), GitHub)
        self.capture = ThreadingHTTPServer(("127.0.0.1", 0), Capture)
        for server in (self.github, self.capture):
            threading.Thread(target=server.serve_forever, daemon=True).start()

    def close(self) -> None:
        for server in (self.github, self.capture):
            server.shutdown()


def _record(bundle: Path, path: str, scenario: dict[str, Any], servers: _Servers) -> dict[str, Any]:
    servers.scenario, servers.captured = scenario, []
    with tempfile.TemporaryDirectory() as work:
        event = Path(work) / "event.json"
        event.write_text("{}")
        (Path(work) / "output").write_text("")
        env = {
            "PATH": os.environ["PATH"],
            "HOME": work,
            "GITHUB_TOKEN": "ghs_fixture",
            "GITHUB_API_URL": f"http://127.0.0.1:{servers.github.server_port}",
            "GITHUB_REPOSITORY": f"{OWNER}/{REPO}",
            "GITHUB_RUN_ID": str(scenario["current_run"]),
            "GITHUB_JOB": scenario["job_key"],
            "GITHUB_EVENT_NAME": scenario["event"],
            "GITHUB_EVENT_PATH": str(event),
            "GITHUB_REF": "refs/heads/main",
            "GITHUB_OUTPUT": str(Path(work) / "output"),
            "INPUT_RUNWATCH_API_URL": f"http://127.0.0.1:{servers.capture.server_port}{path}",
            "INPUT_RUNWATCH_API_KEY": KEY,
            "INPUT_WORKFLOW_RUN_ID": str(scenario["run"]["id"]),
            "INPUT_DRY_RUN": "false",
            "INPUT_DEBUG": "false",
        }
        if "runner" in scenario:
            env["RUNNER_NAME"] = scenario["runner"]
        done = subprocess.run(
            ["node", str(bundle)], env=env, capture_output=True, text=True, timeout=60
        )
    if done.returncode != 0 or len(servers.captured) != 1 or "::error::" in done.stdout:
        raise SystemExit(f"{bundle}: the reporter did not post once:\n{done.stdout}{done.stderr}")
    return servers.captured[0]


def main(clone: Path, out: Path) -> int:
    servers = _Servers()
    requests: dict[str, Any] = {}
    try:
        for release, path in RELEASES.items():
            commit = subprocess.run(
                ["git", "-C", str(clone), "rev-list", "-n1", release],
                capture_output=True,
                text=True,
                check=True,
            ).stdout.strip()
            with tempfile.TemporaryDirectory() as work:
                # The bundle as released: dist/ (index.js and the files it requires).
                archive = subprocess.run(
                    ["git", "-C", str(clone), "archive", commit, "dist"],
                    capture_output=True,
                    check=True,
                ).stdout
                subprocess.run(["tar", "-x", "-C", work], input=archive, check=True)
                bundle = Path(work) / "dist" / "index.js"
                for name, scenario in scenarios().items():
                    captured = _record(bundle, path, scenario, servers)
                    file = f"{release}.{name}.json"
                    (out / file).write_bytes(captured["body"])
                    requests[file] = {
                        "release": release,
                        "commit": commit,
                        "method": "POST",
                        "path": captured["path"],
                        "headers": {
                            k: v
                            for k, v in captured["headers"].items()
                            if k in ("content-type", "authorization", "x-api-key")
                        },
                    }
                    print(f"{file}: {len(captured['body'])} bytes to {captured['path']}")
    finally:
        servers.close()
    (out / "requests.json").write_text(json.dumps(requests, indent=2, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        raise SystemExit(2)
    raise SystemExit(main(Path(sys.argv[1]), Path(sys.argv[2])))
