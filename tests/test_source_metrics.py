"""Metrics and tags of every source read the same way, over real HTTP on SQLite and
PostgreSQL: the queue time and runner tags that GitHub and GitLab webhooks store (replayed
from recorded real deliveries, tests/fixtures/real/cimonitor) are in the metric keys, the
custom-metric series grouped by tag and the dashboard's metrics explorer, from the raw rows
and from the rollups alike. The expected figures are computed from the deliveries themselves."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import httpx
import pytest

from cipulse.accounts.users import UserService
from cipulse.accounts.webhooks import github_signature
from cipulse.analytics.refresh import refresh_all
from cipulse.settings import Settings
from cipulse.storage.database import Database
from tests.servers import threaded_server
from tests.test_dashboard import PASSWORD
from tests.webhooks import GITHUB_SECRET, GITLAB_TOKEN, Delivery, Hooked, hooked_org, sequence

pytestmark = pytest.mark.e2e

#: The days around each recording (its runs started on 2023-11-04 and 2022-03-21).
DAYS = {
    "github-push-failed": ("2023-11-01", "2023-11-09"),
    "gitlab-pipeline": ("2022-03-18", "2022-03-26"),
}


def window(recording: str) -> dict[str, str]:
    since, until = DAYS[recording]
    return {"since": f"{since}T00:00:00Z", "until": f"{until}T00:00:00Z"}


#: Per group (tag value, None without the tag): the count and sum of queue_seconds.
Expected = dict[str | None, tuple[int, float]]


def seconds(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00").replace(" UTC", "+00:00")).timestamp()


def github_expected(deliveries: list[Delivery]) -> tuple[str, Expected]:
    """Each job's queue time (``started_at - created_at`` of its last delivery) by its
    runner labels."""
    last: dict[int, dict[str, Any]] = {}
    for delivery in deliveries:
        if delivery.event == "workflow_job":
            job = delivery.body["workflow_job"]
            last[job["id"]] = job
    groups: dict[str | None, list[float]] = defaultdict(list)
    for job in last.values():
        labels = ",".join(job["labels"]) or None
        groups[labels].append(seconds(job["started_at"]) - seconds(job["created_at"]))
    return "runner_labels", {k: (len(v), sum(v)) for k, v in groups.items()}


def gitlab_expected(deliveries: list[Delivery]) -> tuple[str, Expected]:
    """Each job's ``queued_duration`` (its last delivery, Job Hook or a Pipeline Hook's
    builds) by its runner's description, and the pipeline's own (no runner)."""
    jobs: dict[int, tuple[float | None, str | None]] = {}
    pipeline: float | None = None
    for delivery in deliveries:
        body = delivery.body
        if body.get("object_kind") == "pipeline":
            pipeline = body["object_attributes"].get("queued_duration")
            for build in body.get("builds") or []:
                runner = (build.get("runner") or {}).get("description")
                jobs[build["id"]] = (build.get("queued_duration"), runner)
        elif body.get("object_kind") == "build":
            runner = (body.get("runner") or {}).get("description")
            jobs[body["build_id"]] = (body.get("build_queued_duration"), runner)
    groups: dict[str | None, list[float]] = defaultdict(list)
    for queued, runner in jobs.values():
        if queued is not None:
            groups[runner].append(queued)
    if pipeline is not None:
        groups[None].append(pipeline)
    return "runner_name", {k: (len(v), sum(v)) for k, v in groups.items()}


@pytest.fixture
def server(settings: Settings, database: Database) -> Iterator[tuple[httpx.Client, Hooked]]:
    org = hooked_org(database)
    UserService(database).create_user("ada@example.com", org.name, PASSWORD)
    quiet = settings.model_copy(update={"rollup_interval_seconds": 0})
    with threaded_server(quiet) as url, httpx.Client(base_url=url, timeout=60) as client:
        yield client, org


def deliver(client: httpx.Client, org: str, delivery: Delivery) -> None:
    body = httpx.Request("POST", "/", json=delivery.body).content
    if delivery.event.startswith("workflow_"):
        headers = {
            "X-GitHub-Event": delivery.event,
            "X-GitHub-Delivery": delivery.name + delivery.event,
            "X-Hub-Signature-256": github_signature(GITHUB_SECRET, body),
        }
        path = f"/webhooks/github/{org}"
    else:
        headers = {"X-Gitlab-Event": delivery.event, "X-Gitlab-Token": GITLAB_TOKEN}
        path = f"/webhooks/gitlab/{org}"
    headers["Content-Type"] = "application/json"
    answer = client.post(path, content=body, headers=headers)
    assert answer.status_code < 300, (delivery.name, answer.text)


def grouped(client: httpx.Client, org: Hooked, recording: str, tag: str, interval: str) -> Expected:
    answer = client.get(
        "/api/v1/analytics/custom-metrics",
        params={
            **window(recording),
            "key": "queue_seconds",
            "group_by": f"tag:{tag}",
            "interval": interval,
        },
        headers={"X-API-Key": org.read_key},
    )
    assert answer.status_code == 200, answer.text
    found = {}
    for group in answer.json()["groups"]:
        points = [p for p in group["points"] if p["count"]]
        found[group["group"]] = (sum(p["count"] for p in points), sum(p["sum"] for p in points))
    return found


@pytest.mark.parametrize(
    ("recording", "expected_of", "tags"),
    [
        ("github-push-failed", github_expected, {"runner_labels", "runner_name", "runner_group"}),
        ("gitlab-pipeline", gitlab_expected, {"runner_name", "stage"}),
    ],
)
def test_webhook_queue_times_and_runner_tags_read_like_trunk_metrics(
    server: tuple[httpx.Client, Hooked],
    database: Database,
    recording: str,
    expected_of: Any,
    tags: set[str],
) -> None:
    client, org = server
    deliveries = sequence(recording)
    for delivery in deliveries:
        deliver(client, org.name, delivery)
    tag, expected = expected_of(deliveries)
    assert sum(count for count, _ in expected.values()) > 3
    keys = client.get(
        "/api/v1/analytics/custom-metrics/keys",
        params=window(recording),
        headers={"X-API-Key": org.read_key},
    ).json()
    assert keys["metrics"] == ["queue_seconds"]
    assert tags <= set(keys["tags"])
    for refreshed in (False, True):
        if refreshed:
            assert refresh_all(database) > 0
        for interval in ("hour", "day", "week"):
            found = grouped(client, org, recording, tag, interval)
            assert set(found) == set(expected), (refreshed, interval)
            for group, (count, total) in expected.items():
                assert found[group][0] == count, (refreshed, interval, group)
                assert found[group][1] == pytest.approx(total, abs=1e-6), (refreshed, group)
    # The metrics explorer lists and charts it.
    form = client.get("/sign-in")
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert csrf is not None
    client.post(
        "/sign-in", data={"email": "ada@example.com", "password": PASSWORD, "csrf": csrf.group(1)}
    )
    since, until = DAYS[recording]
    page = client.get("/metrics", params={"since": since, "until": until})
    assert page.status_code == 200
    assert '<option value="queue_seconds" selected>' in page.text
    assert f'<option value="{tag}"' in page.text
