"""The bare endpoint: a minimal Starlette app that reads the body and answers a small JSON.

It is what cipulse's ingest endpoint costs when storing nothing: served by uvicorn with the
options ``cipulse serve`` uses (HTTP and event-loop implementations left on ``auto``, so
httptools and uvloop when installed; no access log; no server header), on the same path.

    python -m bench.bare --port 8001 --workers 2
"""

from __future__ import annotations

import argparse

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

INGEST_PATH = "/functions/v1/ingest"
_ANSWER = b'{"success":true,"pipeline_run_id":"00000000-0000-0000-0000-000000000000"}'


async def ingest(request: Request) -> Response:
    await request.body()
    return Response(_ANSWER, media_type="application/json")


async def healthz(request: Request) -> Response:
    return Response(b'{"status":"ok"}', media_type="application/json")


app = Starlette(
    routes=[
        Route(INGEST_PATH, ingest, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
    ]
)


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--log-level", default="warning")
    options = parser.parse_args()
    uvicorn.run(
        "bench.bare:app",
        host=options.host,
        port=options.port,
        workers=options.workers,
        log_level=options.log_level,
        access_log=False,
        server_header=False,
    )


if __name__ == "__main__":
    main()
