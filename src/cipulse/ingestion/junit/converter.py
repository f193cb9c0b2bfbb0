"""JUnit XML → test case results, every dialect in one walk (pure).

One walk reads the dialects real runners write: pytest (``--junitxml``, xunit1 and xunit2),
Maven Surefire and Gradle, jest-junit, go-junit-report and gotestsum, PHPUnit, the .NET
JUnit logger, mocha-junit-reporter (Cypress) and Playwright. Their differences are small
and handled where they occur:

- the root is ``testsuites`` or a bare ``testsuite``; suites nest (PHPUnit, Ant); a case
  belongs to its nearest suite and takes the nearest ``file`` when it has none (Cypress
  puts the spec file on its "Root Suite");
- the class is ``classname``, else PHPUnit's ``class``;
- ``failure``, ``error`` and ``skipped`` children give the status; Surefire's
  ``flakyFailure``/``flakyError`` (failed tries before a pass) and ``rerunFailure``/
  ``rerunError`` (failed tries after the first) count as retries;
- pytest-rerunfailures writes each rerun as another ``testcase`` right after the first,
  the last one being the outcome: in a pytest suite (named ``pytest``, pytest's default),
  consecutive cases of one identity fold into one result whose ``retries`` counts the
  extra tries. Elsewhere a repeated case is another execution (TestNG data providers,
  mocha's repeated titles) and stays a result of its own.

Pure: the same bytes give the same results (``tests/test_junit_converter.py``)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from xml.etree.ElementTree import Element

from cipulse.domain.test_results import (
    MAX_IDENTITY_CHARS,
    MAX_MESSAGE_CHARS,
    MAX_SUITE_DEPTH,
    MAX_TRACE_CHARS,
    MAX_TRACE_LINES,
    TestCaseResult,
    TestIdentity,
    TestReport,
    TestStatus,
)
from cipulse.errors import InvalidRequest
from cipulse.ingestion.junit.reading import inflated, parsed

_OUTCOMES = {"failure": TestStatus.FAILED, "error": TestStatus.ERROR}
_RETRIES = {"flakyFailure", "flakyError", "rerunFailure", "rerunError"}
_ROOTS = {"testsuites", "testsuite"}
#: The suite name pytest gives its one ``testsuite`` (``junit_suite_name``'s default).
PYTEST_SUITE = "pytest"
#: Longest ``time`` attribute read (a number); longer: no duration.
_MAX_TIME_CHARS = 40


@dataclass(slots=True)
class _Walk:
    """What the walk of one report collects."""

    where: str
    cases: list[tuple[TestIdentity, TestCaseResult]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def convert(data: bytes, where: str, limit: int) -> TestReport:
    """A report's bytes (gzip or not, at most ``limit`` once inflated) → its results.
    ``where`` names the report in messages (``report``, ``files[2] (junit.xml)``)."""
    xml = inflated(data, limit, where)
    root = parsed(xml, where)
    if _local(root.tag) not in _ROOTS:
        raise InvalidRequest(
            f"{where}: not a JUnit report: the root element is <{_local(root.tag)}>, "
            "not <testsuites> or <testsuite>"
        )
    walk = _Walk(where)
    for suite, file, case in _cases(root, walk):
        _take(walk, suite, file, case)
    if walk.problems:
        raise InvalidRequest("; ".join(walk.problems), walk.problems)
    return TestReport(
        cases=_folded(walk.cases),
        digest=hashlib.sha256(xml).hexdigest(),
        warnings=tuple(walk.warnings),
    )


def _local(tag: str) -> str:
    """A tag without its namespace (``{uri}testcase`` → ``testcase``)."""
    return tag.rpartition("}")[2]


def _cases(root: Element, walk: _Walk) -> Iterator[tuple[str, str | None, Element]]:
    """(nearest suite name, nearest file, testcase element) in document order; iterative,
    so a deep report cannot exhaust the stack."""
    top = _local(root.tag) == "testsuite"
    stack: list[tuple[Element, str, str | None, int]] = [
        (root, (root.get("name") or "") if top else "", root.get("file") if top else None, 0)
    ]
    while stack:
        element, suite, file, depth = stack.pop()
        if depth > MAX_SUITE_DEPTH:
            raise InvalidRequest(
                f"{walk.where}: testsuite elements nested deeper than {MAX_SUITE_DEPTH}"
            )
        children = []
        for child in element:
            tag = _local(child.tag)
            if tag == "testcase":
                children.append((child, suite, file, -1))
            elif tag in _ROOTS:
                name = child.get("name") or suite
                children.append((child, name, child.get("file") or file, depth + 1))
        for child, child_suite, child_file, child_depth in reversed(children):
            stack.append((child, child_suite, child_file, child_depth))
        if depth == -1:
            yield suite, file, element


def _take(walk: _Walk, suite: str, file: str | None, case: Element) -> None:
    index = len(walk.cases)
    name = case.get("name")
    if not name:
        walk.warnings.append(f"{walk.where}: testcase {index + 1} has no name; left out")
        return
    identity = TestIdentity(
        suite=suite,
        class_name=case.get("classname") or case.get("class") or "",
        name=name,
        file=case.get("file") or file or None,
    )
    _check_identity(walk, identity, index)
    walk.cases.append((identity, _result(walk, identity, case)))


def _check_identity(walk: _Walk, identity: TestIdentity, index: int) -> None:
    parts = (
        ("testsuite name", identity.suite),
        ("classname", identity.class_name),
        ("name", identity.name),
        ("file", identity.file or ""),
    )
    for label, value in parts:
        if len(value) > MAX_IDENTITY_CHARS:
            walk.problems.append(
                f"{walk.where}: testcase {index + 1}: {label} longer than "
                f"{MAX_IDENTITY_CHARS} characters"
            )


def _result(walk: _Walk, identity: TestIdentity, case: Element) -> TestCaseResult:
    status = TestStatus.PASSED
    retries = 0
    evidence: Element | None = None  # the element whose message is kept
    for child in case:
        tag = _local(child.tag)
        if tag in _OUTCOMES:
            # A failure wins over an error (a test failed, then its teardown erred).
            if status is not TestStatus.FAILED:
                status, evidence = _OUTCOMES[tag], child
        elif tag == "skipped" and status is TestStatus.PASSED:
            status, evidence = TestStatus.SKIPPED, child
        elif tag in _RETRIES:
            retries += 1
            if evidence is None:
                evidence = child
    message, trace = _message(evidence) if evidence is not None else (None, None)
    return TestCaseResult(
        identity=identity,
        status=status,
        duration_ms=_duration_ms(walk, case.get("time"), identity),
        retries=retries,
        message=message,
        trace=trace,
    )


def _duration_ms(walk: _Walk, time: str | None, identity: TestIdentity) -> int | None:
    """``time`` in seconds → whole milliseconds; unreadable or negative: unknown, warned.
    Some Surefire locales write thousands separators (``1,234.5``)."""
    if time is None or not time.strip():
        return None
    text = time.strip().replace(",", "")
    try:
        seconds = float(text) if len(text) <= _MAX_TIME_CHARS else float("nan")
    except ValueError:
        seconds = float("nan")
    if not 0 <= seconds < 2**31 / 1000:
        walk.warnings.append(
            f"{walk.where}: testcase {identity.name[:80]!r}: time {time[:40]!r} is not a "
            "duration in seconds; stored as unknown"
        )
        return None
    return round(seconds * 1000)


def _message(element: Element) -> tuple[str | None, str | None]:
    """The bounded message and first lines of trace of a failure, error, skip or retry.
    Surefire's retries hold their trace in a ``stackTrace`` child."""
    stack = next((c for c in element if _local(c.tag) == "stackTrace"), None)
    text = ((stack.text if stack is not None else element.text) or "").strip()
    message = (element.get("message") or "").strip()
    if not message and text:
        message = text.splitlines()[0].strip()
    return _cut(message, MAX_MESSAGE_CHARS), _trace(text)


def _cut(text: str, limit: int) -> str | None:
    if not text:
        return None
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def _trace(text: str) -> str | None:
    lines = text.splitlines()[:MAX_TRACE_LINES]
    return _cut("\n".join(line.rstrip() for line in lines), MAX_TRACE_CHARS)


def _folded(cases: list[tuple[TestIdentity, TestCaseResult]]) -> tuple[TestCaseResult, ...]:
    """The results in document order, pytest's consecutive reruns folded into one: the last
    try's outcome, every earlier try counted as a retry (its message kept when the last
    passed)."""
    folded: list[TestCaseResult] = []
    for identity, result in cases:
        earlier = folded[-1] if folded else None
        if earlier is None or earlier.identity != identity or identity.suite != PYTEST_SUITE:
            folded.append(result)
            continue
        kept = result if result.message is not None else earlier
        folded[-1] = TestCaseResult(
            identity=identity,
            status=result.status,
            duration_ms=_total(earlier.duration_ms, result.duration_ms),
            retries=earlier.retries + result.retries + 1,
            message=kept.message,
            trace=kept.trace,
        )
    return tuple(folded)


def _total(first: int | None, second: int | None) -> int | None:
    """A test's time in the job is the sum of its tries'."""
    if first is None or second is None:
        return second if first is None else first
    return first + second
