"""A test's owner, and the id CI matches a quarantined test by.

**Test owner**: the team of a test case, in this order (the first that says wins):

1. the repository's **CODEOWNERS** rule deciding the test's file (the organisation's default
   file when the repository has none), when the report gave the file and that rule is not
   a catch-all (``*``): its first owner (a GitLab ``!`` exclusion owns nothing: step 2);
2. the **pipeline's owner** (``domain/ownership.py``) of the run whose report last held the
   test: its pipeline rule, repository rule, CODEOWNERS path or catch-all;
3. otherwise the test is **unowned**.

**Test id** (the quarantine list's ``format=text``): ``<classname>::<name>``, the JUnit
``classname`` attribute (the suite's name when a report gives no class) and the test's
``name``, as the report wrote them. For pytest that is ``tests.test_x.TestY::test_z``
(pytest's own mangling of the node id ``tests/test_x.py::TestY::test_z``)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from cipulse.domain.codeowners import decisive_rule
from cipulse.domain.ownership import Owner, PipelineFacts, Rules, owner_of

#: Separates a test id's class from its name.
ID_SEPARATOR = "::"


class TestOwnerReason(StrEnum):
    """Why a test has the owner it has."""

    __test__ = False

    CODEOWNERS_FILE = "CODEOWNERS test file"
    PIPELINE = "pipeline owner"
    NONE = "no rule"


@dataclass(frozen=True, slots=True)
class TestOwner:
    """A test's team (None: unowned), why, and the pipeline's owner when that decided."""

    __test__ = False

    team: str | None
    reason: TestOwnerReason
    pipeline_owner: Owner | None = None


NO_OWNER = TestOwner(None, TestOwnerReason.NONE)


def test_id(suite: str, class_name: str, name: str) -> str:
    """The id CI matches a test by: ``classname::name`` (the suite without a class)."""
    return f"{class_name or suite}{ID_SEPARATOR}{name}"


test_id.__test__ = False  # type: ignore[attr-defined]


def split_test_id(text: str) -> tuple[str, str] | None:
    """A test id's class (or suite) and name; None when it is not one. The class may hold
    ``::`` too: the name is what follows the last separator."""
    head, separator, name = text.strip().rpartition(ID_SEPARATOR)
    if not separator or not head or not name:
        return None
    return head, name


def test_owner(
    repository: str, file: str | None, pipeline: PipelineFacts | None, rules: Rules
) -> TestOwner:
    """The owner of a test of ``repository`` (full name) whose report named ``file``, last
    run by ``pipeline`` (None: not known), under ``rules`` (the module's precedence)."""
    if file:
        decided = decisive_rule(list(rules.path_rules(repository)), file)
        if decided is not None and not decided.catch_all and not decided.negated:
            team = decided.owners[0] if decided.owners else None
            if team is not None:
                return TestOwner(team, TestOwnerReason.CODEOWNERS_FILE)
    if pipeline is None:
        return NO_OWNER
    owner = owner_of(pipeline, rules)
    if owner.team is None:
        return TestOwner(None, TestOwnerReason.NONE, owner)
    return TestOwner(owner.team, TestOwnerReason.PIPELINE, owner)


test_owner.__test__ = False  # type: ignore[attr-defined]
