"""Reading what a request carries: its API key (from any header either API uses) and its
body (bounded, so one client cannot make the server buffer gigabytes)."""

from __future__ import annotations

from starlette.requests import Request

from cipulse.errors import PayloadTooLarge, Unauthenticated

RUNWATCH_KEY_HEADERS = ("x-api-key",)
TRUNK_KEY_HEADERS = ("x-api-token", "x-api-key")


def api_key(request: Request, headers: tuple[str, ...]) -> str:
    """The key from the first of ``headers`` present, else from ``Authorization: Bearer``."""
    for header in headers:
        value = request.headers.get(header)
        if value and value.strip():
            return value.strip()
    authorization = request.headers.get("authorization", "")
    scheme, _, credentials = authorization.partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    names = " or ".join(h.title().replace("Api", "API") for h in headers)
    raise Unauthenticated(f"missing API key: send it in the {names} header")


async def bounded_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"body: larger than the limit of {limit} bytes")
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"body: larger than the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
