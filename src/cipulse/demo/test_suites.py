"""The demo's test suites: which pipelines report tests, and their tests.

The least busy CI pipelines (``TESTED_PIPELINES``) send a JUnit report from their first unit-test
job. Each has a fixed suite of a few hundred pytest-style tests drawn from its pipeline's
key: files under ``tests/``, classes, names, a log-normal median duration each, and a few
flaky tests (each with its own chance of failing once and passing on the job's retry). Pure
and deterministic, built once per process."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from random import Random

from cipulse.demo.blueprints import Produces
from cipulse.demo.layout import Layout, PipelineTemplate
from cipulse.domain.test_results import TestIdentity

#: CI pipelines (the least busy) whose test job reports its tests.
TESTED_PIPELINES = 2
#: Tests in a suite, at least and at most.
SUITE_SIZE = (100, 260)
#: Share of a suite's tests that are flaky, and how often such a test fails.
FLAKY_SHARE = 0.03
FLAKE_CHANCE = (0.01, 0.06)
AREAS = ("api", "billing", "contract", "models", "auth", "events", "storage", "ui")
TOPICS = ("invoice", "order", "refund", "session", "token", "cart", "user", "report", "queue")
VERBS = ("creates", "rejects", "updates", "rounds", "retries", "expires", "lists", "parses")
OBJECTS = ("empty_input", "large_batch", "unicode_names", "expired_token", "duplicates")


@dataclass(frozen=True, slots=True)
class SuiteTest:
    identity: TestIdentity
    #: ln of the median duration in milliseconds.
    log_median_ms: float
    #: Chance of failing once in a run (0: not flaky).
    flake_chance: float


@dataclass(frozen=True, slots=True)
class Suite:
    pipeline_key: str
    job: int  # the template's job index that reports
    job_name: str
    tests: tuple[SuiteTest, ...]
    flaky: tuple[int, ...]  # indices of flaky tests


def _suite(template: PipelineTemplate, job: int) -> Suite:
    rng = Random(f"cipulse-demo-tests:{template.repository.full_name}:{template.pipeline.key}")
    size = rng.randint(*SUITE_SIZE)
    tests: list[SuiteTest] = []
    seen: set[tuple[str, str]] = set()
    while len(tests) < size:
        area, topic = rng.choice(AREAS), rng.choice(TOPICS)
        module = f"tests.{area}.test_{topic}"
        class_name = f"{module}.Test{topic.title()}"
        name = f"test_{rng.choice(VERBS)}_{rng.choice(OBJECTS)}"
        if rng.random() < 0.2:
            name += f"[{rng.randint(0, 9)}]"
        if (class_name, name) in seen:
            continue
        seen.add((class_name, name))
        flaky = rng.random() < FLAKY_SHARE
        tests.append(
            SuiteTest(
                TestIdentity("pytest", class_name, name, f"tests/{area}/test_{topic}.py"),
                math.log(rng.lognormvariate(math.log(30), 1.3) + 1),
                rng.uniform(*FLAKE_CHANCE) if flaky else 0.0,
            )
        )
    flaky_tests = tuple(i for i, test in enumerate(tests) if test.flake_chance)
    return Suite(template.pipeline.key, job, template.jobs[job].name, tuple(tests), flaky_tests)


def suite_key(template: PipelineTemplate) -> tuple[str, str]:
    return template.repository.full_name, template.pipeline.key


@functools.lru_cache(maxsize=4)
def suites(layout: Layout) -> dict[tuple[str, str], Suite]:
    """The suites of the pipelines that report tests, by repository and pipeline key: the
    ``TESTED_PIPELINES`` least busy CI pipelines (a seed's time grows with its results),
    those whose test job flakes first."""
    weights = layout.cumulative_weights
    shares = [w - (weights[i - 1] if i else 0.0) for i, w in enumerate(weights)]
    candidates = []
    for share, template in zip(shares, layout.pipelines, strict=True):
        jobs = [i for i, job in enumerate(template.jobs) if job.produces is Produces.TESTS]
        if template.kind.name != "CI" or template.kind.jenkins or not jobs:
            continue
        # A test job that flakes, where there is one: its reruns pass.
        flaky = [i for i in jobs if i in template.flaky_jobs]
        candidates.append((not flaky, share, suite_key(template), template, (flaky or jobs)[0]))
    chosen = sorted(candidates, key=lambda c: c[:3])[:TESTED_PIPELINES]
    return {key: _suite(template, job) for _, _, key, template, job in chosen}
