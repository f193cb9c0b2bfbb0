"""cipulse report junit: which reports, which run, posted in one request.

The client side of ``POST /api/v1/test-results``: the report files a glob names, the run
attempt and job they belong to (given, or read from the CI's environment), and one
multipart request with each report gzip-compressed."""

from __future__ import annotations

import glob
import gzip
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

from cipulse.reporters.errors import BadInput, Rejected
from cipulse.reporters.http import RetryingClient, describe, shown

PATH = "/api/v1/test-results"
_GLOB_CHARACTERS = set("*?[")


@dataclass(frozen=True, slots=True)
class RunTarget:
    """The run attempt and job, as the endpoint's parameters name them."""

    pipeline_run_id: str | None = None
    provider: str | None = None
    repository: str | None = None
    pipeline: str | None = None
    run_id: str | None = None
    run_attempt: int | None = None
    job: str | None = None

    def parameters(self) -> dict[str, str]:
        values = {
            "pipeline_run_id": self.pipeline_run_id,
            "provider": self.provider,
            "repository": self.repository,
            "pipeline": self.pipeline,
            "run_id": self.run_id,
            "run_attempt": None if self.run_attempt is None else str(self.run_attempt),
            "job": self.job,
        }
        return {name: value for name, value in values.items() if value}


def report_files(patterns: tuple[str, ...]) -> list[Path]:
    """The files the arguments name: paths, or globs (``**`` too) that CI configurations pass
    unexpanded. Each file once, in the order named; a glob matching nothing is an error."""
    found: dict[Path, None] = {}
    for pattern in patterns:
        if _GLOB_CHARACTERS & set(pattern):
            matches = sorted(glob.glob(pattern, recursive=True))
            if not matches:
                raise BadInput(f"{pattern}: no file matches")
            found.update((Path(m), None) for m in matches if Path(m).is_file())
        elif Path(pattern).is_file():
            found[Path(pattern)] = None
        else:
            raise BadInput(f"{pattern}: no such file")
    return list(found)


def target_from(env: Mapping[str, str], given: RunTarget) -> RunTarget:
    """``given``, completed from the CI's environment when it names no run: GitHub Actions
    (``GITHUB_*``) or GitLab CI (``CI_*``)."""
    if given.pipeline_run_id or given.run_id:
        return given
    if env.get("GITHUB_ACTIONS") == "true":
        return RunTarget(
            provider=given.provider or "github",
            repository=given.repository or env.get("GITHUB_REPOSITORY"),
            pipeline=given.pipeline,
            run_id=env.get("GITHUB_RUN_ID"),
            run_attempt=given.run_attempt or int(env.get("GITHUB_RUN_ATTEMPT", "1") or 1),
            job=given.job or env.get("GITHUB_JOB"),
        )
    if env.get("GITLAB_CI") == "true":
        return RunTarget(
            provider=given.provider or "gitlab",
            repository=given.repository or env.get("CI_PROJECT_PATH"),
            pipeline=given.pipeline,
            run_id=env.get("CI_PIPELINE_ID"),
            run_attempt=given.run_attempt,
            job=given.job or env.get("CI_JOB_NAME"),
        )
    raise BadInput(
        "which run? give --run (a pipeline run id), or --provider, --repository and "
        "--run-id (outside GitHub Actions and GitLab CI)"
    )


def multipart(files: list[tuple[str, bytes]]) -> tuple[str, bytes]:
    """A ``multipart/form-data`` body of the files (name, content), each under ``files``."""
    boundary = secrets.token_hex(16)
    body = bytearray()
    for name, content in files:
        safe = name.replace('"', "%22").replace("\r", "").replace("\n", "")
        body += (
            f'--{boundary}\r\nContent-Disposition: form-data; name="files"; '
            f'filename="{safe}"\r\nContent-Type: application/octet-stream\r\n\r\n'
        ).encode()
        body += content + b"\r\n"
    body += f"--{boundary}--\r\n".encode()
    return f"multipart/form-data; boundary={boundary}", bytes(body)


def compressed(path: Path) -> bytes:
    """The file gzip-compressed, unless it already is."""
    data = path.read_bytes()
    return data if data.startswith(b"\x1f\x8b") else gzip.compress(data, mtime=0)


def post_reports(
    client: RetryingClient,
    base_url: str,
    api_key: str,
    target: RunTarget,
    files: list[tuple[str, bytes]],
) -> tuple[str, bytes]:
    """Post the reports; returns the URL (as it may be printed) and the server's answer.
    ``Rejected`` for a 4xx (other than 429) or a redirect."""
    url = base_url.strip().rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise BadInput(f"--url: must be an http:// or https:// URL, not {shown(base_url)!r}")
    url = (url if url.endswith(PATH) else url + PATH) + "?" + urlencode(target.parameters())
    content_type, body = multipart(files)
    headers = {"Content-Type": content_type, "X-API-Key": api_key}
    response = client.request("POST", url, headers=headers, content=body)
    if 300 <= response.status_code < 400 or response.status_code >= 400:
        raise Rejected(
            f"the server refused the reports ({describe(response)})", response.status_code
        )
    return shown(url), response.content
