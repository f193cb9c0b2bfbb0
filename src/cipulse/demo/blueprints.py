"""The kinds of pipelines the demo organisation runs, with their jobs.

Pipeline blueprints: the kinds of pipelines the demo organisation runs (CI, deploy, nightly,
security scans, docs, mobile builds, Jenkins pipelines) and the stages and jobs of each, with
typical durations. ``layout`` instantiates them per repository, drawing the optional jobs and
matrix sizes from its random source."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from random import Random


class Produces(StrEnum):
    """What a job reports besides its status (Jenkins steps carry it as metrics)."""

    NOTHING = ""
    TESTS = "tests"
    CACHE = "cache"


@dataclass(frozen=True, slots=True)
class JobBlueprint:
    name: str
    median_seconds: float
    #: Spread of the log-normal duration (0.3: most runs within ±35 % of the median).
    sigma: float = 0.3
    #: How likely this job, rather than another, is the one that breaks a run.
    failure_weight: float = 1.0
    #: May fail at random and pass when run again.
    flaky: bool = False
    produces: Produces = Produces.NOTHING


@dataclass(frozen=True, slots=True)
class StageBlueprint:
    """Jobs that run side by side (``parallel``) or one after another; stages run in order."""

    name: str
    jobs: tuple[JobBlueprint, ...]
    parallel: bool = True


@dataclass(frozen=True, slots=True)
class PipelineKind:
    name: str
    #: Relative number of runs of a pipeline of this kind.
    popularity: float
    #: Share of its runs on the default branch.
    main_share: float
    build: Callable[[Random], tuple[StageBlueprint, ...]]
    #: Runs once a night on the default branch instead of on pushes.
    scheduled: bool = False
    #: Sent by the Trunk Jenkins plugin: stages and steps as a tree, custom metrics and tags.
    jenkins: bool = False


@dataclass(frozen=True, slots=True)
class Toolchain:
    lint: str
    typecheck: str | None
    test_label: str
    versions: tuple[str, ...]
    build: str


TOOLCHAINS = (
    Toolchain(
        "lint (ruff)",
        "typecheck (mypy)",
        "python {}",
        ("3.10", "3.11", "3.12", "3.13"),
        "build wheel",
    ),
    Toolchain("lint (eslint)", "typecheck (tsc)", "node {}", ("18", "20", "22"), "build"),
    Toolchain("golangci-lint", None, "go {}", ("1.21", "1.22", "1.23"), "build"),
    Toolchain("checkstyle", None, "jdk {}", ("17", "21"), "gradle assemble"),
)


def _maybe(rng: Random, probability: float, job: JobBlueprint) -> tuple[JobBlueprint, ...]:
    return (job,) if rng.random() < probability else ()


def _sequence(*jobs: JobBlueprint) -> tuple[StageBlueprint, ...]:
    return tuple(StageBlueprint(job.name, (job,)) for job in jobs)


def ci(rng: Random) -> tuple[StageBlueprint, ...]:
    """Checks, a test matrix beside the build, optional end-to-end shards, a report."""
    tools = rng.choice(TOOLCHAINS)
    checks: tuple[JobBlueprint, ...] = (JobBlueprint(tools.lint, 45, failure_weight=2),)
    if tools.typecheck:
        checks += (JobBlueprint(tools.typecheck, 75, failure_weight=1.5),)
    checks += _maybe(rng, 0.5, JobBlueprint("format-check", 20, sigma=0.2, failure_weight=1))
    platforms: tuple[str, ...] = rng.choice(
        ((), (), ("ubuntu", "macos"), ("ubuntu", "macos", "windows"))
    )
    # A wide matrix over platforms or over versions, not both (at most 20 jobs a run).
    versions = tools.versions[: 2 if platforms else rng.randint(2, len(tools.versions))]
    labels = [tools.test_label.format(version) for version in versions]
    variants = [f"{label}, {platform}" for label in labels for platform in platforms] or labels
    tests = tuple(
        JobBlueprint(
            f"unit-tests ({variant})",
            400 if variant.endswith("windows") else 240,
            failure_weight=3,
            flaky=True,
            produces=Produces.TESTS,
        )
        for variant in variants
    )
    tests += _maybe(
        rng, 0.7, JobBlueprint("integration-tests", 420, sigma=0.35, failure_weight=4, flaky=True)
    )
    tests += (JobBlueprint(tools.build, 180, failure_weight=1, produces=Produces.CACHE),)
    shards = rng.choice((0, 0, 2, 3, 4, 6))
    end_to_end = _maybe(rng, 0.5, JobBlueprint("docker-image", 200, failure_weight=0.5))
    end_to_end += tuple(
        JobBlueprint(f"e2e ({shard}/{shards})", 540, sigma=0.4, failure_weight=5, flaky=True)
        for shard in range(1, shards + 1)
    )
    stages = [StageBlueprint("checks", checks), StageBlueprint("test", tests)]
    if end_to_end:
        stages.append(StageBlueprint("e2e", end_to_end))
    stages.append(StageBlueprint("report", (JobBlueprint("coverage-report", 35, sigma=0.2),)))
    return tuple(stages)


def deploy(rng: Random) -> tuple[StageBlueprint, ...]:
    """Build, ship to staging, smoke-test, ship to production."""
    return _sequence(
        JobBlueprint("build", 200, failure_weight=1),
        rng.choice((JobBlueprint("docker-image", 240), JobBlueprint("package", 150))),
        JobBlueprint("push-image", 60, sigma=0.5, failure_weight=0.5),
        JobBlueprint("deploy-staging", 150, failure_weight=1.5),
        JobBlueprint("smoke-tests (staging)", 120, failure_weight=3, flaky=True),
        JobBlueprint("deploy-production", 180, failure_weight=1.5),
        *_maybe(rng, 0.5, JobBlueprint("notify-slack", 8, sigma=0.2, failure_weight=0.2)),
    )


def security(rng: Random) -> tuple[StageBlueprint, ...]:
    scans = (
        JobBlueprint("codeql-analyze", 480, sigma=0.25, failure_weight=1),
        JobBlueprint("dependency-review", 30, failure_weight=2),
        JobBlueprint("secret-scan", 25, sigma=0.2, failure_weight=0.5),
        JobBlueprint("container-scan", 150, failure_weight=2),
        JobBlueprint("license-check", 40, sigma=0.2, failure_weight=0.5),
        *_maybe(rng, 0.6, JobBlueprint("sbom", 60, sigma=0.2, failure_weight=0.2)),
    )
    return (
        StageBlueprint("scan", scans),
        StageBlueprint("report", (JobBlueprint("security-report", 20, sigma=0.2),)),
    )


def nightly(rng: Random) -> tuple[StageBlueprint, ...]:
    shards = rng.randint(3, 6)
    suite = tuple(
        JobBlueprint(f"full-test-suite ({shard}/{shards})", 1500, failure_weight=4, flaky=True)
        for shard in range(1, shards + 1)
    )
    suite += (
        JobBlueprint("benchmarks", 1200, sigma=0.2, failure_weight=1),
        JobBlueprint("dependency-audit", 90, failure_weight=2),
        *_maybe(rng, 0.5, JobBlueprint("fuzzing", 1800, sigma=0.1, failure_weight=1)),
    )
    return (
        StageBlueprint("suite", suite),
        StageBlueprint("report", (JobBlueprint("publish-report", 30, sigma=0.2),)),
    )


def docs(rng: Random) -> tuple[StageBlueprint, ...]:
    return (
        StageBlueprint(
            "build",
            (
                JobBlueprint("build-docs", 90, failure_weight=2),
                JobBlueprint("link-check", 60, sigma=0.5, failure_weight=2, flaky=True),
                JobBlueprint("spell-check", 20, sigma=0.2, failure_weight=1),
                JobBlueprint("api-reference", 120, failure_weight=1),
            ),
        ),
        StageBlueprint("publish", (JobBlueprint("deploy-preview", 45, sigma=0.4),)),
    )


def mobile(rng: Random) -> tuple[StageBlueprint, ...]:
    phone = rng.choice(("iPhone 15", "iPhone 16"))
    return (
        StageBlueprint(
            "build",
            (
                JobBlueprint("build-ios", 900, sigma=0.25, failure_weight=1),
                JobBlueprint("build-android", 600, sigma=0.25, failure_weight=1),
            ),
        ),
        StageBlueprint(
            "test",
            (
                JobBlueprint("unit-tests (ios)", 400, failure_weight=2, produces=Produces.TESTS),
                JobBlueprint("unit-tests (android)", 300, failure_weight=2),
                JobBlueprint(f"ui-tests ({phone})", 1100, sigma=0.4, failure_weight=4, flaky=True),
                JobBlueprint("ui-tests (Pixel 8)", 1000, sigma=0.4, failure_weight=4, flaky=True),
            ),
        ),
        StageBlueprint("upload", (JobBlueprint("upload-artifacts", 60, sigma=0.5),)),
    )


def jenkins(rng: Random) -> tuple[StageBlueprint, ...]:
    """A declarative Jenkinsfile: stages of steps, the tests side by side."""
    build_tool = rng.choice(("gradle assemble", "mvn -B -DskipTests package", "make build"))
    tests = (
        JobBlueprint("unit tests", 300, failure_weight=3, flaky=True, produces=Produces.TESTS),
        JobBlueprint("integration tests", 600, sigma=0.4, failure_weight=4, flaky=True),
        *_maybe(rng, 0.5, JobBlueprint("contract tests", 200, failure_weight=2)),
    )
    stages = [
        StageBlueprint("Checkout", (JobBlueprint("git checkout", 15, sigma=0.5),), False),
        StageBlueprint(
            "Build",
            (
                JobBlueprint(build_tool, 240, failure_weight=1.5, produces=Produces.CACHE),
                JobBlueprint("docker build", 180, failure_weight=0.5, produces=Produces.CACHE),
            ),
            False,
        ),
        StageBlueprint("Test", tests, True),
    ]
    if rng.random() < 0.6:
        stages.append(
            StageBlueprint("Quality gate", (JobBlueprint("sonar scan", 120, failure_weight=2),))
        )
    stages.append(StageBlueprint("Publish", (JobBlueprint("docker push", 60, sigma=0.5),), False))
    if rng.random() < 0.5:
        stages.append(
            StageBlueprint(
                "Deploy to staging",
                (JobBlueprint("helm upgrade --install", 90, failure_weight=1.5),),
                False,
            )
        )
    return tuple(stages)


CI = PipelineKind("CI", popularity=10, main_share=0.35, build=ci)
MOBILE = PipelineKind("Mobile", popularity=6, main_share=0.35, build=mobile)
DEPLOY = PipelineKind("Deploy", popularity=2.5, main_share=1.0, build=deploy)
SECURITY = PipelineKind("Security scan", popularity=3, main_share=0.4, build=security)
NIGHTLY = PipelineKind("Nightly", popularity=0, main_share=1.0, build=nightly, scheduled=True)
DOCS = PipelineKind("Docs", popularity=1.5, main_share=0.5, build=docs)
JENKINS = PipelineKind("Jenkins", popularity=3, main_share=0.5, build=jenkins, jenkins=True)

#: What a repository runs besides its CI pipeline, and how often each kind is picked.
EXTRA_KINDS = ((DEPLOY, 0.35), (SECURITY, 0.25), (NIGHTLY, 0.2), (DOCS, 0.2))
