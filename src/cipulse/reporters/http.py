"""An HTTP client that retries what retry.py says, and pages lists.

An HTTP client that tries a request again on a connection error, a timeout, a 429 or a
5xx, as ``retry.py`` says, and reads a list a page at a time. It never retries another 4xx:
the answer is the caller's to read."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import orjson

from cipulse import __version__
from cipulse.reporters.errors import BadInput, GaveUp, SourceUnavailable
from cipulse.reporters.retry import RetryPolicy, is_retryable_status, retry_after_seconds

USER_AGENT = f"cipulse/{__version__}"
#: The most pages a list is read from (10,000 jobs at 100 a page).
MAX_PAGES = 100
MAX_MESSAGE_LENGTH = 300


@dataclass(frozen=True, slots=True)
class RetryNotice:
    """A failed try that will be tried again, for the command to tell its user about."""

    method: str
    url: str
    problem: str
    wait_seconds: float
    retry: int
    retries: int


def _ignore(_notice: RetryNotice) -> None:
    return None


class RetryingClient:
    """``httpx.Client`` with the retry policy; redirects are not followed (a redirected POST
    would lose its body, so a redirect is the caller's to report)."""

    def __init__(
        self,
        policy: RetryPolicy,
        *,
        timeout_seconds: float = 30.0,
        on_retry: Callable[[RetryNotice], None] = _ignore,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        draw: Callable[[], float] = random.random,
    ) -> None:
        self.policy = policy
        self._on_retry = on_retry
        self._sleep = sleep
        self._clock = clock
        self._draw = draw
        self._client = httpx.Client(
            timeout=timeout_seconds, follow_redirects=False, headers={"User-Agent": USER_AGENT}
        )

    def __enter__(self) -> RetryingClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        content: bytes | None = None,
    ) -> httpx.Response:
        """The first answer that is not worth retrying (2xx, 3xx, or 4xx but 429). Raises
        ``GaveUp`` when the tries or the time ran out, ``BadInput`` for a URL that cannot be
        requested at all."""
        started = self._clock()
        retry = 0
        where = f"{method} {shown(url)}"
        while True:
            retry_after: float | None = None
            try:
                response = self._client.request(method, url, headers=headers, content=content)
            except (httpx.UnsupportedProtocol, httpx.LocalProtocolError, httpx.InvalidURL) as exc:
                raise BadInput(f"cannot request {shown(url)}: {exc}") from None
            except httpx.TimeoutException as exc:
                problem = f"timed out ({type(exc).__name__})"
            except httpx.TransportError as exc:
                problem = f"connection failed ({str(exc) or type(exc).__name__})"
            else:
                if not is_retryable_status(response.status_code):
                    return response
                problem = describe(response)
                retry_after = retry_after_seconds(
                    response.headers.get("Retry-After"), datetime.now(UTC)
                )
                response.close()
            retry += 1
            tries = f"{retry} {'try' if retry == 1 else 'tries'}"
            if retry > self.policy.retries:
                raise GaveUp(f"{where}: {problem}; gave up after {tries}", retry)
            wait = self.policy.delay(retry, retry_after, self._draw)
            if self._clock() - started + wait > self.policy.max_total_seconds:
                raise GaveUp(
                    f"{where}: {problem}; gave up after {tries}: waiting {wait:.1f}s "
                    f"more would pass the {self.policy.max_total_seconds:g}s allowed",
                    retry,
                )
            self._on_retry(
                RetryNotice(method, shown(url), problem, wait, retry, self.policy.retries)
            )
            self._sleep(wait)

    def get_json(
        self,
        url: str,
        headers: Mapping[str, str],
        source: str,
        hints: Mapping[int, str] | None = None,
    ) -> tuple[Any, httpx.Response]:
        """A JSON document from a CI system's API; ``SourceUnavailable`` unless it is 2xx,
        with the hint for its status code if there is one."""
        response = self.request("GET", url, headers=headers)
        if not 200 <= response.status_code < 300:
            hint = (hints or {}).get(response.status_code)
            raise SourceUnavailable(
                f"{source}: GET {shown(url)}: {describe(response)}" + (f" ({hint})" if hint else "")
            )
        try:
            return orjson.loads(response.content), response
        except orjson.JSONDecodeError:
            raise SourceUnavailable(f"{source}: GET {shown(url)}: the answer is not JSON") from None

    def get_pages(
        self,
        url: str,
        headers: Mapping[str, str],
        source: str,
        next_url: Callable[[httpx.Response], str | None],
        hints: Mapping[int, str] | None = None,
    ) -> Iterator[Any]:
        """Each page of a list, following ``next_url`` of each answer. The next page must be
        on the same origin as the first (the token goes with every request)."""
        origin = _origin(url)
        for _ in range(MAX_PAGES):
            document, response = self.get_json(url, headers, source, hints)
            yield document
            following = next_url(response)
            if following is None:
                return
            if _origin(following) != origin:
                raise SourceUnavailable(
                    f"{source}: the next page is on another host ({shown(following)}); "
                    "not following it"
                )
            url = following
        raise SourceUnavailable(f"{source}: more than {MAX_PAGES} pages at {shown(url)}")


def shown(url: str) -> str:
    """``url`` as it may be printed: credentials in it (``https://user:secret@host``) hidden."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc


def link_next(response: httpx.Response) -> str | None:
    """The ``rel="next"`` URL of the ``Link`` header, if any."""
    link = response.links.get("next")
    return link.get("url") if link else None


def describe(response: httpx.Response) -> str:
    """``HTTP 400: <the server's message>``: the ``error`` (cipulse) or ``message`` (GitHub,
    GitLab) of a JSON body, else the start of the text."""
    message = error_message(response)
    return f"HTTP {response.status_code}" + (f": {message}" if message else "")


def error_message(response: httpx.Response) -> str:
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        text = response.text.strip()
    else:
        if isinstance(body, dict):
            found = body.get("error") or body.get("message")
            text = str(found) if found else response.text.strip()
        else:
            text = response.text.strip()
    if len(text) > MAX_MESSAGE_LENGTH:
        text = text[:MAX_MESSAGE_LENGTH] + "…"
    return text
