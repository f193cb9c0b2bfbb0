"""The test results endpoint: JUnit reports in, counts out. Thin.

``POST /api/v1/test-results``: the reports as the raw body (gzip or not) or as the files of
a multipart form, the run attempt and job they belong to as query parameters (or form
fields). Parsing the parameters and the body is all it does; the service converts, attaches
and stores (``ingestion/test_results.py``)."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

import orjson
from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartParser
from starlette.responses import Response

from cipulse.domain.accepted import canonical_uuid, text_problem
from cipulse.errors import InvalidRequest
from cipulse.ingestion.test_results import (
    ReportFile,
    TestResultsService,
    TestTarget,
    TestUpload,
    TestUploadOutcome,
    converted,
)
from cipulse.web.deadlines import run_in_database_thread
from cipulse.web.ingest_routes import ERROR_RESPONSES
from cipulse.web.requests import (
    RUNWATCH_KEY_HEADERS,
    CheckedRoute,
    api_key,
    bounded_body,
    unstorable_fields,
)

PATH = "/api/v1/test-results"
#: The parameters, and the longest value each may have.
_LENGTHS = {
    "pipeline_run_id": 36,
    "provider": 100,
    "repository": 500,
    "pipeline": 500,
    "run_id": 500,
    "run_attempt": 10,
    "job": 1000,
}
_NATURAL_KEYS = ("provider", "repository", "run_id")
MAX_FILES = 1000
#: A file's name is kept (and named in messages) to this many characters.
MAX_FILE_NAME = 200


async def test_results(request: Request) -> Response:
    key = api_key(request, RUNWATCH_KEY_HEADERS)
    limit: int = request.app.state.settings.max_test_results_bytes
    body = await bounded_body(request, limit)
    fields, files = await _form(request, body) if _is_multipart(request) else ({}, [])
    if not files and not _is_multipart(request):
        files = [ReportFile(body, "body")]
    upload = TestUpload(key, _target(request, fields, files), tuple(files))
    reports = await run_in_threadpool(converted, upload, limit)
    service = TestResultsService(request.app.state.database)
    outcome = await run_in_database_thread(service.store, upload, reports)
    return _answer(outcome)


def _answer(outcome: TestUploadOutcome) -> Response:
    answer: dict[str, Any] = {
        "success": True,
        "reports": outcome.reports,
        "stored": outcome.stored,
        "duplicates": outcome.duplicates,
        "pipeline_run_id": outcome.pipeline_run_id,
        "waiting_for_run": outcome.pipeline_run_id is None,
    }
    if outcome.warnings:
        answer["warnings"] = list(outcome.warnings)
    return Response(orjson.dumps(answer), media_type="application/json")


def _is_multipart(request: Request) -> bool:
    return request.headers.get("content-type", "").startswith("multipart/form-data")


async def _form(request: Request, body: bytes) -> tuple[dict[str, str], list[ReportFile]]:
    """The text fields and the files of a multipart body already read (bounded)."""

    async def stream() -> AsyncGenerator[bytes, None]:
        yield body

    try:
        form = await MultiPartParser(
            request.headers, stream(), max_files=MAX_FILES, max_fields=100
        ).parse()
    except Exception as error:  # python-multipart's and starlette's parse errors
        raise InvalidRequest(f"body: not a valid multipart form ({error})") from None
    fields: dict[str, str] = {}
    files: list[ReportFile] = []
    for name, value in form.multi_items():
        if isinstance(value, UploadFile):
            # A name that cannot be stored (a NUL) is left out, not refused: it is a label.
            name = (value.filename or "")[:MAX_FILE_NAME]
            file_name = name if name and text_problem(name) is None else None
            where = f"files[{len(files)}]" + (f" ({file_name})" if file_name else "")
            files.append(ReportFile(await value.read(), where, file_name))
        else:
            fields[name] = value
    await form.close()
    if not files:
        raise InvalidRequest("body: the multipart form holds no file: send each report as a file")
    return fields, files


def _target(request: Request, fields: dict[str, str], files: list[ReportFile]) -> TestTarget:
    """The target from the query and the form's fields, every bad one named at once."""
    values: dict[str, str] = {}
    # The query was checked by CheckedRoute; the form's fields are read here.
    problems = unstorable_fields(fields.items())
    for name, longest in _LENGTHS.items():
        given = {v for v in (request.query_params.get(name), fields.get(name)) if v is not None}
        if len(given) > 1:
            problems.append(f"{name}: given twice with different values")
        value = next(iter(given), "").strip()
        if len(value) > longest:
            problems.append(f"{name}: longer than {longest} characters")
        if value:
            values[name] = value
    problems += _target_problems(values)
    if problems:
        raise InvalidRequest("; ".join(problems), problems)
    return TestTarget(
        pipeline_run_id=values.get("pipeline_run_id"),
        provider=values.get("provider"),
        repository=values.get("repository"),
        pipeline=values.get("pipeline"),
        run_id=values.get("run_id"),
        run_attempt=int(values.get("run_attempt", "1")),
        job=values.get("job", ""),
    )


def _target_problems(values: dict[str, str]) -> list[str]:
    problems = []
    attempt = values.get("run_attempt", "1")
    if not attempt.isdigit() or not 1 <= int(attempt) <= 1_000_000:
        problems.append("run_attempt: not a whole number from 1 to 1000000")
    run_id = values.get("pipeline_run_id")
    if run_id is not None:
        canonical = canonical_uuid(run_id)
        if canonical is None:
            problems.append("pipeline_run_id: not a pipeline run id (a UUID)")
        else:
            values["pipeline_run_id"] = canonical
        given = [name for name in (*_NATURAL_KEYS, "pipeline") if name in values]
        if given:
            problems.append(f"{', '.join(given)}: not with pipeline_run_id (name the run one way)")
    else:
        for name in _NATURAL_KEYS:
            if name not in values:
                problems.append(f"{name}: required without pipeline_run_id")
    return problems


routes = APIRouter(tags=["ingest"], route_class=CheckedRoute)
routes.add_api_route(
    PATH,
    test_results,
    methods=["POST"],
    operation_id="ingest_test_results",
    summary="Ingest JUnit XML test reports",
    description="Stores the test cases of one or more JUnit XML reports (pytest, Surefire, "
    "jest-junit, go-junit-report, PHPUnit, .NET, mocha, Playwright, …) for a run attempt and "
    "job: the raw body (gzip accepted) or the files of a multipart form. The run attempt is "
    "`pipeline_run_id`, or `provider`, `repository`, `run_id`, `run_attempt` (and `pipeline`) "
    "whose run may arrive later. The same report sent again stores nothing more.",
    responses={
        200: {
            "description": "Stored: counts of results stored and already stored before.",
            "content": {
                "application/json": {
                    "example": {
                        "success": True,
                        "reports": 1,
                        "stored": 5000,
                        "duplicates": 0,
                        "pipeline_run_id": "uuid",
                        "waiting_for_run": False,
                    }
                }
            },
        },
        **ERROR_RESPONSES,
        404: {
            "description": "No run attempt has this `pipeline_run_id`",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        },
    },
    openapi_extra={
        "security": [{"ApiKey": []}, {"Bearer": []}],
        "parameters": [
            {"name": name, "in": "query", "required": False, "schema": {"type": "string"}}
            for name in _LENGTHS
        ],
        "requestBody": {
            "required": True,
            "content": {
                "application/xml": {"schema": {"type": "string", "format": "binary"}},
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "files": {
                                "type": "array",
                                "items": {"type": "string", "format": "binary"},
                            }
                        },
                    }
                },
            },
        },
    },
)


def router() -> APIRouter:
    return routes
