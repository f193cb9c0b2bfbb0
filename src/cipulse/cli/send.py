"""``cipulse send``: post one RunWatch or Trunk payload file.

``cipulse send``: post one RunWatch or Trunk payload file to a cipulse server, from any CI.

Also what ``cipulse report`` shares with it: the delivery options, the check of a payload with
the server's own schemas before anything is sent, and the exit statuses."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Any, TypeVar

import click
import orjson

from cipulse.cli.context import say
from cipulse.errors import InvalidRequest
from cipulse.ingestion.formats import WireFormat, parse
from cipulse.reporters.errors import BadInput, ReporterError
from cipulse.reporters.http import RetryingClient, RetryNotice
from cipulse.reporters.ingest_client import (
    IngestFormat,
    Stored,
    detect_format,
    post_payload,
    read_document,
)
from cipulse.reporters.retry import RetryPolicy

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True, slots=True)
class Delivery:
    """Where and how to post: the delivery options of ``send`` and ``report``."""

    url: str | None
    api_key: str | None = field(repr=False)
    policy: RetryPolicy
    timeout_seconds: float
    dry_run: bool

    def check(self) -> None:
        """A post needs a URL and a key (``--dry-run`` needs neither): say so before any
        work is done."""
        if not self.dry_run:
            self.destination()

    def destination(self) -> tuple[str, str]:
        """The server's URL and the key."""
        if not self.url:
            raise click.UsageError("give the server's URL: --url or CIPULSE_URL")
        if not self.api_key:
            raise click.UsageError("give an ingest API key: CIPULSE_API_KEY or --api-key")
        return self.url, self.api_key

    def client(self) -> RetryingClient:
        return RetryingClient(
            self.policy, timeout_seconds=self.timeout_seconds, on_retry=_tell_retry
        )


def _tell_retry(notice: RetryNotice) -> None:
    say(
        f"{notice.method} {notice.url}: {notice.problem}; retry {notice.retry} of "
        f"{notice.retries} in {notice.wait_seconds:.1f}s"
    )


#: ``--url``, ``--api-key`` and how hard to try: the options ``delivery_options`` adds.
DELIVERY_OPTIONS = [
    click.option(
        "--url",
        envvar="CIPULSE_URL",
        help="Base URL of the cipulse server, e.g. https://cipulse.example.com [env: CIPULSE_URL].",
    ),
    click.option(
        "--api-key",
        envvar="CIPULSE_API_KEY",
        help="An ingest API key; prefer the environment variable [env: CIPULSE_API_KEY].",
    ),
    click.option(
        "--retries",
        type=click.IntRange(0, 100),
        default=5,
        show_default=True,
        help="Retries after the first try.",
    ),
    click.option(
        "--retry-backoff",
        type=click.FloatRange(min=0),
        default=1.0,
        show_default=True,
        envvar="CIPULSE_RETRY_BACKOFF",
        help="Seconds before the first retry, doubled for each next one (with jitter, "
        "at most 60) [env: CIPULSE_RETRY_BACKOFF].",
    ),
    click.option(
        "--max-retry-time",
        type=click.FloatRange(min=0),
        default=300.0,
        show_default=True,
        help="Seconds after the first try past which no retry is started.",
    ),
    click.option(
        "--timeout",
        type=click.FloatRange(min=0.001),
        default=30.0,
        show_default=True,
        help="Seconds to wait for each answer.",
    ),
    click.option(
        "--dry-run",
        is_flag=True,
        help="Check the payload and print it on stdout instead of posting it.",
    ),
]


def delivery_options(command: F) -> F:
    """The options that say where to post and how hard to try, handed to the command as one
    ``delivery`` argument."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        kwargs["delivery"] = Delivery(
            url=kwargs.pop("url"),
            api_key=kwargs.pop("api_key"),
            policy=RetryPolicy(
                retries=kwargs.pop("retries"),
                backoff_seconds=kwargs.pop("retry_backoff"),
                max_total_seconds=kwargs.pop("max_retry_time"),
            ),
            timeout_seconds=kwargs.pop("timeout"),
            dry_run=kwargs.pop("dry_run"),
        )
        return command(*args, **kwargs)

    for option in reversed(DELIVERY_OPTIONS):
        wrapper = option(wrapper)
    return wrapper  # type: ignore[return-value]


def exits_with_status(command: F) -> F:
    """A reporter error ends the command with its message and its exit status."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except ReporterError as exc:
            say(f"error: {exc.message}")
            sys.exit(exc.exit_code)

    return wrapper  # type: ignore[return-value]


def check_payload(wire_format: IngestFormat, body: bytes, origin: str) -> list[str]:
    """Validate with the server's own schemas and converters, so that a bad payload fails
    here, naming its fields, instead of on the server. Returns the warnings the server will
    answer with (what it will store otherwise than sent: impossible timings)."""
    try:
        return parse(WireFormat(wire_format.value), body).warnings
    except InvalidRequest as exc:
        raise BadInput(f"{origin}: not a valid {wire_format} payload: {exc.message}") from None


def deliver(
    delivery: Delivery,
    client: RetryingClient,
    wire_format: IngestFormat,
    body: bytes,
    origin: str,
) -> Stored | None:
    """Check ``body``, then post it (or, with ``--dry-run``, print it). Prints the server's
    answer on stdout."""
    warnings = check_payload(wire_format, body, origin)
    if delivery.dry_run:
        click.echo(body.decode())
        say(f"{origin}: a valid {wire_format} payload; not sent (--dry-run)")
        for warning in warnings:
            say(f"warning: {warning}")
        return None
    url, api_key = delivery.destination()
    stored = post_payload(client, url, api_key, wire_format, body, source="cipulse-send")
    click.echo(orjson.dumps(stored.answer).decode())
    say(f"stored: {origin} → {stored.url} (HTTP {stored.status_code})")
    warned = stored.answer.get("warnings")
    for warning in warned if isinstance(warned, list) else []:
        say(f"warning: {warning}")
    return stored


@click.command()
@click.argument("file", type=click.File("rb"))
@click.option(
    "--format",
    "wire_format",
    type=click.Choice([f.value for f in IngestFormat]),
    help="Wire format of FILE [default: from its shape: trunk when it has events and repo, "
    "else runwatch].",
)
@delivery_options
@exits_with_status
def send(file: IO[bytes], wire_format: str | None, delivery: Delivery) -> None:
    """Post FILE (one RunWatch or Trunk payload; - reads stdin) to a cipulse server.

    The payload is checked first with the server's own schemas; an invalid one is not sent
    and its fields at fault are named. RunWatch goes to /api/v1/ingest with X-API-Key, Trunk
    to /v1/metrics/trackEvents with x-api-token. The server's answer is printed on stdout.

    \b
    Connection errors, timeouts, 429 and 5xx are retried with exponential backoff and jitter,
    waiting at least what Retry-After asks; other 4xx never are.
    Exit status: 0 stored; 1 refused by the server (a 4xx other than 429; its message is
    printed); 2 wrong usage or an invalid payload, nothing sent; 3 gave up after the retries."""
    delivery.check()
    origin = str(getattr(file, "name", "<stdin>"))
    body = file.read()
    document = read_document(body, origin)
    chosen = IngestFormat(wire_format) if wire_format else detect_format(document)
    with delivery.client() as client:
        deliver(delivery, client, chosen, body, origin)
