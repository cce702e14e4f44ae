"""JSON replies for the HTTP port: every success and every error has one shape and one Content-Type."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import orjson
from aiohttp import web

JSON_TYPE = "application/json"

# The error code reported for each status when a handler (or aiohttp itself) gives no better one.
DEFAULT_CODES: dict[int, str] = {
    400: "BAD_REQUEST",
    401: "AUTH_REQUIRED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    408: "REQUEST_TIMEOUT",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    429: "RATE_LIMIT_EXCEEDED",
    500: "INTERNAL_ERROR",
    503: "SERVICE_UNAVAILABLE",
}


class ApiError(Exception):
    """Raised by a handler to answer with `{"error": {"code", "message", ...extra}}`."""

    def __init__(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None, **extra: Any
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers
        self.extra = extra


JSON_HEADERS = {"Content-Type": f"{JSON_TYPE}; charset=utf-8"}


def json_response(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """A JSON reply; `payload` may already be serialized bytes (events' `raw`)."""
    body = payload if isinstance(payload, bytes) else orjson.dumps(payload, option=orjson.OPT_NON_STR_KEYS)
    # The Content-Type as a ready header: cheaper than aiohttp parsing content_type= and charset=.
    return web.Response(body=body, status=status,
                        headers=JSON_HEADERS if headers is None else {**JSON_HEADERS, **headers})


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None, **extra: Any
) -> web.Response:
    """The protocol's error shape: `{"error": {"code": ..., "message": ..., **extra}}`."""
    return json_response({"error": {"code": code, "message": message, **extra}}, status, headers)


def from_api_error(err: ApiError) -> web.Response:
    """Turn a raised ApiError into its reply."""
    return error_response(err.status, err.code, err.message, err.headers, **err.extra)


def from_http_exception(exc: web.HTTPException, request: web.Request) -> web.Response:
    """Turn one of aiohttp's own HTTP exceptions (404 from the router, 405, 413...) into JSON."""
    status = exc.status
    code = DEFAULT_CODES.get(status, HTTPStatus(status).phrase.upper().replace(" ", "_"))
    reason = exc.text if exc.text and not exc.text.startswith(f"{status}:") else exc.reason
    headers = {k: v for k, v in exc.headers.items() if k.lower() in ("allow", "retry-after")}
    extra: dict[str, Any] = {}
    if isinstance(exc, web.HTTPMethodNotAllowed):
        extra["allowed_methods"] = sorted(exc.allowed_methods)
        reason = f"{exc.method} is not allowed here; use {', '.join(sorted(exc.allowed_methods))}"
    elif status == 404:
        reason = f"no route for {request.method} {request.path}"
    return error_response(status, code, reason, headers, **extra)


@web.middleware
async def json_errors(request: web.Request, handler: Any) -> web.StreamResponse:
    """For apps without the API's envelope (the 9091 port): aiohttp's own errors as JSON too."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return from_http_exception(exc, request)
