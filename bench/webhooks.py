"""``python -m bench.webhooks``: webhook ingest throughput beside RunWatch ingest, in one run.

For SQLite and PostgreSQL, a fresh database and one ``cipulse serve`` worker per scenario;
``wrk -t2 -c32`` posts prepared requests (``post_list.lua``) for ``--duration`` seconds:

- ``runwatch``: each request a new RunWatch run with 10 jobs (the ingest benchmark's body);
- ``gitlab``: each request a new GitLab Pipeline Hook listing 10 jobs, with ``X-Gitlab-Token``;
- ``github``: each run a ``workflow_run`` event then 10 ``workflow_job`` events (three steps
  each), signed (``X-Hub-Signature-256``), each with its own ``X-GitHub-Delivery``: 11
  requests a run.

It prints runs/s and requests/s with their latencies, each webhook's runs/s ÷ RunWatch's in
the same run, and checks that the database holds what the 200 responses promised. Bodies
carry the fields cipulse reads (GitHub's real deliveries are 5 to 20 KB, mostly repository and
sender objects: more to parse).

    python -m bench.webhooks [--only sqlite|postgresql] [--duration SECONDS]
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench import databases, payload
from bench.databases import BenchDatabase
from bench.servers import REPOSITORY, cipulse_command, cipulse_server_command, free_port, running
from bench.wrk import Load, WrkResult, WrkUnavailable, ensure_wrk, run_wrk_list

SCENARIOS = ("runwatch", "gitlab", "github")
JOBS = payload.JOBS_PER_RUN
#: Requests prepared per scenario: more than a 10-second run sends, so none repeats.
PREPARED_REQUESTS = 40_000
GITHUB_SECRET = "bench-github-secret"
GITLAB_TOKEN = "bench-gitlab-token"
_SEPARATOR = "\x1f"


@dataclass(frozen=True, slots=True)
class Outcome:
    database: str
    scenario: str
    result: WrkResult
    requests_per_run: int
    runs_stored: int
    jobs_stored: int

    @property
    def runs_per_second(self) -> float:
        return self.result.per_second / self.requests_per_run

    @property
    def stored_check(self) -> str:
        """What the database holds against what the 200 responses promised."""
        promised_runs = min(self.result.ok_responses // self.requests_per_run, self.prepared_runs)
        if self.runs_stored < promised_runs:
            return f"**{self.runs_stored} runs stored for {promised_runs} promised**"
        return f"ok: {self.runs_stored:,} runs, {self.jobs_stored:,} jobs"

    @property
    def prepared_runs(self) -> int:
        return PREPARED_REQUESTS // self.requests_per_run


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _gitlab_stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def _line(path: str, headers: dict[str, str], body: dict[str, Any]) -> str:
    header_text = _SEPARATOR.join(f"{name}: {value}" for name, value in headers.items())
    return f"{path}\t{header_text}\t{json.dumps(body, separators=(',', ':'))}\n"


def runwatch_requests(key: str) -> Iterator[str]:
    template = payload.body_template().decode()
    for run_id in range(1, PREPARED_REQUESTS + 1):
        body = template.replace(payload.RUN_ID_PLACEHOLDER, str(run_id))
        yield f"/functions/v1/ingest\tX-API-Key: {key}\t{body}\n"


def gitlab_requests(start: datetime) -> Iterator[str]:
    project = {
        "id": 7,
        "name": "app",
        "web_url": "https://gitlab.example.com/acme/app",
        "path_with_namespace": "acme/app",
        "default_branch": "main",
    }
    headers = {"X-Gitlab-Event": "Pipeline Hook", "X-Gitlab-Token": GITLAB_TOKEN}
    for pipeline_id in range(1, PREPARED_REQUESTS + 1):
        created = start + timedelta(seconds=pipeline_id)
        builds = [
            {
                "id": pipeline_id * 100 + index,
                "stage": "test",
                "name": f"test ({index + 1}/{JOBS})",
                "status": "success",
                "created_at": _gitlab_stamp(created),
                "started_at": _gitlab_stamp(created + timedelta(seconds=5 + index * 30)),
                "finished_at": _gitlab_stamp(created + timedelta(seconds=30 + index * 30)),
                "duration": 25.0,
                "queued_duration": 1.5,
                "allow_failure": False,
                "runner": {"id": 1, "description": "runner-1", "tags": ["docker"]},
            }
            for index in range(JOBS)
        ]
        body = {
            "object_kind": "pipeline",
            "object_attributes": {
                "id": pipeline_id,
                "iid": pipeline_id,
                "ref": "main",
                "sha": "95d49d1efbd941908580e79d65e4b5ecaf4a8305",
                "source": "push",
                "status": "success",
                "created_at": _gitlab_stamp(created),
                "finished_at": _gitlab_stamp(created + timedelta(seconds=5 + JOBS * 30)),
                "duration": 5 + JOBS * 30,
                "queued_duration": 2,
            },
            "project": project,
            "user": {"username": "ada"},
            "builds": builds,
        }
        yield _line("/webhooks/gitlab/bench", headers, body)


def _signed(event: str, delivery: str, body: dict[str, Any]) -> str:
    text = json.dumps(body, separators=(",", ":"))
    signature = hmac.new(GITHUB_SECRET.encode(), text.encode(), hashlib.sha256).hexdigest()
    headers = {
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery,
        "X-Hub-Signature-256": f"sha256={signature}",
    }
    header_text = _SEPARATOR.join(f"{name}: {value}" for name, value in headers.items())
    return f"/webhooks/github/bench\t{header_text}\t{text}\n"


def github_requests(start: datetime) -> Iterator[str]:
    repository = {
        "full_name": "acme/app",
        "html_url": "https://github.com/acme/app",
        "default_branch": "main",
    }
    for run_id in range(1, PREPARED_REQUESTS // (JOBS + 1) + 1):
        created = start + timedelta(seconds=run_id)
        finished = created + timedelta(seconds=5 + JOBS * 30)
        run = {
            "id": run_id,
            "name": "CI",
            "workflow_id": 42,
            "path": ".github/workflows/ci.yml",
            "display_title": "Bench run",
            "run_number": run_id,
            "run_attempt": 1,
            "event": "push",
            "status": "completed",
            "conclusion": "success",
            "head_branch": "main",
            "head_sha": "95d49d1efbd941908580e79d65e4b5ecaf4a8305",
            "html_url": f"https://github.com/acme/app/actions/runs/{run_id}",
            "created_at": _stamp(created),
            "updated_at": _stamp(finished),
            "run_started_at": _stamp(created),
            "actor": {"login": "ada"},
        }
        action = {"action": "completed", "workflow_run": run, "repository": repository}
        yield _signed("workflow_run", f"run-{run_id}", action)
        for index in range(JOBS):
            job_id = run_id * 100 + index
            started = created + timedelta(seconds=5 + index * 30)
            steps = [
                {
                    "name": name,
                    "number": number,
                    "status": "completed",
                    "conclusion": "success",
                    "started_at": _stamp(started + timedelta(seconds=number * 5)),
                    "completed_at": _stamp(started + timedelta(seconds=number * 5 + 5)),
                }
                for number, name in enumerate(("Set up job", "Run tests", "Complete job"), 1)
            ]
            job = {
                "id": job_id,
                "run_id": run_id,
                "run_attempt": 1,
                "name": f"test ({index + 1}/{JOBS})",
                "workflow_name": "CI",
                "head_branch": "main",
                "status": "completed",
                "conclusion": "success",
                "html_url": f"https://github.com/acme/app/actions/runs/{run_id}/job/{job_id}",
                "created_at": _stamp(started - timedelta(seconds=3)),
                "started_at": _stamp(started),
                "completed_at": _stamp(started + timedelta(seconds=25)),
                "steps": steps,
                "labels": ["ubuntu-latest"],
                "runner_name": "GitHub Actions 1",
                "runner_group_name": "GitHub Actions",
            }
            action = {"action": "completed", "workflow_job": job, "repository": repository}
            yield _signed("workflow_job", f"job-{job_id}", action)


def _prepare(scenario: str, key: str, path: Path) -> int:
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)
    lines = {
        "runwatch": lambda: runwatch_requests(key),
        "gitlab": lambda: gitlab_requests(start),
        "github": lambda: github_requests(start),
    }[scenario]()
    with path.open("w") as file:
        file.writelines(lines)
    return 1 if scenario != "github" else JOBS + 1


def _set_secrets(database: BenchDatabase) -> None:
    for provider, secret in (("github", GITHUB_SECRET), ("gitlab", GITLAB_TOKEN)):
        subprocess.run(
            cipulse_command("orgs", "set-webhook-secret", databases.ORG, "--provider", provider),
            cwd=REPOSITORY,
            env={**os.environ, **databases.environment(database)},
            input=secret,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )


def _fresh(kind: str, directory: Path, name: str) -> BenchDatabase:
    if kind == "sqlite":
        return databases.fresh_sqlite(directory, name)
    return databases.fresh_postgres()


def measure(wrk: str, kind: str, scenario: str, load: Load, directory: Path) -> Outcome:
    database = _fresh(kind, directory, f"webhooks-{scenario}")
    key = databases.provision(database)
    _set_secrets(database)
    requests_file = directory / f"{scenario}.requests"
    per_run = _prepare(scenario, key, requests_file)
    port = free_port()
    env = {**databases.environment(database), "CIPULSE_ROLLUP_INTERVAL_SECONDS": "0"}
    log = directory / f"{kind}-{scenario}.log"
    with running(f"cipulse ({scenario})", cipulse_server_command(port, 1), port, env, log):
        result = run_wrk_list(wrk, f"http://127.0.0.1:{port}", load, requests_file)
    stored = databases.stored(database)
    return Outcome(kind, scenario, result, per_run, stored.runs, stored.jobs)


def render(outcomes: list[Outcome], load: Load) -> str:
    lines = [
        f"Webhook ingest beside RunWatch ingest ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC; "
        f"wrk -t{load.threads} -c{load.connections} -d{load.seconds:.0f}s on loopback, one "
        "cipulse worker, a fresh database per scenario; 10 jobs a run):",
        "",
        "| database | scenario | requests/s | runs/s | p50 ms | p99 ms | runs/s ÷ RunWatch "
        "| errors | stored |",
        "|---|---|---:|---:|---:|---:|---:|---|---|",
    ]
    reference = {o.database: o.runs_per_second for o in outcomes if o.scenario == "runwatch"}
    for o in outcomes:
        base = reference.get(o.database)
        ratio = f"{o.runs_per_second / base:.2f}" if base else "-"
        errors = ", ".join(o.result.problems) or "none"
        lines.append(
            f"| {o.database} | {o.scenario} | {o.result.per_second:,.0f} | "
            f"{o.runs_per_second:,.0f} | {o.result.p50_ms:.1f} | {o.result.p99_ms:.1f} | "
            f"{ratio} | {errors} | {o.stored_check} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=("sqlite", "postgresql"), help="one database only")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per scenario")
    options = parser.parse_args(argv)
    try:
        wrk = ensure_wrk()
    except WrkUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    kinds = [options.only] if options.only else ["sqlite", "postgresql"]
    if "postgresql" in kinds and (problem := databases.postgres_problem()):
        print(f"skipping PostgreSQL: {problem}", flush=True)
        kinds.remove("postgresql")
    load = Load(threads=2, connections=32, seconds=options.duration)
    outcomes = []
    with tempfile.TemporaryDirectory(prefix="cipulse-bench-webhooks-") as directory:
        try:
            for kind in kinds:
                for scenario in SCENARIOS:
                    print(f"{kind}: {scenario}…", flush=True)
                    outcomes.append(measure(wrk, kind, scenario, load, Path(directory)))
        finally:
            if "postgresql" in kinds:
                databases.drop_postgres()
    report = render(outcomes, load)
    print(report)
    results = Path(__file__).resolve().parent / "results"
    results.mkdir(exist_ok=True)
    (results / "webhooks.md").write_text(report)
    print(f"written to {results / 'webhooks.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
