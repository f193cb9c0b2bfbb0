"""The demo's runner pools: the label set a job asks for, who ran it.

A job always asks for the same label set (chosen by a stable hash of its definition, so
builds and tests of one pipeline may run on different pools), and any runner of that pool
may take it (chosen by the job's id). GitHub's hosted pools have many runners; the
self-hosted ones are small, and the GPU pool waits longest: its queue times are stretched,
so the demo has a saturated pool to find. CircleCI jobs name their resource class as their
label set, written ``<executor type>/<resource class>`` (``docker/medium``): CircleCI's API
v2 gives a job's ``executor`` as ``{"type": "docker", "resource_class": "medium"}`` and no
runner name for its cloud executors, so each CircleCI pool has one nameless runner. Jenkins
runs name their agent pool (``layout.PipelineTemplate.agent_pool``), not listed here."""

from __future__ import annotations

import zlib
from dataclasses import dataclass

from cipulse.domain.runners import NO_RUNNER, Runner


@dataclass(frozen=True, slots=True)
class Pool:
    """A label set, its share of the jobs, its runners and how much longer they wait."""

    labels: str
    share: int  # out of the provider's total
    runners: tuple[Runner, ...]
    wait_factor: float = 1.0


def _pool(labels: str, share: int, group: str | None, names: list[str], wait: float = 1.0) -> Pool:
    runners = tuple(Runner.of(labels, name, group, index + 1) for index, name in enumerate(names))
    return Pool(labels, share, runners, wait)


def _hosted(count: int, prefix: str) -> list[str]:
    return [f"{prefix} {index}" for index in range(1, count + 1)]


def _named(count: int, prefix: str) -> list[str]:
    return [f"{prefix}-{index:02d}" for index in range(1, count + 1)]


POOLS: dict[str, tuple[Pool, ...]] = {
    "github": (
        _pool("ubuntu-latest", 52, "GitHub Actions", _hosted(40, "GitHub Actions")),
        _pool("ubuntu-latest-8-cores", 14, "larger-runners", _hosted(12, "ubuntu-8-core")),
        _pool("macos-14", 8, "GitHub Actions", _hosted(6, "GitHub Actions macOS"), 2.0),
        _pool("windows-latest", 6, "GitHub Actions", _hosted(8, "GitHub Actions Windows")),
        _pool("linux,self-hosted,x64", 15, "Default", _named(6, "ci-linux")),
        _pool("gpu,linux,self-hosted,x64", 5, "gpu", _named(2, "ci-gpu"), 4.0),
    ),
    "gitlab": (
        _pool("saas-linux-small-amd64", 60, None, _named(30, "runner-saas-small")),
        _pool("saas-linux-large-amd64", 20, None, _named(10, "runner-saas-large")),
        _pool("docker,k8s,linux", 20, None, _named(4, "k8s-runner"), 1.5),
    ),
    "circleci": (
        Pool("docker/medium", 70, (Runner.of("docker/medium"),)),
        Pool("docker/large", 30, (Runner.of("docker/large"),)),
    ),
}


def pool_of(provider: str, definition_key: str) -> Pool | None:
    """The pool a job of ``provider`` always asks for; None where the source names none."""
    pools = POOLS.get(provider)
    if not pools:
        return None
    point = zlib.crc32(definition_key.encode()) % sum(pool.share for pool in pools)
    for pool in pools:
        if point < pool.share:
            return pool
        point -= pool.share
    return pools[-1]


def runner_of(pool: Pool | None, job_id: int) -> Runner:
    """The runner of ``pool`` that took the job with ``job_id``."""
    if pool is None:
        return NO_RUNNER
    return pool.runners[job_id % len(pool.runners)]
