"""The JUnit converter on real reports of every dialect, and on hostile input."""

from __future__ import annotations

import gzip
from collections import Counter
from pathlib import Path

import pytest

from cipulse.domain.test_results import MAX_IDENTITY_CHARS, TestStatus
from cipulse.errors import InvalidRequest, PayloadTooLarge
from cipulse.ingestion.junit.converter import convert

REAL = Path(__file__).parent / "fixtures" / "real" / "junit"
LIMIT = 10 * 1024 * 1024

# (file, passed, failed, error, skipped, retries, flaky in the job), counted by hand from
# the files: <testcase> elements and their failure/error/skipped/flaky*/rerun* children.
EXPECTED = [
    ("pytest-9.2.xml", 4, 3, 1, 2, 0, 0),
    ("pytest-9.2-xunit1.xml", 4, 3, 1, 2, 0, 0),
    # 16 <testcase>: 3 tries of test_discount_is_wrong, test_orders_need_db and
    # test_always_broken, 2 of test_flaky_network (failed, then passed), 1 of the others.
    ("pytest-9.2-rerunfailures-16.7.xml", 5, 2, 1, 2, 7, 1),
    ("surefire-3.0.2-flakyFailure.xml", 1, 0, 0, 0, 2, 1),
    ("surefire-3.0.2-rerunFailure.xml", 0, 1, 0, 0, 3, 0),
    ("surefire-pulsar.xml", 793, 1, 0, 14, 0, 0),
    ("jest-junit.xml", 1, 4, 0, 1, 0, 0),
    ("go-junit-report.xml", 2, 2, 0, 1, 0, 0),
    ("phpunit-11.xml", 10, 2, 0, 0, 0, 0),
    ("playwright.xml", 36, 4, 0, 20, 0, 0),
    ("dotnet-junit-logger.xml", 32, 14, 0, 6, 0, 0),
    ("mocha-junit-reporter.xml", 109, 0, 0, 0, 0, 0),
    ("nested-testsuites.xml", 5, 0, 0, 0, 0, 0),
]


def _read(name: str) -> bytes:
    return (REAL / name).read_bytes()


@pytest.mark.parametrize(
    ("name", "passed", "failed", "error", "skipped", "retries", "flaky"), EXPECTED
)
def test_real_reports(
    name: str, passed: int, failed: int, error: int, skipped: int, retries: int, flaky: int
) -> None:
    report = convert(_read(name), "report", LIMIT)
    statuses = Counter(case.status for case in report.cases)
    assert (
        statuses
        == Counter(
            {
                TestStatus.PASSED: passed,
                TestStatus.FAILED: failed,
                TestStatus.ERROR: error,
                TestStatus.SKIPPED: skipped,
            }
        )
        - Counter()
    )
    assert sum(case.retries for case in report.cases) == retries
    assert sum(case.flaky_in_job for case in report.cases) == flaky
    assert report.warnings == ()


@pytest.mark.parametrize("name", [row[0] for row in EXPECTED])
def test_convert_twice_same_result(name: str) -> None:
    data = _read(name)
    assert convert(data, "report", LIMIT) == convert(data, "report", LIMIT)
    assert convert(gzip.compress(data), "report", LIMIT) == convert(data, "report", LIMIT)


def test_pytest_rerun_fields() -> None:
    cases = {
        c.identity.name: c
        for c in convert(_read("pytest-9.2-rerunfailures-16.7.xml"), "r", LIMIT).cases
    }
    flaky = cases["test_flaky_network"]
    assert (flaky.status, flaky.retries, flaky.identity.class_name) == (
        TestStatus.PASSED,
        1,
        "tests.test_shop",
    )
    broken = cases["test_always_broken"]
    assert broken.status is TestStatus.FAILED and broken.retries == 2
    assert broken.message == 'ValueError: unexpected <tag> & "quote" in response'
    assert broken.trace is not None and broken.trace.startswith("def test_always_broken():")
    assert cases["test_orders_need_db"].status is TestStatus.ERROR
    assert cases["test_payment"].message == "payment gateway not configured"
    assert cases["test_total"].identity.suite == "pytest"


def test_pytest_xunit1_has_files() -> None:
    cases = convert(_read("pytest-9.2-xunit1.xml"), "r", LIMIT).cases
    assert {c.identity.file for c in cases} == {"tests/test_shop.py"}


def test_surefire_flaky_keeps_the_first_failure() -> None:
    (case,) = convert(_read("surefire-3.0.2-flakyFailure.xml"), "r", LIMIT).cases
    assert case.identity.class_name == "io.olamy.FlakyTest"
    assert case.identity.suite == "io.olamy.FlakyTest"
    assert case.message == "obvious fail"
    assert case.trace is not None and len(case.trace.splitlines()) <= 30
    assert case.duration_ms == 1


def test_nested_suites_name_the_nearest_suite() -> None:
    cases = convert(_read("phpunit-11.xml"), "r", LIMIT).cases
    assert cases[0].identity.suite == "CLI Arguments"
    assert cases[2].identity.suite == "PHPUnit\\Event\\CollectingDispatcherTest"
    assert cases[2].identity.class_name == "PHPUnit.Event.CollectingDispatcherTest"


def test_messages_are_bounded() -> None:
    long = "x" * 50_000
    trace = "\n".join(f"line {n}" for n in range(500))
    xml = (
        f'<testsuite name="s"><testcase classname="c" name="t"><failure message="{long}">'
        f"{trace}</failure></testcase></testsuite>"
    ).encode()
    (case,) = convert(xml, "r", LIMIT).cases
    assert case.message is not None and len(case.message) == 1000
    assert case.trace is not None and len(case.trace.splitlines()) == 30


def test_bad_durations_are_unknown_with_a_warning() -> None:
    xml = (
        b'<testsuite name="s"><testcase name="a" time="soon"/>'
        b'<testcase name="b" time="1,234.5"/></testsuite>'
    )
    report = convert(xml, "r", LIMIT)
    assert [c.duration_ms for c in report.cases] == [None, 1234500]
    assert report.warnings == (
        "r: testcase 'a': time 'soon' is not a duration in seconds; stored as unknown",
    )


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<testsuite name="s"><testcase name="&lol3;"/></testsuite>"""
EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE t [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<testsuite name="s"><testcase name="&xxe;"/></testsuite>"""


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (BILLION_LAUGHS, "report: refused: DTDForbidden"),
        (EXTERNAL_ENTITY, "report: refused: DTDForbidden"),
        (b"<testsuite><testcase name='a'></testsuite>", "report: not well-formed XML"),
        (b"", "report: not well-formed XML"),
        (b"<html><body/></html>", "report: not a JUnit report: the root element is <html>"),
        (b"\x1f\x8b not gzip at all", "report: not valid gzip"),
        (
            b"<testsuites>" + b"<testsuite>" * 40 + b"</testsuite>" * 40 + b"</testsuites>",
            "report: testsuite elements nested deeper than 32",
        ),
    ],
)
def test_hostile_or_broken_input_is_a_400(data: bytes, expected: str) -> None:
    with pytest.raises(InvalidRequest) as raised:
        convert(data, "report", LIMIT)
    assert raised.value.message.startswith(expected)


def test_too_long_identities_are_named_all_at_once() -> None:
    name = "n" * (MAX_IDENTITY_CHARS + 1)
    xml = f'<testsuite name="s"><testcase name="{name}" classname="{name}"/></testsuite>'.encode()
    with pytest.raises(InvalidRequest) as raised:
        convert(xml, "files[1]", LIMIT)
    assert raised.value.problems == [
        "files[1]: testcase 1: classname longer than 1000 characters",
        "files[1]: testcase 1: name longer than 1000 characters",
    ]


def test_huge_report_and_gzip_bomb_are_refused() -> None:
    huge = b"<testsuite>" + b" " * (LIMIT + 1) + b"</testsuite>"
    with pytest.raises(PayloadTooLarge, match="report: larger than the limit of"):
        convert(huge, "report", LIMIT)
    bomb = gzip.compress(b"<testsuite>" + b" " * (200 * 1024 * 1024) + b"</testsuite>")
    assert len(bomb) < 300_000
    with pytest.raises(PayloadTooLarge, match="once decompressed"):
        convert(bomb, "report", LIMIT)
