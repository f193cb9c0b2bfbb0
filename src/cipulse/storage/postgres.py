"""PostgreSQL engines and the time limits on their connections.

Three kinds of connection, each bounded so that no request waits on PostgreSQL without end:

- **writers** (ingest batches, the rollup refresher, administrative commands): a statement
  waits at most ``CIPULSE_WRITE_TIMEOUT_SECONDS`` for a lock (``lock_timeout``), so a
  transaction stuck elsewhere turns into a 503 instead of a queue that never moves;
- **readers** (the read API, the dashboard, sign-in): a statement runs at most
  ``CIPULSE_REQUEST_TIMEOUT_SECONDS`` (``statement_timeout``), as long as the request that
  asked for it waits;
- **probes** (``/healthz``): a new connection each time, unpooled, so that a probe also
  checks that PostgreSQL accepts connections and never waits behind a busy pool.

Every connection has a connect timeout (``CIPULSE_DATABASE_TIMEOUT_SECONDS``) and TCP
keepalives with ``TCP_USER_TIMEOUT``, which find a dead host or a broken network path. None
of these fires when PostgreSQL itself is frozen (its kernel still answers TCP): the server's
own deadlines on requests cover that case (``web/deadlines.py``)."""

from __future__ import annotations

from typing import Any, Literal

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.pool import NullPool

from cipulse.settings import Settings

#: TCP keepalive: first probe after this many idle seconds, then one every interval; the
#: connection is dropped after ``KEEPALIVE_COUNT`` unanswered probes (a dead host: 25 s).
KEEPALIVE_IDLE_SECONDS = 10
KEEPALIVE_INTERVAL_SECONDS = 5
KEEPALIVE_COUNT = 3
#: Data sent and not acknowledged for this long drops the connection (a dead host while a
#: query is being sent).
TCP_USER_TIMEOUT_SECONDS = 30

#: Connections of the read pool (the request threads of ``web/deadlines.py`` match it).
READ_POOL_SIZE = 5
READ_POOL_OVERFLOW = 15
#: Writer connections beyond the ingest writers, the refresher and the maintenance thread.
WRITE_POOL_OVERFLOW = 5

Role = Literal["writer", "reader", "probe"]


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def _milliseconds(seconds: float) -> int:
    return max(1, round(seconds * 1000))


def connect_args(settings: Settings, role: Role) -> dict[str, Any]:
    """libpq parameters of one kind of connection (see the module docstring)."""
    if role == "writer":
        limits = f"-c lock_timeout={_milliseconds(settings.write_timeout_seconds)}"
    elif role == "reader":
        limits = f"-c statement_timeout={_milliseconds(settings.request_timeout_seconds)}"
    else:
        limits = f"-c statement_timeout={_milliseconds(settings.health_timeout_seconds)}"
    return {
        "connect_timeout": max(1, round(settings.database_timeout_seconds)),
        "application_name": "cipulse",
        "keepalives": 1,
        "keepalives_idle": KEEPALIVE_IDLE_SECONDS,
        "keepalives_interval": KEEPALIVE_INTERVAL_SECONDS,
        "keepalives_count": KEEPALIVE_COUNT,
        "tcp_user_timeout": TCP_USER_TIMEOUT_SECONDS * 1000,
        "options": limits,
    }


def postgres_engine(url: sa.URL, settings: Settings, role: Role) -> Engine:
    pool: dict[str, Any]
    if role == "probe":
        pool = {"poolclass": NullPool}
    else:
        size, overflow = READ_POOL_SIZE, READ_POOL_OVERFLOW
        if role == "writer":
            # One each for the ingest writers, the rollup refresher and the maintenance thread.
            size, overflow = settings.ingest_writers + 2, WRITE_POOL_OVERFLOW
        pool = {
            "pool_size": size,
            "max_overflow": overflow,
            # A request waits this long for a free connection, then gets 503.
            "pool_timeout": settings.database_timeout_seconds,
            # No pre-ping: it costs a round trip per batch. A connection that died is
            # invalidated on its first error (that request gets 503 and is retried).
            "pool_pre_ping": False,
        }
    if role == "reader":
        # A read sees one state of the database throughout, as on SQLite: a page or answer
        # that reads stored rollups, their marks and raw rows in several statements must not
        # see the refresher's commit between two of them (a job counted once, not twice).
        # Read-only, so it never fails to serialise.
        pool["isolation_level"] = "REPEATABLE READ"
    return sa.create_engine(
        url,
        json_serializer=_json_dumps,
        json_deserializer=orjson.loads,
        connect_args=connect_args(settings, role),
        **pool,
    )
