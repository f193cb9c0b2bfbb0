"""The one settings object. Every setting has a default, a help text and an environment variable
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
            description="Base URL clients use to reach this server, shown in the start-up "
            "message. Empty: derived from host and port."
        ),
    ] = ""
    max_body_bytes: Annotated[
        int,
        Field(ge=1024, description="Largest accepted request body in bytes; larger gets 413."),
    ] = 1024 * 1024
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
    database_timeout_seconds: Annotated[
        float,
        Field(
            gt=0,
            description="Connect timeout for PostgreSQL; past it requests get 503.",
        ),
    ] = 5.0
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
        if self.public_url:
            return self.public_url.rstrip("/")
        host = "127.0.0.1" if self.host in {"0.0.0.0", "::"} else self.host
        return f"http://{host}:{self.port}"
