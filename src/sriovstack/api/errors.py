"""The one error table: domain errors to HTTP status, in the body shape each API family's
clients parse (Keystone, Neutron, Nova, Glance, native)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from sriovstack.api.microversions import refusal_headers
from sriovstack.domain.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    KernelError,
    NotFound,
    SriovstackError,
    StoreUnavailable,
    Unauthenticated,
    VerificationFailed,
)

STATUS: tuple[tuple[type[SriovstackError], int], ...] = (
    (InvalidInput, 400),
    (Unauthenticated, 401),
    (Forbidden, 403),
    (NotFound, 404),
    (Conflict, 409),
    (KernelError, 502),  # a host refused: the request was fine, the host was not
    (VerificationFailed, 502),
    (StoreUnavailable, 503),  # the database is away: the same request may succeed later
)

# Nova's fault names by status (nova/api/openstack/wsgi.py _fault_names).
_NOVA_FAULTS = {
    400: "badRequest",
    401: "unauthorized",
    403: "forbidden",
    404: "itemNotFound",
    405: "badMethod",
    409: "conflictingRequest",
    413: "overLimit",
    415: "badMediaType",
    429: "overLimit",
    501: "notImplemented",
    503: "serviceUnavailable",
}
_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


def status_of(error: SriovstackError) -> int:
    return next((status for kind, status in STATUS if isinstance(error, kind)), 500)


def neutron_type(error: SriovstackError) -> str:
    """Neutron's exception name, which neutronclient maps to its own exception classes."""
    explicit = getattr(error, "neutron_type", None)
    if isinstance(explicit, str):
        return explicit
    if isinstance(error, NotFound):
        return "".join(part.capitalize() for part in error.kind.replace("-", " ").split()) + (
            "NotFound"
        )
    if isinstance(error, InvalidInput):
        return "InvalidInput"
    if isinstance(error, Unauthenticated):
        return "NotAuthorized"
    if isinstance(error, Forbidden):
        return "PolicyNotAuthorized"
    if isinstance(error, StoreUnavailable):
        return "ServiceUnavailable"
    return type(error).__name__


def error_body(path: str, status: int, message: str, *, kind: str = "", extra: Any = None) -> Any:
    """The error body the clients of the API family under ``path`` read."""
    if path.startswith("/networking"):
        return {
            "NeutronError": {
                "type": kind or _TITLES.get(status, "Error"),
                "message": message,
                "detail": "",
            }
        }
    if path.startswith("/compute"):
        return {_NOVA_FAULTS.get(status, "computeFault"): {"code": status, "message": message}}
    if path.startswith(("/identity", "/image")):
        return {
            "error": {"code": status, "message": message, "title": _TITLES.get(status, "Error")}
        }
    body: dict[str, Any] = {
        "code": status,
        "type": kind or _TITLES.get(status, "Error"),
        "message": message,
    }
    if extra:
        body.update(extra)
    return {"error": body}


def install_error_handlers(app: FastAPI) -> None:
    """Answer every refusal in the caller's family's format, never with a traceback."""

    @app.exception_handler(SriovstackError)
    def _domain(request: Request, exc: SriovstackError) -> JSONResponse:
        status = status_of(exc)
        extra = {"field": exc.field, "rule": exc.rule} if isinstance(exc, InvalidInput) else None
        body = error_body(request.url.path, status, str(exc), kind=neutron_type(exc), extra=extra)
        headers = refusal_headers(request)
        if status == 401:
            headers["WWW-Authenticate"] = 'Keystone uri="/identity"'
        return JSONResponse(body, status_code=status, headers=headers)

    @app.exception_handler(RequestValidationError)
    def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        field, rule = describe_validation(exc.errors())
        message = f"{field}: {rule}"
        body = error_body(
            request.url.path,
            400,
            message,
            kind="InvalidInput",
            extra={"field": field, "rule": rule},
        )
        return JSONResponse(body, status_code=400, headers=refusal_headers(request))

    @app.exception_handler(StarletteHTTPException)
    def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = str(exc.detail)
        if exc.status_code == 404 and message == "Not Found":
            message = f"The resource could not be found: {request.url.path}"
        body = error_body(request.url.path, exc.status_code, message)
        return JSONResponse(body, status_code=exc.status_code, headers=refusal_headers(request))


def describe_validation(errors: Any) -> tuple[str, str]:
    """The first validation error as (field, rule), the field in the wire's own words."""
    first = next(iter(errors), {"loc": ("body",), "msg": "is invalid"})
    location = [str(part) for part in first.get("loc", ()) if part not in ("body", "query")]
    field = ".".join(location) or "body"
    if first.get("type") == "extra_forbidden":
        return field, "is not a recognised attribute"
    if first.get("type") == "missing":
        return field, "is required"
    return field, str(first.get("msg", "is invalid")).replace("Value error, ", "")
