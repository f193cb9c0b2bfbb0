"""What a reporter command can fail with, and its exit status.

What a reporter command can fail with, each with the exit status the CLI ends with.

CipulseError
└── ReporterError                 a reporter command failed; nothing more was sent
    ├── Rejected           exit 1  the cipulse server refused the payload (4xx but 429)
    ├── BadInput           exit 2  the file, an option or the environment is wrong, or
    │                              the payload fails validation: nothing was sent
    ├── GaveUp             exit 3  retryable failures (429, 5xx, connection errors,
    │                              timeouts) until the tries or the time ran out
    └── SourceUnavailable  exit 4  the CI system's API did not give the run
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import TypeAdapter, ValidationError

from cipulse.errors import CipulseError

T = TypeVar("T")


class ReporterError(CipulseError):
    exit_code = 1
    code = "reporter_error"


class Rejected(ReporterError):
    """The server answered 4xx (other than 429): retrying the same payload cannot help."""

    exit_code = 1
    code = "rejected"

    def __init__(self, message: str, status_code: int) -> None:
        super().__init__(message)
        self.status_code = status_code


class BadInput(ReporterError):
    exit_code = 2
    code = "bad_input"


class GaveUp(ReporterError):
    exit_code = 3
    code = "gave_up"

    def __init__(self, message: str, tries: int) -> None:
        super().__init__(message)
        self.tries = tries


class SourceUnavailable(ReporterError):
    exit_code = 4
    code = "source_unavailable"


def unexpected_answer(source: str, url: str, error: ValidationError) -> SourceUnavailable:
    """The CI system answered something else than the documented shape: name the fields
    (``jobs[0].started_at``), in our words, not pydantic's."""
    fields = []
    for problem in error.errors(include_url=False):
        path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in problem["loc"])
        fields.append(path.removeprefix(".") or "the document")
    listed = ", ".join(dict.fromkeys(fields))
    return SourceUnavailable(
        f"{source}: unexpected answer from {url}: missing or not as documented: {listed}"
    )


def parsed(adapter: TypeAdapter[T], document: Any, source: str, url: str) -> T:
    """``document`` (the answer from ``url``) as ``adapter``'s type, else ``unexpected_answer``."""
    try:
        return adapter.validate_python(document)
    except ValidationError as exc:
        raise unexpected_answer(source, url, exc) from None
