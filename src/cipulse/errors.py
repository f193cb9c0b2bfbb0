"""The one error hierarchy of cipulse.

Every error a client or an operator can see is a ``CipulseError``: it carries the HTTP status,
a machine-readable code and a message that names the field or setting at fault. The web adapter
renders any of them as ``{"error": message, "code": code}`` (or the error page, to a browser);
the CLI prints the message and exits non-zero.

    CipulseError
    ├── ClientError                    4xx: the request is wrong, nothing was written
    │   ├── InvalidRequest             400 bad JSON, schema or parameter
    │   ├── Unauthenticated            401 missing, unknown or revoked API key
    │   ├── PlanLimitExceeded          402 a plan limit of the organisation would be exceeded
    │   ├── Forbidden                  403 the key lacks the scope for this endpoint
    │   ├── NotFound                   404 no such object (or not visible to this key)
    │   ├── PayloadTooLarge            413 body over the configured limit
    │   └── Conflict                   409 the object already exists (CLI)
    ├── ReporterError                  a reporter command failed (reporters/errors.py: exit codes)
    ├── Unavailable                    503 retryable: the database did not answer (Retry-After)
    ├── InternalError                  500 a bug of ours, logged with its traceback
    └── ConfigurationError             a setting is invalid; raised at start-up
"""

from __future__ import annotations


class CipulseError(Exception):
    """Base of every error cipulse reports on purpose."""

    status_code: int = 500
    code: str = "internal_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ClientError(CipulseError):
    """The client sent something wrong; nothing was written."""

    status_code = 400
    code = "bad_request"


class InvalidRequest(ClientError):
    status_code = 400
    code = "invalid_request"

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = problems if problems is not None else [message]


class Unauthenticated(ClientError):
    status_code = 401
    code = "unauthenticated"


class PlanLimitExceeded(ClientError):
    status_code = 402
    code = "plan_limit_exceeded"


class Forbidden(ClientError):
    status_code = 403
    code = "forbidden"


class NotFound(ClientError):
    status_code = 404
    code = "not_found"


class Conflict(ClientError):
    status_code = 409
    code = "conflict"


class PayloadTooLarge(ClientError):
    status_code = 413
    code = "payload_too_large"


class Unavailable(CipulseError):
    """The server cannot serve now: the database is down, too busy, full, or refuses us.
    Clients should retry later. ``cause`` says what failed, in one line, for the operator's
    log and the CLI (the client gets only ``message``: it does not need the database's
    address); ``retryable`` whether trying again may help without anyone acting (a refused
    connection may; a wrong password will not)."""

    status_code = 503
    code = "unavailable"

    def __init__(
        self,
        message: str,
        retry_after_seconds: int = 5,
        cause: str | None = None,
        *,
        retryable: bool = True,
    ) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds
        self.cause = cause or message
        self.retryable = retryable


class InternalError(CipulseError):
    """A failure that is not the client's fault: logged with its traceback, answered 500."""

    status_code = 500
    code = "internal_error"


class ConfigurationError(CipulseError):
    """A setting is missing or invalid."""

    code = "configuration_error"
