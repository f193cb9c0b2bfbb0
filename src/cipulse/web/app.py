"""The app factory: lifespan, routes, /healthz, /openapi.json.

The app factory. Nothing is built at import time: ``create_app(settings)`` makes the
database, the ingest writer and the routes inside the app's lifespan, so tests can run apps
on SQLite and PostgreSQL side by side."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.openapi.utils import get_openapi
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response

from cipulse import __version__, memory
from cipulse.accounts.throttle import SignInThrottle
from cipulse.accounts.webhooks import WebhookService
from cipulse.analytics.refresh import RollupRefresher
from cipulse.analytics.retention import RetentionKeeper
from cipulse.ingestion.batching import GroupCommitter
from cipulse.ingestion.service import IngestService
from cipulse.settings import Settings
from cipulse.storage.clock import now_ms
from cipulse.storage.database import Database
from cipulse.storage.health import OK
from cipulse.storage.rollups import set_aside as rollup_failures
from cipulse.web import (
    dashboard,
    errors,
    ingest_routes,
    list_routes,
    middleware,
    read_routes,
    webhook_routes,
)
from cipulse.web.deadlines import REQUEST_THREADS, DatabaseWork, HealthProbe, RequestDeadlines
from cipulse.web.root_path import RootPath

CORS_HEADERS = ["Content-Type", "X-API-Key", "x-api-token", "x-source", "Authorization"]


async def healthz(request: Request) -> Response:
    """200 when every check is ``"ok"``, else 503 with ``Retry-After``. Each entry of
    ``checks`` is ``"ok"`` or one line saying what is wrong (docs/api.md)."""
    database: Database = request.app.state.database
    probe: HealthProbe = request.app.state.health_probe
    found = await probe.checks()
    problems = [f"{name}: {state}" for name, state in found.checks.items() if state != OK]
    healthy = not problems
    if problems:
        database.failures.outages.refused(f"health check: {'; '.join(problems)}")
    body = {
        "status": "ok" if healthy else "unavailable",
        "database": database.dialect,
        "checks": found.checks,
        "rollups": None if found.rollups is None else _rollups(found.rollups),
    }
    headers = None if healthy else {"Retry-After": str(database.settings.retry_after_seconds)}
    return Response(
        orjson.dumps(body),
        status_code=200 if healthy else 503,
        media_type="application/json",
        headers=headers,
    )


def _rollups(status: rollup_failures.Status) -> dict[str, Any]:
    """The rollup refresher's backlog: what waits, since when, and what it set aside."""
    oldest = status.oldest_marked_at_ms
    return {
        "pending_partitions": status.partitions,
        "oldest_mark_seconds": None if oldest is None else max(0, now_ms() - oldest) / 1000,
        "failing_partitions": status.failing,
        "failing": [
            {"partition": f.partition.describe(), "failures": f.failures, "error": f.error}
            for f in status.failures[:5]
        ],
    }


async def index(request: Request) -> Response:
    return Response(
        orjson.dumps(
            {
                "name": "cipulse",
                "version": __version__,
                "ingest": {
                    "runwatch": list(ingest_routes.RUNWATCH_PATHS),
                    "trunk": list(ingest_routes.TRUNK_PATHS),
                    "webhooks": ["/webhooks/github/{org}", "/webhooks/gitlab/{org}"],
                },
                "openapi": "/openapi.json",
                "health": "/healthz",
                "dashboard": "/",
            }
        ),
        media_type="application/json",
    )


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        database = Database(settings, background_checkpoints=True)
        committer = GroupCommitter(
            IngestService(database),
            max_batch=settings.ingest_batch_size,
            writers=database.writer_threads,
            timeout_seconds=settings.write_timeout_seconds,
            retry_after=settings.retry_after_seconds,
            queue_limit=settings.ingest_queue_limit,
        )
        committer.start()
        database_work = DatabaseWork(
            REQUEST_THREADS, settings.request_timeout_seconds, settings.retry_after_seconds
        )
        database_work.start()
        refresher = None
        if settings.rollup_interval_seconds > 0:
            refresher = RollupRefresher(database, settings.rollup_interval_seconds)
            refresher.start()
        keeper = RetentionKeeper.started(database, settings.retention_days)
        app.state.database = database
        app.state.committer = committer
        app.state.database_work = database_work
        app.state.health_probe = HealthProbe(database, settings.health_timeout_seconds)
        app.state.webhooks = WebhookService(database)
        try:
            with database.checkpointing():
                try:
                    yield
                finally:
                    committer.stop()  # store what is queued before the last checkpoint
                    database_work.stop()
                    if refresher is not None:
                        refresher.stop()
                    if keeper is not None:
                        keeper.stop()
        finally:
            database.dispose()

    app = FastAPI(
        title="cipulse",
        version=__version__,
        description="Self-hosted CI/CD pipeline analytics. Ingest endpoints speak the RunWatch "
        "Ingest API and the Trunk CI Analytics trackEvents API.",
        lifespan=lifespan,
        docs_url=None,  # Swagger UI loads from a CDN; we ship no CDN dependencies
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.sign_in_throttle = SignInThrottle()
    errors.install(app)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=["*"],
        allow_methods=["GET", "POST", "OPTIONS"],
        allow_headers=CORS_HEADERS,
        expose_headers=["Retry-After"],
        max_age=86400,
    )
    app.add_middleware(middleware.Compression)
    # The last added is the outermost: a 500 gets the headers, and any early answer waits
    # until the body it did not read has arrived.
    app.add_middleware(RequestDeadlines)
    app.add_middleware(errors.UnexpectedErrors)
    app.add_middleware(middleware.SecurityHeaders)
    app.add_middleware(middleware.DrainUnreadBody, limit_bytes=settings.body_drain_bytes)
    app.add_middleware(RootPath, prefix=settings.root_path)
    app.include_router(ingest_routes.router())
    app.include_router(list_routes.router())
    app.include_router(read_routes.router())
    app.include_router(webhook_routes.router())
    app.add_api_route(
        "/healthz",
        healthz,
        methods=["GET"],
        tags=["operations"],
        summary="200 when the server can read and write its database, 503 otherwise",
    )
    app.add_api_route("/api", index, methods=["GET"], include_in_schema=False)
    dashboard.install(app)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            schema.setdefault("components", {}).setdefault("schemas", {}).update(
                ingest_routes.schema_components()
            )
            schema["components"]["securitySchemes"] = ingest_routes.SECURITY_SCHEMES
            ingest_routes.without_framework_errors(schema)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def configure_logging(settings: Settings) -> None:
    """cipulse's own log lines, at the configured level, beside uvicorn's."""
    logger = logging.getLogger("cipulse")
    logger.setLevel(settings.log_level.upper())
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s:     %(name)s: %(message)s"))
        logger.addHandler(handler)
        logger.propagate = False


def create_app_from_environment() -> FastAPI:
    """Entry point for ``uvicorn --factory`` in each worker process: settings from the
    environment (``cipulse serve`` puts its options there)."""
    settings = Settings()
    configure_logging(settings)
    memory.limit_arenas()  # before the server's threads start (cipulse/memory.py)
    return create_app(settings)
