"""The CODEOWNERS parser and matcher (``domain/codeowners.py``) and the precedence of team
rules (``domain/ownership.py``): pure, on hand-written lines and on real files copied from
public repositories (``tests/fixtures/real/codeowners``, see SOURCES.md), every expected
owner worked out by reading the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from cipulse.domain.codeowners import MAX_BYTES, parse
from cipulse.domain.ownership import (
    PipelineFacts,
    Reason,
    RuleKind,
    Rules,
    TeamRule,
    ci_path,
    job_team,
    owner_of,
    pipelines_of,
)
from cipulse.errors import InvalidRequest

REAL = Path(__file__).parent / "fixtures" / "real" / "codeowners"


def owners(text: str, path: str) -> tuple[str, ...]:
    return parse(text).owners_of(path)


@pytest.mark.parametrize(
    ("pattern", "path", "matches"),
    [
        ("*", "a/b/c.txt", True),
        ("*.js", "index.js", True),
        ("*.js", "src/deep/index.js", True),
        ("*.js", "index.jsx", False),
        ("/build/", "build/out/x", True),
        ("/build/", "src/build/x", False),
        ("build/", "src/build/x", True),  # no slash inside: any depth
        ("docs/*", "docs/a.md", True),
        ("docs/*", "docs/deep/a.md", False),  # children only (GitHub's rule)
        ("docs/*", "src/docs/a.md", False),  # a slash inside anchors it
        ("/deps/cares", "deps/cares/src/a.c", True),  # a directory: everything under it
        ("/deps/cares", "deps/cares", True),
        ("/deps/cares", "deps/caresx/a.c", False),
        ("**/logs", "a/b/logs/x.log", True),
        ("**/logs", "logs/x.log", True),
        ("/a/**/b", "a/b", True),
        ("/a/**/b", "a/x/y/b", True),
        ("/a/**/b", "c/a/x/b", False),
        ("/scripts/**/*.rb", "scripts/x/y.rb", True),
        ("/scripts/**/*.rb", "scripts/y.rb", True),
        ("/src/x?.c", "src/x1.c", True),
        ("/src/x?.c", "src/x/.c", False),
        ("/lib/_stream*", "lib/_stream_readable.js", True),
        ("/.github/workflows/*", ".github/workflows/ci.yml", True),
        ("a+b(c).txt", "x/a+b(c).txt", True),  # regex characters are literal
        ("!/doc/*.md", "doc/a.md", True),
    ],
)
def test_patterns(pattern: str, path: str, matches: bool) -> None:
    rule = parse(f"{pattern} @owner").rules[0]
    assert rule.matches(path) is matches
    assert rule.matches("/" + path) is matches  # a leading slash on the path is the same


def test_comments_escapes_owners_and_the_last_match() -> None:
    text = "\n".join(
        [
            "# a comment",
            "",
            "*            @acme/everyone   # trailing comment",
            "docs/my\\ file.txt   @alice dev@example.com",
            "\\#hash.txt   @bob",
            "*.md         @acme/docs @alice @acme/docs",
            "/vendor/",  # no owners: unowned
        ]
    )
    parsed = parse(text)
    assert [rule.line for rule in parsed.rules] == [3, 4, 5, 6, 7]
    assert owners(text, "src/a.py") == ("@acme/everyone",)
    assert owners(text, "docs/my file.txt") == ("@alice", "dev@example.com")
    assert owners(text, "#hash.txt") == ("@bob",)
    assert owners(text, "docs/README.md") == ("@acme/docs", "@alice")  # duplicates once
    assert owners(text, "vendor/lib/a.md") == ()  # the last match names no owner


def test_gitlab_sections_and_exclusions() -> None:
    text = "\n".join(
        [
            "* @acme/all",
            "!/doc/*.md",
            "[Backend] @acme/backend",
            "*.rb",
            "/lib/special.rb @carol",
            "^[Optional frontend][2] @acme/frontend @acme/design",
            "*.js",
        ]
    )
    parsed = parse(text)
    assert owners(text, "app/user.rb") == ("@acme/backend",)
    assert owners(text, "lib/special.rb") == ("@carol",)
    assert owners(text, "web/app.js") == ("@acme/frontend", "@acme/design")
    assert owners(text, "doc/index.md") == ()  # excluded
    assert owners(text, "README") == ("@acme/all",)
    assert [rule.section for rule in parsed.rules] == [
        None,
        None,
        "Backend",
        "Backend",
        "Optional frontend",
    ]


def test_every_bad_line_is_named_at_once() -> None:
    text = "\n".join(
        [
            "*.js @ok",
            "foo bar",  # 2: not an owner
            "/ @a",  # 3: names no file
            "*** @b",  # 4
            "src/[ab].c @c",  # 5: ranges
            "x @d\\",  # 6: a dangling escape
            "y @e\x01",  # 7: a control character
        ]
    )
    with pytest.raises(InvalidRequest) as refused:
        parse(text)
    problems = refused.value.problems
    assert [p.split(":")[0] for p in problems] == [f"line {n}" for n in (2, 3, 4, 5, 6, 7)]
    assert "'bar' is not an owner" in problems[0]


def test_limits() -> None:
    with pytest.raises(InvalidRequest, match="file: larger than 3 MB"):
        parse("#" * (MAX_BYTES + 1))
    with pytest.raises(InvalidRequest, match="line 1: longer than"):
        parse("a" * 9000 + " @x")
    many = "\n".join(f"bad{n} notanowner" for n in range(30))
    with pytest.raises(InvalidRequest) as refused:
        parse(many)
    assert len(refused.value.problems) == 21
    assert refused.value.problems[-1] == "and 10 more bad lines"


def test_node_js() -> None:
    """nodejs/node's .github/CODEOWNERS: teams only, children-only globs, later lines."""
    parsed = parse((REAL / "nodejs-node.CODEOWNERS").read_text())
    assert len(parsed.rules) == 151
    expected = {
        ".github/workflows/ci.yml": ("@nodejs/actions",),
        ".github/workflows/create-release-proposal.yml": ("@nodejs/releasers",),
        ".github/workflows/tools.yml": ("@nodejs/security-wg",),  # a later line
        "lib/internal/streams/end-of-stream.js": ("@nodejs/streams",),
        "lib/internal/streams/deep/x.js": (),  # /lib/internal/streams/* is children only
        "tools/gyp/pylib/gyp/common.py": ("@nodejs/gyp",),
        "deps/zlib/zlib.gyp": ("@nodejs/security-wg",),  # /deps comes after *.gyp
        "test/addons/a/binding.gyp": ("@nodejs/gyp",),
        "deps/v8/BUILD.gn": ("@nodejs/security-wg",),  # /deps comes after /deps/v8/*
        "src/node_http2.cc": ("@nodejs/http2", "@nodejs/net"),
        "lib/https.js": ("@nodejs/crypto", "@nodejs/net", "@nodejs/http"),
        "README.md": (),
    }
    assert {path: parsed.owners_of(path) for path in expected} == expected


def test_gitlab() -> None:
    """gitlabhq/gitlabhq's .gitlab/CODEOWNERS (its first sections): sections with default
    owners, ``!`` exclusions, nested groups and dotted user names."""
    parsed = parse((REAL / "gitlabhq-gitlabhq.excerpt.CODEOWNERS").read_text())
    everyone = parsed.rules[0].owners
    assert everyone[0] == "@gitlab-org/maintainers/rails-backend" and len(everyone) == 9
    expected = {
        "app/models/user.rb": ("@gitlab-org/maintainers/rails-backend",),
        "app/assets/javascripts/main.js": ("@gitlab-org/maintainers/frontend",),
        ".gitlab-ci.yml": ("@gl-dx/pipeline-maintainers",),
        ".gitlab/ci/frontend.gitlab-ci.yml": (
            "@gl-dx/pipeline-maintainers",
            "@gitlab-org/maintainers/frontend",
        ),
        "doc/user/index.md": (),  # !/doc/**/*.md
        "db/click_house/main/x.sql": ("@gitlab-org/maintainers/clickhouse",),
        "db/structure.sql": ("@gitlab-org/maintainers/database",),  # /db/* (children)
        "data/deprecations/templates/x.erb": ("@marcel.amirault", "@gitlab-org/tw-leadership"),
        "Gemfile": everyone,
    }
    assert {path: parsed.owners_of(path) for path in expected} == expected


def test_small_real_files() -> None:
    protocol = parse((REAL / "0xproject-protocol.CODEOWNERS").read_text())
    assert protocol.owners_of("contracts/zero-ex/Foo.sol") == ("@dekz", "@dextracker")
    assert protocol.owners_of("packages/contract-addresses/src/index.ts") == (
        "@dekz",
        "@dextracker",
        "@kyu-c",
    )
    assert protocol.owners_of("README.md") == ()
    examples = parse((REAL / "0-krakatoa-0-codeowners-examples.CODEOWNERS").read_text())
    assert examples.owners_of("CODEOWNERS") == ("@0-krakatoa-0",)
    assert examples.owners_of("src/x.py") == ("@miscommunications/all",)
    sequence = parse((REAL / "0xsequence-sequence.js.CODEOWNERS").read_text())
    assert sequence.owners_of("packages/a.ts") == ("@0xsequence-bot", "@0xsequence/core")


# --- Precedence ------------------------------------------------------------------------------

CODEOWNERS = parse(
    "* @acme/platform\n/.github/workflows/deploy.yml @acme/release\n/.gitlab-ci.yml @acme/ci\n"
).rules


def pipeline(repository: str, key: str, name: str) -> PipelineFacts:
    return PipelineFacts(f"{repository}:{key}", repository, key, name)


def test_ci_path_of_a_pipeline() -> None:
    assert ci_path(pipeline("a/b", "123", ".github/workflows/deploy.yml")) == (
        ".github/workflows/deploy.yml"
    )
    assert ci_path(pipeline("a/b", "gitlab-ci", ".gitlab-ci.yml")) == ".gitlab-ci.yml"
    assert ci_path(pipeline("a/b", "app/Jenkinsfile", "app » Build")) == "app/Jenkinsfile"
    assert ci_path(pipeline("a/b", "61240000", "CI")) is None


def test_precedence() -> None:
    rules = Rules(
        explicit=(
            TeamRule(RuleKind.REPOSITORY, "acme/*", "repo-team", 1),
            TeamRule(RuleKind.PIPELINE, "nightly*", "night-team", 2),
            TeamRule(RuleKind.REPOSITORY, "acme/special", "special-team", 3),
        ),
        codeowners={"": CODEOWNERS, "other/own": parse("* @own").rules},
    )
    cases = {
        ("acme/app", "1", "Nightly build"): ("night-team", Reason.PIPELINE_RULE),
        ("acme/app", "1", "CI"): ("repo-team", Reason.REPOSITORY_RULE),
        ("ACME/Special", "1", "CI"): ("special-team", Reason.REPOSITORY_RULE),  # the later
        ("other/x", "2", ".github/workflows/deploy.yml"): ("@acme/release", Reason.CODEOWNERS_PATH),
        ("other/x", "gitlab-ci", ".gitlab-ci.yml"): ("@acme/ci", Reason.CODEOWNERS_PATH),
        ("other/x", "3", "CI"): ("@acme/platform", Reason.CODEOWNERS_CATCH_ALL),
        ("other/own", "3", ".github/workflows/deploy.yml"): ("@own", Reason.CODEOWNERS_PATH),
    }
    for (repository, key, name), expected in cases.items():
        found = owner_of(pipeline(repository, key, name), rules)
        assert (found.team, found.reason) == expected, (repository, name)
    bare = owner_of(pipeline("x/y", "1", "CI"), Rules())
    assert (bare.team, bare.reason) == (None, Reason.NONE)


def test_a_catch_all_naming_nobody_leaves_a_pipeline_unowned() -> None:
    rules = Rules(codeowners={"": parse("* @acme/all\n*\n").rules})
    assert owner_of(pipeline("a/b", "1", "CI"), rules).team is None


def test_teams_of_pipelines_and_jobs() -> None:
    rules = Rules(explicit=(TeamRule(RuleKind.REPOSITORY, "a/*", "Team-A", 1),))
    owned = {
        p.id: owner_of(p, rules) for p in (pipeline("a/x", "1", "CI"), pipeline("b/y", "1", "CI"))
    }
    assert pipelines_of("team-a", owned) == ("a/x:1",)  # any case
    assert pipelines_of("unowned", owned) == ("b/y:1",)
    job_rules = [
        TeamRule(RuleKind.JOB, "*lint*", "linters", 1),
        TeamRule(RuleKind.JOB, "lint-docs", "docs", 2),
    ]
    assert job_team("ESLint", "Team-A", job_rules) == "linters"
    assert job_team("lint-docs", "Team-A", job_rules) == "docs"
    assert job_team("test", "Team-A", job_rules) == "Team-A"
