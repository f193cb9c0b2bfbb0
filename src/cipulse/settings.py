"""Settings: the one settings object (pydantic-settings).

The one settings object. Every setting has a default, a help text and an environment variable
(``CIPULSE_`` + the name in capitals); ``docs/configuration.md`` lists them all and a test keeps
the two in step."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite:///./cipulse.db"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CIPULSE_", extra="ignore", frozen=True)

    database_url: Annotated[
        str,
        Field(
            description="Where data lives: `sqlite:///path/to/file.db` (embedded, zero set-up) "
            "or `postgresql://user@host:5432/db` (production; many servers may share it)."
        ),
    ] = DEFAULT_DATABASE_URL
    host: Annotated[str, Field(description="Interface `cipulse serve` listens on.")] = "127.0.0.1"
    port: Annotated[
        int, Field(ge=0, le=65535, description="TCP port `cipulse serve` listens on.")
    ] = 8000
    workers: Annotated[
        int, Field(ge=1, le=64, description="Server processes `cipulse serve` starts.")
    ] = 1
    public_url: Annotated[
        str,
        Field(
            description="Base URL clients use to reach this server, root path included "
            "(`https://ci.example.com/cipulse`), in the commands the start-up message and the "
            "dashboard print. Empty: the start-up message uses host, port and root path; the "
            "dashboard the address each request came to."
        ),
    ] = ""
    root_path: Annotated[
        str,
        Field(
            description="Path prefix the server is served under behind a reverse proxy, such "
            "as `/cipulse`: every link, form, redirect and cookie of the dashboard carries it. "
            "The proxy may strip the prefix or pass it on. Empty: served at `/`.",
        ),
    ] = ""
    max_body_bytes: Annotated[
        int,
        Field(ge=1024, description="Largest accepted request body in bytes; larger gets 413."),
    ] = 1024 * 1024
    max_test_results_bytes: Annotated[
        int,
        Field(
            ge=1024,
            description="Largest accepted body of `POST /api/v1/test-results` in bytes, and "
            "largest size of its reports once decompressed; larger gets 413.",
        ),
    ] = 32 * 1024 * 1024
    body_drain_bytes: Annotated[
        int,
        Field(
            ge=0,
            description="How much of a request body the server reads and discards before "
            "answering an error it gave without reading the body (413, 401, ...), so that "
            "clients that send all before they read see the answer instead of a reset "
            "connection. Larger bodies get the answer and the connection is closed.",
        ),
    ] = 64 * 1024 * 1024
    bootstrap_org: Annotated[
        str,
        Field(
            description="On first start with an empty database, create this organisation, "
            "an ingest key and a dashboard user `admin@cipulse.local`, and print the key and "
            "the user's password once. Empty string: create nothing."
        ),
    ] = "default"
    ingest_batch_size: Annotated[
        int,
        Field(
            ge=1,
            le=10_000,
            description="Most ingest requests committed together in one transaction "
            "(group commit). Higher favours throughput, lower favours latency.",
        ),
    ] = 200
    ingest_writers: Annotated[
        int,
        Field(
            ge=1,
            le=32,
            description="Writer threads per server process that store ingest batches "
            "(PostgreSQL only; SQLite has one writer). More overlap round trips to a remote "
            "database; on one machine one writer with larger batches measured faster.",
        ),
    ] = 1
    sqlite_busy_timeout_ms: Annotated[
        int,
        Field(
            ge=0,
            description="How long a SQLite writer waits for the lock of another process before "
            "the request fails with 503.",
        ),
    ] = 5000
    ingest_queue_limit: Annotated[
        int,
        Field(
            ge=1,
            description="Most ingest requests waiting for a writer per server process; beyond "
            "it ingest answers 503 with `Retry-After` at once instead of queueing in memory.",
        ),
    ] = 1000
    database_timeout_seconds: Annotated[
        float,
        Field(
            gt=0,
            description="PostgreSQL: connect timeout, and the longest a request waits for a "
            "free pooled connection; past it requests get 503.",
        ),
    ] = 5.0
    request_timeout_seconds: Annotated[
        float,
        Field(
            gt=0,
            description="Longest a request other than ingest waits for the database (read API, "
            "dashboard, sign-in, webhooks); past it the client gets 503 with `Retry-After`. "
            "On PostgreSQL also the `statement_timeout` of reads.",
        ),
    ] = 30.0
    health_timeout_seconds: Annotated[
        float,
        Field(
            gt=0,
            description="Longest `/healthz` waits for its database probe; past it the answer is "
            "503 with `Retry-After`.",
        ),
    ] = 2.0
    min_free_disk_mib: Annotated[
        int,
        Field(
            ge=0,
            description="SQLite: `/healthz` answers 503 when the database's file system has "
            "less free space than this, in MiB (0: not checked).",
        ),
    ] = 64
    write_timeout_seconds: Annotated[
        float,
        Field(
            gt=0,
            description="Longest an ingest request waits for its write to be stored; past it "
            "the client gets 503 and should retry (retries are idempotent).",
        ),
    ] = 30.0
    retry_after_seconds: Annotated[
        int,
        Field(ge=1, description="`Retry-After` sent with 503 when the database is unavailable."),
    ] = 5
    rollup_interval_seconds: Annotated[
        float,
        Field(
            ge=0,
            description="How often a server refreshes the analytics rollups that ingest changed "
            "(0: never; reads stay exact either way, computing stale days from raw rows).",
        ),
    ] = 2.0
    retention_days: Annotated[
        int,
        Field(
            ge=0,
            description="Keep the raw runs (and their jobs) of this many days: each day a "
            "server purges the older ones, as `cipulse purge --older-than DAYS` does; their "
            "figures stay in the rollups (docs/metrics.md, After a purge). 0: keep everything.",
        ),
    ] = 0
    session_days: Annotated[
        int,
        Field(
            ge=1,
            description="How long a dashboard sign-in lasts, in days; then the user signs in "
            "again.",
        ),
    ] = 14
    secure_cookies: Annotated[
        Literal["auto", "always", "never"],
        Field(
            description="Whether the dashboard's cookies are marked `Secure` (sent over HTTPS "
            "only): `auto` when `public_url` starts with `https://`, `always` or `never`.",
        ),
    ] = "auto"
    forwarded_allow_ips: Annotated[
        str,
        Field(
            description="Comma-separated addresses of the reverse proxies whose "
            "`X-Forwarded-For` and `X-Forwarded-Proto` `cipulse serve` trusts (`*`: any). The "
            "client address they give is the one the sign-in throttle counts.",
        ),
    ] = "127.0.0.1"
    log_level: Annotated[str, Field(description="Log level: debug, info, warning or error.")] = (
        "info"
    )

    @field_validator("database_url")
    @classmethod
    def _supported_database(cls, value: str) -> str:
        if not value.startswith(
            ("sqlite://", "postgresql://", "postgresql+psycopg://", "postgres://")
        ):
            raise ValueError(
                f"must start with sqlite:/// or postgresql:// (got {value.split(':', 1)[0]!r})"
            )
        return value

    @field_validator("root_path")
    @classmethod
    def _path_prefix(cls, value: str) -> str:
        prefix = value.strip().rstrip("/")
        if prefix and (not prefix.startswith("/") or "//" in prefix or "?" in prefix):
            raise ValueError(f"must be a path like /cipulse (got {value!r})")
        return prefix

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        if value.lower() not in {"debug", "info", "warning", "error"}:
            raise ValueError("must be one of debug, info, warning, error")
        return value.lower()

    @property
    def cookie_secure(self) -> bool:
        """Whether cookies get the ``Secure`` attribute (see ``secure_cookies``)."""
        if self.secure_cookies == "auto":
            return self.public_url.lower().startswith("https://")
        return self.secure_cookies == "always"

    @property
    def base_url(self) -> str:
        """Where clients reach this server: ``public_url``, else the address it listens on
        (loopback when it listens on every interface) with ``root_path``."""
        if self.public_url:
            return self.public_url.rstrip("/")
        host = "127.0.0.1" if self.host in {"0.0.0.0", "::"} else self.host
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}{self.root_path}"
