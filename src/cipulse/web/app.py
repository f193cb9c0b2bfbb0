"""The app factory: lifespan, routes, /healthz, /openapi.json.

The app factory. Nothing is built at import time: ``create_app(settings)`` makes the
database, the ingest writer and the routes inside the app's lifespan, so tests can run apps
on SQLite and PostgreSQL side by side."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
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
    cost_routes,
    dashboard,
    errors,
    ingest_routes,
    job_routes,
    list_routes,
    middleware,
    pull_request_routes,
    quarantine_routes,
    read_routes,
    runner_routes,
    team_routes,
    test_result_routes,
    test_routes,
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
                    "test_results": [test_result_routes.PATH],
                },
                "openapi": "/openapi.json",
                "health": "/healthz",
                "dashboard": "/",
            }
        ),
        media_type="application/json",
    )


class _Workers:
    """The server's threads, started with its lifespan and stopped in reverse."""

    def __init__(self, app: FastAPI, settings: Settings, database: Database) -> None:
        self.committer = GroupCommitter(
            IngestService(database),
            max_batch=settings.ingest_batch_size,
            writers=database.writer_threads,
            timeout_seconds=settings.write_timeout_seconds,
            retry_after=settings.retry_after_seconds,
            queue_limit=settings.ingest_queue_limit,
        )
        self.committer.start()
        self.database_work = DatabaseWork(
            REQUEST_THREADS, settings.request_timeout_seconds, settings.retry_after_seconds
        )
        self.database_work.start()
        self.refresher = None
        if settings.rollup_interval_seconds > 0:
            self.refresher = RollupRefresher(database, settings.rollup_interval_seconds)
            self.refresher.start()
        self.keeper = RetentionKeeper.started(database, settings.retention_days)
        app.state.database = database
        app.state.committer = self.committer
        app.state.database_work = self.database_work
        app.state.health_probe = HealthProbe(database, settings.health_timeout_seconds)
        app.state.webhooks = WebhookService(database)

    def stop(self) -> None:
        self.committer.stop()  # store what is queued before the last checkpoint
        self.database_work.stop()
        if self.refresher is not None:
            self.refresher.stop()
        if self.keeper is not None:
            self.keeper.stop()


def _lifespan(settings: Settings) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        database = Database(settings, background_checkpoints=True)
        workers = _Workers(app, settings, database)
        try:
            with database.checkpointing():
                try:
                    yield
                finally:
                    workers.stop()
        finally:
            database.dispose()

    return lifespan


def _add_middleware(app: FastAPI, settings: Settings) -> None:
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


def _add_routes(app: FastAPI) -> None:
    app.include_router(ingest_routes.router())
    app.include_router(test_result_routes.router())
    app.include_router(quarantine_routes.router())
    app.include_router(list_routes.router())
    app.include_router(test_routes.router())
    app.include_router(job_routes.router())
    app.include_router(pull_request_routes.router())
    app.include_router(team_routes.router())
    app.include_router(runner_routes.router())
    app.include_router(cost_routes.router())
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


def _openapi(app: FastAPI) -> Callable[[], dict[str, Any]]:
    """The OpenAPI document, built once, with the wire schemas and the key schemes."""

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

    return openapi


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    app = FastAPI(
        title="cipulse",
        version=__version__,
        description="Self-hosted CI/CD pipeline analytics. Ingest endpoints speak the RunWatch "
        "Ingest API and the Trunk CI Analytics trackEvents API.",
        lifespan=_lifespan(settings),
        docs_url=None,  # Swagger UI loads from a CDN; we ship no CDN dependencies
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.sign_in_throttle = SignInThrottle()
    errors.install(app)
    _add_middleware(app, settings)
    _add_routes(app)
    app.openapi = _openapi(app)  # type: ignore[method-assign]
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
